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


def test_every_json_body_is_closed_and_the_server_refuses_an_undocumented_field(client, tokens):
    documented = client.get(f"{PREFIX}/openapi.json").json["paths"]
    answers = {}
    for path, operations in documented.items():
        for method, operation in operations.items():
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema is None:
                continue
            assert schema.get("additionalProperties") is False, f"{method.upper()} {path}"
            if "{" in path or path == "/me/tokens":
                continue  # the resource is looked up first (404); a personal token needs a person, not a token
            for token in tokens.values():
                response = client.open(PREFIX + path, method=method.upper(), json={"champ_inconnu": 1},
                                       headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 403:
                    break
            answers[f"{method.upper()} {path}"] = (
                response.status_code, [e.get("field") for e in response.json.get("errors", [])])
    assert len(answers) >= 7, answers
    wrong = {op: answer for op, answer in answers.items() if answer[0] != 422 or "champ_inconnu" not in answer[1]}
    assert not wrong, wrong


def test_cursors_are_documented_with_their_format(client):
    documented = client.get(f"{PREFIX}/openapi.json").json["paths"]
    cursors = [(path, parameter) for path, operations in documented.items() for operation in operations.values()
               if isinstance(operation, dict) for parameter in operation.get("parameters", [])
               if parameter.get("name") == "cursor"]
    assert len(cursors) >= 4
    for path, parameter in cursors:
        assert "next_cursor" in parameter.get("description", ""), path
        assert parameter["schema"].get("pattern") or parameter["schema"].get("maxLength"), path
