"""/api/v1/signature-requests/<id>/evidence: the evidence bundle (ZIP) of a completed request (auditor, hr).

It changes nothing but the audit trail: each download is recorded (evidence.downloaded, with the
ZIP's sha256) in the transaction that builds it.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from parcours.http.auth import require
from parcours.http.current import services
from parcours.service import evidence

bp = Blueprint("evidence", __name__)


@bp.get("/signature-requests/<int:request_id>/evidence")
@require("auditor", "hr")
def download(request_id: int):
    bundle = evidence.download(services(), request_id, actor=g.actor,
                               ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    return Response(bundle.data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{bundle.filename}"',
        "Cache-Control": "no-store",
        "X-Evidence-Sha256": bundle.sha256,
        "X-Audit-Sequence": str(bundle.event_sequence)})


_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}

OPENAPI = {
    "schemas": {},
    "paths": {
        "/signature-requests/{request_id}/evidence": {"get": {
            "summary": "Dossier de preuves d'une demande terminée, à vérifier hors ligne (auditor, hr)",
            "description": (
                "Un ZIP `preuves-demande-<id>.zip` : le PDF final et chaque version antérieure, les événements "
                "de la piste d'audit (JSON canonique par ligne, avec leurs empreintes) et les horodatages de la "
                "chaîne, le rapport de validation (JSON et PDF), les certificats, listes de révocation et jetons "
                "d'horodatage, un manifeste sha256 (`sha256sum -c`) lui-même horodaté (RFC 3161), et "
                "`LISEZMOI.txt` qui dit comment tout vérifier avec openssl, pdfsig et `parcours verify`. "
                "Chaque téléchargement est un événement `evidence.downloaded` de la piste d'audit (avec "
                "l'empreinte du ZIP, renvoyée aussi dans l'en-tête `X-Evidence-Sha256`)."),
            "tags": ["audit"], "parameters": [_ID],
            "responses": {
                "200": {"description": "Le dossier de preuves",
                        "headers": {
                            "Content-Disposition": {"schema": {"type": "string"},
                                                    "description": "attachment; filename=\"preuves-demande-<id>.zip\""},
                            "X-Evidence-Sha256": {"schema": {"type": "string"},
                                                  "description": "sha256 du ZIP, inscrit dans l'événement d'audit"},
                            "X-Audit-Sequence": {"schema": {"type": "string"},
                                                 "description": "numéro de l'événement evidence.downloaded"}},
                        "content": {"application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}}},
                "409": {"description": "La demande n'est pas terminée (en cours, refusée, expirée ou annulée)",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                "503": {"description": "L'autorité d'horodatage ne répond pas ; rien n'a été enregistré",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
    },
}
