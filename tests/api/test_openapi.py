"""The OpenAPI document: valid OpenAPI 3.1, and every route of the service is in it with its roles."""

import re

from openapi_spec_validator import validate

from parcours.http.api import PREFIX


def test_the_openapi_document_is_valid(client):
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    validate(response.json)


def test_every_route_is_documented_with_its_methods(app, client):
    documented = client.get(f"{PREFIX}/openapi.json").json["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX) or rule.endpoint == "openapi.openapi_json":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented.get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, f"routes missing from openapi.json: {missing}"


def test_every_api_route_but_the_description_requires_a_role(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX) and rule.endpoint != "openapi.openapi_json":
            view = app.view_functions[rule.endpoint]
            if getattr(view, "public", False):  # the signer's routes (the link token is the credential), the PKI
                continue
            assert getattr(view, "roles", None), f"{rule.rule} does not declare its roles"
