"""Signatures: the requests with their status and who is waiting, resend the link or cancel, the signed copies
and the evidence bundle (the same service functions as /api/v1/signature-requests)."""

from __future__ import annotations

from flask import Blueprint, g, request, url_for

from parcours.http.current import db_session, services
from parcours.http.web import frame
from parcours.http.web.frame import page, render
from parcours.service import overview, signatures

bp = Blueprint("signature_pages", __name__, template_folder="pages")
PAGE = 50
REQUEST_LABELS = {"pending": "en attente", "completed": "signée", "refused": "refusée", "expired": "expirée",
                  "cancelled": "annulée"}
SIGNER_LABELS = {"waiting": "pas encore son tour", "sent": "lien envoyé", "viewed": "document ouvert",
                 "signed": "a signé", "refused": "a refusé"}
ROLE_LABELS = {"manager": "responsable", "salarie": "salarié"}
VERSION_LABELS = {"generated": "produit", "prepared": "préparé pour signature", "signed": "signé", "sealed": "scellé",
                  "timestamped": "horodaté (archive)"}


def _client() -> dict[str, str | None]:
    return {"ip": request.remote_addr, "user_agent": request.headers.get("User-Agent")}


@bp.get("/signatures")
@page("hr", "auditor")
def index():
    status = request.args.get("statut") if request.args.get("statut") in REQUEST_LABELS else None
    raw = request.args.get("avant") or ""
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    rows, more = overview.signature_requests(db_session(), status=status, limit=PAGE, before=before)
    args = {"statut": status} if status else {}
    return render("staff/signatures.html", rows=rows, labels=REQUEST_LABELS, signer_labels=SIGNER_LABELS,
                  filters=args, next_url=url_for("signature_pages.index", **args, avant=more) if more else None,
                  first_url=url_for("signature_pages.index", **args) if before else None)


@bp.get("/signatures/<int:request_id>")
@page("hr", "auditor")
def show(request_id: int):
    session = db_session()
    found = signatures.get_request(session, request_id)
    view = signatures.request_view(session, found)
    return render("staff/signature.html", r=view, row=overview.request_row(session, found), labels=REQUEST_LABELS,
                  signer_labels=SIGNER_LABELS,
                  role_labels=ROLE_LABELS, version_labels=VERSION_LABELS, can_act="hr" in g.get("roles", ()))


@bp.post("/signatures/<int:request_id>/relancer")
@page("hr")
def resend(request_id: int):
    sent = signatures.resend(services(), request_id, actor=g.actor, **_client())
    text = "Un nouveau lien a été envoyé." if sent.get("email_sent") else \
        "Un nouveau lien a été créé, mais le courriel n’a pas pu partir : vérifiez l’adresse et le serveur d’envoi."
    return frame.done(url_for("signature_pages.show", request_id=request_id), text,
                      "ok" if sent.get("email_sent") else "error")


@bp.post("/signatures/<int:request_id>/annuler")
@page("hr")
def cancel(request_id: int):
    signatures.cancel(services(), request_id, actor=g.actor, reason=(request.form.get("motif") or "").strip() or None,
                      **_client())
    return frame.done(url_for("signature_pages.show", request_id=request_id), "La demande de signature est annulée.")
