"""The compte rendu form, for the interviewer (Mes entretiens) and HR: the trame's sections for the interview's type,
drafts saved by themselves as one types (htmx, no inline script), the required ones named, then « envoyer pour
signature » (the compte rendu generated and its signature request opened)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request, url_for
from werkzeug.datastructures import MultiDict

from docgen.dataset import INTERVIEW_LABELS
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.http.web.frame import describe, done, page, render
from parcours.models import Campaign, Employee
from parcours.service import interview_reports as reports

bp = Blueprint("report_pages", __name__, template_folder="pages")
ACTION_ROWS = 3
OPTIONAL_BY_TYPE = {"reprise": ("reprise_consequences",)}
"""Sections printed for a type without being required by the service (shown, left to the interviewer)."""


def sections_for(interview_type: str) -> list[tuple[str, str, bool]]:
    """(key, label, required) of the texts the form shows for an interview type, in the trame's order."""
    required = (*reports.REQUIRED, *reports.REQUIRED_BY_TYPE.get(interview_type, ()))
    shown = (*required, *OPTIONAL_BY_TYPE.get(interview_type, ()))
    return [(key, label, key in required) for key, label in reports.SECTIONS.items() if key in shown]


def sections_of(form: MultiDict, interview_type: str) -> dict[str, Any]:
    """The form's fields as the API's `sections` (empty action rows left out)."""
    sections: dict[str, Any] = {key: (form.get(key) or "") for key, _, _ in sections_for(interview_type)}
    sections.update({key: form.get(key) == "1" for key in reports.FLAGS})
    actions = []
    for i in range(ACTION_ROWS):
        row = {key: (form.get(f"actions-{i}-{key}") or "").strip() for key in reports.ACTION_KEYS}
        if any(row.values()):
            actions.append(row)
    sections["actions"] = actions
    if interview_type == "etat_des_lieux":
        recap: dict[str, Any] = {}
        for key in reports.RECAP_REQUIRED:
            if form.get(f"edl-{key}") in ("oui", "non"):
                recap[key] = form.get(f"edl-{key}") == "oui"
        for key in ("progression_detail", "certification_detail", "commentaires"):
            if form.get(f"edl-{key}"):
                recap[key] = form.get(f"edl-{key}")
        sections["etat_des_lieux"] = recap
    return sections


def _open(interview_id: int):
    session = db_session()
    interview = reports.get_interview(session, interview_id)
    if not reports.may_write(session, interview, g.actor):
        raise Problem(403, "Accès refusé", "Seuls le service RH et le responsable qui conduit l’entretien rédigent "
                                           "son compte rendu.")
    return session, interview


def _back(interview) -> str:
    return url_for("campaign_pages.interview", interview_id=interview.id) if "hr" in g.roles \
        else url_for("team.index")


def _form(interview_id: int, problem: dict[str, Any] | None = None, status: int = 200):
    session, interview = _open(interview_id)
    row = reports.latest(session, interview.id)
    sections = row.sections if row else {}
    return render("staff/report.html", interview=interview, employee=session.get(Employee, interview.matricule),
                  row=row, sections=sections, fields=sections_for(interview.type), flags=reports.FLAGS,
                  recap=sections.get("etat_des_lieux") or {}, missing=reports.missing(interview.type, sections),
                  actions=(sections.get("actions") or []) + [{}] * ACTION_ROWS, action_rows=ACTION_ROWS,
                  max_text=reports.MAX_TEXT, types=INTERVIEW_LABELS, problem=problem, back=_back(interview),
                  future=interview.date > services().settings.today()), status


@bp.get("/entretiens/<int:interview_id>/compte-rendu")
@page("hr", "manager")
def edit(interview_id: int):
    return _form(interview_id)


@bp.post("/entretiens/<int:interview_id>/compte-rendu")
@page("hr", "manager")
def save(interview_id: int):
    """A draft saved: from htmx (as one types) the status line only; otherwise back to the form."""
    session, interview = _open(interview_id)
    problem = None
    try:
        row = reports.save(session, interview_id, sections_of(request.form, interview.type), by=g.actor)
        session.commit()
    except Exception as exc:  # noqa: BLE001 - a problem the pages know is shown next to the form
        found = describe(exc)
        if found is None:
            raise
        session.rollback()
        row, problem = reports.latest(session, interview_id), found[1]
    if request.headers.get("HX-Request"):
        return render("staff/report_status.html", row=row, problem=problem,
                      missing=reports.missing(interview.type, row.sections if row else {}))
    if problem is not None:
        return _form(interview_id, problem, 422)
    return done(url_for("report_pages.edit", interview_id=interview_id),
                f"Brouillon enregistré (version {row.number}).")


def _values(session, interview) -> dict[str, Any] | None:
    """The employer's values given to the campaign (société, signataire); the service adds the interview's own
    type, day, hour and place."""
    campaign = session.get(Campaign, interview.campaign_id) if interview.campaign_id else None
    if campaign is None:
        return None
    given = (campaign.settings or {}).get("values") or {}
    return {key: value for key, value in given.items() if key not in ("salaries", "entretien")} or None


@bp.post("/entretiens/<int:interview_id>/compte-rendu/signature")
@page("hr", "manager")
def send(interview_id: int):
    """Save what the form holds, generate the compte rendu and open its signature request (interviewer, then
    employee); what is missing or too early is said on the form."""
    session, interview = _open(interview_id)
    document = "etat_des_lieux" if request.args.get("document") == "etat_des_lieux" else "compte_rendu"
    try:
        reports.save(session, interview_id, sections_of(request.form, interview.type), by=g.actor)
        session.commit()
        result = reports.generate(services(), interview_id, _values(session, interview), by=g.actor,
                                  sign=True, document=document)
    except Exception as exc:  # noqa: BLE001 - shown on the form, in French
        found = describe(exc)
        if found is None:
            raise
        session.rollback()
        return _form(interview_id, found[1], found[0])
    if services().jobs is not None:
        services().jobs.wake()
    what = "État des lieux récapitulatif" if document == "etat_des_lieux" else "Compte rendu"
    return done(_back(interview), f"{what} envoyé pour signature (demande n° {result['signature_request_id']}) : "
                                  "le lien part à chaque signataire, l’un après l’autre, par courriel.")
