"""/api/v1/interviews/{id}/compte-rendu: the compte rendu's content written after the interview (each save a
version), then generated into the document, and sent for signature if asked. HR, or the interviewer."""

from __future__ import annotations

from flask import Blueprint, g
from sqlalchemy import select

from parcours.http.api._common import json_body
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import ReportContent
from parcours.service import interview_reports

bp = Blueprint("interview_reports", __name__)


def _allowed(interview_id: int):
    session = db_session()
    interview = interview_reports.get_interview(session, interview_id)
    if not interview_reports.may_write(session, interview, g.actor):
        raise Problem(403, "Accès refusé", "Seuls le service RH et le responsable qui conduit l'entretien rédigent "
                                           "son compte rendu.")
    return session, interview


@bp.get("/interviews/<int:interview_id>/compte-rendu")
@require("hr", "manager")
def show(interview_id: int):
    session, interview = _allowed(interview_id)
    return interview_reports.view(session, interview, interview_reports.latest(session, interview_id))


@bp.put("/interviews/<int:interview_id>/compte-rendu")
@require("hr", "manager")
def save(interview_id: int):
    body = json_body("sections")
    session, interview = _allowed(interview_id)
    row = interview_reports.save(session, interview_id, body.get("sections"), by=g.actor)
    session.commit()
    return interview_reports.view(session, interview, row)


@bp.get("/interviews/<int:interview_id>/compte-rendu/versions")
@require("hr", "manager")
def versions(interview_id: int):
    session, _ = _allowed(interview_id)
    rows = session.scalars(select(ReportContent).where(ReportContent.interview_id == interview_id)
                           .order_by(ReportContent.number))
    return {"items": [{"version": r.number, "status": r.status, "sections": r.sections, "created_by": r.created_by,
                       "created_at": r.created_at.isoformat(), "document_id": r.document_id} for r in rows]}


@bp.post("/interviews/<int:interview_id>/compte-rendu/document")
@require("hr", "manager")
def generate(interview_id: int):
    body = json_body("values", "sign", "document", "signers")
    _allowed(interview_id)
    result = interview_reports.generate(services(), interview_id, body.get("values"), by=g.actor,
                                        sign=body.get("sign", False), document=body.get("document", "compte_rendu"),
                                        signers=body.get("signers"))
    return result, 201, {"Location": f"/api/v1/documents/{result['document_id']}"}


_JSON = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
_ID = [{"name": "interview_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_ACTION = {"type": "object", "required": ["action", "type", "echeance", "porteur"], "additionalProperties": False,
           "properties": {"action": {"type": "string", "maxLength": interview_reports.MAX_ACTION_TEXT},
                          "type": {"type": "string", "maxLength": interview_reports.MAX_ACTION_TEXT},
                          "echeance": {"type": "string", "format": "date"},
                          "porteur": {"type": "string", "maxLength": interview_reports.MAX_ACTION_TEXT}}}
_SECTIONS = {"type": "object", "additionalProperties": False, "properties": {
    **{key: {"type": "string", "maxLength": interview_reports.MAX_TEXT, "description": label}
       for key, label in interview_reports.SECTIONS.items()},
    **{key: {"type": "boolean", "description": label} for key, label in interview_reports.FLAGS.items()},
    "actions": {"type": "array", "maxItems": interview_reports.MAX_ACTIONS, "items": _ACTION},
    "etat_des_lieux": {"type": "object", "additionalProperties": False, "description": "Le récapitulatif (entretien "
                       "d'état des lieux) : ce que seules les personnes savent", "properties": {
                           "progression": {"type": "boolean"}, "vae": {"type": "boolean"},
                           "progression_detail": {"type": "string", "maxLength": interview_reports.MAX_TEXT},
                           "certification_detail": {"type": "string", "maxLength": interview_reports.MAX_TEXT},
                           "commentaires": {"type": "string", "maxLength": interview_reports.MAX_TEXT}}}}}
_CONTENT = {"type": "object", "properties": {
    "interview_id": {"type": "integer"}, "type": {"type": "string"}, "date": {"type": "string", "format": "date"},
    "version": {"type": ["integer", "null"]}, "status": {"type": "string", "enum": ["empty", "draft", "complete"]},
    "sections": _SECTIONS, "missing": {"type": "array", "items": {"type": "object"}},
    "document_id": {"type": ["integer", "null"]}, "created_by": {"type": ["string", "null"]},
    "created_at": {"type": ["string", "null"], "format": "date-time"}, "labels": {"type": "object"}}}

OPENAPI = {
    "schemas": {"CompteRenduContent": _CONTENT},
    "paths": {
        "/interviews/{interview_id}/compte-rendu": {
            "get": {"summary": "Le contenu du compte rendu (dernière version enregistrée)", "tags": ["interviews"],
                    "parameters": _ID, "responses": {"200": {"description": "Le contenu", "content": _JSON(
                        {"$ref": "#/components/schemas/CompteRenduContent"})}}},
            "put": {"summary": "Enregistrer le contenu (chaque enregistrement est une version ; brouillon tant "
                               "que des sections obligatoires manquent)", "tags": ["interviews"], "parameters": _ID,
                    "requestBody": {"required": True, "content": _JSON({
                        "type": "object", "required": ["sections"], "properties": {"sections": _SECTIONS}})},
                    "responses": {"200": {"description": "La version enregistrée", "content": _JSON(
                        {"$ref": "#/components/schemas/CompteRenduContent"})}}},
        },
        "/interviews/{interview_id}/compte-rendu/versions": {
            "get": {"summary": "Les versions du contenu", "tags": ["interviews"], "parameters": _ID,
                    "responses": {"200": {"description": "Les versions", "content": _JSON({
                        "type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}})}}},
        },
        "/interviews/{interview_id}/compte-rendu/document": {
            "post": {"summary": "Générer le compte rendu (l'entretien doit avoir eu lieu), et l'envoyer en "
                                "signature si demandé", "tags": ["interviews"], "parameters": _ID,
                     "requestBody": {"required": True, "content": _JSON({"type": "object", "properties": {
                         "values": {"type": "object", "description": "Société, courrier, détails de l'entretien"},
                         "sign": {"type": "boolean"},
                         "signers": {"type": "array", "description": "Comme pour une demande de signature "
                                     "(l'adresse du représentant de l'employeur pour un état des lieux)",
                                     "items": {"type": "object"}},
                         "document": {"type": "string", "enum": list(interview_reports.DOCUMENTS),
                                      "description": "etat_des_lieux : le récapitulatif d'un entretien d'état des lieux"}}})},
                     "responses": {"201": {"description": "Le document généré", "content": _JSON({
                         "type": "object", "properties": {
                             "interview_id": {"type": "integer"}, "document_id": {"type": "integer"},
                             "document": {"type": "string", "enum": list(interview_reports.DOCUMENTS)},
                             "content_version": {"type": "integer"},
                             "signature_request_id": {"type": ["integer", "null"]},
                             "email_sent": {"type": "boolean"}}})},
                                   "422": {"description": "Entretien à venir, ou sections manquantes"}}},
        },
    },
}
