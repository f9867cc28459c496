"""What the API modules share: JSON bodies, pages of listings, moments, template names, OpenAPI pieces."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import request, url_for
from sqlalchemy.orm import Session

from parcours.http.current import services
from parcours.http.problems import Problem
from parcours.models import AuditEvent
from parcours.service import templates

MAX_PAGE = 1000
READERS = ("hr", "auditor")
MAX_ID = 2 ** 31 - 1
"""The largest id a table holds (PostgreSQL's integer): a larger one finds nothing, it must not reach the database."""
_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(raw: str | None, low: int, high: int) -> int | None:
    """`raw` as a whole number from `low` to `high`, or None: ASCII digits only (« ³ » and « ٣ » are digits
    to str.isdigit, not to int), never a value the database cannot store."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 with its offset (stored moments come back aware in UTC: parcours.models.UtcDateTime)."""
    return moment.isoformat() if moment is not None else None


def json_body(*allowed: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Corps JSON attendu", "Envoyez un objet JSON (Content-Type: application/json).")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Problem(422, "Valeurs invalides", errors=[{"field": key, "reason": f"champ inconnu (champs : {', '.join(allowed)})"}
                                                       for key in unknown])
    return body


def one_of(name: str, allowed: tuple[str, ...]) -> str | None:
    """A filter of the query string that must be one of `allowed` when given (given empty is an error too:
    an empty filter that kept everything would hide the client's mistake)."""
    if name not in request.args:
        return None
    value = request.args[name]
    if value not in allowed:
        raise Problem(422, "Paramètres invalides", errors=[{"field": name, "value": value,
                                                             "reason": f"un de : {', '.join(allowed)}"}])
    return value


def page() -> tuple[int, int | None]:
    """(limit, cursor) from the query string; the cursor is the last id of the previous page."""
    errors = []
    limit = services().settings.page_size
    raw_limit, raw_cursor = request.args.get("limit"), request.args.get("cursor")
    if raw_limit is not None:
        limit = whole_number(raw_limit, 1, MAX_PAGE)
        if limit is None:
            errors.append({"field": "limit", "reason": f"entier de 1 à {MAX_PAGE}", "value": raw_limit})
    cursor = None
    if raw_cursor:
        cursor = whole_number(raw_cursor, 0, 10 ** 19 - 1)
        if cursor is not None:
            cursor = min(cursor, MAX_ID)  # past the largest id: an empty page, not an error
        else:
            errors.append({"field": "cursor", "reason": "curseur invalide (reprenez next_cursor)", "value": raw_cursor})
    if errors:
        raise Problem(422, "Paramètres invalides", errors=errors)
    return min(limit, MAX_PAGE), cursor


def listing(items: list[dict[str, Any]], rows: list[Any], limit: int, endpoint: str, **args: Any) -> dict[str, Any]:
    """A page of a listing; `rows` has one row more than `limit` when there is a next page."""
    more = len(rows) > limit
    next_cursor = str(rows[limit - 1].id) if more else None
    query = {k: v for k, v in request.args.items() if k != "cursor"}
    links = {"next": url_for(endpoint, **args, **query, cursor=next_cursor) if next_cursor else None}
    return {"items": items[:limit], "next_cursor": next_cursor, "links": links}


class TemplateNames:
    """(name, number) of template versions, looked up once per request."""

    def __init__(self, session: Session) -> None:
        self.session, self.known = session, {}

    def __call__(self, version_id: int) -> dict[str, Any]:
        if version_id not in self.known:
            name, number = templates.name_and_number(self.session, version_id)
            self.known[version_id] = {"name": name, "version": number}
        return self.known[version_id]


def audit_event(event: AuditEvent) -> dict[str, Any]:
    """An audit event as the API shows it (the audit trail and a document's history)."""
    return {"sequence": event.sequence, "time": iso(event.time), "type": event.type,
            "subject_type": event.subject_type, "subject_id": event.subject_id, "actor": event.actor,
            "ip": event.ip, "user_agent": event.user_agent, "data": event.data,
            "prev_hash": event.prev_hash, "hash": event.hash}


# --- OpenAPI pieces ---------------------------------------------------------------------------------

ID_CURSOR: dict[str, Any] = {
    "name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]{0,19}$"},
    "description": "Curseur de pagination : la valeur `next_cursor` de la page précédente, soit l'identifiant "
                   "(entier) du dernier élément reçu, la liste étant triée par identifiant croissant ; absent ou "
                   "vide pour la première page. `next_cursor` vaut null sur la dernière page."}
"""The cursor of the lists ordered by id: the last id of the previous page."""


def page_parameters() -> list[dict[str, Any]]:
    return [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
            ID_CURSOR]


def page_of(schema: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
        "next_cursor": {"type": ["string", "null"]},
        "links": {"type": "object", "properties": {"next": {"type": ["string", "null"]}}}}}


def json_response(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """An OpenAPI response with a JSON body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}
