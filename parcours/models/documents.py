"""Templates and documents, each with immutable versions, and the batches that make documents in bulk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parcours.models.base import Base, utcnow


class Template(Base):
    """A named template; its content lives in immutable versions."""

    __tablename__ = "templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", order_by="TemplateVersion.number")


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id"))
    number: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    inspection: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    template: Mapped[Template] = relationship(back_populates="versions")


class Document(Base):
    """A document for one employee from one template; its content lives in immutable versions."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    matricule: Mapped[str] = mapped_column(String(50), index=True)
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number")


class DocumentVersion(Base):
    """One immutable state of a document: its DOCX and PDF blobs and the data that produced them."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    """generated, prepared (signature fields added), signed, sealed, timestamped (archive renewal)."""
    docx_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int]
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id"))
    snapshot: Mapped[dict[str, Any]]
    """The exact template context, as typed JSON (docgen dates kept as dates)."""
    created_by: Mapped[str | None] = mapped_column(String(320))
    """Who made it: the token's label, the signer's e-mail, or "system" (sealing, archive timestamps).
    Null for versions made before migration 0006: their audit event says who."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    document: Mapped[Document] = relationship(back_populates="versions")


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, running, completed, failed (every document failed), cancelled."""
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    items: Mapped[list[BatchItem]] = relationship(back_populates="batch", order_by="BatchItem.position")


class BatchItem(Base):
    """One employee of a batch: its context snapshot, then its document or its error."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("batch_id", "matricule"), Index("ix_batch_items_status", "batch_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    position: Mapped[int]
    matricule: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, done, failed, cancelled."""
    snapshot: Mapped[dict[str, Any] | None]
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    error: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[Batch] = relationship(back_populates="items")
