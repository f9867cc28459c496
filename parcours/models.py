"""The database: SQLAlchemy 2 models. Versions and blobs are immutable; nothing here is deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(TypeDecorator):
    """A moment, always given back aware in UTC: SQLite hands back naive datetimes, PostgreSQL aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UtcDateTime}


class ApiToken(Base):
    """An API token: only its sha256 is kept; the token itself is shown once at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


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


class Employee(Base):
    """An employee as last imported (upsert by matricule), with absences and trainings."""

    __tablename__ = "employees"
    matricule: Mapped[str] = mapped_column(String(50), primary_key=True)
    civilite: Mapped[str] = mapped_column(String(10))
    nom: Mapped[str] = mapped_column(String(200))
    prenom: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    date_naissance: Mapped[dt.date] = mapped_column(Date)
    date_entree: Mapped[dt.date] = mapped_column(Date)
    poste: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(200), index=True)
    manager_matricule: Mapped[str | None] = mapped_column(String(50))
    date_dernier_entretien: Mapped[dt.date | None] = mapped_column(Date)
    date_sortie: Mapped[dt.date | None] = mapped_column(Date)
    type_contrat: Mapped[str] = mapped_column(String(30), default="cdi", server_default="cdi")
    date_fin_contrat: Mapped[dt.date | None] = mapped_column(Date)
    date_visite_mi_carriere: Mapped[dt.date | None] = mapped_column(Date)
    absences: Mapped[list[Any]] = mapped_column(default=list)
    formations: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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


class Job(Base):
    """Background work: a row claimed with a lease, so a crashed worker's job is taken up again."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="queued")
    """queued, running, done, failed."""
    run_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Interview(Base):
    """An entretien planned, held or refused by the employee: what the legal calendar counts."""

    __tablename__ = "interviews"
    __table_args__ = (Index("ix_interviews_employee", "matricule", "date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    matricule: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(30))
    """premier, periodique, etat_des_lieux, reprise, mi_carriere, avant_60, fin_mandat."""
    status: Mapped[str] = mapped_column(String(20))
    """planned, held, refused (by the employee)."""
    date: Mapped[dt.date] = mapped_column(Date)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
from parcours import webhook_models  # noqa: E402,F401 - the webhook tables join the metadata
from parcours import audit_models  # noqa: E402,F401 - the audit tables join the metadata
from parcours import signature_models  # noqa: E402,F401 - the signature tables join the metadata
