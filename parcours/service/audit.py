"""The audit trail in the database: append an event in the caller's transaction, verify the chain, anchor its head.

Appending is serialised so that two transactions never fork the chain: on PostgreSQL a
transaction-level advisory lock (released at commit or rollback) is taken before the head is read; on
SQLite the transaction takes the database write lock first (BEGIN IMMEDIATE, or the lock already held
by the caller's earlier writes), so the head is read under the lock. The head is read in READ
COMMITTED (PostgreSQL's default), so a transaction that waited on the lock sees the event committed
before it. Nothing here updates or deletes an event; triggers (migration 0004) refuse it anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from parcours.container import Services
from parcours.jobs.runner import complete, enqueue, handler
from parcours.models import AuditAnchor, AuditEvent, Job, utcnow
from parcours.service import pki as instance_pki
from signing import audit as chain
from signing.audit import ChainAnchor, ChainReport, Event, TimeStamper

ADVISORY_LOCK_KEY = 0x5061_7263_4175_6474 & 0x7FFF_FFFF_FFFF_FFFF
"""pg_advisory_xact_lock key of the chain ("ParcAudt")."""
BATCH = 5000

# The event types of issue 4 (others may be added; the chain does not restrict them).
TYPES = ("document.generated", "signature_request.created", "email.sent", "link.opened", "code.checked",
         "signed", "refused", "expired", "completed", "downloaded", "archive.refreshed",
         "evidence.downloaded")


@dataclass(frozen=True)
class Actor:
    """Who an event names: a person (a user, signed in or through a personal token), a service account
    (a token without a user), a signer through a link, the command line or the system."""

    label: str
    """The event's `actor` column: « Camille Martin <camille.martin@example.fr> », a token's label…"""
    method: str
    """How they were authenticated: password, sso, token, link, cli, system."""
    user_id: int | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()
    """The roles at the time of the event (a token: its own role)."""
    token_id: int | None = None

    def describe(self) -> dict[str, Any]:
        """What the event's data keeps of them (`acteur`), so that a later change of roles rewrites nothing."""
        found: dict[str, Any] = {"methode": self.method, "roles": list(self.roles)}
        if self.user_id is not None:
            found["utilisateur"] = self.user_id
        if self.name:
            found["nom"] = self.name
        if self.token_id is not None:
            found["jeton"] = self.token_id
        return found


SYSTEM = Actor("system", "system")


def label(actor: str | Actor | None) -> str | None:
    """What a `created_by` column keeps of an actor."""
    return actor.label if isinstance(actor, Actor) else actor


def lock_chain(session: Session) -> None:
    """Hold the chain's append lock until the caller's transaction ends (appending takes it too: a caller
    takes it first when what it reads before appending must not change meanwhile)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:  # no write yet: take the write lock now, before reading the head
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        # else: pysqlite began the transaction for an earlier write, which took the write lock.
    else:  # pragma: no cover - other databases are not supported by the service
        raise RuntimeError(f"the audit trail does not know how to lock on {dialect}")


@dataclass(frozen=True)
class Entry:
    """An event to append (record_all)."""

    type: str
    subject_type: str | None
    subject_id: Any
    actor: str | Actor | None
    data: Mapping[str, Any] | None = None
    ip: str | None = None
    user_agent: str | None = None
    time: dt.datetime | None = None


def record(session: Session, type: str, *, subject_type: str | None, subject_id: Any, actor: str | Actor | None,
           data: Mapping[str, Any] | None = None, ip: str | None = None, user_agent: str | None = None,
           time: dt.datetime | None = None) -> AuditEvent:
    """Append an event to the chain in the caller's transaction (rolled back with it). An `Actor` is named
    in the `actor` column by its label and described in the data (`acteur`)."""
    return AuditEvent(**record_all(session, [Entry(type, subject_type, subject_id, actor, data, ip, user_agent, time)])[0])


def record_all(session: Session, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Append events in their order, in the caller's transaction: the head is read once and the rows
    inserted together (a batch records a group of documents at once). Returns the rows inserted."""
    prepared = []
    for entry in entries:
        data, actor = dict(entry.data or {}), entry.actor
        if isinstance(actor, Actor):
            data["acteur"] = actor.describe()
            actor = actor.label
        chain.canonical_json(data)  # refuse floats and other values before taking the lock
        prepared.append((entry, None if entry.subject_id is None else str(entry.subject_id), actor, data))
    if not prepared:
        return []
    lock_chain(session)
    head = session.execute(select(AuditEvent.sequence, AuditEvent.hash)
                           .order_by(AuditEvent.sequence.desc()).limit(1)).first()
    sequence, prev_hash = (1, chain.GENESIS) if head is None else (head.sequence + 1, head.hash)
    rows = []
    for entry, subject, actor, data in prepared:
        moment = (entry.time or utcnow()).astimezone(dt.timezone.utc)
        digest = chain.link(prev_hash, sequence, entry.type, moment, entry.subject_type, subject, actor, data,
                            entry.ip, entry.user_agent)
        rows.append(dict(sequence=sequence, time=moment, type=entry.type, subject_type=entry.subject_type,
                         subject_id=subject, actor=actor, ip=entry.ip, user_agent=entry.user_agent, data=data,
                         prev_hash=prev_hash, hash=digest))
        sequence, prev_hash = sequence + 1, digest
    # Inserted into the table rather than through the ORM (an event is never changed afterwards): a batch
    # records one per document, and an ORM flush cost several times more.
    session.execute(insert(AuditEvent.__table__), rows)
    return rows


def to_event(row: Any) -> Event:
    """The engine's Event for a row (ORM object or a row of the same columns)."""
    return Event(row.sequence, chain.format_time(row.time), row.type, row.subject_type, row.subject_id, row.actor,
                 row.data, row.prev_hash, row.hash, row.ip, row.user_agent)


