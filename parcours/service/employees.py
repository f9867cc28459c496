"""Employees in the database: upsert from an imported docgen Dataset, and back to a Dataset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgen.context import Absence, Dataset, Employee as EmployeeData, Training
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
