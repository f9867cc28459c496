"""/api/v1 signature requests: HR creates, follows and cancels them; the signer acts by the link token
(/sign/<token>: no API token, the link is the credential)."""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, g, request, send_file
from sqlalchemy import select

from parcours.http.api._common import json_body, listing, one_of, page, page_of, page_parameters
from parcours.http.api.interviews import by_people, period, whole_filter
from parcours.http.api.pki import public
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.models import Document, Interview, SignatureRequest
from parcours.service import copies, signatures

bp = Blueprint("signatures", __name__)


def _client() -> dict:
    return {"ip": request.remote_addr, "user_agent": request.headers.get("User-Agent")}


def _optional_body(*allowed: str) -> dict:
    if not request.get_data():
        return {}
    return json_body(*allowed)


@bp.post("/documents/<int:document_id>/signature-requests")
@require("hr")
def create(document_id: int):
    body = _optional_body("signers", "expires_in_days", "require_code")
    created = signatures.create_request(
        services(), document_id, actor=g.actor, signers=body.get("signers"),
        expires_in_days=body.get("expires_in_days", 30), require_code=body.get("require_code", False), **_client())
    with services().db.session() as session:
        view = signatures.request_view(session, signatures.get_request(session, created.request_id))
    return {**view, "email_sent": created.email_sent}, 201, {"Location": f"/api/v1/signature-requests/{created.request_id}"}


REQUEST_STATUSES = ("pending", "completed", "refused", "expired", "cancelled")


@bp.get("/signature-requests")
@require("hr", "auditor")
def index():
    """The requests, filtered by status, document, matricule, campaign, service, manager and creation dates."""
    limit, cursor = page()
    query = select(SignatureRequest).join(Document, Document.id == SignatureRequest.document_id) \
        .order_by(SignatureRequest.id).limit(limit + 1)
    status = one_of("status", REQUEST_STATUSES)
    if status:
        query = query.where(SignatureRequest.status == status)
    document = whole_filter("document")
    if document is not None:
        query = query.where(SignatureRequest.document_id == document)
    if request.args.get("matricule"):
        query = query.where(Document.matricule == request.args["matricule"])
    campaign = whole_filter("campaign")
    if campaign is not None:
        query = query.where(Document.id.in_(select(Interview.document_id).where(Interview.campaign_id == campaign)))
    query = by_people(query, Document.matricule)
    start, end = period()
    if start:
        query = query.where(SignatureRequest.created_at >= start)
    if end:
        query = query.where(SignatureRequest.created_at < end + dt.timedelta(days=1))
    if cursor is not None:
        query = query.where(SignatureRequest.id > cursor)
    session = db_session()
    rows = list(session.scalars(query))
    return listing([signatures.request_view(session, r) for r in rows[:limit]], rows, limit, "signatures.index")


@bp.get("/signature-requests/<int:request_id>")
@require("hr", "auditor")
def show(request_id: int):
    session = db_session()
    return signatures.request_view(session, signatures.get_request(session, request_id))


@bp.post("/signature-requests/<int:request_id>/cancel")
@require("hr")
def cancel(request_id: int):
    body = _optional_body("reason")
    return signatures.cancel(services(), request_id, actor=g.actor, reason=body.get("reason"), **_client())


@bp.post("/signature-requests/<int:request_id>/resend")
@require("hr")
def resend(request_id: int):
    return signatures.resend(services(), request_id, actor=g.actor, **_client())


@bp.post("/signature-requests/<int:request_id>/copies")
@require("hr")
def send_copies(request_id: int):
    """The final version e-mailed again to every party (after an SMTP failure): a new download link."""
    return {"items": copies.send_again(services(), request_id, actor=g.actor)}


# --- the signer, by link token ---------------------------------------------------------------------

@bp.get("/sign/<token>")
@public
def signer_view(token: str):
    return signatures.open_link(services(), token, **_client())


@bp.get("/sign/<token>/pdf")
@public
def signer_pdf(token: str):
    pdf, name = signatures.document_pdf(services(), token)
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=name)


@bp.post("/sign/<token>/code")
@public
def signer_code(token: str):
    return signatures.send_code(services(), token, **_client())


@bp.post("/sign/<token>/code/check")
@public
def signer_check_code(token: str):
    body = json_body("code")
    return signatures.check_code(services(), token, body.get("code"), **_client())


@bp.post("/sign/<token>")
@public
def signer_sign(token: str):
    body = json_body("consent", "comments", "code")
    return signatures.sign(services(), token, consent=body.get("consent"), comments=body.get("comments"),
                           code=body.get("code"), **_client())


@bp.post("/sign/<token>/refuse")
@public
def signer_refuse(token: str):
    body = _optional_body("reason")
    return signatures.refuse(services(), token, body.get("reason"), **_client())


