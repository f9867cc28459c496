"""Audit: the latest events of the trail, a document's history, the chain's status checked on demand (the whole
chain is recomputed), and the way to the verification page."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from sqlalchemy import func, select

from parcours.http.current import db_session
from parcours.http.web import frame
from parcours.http.web.frame import page, render
from parcours.http.web.signature_requests import REQUEST_LABELS, VERSION_LABELS
from parcours.models import AuditAnchor, AuditEvent
from parcours.service import audit, history
from signing.audit import BREAK_REASONS

bp = Blueprint("audit_pages", __name__, template_folder="pages")
PAGE = 50
EVENT_LABELS = {
    "document.generated": "document produit", "signature_request.created": "demande de signature créée",
    "email.sent": "courriel envoyé", "email.failed": "courriel non remis", "link.opened": "lien ouvert",
    "link.reissued": "nouveau lien envoyé", "link.locked": "lien bloqué", "code.checked": "code vérifié",
    "signed": "signé", "refused": "signature refusée", "completed": "signatures terminées, document scellé",
    "cancelled": "demande annulée", "expired": "demande expirée", "reminder.sent": "relance envoyée",
    "evidence.downloaded": "dossier de preuve téléchargé", "archive.refreshed": "horodatage d’archive renouvelé",
    "interview.recorded": "entretien enregistré", "interview.changed": "entretien modifié",
    "interview.cancelled": "entretien annulé", "login.succeeded": "connexion", "login.failed": "connexion refusée",
    "logout": "déconnexion", "user.created": "compte créé", "user.invited": "invitation envoyée",
    "user.password_set": "mot de passe choisi", "user.reset_requested": "réinitialisation demandée",
    "user.updated": "compte modifié",
}
"""What the pages call an audit event; its code is shown beside it (the API and the CLI use the code)."""


@bp.get("/audit")
@page("hr", "auditor")
def index():
    session = db_session()
    raw = request.args.get("avant") or ""
    query = select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(PAGE + 1)
    if raw.isdigit() and len(raw) < 19:
        query = query.where(AuditEvent.sequence < int(raw))
    rows = list(session.scalars(query))
    more = rows[PAGE - 1].sequence if len(rows) > PAGE else None
    anchor = session.scalar(select(AuditAnchor).order_by(AuditAnchor.sequence.desc()).limit(1))
    total = session.scalar(select(func.max(AuditEvent.sequence))) or 0
    return render("staff/audit.html", rows=rows[:PAGE], event_labels=EVENT_LABELS, anchor=anchor, total=total,
                  next_url=url_for("audit_pages.index", avant=more) if more else None,
                  first_url=url_for("audit_pages.index") if raw else None)


@bp.get("/audit/chaine")
@page("hr", "auditor")
def chain():
    """The chain verified now: a fragment for htmx, or the whole page without script."""
    report = audit.verify(db_session())
    template = "staff/chain.html" if request.headers.get("HX-Request") else "staff/chain_page.html"
    return render(template, report=report, reasons=BREAK_REASONS)


@bp.get("/audit/document")
@page("hr", "auditor")
def find_document():
    raw = (request.args.get("document") or "").strip().lstrip("n°").strip()
    if not raw.isdigit() or len(raw) > 18:
        raise frame.Problem(422, "Valeurs invalides", errors=[{"field": "document", "value": raw,
                                                                 "reason": "le numéro du document (un entier)"}])
    return redirect(url_for("audit_pages.document", document_id=int(raw)), 303)


@bp.get("/audit/documents/<int:document_id>")
@page("hr", "auditor")
def document(document_id: int):
    found = history.document_history(db_session(), document_id)
    return render("staff/document.html", h=found, event_labels=EVENT_LABELS, labels=REQUEST_LABELS,
                  version_labels=VERSION_LABELS,
                  reasons=BREAK_REASONS)
