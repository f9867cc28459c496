"""Who must be convoked, by when, and for what: the legal calendar over the stored employees and
interviews, and batches of convocations made from it."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from docgen.calendar import DueInterview, PastInterview, due_before, due_interviews
from docgen.dataset import Dataset, decode_text
from docgen.values import ValuesError, deep_merge, parse_date, parse_time
from parcours.container import Services
from parcours.errors import Invalid, NotFound
from parcours.models import Batch, BatchItem, Interview
from parcours.service import batches, interviews
from parcours.service.employees import dataset_for

DEFAULT_TEMPLATE = "convocation"
WEEKDAYS = (0, 1, 2, 3, 4)


def history(session: Session, dataset: Dataset, on: dt.date) -> dict[str, list[PastInterview]]:
    """Each employee's interviews as known on `on`: those recorded here, and the last one the
    imported data gives (`date_dernier_entretien`, a held periodic interview unless recorded already)."""
    recorded = interviews.of_employees(session, list(dataset.employees))
    found: dict[str, list[PastInterview]] = {}
    for matricule, employee in dataset.employees.items():
        # Seen from an earlier date, what was held later has not happened yet.
        # Only an interview whose convocation was sent counts as planned; one « à planifier » does not.
        past = [p for p in (PastInterview(i.date, i.type, interviews.calendar_status(i.status))
                            for i in recorded.get(matricule, []) if interviews.calendar_status(i.status))
                if p.known_on(on)]
        last = employee.date_dernier_entretien
        if last is not None and last <= on and not any(p.date == last for p in past):
            past.append(PastInterview(last, "periodique", "held"))
        found[matricule] = sorted(past, key=lambda p: p.date)
    return found


def due_list(session: Session, *, before: dt.date, on: dt.date, headcount: int, period_years: int,
             matricules: Sequence[str] | None = None,
             failures: dict[str, str] | None = None) -> tuple[Dataset, list[DueInterview]]:
    """The due list; employees whose interviews cannot be computed are left out and named in
    `failures` (matricule → French reason): one bad record must not stop the list for everyone."""
    dataset = dataset_for(session, matricules)
    failures = {} if failures is None else failures
    try:
        found = due_before(dataset, history(session, dataset, on), before=before, on=on, headcount=headcount,
                           period_years=period_years, failures=failures)
    except ValueError as exc:
        raise Invalid("Valeurs invalides", str(exc)) from None
    if matricules is not None:
        found = [d for d in found if d.matricule in set(matricules)]
    return dataset, found


def for_employee(session: Session, matricule: str, *, on: dt.date, headcount: int,
                 period_years: int) -> list[DueInterview]:
    dataset = dataset_for(session, [matricule])
    if matricule not in dataset.employees:
        raise NotFound("Salarié introuvable", f"Aucun salarié n'a le matricule « {matricule} ».")
    try:
        return due_interviews(dataset.employees[matricule], interviews=history(session, dataset, on)[matricule],
                              absences=dataset.absences_of(matricule), trainings=dataset.trainings_of(matricule),
                              on=on, headcount=headcount, period_years=period_years)
    except ValueError as exc:
        raise Invalid("Valeurs invalides", str(exc)) from None


# --- planning -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    date: dt.date
    heure: dt.time
    lieu: str | None = None
    lien_visio: str | None = None


def slots_from_rule(rule: Mapping[str, Any], count: int, not_before: dt.date) -> list[Slot]:
    """`count` slots: from `debut` on, the given `heures` of each working day (`jours`, Monday = 0)."""
    try:
        start = parse_date(rule.get("debut") or not_before.isoformat(), "creneaux.debut")
        hours = [parse_time(h, "creneaux.heures") for h in rule.get("heures") or ["09:00", "10:30", "14:00", "15:30"]]
    except ValuesError as exc:
        raise Invalid("Valeurs invalides", errors=[{"field": "creneaux", "reason": str(exc)}]) from None
    days = rule.get("jours", list(WEEKDAYS))
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise Invalid("Valeurs invalides", errors=[{"field": "creneaux.jours", "reason": "liste de jours, lundi = 0"}])
    slots, day = [], max(start, not_before)
    while len(slots) < count:
        if day.weekday() in days:
            slots += [Slot(day, hour, rule.get("lieu"), rule.get("lien_visio")) for hour in sorted(hours)]
        day += dt.timedelta(days=1)
    return slots[:count]


def slots_from_planning(planning: Mapping[str, Any]) -> dict[str, Slot]:
    """{matricule: {date, heure, lieu?, lien_visio?}} given by HR for each employee."""
    found = {}
    for matricule, entry in planning.items():
        field = f"planning.{matricule}"
        if not isinstance(entry, Mapping):
            raise Invalid("Valeurs invalides", errors=[{"field": field, "reason": "objet {date, heure, lieu} attendu"}])
        try:
            found[matricule] = Slot(parse_date(entry.get("date"), f"{field}.date"),
                                    parse_time(entry.get("heure"), f"{field}.heure"),
                                    entry.get("lieu"), entry.get("lien_visio"))
        except ValuesError as exc:
            raise Invalid("Valeurs invalides", errors=[{"field": field, "reason": str(exc)}]) from None
    return found


def planning_from_csv(data: bytes, filename: str = "planning.csv") -> dict[str, dict[str, str]]:
    """A planning file as HR writes it in Excel: matricule, date, heure, and lieu or lien_visio.
    Comma or semicolon, UTF-8 (with or without BOM) or Windows-1252."""
    lines = decode_text(data).splitlines()
    if not lines:
        raise Invalid("Planning vide", errors=[{"file": filename, "reason": "le fichier est vide"}])
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.DictReader(lines, delimiter=delimiter))
    header = {(name or "").strip().lower() for name in (rows[0].keys() if rows else lines[0].split(delimiter))}
    missing = [c for c in ("matricule", "date", "heure") if c not in header]
    if missing:
        raise Invalid("Planning invalide", errors=[{"file": filename, "row": 1, "field": c,
                                                         "reason": "colonne obligatoire absente"} for c in missing])
    planning, errors = {}, []
    for number, row in enumerate(rows, start=2):
        entry = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(entry.values()):
            continue
        matricule = entry.get("matricule")
        if not matricule:
            errors.append({"file": filename, "row": number, "field": "matricule", "reason": "obligatoire"})
            continue
        if matricule in planning:
            errors.append({"file": filename, "row": number, "field": "matricule", "reason": "matricule en double"})
            continue
        planning[matricule] = {k: entry[k] for k in ("date", "heure", "lieu", "lien_visio") if entry.get(k)}
        try:
            slots_from_planning({matricule: planning[matricule]})
        except Invalid as exc:
            errors += [{"file": filename, "row": number, **error} for error in exc.errors or []]
        planning[matricule]["_row"] = number  # for a campaign's later checks, naming the row
    if errors:
        raise Invalid("Planning invalide : rien n'a été créé", errors=errors)
    return planning


# --- batches from the due list ------------------------------------------------------------------------

def create_batches(services: Services, session: Session, *, before: dt.date, on: dt.date, values: Mapping[str, Any],
                   templates: Mapping[str, str], planning: Mapping[str, Any] | None, rule: Mapping[str, Any] | None,
                   created_by: str, idempotency_key: str | None) -> list[Batch]:
    """One batch per template for everyone due before `before`, each employee's interview type,
    date, time and place set from the planning or the next free slot; the interviews are recorded
    as convoked in the same transactions (HR sends the letters), « à planifier » when the convocation fails."""
    settings = services.settings
    headcount = int(values.get("societe", {}).get("effectif") or settings.headcount)
    _, due = due_list(session, before=before, on=on, headcount=headcount, period_years=settings.epp_period_years)
    first = most_pressing(due)
    if not first:
        raise Invalid("Personne n'est à convoquer", f"Aucun entretien n'est dû avant le {before.isoformat()}.")
    planned = assign_slots(list(first), slots_from_planning(planning or {}), rule, max(on, settings.today()))
    groups: dict[str, list[str]] = {}
    for matricule, item in first.items():
        groups.setdefault(templates.get(item.type) or templates.get("*") or DEFAULT_TEMPLATE, []).append(matricule)
    made = []
    for template, matricules in sorted(groups.items()):
        raw = document_values(values, first, planned, matricules)
        recorded = {}
        for m in matricules:
            slot = planned[m]
            recorded[m] = Interview(matricule=m, type=first[m].type, status="convoked", date=slot.date,
                                    heure=slot.heure, lieu=slot.lieu, lien_visio=slot.lien_visio,
                                    note=f"convocation ({template})", created_by=created_by)
            session.add(recorded[m])
        key = f"{idempotency_key}:{template}" if idempotency_key else None
        digest = hashlib.sha256(json.dumps([template, matricules, raw], sort_keys=True, default=str).encode()).hexdigest()
        batch, created = batches.create_batch(services, session, template=template, template_version=None,
                                              matricules=matricules, raw_values=raw, uploaded=None,
                                              created_by=created_by, idempotency_key=key, request_hash=digest)
        if created:
            # A convocation that could not be made leaves its interview « à planifier », with the reason:
            # the calendar does not count it as planned.
            failed = dict(session.execute(select(BatchItem.matricule, BatchItem.error).where(
                BatchItem.batch_id == batch.id, BatchItem.status == "failed")).all())
            for m, error in failed.items():
                recorded[m].status, recorded[m].reason = "to_plan", error
            if failed:
                session.commit()
        made.append(batch)
    return made


def most_pressing(due: Sequence[DueInterview]) -> dict[str, DueInterview]:
    """The most pressing interview of each employee not yet planned: one convocation each."""
    first: dict[str, DueInterview] = {}
    for item in sorted(due, key=lambda d: d.deadline):
        if item.planned_on is None:
            first.setdefault(item.matricule, item)
    return first


def assign_slots(matricules: Sequence[str], planned: dict[str, Slot], rule: Mapping[str, Any] | None,
                 not_before: dt.date) -> dict[str, Slot]:
    """Each employee's slot: the planning's, else the next one the rule gives."""
    planned = {m: slot for m, slot in planned.items() if m in set(matricules)}
    free = [m for m in matricules if m not in planned]
    for matricule, slot in zip(free, slots_from_rule(rule or {}, len(free), not_before)):
        planned[matricule] = slot
    return planned


def document_values(values: Mapping[str, Any], first: Mapping[str, Any], planned: Mapping[str, Slot],
                    matricules: Sequence[str]) -> dict[str, Any]:
    """The values of a batch of convocations: each employee's interview type (`first[m].type`), day, time and place."""
    given = values.get("salaries") or {}
    # What HR said of an employee stays (an interlocuteur, say); the calendar sets type, day and time.
    per_employee = {m: deep_merge(given.get(m, {}), {"entretien": _entretien(first[m].type, planned[m])})
                    for m in matricules}
    # Every employee has a day and time of their own; the common ones (checked for the whole
    # batch) default to the earliest, so that a batch needs none from the user.
    earliest = min((planned[m] for m in matricules), key=lambda slot: (slot.date, slot.heure))
    common = {**_entretien(first[matricules[0]].type, earliest), **(values.get("entretien") or {})}
    return {**values, "entretien": common, "salaries": per_employee}


def _entretien(type: str, slot: Slot) -> dict[str, Any]:
    entretien: dict[str, Any] = {"type": type, "date": slot.date.isoformat(), "heure": slot.heure.strftime("%H:%M")}
    if slot.lieu:
        entretien["lieu"] = slot.lieu
    if slot.lien_visio:
        entretien["lien_visio"] = slot.lien_visio
    return entretien
