"""/api/v1/webhooks: endpoints that receive signed events, their messages and attempts (admin only).

Only administrators manage webhooks: an endpoint sends information about employees' documents to an
address outside Parcours and holds the secret that proves a message comes from Parcours, so it is
managed like API tokens. The secret is shown once, at creation and at each rotation.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, g, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.http.api._common import iso, json_body, json_response, listing, page, page_of, page_parameters
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from parcours.service import webhooks as service
from parcours.settings import SettingsError
from webhooks.ssrf import AllowList

bp = Blueprint("webhooks", __name__)
ROLES = ("admin",)
FIELDS = ("url", "event_types", "description", "enabled")
MESSAGE_STATUSES = ("pending", "delivered", "failed")


@bp.record_once
def _check_settings(state: Any) -> None:
    """A malformed PARCOURS_WEBHOOK_ALLOWED_HOSTS stops the start, naming the variable."""
    settings = state.app.extensions["parcours"].settings
    try:
        AllowList.parse(settings.webhook_allowed_hosts)
    except ValueError as exc:
        raise SettingsError(f"PARCOURS_WEBHOOK_ALLOWED_HOSTS: {exc}") from None


@bp.after_app_request
def _wake_deliveries(response: Any) -> Any:
    """Deliveries written by this request start now rather than at the job runner's next tick."""
    session = g.get("db_session")
    if session is not None and session.info.pop("webhooks_emitted", False):
        jobs = services().jobs
        if jobs is not None:
            jobs.wake()
    return response


def _endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
        "event_types": endpoint.event_types, "enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason,
        "secret_prefix": endpoint.secret[:10],
        "previous_secret_until": iso(endpoint.previous_secret_until)
        if endpoint.previous_secret_until and endpoint.previous_secret else None,
        "created_by": endpoint.created_by, "created_at": iso(endpoint.created_at), "updated_at": iso(endpoint.updated_at),
        "links": {"self": url_for("webhooks.show", endpoint_id=endpoint.id),
                  "messages": url_for("webhooks.messages", endpoint_id=endpoint.id)},
    }


def _message(message: WebhookMessage, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": message.public_id, "endpoint_id": message.endpoint_id, "event_type": message.event_type,
        "status": message.status, "attempts_count": message.attempts, "next_attempt_at": iso(message.next_attempt_at),
        "last_status": message.last_status, "last_error": message.last_error,
        "created_at": iso(message.created_at), "delivered_at": iso(message.delivered_at),
        "payload": json.loads(message.body),
        "attempts": [{"number": a.number, "attempted_at": iso(a.attempted_at), "status_code": a.status_code,
                      "latency_ms": a.latency_ms, "response_excerpt": a.response_excerpt, "error": a.error}
                     for a in attempts],
        "links": {"redeliver": url_for("webhooks.redeliver", message_id=message.public_id)},
    }


def _session() -> Session:
    return db_session()


@bp.get("/webhooks/event-types")
@require(*ROLES)
def event_types():
    return {"items": [{"type": name, "description": text} for name, text in service.EVENT_TYPES.items()]}


@bp.get("/webhooks/endpoints")
@require(*ROLES)
def index():
    limit, cursor = page()
    query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None)).order_by(WebhookEndpoint.id)
    if cursor is not None:
        query = query.where(WebhookEndpoint.id > cursor)
    rows = _session().scalars(query.limit(limit + 1)).all()
    return listing([_endpoint(e) for e in rows], rows, limit, "webhooks.index")


@bp.post("/webhooks/endpoints")
@require(*ROLES)
def create():
    body = json_body("url", "event_types", "description")
    settings = services().settings
    url = service.check_endpoint_url(body.get("url"), settings.webhook_allowed_hosts)
    event_types = service.check_event_types(body.get("event_types"))
    description = service.check_description(body.get("description"))
    session = _session()
    endpoint, secret = service.create_endpoint(session, url=url, event_types=event_types, description=description,
                                               created_by=g.actor.label)
    session.commit()
    return {**_endpoint(endpoint), "secret": secret}, 201, {"Location": url_for("webhooks.show", endpoint_id=endpoint.id)}


@bp.get("/webhooks/endpoints/<int:endpoint_id>")
@require(*ROLES)
def show(endpoint_id: int):
    return _endpoint(service.get_endpoint(_session(), endpoint_id))


