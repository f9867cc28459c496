"""A document's history for auditors: every version and what made it, its signature requests, the
audit events about the document or its requests, and whether the whole audit chain holds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from parcours.errors import NotFound
from parcours.models import AuditEvent, Document, DocumentVersion, SignatureRequest
from parcours.service import audit
from signing.audit import ChainReport

MAKERS = {"generated": "document.generated", "prepared": "signature_request.created", "signed": "signed",
          "sealed": "completed", "timestamped": "archive.refreshed"}
"""The audit event recorded when a version of each kind is made."""


@dataclass(frozen=True)
class VersionEntry:
    """A version and the audit event that recorded its making (None if the trail has none)."""

    version: DocumentVersion
    event: AuditEvent | None

    @property
    def created_by(self) -> str | None:
        # Versions made before migration 0006 have no author column: their event names the actor.
        if self.version.created_by is not None:
            return self.version.created_by
        return self.event.actor if self.event is not None else None


@dataclass(frozen=True)
class History:
    document: Document
    versions: list[VersionEntry]
    requests: list[SignatureRequest]
    events: list[AuditEvent]
    """In chain order."""
    chain: ChainReport
    """The whole chain, verified now."""


def _made_version(event: AuditEvent) -> int | None:
    """The version number an event says it made, if it is a making event."""
    data = event.data or {}
    number = data.get("prepared_version" if event.type == "signature_request.created" else "version")
    return number if isinstance(number, int) and event.type in MAKERS.values() else None


def _makers(versions: list[DocumentVersion], events: list[AuditEvent]) -> list[VersionEntry]:
    """Each version with the first event of the right type naming its number (a later request reusing
    a prepared version names it again: the first one made it)."""
    claimed: dict[tuple[str, int], AuditEvent] = {}
    for event in events:
        number = _made_version(event)
        if number is not None:
            claimed.setdefault((event.type, number), event)
    return [VersionEntry(v, claimed.get((MAKERS.get(v.kind, ""), v.number))) for v in versions]


def document_history(session: Session, document_id: int) -> History:
    """The history of one document; 404 when it does not exist."""
    document = session.get(Document, document_id, options=[selectinload(Document.versions)])
    if document is None:
        raise NotFound("Document introuvable", f"Aucun document n'a l'identifiant {document_id}.")
    requests = list(session.scalars(select(SignatureRequest).where(SignatureRequest.document_id == document_id)
                                    .options(selectinload(SignatureRequest.signers)).order_by(SignatureRequest.id)))
    about = [and_(AuditEvent.subject_type == "document", AuditEvent.subject_id == str(document_id))]
    if requests:
        about.append(and_(AuditEvent.subject_type == "signature_request",
                          AuditEvent.subject_id.in_([str(r.id) for r in requests])))
    events = list(session.scalars(select(AuditEvent).where(or_(*about)).order_by(AuditEvent.sequence)))
    return History(document, _makers(list(document.versions), events), requests, events, audit.verify(session))