_TIME = {"type": ["string", "null"], "format": "date-time"}
_SIGNER = {"type": "object", "properties": {
    "position": {"type": "integer"}, "role": {"type": "string", "enum": ["manager", "salarie"]},
    "name": {"type": "string"}, "email": {"type": "string"}, "title": {"type": "string"},
    "status": {"type": "string", "enum": ["waiting", "sent", "viewed", "signed", "refused"]},
    "sent_at": _TIME, "viewed_at": _TIME, "signed_at": _TIME, "refused_at": _TIME,
    "comments": {"type": ["string", "null"]}, "signed_version": {"type": ["integer", "null"]},
    "certificate_serial": {"type": ["string", "null"]}}}
_REQUEST = {"type": "object", "required": ["id", "document_id", "status", "signers", "versions"], "properties": {
    "id": {"type": "integer"}, "document_id": {"type": "integer"},
    "status": {"type": "string", "enum": ["pending", "completed", "refused", "expired", "cancelled"]},
    "require_code": {"type": "boolean"}, "created_by": {"type": "string"}, "created_at": _TIME, "expires_at": _TIME,
    "completed_at": _TIME, "ended_at": _TIME, "end_reason": {"type": ["string", "null"]},
    "prepared_version": {"type": "integer"}, "final_version": {"type": ["integer", "null"]},
    "email_sent": {"type": "boolean", "description": "à la création et au renvoi : l'e-mail est-il parti"},
    "signers": {"type": "array", "items": {"$ref": "#/components/schemas/Signer"}},
    "versions": {"type": "array", "items": {"type": "object", "properties": {
        "number": {"type": "integer"}, "kind": {"type": "string", "enum": ["prepared", "signed", "sealed"]},
        "pdf_sha256": {"type": "string"}, "created_at": _TIME, "links": {"type": "object"}}}}}}
_SIGNER_PAGE = {"type": "object", "properties": {
    "signature_request": {"type": "object"}, "document": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "version": {"type": "integer"},
        "pages": {"type": "integer"}, "pdf_sha256": {"type": "string"}}},
    "signer": {"type": "object"}, "consent_text": {"type": "string"}, "comments_allowed": {"type": "boolean"},
    "max_comments": {"type": "integer"}}}
_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "le jeton du lien reçu par e-mail (il tient lieu d'authentification)"}
_PUBLIC = [{}]
_ENDED = {"404": {"description": "Lien inconnu"}, "409": {"description": "Pas encore le tour de ce signataire"},
          "410": {"description": "Lien déjà utilisé, ou demande expirée, annulée, refusée ou terminée"}}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


