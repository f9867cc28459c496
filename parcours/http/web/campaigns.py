"""Campagnes and Entretiens: the convocation batches sent so far (their progress refreshes by itself) and the
recorded interviews. The campaign wizard and the interview forms come with the campaign model."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from docgen.dataset import INTERVIEW_LABELS
from parcours.http.current import db_session
from parcours.http.web.frame import page, render
from parcours.http.web.people import STATUS_LABELS
from parcours.service import overview

bp = Blueprint("campaign_pages", __name__, template_folder="pages")
PAGE = 50
BATCH_LABELS = {"pending": "en attente", "running": "en cours", "completed": "terminé", "failed": "échoué",
                "cancelled": "annulé"}


def _before() -> int | None:
    raw = request.args.get("avant") or ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@bp.get("/campagnes")
@page("hr")
def index():
    rows, more = overview.batches_page(db_session(), PAGE, _before())
    running = any(b.status in ("pending", "running") for b, _ in rows)
    template = "staff/batches_table.html" if request.headers.get("HX-Request") else "staff/campaigns.html"
    return render(template, rows=rows, running=running, labels=BATCH_LABELS,
                  next_url=url_for("campaign_pages.index", avant=more) if more else None,
                  first_url=url_for("campaign_pages.index") if _before() else None)


@bp.get("/entretiens")
@page("hr", "auditor")
def interviews():
    status = request.args.get("statut") if request.args.get("statut") in STATUS_LABELS else None
    matricule = (request.args.get("matricule") or "").strip() or None
    session = db_session()
    rows, more = overview.interviews_page(session, status=status, matricule=matricule, within=None, limit=PAGE,
                                          before=_before())
    args = {k: v for k, v in {"statut": status, "matricule": matricule}.items() if v}
    return render("staff/interviews.html", rows=rows, names=overview.names(session, {i.matricule for i in rows}),
                  types=INTERVIEW_LABELS, status_labels=STATUS_LABELS, filters=args,
                  next_url=url_for("campaign_pages.interviews", **args, avant=more) if more else None,
                  first_url=url_for("campaign_pages.interviews", **args) if _before() else None)
