"""Employee data model, CSV/XLSX/JSON import with row-level errors, and the templates' context."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from docgen import formatting

# --- Reference data --------------------------------------------------------------------------

ABSENCE_LABELS: Mapping[str, str] = MappingProxyType({
    "conge_maternite": "congé de maternité",
    "conge_parental_education": "congé parental d’éducation",
    "conge_proche_aidant": "congé de proche aidant",
    "conge_adoption": "congé d’adoption",
    "conge_sabbatique": "congé sabbatique",
    "mobilite_volontaire_securisee": "période de mobilité volontaire sécurisée",
    "arret_longue_maladie": "arrêt longue maladie",
    "fin_mandat_syndical": "fin de mandat syndical",
})

INTERVIEW_LABELS: Mapping[str, str] = MappingProxyType({
    "premier": "premier entretien de parcours professionnel",
    "periodique": "entretien de parcours professionnel périodique",
    "etat_des_lieux": "état des lieux récapitulatif du parcours professionnel",
    "reprise": "entretien de parcours professionnel à la reprise d’activité",
    "mi_carriere": "entretien de mi-carrière",
    "avant_60": "entretien de parcours professionnel avant 60 ans",
    "fin_mandat": "entretien de fin de mandat",
})

INTERVIEW_TITLES: Mapping[str, str] = MappingProxyType({
    "premier": "Premier entretien de parcours professionnel",
    "periodique": "Entretien de parcours professionnel",
    "etat_des_lieux": "État des lieux récapitulatif du parcours professionnel",
    "reprise": "Entretien de parcours professionnel à la reprise d’activité",
    "mi_carriere": "Entretien de mi-carrière",
    "avant_60": "Entretien de parcours professionnel avant 60 ans",
    "fin_mandat": "Entretien de fin de mandat",
})

ABONDEMENT_CORRECTIF = 3000  # euros, L6323-13 / R6323-3
ABONDEMENT_MIN_EFFECTIF = 50
REVIEW_YEARS = 8  # état des lieux récapitulatif
EPP_PERIOD_YEARS = 4

_CIVILITE_ALIASES = {"m.": "M.", "m": "M.", "monsieur": "M.", "mme": "Mme", "madame": "Mme"}
_BOOLEANS = {
    "oui": True, "non": False, "true": True, "false": False, "1": True, "0": False,
    "yes": True, "no": False, "vrai": True, "faux": False,  # French Excel writes VRAI/FAUX
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FR_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


# --- Errors ----------------------------------------------------------------------------------

class ContextError(ValueError):
    """Base of the errors of this module: the message is French and meant for the user."""


class UnknownEmployeeError(ContextError, LookupError):
    """No employee has this matricule."""


class InterviewError(ContextError):
    """The interview, company or letter details are incomplete or inconsistent."""


@dataclass(frozen=True)
class RowError:
    """One problem in an imported file."""

    file: str
    """The file name as the user knows it (with the JSON section when relevant)."""
    row: int | None
    """Line number as Excel shows it (header = 1); position in the list for JSON; None for the file."""
    column: str | None
    """Canonical column name (e.g. ``date_naissance``), None when the problem is not one cell."""
    value: str | None
    """The offending value as read, None when not applicable."""
    reason: str
    """What is wrong, in French."""

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            unit = "élément" if ".json" in self.file.lower() else "ligne"
            where.append(f"{unit} {self.row}")
        if self.column is not None:
            where.append(f"colonne « {self.column} »")
        text = ", ".join(where)
        if self.value not in (None, ""):
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "…"
            text += f" (valeur « {shown} »)"
        return f"{text} : {self.reason}"


class DataImportError(ContextError):
    """The files could not be imported; `errors` lists every problem found."""

    def __init__(self, errors: Iterable[RowError]):
        self.errors: tuple[RowError, ...] = tuple(errors)
        super().__init__(self._message())

    def _message(self) -> str:
        count = len(self.errors)
        title = f"Import impossible : {count} erreur{'s' if count > 1 else ''}."
        return "\n".join([title, *(f"- {error}" for error in self.errors)])

    def __str__(self) -> str:
        return self._message()


# --- Data model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Employee:
    """One row of employees.csv."""

    matricule: str
    civilite: str
    """« M. » or « Mme »."""
    nom: str
    prenom: str
    email: str
    date_naissance: dt.date
    date_entree: dt.date
    poste: str
    service: str
    site: str
    manager_matricule: str | None = None
    date_dernier_entretien: dt.date | None = None


@dataclass(frozen=True)
class Absence:
    """A long absence that may call for a return interview (absences.csv)."""

    matricule: str
    motif: str
    """A key of ABSENCE_LABELS."""
    date_debut: dt.date
    date_fin: dt.date

    @property
    def libelle(self) -> str:
        return ABSENCE_LABELS[self.motif]


@dataclass(frozen=True)
class Training:
    """A completed training (formations.csv)."""

    matricule: str
    intitule: str
    date_fin: dt.date
    certifiante: bool
    obligatoire: bool


@dataclass(frozen=True)
class Dataset:
    """Employees by matricule, and their absences and trainings, each sorted oldest first."""

    employees: Mapping[str, Employee]
    absences: Mapping[str, tuple[Absence, ...]] = field(default_factory=dict)
    trainings: Mapping[str, tuple[Training, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only views: a frozen dataclass does not protect the dicts it holds.
        object.__setattr__(self, "employees", MappingProxyType(dict(self.employees)))
        object.__setattr__(self, "absences", MappingProxyType(dict(self.absences)))
        object.__setattr__(self, "trainings", MappingProxyType(dict(self.trainings)))

    def employee(self, matricule: str) -> Employee:
        try:
            return self.employees[matricule]
        except KeyError:
            raise UnknownEmployeeError(f"Aucun salarié n'a le matricule « {matricule} ».") from None

    def absences_of(self, matricule: str) -> tuple[Absence, ...]:
        return self.absences.get(matricule, ())

    def trainings_of(self, matricule: str) -> tuple[Training, ...]:
        return self.trainings.get(matricule, ())


@dataclass(frozen=True)
class ImportResult:
    """The imported data, and the errors of the rows left out (only with skip_invalid=True)."""

    dataset: Dataset
    errors: tuple[RowError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Reading files into tables ---------------------------------------------------------------

ROLES = ("employees", "absences", "formations")
Source = str | os.PathLike[str] | bytes


@dataclass
class _Table:
    """Rows of one file (or one JSON section), keyed by canonical column names."""

    file: str
    columns: set[str]
    rows: list[tuple[int, dict[str, Any]]]
    header_row: int | None  # None for JSON: there is no header line


def _canonical(name: object) -> str:
    return str(name).replace("\ufeff", "").strip().lower()


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_source(source: Source, role: str, name: str | None) -> tuple[bytes, str]:
    """The bytes of a source and the name to show in errors."""
    if isinstance(source, bytes | bytearray):
        return bytes(source), name or role
    path = Path(source)
    try:
        return path.read_bytes(), name or path.name
    except FileNotFoundError:
        raise DataImportError([RowError(str(path), None, None, None, "fichier introuvable")]) from None
    except OSError as exc:
        reason = f"lecture impossible ({exc.strerror or exc})"
        raise DataImportError([RowError(str(path), None, None, None, reason)]) from None


def _detect_format(data: bytes, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".json":
        return "json"
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _file_error(name, "ancien format Excel (.xls) : enregistrez le fichier en .xlsx ou en .csv")
    if suffix:
        raise _file_error(name, f"format « {suffix} » non pris en charge : fichiers CSV, XLSX ou JSON")
    # No extension (raw bytes from an upload): look at the content.
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _file_error(name: str, reason: str) -> DataImportError:
    return DataImportError([RowError(name, None, None, None, reason)])


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's « Texte Unicode »
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # French Excel saves CSV in Windows-1252; latin-1 never fails for the few bytes cp1252 lacks.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_delimiter(text: str) -> tuple[str, str]:
    """The delimiter, and the text without Excel's « sep=; » line (Excel hides it: rows keep their numbers)."""
    first_line, _, rest = text.partition("\n")
    if re.fullmatch(r"sep=.\r?", first_line, flags=re.IGNORECASE):
        return first_line[4], rest
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return (best if counts[best] else ","), text


