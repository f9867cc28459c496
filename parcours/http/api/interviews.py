"""/api/v1/interviews: every interview, with its status, its convocations and links; record one held or refused
outside a campaign, so the legal calendar moves on; list them by status, campaign, service, manager, dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, request, url_for
from sqlalchemy import or_, select

from docgen.context import INTERVIEW_LABELS
from docgen.values import ValuesError, parse_date
from parcours.http.api._common import ID_CURSOR, MAX_ID, iso, json_body, listing, one_of, page, whole_number
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Convocation, ConvocationMessage, Employee, Interview
from parcours.service import interviews

bp = Blueprint("interviews", __name__)


def interview_view(interview: Interview, *, detail: bool = False) -> dict[str, Any]:
    """An interview as the API shows it; with `detail`, its convocation versions and their e-mails."""
    links = {"self": url_for("interviews.show", interview_id=interview.id),
             "employee": url_for("employees.show", matricule=interview.matricule),
             "campaign": url_for("campaigns.show", campaign_id=interview.campaign_id) if interview.campaign_id else None,
             "document": url_for("documents.show", document_id=interview.document_id) if interview.document_id else None,
             "signature_requests": url_for("signatures.index", matricule=interview.matricule),
             "move": url_for("campaigns.move", interview_id=interview.id) if interview.campaign_id else None,
             "cancel": url_for("campaigns.cancel", interview_id=interview.id) if interview.campaign_id else None}
    found = {"id": interview.id, "matricule": interview.matricule, "type": interview.type,
             "libelle": INTERVIEW_LABELS.get(interview.type), "status": interview.status,
             "status_label": interviews.LABELS.get(interview.status, interview.status),
             "date": interview.date.isoformat(), "heure": interview.heure.strftime("%H:%M") if interview.heure else None,
             "lieu": interview.lieu, "lien_visio": interview.lien_visio, "campaign_id": interview.campaign_id,
             "interviewer": {"matricule": interview.interviewer_matricule, "name": interview.interviewer_name,
                             "email": interview.interviewer_email} if interview.interviewer_email else None,
             "reason": interview.reason, "note": interview.note, "document_id": interview.document_id,
             "created_by": interview.created_by, "created_at": iso(interview.created_at), "links": links}
    if detail:
        session = db_session()
        versions = list(session.scalars(select(Convocation).where(Convocation.interview_id == interview.id)
                                        .order_by(Convocation.version)))
        messages: dict[int, list[ConvocationMessage]] = {}
        for message in session.scalars(select(ConvocationMessage).where(
                ConvocationMessage.convocation_id.in_([c.id for c in versions])).order_by(ConvocationMessage.id)):
            messages.setdefault(message.convocation_id, []).append(message)
        found["convocations"] = [{
            "version": c.version, "method": c.method, "status": c.status, "date": c.date.isoformat(),
            "heure": c.heure.strftime("%H:%M"), "lieu": c.lieu, "lien_visio": c.lien_visio, "error": c.error,
            "sent_at": iso(c.sent_at), "acknowledged_at": iso(c.acknowledged_at), "acknowledged_ip": c.acknowledged_ip,
            "acknowledged_user_agent": c.acknowledged_user_agent,
            "links": {"document": url_for("documents.show", document_id=c.document_id) if c.document_id else None,
                      "trame": url_for("documents.show", document_id=c.trame_document_id) if c.trame_document_id
                      else None},
            "emails": [{"role": m.role, "to": m.to, "status": m.status, "attempts": m.attempts, "error": m.error,
                        "message_id": m.message_id, "sent_at": iso(m.sent_at)} for m in messages.get(c.id, [])]}
            for c in versions]
        found["links"]["audit"] = url_for("audit.list_events", subject_type="interview", subject_id=interview.id)
    return found


view = interview_view


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
                                  date=_date(body["date"], "date"), today=services().settings.today(),
                                  note=body.get("note"), document_id=body.get("document_id"), created_by=g.actor)
    session.commit()
    return view(interview), 201, {"Location": f"/api/v1/interviews/{interview.id}"}


@bp.patch("/interviews/<int:interview_id>")
@require("hr")
def update(interview_id: int):
    body = json_body("status", "date", "note")
    if not body.get("status"):
        raise Problem(422, "Valeurs invalides", errors=[{"field": "status", "reason": "obligatoire"}])
    session = db_session()
    interview = interviews.change(session, interview_id, status=body["status"], today=services().settings.today(),
                                  date=_date(body["date"], "date") if body.get("date") else None, note=body.get("note"),
                                  by=g.actor)
    session.commit()
    return view(interview)


def period(required: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """The `from` and `to` dates of the query string (inclusive)."""
    found, errors = [], []
    for name in ("from", "to"):
        raw = request.args.get(name)
        if raw is None and not required:
            found.append(None)
            continue
        try:
            found.append(parse_date(raw, name))
        except ValuesError as exc:
            errors.append({"field": name, "value": raw, "reason": str(exc) if raw else "date obligatoire (AAAA-MM-JJ)"})
            found.append(None)
    if not errors and found[0] and found[1] and found[1] < found[0]:
        errors.append({"field": "to", "reason": "avant la date « from »"})
    if errors:
        raise Problem(422, "Paramètres invalides", errors=errors)
    return found[0], found[1]


def by_people(query: Any, matricule: Any) -> Any:
    """The query's `matricule` column filtered by the query string's `service` and `manager` (the manager's
    matricule), through the employee."""
    service, manager = request.args.get("service"), request.args.get("manager")
    if service or manager:
        query = query.join(Employee, Employee.matricule == matricule)
        if service:
            query = query.where(Employee.service == service)
        if manager:
            query = query.where(Employee.manager_matricule == manager)
    return query


def whole_filter(name: str) -> int | None:
    """An id filter of the query string (422 naming it when it is not one)."""
    raw = request.args.get(name)
    if raw is None:
        return None
    value = whole_number(raw, 1, MAX_ID)
    if value is None:
        raise Problem(422, "Paramètres invalides", errors=[{"field": name, "value": raw, "reason": "identifiant entier"}])
    return value


@bp.get("/interviews")
@require("hr", "auditor")
def list_interviews():
    limit, cursor = page()
    query = select(Interview).order_by(Interview.id).limit(limit + 1)
    if request.args.get("matricule"):
        query = query.where(Interview.matricule == request.args["matricule"])
    status = one_of("status", interviews.ACCEPTED)
    if status == "planned":
        query = query.where(Interview.status.in_(interviews.PLANNED))
    elif status:
        query = query.where(Interview.status == status)
    campaign = whole_filter("campaign")
    if campaign is not None:
        query = query.where(Interview.campaign_id == campaign)
    document = whole_filter("document")
    if document is not None:  # its compte rendu, or one of its convocations or trames
        query = query.where(or_(Interview.document_id == document, Interview.id.in_(select(Convocation.interview_id).where(
            or_(Convocation.document_id == document, Convocation.trame_document_id == document)))))
    query = by_people(query, Interview.matricule)
    start, end = period()
    if start:
        query = query.where(Interview.date >= start)
    if end:
        query = query.where(Interview.date <= end)
    if cursor is not None:
        query = query.where(Interview.id > cursor)
    rows = list(db_session().scalars(query))
    return listing([view(i) for i in rows[:limit]], rows, limit, "interviews.list_interviews")


@bp.get("/interviews/<int:interview_id>")
@require("hr", "auditor")
def show(interview_id: int):
    interview = db_session().get(Interview, interview_id)
    if interview is None:
        raise Problem(404, "Entretien introuvable", f"Aucun entretien n'a l'identifiant {interview_id}.")
    return interview_view(interview, detail=True)


_INTERVIEW = {"type": "object", "properties": {
    "id": {"type": "integer"}, "matricule": {"type": "string"}, "type": {"type": "string", "enum": list(INTERVIEW_LABELS)},
    "libelle": {"type": "string"}, "status": {"type": "string", "enum": list(interviews.STATUSES)},
    "status_label": {"type": "string"}, "date": {"type": "string", "format": "date"},
    "heure": {"type": ["string", "null"]}, "lieu": {"type": ["string", "null"]},
    "lien_visio": {"type": ["string", "null"]}, "campaign_id": {"type": ["integer", "null"]},
    "interviewer": {"type": ["object", "null"]}, "reason": {"type": ["string", "null"]},
    "note": {"type": ["string", "null"]}, "document_id": {"type": ["integer", "null"]},
    "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "convocations": {"type": "array", "items": {"type": "object"}}, "links": {"type": "object"}}}
_JSON = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
_REF = {"$ref": "#/components/schemas/Interview"}
_STATUS_IN = {"type": "string", "enum": list(interviews.ACCEPTED)}

OPENAPI = {
    "schemas": {"Interview": _INTERVIEW},
    "paths": {
        "/interviews": {
            "post": {"summary": "Enregistrer un entretien hors campagne (tenu, refusé, ou convoqué : « planned »)",
                     "tags": ["interviews"],
                     "requestBody": {"required": True, "content": _JSON({
                         "type": "object", "required": ["matricule", "type", "status", "date"], "properties": {
                             "matricule": {"type": "string"}, "type": {"type": "string", "enum": list(INTERVIEW_LABELS)},
                             "status": _STATUS_IN, "date": {"type": "string", "format": "date"},
                             "note": {"type": "string"}, "document_id": {"type": "integer"}}})},
                     "responses": {"201": {"description": "L'entretien enregistré", "content": _JSON(_REF)}}},
            "get": {"summary": "Les entretiens, filtrés", "tags": ["interviews"], "parameters": [
                {"name": "matricule", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": _STATUS_IN,
                 "description": "« planned » : convoqués, convocation reçue ou reportés"},
                {"name": "campaign", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "document", "in": "query", "schema": {"type": "integer", "minimum": 1},
                 "description": "le compte rendu, une convocation ou une trame de l'entretien"},
                {"name": "service", "in": "query", "schema": {"type": "string"}},
                {"name": "manager", "in": "query", "schema": {"type": "string"}, "description": "matricule du responsable"},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ID_CURSOR],
                "responses": {"200": {"description": "Une page d'entretiens", "content": _JSON({
                    "type": "object", "properties": {"items": {"type": "array", "items": _REF},
                                                     "next_cursor": {"type": ["string", "null"]},
                                                     "links": {"type": "object"}}})}}},
        },
        "/interviews/{interview_id}": {
            "get": {"summary": "Un entretien, ses convocations (versions, e-mails, accusé de réception) et ses liens",
                    "tags": ["interviews"],
                    "parameters": [{"name": "interview_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "L'entretien", "content": _JSON(_REF)}}},
            "patch": {"summary": "Un entretien ouvert devient tenu ou refusé, ou est annulé", "tags": ["interviews"],
                      "parameters": [{"name": "interview_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                      "requestBody": {"required": True, "content": _JSON({
                          "type": "object", "required": ["status"], "properties": {
                              "status": _STATUS_IN, "date": {"type": "string", "format": "date"},
                              "note": {"type": "string"}}})},
                      "responses": {"200": {"description": "L'entretien", "content": _JSON(_REF)},
                                    "409": {"description": "L'entretien est déjà clos"}}},
        },
    },
}
