"""Campaigns and what hangs off their interviews: convocation versions, their e-mails, acknowledgement links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from parcours.models.base import Base, utcnow


class Campaign(Base):
    """A name, a period and a population: the interviews the legal calendar says are due, planned together."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    reference_date: Mapped[dt.date] = mapped_column(Date)
    """The day the due list was read (« on »)."""
    population: Mapped[dict[str, Any]]
    """{"services": [...], "sites": [...], "managers": [...], "matricules": [...]} or {} for everyone."""
    settings: Mapped[dict[str, Any]]
    """templates per interview type, the trame template, the values given to documents, the slot rule."""
    batch_ids: Mapped[list[Any]]
    """The batches that made its first convocations and trames."""
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Convocation(Base):
    """One version of an interview's convocation (a move makes the next one; a cancellation is the last,
    with method CANCEL): its documents, the slot it announces, when it was sent and acknowledged."""

    __tablename__ = "convocations"
    __table_args__ = (Index("ix_convocations_interview", "interview_id", "version", unique=True),
                      Index("ix_convocations_status", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    version: Mapped[int]
    method: Mapped[str] = mapped_column(String(10), default="REQUEST")
    """REQUEST (an invitation, a new one after a move) or CANCEL."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending (documents being made), sending, sent, failed (no document: see error), paper, superseded."""
    date: Mapped[dt.date] = mapped_column(Date)
    heure: Mapped[dt.time] = mapped_column(Time)
    lieu: Mapped[str | None] = mapped_column(String(500))
    lien_visio: Mapped[str | None] = mapped_column(String(500))
    batch_item_id: Mapped[int | None] = mapped_column(ForeignKey("batch_items.id"))
    trame_item_id: Mapped[int | None] = mapped_column(ForeignKey("batch_items.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    trame_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_ip: Mapped[str | None] = mapped_column(String(100))
    acknowledged_user_agent: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConvocationMessage(Base):
    """One e-mail of a convocation version to one person (the employee, the interviewer), sent by a job;
    its Message-ID is fixed beforehand, so a resend after a crash carries the same one."""

    __tablename__ = "convocation_messages"
    __table_args__ = (Index("ix_convocation_messages_convocation", "convocation_id", "role", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    convocation_id: Mapped[int] = mapped_column(ForeignKey("convocations.id"))
    role: Mapped[str] = mapped_column(String(20))
    """salarie or interlocuteur."""
    to: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, sent, failed (refused by the SMTP server; retried by a job while attempts remain)."""
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AcknowledgementLink(Base):
    """A personal link « J'ai bien reçu ma convocation », stored as its sha256 (one per message sent)."""

    __tablename__ = "acknowledgement_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    convocation_id: Mapped[int] = mapped_column(ForeignKey("convocations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
