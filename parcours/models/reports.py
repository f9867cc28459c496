"""After the interview: the compte rendu's content as the interviewer writes it (each save a version), and
the signed copies delivered (the employee's personal download link, kept as its sha256)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcours.models.base import Base, utcnow


class ReportContent(Base):
    """One saved version of an interview's compte rendu content: the sections, as entered (drafts are kept)."""

    __tablename__ = "report_contents"
    __table_args__ = (UniqueConstraint("interview_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    sections: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    """draft (saved as it was), or complete (every required section filled: it may become the compte rendu)."""
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    """The compte rendu generated from this version, if any."""


class CopyLink(Base):
    """The employee's personal link to download his signed copy (or the refused version): valid 90 days."""

    __tablename__ = "copy_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_downloaded_at: Mapped[dt.datetime | None]
