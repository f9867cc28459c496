"""Single sign-on against a real OpenID provider (panva's oidc-provider, run by Node on loopback): a login,
and its four refusals — a wrong state, a wrong nonce, an expired code, an address without an account."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
import requests
from api_helpers import database

from parcours.app import create_app
from parcours.models import AuditEvent
from parcours.service import users
from parcours.service.audit import Actor
from parcours.settings import Settings

PROVIDER = Path(__file__).resolve().parents[1] / "oidc"
CODE_TTL = 4
"""Seconds the provider accepts an authorization code: short, for the expired-code test."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def issuer():
    if shutil.which("node") is None or not (PROVIDER / "node_modules" / "oidc-provider").exists():
        pytest.skip("Node.js or tests/oidc/node_modules is missing: `make setup` installs them (npm ci)")
    port = _free_port()
    process = subprocess.Popen(["node", "provider.mjs", str(port), "http://127.0.0.1:8000/connexion/sso/retour",
                                str(CODE_TTL)], cwd=PROVIDER, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        for line in process.stdout:
            if line.strip() == "ready":
                break
        else:
            pytest.fail("the OpenID provider did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_for(request, tmp_path, issuer):
    made = []

    def build(**extra):
        folder = tmp_path / str(len(made))
        folder.mkdir()
        url = stack.enter_context(database(request.param, folder))
        settings = Settings(instance_dir=tmp_path / f"instance{len(made)}", database_url=url, run_jobs=False, workers=1,
                            oidc_issuer=issuer, oidc_client_id="parcours",
                            oidc_client_secret="secret-de-test-parcours", **extra)
        app = create_app(settings)
        made.append(app)
        with app.extensions["parcours"].db.session() as session:
            users.create_user(session, email="camille.martin@atelier.fr", name="Camille Martin", roles=["hr"],
                              by=Actor("test", "cli"))
        return app

    import contextlib

    with contextlib.ExitStack() as stack:
        yield build
        for app in made:
            app.extensions["parcours"].close()


def at_provider(authorize: str, login: str) -> str:
    """Sign in at the provider's development pages as `login` and consent; the callback address it gives."""
    browser, url = requests.Session(), authorize
    for _ in range(12):
        page = browser.get(url, allow_redirects=False, timeout=10)
        if page.status_code in (302, 303):
            url = urljoin(url, page.headers["Location"])
        else:
            action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            if fields.get("prompt") == "login":
                fields.update(login=login, password="peu importe")
            answer = browser.post(action, data=fields, allow_redirects=False, timeout=10)
            url = urljoin(action, answer.headers["Location"])
        if url.startswith("http://127.0.0.1:8000/"):
            return url
    raise AssertionError(f"the provider never sent back to the service: {url}")


def back(client, callback: str, **changes):
    parts = urlsplit(callback)
    query = dict(parse_qsl(parts.query)) | changes
    return client.get(f"{parts.path}?{urlencode(query)}")


def authorize(client, **changes) -> str:
    started = client.get("/connexion/sso?suite=/")
    assert started.status_code == 302
    parts = urlsplit(started.headers["Location"])
    return parts._replace(query=urlencode(dict(parse_qsl(parts.query)) | changes)).geturl()


def test_a_person_signs_in_through_the_provider(app_for):
    app = app_for()
    client = app.test_client()
    assert "authentification unique" in client.get("/connexion").get_data(as_text=True)
    response = back(client, at_provider(authorize(client), "camille"))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    me = client.get("/api/v1/me").json
    assert me["email"] == "camille.martin@atelier.fr" and me["authenticated_by"] == "sso"
    with app.extensions["parcours"].db.session() as session:
        event = session.query(AuditEvent).filter_by(type="login.succeeded").one()
        assert event.data["acteur"]["methode"] == "sso" and event.actor == "Camille Martin <camille.martin@atelier.fr>"


def test_a_wrong_state_is_refused(app_for):
    client = app_for().test_client()
    response = back(client, at_provider(authorize(client), "camille"), state="falsifie")
    assert response.status_code == 401 and "état différent" in response.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_a_wrong_nonce_is_refused(app_for):
    client = app_for().test_client()
    response = back(client, at_provider(authorize(client, nonce="celui-d-une-autre-connexion"), "camille"))
    assert response.status_code == 401 and "(nonce)" in response.get_data(as_text=True)


def test_an_expired_code_is_refused(app_for):
    client = app_for().test_client()
    callback = at_provider(authorize(client), "camille")
    time.sleep(CODE_TTL + 1)
    response = back(client, callback)
    assert response.status_code == 401 and "expiré ou a déjà servi" in response.get_data(as_text=True)


def test_an_address_without_an_account_is_refused_unless_signup_is_allowed(app_for):
    client = app_for().test_client()
    refused = back(client, at_provider(authorize(client), "inconnu"))
    assert refused.status_code == 401 and "Aucun compte Parcours actif" in refused.get_data(as_text=True)
    open_app = app_for(oidc_signup=True)
    newcomer = open_app.test_client()
    assert back(newcomer, at_provider(authorize(newcomer), "nouvelle")).status_code == 303
    me = newcomer.get("/").get_data(as_text=True)
    assert "Nouvelle Venue" in me and "aucun rôle" in me  # in, but allowed nothing until an admin says so
    assert newcomer.get("/api/v1/employees").status_code == 403
