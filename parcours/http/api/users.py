"""/api/v1/users: accounts, for administrators; /api/v1/me: who am I, and my personal tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, url_for
from sqlalchemy import select

from parcours.http import auth
from parcours.http.api._common import iso, json_body
from parcours.http.api.tokens import public as public_token
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import User
from parcours.service import users
from parcours.service.tokens import create_token

bp = Blueprint("users", __name__)


def _public(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "roles": list(user.roles),
            "matricule": user.matricule, "active": user.active, "password_set": user.password_hash is not None,
            "created_at": iso(user.created_at), "last_login_at": iso(user.last_login_at),
            "links": {"self": url_for("users.show", user_id=user.id)}}


@bp.get("/users")
@require("admin")
def list_users():
    return {"items": [_public(u) for u in db_session().scalars(select(User).order_by(User.id))]}


@bp.post("/users")
@require("admin")
def create():
    body = json_body("email", "name", "roles", "matricule")
    session = db_session()
    user = users.create_user(session, email=body.get("email"), name=body.get("name"), roles=body.get("roles", []),
                             matricule=body.get("matricule"), by=g.actor)
    session.commit()
    link = users.invite(services(), user.id, by=g.actor)
    return {**_public(user), "invitation_url": link}, 201, {"Location": url_for("users.show", user_id=user.id)}


@bp.get("/users/<int:user_id>")
@require("admin")
def show(user_id: int):
    return _public(users.get_user(db_session(), user_id))


@bp.patch("/users/<int:user_id>")
@require("admin")
def update(user_id: int):
    body = json_body("roles", "active", "name")
    session = db_session()
    user = users.update_user(session, users.get_user(session, user_id), by=g.actor, roles=body.get("roles"),
                             active=body.get("active"), name=body.get("name"))
    session.commit()
    return _public(user)


@bp.post("/users/<int:user_id>/invitation")
@require("admin")
def reinvite(user_id: int):
    users.get_user(db_session(), user_id)
    return {"invitation_url": users.invite(services(), user_id, by=g.actor)}, 201


@bp.get("/me")
@require(*users.ROLES)
def me():
    found = auth.authenticate()
    if found.user is None:
        return {"service_account": found.actor.label, "roles": list(found.roles)}
    return {**_public(found.user), "authenticated_by": found.actor.method, "roles_now": list(found.roles)}


@bp.post("/me/tokens")
@require(*users.ROLES)
def personal_token():
    """A personal token for a person, with one of the roles they act with now: it acts as them."""
    found = auth.authenticate()
    if found.user is None:
        raise Problem(422, "Jeton personnel impossible", "Un compte de service n'a pas de jeton personnel : "
                      "connectez-vous avec votre compte.")
    body = json_body("label", "role")
    role, label = body.get("role"), body.get("label")
    errors = []
    if role not in found.roles:
        errors.append({"field": "role", "reason": f"un de vos rôles : {', '.join(found.roles)}"})
    if not isinstance(label, str) or not label.strip():
        errors.append({"field": "label", "reason": "texte obligatoire (à quoi sert ce jeton)"})
    if errors:
        raise Problem(422, "Valeurs invalides", errors=errors)
    session = db_session()
    token, record = create_token(session, role, label, user_id=found.user.id)
    session.commit()
    return {**public_token(record), "token": token}, 201


_USER = {"type": "object", "properties": {
    "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
    "roles": {"type": "array", "items": {"type": "string", "enum": list(users.ROLES)}},
    "matricule": {"type": ["string", "null"]}, "active": {"type": "boolean"}, "password_set": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"},
    "last_login_at": {"type": ["string", "null"], "format": "date-time"}}}
_ID = [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
_ONE = {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": required, "properties": properties}}}}


OPENAPI = {
    "schemas": {"User": _USER},
    "paths": {
        "/users": {
            "get": {"summary": "Comptes (admin)", "tags": ["users"], "responses": {"200": {
                "description": "Les comptes", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}}}}}}},
            "post": {"summary": "Créer un compte et envoyer son invitation (admin)", "tags": ["users"],
                     "requestBody": _body({"email": {"type": "string"}, "name": {"type": "string"},
                                           "roles": _USER["properties"]["roles"],
                                           "matricule": {"type": ["string", "null"]}}, ["email", "name"]),
                     "responses": {"201": {"description": "Le compte, et le lien d'invitation (7 jours, une fois)",
                                           "content": _ONE}, "409": {"description": "Adresse déjà utilisée"}}},
        },
        "/users/{user_id}": {
            "get": {"summary": "Un compte (admin)", "tags": ["users"], "parameters": _ID,
                    "responses": {"200": {"description": "Le compte", "content": _ONE}}},
            "patch": {"summary": "Changer rôles, nom ou état ; désactiver met fin aux sessions et aux jetons (admin)",
                      "tags": ["users"], "parameters": _ID,
                      "requestBody": _body({"roles": _USER["properties"]["roles"], "active": {"type": "boolean"},
                                            "name": {"type": "string"}}, []),
                      "responses": {"200": {"description": "Le compte", "content": _ONE}}},
        },
        "/users/{user_id}/invitation": {
            "post": {"summary": "Envoyer une nouvelle invitation (admin)", "tags": ["users"], "parameters": _ID,
                     "responses": {"201": {"description": "Le lien d'invitation", "content": {"application/json": {
                         "schema": {"type": "object", "properties": {"invitation_url": {"type": "string"}}}}}}}},
        },
        "/me": {
            "get": {"summary": "Qui suis-je : le compte, ses rôles, la façon dont il s'est authentifié", "tags": ["users"],
                    "responses": {"200": {"description": "Le compte", "content": _ONE}}},
        },
        "/me/tokens": {
            "post": {"summary": "Créer un jeton personnel, avec un de mes rôles", "tags": ["users"],
                     "requestBody": _body({"label": {"type": "string", "pattern": "\\S"}, "role": {"type": "string"}}, ["label", "role"]),
                     "responses": {"201": {"description": "Le jeton, avec son secret dans `token`, une seule fois",
                                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}}}},
        },
    },
}
