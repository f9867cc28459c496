"""/api/v1/templates: upload templates as immutable versions, list them, download and preview a version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, request, url_for

from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Template, TemplateVersion
from parcours.service import templates as service

bp = Blueprint("templates", __name__)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WRITERS = ("hr",)
READERS = ("hr", "auditor")


def _version(template: Template, version: TemplateVersion) -> dict[str, Any]:
    address = {"name": template.name, "number": version.number}
    return {
        "number": version.number, "sha256": version.sha256, "filename": version.filename, "size": version.size,
        "created_at": version.created_at.isoformat(), "created_by": version.created_by,
        "inspection": version.inspection,
        "links": {"docx": url_for("templates.download_docx", **address),
                  "preview": url_for("templates.preview_pdf", **address)},
    }


def _summary(template: Template) -> dict[str, Any]:
    latest = template.versions[-1] if template.versions else None
    return {"name": template.name, "created_at": template.created_at.isoformat(),
            "latest_version": _version(template, latest) if latest else None}


def _not_found(exc: LookupError) -> Problem:
    return Problem(404, "Modèle introuvable", str(exc))


@bp.post("/templates")
@require(*WRITERS)
def upload():
    upload_file = request.files.get("file")  # reading the body raises 413 beyond MAX_CONTENT_LENGTH
    name = (request.form.get("name") or "").strip()
    errors = []
    if upload_file is None:
        errors.append({"field": "file", "reason": "fichier .docx obligatoire (champ multipart « file »)"})
    if not name:
        errors.append({"field": "name", "reason": "nom obligatoire (lettres, chiffres, « _ » et « - »)"})
    if errors:
        raise Problem(422, "Valeurs invalides", errors=errors)
    filename = Path(upload_file.filename or "").name[:255] or f"{name}.docx"
    new = service.add_version(db_session(), services().blobs, name, upload_file.read(), filename,
                              created_by=g.actor.label)
    template = new.version.template
    body = {"name": template.name, "created_at": template.created_at.isoformat(),
            "latest_version": _version(template, new.version), "warnings": new.warnings}
    location = url_for("templates.show", name=template.name)
    return body, 201, {"Location": location}


@bp.get("/templates")
@require(*READERS)
def list_templates():
    return {"items": [_summary(t) for t in service.list_templates(db_session())]}


@bp.get("/templates/<name>")
@require(*READERS)
def show(name: str):
    try:
        template = service.get_template(db_session(), name)
    except service.TemplateNotFound as exc:
        raise _not_found(exc) from None
    return {"name": template.name, "created_at": template.created_at.isoformat(),
            "versions": [_version(template, v) for v in template.versions]}


def _find_version(name: str, number: int) -> TemplateVersion:
    try:
        return service.get_version(db_session(), name, number)
    except service.TemplateNotFound as exc:
        raise _not_found(exc) from None


def _file(data: bytes, mimetype: str, filename: str, etag: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"  # a version never changes
    response.set_etag(etag)
    return response


@bp.get("/templates/<name>/versions/<int:number>/docx")
@require(*READERS)
def download_docx(name: str, number: int):
    version = _find_version(name, number)
    return _file(services().blobs.get(version.sha256), DOCX_TYPE, f"{name}-v{number}.docx", version.sha256)


@bp.get("/templates/<name>/versions/<int:number>/preview.pdf")
@require(*READERS)
def preview_pdf(name: str, number: int):
    version = _find_version(name, number)
    container = services()
    pdf = service.preview_pdf(version, container.blobs, container.converter, container.settings.timezone)
    response = _file(pdf, "application/pdf", f"{name}-v{number}-apercu.pdf", f"{version.sha256}-preview")
    response.headers["Content-Disposition"] = f'inline; filename="{name}-v{number}-apercu.pdf"'
    return response


# --- OpenAPI ---------------------------------------------------------------------------------

_NAME = {"name": "name", "in": "path", "required": True, "description": "Nom du modèle",
         "schema": {"type": "string", "pattern": service.NAME.pattern}}
_NUMBER = {"name": "number", "in": "path", "required": True, "description": "Numéro de version (1, 2, …)",
           "schema": {"type": "integer", "minimum": 1}}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


_SCHEMAS = {
    "TemplateInspection": {"type": "object", "required": ["variables", "unknown", "problems"], "properties": {
        "variables": {"type": "array", "items": {"type": "string"},
                      "description": "Champs utilisés : `salarie.nom`, `salarie.formations[].intitule`"},
        "unknown": {"type": "array", "items": {"type": "string"},
                    "description": "Champs inconnus (faute de frappe ?) : acceptés, mais le remplissage échouera"},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "message": {"type": "string"}, "excerpt": {"type": "string"}}}},
        "batch_path": {"type": "object", "required": ["one_section", "reason"], "properties": {
            "one_section": {"type": "boolean",
                            "description": "Vrai : en lot, les courriers sont réunis en une seule section (le chemin "
                                           "rapide), les lignes du pied de page propres à chacun reportées sur le PDF"},
            "reason": {"type": "string", "description": "Pourquoi ce chemin, en français"}},
            "description": "Le chemin que prennent les lots de ce modèle (absent des versions inspectées avant)"}}},
    "TemplateVersion": {"type": "object", "required": ["number", "sha256", "size", "created_at", "created_by"],
                        "properties": {
        "number": {"type": "integer", "minimum": 1}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "filename": {"type": "string", "description": "Nom du fichier envoyé"}, "size": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": "string",
                       "description": "Libellé du jeton qui l'a envoyé, « Parcours » pour les modèles fournis"},
        "inspection": {"$ref": "#/components/schemas/TemplateInspection"},
        "links": {"type": "object", "properties": {"docx": {"type": "string"}, "preview": {"type": "string"}}}}},
    "TemplateSummary": {"type": "object", "required": ["name", "created_at", "latest_version"], "properties": {
        "name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "latest_version": {"oneOf": [{"$ref": "#/components/schemas/TemplateVersion"}, {"type": "null"}]}}},
    "Template": {"type": "object", "required": ["name", "created_at", "versions"], "properties": {
        "name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "versions": {"type": "array", "items": {"$ref": "#/components/schemas/TemplateVersion"}}}},
}

OPENAPI = {
    "schemas": _SCHEMAS,
    "paths": {
        "/templates": {
            "get": {"summary": "Modèles, chacun avec sa dernière version (hr, auditor)", "tags": ["templates"],
                    "responses": {"200": {"description": "Les modèles, par nom", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["items"], "properties": {"items": {
                            "type": "array", "items": {"$ref": "#/components/schemas/TemplateSummary"}}}}}}}}},
            "post": {
                "summary": "Envoyer un modèle : le crée, ou en ajoute une version (hr)", "tags": ["templates"],
                "description": "Le fichier est vérifié (vrai .docx, sans macros ni contenu externe, taille "
                               "décompressée bornée) puis inspecté. Un modèle avec des erreurs (syntaxe, filtre "
                               "inconnu, attribut interdit, balise `{{r …}}`/`{{p …}}`) est refusé (422, toutes "
                               "les erreurs à la fois, chacune avec son contexte), de même qu'un modèle qui dépasse "
                               "les limites de remplissage avec les valeurs d'exemple ; des variables inconnues "
                               "sont acceptées et signalées dans `warnings`. Rien n'est enregistré en cas de refus.",
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": ["file", "name"], "properties": {
                        "file": {"type": "string", "format": "binary", "description": "Le modèle .docx"},
                        "name": {"type": "string", "pattern": service.NAME.pattern}}},
                    "encoding": {"file": {"contentType": DOCX_TYPE}}}}},
                "responses": {
                    "201": {"description": "Le modèle et sa nouvelle version",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": {"allOf": [
                                {"$ref": "#/components/schemas/TemplateSummary"},
                                {"type": "object", "properties": {"warnings": {
                                    "type": "array", "items": {"type": "string"}}}}]}}}},
                    "409": {"description": "Trop d'envois simultanés du même modèle : réessayer",
                            "content": _PROBLEM},
                }},
        },
        "/templates/{name}": {
            "get": {"summary": "Un modèle et toutes ses versions (hr, auditor)", "tags": ["templates"],
                    "parameters": [_NAME],
                    "responses": {"200": {"description": "Le modèle", "content": _json("Template")}}},
        },
        "/templates/{name}/versions/{number}/docx": {
            "get": {"summary": "Télécharger une version du modèle (hr, auditor)", "tags": ["templates"],
                    "parameters": [_NAME, _NUMBER],
                    "responses": {"200": {"description": "Le fichier .docx", "content": {
                        DOCX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}},
        },
        "/templates/{name}/versions/{number}/preview.pdf": {
            "get": {"summary": "Aperçu PDF d'une version, remplie avec les données d'exemple (hr, auditor)",
                    "tags": ["templates"], "parameters": [_NAME, _NUMBER],
                    "description": "Remplie avec le contexte d’exemple livré (resources/documents/sample.json) ; 422 si le modèle utilise un champ "
                                   "que l'exemple n'a pas (le champ est nommé), 503 si LibreOffice est indisponible.",
                    "responses": {
                        "200": {"description": "Le PDF", "content": {
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                        "503": {"description": "Conversion en PDF impossible", "content": _PROBLEM}}},
        },
    },
}
