"""Employees in the database: import files (upsert by matricule), search and page, and back to a Dataset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from docgen.dataset import Absence, Dataset, RowError, Training, load_dataset
from docgen.dataset import Employee as EmployeeData
from parcours.models import Employee

_FIELDS = [f.name for f in dataclasses.fields(EmployeeData)]


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    created: list[str]
    updated: list[str]


def upsert_dataset(session: Session, dataset: Dataset) -> UpsertResult:
    """Create or replace each employee of `dataset`, with its absences and trainings (by matricule)."""
    existing = {e.matricule: e for e in session.scalars(
        select(Employee).where(Employee.matricule.in_(list(dataset.employees))))}
    created, updated = [], []
    for matricule, data in dataset.employees.items():
        row = existing.get(matricule)
        if row is None:
            row = Employee(matricule=matricule)
            session.add(row)
            created.append(matricule)
        else:
            updated.append(matricule)
        for name in _FIELDS:
            setattr(row, name, getattr(data, name))
        row.absences = [{"motif": a.motif, "date_debut": a.date_debut.isoformat(), "date_fin": a.date_fin.isoformat()}
                        for a in dataset.absences_of(matricule)]
        row.formations = [{"intitule": t.intitule, "date_fin": t.date_fin.isoformat(),
                           "certifiante": t.certifiante, "obligatoire": t.obligatoire}
                          for t in dataset.trainings_of(matricule)]
    session.flush()
    return UpsertResult(created, updated)


def dataset_for(session: Session, matricules: Iterable[str] | None = None) -> Dataset:
    """The docgen Dataset of some employees (all when None), with their managers."""
    query = select(Employee)
    wanted = None if matricules is None else set(matricules)
    if wanted is not None:
        query = query.where(Employee.matricule.in_(wanted))
    rows = {e.matricule: e for e in session.scalars(query)}
    if wanted is not None:
        managers = {r.manager_matricule for r in rows.values() if r.manager_matricule} - set(rows)
        if managers:
            rows.update({e.matricule: e for e in session.scalars(select(Employee).where(Employee.matricule.in_(managers)))})
    return Dataset(
        employees={m: to_data(r) for m, r in rows.items()},
        absences={m: tuple(Absence(m, a["motif"], dt.date.fromisoformat(a["date_debut"]), dt.date.fromisoformat(a["date_fin"]))
                           for a in r.absences) for m, r in rows.items() if r.absences},
        trainings={m: tuple(Training(m, t["intitule"], dt.date.fromisoformat(t["date_fin"]), t["certifiante"], t["obligatoire"])
                            for t in r.formations) for m, r in rows.items() if r.formations},
    )


def to_data(row: Employee) -> EmployeeData:
    return EmployeeData(**{name: getattr(row, name) for name in _FIELDS})


# --- Import ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ImportReport:
    created: list[str]
    updated: list[str]
    skipped: tuple[RowError, ...]
    """The rows left out (only with skip_invalid)."""


def import_files(session: Session, sources: Mapping[str, bytes], names: Mapping[str, str], *,
                 skip_invalid: bool = False) -> ImportReport:
    """Import the "employees" file and the optional "absences", "formations" and "entretiens" files;
    flushes, does not commit.

    Raises DataImportError (nothing written) unless `skip_invalid`. A manager may be an employee
    already in the database and absent from the file. The entretiens rows are recorded as interviews
    (created_by « import »), once: a row already recorded (same matricule, date, type, status) is skipped.
    """
    # A manager may be an employee stored earlier and absent from this file.
    stored = set(session.scalars(select(Employee.matricule)))
    result = load_dataset(sources["employees"], sources.get("absences"), sources.get("formations"),
                          sources.get("entretiens"), names=names, skip_invalid=skip_invalid, known_managers=stored)
    upserted = upsert_dataset(session, result.dataset)
    if result.dataset.interviews is not None:
        _record_history(session, result.dataset)
    return ImportReport(upserted.created, upserted.updated, result.errors)


def _record_history(session: Session, dataset: Dataset) -> None:
    from parcours.models import Interview
    from parcours.service.interviews import stored

    matricules = list(dataset.interviews or {})
    known = {(i.matricule, i.date, i.type, i.status) for i in session.scalars(
        select(Interview).where(Interview.matricule.in_(matricules)))}
    for matricule in matricules:
        for item in dataset.interviews_of(matricule):
            if (matricule, item.date, item.type, stored(item.status)) not in known:
                session.add(Interview(matricule=matricule, type=item.type, status=stored(item.status), date=item.date,
                                      note="import (fichier entretiens)", created_by="import"))
    session.flush()


# --- Listing ------------------------------------------------------------------------------------

MAX_PAGE = 1000


@dataclasses.dataclass(frozen=True)
class EmployeeFilter:
    """What a listing keeps: exact service, site and manager; `q` within the last or first name."""

    service: str | None = None
    site: str | None = None
    manager: str | None = None
    q: str | None = None
    within: frozenset[str] | None = None
    """Only these matricules (a manager's team); None for everyone."""


def list_employees(session: Session, where: EmployeeFilter, limit: int,
                   after: str | None = None) -> tuple[list[Employee], str | None]:
    """One page ordered by matricule after the matricule `after`, and the cursor of the next page (or None)."""
    query = select(Employee).order_by(Employee.matricule).limit(limit + 1)
    if after is not None:
        query = query.where(Employee.matricule > after)  # keyset: the primary key index, at any depth
    if where.service:
        query = query.where(Employee.service == where.service)
    if where.site:
        query = query.where(Employee.site == where.site)
    if where.manager:
        query = query.where(Employee.manager_matricule == where.manager)
    if where.within is not None:
        query = query.where(Employee.matricule.in_(sorted(where.within)))
    if where.q and where.q.strip():
        query = query.where(_name_contains(session, where.q.strip()))
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].matricule  # the cursor is the last matricule, as documented
    return rows, None


def _name_contains(session: Session, text: str) -> ColumnElement[bool]:
    """nom or prenom contains `text`, whatever the case, accented letters included."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"  # typed % is literal
    if session.get_bind().dialect.name != "sqlite":
        return or_(Employee.nom.ilike(pattern, escape="\\"), Employee.prenom.ilike(pattern, escape="\\"))
    # SQLite's lower() and LIKE fold ASCII only (« É » stays): fold with Python's casefold instead.
    session.connection().connection.driver_connection.create_function(
        "parcours_casefold", 1, lambda value: value.casefold() if isinstance(value, str) else value,
        deterministic=True)
    pattern = pattern.casefold()
    return or_(func.parcours_casefold(Employee.nom).like(pattern, escape="\\"),
               func.parcours_casefold(Employee.prenom).like(pattern, escape="\\"))


def get_employee(session: Session, matricule: str) -> Employee | None:
    return session.get(Employee, matricule)
