"""Read-only queries for the campaign pages: campaigns page by page, a campaign's interviews with the late ones
first, its batches and convocations counted, the templates offered in the wizard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from parcours.models import Batch, Campaign, Convocation, Employee, Interview, Template, TemplateVersion
from parcours.service import interviews


def campaigns_page(session: Session, limit: int, before: int | None = None) -> tuple[list[Any], int | None]:
    """Campaigns, newest first, a page after the id `before`."""
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Campaign.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def campaign_interviews(session: Session, campaign_id: int, today: dt.date, *, limit: int, offset: int = 0,
                        status: str | None = None) -> tuple[list[tuple[Interview, Employee]], int]:
    """A campaign's interviews with their employee, the late ones first (still open past their day, or still
    « à planifier » within a week of it), then by service, manager and day; and how many in all."""
    late = case((and_(Interview.status.in_(interviews.OPEN),
                      or_(Interview.date < today,
                          and_(Interview.status == "to_plan", Interview.date <= today + dt.timedelta(days=7)))), 0),
                else_=1)
    where = [Interview.campaign_id == campaign_id]
    if status:
        where.append(Interview.status == status)
    query = (select(Interview, Employee).join(Employee, Employee.matricule == Interview.matricule).where(*where)
             .order_by(late, Employee.service, Employee.manager_matricule, Interview.date, Interview.heure,
                       Interview.id).limit(limit).offset(offset))
    total = session.scalar(select(func.count()).select_from(Interview).where(*where)) or 0
    return [tuple(r) for r in session.execute(query)], total


def is_late(interview: Interview, today: dt.date) -> bool:
    return interview.status in interviews.OPEN and (
        interview.date < today or (interview.status == "to_plan" and interview.date <= today + dt.timedelta(days=7)))


def batches_of(session: Session, batch_ids: list[int]) -> list[tuple[Batch, str]]:
    """The given batches with their template's name, in order."""
    if not batch_ids:
        return []
    return [tuple(r) for r in session.execute(
        select(Batch, Template.name).join(TemplateVersion, Batch.template_version_id == TemplateVersion.id)
        .join(Template, TemplateVersion.template_id == Template.id).where(Batch.id.in_(batch_ids)).order_by(Batch.id))]


def template_names(session: Session) -> dict[str, int]:
    """The templates HR may choose in the campaign wizard, each with its latest version's number."""
    return dict(session.execute(select(Template.name, func.max(TemplateVersion.number))
                                .join(TemplateVersion, TemplateVersion.template_id == Template.id)
                                .group_by(Template.name).order_by(Template.name)).all())


CONVOCATION_STATES = ("pending", "sending", "sent", "failed", "paper")


def convocations_sent(session: Session, campaign_id: int) -> dict[str, int]:
    """A campaign's convocations (superseded versions left out) counted by status: pending (documents being
    made), sending, sent, failed, paper (no e-mail address: a letter to print)."""
    found = dict.fromkeys(CONVOCATION_STATES, 0)
    for status, number in session.execute(
            select(Convocation.status, func.count()).join(Interview, Interview.id == Convocation.interview_id)
            .where(Interview.campaign_id == campaign_id, Convocation.status.in_(CONVOCATION_STATES))
            .group_by(Convocation.status)):
        found[status] = number
    return found