OPENAPI = {
    "schemas": {"SignatureRequest": _REQUEST, "Signer": _SIGNER, "SignerPage": _SIGNER_PAGE},
    "paths": {
        "/documents/{document_id}/signature-requests": {"post": {
            "summary": "Demander la signature d'un compte rendu : le responsable puis le salarié (hr)",
            "tags": ["signatures"],
            "parameters": [{"name": "document_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": False, "content": _json({"type": "object", "properties": {
                "signers": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["role"], "properties": {
                    "role": {"type": "string", "enum": ["manager", "salarie"]}, "name": {"type": "string"},
                    "email": {"type": "string"}, "title": {"type": "string"}}},
                    "description": "par défaut : le responsable et le salarié des données du document"},
                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 30},
                "require_code": {"type": "boolean", "default": False,
                                 "description": "un code à usage unique envoyé par e-mail avant de signer"}}})},
            "responses": {"201": {"description": "Créée ; le premier signataire a reçu son lien",
                                  "content": _json({"$ref": "#/components/schemas/SignatureRequest"})},
                          "409": {"description": "Une demande est en cours, ou le document est déjà signé"}}}},
        "/signature-requests": {"get": {
            "summary": "Les demandes de signature, filtrées (hr, auditor)", "tags": ["signatures"],
            "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(REQUEST_STATUSES)}},
                           *({"name": n, "in": "query", "schema": {"type": "integer", "minimum": 1}}
                             for n in ("document", "campaign")),
                           *({"name": n, "in": "query", "schema": {"type": "string"}}
                             for n in ("matricule", "service", "manager")),
                           *({"name": n, "in": "query", "schema": {"type": "string", "format": "date"}}
                             for n in ("from", "to")), *page_parameters()],
            "responses": {"200": {"description": "Une page de demandes", "content": _json(page_of("SignatureRequest"))}}}},
        "/signature-requests/{request_id}": {"get": {
            "summary": "État d'une demande : signataires, dates, versions (hr, auditor)", "tags": ["signatures"],
            "parameters": [_ID],
            "responses": {"200": {"description": "La demande", "content": _json({"$ref": "#/components/schemas/SignatureRequest"})}}}},
        "/signature-requests/{request_id}/cancel": {"post": {
            "summary": "Annuler une demande en cours (hr)", "tags": ["signatures"], "parameters": [_ID],
            "requestBody": {"required": False, "content": _json({"type": "object", "properties": {"reason": {"type": "string"}}})},
            "responses": {"200": {"description": "Annulée", "content": _json({"$ref": "#/components/schemas/SignatureRequest"})},
                          "409": {"description": "Déjà terminée"}}}},
        "/signature-requests/{request_id}/resend": {"post": {
            "summary": "Renvoyer un nouveau lien au signataire dont c'est le tour ; l'ancien ne sert plus (hr)",
            "tags": ["signatures"], "parameters": [_ID],
            "responses": {"200": {"description": "Renvoyé", "content": _json({"$ref": "#/components/schemas/SignatureRequest"})},
                          "409": {"description": "Déjà terminée"}}}},
        "/signature-requests/{request_id}/copies": {"post": {
            "summary": "Renvoyer la version finale (signée, ou portant le refus) au salarié, au responsable et aux RH (hr)",
            "tags": ["signatures"], "parameters": [_ID],
            "responses": {"200": {"description": "Les envois", "content": _json({"type": "object", "properties": {
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "role": {"type": "string"}, "to": {"type": "string"}, "version": {"type": "integer"},
                    "delivered_on": {"type": "string", "format": "date"}, "error": {"type": "string"}}}}}})},
                          "409": {"description": "La demande n'est ni terminée ni refusée"}}}},
        "/sign/{token}": {
            "get": {"summary": "Ce que voit le signataire (public : le lien fait foi) ; l'ouverture est enregistrée",
                    "tags": ["signataire"], "security": _PUBLIC, "parameters": [_TOKEN],
                    "responses": {"200": {"description": "La page", "content": _json({"$ref": "#/components/schemas/SignerPage"})},
                                  **_ENDED}},
            "post": {"summary": "Signer (consentement obligatoire ; commentaires du salarié ; code si demandé)",
                     "tags": ["signataire"], "security": _PUBLIC, "parameters": [_TOKEN],
                     "requestBody": {"required": True, "content": _json({"type": "object", "required": ["consent"], "properties": {
                         "consent": {"type": "boolean", "const": True}, "comments": {"type": ["string", "null"], "maxLength": 2000},
                         "code": {"type": "string"}}})},
                     "responses": {"200": {"description": "Signé (après le dernier : scellé et terminé)", "content": _json({
                         "type": "object", "properties": {"status": {"type": "string"}, "signer_status": {"type": "string"},
                                                          "version": {"type": "integer"},
                                                          "final_version": {"type": ["integer", "null"]},
                                                          "signature_request_id": {"type": "integer"}}})},
                                   "403": {"description": "Code requis"}, "429": {"description": "Trop de codes incorrects"},
                                   "503": {"description": "Signature impossible pour le moment ; rien n'a changé"}, **_ENDED}}},
        "/sign/{token}/pdf": {"get": {
            "summary": "Le PDF à signer (dernière version)", "tags": ["signataire"], "security": _PUBLIC,
            "parameters": [_TOKEN], "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **_ENDED}}},
        "/sign/{token}/code": {"post": {
            "summary": "Envoyer un code à usage unique par e-mail (6 chiffres, 10 minutes, 3 essais)",
            "tags": ["signataire"], "security": _PUBLIC, "parameters": [_TOKEN],
            "responses": {"200": {"description": "Envoyé", "content": _json({"type": "object"})},
                          "429": {"description": "Trop d'envois : un code par minute et dix par heure pour un lien, "
                                                 "trente par heure depuis une adresse"}, **_ENDED}}},
        "/sign/{token}/code/check": {"post": {
            "summary": "Vérifier le code reçu", "tags": ["signataire"], "security": _PUBLIC, "parameters": [_TOKEN],
            "requestBody": {"required": True, "content": _json({"type": "object", "required": ["code"],
                                                                "properties": {"code": {"type": "string"}}})},
            "responses": {"200": {"description": "Code vérifié", "content": _json({"type": "object"})},
                          "429": {"description": "Trop d'essais : demander un nouveau code"}, **_ENDED}}},
        "/sign/{token}/refuse": {"post": {
            "summary": "Refuser de signer, avec le motif (le refus est conservé)", "tags": ["signataire"],
            "security": _PUBLIC, "parameters": [_TOKEN],
            "requestBody": {"required": False, "content": _json({"type": "object", "properties": {"reason": {"type": "string"}}})},
            "responses": {"200": {"description": "Refus enregistré", "content": _json({"type": "object"})}, **_ENDED}}},
    },
}
