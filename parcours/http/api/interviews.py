"""/api/v1/interviews: record interviews planned, held or refused, so the legal calendar moves on."""

from __future__ import annotations

from flask import Blueprint, g, request
from sqlalchemy import select

from docgen.context import INTERVIEW_LABELS
from docgen.values import ValuesError, parse_date
from parcours.http.api._common import ID_CURSOR, iso, json_body, one_of, page
from parcours.http.auth import require
from parcours.http.current import db_session
from parcours.http.problems import Problem
from parcours.models import Interview
from parcours.service import interviews

bp = Blueprint("interviews", __name__)


def view(interview: Interview) -> dict:
    return {"id": interview.id, "matricule": interview.matricule, "type": interview.type,
            "libelle": INTERVIEW_LABELS.get(interview.type), "status": interview.status,
            "date": interview.date.isoformat(), "note": interview.note, "document_id": interview.document_id,
            "created_by": interview.created_by, "created_at": iso(interview.created_at)}


def _date(value, field: str):
    try:
        return parse_date(value, field)
    except ValuesError as exc:
        raise Problem(422, "Valeurs invalides", errors=[{"field": field, "reason": str(exc)}]) from None


@bp.post("/interviews")
@require("hr")
def create():
    body = json_body("matricule", "type", "status", "date", "note", "document_id")
    missing = [f for f in ("matricule", "type", "status", "date") if not body.get(f)]
    if missing:
        raise Problem(422, "Valeurs invalides", errors=[{"field": f, "reason": "obligatoire"} for f in missing])
    session = db_session()
    interview = interviews.record(session, matricule=str(body["matricule"]), type=body["type"], status=body["status"],
                                  date=_date(body["date"], "date"), note=body.get("note"),
                                  document_id=body.get("document_id"), created_by=g.actor)
    session.commit()
    return view(interview), 201, {"Location": f"/api/v1/interviews/{interview.id}"}


@bp.patch("/interviews/<int:interview_id>")
@require("hr")
def update(interview_id: int):
    body = json_body("status", "date", "note")
    if not body.get("status"):
        raise Problem(422, "Valeurs invalides", errors=[{"field": "status", "reason": "obligatoire"}])
    session = db_session()
    interview = interviews.change(session, interview_id, status=body["status"],
                                  date=_date(body["date"], "date") if body.get("date") else None, note=body.get("note"),
                                  by=g.actor)
    session.commit()
    return view(interview)


@bp.get("/interviews")
@require("hr", "auditor")
def list_interviews():
    limit, cursor = page()
    query = select(Interview).order_by(Interview.id).limit(limit + 1)
    if request.args.get("matricule"):
        query = query.where(Interview.matricule == request.args["matricule"])
    status = one_of("status", interviews.STATUSES)
    if status:
        query = query.where(Interview.status == status)
    if cursor is not None:
        query = query.where(Interview.id > cursor)
    rows = list(db_session().scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [view(i) for i in rows], "next_cursor": str(rows[-1].id) if more else None}


_INTERVIEW = {"type": "object", "properties": {
    "id": {"type": "integer"}, "matricule": {"type": "string"}, "type": {"type": "string", "enum": list(INTERVIEW_LABELS)},
    "libelle": {"type": "string"}, "status": {"type": "string", "enum": list(interviews.STATUSES)},
    "date": {"type": "string", "format": "date"}, "note": {"type": ["string", "null"]},
    "document_id": {"type": ["integer", "null"]}, "created_by": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}}}
_JSON = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
_REF = {"$ref": "#/components/schemas/Interview"}

OPENAPI = {
    "schemas": {"Interview": _INTERVIEW},
    "paths": {
        "/interviews": {
            "post": {"summary": "Enregistrer un entretien (prévu, tenu ou refusé)", "tags": ["interviews"],
                     "requestBody": {"required": True, "content": _JSON({
                         "type": "object", "required": ["matricule", "type", "status", "date"], "properties": {
                             "matricule": {"type": "string"}, "type": {"type": "string", "enum": list(INTERVIEW_LABELS)},
                             "status": {"type": "string", "enum": list(interviews.STATUSES)},
                             "date": {"type": "string", "format": "date"}, "note": {"type": "string"},
                             "document_id": {"type": "integer"}}})},
                     "responses": {"201": {"description": "L'entretien enregistré", "content": _JSON(_REF)}}},
            "get": {"summary": "Entretiens enregistrés", "tags": ["interviews"], "parameters": [
                {"name": "matricule", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(interviews.STATUSES)}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ID_CURSOR],
                "responses": {"200": {"description": "Une page d'entretiens", "content": _JSON({
                    "type": "object", "properties": {"items": {"type": "array", "items": _REF},
                                                     "next_cursor": {"type": ["string", "null"]}}})}}},
        },
        "/interviews/{interview_id}": {
            "patch": {"summary": "Un entretien prévu devient tenu ou refusé", "tags": ["interviews"],
                      "parameters": [{"name": "interview_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                      "requestBody": {"required": True, "content": _JSON({
                          "type": "object", "required": ["status"], "properties": {
                              "status": {"type": "string", "enum": list(interviews.STATUSES)},
                              "date": {"type": "string", "format": "date"}, "note": {"type": "string"}}})},
                      "responses": {"200": {"description": "L'entretien", "content": _JSON(_REF)},
                                    "409": {"description": "L'entretien est déjà clos"}}},
        },
    },
}
