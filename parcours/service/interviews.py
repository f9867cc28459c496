"""Interviews as they happen: planned, held, or refused by the employee. The legal calendar counts them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgen.context import INTERVIEW_LABELS
from parcours.errors import Conflict, Invalid, NotFound
from parcours.models import Employee, Interview

STATUSES = ("planned", "held", "refused")
# A planned interview becomes held or refused; what was held or refused is history and stays.
TRANSITIONS = {"planned": {"planned", "held", "refused"}, "held": set(), "refused": set()}


def record(session: Session, *, matricule: str, type: str, status: str, date: dt.date,
           created_by: str, note: str | None = None, document_id: int | None = None) -> Interview:
    errors = []
    if session.get(Employee, matricule) is None:
        errors.append({"field": "matricule", "reason": f"aucun salarié n'a le matricule « {matricule} »"})
    if type not in INTERVIEW_LABELS:
        errors.append({"field": "type", "reason": f"un des types : {', '.join(INTERVIEW_LABELS)}"})
    if status not in STATUSES:
        errors.append({"field": "status", "reason": f"un des états : {', '.join(STATUSES)}"})
    if status in ("held", "refused") and date > dt.date.today():
        errors.append({"field": "date", "reason": "un entretien tenu ou refusé ne peut pas être daté dans le futur"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    interview = Interview(matricule=matricule, type=type, status=status, date=date, note=note,
                          document_id=document_id, created_by=created_by)
    session.add(interview)
    session.flush()
    return interview


def change(session: Session, interview_id: int, *, status: str, date: dt.date | None = None,
           note: str | None = None) -> Interview:
    interview = session.get(Interview, interview_id)
    if interview is None:
        raise NotFound("Entretien introuvable", f"Aucun entretien n'a l'identifiant {interview_id}.")
    if status not in STATUSES:
        raise Invalid("Valeurs invalides", errors=[{"field": "status", "reason": f"un des états : {', '.join(STATUSES)}"}])
    if status not in TRANSITIONS[interview.status]:
        raise Conflict("Entretien déjà clos",
                       f"Un entretien « {interview.status} » ne change plus ; enregistrez-en un nouveau.")
    interview.status = status
    if date is not None:
        interview.date = date
    if note is not None:
        interview.note = note
    session.flush()
    return interview


def of_employees(session: Session, matricules: list[str] | None = None) -> dict[str, list[Interview]]:
    query = select(Interview).order_by(Interview.matricule, Interview.date, Interview.id)
    if matricules is not None:
        query = query.where(Interview.matricule.in_(matricules))
    found: dict[str, list[Interview]] = {}
    for interview in session.scalars(query):
        found.setdefault(interview.matricule, []).append(interview)
    return found
