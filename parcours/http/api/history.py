"""/api/v1/documents/<id>/history: everything an auditor needs about one document, in one answer
(auditor, hr). Nothing here writes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from parcours.http.api._common import TemplateNames, audit_event, iso
from parcours.http.auth import require
from parcours.http.current import db_session
from parcours.models import SignatureRequest
from parcours.service.history import History, VersionEntry, document_history

bp = Blueprint("history", __name__)


def _version(document_id: int, entry: VersionEntry, names: TemplateNames) -> dict[str, Any]:
    row, event = entry.version, entry.event
    return {"number": row.number, "kind": row.kind, "pdf_sha256": row.pdf_sha256, "docx_sha256": row.docx_sha256,
            "pages": row.pages, "template": names(row.template_version_id), "created_at": iso(row.created_at),
            "created_by": entry.created_by,
            "made_by": None if event is None else {"event": event.type, "sequence": event.sequence,
                                                   "actor": event.actor},
            "links": {"pdf": url_for("documents.download_pdf", document_id=document_id, number=row.number)}}


def _request(request: SignatureRequest) -> dict[str, Any]:
    return {"id": request.id, "status": request.status, "created_by": request.created_by,
            "created_at": iso(request.created_at), "completed_at": iso(request.completed_at),
            "ended_at": iso(request.ended_at), "end_reason": request.end_reason,
            "prepared_version": request.prepared_version, "final_version": request.final_version,
            "signers": [{"position": s.position, "role": s.role, "name": s.name, "email": s.email,
                         "status": s.status, "signed_at": iso(s.signed_at), "signed_version": s.signed_version,
                         "certificate_serial": s.certificate_serial} for s in request.signers],
            "links": {"self": url_for("signatures.show", request_id=request.id)}}


def _history(history: History, names: TemplateNames) -> dict[str, Any]:
    document = history.document
    return {
        "document": {"id": document.id, "matricule": document.matricule,
                     "template": names(document.template_version_id), "batch_id": document.batch_id,
                     "created_by": document.created_by, "created_at": iso(document.created_at),
                     "links": {"self": url_for("documents.show", document_id=document.id)}},
        "versions": [_version(document.id, entry, names) for entry in history.versions],
        "signature_requests": [_request(r) for r in history.requests],
        "events": [audit_event(e) for e in history.events],
        "chain": history.chain.to_dict(),
    }


@bp.get("/documents/<int:document_id>/history")
@require("auditor", "hr")
def show(document_id: int):
    session = db_session()
    return _history(document_history(session, document_id), TemplateNames(session))


# --- OpenAPI -----------------------------------------------------------------------------------------

_TEMPLATE = {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "integer"}}}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
_VERSION = {"type": "object", "required": ["number", "kind", "pdf_sha256", "pages", "created_at", "created_by",
                                           "made_by", "links"], "properties": {
    "number": {"type": "integer"},
    "kind": {"type": "string", "enum": ["generated", "prepared", "signed", "sealed", "timestamped"]},
    "pdf_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "docx_sha256": {"type": ["string", "null"]},
    "pages": {"type": "integer"}, "template": _TEMPLATE, "created_at": {"type": "string", "format": "date-time"},
    "created_by": {"type": ["string", "null"],
                   "description": "Libellé du jeton, e-mail du signataire ou « system » ; pour une version antérieure "
                                  "à la colonne, l'acteur de l'événement qui l'a faite"},
    "made_by": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["event", "sequence"], "properties": {
        "event": {"type": "string", "description": "document.generated, signature_request.created, signed, "
                                                   "completed, archive.refreshed"},
        "sequence": {"type": "integer", "description": "n° de l'événement dans la piste d'audit"},
        "actor": {"type": ["string", "null"]}}}]},
    "links": {"type": "object", "properties": {"pdf": {"type": "string"}}}}}
_SIGNER = {"type": "object", "properties": {
    "position": {"type": "integer"}, "role": {"type": "string", "enum": ["manager", "salarie"]},
    "name": {"type": "string"}, "email": {"type": "string"},
    "status": {"type": "string", "enum": ["waiting", "sent", "viewed", "signed", "refused"]},
    "signed_at": _WHEN, "signed_version": {"type": ["integer", "null"]},
    "certificate_serial": {"type": ["string", "null"], "description": "n° de série (hexadécimal) du certificat à usage unique"}}}
_REQUEST = {"type": "object", "required": ["id", "status", "signers", "final_version"], "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": ["pending", "completed", "refused", "expired", "cancelled"]},
    "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "completed_at": _WHEN, "ended_at": _WHEN, "end_reason": {"type": ["string", "null"]},
    "prepared_version": {"type": "integer"},
    "final_version": {"type": ["integer", "null"], "description": "la version scellée, ou son dernier renouvellement d'horodatage"},
    "signers": {"type": "array", "items": _SIGNER},
    "links": {"type": "object", "properties": {"self": {"type": "string"}}}}}
_HISTORY = {"type": "object", "required": ["document", "versions", "signature_requests", "events", "chain"], "properties": {
    "document": {"type": "object", "required": ["id", "matricule", "template"], "properties": {
        "id": {"type": "integer"}, "matricule": {"type": "string"}, "template": _TEMPLATE,
        "batch_id": {"type": ["integer", "null"]}, "created_by": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "links": {"type": "object", "properties": {"self": {"type": "string"}}}}},
    "versions": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryVersion"}},
    "signature_requests": {"type": "array", "items": {"$ref": "#/components/schemas/HistorySignatureRequest"}},
    "events": {"type": "array", "description": "Les événements du document et de ses demandes, dans l'ordre de la chaîne",
               "items": {"$ref": "#/components/schemas/AuditEvent"}},
    "chain": {"$ref": "#/components/schemas/ChainReport"}}}

OPENAPI = {
    "schemas": {"DocumentHistory": _HISTORY, "HistoryVersion": _VERSION, "HistorySignatureRequest": _REQUEST},
    "paths": {
        "/documents/{document_id}/history": {
            "get": {"summary": "Historique d'un document pour l'audit : versions, signatures, événements, "
                               "état de la chaîne (auditor, hr)", "tags": ["audit"],
                    "parameters": [{"name": "document_id", "in": "path", "required": True,
                                    "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {"200": {"description": "L'historique ; `chain` vérifie toute la piste d'audit",
                                          "content": {"application/json": {
                                              "schema": {"$ref": "#/components/schemas/DocumentHistory"}}}}}},
        },
    },
}