def _table_from_records(file: str, records: Iterable[tuple[int, list[Any]]]) -> _Table:
    """A table from (line number, cells) records; the header is the first non-blank record."""
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in records:
        if all(_is_blank(cell) for cell in cells):
            continue
        if header is None:
            header, header_row = [_canonical(cell) if cell is not None else "" for cell in cells], number
            continue
        row = {col: cells[i] if i < len(cells) else None for i, col in enumerate(header) if col}
        rows.append((number, row))
    if header is None:
        raise _file_error(file, "le fichier est vide")
    columns = [col for col in header if col]
    duplicates = sorted({col for col in columns if columns.count(col) > 1})
    if duplicates:
        raise DataImportError(
            [RowError(file, header_row, col, None, "colonne présente plusieurs fois") for col in duplicates]
        )
    return _Table(file, set(columns), rows, header_row)


def _csv_table(data: bytes, file: str) -> _Table:
    text = _decode_text(data)
    if "\x00" in text:
        raise _file_error(file, "ce fichier n'est pas un fichier CSV lisible (contenu binaire)")
    delimiter, text = _split_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # One record is one Excel row, even with a line break inside a quoted cell.
        return _table_from_records(file, enumerate(list(reader), start=1))
    except csv.Error as exc:
        raise _file_error(file, f"CSV illisible : {exc}") from None


def _xlsx_table(data: bytes, file: str) -> _Table:
    import openpyxl  # imported here: only XLSX imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise _file_error(file, "ce fichier n'est pas un classeur Excel (.xlsx) valide") from None
    try:
        if not workbook.worksheets:
            raise _file_error(file, "le classeur ne contient aucune feuille")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some producers write a wrong <dimension>: read every row
        records = enumerate((list(cells) for cells in sheet.iter_rows(min_row=1, values_only=True)), start=1)
        return _table_from_records(file, records)
    finally:
        workbook.close()


