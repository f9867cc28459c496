"""Campagnes and Entretiens: the campaigns with their progress, a campaign's page (late interviews first, exports,
live progress of its batches), the creation wizard, and an interview's page where HR records what happened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from docgen.dataset import INTERVIEW_LABELS
from parcours.errors import Invalid, NotFound
from parcours.http.current import db_session, services
from parcours.http.web.frame import describe, done, page, render
from parcours.models import Employee
from parcours.service import campaign_overview, campaigns, due, interview_reports, interviews, overview

bp = Blueprint("campaign_pages", __name__, template_folder="pages")
PAGE = 50
BATCH_LABELS = {"pending": "en attente", "running": "en cours", "completed": "terminé", "failed": "échoué",
                "cancelled": "annulé"}
STATUS_LABELS = interviews.LABELS
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
DEFAULT_HOURS = "09:00, 10:30, 14:00, 15:30"


def _before() -> int | None:
    raw = request.args.get("avant") or ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _page_number() -> int:
    raw = request.args.get("page") or "1"
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def _wake() -> None:
    if services().jobs is not None:
        services().jobs.wake()


@bp.get("/campagnes")
@page("hr")
def index():
    session = db_session()
    rows, more = campaign_overview.campaigns_page(session, PAGE, _before())
    counts = campaigns.counts(session, [c.id for c in rows])
    batches, _ = overview.batches_page(session, 10)
    running = any(b.status in ("pending", "running") for b, _ in batches)
    if request.headers.get("HX-Request"):
        return render("staff/batches_table.html", rows=batches, running=running, labels=BATCH_LABELS,
                      next_url=None, first_url=None)
    return render("staff/campaigns.html", campaigns=rows, counts=counts, rows=batches, running=running,
                  labels=BATCH_LABELS, status_labels=STATUS_LABELS,
                  next_url=url_for("campaign_pages.index", avant=more) if more else None,
                  first_url=url_for("campaign_pages.index") if _before() else None)


@bp.get("/campagnes/<int:campaign_id>")
@page("hr")
def show(campaign_id: int):
    session = db_session()
    campaign = campaigns.get(session, campaign_id)
    today = services().settings.today()
    batches = campaign_overview.batches_of(session, list(campaign.batch_ids or []))
    mail = campaign_overview.convocations_sent(session, campaign.id)
    # Polled until the documents are made and every convocation has left (or failed, or goes by post).
    running = any(b.status in ("pending", "running") for b, _ in batches) or bool(mail["pending"] + mail["sending"])
    tracking = campaigns.tracking(session, campaign, today)
    if request.headers.get("HX-Request"):
        return render("staff/campaign_progress.html", campaign=campaign, batches=batches, running=running,
                      tracking=tracking, mail=mail, labels=BATCH_LABELS, status_labels=STATUS_LABELS)
    status = request.args.get("statut") if request.args.get("statut") in STATUS_LABELS else None
    number = _page_number()
    rows, total = campaign_overview.campaign_interviews(session, campaign.id, today, limit=PAGE,
                                                        offset=(number - 1) * PAGE, status=status)
    managers = overview.names(session, {e.manager_matricule for _, e in rows if e.manager_matricule})
    args = {"statut": status} if status else {}
    return render("staff/campaign.html", campaign=campaign, batches=batches, running=running, tracking=tracking,
                  mail=mail,
                  rows=rows, total=total, managers=managers, today=today, is_late=campaign_overview.is_late,
                  labels=BATCH_LABELS, status_labels=STATUS_LABELS, types=INTERVIEW_LABELS, filters=args,
                  next_url=url_for("campaign_pages.show", campaign_id=campaign.id, **args, page=number + 1)
                  if number * PAGE < total else None,
                  first_url=url_for("campaign_pages.show", campaign_id=campaign.id, **args) if number > 1 else None)


# --- the wizard -----------------------------------------------------------------------------------------

def _wizard(form: MultiDict, problem: dict[str, Any] | None = None, status: int = 200):
    session = db_session()
    services_ = [v for v in session.scalars(select(Employee.service).distinct().order_by(Employee.service)) if v]
    sites = [v for v in session.scalars(select(Employee.site).distinct().order_by(Employee.site)) if v]
    return render("staff/campaign_new.html", form=form, problem=problem, services=services_, sites=sites,
                  templates=campaign_overview.template_names(session), types=INTERVIEW_LABELS, weekdays=WEEKDAYS,
                  organisation=services().settings.organisation, default_hours=DEFAULT_HOURS), status


@bp.get("/campagnes/nouvelle")
@page("hr")
def new():
    today = services().settings.today()
    form = MultiDict(request.args)
    # From Échéances: the selected employees (matricule=…) and the list's date.
    form.setdefault("debut", today.isoformat())
    form.setdefault("fin", request.args.get("avant") or (today + dt.timedelta(days=90)).isoformat())
    form.setdefault("creneaux_debut", (today + dt.timedelta(days=14)).isoformat())
    form.setdefault("heures", DEFAULT_HOURS)
    return _wizard(form)


def body_of(form: MultiDict) -> dict[str, Any]:
    """The wizard's fields as the campaign API's body (the same names, the same checks)."""
    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    population: dict[str, list[str]] = {}
    for key, field in (("services", "service"), ("sites", "site"), ("matricules", "matricule")):
        chosen = [v.strip() for v in form.getlist(field) if v.strip()]
        if key == "matricules":
            chosen += [v.strip() for v in text("matricules").replace(",", " ").split() if v.strip()]
        if chosen:
            population[key] = list(dict.fromkeys(chosen))
    templates = {kind: form.get(f"modele_{kind}") for kind in INTERVIEW_LABELS if form.get(f"modele_{kind}")}
    creneaux: dict[str, Any] = {"heures": [h.strip() for h in text("heures").split(",") if h.strip()]}
    for key, field in (("debut", "creneaux_debut"), ("lieu", "lieu"), ("lien_visio", "lien_visio")):
        if text(field):
            creneaux[key] = text(field)
    days = [int(d) for d in form.getlist("jours") if d.isdigit() and int(d) < 7]
    if days:
        creneaux["jours"] = days
    societe = {k: text(f"societe_{k}") for k in ("nom", "adresse", "code_postal", "ville") if text(f"societe_{k}")}
    if text("effectif").isdigit():
        societe["effectif"] = int(text("effectif"))
    values: dict[str, Any] = {"societe": societe} if societe else {}
    signataire = {k: text(f"signataire_{k}") for k in ("nom", "fonction") if text(f"signataire_{k}")}
    if signataire:
        values["courrier"] = {"signataire": signataire}
    body: dict[str, Any] = {"name": text("nom"), "period": {"debut": text("debut"), "fin": text("fin")},
                            "population": population, "templates": templates, "creneaux": creneaux, "values": values}
    if text("on"):
        body["on"] = text("on")
    return body


FIELD_LABELS = {"name": "Nom", "period.debut": "Début de la période", "period.fin": "Fin de la période",
                "on": "Date de lecture du calendrier", "population": "Population", "creneaux": "Créneaux",
                "template": "Modèle de convocation", "values.Entretien": "Lieu ou lien de visioconférence"}
"""The wizard's label for a field the campaign service names (the API's names stay in brackets)."""


def _labelled(problem: dict[str, Any]) -> dict[str, Any]:
    errors = []
    for error in problem.get("errors") or []:
        field = str(error.get("field") or "")
        label = FIELD_LABELS.get(field) or FIELD_LABELS.get(field.split(".")[0]) if field else None
        errors.append({**error, "field": f"{label} ({field})"} if label else error)
    return {**problem, "errors": errors}


@bp.post("/campagnes/nouvelle")
@page("hr")
def create():
    body = body_of(request.form)
    rows = None
    upload = request.files.get("planning")
    try:
        if upload is not None and upload.filename:
            body["planning"] = due.planning_from_csv(upload.read(), upload.filename)
            rows = {matricule: entry.pop("_row") for matricule, entry in body["planning"].items()}
        campaign = campaigns.create(services(), db_session(), body, planning_rows=rows, by=g.actor)
    except Exception as exc:  # noqa: BLE001 - a problem the pages know is shown in the form, the rest goes on
        found = describe(exc)
        if found is None:
            raise
        db_session().rollback()
        return _wizard(request.form, _labelled(found[1]), found[0])
    _wake()
    return done(url_for("campaign_pages.show", campaign_id=campaign.id),
                f"Campagne « {campaign.name} » créée : les convocations se préparent et partent par courriel.")


# --- interviews -----------------------------------------------------------------------------------------

@bp.get("/entretiens", endpoint="interviews")
@page("hr", "auditor")
def interviews_index():
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


def _interview_page(interview_id: int, problem: dict[str, Any] | None = None, form: Any = None, status: int = 200):
    session = db_session()
    interview = interview_reports.get_interview(session, interview_id)
    employee = session.get(Employee, interview.matricule)
    report = interview_reports.latest(session, interview.id)
    return render("staff/interview.html", interview=interview, employee=employee, report=report, problem=problem,
                  form=form or {}, types=INTERVIEW_LABELS, status_labels=STATUS_LABELS, today=services().settings.today(),
                  open_statuses=interviews.OPEN,
                  convocation=campaigns.latest_convocation(session, interview.id)), status


@bp.get("/entretiens/<int:interview_id>")
@page("hr", "auditor")
def interview(interview_id: int):
    return _interview_page(interview_id)


def _date_field(raw: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        raise Invalid("Valeurs invalides", errors=[{"field": field, "value": raw or "",
                                                    "reason": "une date (AAAA-MM-JJ) est attendue"}]) from None


OUTCOMES = {"tenu": ("held", "Entretien enregistré comme tenu."),
            "refuse": ("refused", "Refus de l’entretien par le salarié enregistré."),
            "annule": ("cancelled", "Entretien annulé."),
            "deplace": ("moved", "Entretien déplacé : une nouvelle convocation part par courriel.")}


@bp.post("/entretiens/<int:interview_id>/<outcome>")
@page("hr")
def record(interview_id: int, outcome: str):
    """Held or refused (on a day not in the future), moved (a new convocation), cancelled (with the reason)."""
    if outcome not in OUTCOMES:
        raise NotFound("Page introuvable", f"« {outcome} » n’est pas une suite possible d’un entretien.")
    session = db_session()
    form = request.form
    status, message = OUTCOMES[outcome]
    try:
        interview = interview_reports.get_interview(session, interview_id)
        if status == "moved":
            campaigns.move(services(), session, interview_id, {k: (form.get(k) or "").strip() or None
                                                                for k in ("date", "heure", "lieu", "lien_visio")
                                                                if k in form}, by=g.actor)
        elif status == "cancelled" and interview.campaign_id and interview.status in interviews.OPEN:
            campaigns.cancel(services(), session, interview_id, form.get("note"), by=g.actor)
        else:
            day = _date_field(form.get("date"), "date") if status != "cancelled" else None
            interviews.change(session, interview_id, status=status, date=day, today=services().settings.today(),
                              note=(form.get("note") or "").strip() or None, by=g.actor)
            session.commit()
    except Exception as exc:  # noqa: BLE001 - shown inline next to the forms, in French
        found = describe(exc)
        if found is None:
            raise
        session.rollback()
        return _interview_page(interview_id, {**found[1], "form": outcome}, form, found[0])
    _wake()
    return done(url_for("campaign_pages.interview", interview_id=interview_id), message)
