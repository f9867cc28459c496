"""Read-only queries for the staff pages: counts, recent items, pages of lists, an employee's timeline, the
due list computed once per state of the data."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docgen.calendar import DueInterview
from docgen.dataset import Dataset
from parcours.models import (Batch, Document, DocumentVersion, Employee, Interview, SignatureRequest, Signer,
                             Template, TemplateVersion)
from parcours.service import due, interviews

log = logging.getLogger(__name__)


def counts(session: Session) -> dict[str, int]:
    """Employees, interviews by status, signature requests by status (keys « interviews.held », …)."""
    found = {"employees": session.scalar(select(func.count()).select_from(Employee)) or 0}
    for status, number in session.execute(select(Interview.status, func.count()).group_by(Interview.status)):
        found[f"interviews.{status}"] = number
    for status, number in session.execute(select(SignatureRequest.status, func.count())
                                          .group_by(SignatureRequest.status)):
        found[f"signatures.{status}"] = number
    return found


def names(session: Session, matricules: set[str]) -> dict[str, str]:
    """« Prénom Nom » of each matricule found."""
    if not matricules:
        return {}
    rows = session.execute(select(Employee.matricule, Employee.prenom, Employee.nom)
                           .where(Employee.matricule.in_(sorted(matricules))))
    return {m: f"{p} {n}" for m, p, n in rows}


def past_planned(session: Session, today: dt.date, limit: int = 8) -> tuple[list[Interview], int]:
    """Interviews still open (à planifier, convoqué, convocation reçue, reporté) after their date, not recorded as
    held, refused or moved: the oldest first, and how many."""
    where = (Interview.status.in_(interviews.OPEN), Interview.date < today)
    rows = list(session.scalars(select(Interview).where(*where).order_by(Interview.date, Interview.id).limit(limit)))
    return rows, session.scalar(select(func.count()).select_from(Interview).where(*where)) or 0


def slow_signatures(session: Session, older_than: dt.datetime, limit: int = 6) -> tuple[list[RequestRow], int]:
    """Signature requests still pending, made before `older_than`: the oldest first, and how many."""
    where = (SignatureRequest.status == "pending", SignatureRequest.created_at < older_than)
    found = list(session.scalars(select(SignatureRequest).where(*where).order_by(SignatureRequest.id).limit(limit)))
    return [request_row(session, r) for r in found], \
        session.scalar(select(func.count()).select_from(SignatureRequest).where(*where)) or 0


def recent_documents(session: Session, limit: int = 8) -> list[dict[str, Any]]:
    rows = session.execute(select(Document, Template.name)
                           .join(TemplateVersion, Document.template_version_id == TemplateVersion.id)
                           .join(Template, TemplateVersion.template_id == Template.id)
                           .order_by(Document.id.desc()).limit(limit)).all()
    who = names(session, {d.matricule for d, _ in rows})
    return [{"id": d.id, "matricule": d.matricule, "name": who.get(d.matricule, d.matricule), "template": t,
             "created_at": d.created_at} for d, t in rows]


@dataclass(frozen=True)
class RequestRow:
    request: SignatureRequest
    matricule: str
    name: str
    waiting: Signer | None
    """The signer whose turn it is (pending requests only)."""


def signature_requests(session: Session, *, status: str | None, limit: int,
                       before: int | None = None, matricule: str | None = None) -> tuple[list[RequestRow], int | None]:
    """Newest first, a page after the id `before`; the id to continue from (or None at the end)."""
    query = (select(SignatureRequest, Document.matricule).join(Document, SignatureRequest.document_id == Document.id)
             .order_by(SignatureRequest.id.desc()).limit(limit + 1))
    if status:
        query = query.where(SignatureRequest.status == status)
    if before is not None:
        query = query.where(SignatureRequest.id < before)
    if matricule:
        query = query.where(Document.matricule == matricule)
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.id for r, _ in rows]
    signers: dict[int, list[Signer]] = {}
    if ids:
        for signer in session.scalars(select(Signer).where(Signer.request_id.in_(ids)).order_by(Signer.position)):
            signers.setdefault(signer.request_id, []).append(signer)
    who = names(session, {m for _, m in rows})
    found = []
    for request, matricule_ in rows:
        turn = next((s for s in signers.get(request.id, []) if s.status in ("sent", "viewed", "waiting")), None) \
            if request.status == "pending" else None
        found.append(RequestRow(request, matricule_, who.get(matricule_, matricule_), turn))
    return found, (rows[-1][0].id if more else None)


def request_row(session: Session, request: SignatureRequest) -> RequestRow:
    """One request as the lists show it: whose document, who is waiting."""
    matricule = session.scalar(select(Document.matricule).where(Document.id == request.document_id)) or ""
    turn = next((s for s in request.signers if s.status in ("sent", "viewed", "waiting")), None) \
        if request.status == "pending" else None
    return RequestRow(request, matricule, names(session, {matricule}).get(matricule, matricule), turn)


def interviews_page(session: Session, *, status: str | None, matricule: str | None, within: set[str] | None,
                    limit: int, before: int | None = None) -> tuple[list[Interview], int | None]:
    """Newest first (by id), a page after the id `before`."""
    query = select(Interview).order_by(Interview.id.desc()).limit(limit + 1)
    if status:
        query = query.where(Interview.status == status)
    if matricule:
        query = query.where(Interview.matricule == matricule)
    if within is not None:
        query = query.where(Interview.matricule.in_(sorted(within)))
    if before is not None:
        query = query.where(Interview.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def batches_page(session: Session, limit: int, before: int | None = None) -> tuple[list[tuple[Batch, str]], int | None]:
    query = (select(Batch, Template.name).join(TemplateVersion, Batch.template_version_id == TemplateVersion.id)
             .join(Template, TemplateVersion.template_id == Template.id).order_by(Batch.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(Batch.id < before)
    rows = [tuple(r) for r in session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more else None)


def timeline(session: Session, employee: Employee) -> list[dict[str, Any]]:
    """What happened to an employee, newest first: interviews, documents, signatures, absences, trainings."""
    events: list[dict[str, Any]] = []
    for interview in session.scalars(select(Interview).where(Interview.matricule == employee.matricule)):
        events.append({"date": interview.date, "kind": "interview", "item": interview})
    documents = session.execute(
        select(Document, Template.name).join(TemplateVersion, Document.template_version_id == TemplateVersion.id)
        .join(Template, TemplateVersion.template_id == Template.id)
        .where(Document.matricule == employee.matricule)).all()
    latest = {}
    if documents:
        ids = [d.id for d, _ in documents]
        latest = dict(session.execute(select(DocumentVersion.document_id, func.max(DocumentVersion.number))
                                      .where(DocumentVersion.document_id.in_(ids))
                                      .group_by(DocumentVersion.document_id)).all())
    for document, template in documents:
        events.append({"date": document.created_at.date(), "kind": "document", "item": document, "template": template,
                       "latest": latest.get(document.id)})
    requests, _ = signature_requests(session, status=None, limit=200, matricule=employee.matricule)
    for row in requests:
        events.append({"date": row.request.created_at.date(), "kind": "signature", "item": row})
    for absence in employee.absences or ():
        events.append({"date": dt.date.fromisoformat(absence["date_debut"]), "kind": "absence", "item": absence})
    for training in employee.formations or ():
        events.append({"date": dt.date.fromisoformat(training["date_fin"]), "kind": "training", "item": training})
    return sorted(events, key=lambda e: e["date"], reverse=True)


# --- the due list, once per state of the data ------------------------------------------------------------

@dataclass
class _Memo:
    key: tuple[Any, ...] | None = None
    value: tuple[Dataset, list[DueInterview]] | None = None
    far: dt.date = dt.date.min
    lock: threading.Lock = field(default_factory=threading.Lock)


_MEMO: dict[int, _Memo] = {}
FAR_AHEAD = dt.timedelta(days=366 * 10)


def _state(session: Session) -> tuple[Any, ...]:
    """Changes whenever an employee or an interview is added or changed (two index-only aggregates)."""
    employees = session.execute(select(func.count(), func.max(Employee.updated_at)).select_from(Employee)).one()
    interviews = session.execute(select(func.count(), func.max(Interview.id), func.max(Interview.created_at))
                                 .select_from(Interview)).one()
    return (*employees, *interviews)


def warm_due_list(services: Any, on: dt.date) -> threading.Thread:
    """Compute the due list over everyone in a thread of its own (its own session), so that the next page
    after an import finds it ready; the thread, started."""
    def run() -> None:
        try:
            with services.db.session() as session:
                due_everyone(session, before=on, on=on, headcount=services.settings.headcount,
                             period_years=services.settings.epp_period_years)
        except Exception:  # noqa: BLE001 - only a head start: the page that needs it computes it and says what is wrong
            log.debug("due list warm-up failed", exc_info=True)

    thread = threading.Thread(target=run, name="parcours-due-list", daemon=True)
    thread.start()
    return thread


def due_everyone(session: Session, *, before: dt.date, on: dt.date, headcount: int,
                 period_years: int) -> tuple[Dataset, list[DueInterview], dict[str, str]]:
    """The legal calendar over everyone (service.due.due_list: deadline on or before `before`, late ones included),
    and the employees it could not compute (matricule → French reason), left out of the list,
    remembered per database until an employee or an interview changes: ten thousand employees take seconds to
    compute, and every page view would pay it. It is computed once far ahead and filtered here, so that the
    dashboard's horizon and the due list's date share it.

    An interview changed in place (its status, its date) changes no aggregate of _state: its change also records
    an audit event about the interview, so the latest of those is part of the key (other events, a sign-in, a
    signature, leave it as it is)."""
    from parcours.models import AuditEvent

    far = max(before, on + FAR_AHEAD)
    changed = session.scalar(select(func.max(AuditEvent.sequence)).where(AuditEvent.subject_type == "interview"))
    key = (*_state(session), changed, on, headcount, period_years)
    memo = _MEMO.setdefault(id(session.get_bind()), _Memo())
    with memo.lock:
        if memo.key != key or memo.value is None or memo.far < far:
            failures: dict[str, str] = {}
            memo.value = (*due.due_list(session, before=far, on=on, headcount=headcount, period_years=period_years,
                                        failures=failures), failures)
            memo.key, memo.far = key, far
        dataset, found, failures = memo.value
    return dataset, [d for d in found if d.overdue or d.deadline <= before], failures
