"""/api/v1/tokens: API tokens, for administrators. A token is shown once, at creation."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from parcours.http.api._common import iso, json_body
from parcours.http.auth import require
from parcours.http.current import db_session
from parcours.http.problems import Problem
from parcours.models import ApiToken
from parcours.service.tokens import ROLES, create_token, revoke_token

bp = Blueprint("tokens", __name__)


def public(token: ApiToken) -> dict:
    """A token as the API shows it: never its secret."""
    return {"id": token.id, "label": token.label, "role": token.role, "prefix": token.prefix, "user_id": token.user_id,
            "created_at": iso(token.created_at), "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at)}


@bp.get("/tokens")
@require("admin")
def list_tokens():
    session = db_session()
    return {"items": [public(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]}


@bp.post("/tokens")
@require("admin")
def create():
    body = json_body("role", "label")
    role, label = body.get("role"), body.get("label")
    errors = []
    if role not in ROLES:
        errors.append({"field": "role", "reason": f"un des rôles {', '.join(ROLES)}"})
    if not isinstance(label, str) or not label.strip():
        errors.append({"field": "label", "reason": "texte obligatoire (qui ou quoi utilise ce jeton)"})
    if errors:
        raise Problem(422, "Valeurs invalides", errors=errors)
    session = db_session()
    token, record = create_token(session, role, label)
    session.commit()
    return {**public(record), "token": token}, 201


@bp.delete("/tokens/<int:token_id>")
@require("admin")
def revoke(token_id: int):
    session = db_session()
    try:
        record = revoke_token(session, token_id)
    except LookupError:
        raise Problem(404, "Jeton introuvable", f"Aucun jeton n'a l'identifiant {token_id}.") from None
    session.commit()
    return public(record)


_TOKEN = {"type": "object", "properties": {
    "id": {"type": "integer"}, "label": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
    "prefix": {"type": "string"}, "user_id": {"type": ["integer", "null"], "description": "null : compte de service"},
    "created_at": {"type": "string", "format": "date-time"},
    "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    "revoked_at": {"type": ["string", "null"], "format": "date-time"}}}

OPENAPI = {
    "schemas": {"Token": _TOKEN},
    "paths": {
        "/tokens": {
            "get": {"summary": "Jetons d'API (admin)", "tags": ["tokens"], "responses": {
                "200": {"description": "Les jetons, sans leur secret", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Token"}}}}}}}}},
            "post": {"summary": "Créer un jeton (affiché une seule fois)", "tags": ["tokens"],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["role", "label"], "properties": {
                             "role": {"type": "string", "enum": list(ROLES)}, "label": {"type": "string", "pattern": "\\S"}}}}}},
                     "responses": {"201": {"description": "Le jeton, avec son secret dans `token`", "content": {
                         "application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Token"}, {
                             "type": "object", "properties": {"token": {"type": "string"}}}]}}}}}},
        },
        "/tokens/{token_id}": {
            "delete": {"summary": "Révoquer un jeton", "tags": ["tokens"],
                       "parameters": [{"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                       "responses": {"200": {"description": "Le jeton révoqué", "content": {
                           "application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}}}},
        },
    },
}