def _json_tables(data: bytes, file: str, role: str) -> dict[str, _Table]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _file_error(file, "fichier JSON illisible : il doit être encodé en UTF-8") from None
    except json.JSONDecodeError as exc:
        reason = f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno}) : {exc.msg}"
        raise _file_error(file, reason) from None
    if isinstance(document, list):
        return {role: _json_table(file, document)}
    if isinstance(document, dict):
        unknown = sorted(set(document) - set(ROLES))
        if unknown:
            reason = f"clé(s) inconnue(s) : {', '.join(unknown)} (attendu : {', '.join(ROLES)})"
            raise _file_error(file, reason)
        tables = {}
        for section, items in document.items():
            label = f"{file} ({section})"
            if not isinstance(items, list):
                raise _file_error(label, "une liste d'objets est attendue")
            tables[section] = _json_table(label, items)
        return tables
    raise _file_error(file, "le JSON doit être une liste d'objets ou un objet {\"employees\": [...], ...}")


def _json_table(file: str, items: list[Any]) -> _Table:
    rows: list[tuple[int, dict[str, Any]]] = []
    columns: set[str] = set()
    errors = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(RowError(file, position, None, None, "un objet {…} est attendu"))
            continue
        row = {_canonical(key): value for key, value in item.items()}
        columns.update(row)
        rows.append((position, row))
    if errors:
        raise DataImportError(errors)
    return _Table(file, columns, rows, None)


def _read_tables(source: Source, role: str, name: str | None) -> dict[str, _Table]:
    data, file = _read_source(source, role, name)
    if not data.strip():
        raise _file_error(file, "le fichier est vide")
    kind = _detect_format(data, file)
    if not Path(file).suffix:
        file = f"{file}.{kind}"  # raw bytes: give errors a name the user can place
    if kind == "json":
        return _json_tables(data, file, role)
    table = _csv_table(data, file) if kind == "csv" else _xlsx_table(data, file)
    return {role: table}


# --- Parsing cells ---------------------------------------------------------------------------

class CellError(ValueError):
    """A value is wrong; the message is the French reason."""


_CellError = CellError


def _text(value: Any) -> str:
    if isinstance(value, bool):
        raise _CellError("texte attendu")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores a matricule typed as 1234 as 1234.0
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    return str(value).strip()


