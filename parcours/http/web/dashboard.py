"""Tableau de bord: what needs HR's attention today (late interviews, next legal deadlines, signatures waiting,
recent documents)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from parcours.http.current import db_session, services
from parcours.http.web.frame import page, render
from parcours.models import utcnow
from parcours.service import interviews, overview

bp = Blueprint("dashboard", __name__, template_folder="pages")
HORIZON = dt.timedelta(days=90)
"""The dashboard's deadlines: those of the next three months (and every late one)."""
SIGNATURE_WAIT = dt.timedelta(days=7)
"""A signature request still pending after this long is shown as late."""


def due_now(on: dt.date, before: dt.date):
    settings = services().settings
    return overview.due_everyone(db_session(), before=before, on=on, headcount=settings.headcount,
                                 period_years=settings.epp_period_years)


@bp.get("/tableau-de-bord")
@page("hr", "auditor")
def index():
    session = db_session()
    today = services().settings.today()
    dataset, found, failures = due_now(today, today + HORIZON)
    late = [d for d in found if d.overdue]
    upcoming = sorted((d for d in found if not d.overdue), key=lambda d: d.deadline)[:8]
    waiting, _ = overview.signature_requests(session, status="pending", limit=6)
    not_held, not_held_count = overview.past_planned(session, today)
    slow, slow_count = overview.slow_signatures(session, utcnow() - SIGNATURE_WAIT)
    return render("staff/dashboard.html", failures=failures, status_labels=interviews.LABELS, not_held=not_held, not_held_count=not_held_count,
                  held_names=overview.names(session, {i.matricule for i in not_held}), slow=slow, slow_count=slow_count,
                  wait_days=SIGNATURE_WAIT.days, counts=overview.counts(session), late=late[:8], late_count=len(late),
                  upcoming=upcoming, due_count=len(found), horizon=today + HORIZON, dataset=dataset,
                  waiting=waiting, documents=overview.recent_documents(session))
