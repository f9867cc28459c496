"""Least privilege, route by route: every route of the API answers 401 without credentials, 403 to each role
it does not name, and neither to the roles it names; a route added without roles fails here."""

from __future__ import annotations

import re

import pytest
from api_helpers import bearer

from parcours.http.api import PREFIX
from parcours.service.tokens import ROLES, create_token


@pytest.fixture
def role_tokens(app) -> dict[str, str]:
    made = {}
    with app.extensions["parcours"].db.session() as session:
        for role in ROLES:
            made[role], _ = create_token(session, role, f"matrice {role}")
    return made


def _routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX) or rule.endpoint == "openapi.openapi_json":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "public", False):  # the signer's link, the instance's root and CRL
            continue
        path = re.sub(r"<int:[^>]+>", "999999", rule.rule)  # nothing there: no call changes the tokens in use
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path, getattr(view, "roles", None)


def test_every_route_names_its_roles_and_refuses_the_others(app, client, role_tokens):
    checked, wrong = 0, []
    for method, path, roles in _routes(app):
        if not roles:
            wrong.append(f"{method} {path}: no roles declared")
            continue
        anonymous = client.open(path, method=method)
        if anonymous.status_code != 401:
            wrong.append(f"{method} {path} without credentials: {anonymous.status_code}")
        for role, token in role_tokens.items():
            status = client.open(path, method=method, headers=bearer(token)).status_code
            if role in roles and status in (401, 403):
                wrong.append(f"{method} {path} as {role} (allowed): {status}")
            if role not in roles and status != 403:
                wrong.append(f"{method} {path} as {role} (not allowed): {status}")
            checked += 1
    assert not wrong, "\n".join(wrong)
    assert checked > 150  # the walk saw the API


def test_the_walk_fails_for_a_route_without_roles(app, client, role_tokens):
    @app.get(f"{PREFIX}/oubli")
    def forgotten():
        return {}

    routes = {(method, path): roles for method, path, roles in _routes(app)}
    assert routes[("GET", f"{PREFIX}/oubli")] is None


def test_the_pages_a_person_signs_in_for_send_anonymous_visitors_to_the_login(client):
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/connexion")
    assert client.get("/connexion").status_code == 200
