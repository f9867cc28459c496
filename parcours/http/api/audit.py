"""/api/v1/audit: read the audit trail and check its chain (auditor, hr). Nothing here writes."""

from __future__ import annotations

from flask import Blueprint, request

from parcours.http.api._common import ID_CURSOR, audit_event, whole_number
from parcours.http.auth import require
from parcours.http.current import db_session
from parcours.http.problems import Problem
from parcours.service import audit as trail

bp = Blueprint("audit", __name__)
MAX_PAGE = 500


def _int_arg(name: str, default: int, low: int, high: int, reason: str, *, blank_is_default: bool = False) -> int:
    raw = request.args.get(name)
    if raw is None or (blank_is_default and raw == ""):
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise Problem(422, "Paramètres invalides", errors=[{"field": name, "value": raw, "reason": reason}])
    return value


@bp.get("/audit/events")
@require("auditor", "hr")
def list_events():
    limit = _int_arg("limit", 100, 1, MAX_PAGE, f"nombre entier de 1 à {MAX_PAGE}")
    # Past the last sequence: an empty page (any cursor of up to 19 digits is valid to the description).
    # An empty cursor is the first page, as for every list; an empty limit is a mistake.
    after = min(_int_arg("cursor", 0, 0, 10 ** 19 - 1, "curseur inconnu : reprenez « next_cursor » d'une page",
                         blank_is_default=True), 2 ** 63 - 1)
    subject_type = request.args.get("subject_type") or None
    subject_id = request.args.get("subject_id") or None
    rows = trail.events(db_session(), subject_type=subject_type, subject_id=subject_id, after=after,
                        limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return {"items": [audit_event(e) for e in page], "next_cursor": str(page[-1].sequence) if more else None}


@bp.get("/audit/verify")
@require("auditor", "hr")
def verify_chain():
    return trail.verify(db_session()).to_dict()


_EVENT = {"type": "object", "required": ["sequence", "time", "type", "data", "prev_hash", "hash"], "properties": {
    "sequence": {"type": "integer"}, "time": {"type": "string", "format": "date-time"},
    "type": {"type": "string", "description": "document.generated, signature_request.created, email.sent, "
                                              "link.opened, code.checked, signed, refused, expired, completed, downloaded, "
                                              "archive.refreshed, evidence.downloaded"},
    "subject_type": {"type": ["string", "null"]}, "subject_id": {"type": ["string", "null"]},
    "actor": {"type": ["string", "null"]}, "ip": {"type": ["string", "null"]},
    "user_agent": {"type": ["string", "null"]}, "data": {"type": "object"},
    "prev_hash": {"type": "string", "description": "sha256 de l'événement précédent (64 zéros pour le premier)"},
    "hash": {"type": "string", "description": "sha256 du JSON canonique (RFC 8785) de l'événement, prev_hash compris"}}}

_REPORT = {"type": "object", "required": ["ok", "count", "head_hash", "message"], "properties": {
    "ok": {"type": "boolean"}, "count": {"type": "integer"}, "head_hash": {"type": "string"},
    "head_sequence": {"type": "integer"}, "broken_sequence": {"type": ["integer", "null"]},
    "reason": {"type": ["string", "null"], "enum": ["hash", "prev_hash", "gap", "order", "unreadable", "anchor",
                                                    "anchor_token", "truncated", None]},
    "detail": {"type": ["string", "null"]}, "anchors_checked": {"type": "integer"}, "message": {"type": "string"}}}

OPENAPI = {
    "schemas": {"AuditEvent": _EVENT, "ChainReport": _REPORT},
    "paths": {
        "/audit/events": {
            "get": {"summary": "Événements de la piste d'audit, dans l'ordre de la chaîne (auditor, hr)", "tags": ["audit"],
                    "parameters": [
                        {"name": "subject_type", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "document, signature_request…"},
                        {"name": "subject_id", "in": "query", "required": False, "schema": {"type": "string"}},
                        ID_CURSOR,
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100}}],
                    "responses": {"200": {"description": "Une page ; `next_cursor` est null à la dernière", "content": {
                        "application/json": {"schema": {"type": "object", "required": ["items", "next_cursor"], "properties": {
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
                            "next_cursor": {"type": ["string", "null"]}}}}}}}},
        },
        "/audit/verify": {
            "get": {"summary": "Recalculer toute la chaîne et ses horodatages (auditor, hr)", "tags": ["audit"],
                    "responses": {"200": {"description": "Le rapport : intacte, ou le premier maillon rompu et pourquoi",
                                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChainReport"}}}}}},
        },
    },
}
