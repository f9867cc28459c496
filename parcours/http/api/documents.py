"""/api/v1/documents: generate one document now, list documents, their versions and their files."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, g, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from parcours.http.api._common import (
    MAX_ID,
    READERS,
    TemplateNames,
    iso,
    json_body,
    json_response,
    listing,
    page,
    page_of,
    page_parameters,
    whole_number,
)
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Document, DocumentVersion
from parcours.service import documents

bp = Blueprint("documents", __name__)


# --- views -------------------------------------------------------------------------------------------

def _version(document: Document, row: DocumentVersion, names: TemplateNames) -> dict[str, Any]:
    files = {kind: url_for(f"documents.download_{kind}", document_id=document.id, number=row.number)
             for kind in ("pdf", "docx")}
    return {"number": row.number, "kind": row.kind, "pdf_sha256": row.pdf_sha256, "docx_sha256": row.docx_sha256,
            "pages": row.pages, "template": names(row.template_version_id), "created_at": iso(row.created_at),
            "links": files}


def _document(document: Document, names: TemplateNames) -> dict[str, Any]:
    latest = document.versions[-1] if document.versions else None
    return {
        "id": document.id, "matricule": document.matricule, "template": names(document.template_version_id),
        "batch_id": document.batch_id, "created_by": document.created_by, "created_at": iso(document.created_at),
        "latest_version": _version(document, latest, names) if latest else None,
        "links": {"self": url_for("documents.show", document_id=document.id),
                  "versions": url_for("documents.versions", document_id=document.id),
                  "batch": url_for("batches.show", batch_id=document.batch_id) if document.batch_id else None,
                  "employee": url_for("employees.show", matricule=document.matricule),
                  "interviews": url_for("interviews.list_interviews", document=document.id),
                  "signature_requests": url_for("signatures.index", document=document.id)},
    }


def _get(session: Session, document_id: int) -> Document:
    document = session.get(Document, document_id, options=[selectinload(Document.versions)])
    if document is None:
        raise Problem(404, "Document introuvable", f"Aucun document n'a l'identifiant {document_id}.")
    return document


@bp.post("/documents")
@require("hr")
def create():
    body = json_body("template", "template_version", "matricule", "values")
    session = db_session()
    row = documents.generate_one(services(), session, body.get("template"), body.get("template_version"),
                                 body.get("matricule"), body.get("values"), created_by=g.actor)
    session.commit()
    document = _get(session, row.document_id)
    return _document(document, TemplateNames(session)), 201, {"Location": url_for("documents.show", document_id=document.id)}


@bp.get("/documents")
@require(*READERS)
def index():
    limit, cursor = page()
    session = db_session()
    query = select(Document).options(selectinload(Document.versions)).order_by(Document.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(Document.id > cursor)
    if request.args.get("matricule"):
        query = query.where(Document.matricule == request.args["matricule"])
    if "batch" in request.args:
        batch = whole_number(request.args["batch"], 1, MAX_ID)
        if batch is None:
            raise Problem(422, "Paramètres invalides", errors=[{"field": "batch", "reason": "identifiant de lot attendu"}])
        query = query.where(Document.batch_id == batch)
    rows = list(session.scalars(query))
    names = TemplateNames(session)
    return listing([_document(d, names) for d in rows], rows, limit, "documents.index")


@bp.get("/documents/<int:document_id>")
@require(*READERS)
def show(document_id: int):
    session = db_session()
    return _document(_get(session, document_id), TemplateNames(session))


@bp.get("/documents/<int:document_id>/versions")
@require(*READERS)
def versions(document_id: int):
    session = db_session()
    document, names = _get(session, document_id), TemplateNames(session)
    return {"items": [_version(document, row, names) for row in document.versions]}


@bp.get("/documents/<int:document_id>/versions/<int:number>/pdf")
@require(*READERS)
def download_pdf(document_id: int, number: int):
    return _download(document_id, number, "pdf")


@bp.get("/documents/<int:document_id>/versions/<int:number>/docx")
@require(*READERS)
def download_docx(document_id: int, number: int):
    return _download(document_id, number, "docx")


def _download(document_id: int, number: int, kind: str):
    session = db_session()
    document = _get(session, document_id)
    row = next((v for v in document.versions if v.number == number), None)
    if row is None:
        raise Problem(404, "Version introuvable", f"Le document {document_id} n'a pas de version {number}.")
    template = TemplateNames(session)(row.template_version_id)["name"]
    name = f"{template}-{document.matricule}-v{number}.{kind}"
    if kind == "pdf":
        data, mimetype, etag = services().blobs.get(row.pdf_sha256), "application/pdf", row.pdf_sha256
    else:
        data = documents.docx_of(services(), session, row)
        mimetype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        etag = row.docx_sha256
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name,
                     etag=etag or False, max_age=3600 if etag else None)


# --- OpenAPI -----------------------------------------------------------------------------------------

_ID = {"type": "integer", "minimum": 1}
_TEMPLATE_REF = {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "integer"}}}
_VERSION = {"type": "object", "required": ["number", "kind", "pdf_sha256", "pages", "template", "created_at"], "properties": {
    "number": {"type": "integer"}, "kind": {"type": "string", "description": "generated ; plus tard signed…"},
    "pdf_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "docx_sha256": {"type": ["string", "null"], "description": "null pour un document de lot : le DOCX est refait à la demande depuis l'instantané"},
    "pages": {"type": "integer"}, "template": _TEMPLATE_REF, "created_at": {"type": "string", "format": "date-time"},
    "links": {"type": "object", "properties": {"pdf": {"type": "string"}, "docx": {"type": "string"}}}}}
_DOCUMENT = {"type": "object", "required": ["id", "matricule", "template", "created_by", "created_at"], "properties": {
    "id": {"type": "integer"}, "matricule": {"type": "string"}, "template": _TEMPLATE_REF,
    "batch_id": {"type": ["integer", "null"]}, "created_by": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "latest_version": {"oneOf": [{"$ref": "#/components/schemas/DocumentVersion"}, {"type": "null"}]},
    "links": {"type": "object", "properties": {"self": {"type": "string"}, "versions": {"type": "string"},
                                               "batch": {"type": ["string", "null"]}, "employee": {"type": "string"},
                                               "interviews": {"type": "string"},
                                               "signature_requests": {"type": "string"}}}}}
VALUES = {"type": "object", "description": "Valeurs de campagne, comme samples/campagne.json",
          "properties": {"societe": {"type": "object"}, "courrier": {"type": "object"}, "entretien": {"type": "object"},
                         "compte_rendu": {"type": "object"}, "etat_des_lieux": {"type": "object"}}}


_DOC_ID = {"name": "document_id", "in": "path", "required": True, "schema": _ID}
_FILE = {"description": "Le fichier", "headers": {"ETag": {"schema": {"type": "string"}}}}

OPENAPI = {
    "schemas": {"Document": _DOCUMENT, "DocumentVersion": _VERSION, "CampaignValues": VALUES},
    "paths": {
        "/documents": {
            "post": {"summary": "Générer un document maintenant (rôle hr)", "tags": ["documents"],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["template", "matricule", "values"], "additionalProperties": False,
                         "properties": {"template": {"type": "string"}, "template_version": {"type": "integer", "minimum": 1},
                                        "matricule": {"type": "string"},
                                        "values": {"$ref": "#/components/schemas/CampaignValues"}}}}}},
                     "responses": {"201": {**json_response({"$ref": "#/components/schemas/Document"}, "Le document et sa version 1"),
                                           "headers": {"Location": {"schema": {"type": "string"}}}},
                                   "503": {"description": "Conversion en PDF impossible", "content": {
                                       "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}},
            "get": {"summary": "Documents (rôles hr, auditor)", "tags": ["documents"],
                    "parameters": [{"name": "matricule", "in": "query", "schema": {"type": "string"}},
                                   {"name": "batch", "in": "query", "schema": {"type": "integer"}}, *page_parameters()],
                    "responses": {"200": json_response(page_of("Document"), "Une page de documents, par identifiant croissant")}},
        },
        "/documents/{document_id}": {
            "get": {"summary": "Un document", "tags": ["documents"], "parameters": [_DOC_ID],
                    "responses": {"200": json_response({"$ref": "#/components/schemas/Document"}, "Le document")}},
        },
        "/documents/{document_id}/versions": {
            "get": {"summary": "Les versions d'un document", "tags": ["documents"], "parameters": [_DOC_ID],
                    "responses": {"200": json_response({"type": "object", "properties": {"items": {
                        "type": "array", "items": {"$ref": "#/components/schemas/DocumentVersion"}}}}, "Les versions")}},
        },
        **{f"/documents/{{document_id}}/versions/{{number}}/{kind}": {
            "get": {"summary": f"Le {kind.upper()} d'une version", "tags": ["documents"],
                    "parameters": [_DOC_ID, {"name": "number", "in": "path", "required": True, "schema": _ID}],
                    "responses": {"200": {**_FILE, "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}}},
        } for kind, mime in (("pdf", "application/pdf"),
                             ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))},
    },
}