def parse_date(value: Any) -> dt.date:
    """A date from a date, a datetime cell, "AAAA-MM-JJ" or "JJ/MM/AAAA"; CellError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise _CellError("date attendue au format AAAA-MM-JJ ou JJ/MM/AAAA")
    text = value.strip()
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _FR_DATE.match(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise _CellError("date invalide : format attendu AAAA-MM-JJ ou JJ/MM/AAAA")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _CellError("cette date n'existe pas") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    answer = _BOOLEANS.get(str(value).strip().lower())
    if answer is None:
        raise _CellError("valeur attendue : oui ou non")
    return answer


def normalize_civilite(value: Any) -> str:
    """« M. », « M », « Monsieur » -> « M. »; « Mme », « Madame » -> « Mme »; otherwise a ValueError."""
    civilite = _CIVILITE_ALIASES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if civilite is None:
        raise ValueError("civilité inconnue : « M. » (Monsieur) ou « Mme » (Madame) attendu")
    return civilite


def _civilite(value: Any) -> str:
    try:
        return normalize_civilite(value)
    except ValueError as exc:
        raise _CellError(str(exc)) from None


def _email(value: Any) -> str:
    text = _text(value)
    if not _EMAIL.match(text):
        raise _CellError("adresse e-mail invalide")
    return text


def _motif(value: Any) -> str:
    text = _text(value).lower()
    if text not in ABSENCE_LABELS:
        raise _CellError(f"motif inconnu (motifs possibles : {', '.join(ABSENCE_LABELS)})")
    return text


@dataclass(frozen=True)
class _Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True


_SCHEMAS: dict[str, tuple[_Column, ...]] = {
    "employees": (
        _Column("matricule", _text), _Column("civilite", _civilite), _Column("nom", _text),
        _Column("prenom", _text), _Column("email", _email), _Column("date_naissance", parse_date),
        _Column("date_entree", parse_date), _Column("poste", _text), _Column("service", _text),
        _Column("site", _text), _Column("manager_matricule", _text, required=False),
        _Column("date_dernier_entretien", parse_date, required=False),
    ),
    "absences": (
        _Column("matricule", _text), _Column("motif", _motif),
        _Column("date_debut", parse_date), _Column("date_fin", parse_date),
    ),
    "formations": (
        _Column("matricule", _text), _Column("intitule", _text), _Column("date_fin", parse_date),
        _Column("certifiante", _bool), _Column("obligatoire", _bool),
    ),
}


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _missing_columns(table: _Table, role: str) -> list[RowError]:
    if table.header_row is None and not table.rows:
        return []  # an empty JSON list has no keys to check
    required = [column.name for column in _SCHEMAS[role] if column.required]
    if not table.columns & set(required):
        # Likely a title line above the header, or the wrong file: one error says more than ten.
        reason = f"ligne d'en-tête introuvable : colonnes attendues {', '.join(required)}"
        return [RowError(table.file, table.header_row, None, None, reason)]
    return [
        RowError(table.file, table.header_row, column.name, None, "colonne obligatoire absente")
        for column in _SCHEMAS[role]
        if column.required and column.name not in table.columns
    ]


def _parse_row(table: _Table, role: str, number: int,
               row: dict[str, Any]) -> tuple[dict[str, Any], list[RowError]]:
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for column in _SCHEMAS[role]:
        raw = row.get(column.name)
        if _is_blank(raw):
            values[column.name] = None
            if column.required:
                errors.append(RowError(table.file, number, column.name, None, "valeur obligatoire manquante"))
            continue
        try:
            values[column.name] = column.parse(raw)
        except _CellError as exc:
            errors.append(RowError(table.file, number, column.name, _shown(raw), str(exc)))
    return values, errors


def _date_order_error(table: _Table, number: int, values: dict[str, Any], before: str, after: str,
                      reason: str) -> RowError | None:
    first, second = values.get(before), values.get(after)
    if first is not None and second is not None and second < first:
        return RowError(table.file, number, after, second.isoformat(), reason)
    return None


# --- Building the dataset --------------------------------------------------------------------

@dataclass
class _Rows:
    """Valid objects of one role with their source line, and every error found."""

    kept: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _employees(table: _Table) -> tuple[_Rows, set[str]]:
    """Valid employees, and every matricule the file names (valid row or not)."""
    result = _Rows()
    seen: dict[str, int] = {}
    for number, row in table.rows:
        values, errors = _parse_row(table, "employees", number, row)
        problem = _date_order_error(table, number, values, "date_naissance", "date_entree",
                                    "la date d'entrée précède la date de naissance")
        errors += [problem] if problem else []
        matricule = values["matricule"]
        if matricule is not None and matricule in seen:
            errors.append(RowError(table.file, number, "matricule", matricule,
                                   f"matricule déjà utilisé ligne {seen[matricule]}"))
        elif matricule is not None:
            seen[matricule] = number
        if matricule is not None and values["manager_matricule"] == matricule:
            errors.append(RowError(table.file, number, "manager_matricule", matricule,
                                   "un salarié ne peut pas être son propre responsable"))
        if errors:
            result.errors += errors
        else:
            result.kept.append((number, Employee(**values)))
    return result, set(seen)


def _check_managers(table: _Table, employees: _Rows, all_matricules: set[str],
                    known_managers: Collection[str] = ()) -> list[tuple[int, Employee]]:
    """Employees whose manager was imported too (or is known already); repeated because leaving
    one out may orphan others."""
    kept = list(employees.kept)
    while True:
        valid = {employee.matricule for _, employee in kept} | set(known_managers)
        orphans = [(number, e) for number, e in kept if e.manager_matricule not in (None, *valid)]
        if not orphans:
            return kept
        for number, employee in orphans:
            reason = ("le responsable n'a pas pu être importé (sa ligne contient des erreurs)"
                      if employee.manager_matricule in all_matricules else "matricule de responsable inconnu")
            employees.errors.append(
                RowError(table.file, number, "manager_matricule", employee.manager_matricule, reason))
        kept = [item for item in kept if item not in orphans]


def _dependents(table: _Table, role: str, valid: set[str], all_matricules: set[str]) -> _Rows:
    """Absences or trainings: valid rows whose employee was imported."""
    result = _Rows()
    for number, row in table.rows:
        values, errors = _parse_row(table, role, number, row)
        if role == "absences":
            problem = _date_order_error(table, number, values, "date_debut", "date_fin",
                                        "la date de fin précède la date de début")
            errors += [problem] if problem else []
        matricule = values["matricule"]
        if matricule is not None and matricule not in valid:
            reason = ("salarié non importé (sa ligne contient des erreurs)"
                      if matricule in all_matricules else "matricule inconnu dans le fichier des salariés")
            errors.append(RowError(table.file, number, "matricule", matricule, reason))
        if errors:
            result.errors += errors
        else:
            kind = Absence if role == "absences" else Training
            result.kept.append((number, kind(**values)))
    return result


def _group(items: Iterable[Any], key: Callable[[Any], Any]) -> dict[str, tuple[Any, ...]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.matricule, []).append(item)
    return {matricule: tuple(sorted(group, key=key)) for matricule, group in groups.items()}


def _build(tables: dict[str, _Table], skip_invalid: bool, known_managers: Collection[str] = ()) -> ImportResult:
    if "employees" not in tables:
        raise _file_error("employees", "aucune donnée de salariés (liste « employees » absente)")
    structural = [error for role, table in tables.items() for error in _missing_columns(table, role)]
    if structural:  # without its columns, a file's rows cannot be read at all
        raise DataImportError(structural)
    employees_table = tables["employees"]
    if not employees_table.rows:
        raise _file_error(employees_table.file, "le fichier ne contient aucun salarié")

    employees, all_matricules = _employees(employees_table)
    employees.kept = _check_managers(employees_table, employees, all_matricules, known_managers)
    valid = {employee.matricule for _, employee in employees.kept}
    absences, trainings = (
        _dependents(tables[role], role, valid, all_matricules) if role in tables else _Rows()
        for role in ("absences", "formations")
    )

    # Row order within each file, whatever check found the problem.
    errors = [error for rows in (employees, absences, trainings)
              for error in sorted(rows.errors, key=lambda error: error.row or 0)]
    if errors and not skip_invalid:
        raise DataImportError(errors)
    dataset = Dataset(
        employees={employee.matricule: employee for _, employee in employees.kept},
        absences=_group((a for _, a in absences.kept), key=lambda a: (a.date_debut, a.date_fin)),
        trainings=_group((t for _, t in trainings.kept), key=lambda t: t.date_fin),
    )
    return ImportResult(dataset, tuple(errors))


def load_dataset(
    employees: Source,
    absences: Source | None = None,
    formations: Source | None = None,
    *,
    names: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    known_managers: Collection[str] = (),
) -> ImportResult:
    """Import employees, absences and trainings from CSV, XLSX or JSON.

    Each source is a path or the file's bytes; `names` gives the file name of bytes sources
    (keys "employees", "absences", "formations"), used to choose the format and in errors.
    A JSON object {"employees": [...], "absences": [...], "formations": [...]} may bring all three.
    Any error raises DataImportError, unless `skip_invalid`: then the good rows are imported and
    the errors are returned in the result. `known_managers` are matricules that a manager_matricule
    may name besides the file's own (employees already stored elsewhere).
    """
    names = names or {}
    tables: dict[str, _Table] = {}
    file_errors: list[RowError] = []
    for role, source in zip(ROLES, (employees, absences, formations)):
        if source is None:
            continue
        try:
            found = _read_tables(source, role, names.get(role))
        except DataImportError as exc:
            file_errors += exc.errors
            continue
        for section, table in found.items():
            if section in tables:
                reason = f"les données « {section} » sont aussi dans {tables[section].file}"
                file_errors.append(RowError(table.file, None, None, None, reason))
            else:
                tables[section] = table
    if file_errors:  # a file that cannot be read is never skipped silently
        raise DataImportError(file_errors)
    return _build(tables, skip_invalid, known_managers)


def load_dataset_dir(path: str | os.PathLike[str], *, skip_invalid: bool = False) -> ImportResult:
    """Import employees.*, absences.* and formations.* (csv, xlsx or json) from a folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise _file_error(str(folder), "dossier introuvable")
    sources: dict[str, Path | None] = {}
    for role in ROLES:
        candidates = sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.stem.lower() == role and p.suffix.lower() in (".csv", ".xlsx", ".json")
        )
        if len(candidates) > 1:
            listed = ", ".join(p.name for p in candidates)
            reason = f"plusieurs fichiers pour « {role} » : {listed} ; n'en gardez qu'un"
            raise _file_error(str(folder), reason)
        sources[role] = candidates[0] if candidates else None
    if sources["employees"] is None:
        raise _file_error(str(folder), "aucun fichier employees.csv, employees.xlsx ou employees.json")
    return load_dataset(sources["employees"], sources["absences"], sources["formations"],
                        skip_invalid=skip_invalid)


