"""Tokens: created by admins, shown once, stored hashed, revocable; every role checked."""

from sqlalchemy import select

from api_helpers import bearer
from parcours.models import ApiToken


def test_an_admin_creates_a_token_that_works_once_shown(client, tokens, app):
    response = client.post("/api/v1/tokens", json={"role": "hr", "label": "SIRH"}, headers=bearer(tokens["admin"]))
    assert response.status_code == 201
    secret = response.json["token"]
    assert secret.startswith("prc_") and response.json["role"] == "hr"
    with app.extensions["parcours"].db.session() as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.label == "SIRH"))
        assert stored.token_hash != secret and secret not in stored.token_hash
    listing = client.get("/api/v1/tokens", headers=bearer(tokens["admin"])).json["items"]
    assert all("token" not in item for item in listing)
    assert client.get("/api/v1/tokens", headers=bearer(secret)).status_code == 403


def test_a_revoked_token_is_refused(client, tokens):
    created = client.post("/api/v1/tokens", json={"role": "admin", "label": "temp"}, headers=bearer(tokens["admin"])).json
    assert client.get("/api/v1/tokens", headers=bearer(created["token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer(tokens["admin"])).status_code == 200
    refused = client.get("/api/v1/tokens", headers=bearer(created["token"]))
    assert refused.status_code == 401 and refused.content_type == "application/problem+json"


def test_other_roles_and_anonymous_callers_are_refused_as_problems(client, tokens):
    for role in ("hr", "auditor"):
        response = client.post("/api/v1/tokens", json={"role": "admin", "label": "x"}, headers=bearer(tokens[role]))
        assert response.status_code == 403 and response.json["status"] == 403
    assert client.get("/api/v1/tokens").status_code == 401
    assert client.get("/api/v1/tokens", headers=bearer("prc_forged")).status_code == 401


def test_bad_token_requests_name_the_fields(client, tokens):
    response = client.post("/api/v1/tokens", json={"role": "boss"}, headers=bearer(tokens["admin"]))
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} == {"role", "label"}
    assert client.delete("/api/v1/tokens/999", headers=bearer(tokens["admin"])).status_code == 404
