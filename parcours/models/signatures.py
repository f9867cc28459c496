"""Signature requests: a document to sign by its signers in order (manager, then employee)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parcours.models.base import Base, utcnow


class SignatureRequest(Base):
    """One round of signatures on a document. Its versions (prepared, signed…, sealed) are document versions."""

    __tablename__ = "signature_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, completed, refused, expired, cancelled."""
    require_code: Mapped[bool] = mapped_column(Boolean, default=False)
    prepared_version: Mapped[int] = mapped_column(Integer)
    """The document version with the empty fields, signed first."""
    final_version: Mapped[int | None] = mapped_column(Integer)
    """The sealed (B-LTA) version, once completed."""
    expires_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    """When it was refused, expired or cancelled."""
    end_reason: Mapped[str | None] = mapped_column(Text)
    """The signer's reason for a refusal, or HR's for a cancellation."""
    signers: Mapped[list[Signer]] = relationship(back_populates="request", order_by="Signer.position")


class Signer(Base):
    """One signer of a request. The link token is only kept as its sha256, and made when the signer's turn comes."""

    __tablename__ = "signature_signers"
    __table_args__ = (UniqueConstraint("request_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("signature_requests.id"))
    position: Mapped[int]
    role: Mapped[str] = mapped_column(String(20))
    """manager or salarie."""
    title: Mapped[str] = mapped_column(String(200))
    """What the certificate and the visible signature say the signer is (poste, "Salarié")."""
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    """waiting (not their turn), sent, viewed, signed, refused."""
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sent_at: Mapped[dt.datetime | None]
    viewed_at: Mapped[dt.datetime | None]
    signed_at: Mapped[dt.datetime | None]
    refused_at: Mapped[dt.datetime | None]
    comments: Mapped[str | None] = mapped_column(Text)
    signed_version: Mapped[int | None] = mapped_column(Integer)
    certificate_serial: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[dt.datetime | None]
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    code_verified_at: Mapped[dt.datetime | None]
    request: Mapped[SignatureRequest] = relationship(back_populates="signers")