# --- Interview, company, letter --------------------------------------------------------------

def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if isinstance(value, str) else value


def _check_text(problems: list[str], label: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{label} : texte obligatoire")


def _raise_if(problems: list[str], subject: str) -> None:
    if problems:
        raise InterviewError(f"{subject} : " + " ; ".join(problems))


@dataclass(frozen=True)
class Interviewer:
    """Who leads the interview (« interlocuteur »)."""

    civilite: str
    nom: str
    prenom: str
    fonction: str

    def __post_init__(self) -> None:
        problems: list[str] = []
        try:
            object.__setattr__(self, "civilite", normalize_civilite(self.civilite))
        except ValueError as exc:
            problems.append(str(exc))
        for name in ("nom", "prenom", "fonction"):
            _check_text(problems, name, getattr(self, name))
        _raise_if(problems, "Interlocuteur")

    def as_dict(self) -> dict[str, str]:
        return {"civilite": self.civilite, "nom": self.nom, "prenom": self.prenom, "fonction": self.fonction}


EXTRA_KEYS = ("compte_rendu", "etat_des_lieux", "entretiens_precedents")


@dataclass(frozen=True)
class Interview:
    """The interview the documents are about, as the HR user describes it."""

    type: str
    """A key of INTERVIEW_LABELS."""
    date: dt.date
    heure: dt.time
    duree: int = 60
    """Minutes."""
    lieu: str | None = None
    lien_visio: str | None = None
    interlocuteur: Interviewer | None = None
    """Who leads the interview; the employee's manager when None."""
    extra: Mapping[str, Any] | None = None
    """Optional "compte_rendu", "etat_des_lieux" and "entretiens_precedents" data (see build_context)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lieu", _blank_to_none(self.lieu))
        object.__setattr__(self, "lien_visio", _blank_to_none(self.lien_visio))
        problems: list[str] = []
        if self.type not in INTERVIEW_LABELS:
            problems.append(f"type « {self.type} » inconnu (types possibles : {', '.join(INTERVIEW_LABELS)})")
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            problems.append("date : une date (sans heure) est attendue")
        if not isinstance(self.heure, dt.time):
            problems.append("heure : une heure est attendue")
        if isinstance(self.duree, bool) or not isinstance(self.duree, int) or not 0 < self.duree <= 480:
            problems.append("durée : un nombre de minutes entre 1 et 480 est attendu")
        if self.lieu is None and self.lien_visio is None:
            problems.append("indiquez un lieu ou un lien de visioconférence")
        if self.lien_visio is not None and not _is_web_url(self.lien_visio):
            problems.append(
                f"lien de visioconférence invalide : « {self.lien_visio} » (adresse https://… attendue)")
        if self.interlocuteur is not None and not isinstance(self.interlocuteur, Interviewer):
            problems.append("interlocuteur : un Interviewer est attendu")
        if self.extra is not None:
            unknown = sorted(set(self.extra) - set(EXTRA_KEYS))
            if unknown:
                problems.append(f"données complémentaires inconnues : {', '.join(unknown)}")
        _raise_if(problems, "Entretien")


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and " " not in value


@dataclass(frozen=True)
class Company:
    """The employer (« société »)."""

    nom: str
    adresse: str
    code_postal: str
    ville: str
    effectif: int
    """Headcount: the abondement correctif applies from 50."""
    logo: str | os.PathLike[str] | None = None
    """Path to an image; the renderer turns it into a picture."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("nom", "adresse", "code_postal", "ville"):
            _check_text(problems, name, getattr(self, name))
        if isinstance(self.effectif, bool) or not isinstance(self.effectif, int) or self.effectif < 0:
            problems.append("effectif : un nombre entier de salariés est attendu")
        _raise_if(problems, "Société")


@dataclass(frozen=True)
class Signer:
    """The HR signatory of the letters (« signataire »)."""

    nom: str
    fonction: str

    def __post_init__(self) -> None:
        problems: list[str] = []
        _check_text(problems, "nom", self.nom)
        _check_text(problems, "fonction", self.fonction)
        _raise_if(problems, "Signataire")


@dataclass(frozen=True)
class Letter:
    """The letter around the document (« courrier »)."""

    signataire: Signer
    date: dt.date = field(default_factory=dt.date.today)
    ville: str | None = None
    """The company's city when None."""
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ville", _blank_to_none(self.ville))
        object.__setattr__(self, "reference", _blank_to_none(self.reference))
        if not isinstance(self.signataire, Signer):
            raise InterviewError("Courrier : signataire : un Signer est attendu")
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise InterviewError("Courrier : date : une date (sans heure) est attendue")


def sample_interview(type: str = "periodique", on: dt.date | None = None) -> Interview:
    """A plausible interview for previews: on the 1st to show « 1er », in the afternoon, on site."""
    return Interview(
        type=type,
        date=on or dt.date(2027, 3, 1),
        heure=dt.time(14, 30),
        duree=60,
        lieu="Salle de réunion du 2e étage",
    )


# --- Derived facts ---------------------------------------------------------------------------

def age_on(birth: dt.date, day: dt.date) -> int:
    """Age in whole years on `day` (someone born on 29 February gets older on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def _days_in_years(years: int) -> int:
    return round(years * 365.25)


def is_mi_carriere(birth: dt.date, day: dt.date) -> bool:
    """The mid-career section applies: the employee turns 45 in the interview's year."""
    return day.year - birth.year == 45


def is_avant_60(birth: dt.date, day: dt.date) -> bool:
    """The before-60 section applies: the interview falls in the 2 years before the 60th birthday."""
    return age_on(birth, day) in (58, 59)


def reprise_absence(absences: Iterable[Absence], day: dt.date) -> Absence | None:
    """The absence the employee returns from: the latest one ended on or before `day`."""
    ended = [absence for absence in absences if absence.date_fin <= day]
    return max(ended, key=lambda absence: (absence.date_fin, absence.date_debut), default=None)


# --- The context -----------------------------------------------------------------------------

def _training_dict(training: Training) -> dict[str, Any]:
    return {"intitule": training.intitule, "date_fin": training.date_fin,
            "certifiante": training.certifiante, "obligatoire": training.obligatoire}


def _absence_dict(absence: Absence) -> dict[str, Any]:
    return {"motif": absence.motif, "libelle": absence.libelle,
            "date_debut": absence.date_debut, "date_fin": absence.date_fin}


def _interview_dict(day: dt.date, code: str) -> dict[str, Any]:
    return {"date": day, "type": code, "libelle": INTERVIEW_LABELS[code]}


def _previous_interviews(employee: Employee, interview: Interview,
                         extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Past interviews, oldest first: from extra, else the last one of the data file."""
    if "entretiens_precedents" in extra:
        items = extra["entretiens_precedents"]
        if not isinstance(items, list):
            raise InterviewError("entretiens_precedents : une liste est attendue")
        past = []
        for item in items:
            code = item.get("type") if isinstance(item, Mapping) else None
            day = item.get("date") if isinstance(item, Mapping) else None
            if code not in INTERVIEW_LABELS or not isinstance(day, dt.date):
                raise InterviewError(f"entretiens_precedents : {{date, type}} attendu, reçu {item!r}")
            past.append(_interview_dict(day, code))
        return sorted(past, key=lambda item: item["date"])
    last = employee.date_dernier_entretien
    if last is None or last >= interview.date:
        return []
    # The data file gives the date only; a past interview is periodic unless told otherwise.
    return [_interview_dict(last, "periodique")]


def _person(employee: Employee) -> dict[str, Any]:
    return {"civilite": employee.civilite, "nom": employee.nom, "prenom": employee.prenom,
            "poste": employee.poste, "email": employee.email}


def _salarie(employee: Employee, dataset: Dataset, interview: Interview,
             previous: list[dict[str, Any]]) -> dict[str, Any]:
    day = interview.date
    trainings = [t for t in dataset.trainings_of(employee.matricule) if t.date_fin <= day]
    absences = [a for a in dataset.absences_of(employee.matricule) if a.date_debut <= day]
    salarie: dict[str, Any] = {
        "matricule": employee.matricule, "civilite": employee.civilite, "nom": employee.nom,
        "prenom": employee.prenom, "email": employee.email,
        "date_naissance": employee.date_naissance, "date_entree": employee.date_entree,
        "poste": employee.poste, "service": employee.service, "site": employee.site,
        "age": age_on(employee.date_naissance, day),
        "formations": [_training_dict(t) for t in trainings],
        "certifications": [_training_dict(t) for t in trainings if t.certifiante],
        "absences": [_absence_dict(a) for a in absences],
        "entretiens_precedents": previous,
    }
    if employee.date_dernier_entretien is not None:
        salarie["date_dernier_entretien"] = employee.date_dernier_entretien
    return salarie


def _entretien(employee: Employee, manager: Employee | None, dataset: Dataset,
               interview: Interview) -> dict[str, Any]:
    if interview.interlocuteur is not None:
        interlocuteur = interview.interlocuteur.as_dict()
    elif manager is not None:
        interlocuteur = {"civilite": manager.civilite, "nom": manager.nom,
                         "prenom": manager.prenom, "fonction": manager.poste}
    else:
        raise InterviewError(
            f"Entretien : {employee.prenom} {employee.nom} ({employee.matricule}) n'a pas de responsable : "
            "indiquez qui mène l'entretien (interlocuteur)"
        )
    entretien: dict[str, Any] = {
        "type": interview.type, "libelle": INTERVIEW_LABELS[interview.type],
        "titre": INTERVIEW_TITLES[interview.type],
        "date": interview.date, "heure": interview.heure, "duree": interview.duree,
        "interlocuteur": interlocuteur,
        "mi_carriere": is_mi_carriere(employee.date_naissance, interview.date),
        "avant_60": is_avant_60(employee.date_naissance, interview.date),
        "etat_des_lieux": interview.type == "etat_des_lieux",
    }
    if interview.lieu is not None:
        entretien["lieu"] = interview.lieu
    if interview.lien_visio is not None:
        entretien["lien_visio"] = interview.lien_visio
    if interview.type == "reprise":
        absence = reprise_absence(dataset.absences_of(employee.matricule), interview.date)
        if absence is None:
            raise InterviewError(
                f"Entretien de reprise : aucune absence de {employee.prenom} {employee.nom} "
                f"({employee.matricule}) ne se termine au plus tard le {formatting.date(interview.date)}"
            )
        entretien["reprise"] = _absence_dict(absence)
    return entretien


def _societe(company: Company) -> dict[str, Any]:
    societe: dict[str, Any] = {"nom": company.nom, "adresse": company.adresse,
                               "code_postal": company.code_postal, "ville": company.ville,
                               "effectif": company.effectif}
    if company.logo is not None:
        societe["logo"] = os.fspath(company.logo)
    return societe


def _courrier(letter: Letter, company: Company) -> dict[str, Any]:
    courrier: dict[str, Any] = {
        "date": letter.date, "ville": letter.ville or company.ville,
        "signataire": {"nom": letter.signataire.nom, "fonction": letter.signataire.fonction},
    }
    if letter.reference is not None:
        courrier["reference"] = letter.reference
    return courrier


_COMPTE_RENDU_TEXTS = ("competences", "parcours", "besoins_formation", "souhaits", "cpf_cep",
                       "commentaires_salarie")
_COMPTE_RENDU_FLAGS = ("information_vae", "information_cpf", "information_cep")


def _compte_rendu(given: Mapping[str, Any]) -> dict[str, Any]:
    """The report's block: the given values over defaults (empty texts, no actions, no information)."""
    known = {*_COMPTE_RENDU_TEXTS, *_COMPTE_RENDU_FLAGS, "actions", "remise"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InterviewError(f"compte_rendu : champ(s) inconnu(s) : {', '.join(unknown)}")
    block: dict[str, Any] = {name: "" for name in _COMPTE_RENDU_TEXTS}
    block.update({name: False for name in _COMPTE_RENDU_FLAGS})
    block["actions"] = []
    for name, value in given.items():
        if name in _COMPTE_RENDU_TEXTS and not isinstance(value, str):
            raise InterviewError(f"compte_rendu.{name} : texte attendu")
        if name in _COMPTE_RENDU_FLAGS and not isinstance(value, bool):
            raise InterviewError(f"compte_rendu.{name} : oui/non (booléen) attendu")
        if name == "actions" and not (isinstance(value, list) and all(isinstance(a, Mapping) for a in value)):
            raise InterviewError("compte_rendu.actions : liste de {action, type, echeance, porteur} attendue")
        if name == "remise" and not isinstance(value, Mapping):
            raise InterviewError("compte_rendu.remise : {date, mode} attendu")
    block.update({name: _plain(value) for name, value in given.items()})
    return block


def _plain(value: Any) -> Any:
    """Plain dicts and lists, so the renderer can wrap them."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def etat_des_lieux(employee: Employee, trainings: Iterable[Training], previous: list[dict[str, Any]],
                   interview: Interview, company: Company,
                   given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The 8-year review, simply computed; values in `given` win (a rules engine will refine this).

    The period is the 8 years before the interview (from the hire date if later). The review is
    itself an EPP: it counts among the interviews planned (one per started 4 years) and held,
    while `entretiens` lists only the earlier ones.
    """
    given = dict(given or {})
    fin = interview.date
    debut = max(_years_before(fin, REVIEW_YEARS), employee.date_entree)
    in_period = [t for t in trainings if debut <= t.date_fin <= fin]
    held = [item for item in previous if debut <= item["date"] < fin]
    certifying = [t for t in in_period if t.certifiante]
    block: dict[str, Any] = {
        "periode": {"debut": debut, "fin": fin},
        "entretiens": held,
        "entretiens_prevus": max(1, math.ceil((fin - debut).days / _days_in_years(EPP_PERIOD_YEARS))),
        "entretiens_realises": len(held) + 1,
        "formations_non_obligatoires": [_training_dict(t) for t in in_period if not t.obligatoire],
        "certification": bool(certifying),
        "certification_detail": "; ".join(
            f"{t.intitule} ({formatting.date(t.date_fin)})" for t in certifying),
        "progression": False,
        "progression_detail": "",
    }
    block.update(_plain(given))
    if "abondement" not in given:
        block["abondement"] = abondement(company.effectif, block["entretiens_prevus"],
                                         block["entretiens_realises"], block["formations_non_obligatoires"])
    return block


def _count(number: int, word: str) -> str:
    """« 0 réalisé », « 1 prévu », « 2 prévus »: French plural from 2."""
    return f"{number} {word}{'s' if number >= 2 else ''}"


def abondement(effectif: int, prevus: int, realises: int, non_mandatory: list[Any]) -> dict[str, Any]:
    """The abondement correctif: due in companies of 50+ when interviews were missed AND no
    training other than mandatory ones was followed (cumulative, Cass. soc. 21/01/2026)."""
    held = f"{_count(realises, 'réalisé')} pour {_count(prevus, 'prévu')}"
    applicable = False
    if effectif < ABONDEMENT_MIN_EFFECTIF:
        motif = (f"L’entreprise compte moins de {ABONDEMENT_MIN_EFFECTIF} salariés : "
                 "l’abondement correctif ne s’applique pas.")
    elif realises >= prevus:
        motif = f"Les entretiens prévus ont eu lieu ({held}) : l’abondement correctif ne s’applique pas."
    elif non_mandatory:
        motif = ("Le salarié a suivi au moins une formation autre qu’obligatoire : "
                 "l’abondement correctif ne s’applique pas.")
    else:
        applicable = True
        motif = (f"Les entretiens prévus n’ont pas tous eu lieu ({held}) et le salarié n’a suivi aucune "
                 "formation autre qu’obligatoire : l’employeur doit un abondement correctif de "
                 f"{formatting.euros(ABONDEMENT_CORRECTIF)} sur son compte personnel de formation.")
    return {"applicable": applicable, "montant": ABONDEMENT_CORRECTIF, "motif": motif}


def build_context(
    dataset: Dataset,
    matricule: str,
    interview: Interview,
    company: Company,
    letter: Letter,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The templates' context (templates/SCHEMA.md) for one employee and one interview.

    `extra` (merged over `interview.extra`, key by key) may hold "compte_rendu" and
    "etat_des_lieux" values and "entretiens_precedents" (a list of {date, type}). Optional values
    that are unknown are left out of the dicts, so printing them stops the rendering.
    """
    merged = {**(interview.extra or {}), **(extra or {})}
    unknown = sorted(set(merged) - set(EXTRA_KEYS))
    if unknown:
        raise InterviewError(f"données complémentaires inconnues : {', '.join(unknown)}")
    employee = dataset.employee(matricule)
    if interview.date < employee.date_entree:
        raise InterviewError(
            f"Entretien : le {formatting.date(interview.date)} précède l'entrée de "
            f"{employee.prenom} {employee.nom} ({formatting.date(employee.date_entree)})"
        )
    manager = dataset.employee(employee.manager_matricule) if employee.manager_matricule else None
    previous = _previous_interviews(employee, interview, merged)

    context: dict[str, Any] = {
        "salarie": _salarie(employee, dataset, interview, previous),
        "entretien": _entretien(employee, manager, dataset, interview),
        "societe": _societe(company),
        "courrier": _courrier(letter, company),
        "compte_rendu": _compte_rendu(merged.get("compte_rendu") or {}),
    }
    if manager is not None:
        context["manager"] = _person(manager)
    if interview.type == "etat_des_lieux" or "etat_des_lieux" in merged:
        trainings = [t for t in dataset.trainings_of(matricule) if t.date_fin <= interview.date]
        context["etat_des_lieux"] = etat_des_lieux(employee, trainings, previous, interview, company,
                                                   merged.get("etat_des_lieux"))
    return context
