"""What a signed or refused compte rendu does to its interview: the one place that moves an interview on
after its documents: an open one (à planifier, convoqué, convocation reçue, reporté) becomes « tenu », its note
saying « compte rendu signé » or « refus de signature »."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.models import Interview
from parcours.service import audit, interviews
from parcours.service.audit import Actor

SIGNED, REFUSED = "compte rendu signé", "refus de signature"


def of_document(session: Session, document_id: int) -> Interview | None:
    """The interview whose compte rendu (or état des lieux) this document is, if one is linked."""
    return session.scalar(select(Interview).where(Interview.document_id == document_id,
                                                  Interview.status != "cancelled").order_by(Interview.id.desc()).limit(1))


def document_signed(session: Session, document_id: int, *, delivered_on: dt.date) -> Interview | None:
    """Every signature is in and the copy delivered: the interview is held (the calendar counts it)."""
    return _held(session, document_id, f"Tenu, {SIGNED} ; copie remise le {delivered_on.isoformat()}.", delivered_on)


def signature_refused(session: Session, document_id: int, *, refused_on: dt.date) -> Interview | None:
    """The compte rendu was refused: the interview was held all the same (the refusal is written in the document)."""
    return _held(session, document_id, f"Tenu, {REFUSED} le {refused_on.isoformat()}.", refused_on)


def _held(session: Session, document_id: int, note: str, today: dt.date) -> Interview | None:
    interview = of_document(session, document_id)
    if interview is None:
        return None
    if interview.status in interviews.OPEN and interview.date <= today:
        return interviews.change(session, interview.id, status="held", today=today, note=note, by="system")
    return interview


def attach_document(session: Session, interview: Interview, document_id: int, *, by: str | Actor) -> None:
    """The compte rendu generated for this interview becomes its document (an audit event)."""
    before = interview.document_id
    interview.document_id = document_id
    session.flush()
    audit.record(session, "interview.document", subject_type="interview", subject_id=interview.id, actor=by,
                 data={"document_id": document_id, "before": before})
