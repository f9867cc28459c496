"""Mes entretiens: a manager's team (who reports to them, down the chain), what is due for each, their recorded
interviews, and the comptes rendus waiting for the manager's own signature."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g
from sqlalchemy import select

from docgen.dataset import INTERVIEW_LABELS
from parcours.http.current import db_session, services
from parcours.http.web.frame import page, render
from parcours.models import Employee, SignatureRequest, Signer, User
from parcours.service import due, interviews, overview, users

bp = Blueprint("team", __name__, template_folder="pages")


@bp.get("/mes-entretiens")
@page("manager")
def index():
    session = db_session()
    user = session.get(User, g.caller_user_id) if g.get("caller_user_id") else None
    matricule = user.matricule if user else None
    members = sorted(users.team(session, matricule)) if matricule else []
    people = list(session.scalars(select(Employee).where(Employee.matricule.in_(members)).order_by(Employee.nom))) \
        if members else []
    settings = services().settings
    today = services().settings.today()
    due_items = due.due_list(session, before=today + dt.timedelta(days=365), on=today, headcount=settings.headcount,
                             period_years=settings.epp_period_years, matricules=members)[1] if members else []
    recorded, _ = overview.interviews_page(session, status=None, matricule=None, within=set(members), limit=50) \
        if members else ([], None)
    to_sign = list(session.execute(select(Signer, SignatureRequest).join(SignatureRequest)
                                   .where(Signer.email == user.email, SignatureRequest.status == "pending",
                                          Signer.status.in_(("sent", "viewed"))))) if user else []
    return render("staff/team.html", matricule=matricule, people=people,
                  due=sorted(due_items, key=lambda d: d.deadline),
                  recorded=recorded, to_sign=to_sign, names={p.matricule: f"{p.prenom} {p.nom}" for p in people},
                  types=INTERVIEW_LABELS, status_labels=interviews.LABELS)
