"""Interviews as they happen, each with one status a person understands; the legal calendar counts them.

À planifier (to_plan: no convocation sent yet, or it failed: see `reason`), convoqué (convoked: its
convocation was sent), convocation reçue (acknowledged), reporté (rescheduled: moved, a new convocation
version), tenu (held), refusé par le salarié (refused), annulé (cancelled). Only convoked, acknowledged
and rescheduled count as planned for the calendar. The API's former « planned » means convoked.

A record must be possible: not before the hire, not after the exit, planned at most a year ahead, held or
refused not in the future, its document the employee's. A held or refused interview is history: it is
not edited, it is cancelled with a reason (and recorded again if it was mistyped); the calendar ignores
a cancelled one. Every record and change is an audit event naming who made it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgen import formatting
from docgen.context import INTERVIEW_LABELS
from parcours.errors import Conflict, Invalid, NotFound
from parcours.models import Document, Employee, Interview
from parcours.service import audit
from parcours.service.audit import Actor

STATUSES = ("to_plan", "convoked", "acknowledged", "rescheduled", "held", "refused", "cancelled")
LABELS = {"to_plan": "à planifier", "convoked": "convoqué", "acknowledged": "convocation reçue",
          "rescheduled": "reporté", "held": "tenu", "refused": "refusé par le salarié", "cancelled": "annulé"}
OPEN = ("to_plan", "convoked", "acknowledged", "rescheduled")
PLANNED = ("convoked", "acknowledged", "rescheduled")
"""What the legal calendar counts as a planned interview: its convocation was sent."""
LEGACY = {"planned": "convoked"}
"""Statuses the API accepted before campaigns, and what they mean now."""
ACCEPTED = (*STATUSES, *LEGACY)
# An open interview becomes held, refused or cancelled; what was held or refused can only be cancelled.
TRANSITIONS = {**{status: {*OPEN, "held", "refused", "cancelled"} for status in OPEN}, "held": {"cancelled"},
               "refused": {"cancelled"}, "cancelled": set()}


def stored(status: str) -> str:
    """The status as stored: a former name (« planned ») mapped to today's."""
    return LEGACY.get(status, status)


def calendar_status(status: str) -> str | None:
    """The interview as the legal calendar reads it (planned, held, refused), None when it does not count."""
    if status in PLANNED:
        return "planned"
    return status if status in ("held", "refused") else None
PLANNED_AHEAD = dt.timedelta(days=366)


def record(session: Session, *, matricule: str, type: str, status: str, date: dt.date, today: dt.date,
           created_by: str | Actor, note: str | None = None, document_id: Any = None) -> Interview:
    """`today`: in the service's time zone (Settings.today()), which the server's clock may be a day behind."""
    errors = []
    employee = session.get(Employee, matricule)
    if employee is None:
        errors.append({"field": "matricule", "reason": f"aucun salarié n'a le matricule « {matricule} »"})
    if type not in INTERVIEW_LABELS:
        errors.append({"field": "type", "reason": f"un des types : {', '.join(INTERVIEW_LABELS)}"})
    status = stored(status) if isinstance(status, str) else status
    if status not in STATUSES or status == "cancelled":
        errors.append({"field": "status", "reason": f"un des états : {', '.join(s for s in ACCEPTED if s != 'cancelled')}"})
    errors += _date_errors(employee, status, date, today)
    if document_id is not None:
        document = session.get(Document, document_id) if isinstance(document_id, int) and 0 < document_id < 2 ** 31 \
            else None
        if document is None or document.matricule != matricule:
            errors.append({"field": "document_id", "value": document_id,
                           "reason": f"aucun document de ce salarié n'a l'identifiant {document_id}"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    interview = Interview(matricule=matricule, type=type, status=status, date=date, note=note,
                          document_id=document_id, created_by=audit.label(created_by))
    session.add(interview)
    session.flush()
    audit.record(session, "interview.recorded", subject_type="interview", subject_id=interview.id, actor=created_by,
                 data={"matricule": matricule, "type": type, "status": status, "date": date.isoformat()})
    return interview


def _date_errors(employee: Employee | None, status: str, date: dt.date, today: dt.date) -> list[dict[str, Any]]:
    errors = []
    if status in ("held", "refused") and date > today:
        errors.append({"field": "date", "reason": "un entretien tenu ou refusé ne peut pas être daté dans le futur"})
    if status in OPEN and date > today + PLANNED_AHEAD:
        errors.append({"field": "date", "reason": "un entretien se planifie au plus un an à l'avance"})
    if employee is not None and date < employee.date_entree:
        errors.append({"field": "date", "reason": f"avant l'entrée du salarié ({formatting.date(employee.date_entree)})"})
    if employee is not None and employee.date_sortie is not None and date > employee.date_sortie:
        errors.append({"field": "date", "reason": f"après la sortie du salarié ({formatting.date(employee.date_sortie)})"})
    return errors


def change(session: Session, interview_id: int, *, status: str, today: dt.date, date: dt.date | None = None,
           note: str | None = None, by: str | Actor = "system") -> Interview:
    """Move a planned interview on, or cancel one (a held or refused one only so, with its reason)."""
    interview = session.get(Interview, interview_id)
    if interview is None:
        raise NotFound("Entretien introuvable", f"Aucun entretien n'a l'identifiant {interview_id}.")
    status = stored(status) if isinstance(status, str) else status
    if status not in STATUSES:
        raise Invalid("Valeurs invalides", errors=[{"field": "status", "reason": f"un des états : {', '.join(ACCEPTED)}"}])
    if status not in TRANSITIONS[interview.status]:
        raise Conflict("Entretien déjà clos", f"Un entretien « {LABELS[interview.status]} » ne peut plus devenir "
                       f"« {LABELS[status]} » : annulez-le (avec la raison) et enregistrez-en un nouveau.")
    if status == "cancelled" and not (isinstance(note, str) and note.strip()):
        raise Invalid("Valeurs invalides", errors=[{"field": "note", "reason": "la raison de l'annulation est obligatoire"}])
    if status != "cancelled":
        errors = _date_errors(session.get(Employee, interview.matricule), status, date or interview.date, today)
        if errors:
            raise Invalid("Valeurs invalides", errors=errors)
    before = {"status": interview.status, "date": interview.date.isoformat()}
    interview.status = status
    if date is not None:
        interview.date = date
    if note is not None:
        interview.note = note
    if status == "cancelled":
        interview.reason = note
    session.flush()
    audit.record(session, "interview.cancelled" if status == "cancelled" else "interview.changed",
                 subject_type="interview", subject_id=interview.id, actor=by,
                 data={"before": before, "status": status, "date": interview.date.isoformat(), "note": note})
    return interview


def of_employees(session: Session, matricules: list[str] | None = None) -> dict[str, list[Interview]]:
    query = select(Interview).order_by(Interview.matricule, Interview.date, Interview.id)
    if matricules is not None:
        query = query.where(Interview.matricule.in_(matricules))
    found: dict[str, list[Interview]] = {}
    for interview in session.scalars(query):
        found.setdefault(interview.matricule, []).append(interview)
    return found