_COLUMNS = (AuditEvent.sequence, AuditEvent.time, AuditEvent.type, AuditEvent.subject_type, AuditEvent.subject_id,
            AuditEvent.actor, AuditEvent.data, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.ip,
            AuditEvent.user_agent)


def _anchor(row: Any) -> ChainAnchor:
    return ChainAnchor(row.sequence, row.head_hash, bytes(row.token), row.created_at)


def verify(session: Session, *, batch_size: int = BATCH, check_tokens: bool = True) -> ChainReport:
    """Recompute the whole chain, reading events in sequence order by pages of `batch_size` (keyset).

    Events appended while it runs are not waited for: the chain is read up to the head seen at the
    start. Anchors are read along, page by page, and checked as their sequence goes by.
    """
    last = session.scalar(select(func.max(AuditEvent.sequence))) or 0
    verifier = chain.ChainVerifier(check_tokens=check_tokens)
    after = 0
    while after < last and not verifier.broken:
        rows = session.execute(select(*_COLUMNS).where(AuditEvent.sequence > after, AuditEvent.sequence <= last)
                               .order_by(AuditEvent.sequence).limit(batch_size)).all()
        if not rows:
            break
        upto = rows[-1].sequence
        verifier.add_anchors(_anchor(a) for a in session.execute(
            select(AuditAnchor.sequence, AuditAnchor.head_hash, AuditAnchor.token, AuditAnchor.created_at)
            .where(AuditAnchor.sequence > after, AuditAnchor.sequence <= upto)))
        for row in rows:
            if not verifier.feed(to_event(row)):
                break
        after = upto
    if not verifier.broken:
        # An anchor past the last event: the end of the chain was removed.
        beyond = session.execute(select(AuditAnchor.sequence, AuditAnchor.head_hash, AuditAnchor.token,
                                        AuditAnchor.created_at).where(AuditAnchor.sequence > verifier.next_sequence - 1)
                                 .order_by(AuditAnchor.sequence).limit(1)).first()
        if beyond is not None:
            verifier.add_anchors([_anchor(beyond)])
    return verifier.report()


def events(session: Session, *, subject_type: str | None = None, subject_id: str | None = None,
           after: int = 0, limit: int = 100) -> list[AuditEvent]:
    """A page of events in sequence order, after the sequence `after`, optionally about one subject."""
    query = select(AuditEvent).where(AuditEvent.sequence > after)
    if subject_type is not None:
        query = query.where(AuditEvent.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    return list(session.scalars(query.order_by(AuditEvent.sequence).limit(limit)))


def iter_events(session: Session, batch_size: int = BATCH) -> Iterator[Event]:
    """Every event in order, as engine Events, read by pages (for exports)."""
    after = 0
    while True:
        rows = session.execute(select(*_COLUMNS).where(AuditEvent.sequence > after)
                               .order_by(AuditEvent.sequence).limit(batch_size)).all()
        if not rows:
            return
        for row in rows:
            yield to_event(row)
        after = rows[-1].sequence


def anchor(session: Session, timestamper: TimeStamper | Any) -> AuditAnchor | None:
    """Timestamp the chain's current head and keep the token; None when the chain is empty.

    The head is read without the append lock (the TSA may take a while; later events are simply
    covered by the next anchor). The token's imprint is checked before it is kept.
    """
    head = session.execute(select(AuditEvent.sequence, AuditEvent.hash)
                           .order_by(AuditEvent.sequence.desc()).limit(1)).first()
    if head is None:
        return None
    token = chain.request_token(timestamper, chain.anchor_digest(head.hash))
    chain.check_anchor(ChainAnchor(head.sequence, head.hash, token))  # the TSA's time is in the token
    row = AuditAnchor(sequence=head.sequence, head_hash=head.hash, token=token, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def anchor_if_due(session: Session, timestamper: TimeStamper | Any,
                  max_age: dt.timedelta = dt.timedelta(days=1)) -> AuditAnchor | None:
    """Anchor when events were appended since the last anchor and that anchor is older than `max_age`."""
    last = session.execute(select(AuditAnchor.sequence, AuditAnchor.created_at)
                           .order_by(AuditAnchor.sequence.desc(), AuditAnchor.id.desc()).limit(1)).first()
    head = session.scalar(select(func.max(AuditEvent.sequence))) or 0
    if head == 0 or (last is not None and last.sequence >= head):
        return None
    if last is not None:
        if utcnow() - last.created_at < max_age:
            return None
    return anchor(session, timestamper)


# --- the daily anchor ---------------------------------------------------------------------------------

ANCHOR_JOB = "audit_anchor"
ANCHOR_EVERY = dt.timedelta(days=1)


def schedule_daily_anchor(session: Session) -> None:
    """Make sure a daily anchoring job is waiting (at start-up); it plans the next one itself."""
    lock_chain(session)  # processes starting together (several workers) would each plan one
    waiting = session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == ANCHOR_JOB, Job.status.in_(("queued", "running"))))
    if not waiting:
        enqueue(session, ANCHOR_JOB, {})


@handler(ANCHOR_JOB)
def _daily_anchor(services: Services, job: Job) -> None:
    """Timestamp the chain's head if it moved since yesterday's anchor; then plan tomorrow's."""
    with services.db.session() as session:
        anchor_if_due(session, instance_pki.timestamper(services.settings), max_age=ANCHOR_EVERY)
    with services.db.session() as session:
        enqueue(session, ANCHOR_JOB, {}, run_at=utcnow() + ANCHOR_EVERY)
        complete(session, job)

