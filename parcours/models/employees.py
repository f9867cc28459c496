"""Employees as last imported, and their interviews (the spine of a campaign: one status a person understands)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from parcours.models.base import Base, utcnow


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


class Interview(Base):
    """An entretien, from « à planifier » to held, refused or cancelled: what the legal calendar counts."""

    __tablename__ = "interviews"
    __table_args__ = (Index("ix_interviews_employee", "matricule", "date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    matricule: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(30))
    """premier, periodique, etat_des_lieux, reprise, mi_carriere, avant_60, fin_mandat."""
    status: Mapped[str] = mapped_column(String(20))
    """to_plan, convoked, acknowledged, rescheduled, held, refused (by the employee), cancelled
    (parcours.service.interviews.STATUSES; only convoked, acknowledged and rescheduled count as planned)."""
    date: Mapped[dt.date] = mapped_column(Date)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    note: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    heure: Mapped[dt.time | None] = mapped_column(Time)
    lieu: Mapped[str | None] = mapped_column(String(500))
    lien_visio: Mapped[str | None] = mapped_column(String(500))
    interviewer_matricule: Mapped[str | None] = mapped_column(String(50))
    interviewer_name: Mapped[str | None] = mapped_column(String(300))
    interviewer_email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    """Why it is still « à planifier » (its convocation failed), or why it was cancelled."""
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
