"""Webhook tables: endpoints (subscriptions), messages (the outbox, one per event and endpoint), attempts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.models.base import Base, utcnow


class WebhookEndpoint(Base):
    """A receiver's URL and the events it wants. Deleting one keeps its row (and its messages) as a record."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[Any] | None]
    """Event names it receives; None for every event."""
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    """Why it stopped: disabled by hand, or the receiver answered 410 Gone."""
    secret: Mapped[str] = mapped_column(String(100))
    """The signing secret (whsec_…): kept as is, since signing needs it; shown once through the API."""
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    """After a rotation, the old secret keeps signing alongside the new one until previous_secret_until."""
    previous_secret_until: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]


class WebhookMessage(Base):
    """An event for one endpoint, written in the transaction of the change that caused it (the outbox)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (Index("ix_webhook_messages_endpoint", "endpoint_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    """msg_…: the webhook-id header, the same on every attempt (receivers deduplicate on it)."""
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    """The JSON sent, {type, timestamp, data}, byte for byte the same on every attempt."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending (an attempt is due), delivered, failed (schedule exhausted, 410, endpoint gone)."""
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts made in the current round of the schedule (a redelivery starts a new round)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts made in all."""
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    """Number of the delivery job that may run next; a job carrying another number is stale and does nothing."""
    next_attempt_at: Mapped[dt.datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]


class WebhookAttempt(Base):
    """One try at delivering a message; only the last few are kept per message, excerpts cut to 1 KiB."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_message", "message_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_messages.id"))
    number: Mapped[int]
    """1 for the first attempt of the message, counting across redeliveries."""
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(500))