@bp.patch("/webhooks/endpoints/<int:endpoint_id>")
@require(*ROLES)
def change(endpoint_id: int):
    body = json_body(*FIELDS)
    session = _session()
    endpoint = service.get_endpoint(session, endpoint_id)
    if "url" in body:
        endpoint.url = service.check_endpoint_url(body["url"], services().settings.webhook_allowed_hosts)
    if "event_types" in body:
        endpoint.event_types = service.check_event_types(body["event_types"])
    if "description" in body:
        endpoint.description = service.check_description(body["description"])
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise Problem(422, "Valeurs invalides", errors=[{"field": "enabled", "reason": "true ou false"}])
        service.set_enabled(endpoint, body["enabled"], g.actor.label)
    session.commit()
    return _endpoint(endpoint)


@bp.delete("/webhooks/endpoints/<int:endpoint_id>")
@require(*ROLES)
def remove(endpoint_id: int):
    session = _session()
    service.delete_endpoint(session, service.get_endpoint(session, endpoint_id))
    session.commit()
    return "", 204


@bp.post("/webhooks/endpoints/<int:endpoint_id>/rotate")
@require(*ROLES)
def rotate(endpoint_id: int):
    session = _session()
    endpoint = service.get_endpoint(session, endpoint_id)
    secret = service.rotate_secret(endpoint)
    session.commit()
    return {**_endpoint(endpoint), "secret": secret}


@bp.get("/webhooks/endpoints/<int:endpoint_id>/messages")
@require(*ROLES)
def messages(endpoint_id: int):
    limit, cursor = page()
    session = _session()
    endpoint = service.get_endpoint(session, endpoint_id)
    query = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id).order_by(WebhookMessage.id.desc())
    status = request.args.get("status")
    if status is not None:
        if status not in MESSAGE_STATUSES:
            raise Problem(422, "Paramètres invalides", errors=[
                {"field": "status", "value": status, "reason": f"un de {', '.join(MESSAGE_STATUSES)}"}])
        query = query.where(WebhookMessage.status == status)
    if cursor is not None:
        query = query.where(WebhookMessage.id < cursor)  # newest first
    rows = session.scalars(query.limit(limit + 1)).all()
    shown = rows[:limit]
    attempts: dict[int, list[WebhookAttempt]] = {m.id: [] for m in shown}
    if shown:
        for attempt in session.scalars(select(WebhookAttempt).where(WebhookAttempt.message_id.in_(list(attempts)))
                                       .order_by(WebhookAttempt.id)):
            attempts[attempt.message_id].append(attempt)
    return listing([_message(m, attempts[m.id]) for m in shown], rows, limit, "webhooks.messages",
                   endpoint_id=endpoint_id)


@bp.post("/webhooks/messages/<message_id>/redeliver")
@require(*ROLES)
def redeliver(message_id: str):
    session = _session()
    message = service.redeliver(session, message_id)
    session.commit()
    return _message(message, []), 202


# --- OpenAPI ------------------------------------------------------------------------------------------

_EVENT_TYPES = {"type": ["array", "null"], "items": {"type": "string", "enum": list(service.EVENT_TYPES)},
                "description": "Types d'événements reçus ; null : tous"}
_ENDPOINT = {"type": "object", "required": ["id", "url", "enabled"], "properties": {
    "id": {"type": "integer"}, "url": {"type": "string", "format": "uri"}, "description": {"type": "string"},
    "event_types": _EVENT_TYPES, "enabled": {"type": "boolean"}, "disabled_reason": {"type": ["string", "null"]},
    "secret_prefix": {"type": "string", "description": "Début du secret, pour le reconnaître"},
    "previous_secret_until": {"type": ["string", "null"], "format": "date-time",
                              "description": "Après une rotation, l'ancien secret signe aussi jusqu'à cette date"},
    "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "links": {"type": "object", "properties": {"self": {"type": "string"}, "messages": {"type": "string"}}}}}
_WITH_SECRET = {"allOf": [{"$ref": "#/components/schemas/WebhookEndpoint"}, {
    "type": "object", "required": ["secret"], "properties": {
        "secret": {"type": "string", "description": "whsec_… : affiché cette fois seulement"}}}]}
_ATTEMPT = {"type": "object", "properties": {
    "number": {"type": "integer"}, "attempted_at": {"type": "string", "format": "date-time"},
    "status_code": {"type": ["integer", "null"]}, "latency_ms": {"type": "integer"},
    "response_excerpt": {"type": "string", "description": "Début de la réponse (1 Kio au plus)"},
    "error": {"type": ["string", "null"]}}}
_MESSAGE = {"type": "object", "required": ["id", "event_type", "status"], "properties": {
    "id": {"type": "string", "description": "msg_… : l'en-tête webhook-id, le même à chaque essai"},
    "endpoint_id": {"type": "integer"}, "event_type": {"type": "string"},
    "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
    "attempts_count": {"type": "integer"}, "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
    "last_status": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"]},
    "created_at": {"type": "string", "format": "date-time"},
    "delivered_at": {"type": ["string", "null"], "format": "date-time"},
    "payload": {"type": "object", "description": "Le corps envoyé : {type, timestamp, data}"},
    "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookAttempt"},
                 "description": "Les derniers essais (20 au plus)"},
    "links": {"type": "object", "properties": {"redeliver": {"type": "string"}}}}}
_ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_TAGS = ["webhooks"]



def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


OPENAPI = {
    "schemas": {"WebhookEndpoint": _ENDPOINT, "WebhookMessage": _MESSAGE, "WebhookAttempt": _ATTEMPT},
    "paths": {
        "/webhooks/event-types": {
            "get": {"summary": "Les types d'événements envoyés (admin)", "tags": _TAGS, "responses": {
                "200": json_response({"type": "object", "properties": {"items": {"type": "array", "items": {
                    "type": "object", "properties": {"type": {"type": "string"}, "description": {"type": "string"}}}}}},
                    "Le catalogue")}},
        },
        "/webhooks/endpoints": {
            "get": {"summary": "Les points de réception des webhooks (admin)", "tags": _TAGS,
                    "parameters": page_parameters(),
                    "responses": {"200": json_response(page_of("WebhookEndpoint"), "Une page, sans les secrets")}},
            "post": {"summary": "Déclarer un point de réception ; son secret est affiché une seule fois", "tags": _TAGS,
                     "description": "L'adresse doit être http(s) et publique (les adresses locales, privées ou de "
                                    "métadonnées sont refusées sauf PARCOURS_WEBHOOK_ALLOWED_HOSTS).",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["url"], "additionalProperties": False, "properties": {
                             "url": {"type": "string", "format": "uri"}, "event_types": _EVENT_TYPES,
                             "description": {"type": "string", "maxLength": 500}}}}}},
                     "responses": {"201": json_response(_WITH_SECRET, "Le point de réception, avec son secret")}},
        },
        "/webhooks/endpoints/{endpoint_id}": {
            "get": {"summary": "Un point de réception", "tags": _TAGS, "parameters": [_ENDPOINT_ID],
                    "responses": {"200": json_response(_ref("WebhookEndpoint"), "Le point de réception")}},
            "patch": {"summary": "Modifier, désactiver (enabled: false) ou réactiver un point de réception",
                      "tags": _TAGS, "parameters": [_ENDPOINT_ID],
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {
                          "type": "object", "additionalProperties": False, "properties": {
                              "url": {"type": "string", "format": "uri"}, "event_types": _EVENT_TYPES,
                              "description": {"type": "string", "maxLength": 500}, "enabled": {"type": "boolean"}}}}}},
                      "responses": {"200": json_response(_ref("WebhookEndpoint"), "Le point de réception modifié")}},
            "delete": {"summary": "Supprimer un point de réception (ses messages en attente échouent)", "tags": _TAGS,
                       "parameters": [_ENDPOINT_ID], "responses": {"204": {"description": "Supprimé"}}},
        },
        "/webhooks/endpoints/{endpoint_id}/rotate": {
            "post": {"summary": "Nouveau secret ; l'ancien signe aussi pendant 24 h", "tags": _TAGS,
                     "parameters": [_ENDPOINT_ID],
                     "responses": {"200": json_response(_WITH_SECRET, "Le point de réception, avec son nouveau secret")}},
        },
        "/webhooks/endpoints/{endpoint_id}/messages": {
            "get": {"summary": "Les messages d'un point de réception, du plus récent au plus ancien, avec leurs essais",
                    "tags": _TAGS, "parameters": [_ENDPOINT_ID, {
                        "name": "status", "in": "query", "schema": {"type": "string", "enum": list(MESSAGE_STATUSES)}},
                        *page_parameters()],
                    "responses": {"200": json_response(page_of("WebhookMessage"), "Une page de messages")}},
        },
        "/webhooks/messages/{message_id}/redeliver": {
            "post": {"summary": "Renvoyer un message livré ou en échec (même webhook-id, nouveau calendrier d'essais)",
                     "tags": _TAGS, "parameters": [{"name": "message_id", "in": "path", "required": True,
                                                    "schema": {"type": "string"}}],
                     "responses": {"202": json_response(_ref("WebhookMessage"), "Le message, de nouveau en attente"),
                                   "409": {"description": "Message déjà en attente, ou point de réception désactivé",
                                           "content": {"application/problem+json": {"schema": _ref("Problem")}}}}},
        },
    },
}
