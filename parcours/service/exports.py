"""Tables for people outside Parcours: a campaign, the interviews held in a period. CSV as French Excel opens it
(« ; », UTF-8 with a BOM) or XLSX; in both, a cell a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from docgen import csvsafe, formatting
from docgen.context import INTERVIEW_LABELS
from parcours.models import Campaign, Convocation, Employee, Interview
from parcours.service.interviews import LABELS



@dataclass(frozen=True)
class Table:
    """A sheet: its title, header and rows."""

    title: str
    header: list[str]
    rows: list[list[Any]]


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """The French dialect every CSV of Parcours is written in (exports and manifests)."""
    out = io.StringIO()
    out.write(csvsafe.BOM)
    writer = csvsafe.writer(out, **csvsafe.FRENCH)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_bytes(table: Table) -> bytes:
    return csv_text(table.header, table.rows).encode("utf-8")


def xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = table.title[:31]
    sheet.append(table.header)
    for row in table.rows:
        sheet.append(csvsafe.row(row))
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = min(
            60, max(10, *(len(str(c.value or "")) + 2 for c in column)))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def interview_ids(session: Session, campaign_id: int) -> list[int]:
    return list(session.scalars(select(Interview.id).where(Interview.campaign_id == campaign_id)))


def _latest_convocations(session: Session, ids: list[int]) -> dict[int, Convocation]:
    latest = select(Convocation.interview_id, func.max(Convocation.version).label("version")).where(
        Convocation.interview_id.in_(ids)).group_by(Convocation.interview_id).subquery()
    rows = session.scalars(select(Convocation).join(latest, (latest.c.interview_id == Convocation.interview_id)
                                                     & (latest.c.version == Convocation.version)))
    return {c.interview_id: c for c in rows}


def _moment(value: dt.datetime | None, timezone: str) -> str:
    """« 06/12/2026 17:05 » in the employer's time zone, for a table."""
    return "" if value is None else value.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


CAMPAIGN_HEADER = ["matricule", "nom", "prénom", "service", "site", "responsable", "entretien", "état", "date",
                   "heure", "lieu", "interlocuteur", "convocation (version)", "envoyée le", "reçue le", "raison"]


def campaign(session: Session, campaign: Campaign, timezone: str = "Europe/Paris") -> Table:
    manager = aliased(Employee)
    rows = session.execute(select(Interview, Employee, manager).join(Employee, Employee.matricule == Interview.matricule)
                           .outerjoin(manager, manager.matricule == Employee.manager_matricule)
                           .where(Interview.campaign_id == campaign.id).order_by(Interview.matricule)).all()
    convocations = _latest_convocations(session, [i.id for i, _, _ in rows])
    table = []
    for interview, employee, boss in rows:
        convocation = convocations.get(interview.id)
        table.append([
            employee.matricule, employee.nom, employee.prenom, employee.service, employee.site,
            f"{boss.prenom} {boss.nom}" if boss else "", INTERVIEW_LABELS.get(interview.type, interview.type),
            LABELS[interview.status], formatting.date_courte(interview.date),
            formatting.heure(interview.heure) if interview.heure else "", interview.lieu or interview.lien_visio or "",
            interview.interviewer_name or "", convocation.version if convocation else "",
            _moment(convocation.sent_at, timezone) if convocation else "",
            _moment(convocation.acknowledged_at, timezone) if convocation else "", interview.reason or ""])
    return Table(f"Campagne {campaign.id}", CAMPAIGN_HEADER, table)


HELD_HEADER = ["matricule", "nom", "prénom", "service", "site", "entretien", "état", "date", "campagne"]


def held(session: Session, start: dt.date, end: dt.date) -> Table:
    """The interviews held or refused from `start` to `end` (inclusive)."""
    rows = session.execute(select(Interview, Employee).join(Employee, Employee.matricule == Interview.matricule)
                           .where(Interview.status.in_(("held", "refused")), Interview.date >= start,
                                  Interview.date <= end).order_by(Interview.date, Interview.matricule)).all()
    return Table("Entretiens", HELD_HEADER, [
        [e.matricule, e.nom, e.prenom, e.service, e.site, INTERVIEW_LABELS.get(i.type, i.type), LABELS[i.status],
         formatting.date_courte(i.date), i.campaign_id or ""] for i, e in rows])
