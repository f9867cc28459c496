"""/api/v1/verifications: verify any signed PDF (ours or anyone's) and get the report as JSON, HTML or PDF.

Read-only: the file is neither stored nor logged. The format is chosen by `?format=` or the Accept header.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from parcours import reports
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.service import verifications as service

bp = Blueprint("verifications", __name__)
FORMATS = {"json": "application/json", "html": "text/html", "pdf": "application/pdf"}


def _uploaded_pdf() -> bytes:
    """The file of multipart field « file », or the raw body sent as application/pdf."""
    upload = request.files.get("file")  # reading the body raises 413 beyond MAX_CONTENT_LENGTH
    if upload is not None:
        return upload.read()
    if request.mimetype == "application/pdf" or request.mimetype == "application/octet-stream":
        return request.get_data()
    raise Problem(422, "Valeurs invalides", errors=[{
        "field": "file", "reason": "envoyez le PDF dans le champ multipart « file », "
                                   "ou comme corps de la requête avec le type application/pdf"}])


def _format() -> str:
    asked = request.args.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise Problem(422, "Paramètres invalides", errors=[
                {"field": "format", "value": asked, "reason": "json, html ou pdf"}])
        return asked
    best = request.accept_mimetypes.best_match(list(FORMATS.values()), default="application/json")
    return next(name for name, mime in FORMATS.items() if mime == best)


@bp.post("/verifications")
@require("auditor", "hr")
def verify():
    kind = _format()
    pdf = _uploaded_pdf()
    report = service.verify(services().settings, db_session(), pdf)
    if kind == "json":
        return report
    if kind == "html":
        return Response(reports.report_html(report, organisation=services().settings.organisation), mimetype="text/html")
    document = reports.report_pdf(report, services().converter(), organisation=services().settings.organisation)
    name = f"verification-{report['sha256'][:12]}.pdf"
    return Response(document, mimetype="application/pdf", headers={"Content-Disposition": f"attachment; filename={name}"})


_CERT = {"type": "object", "properties": {
    "subject": {"type": "string"}, "common_name": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
    "organisation": {"type": ["string", "null"]}, "issuer": {"type": "string"}, "serial": {"type": "string"},
    "not_before": {"type": "string", "format": "date-time"}, "not_after": {"type": "string", "format": "date-time"},
    "sha256": {"type": "string"}, "trust_root": {"type": "boolean"}}}
_INDICATION = {"type": "string", "enum": ["TOTAL_PASSED", "INDETERMINATE", "TOTAL_FAILED", "NO_SIGNATURE"],
               "description": "ETSI EN 319 102-1 (comme EU DSS) ; NO_SIGNATURE : le fichier n'est pas signé"}
_SIGNATURE = {"type": "object", "required": ["field", "kind", "indication", "message"], "properties": {
    "field": {"type": "string"}, "kind": {"type": "string", "enum": ["signature", "document_timestamp"]},
    "revision": {"type": "integer"}, "signer": {"oneOf": [{"$ref": "#/components/schemas/Certificate"}, {"type": "null"}]},
    "chain": {"type": "array", "items": {"$ref": "#/components/schemas/Certificate"}},
    "trusted": {"type": "boolean", "description": "la chaîne mène à une racine de confiance, révocation vérifiée"},
    "claimed_time": {"type": ["string", "null"], "format": "date-time", "description": "heure déclarée par le logiciel du signataire"},
    "timestamp": {"type": ["object", "null"], "description": "l'horodatage qui prouve l'heure", "properties": {
        "time": {"type": "string", "format": "date-time"}, "tsa": {"type": ["string", "null"]},
        "tsa_expires": {"type": ["string", "null"], "format": "date-time"}, "intact": {"type": "boolean"},
        "valid": {"type": "boolean"}, "trusted": {"type": "boolean"}}},
    "certificate_valid_at_signing": {"type": ["boolean", "null"]},
    "intact": {"type": "boolean", "description": "l'empreinte des octets signés est inchangée"},
    "valid": {"type": "boolean"}, "coverage": {"type": ["string", "null"]}, "covers": {"type": "string"},
    "changes": {"type": ["object", "null"], "properties": {
        "level": {"type": "string", "enum": ["NONE", "LTA_UPDATES", "FORM_FILLING", "ANNOTATIONS", "OTHER"]},
        "allowed": {"type": "boolean"}, "later_signatures": {"type": "array", "items": {"type": "string"}},
        "later_timestamps": {"type": "integer"}, "fields_filled": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": ["string", "null"]}, "description": {"type": "string"}}},
    "certification": {"type": ["string", "null"]},
    "level": {"type": ["string", "null"], "enum": ["PAdES-B-B", "PAdES-B-T", "PAdES-B-LT", "PAdES-B-LTA", None]},
    "subfilter": {"type": ["string", "null"]},
    "offline": {"type": "boolean", "description": "vérifiable hors ligne avec les seules données du fichier"},
    "indication": _INDICATION, "sub_indication": {"type": ["string", "null"]}, "message": {"type": "string"},
    "details": {"type": "array", "items": {"type": "string"}}}}
_REPORT = {"type": "object", "required": ["sha256", "indication", "message", "signatures", "stored"], "properties": {
    "sha256": {"type": "string"}, "size": {"type": "integer"}, "revisions": {"type": "integer"},
    "validated_at": {"type": "string", "format": "date-time"}, "indication": _INDICATION,
    "sub_indication": {"type": ["string", "null"]}, "message": {"type": "string", "description": "en français"},
    "signatures": {"type": "array", "items": {"$ref": "#/components/schemas/SignatureCheck"}},
    "lenient": {"type": "boolean"}, "notes": {"type": "array", "items": {"type": "string"}},
    "stored": {"type": ["object", "null"], "description": "la version conservée ici avec exactement ces octets",
               "properties": {"document_id": {"type": "integer"}, "version": {"type": "integer"},
                              "kind": {"type": "string"}, "history_url": {"type": "string"},
                              "pdf_url": {"type": "string"}}}}}

OPENAPI = {
    "schemas": {"Certificate": _CERT, "SignatureCheck": _SIGNATURE, "VerificationReport": _REPORT},
    "paths": {"/verifications": {"post": {
        "summary": "Vérifier les signatures d'un PDF quelconque (auditor, hr) ; rien n'est conservé",
        "tags": ["verifications"],
        "parameters": [{"name": "format", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(FORMATS)},
                        "description": "json (défaut), html ou pdf ; à défaut, l'en-tête Accept"}],
        "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "Le rapport : verdict global, puis chaque signature et horodatage", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/VerificationReport"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}}},
}
