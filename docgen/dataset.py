"""Employee data: the model (employees, absences, trainings, interview history) and its CSV/XLSX/JSON
import with row-level errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from docgen.formatting import date as french_date

# --- Reference data --------------------------------------------------------------------------

INTERVIEW_LABELS: Mapping[str, str] = MappingProxyType({
    "premier": "premier entretien de parcours professionnel",
    "periodique": "entretien de parcours professionnel périodique",
    "etat_des_lieux": "état des lieux récapitulatif du parcours professionnel",
    "reprise": "entretien de parcours professionnel à la reprise d’activité",
    "mi_carriere": "entretien de mi-carrière",
    "avant_60": "entretien de parcours professionnel avant 60 ans",
    "fin_mandat": "entretien de fin de mandat",
})
"""The interview types; every one is an entretien de parcours professionnel (L. 6315-1)."""

INTERVIEW_STATUSES: Mapping[str, str] = MappingProxyType({
    "held": "réalisé", "refused": "refusé par le salarié", "planned": "prévu",
})
_STATUS_ALIASES = {"held": "held", "realise": "held", "réalisé": "held", "realisé": "held", "tenu": "held",
                   "refused": "refused", "refuse": "refused", "refusé": "refused",
                   "planned": "planned", "prevu": "planned", "prévu": "planned", "planifie": "planned",
                   "planifié": "planned"}

CONTRACT_TYPES: Mapping[str, str] = MappingProxyType({
    "cdi": "contrat à durée indéterminée",
    "cdd": "contrat à durée déterminée",
    "interim": "contrat de mission (intérim)",
    "apprentissage": "contrat d’apprentissage",
    "professionnalisation": "contrat de professionnalisation",
})
_CONTRACT_ALIASES = {"intérim": "interim", "ctt": "interim", "cdi": "cdi", "cdd": "cdd", "apprenti": "apprentissage",
                     "alternance": "apprentissage", "contrat de professionnalisation": "professionnalisation"}

ABSENCE_LABELS: Mapping[str, str] = MappingProxyType({
    "conge_maternite": "congé de maternité",
    "conge_supplementaire_naissance": "congé supplémentaire de naissance",
    "conge_parental_education": "congé parental d’éducation",
    "temps_partiel_parental": "période d’activité à temps partiel pour élever un enfant",
    "conge_proche_aidant": "congé de proche aidant",
    "conge_adoption": "congé d’adoption",
    "conge_sabbatique": "congé sabbatique",
    "mobilite_volontaire_securisee": "période de mobilité volontaire sécurisée",
    "arret_longue_maladie": "arrêt longue maladie",
    "fin_mandat_syndical": "fin de mandat syndical",
})

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
    """Base of docgen's data errors (import and context): the message is French and meant for the user."""


class UnknownEmployeeError(ContextError, LookupError):
    """No employee has this matricule."""


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
    """The last interview held, when no `entretiens` history is given (taken as a held periodic one)."""
    date_sortie: dt.date | None = None
    """The day the employee left (or will leave) the company."""
    type_contrat: str = "cdi"
    """A key of CONTRACT_TYPES."""
    date_fin_contrat: dt.date | None = None
    """The end of a fixed-term contract (CDD, intérim, apprentissage…)."""
    date_visite_mi_carriere: dt.date | None = None
    """The mid-career medical visit (L. 4624-2-2), when HR knows it."""

    @property
    def end_of_employment(self) -> dt.date | None:
        """The earliest of the exit date and the end of the contract, if any."""
        ends = [day for day in (self.date_sortie, self.date_fin_contrat) if day is not None]
        return min(ends, default=None)


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
class PastInterview:
    """An interview of the employee (entretiens file): held, refused by the employee, or planned by HR."""

    date: dt.date
    type: str
    """A key of INTERVIEW_LABELS."""
    status: str
    """« held », « refused » (offered, declined by the employee) or « planned »."""
    counts: bool = True
    """For a refusal: whether it counts as the interview the employer owed (the default; see
    docgen.calendar). HR sets False for a case where the offer cannot be proved."""
    matricule: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise ValueError(f"Entretien : date attendue (datetime.date), reçu {self.date!r}")
        if self.type not in INTERVIEW_LABELS:
            raise ValueError(f"Entretien : type « {self.type} » inconnu ; types possibles : "
                             f"{', '.join(INTERVIEW_LABELS)}")
        if self.status not in INTERVIEW_STATUSES:
            raise ValueError(f"Entretien : statut « {self.status} » inconnu ; statuts possibles : "
                             f"{', '.join(INTERVIEW_STATUSES)}")

    @property
    def done(self) -> bool:
        """Held, or refused and counted: the employer's obligation is met."""
        return self.status == "held" or (self.status == "refused" and self.counts)

    def known_on(self, on: dt.date) -> bool:
        """Whether the interview is part of the history seen from `on`: one held or refused later had not
        happened yet; a planned one was already planned."""
        return self.status == "planned" or self.date <= on


@dataclass(frozen=True)
class Dataset:
    """Employees by matricule, and their absences, trainings and interviews, each sorted oldest first."""

    employees: Mapping[str, Employee]
    absences: Mapping[str, tuple[Absence, ...]] = field(default_factory=dict)
    trainings: Mapping[str, tuple[Training, ...]] = field(default_factory=dict)
    interviews: Mapping[str, tuple[PastInterview, ...]] | None = None
    """The `entretiens` file by matricule; None when no such file was given."""

    def __post_init__(self) -> None:
        # Read-only views: a frozen dataclass does not protect the dicts it holds.
        object.__setattr__(self, "employees", MappingProxyType(dict(self.employees)))
        object.__setattr__(self, "absences", MappingProxyType(dict(self.absences)))
        object.__setattr__(self, "trainings", MappingProxyType(dict(self.trainings)))
        if self.interviews is not None:
            object.__setattr__(self, "interviews", MappingProxyType(dict(self.interviews)))

    def as_known_on(self, on: dt.date) -> Dataset:
        """The same data seen from `on` (a date given as the calendar's reference): the interviews held or refused
        after it left out, and a `date_dernier_entretien` after it, as the service reads its own history. The
        calendar refuses such interviews when they are given to it, so that a history is not silently cut."""
        employees = {m: (replace(e, date_dernier_entretien=None)
                         if e.date_dernier_entretien is not None and e.date_dernier_entretien > on else e)
                     for m, e in self.employees.items()}
        interviews = (None if self.interviews is None else
                      {m: tuple(i for i in items if i.known_on(on)) for m, items in self.interviews.items()})
        return replace(self, employees=employees, interviews=interviews)

    def interviews_of(self, matricule: str) -> tuple[PastInterview, ...]:
        """The employee's interview history: the entretiens file when given, else the
        `date_dernier_entretien` column as one held periodic interview."""
        if self.interviews is not None:
            return self.interviews.get(matricule, ())
        employee = self.employees.get(matricule)
        if employee is None or employee.date_dernier_entretien is None:
            return ()
        return (PastInterview(employee.date_dernier_entretien, "periodique", "held", matricule=matricule),)

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

ROLES = ("employees", "absences", "formations", "entretiens")
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


def decode_text(data: bytes) -> str:
    """A text file as French offices write it: UTF-16 with BOM, UTF-8 (with or without BOM), or Windows-1252."""
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
    text = decode_text(data)
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


HIRE_AHEAD = dt.timedelta(days=366)
"""How far ahead a hire date may be: a signed contract starting within a year."""


def _latest_hire() -> dt.date:
    return dt.date.today() + HIRE_AHEAD


MATRICULE_MAX = 50
"""Characters of a matricule (the service stores it in a 50-character column)."""


def _text_at_most(limit: int) -> Any:
    """A text of at most `limit` characters: longer is a row error, not a database failure later."""

    def parse(value: Any) -> str:
        text = _text(value)
        if len(text) > limit:
            raise _CellError(f"{limit} caractères au plus (ici {len(text)})")
        return text

    return parse


_matricule = _text_at_most(MATRICULE_MAX)
_label = _text_at_most(200)


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


def _interview_type(value: Any) -> str:
    text = _text(value).lower()
    if text not in INTERVIEW_LABELS:
        raise _CellError(f"type inconnu (types possibles : {', '.join(INTERVIEW_LABELS)})")
    return text


def _status(value: Any) -> str:
    status = _STATUS_ALIASES.get(_text(value).lower())
    if status is None:
        raise _CellError("statut inconnu (statuts possibles : held, refused, planned ; ou réalisé, refusé, prévu)")
    return status


def _contract(value: Any) -> str:
    text = _text(value).lower()
    contract = text if text in CONTRACT_TYPES else _CONTRACT_ALIASES.get(text)
    if contract is None:
        raise _CellError(f"type de contrat inconnu (types possibles : {', '.join(CONTRACT_TYPES)})")
    return contract


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
        _Column("matricule", _matricule), _Column("civilite", _civilite), _Column("nom", _label),
        _Column("prenom", _label), _Column("email", _email), _Column("date_naissance", parse_date),
        _Column("date_entree", parse_date), _Column("poste", _label), _Column("service", _label),
        _Column("site", _label), _Column("manager_matricule", _matricule, required=False),
        _Column("date_dernier_entretien", parse_date, required=False),
        _Column("date_sortie", parse_date, required=False), _Column("type_contrat", _contract, required=False),
        _Column("date_fin_contrat", parse_date, required=False),
        _Column("date_visite_mi_carriere", parse_date, required=False),
    ),
    "absences": (
        _Column("matricule", _matricule), _Column("motif", _motif),
        _Column("date_debut", parse_date), _Column("date_fin", parse_date),
    ),
    "formations": (
        _Column("matricule", _matricule), _Column("intitule", _text), _Column("date_fin", parse_date),
        _Column("certifiante", _bool), _Column("obligatoire", _bool),
    ),
    "entretiens": (
        _Column("matricule", _matricule), _Column("date", parse_date), _Column("type", _interview_type),
        _Column("statut", _status), _Column("compte", _bool, required=False),
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
        for later in ("date_sortie", "date_fin_contrat"):
            problem = _date_order_error(table, number, values, "date_entree", later,
                                        "cette date précède la date d'entrée")
            errors += [problem] if problem else []
        hired = values.get("date_entree")
        if hired is not None and hired > _latest_hire():
            # A contract signed for next month is imported; a hire years ahead is a typo (2030 for 2020).
            errors.append(RowError(table.file, number, "date_entree", hired.isoformat(),
                                   f"date d'entrée plus d'un an après aujourd'hui : faute de frappe ? (une "
                                   f"embauche à venir est acceptée jusqu'au {french_date(_latest_hire())})"))
        if "type_contrat" in values and values["type_contrat"] is None:
            values["type_contrat"] = "cdi"
        if values.get("date_fin_contrat") is not None and values.get("type_contrat") == "cdi":
            errors.append(RowError(table.file, number, "date_fin_contrat", values["date_fin_contrat"].isoformat(),
                                   "un CDI n'a pas de date de fin de contrat (indiquez type_contrat)"))
        matricule = values.get("matricule")
        if matricule is not None and matricule in seen:
            errors.append(RowError(table.file, number, "matricule", matricule,
                                   f"matricule déjà utilisé ligne {seen[matricule]}"))
        elif matricule is not None:
            seen[matricule] = number
        if matricule is not None and values.get("manager_matricule") == matricule:
            errors.append(RowError(table.file, number, "manager_matricule", matricule,
                                   "un salarié ne peut pas être son propre responsable"))
        if errors:
            result.errors += errors
        else:
            result.kept.append((number, Employee(**values)))
    return result, set(seen)


def _check_managers(table: _Table, employees: _Rows, all_matricules: set[str],
                    known_managers: Collection[str] = ()) -> list[tuple[int, Employee]]:
    """Employees whose manager was imported too (or is known already).

    Leaving one out may orphan others, so this is a fixpoint, reached in linear time: the employees
    missing a manager from the start, then, through a map from each manager to their reports, whoever
    reported to someone left out (unless that matricule is known elsewhere).
    """
    kept = employees.kept
    known = known_managers if isinstance(known_managers, set | frozenset) else set(known_managers)
    valid = {employee.matricule for _, employee in kept}
    reports: dict[str, list[int]] = {}
    pending: list[int] = []
    for index, (_, employee) in enumerate(kept):
        manager = employee.manager_matricule
        if manager is None or manager in known:
            continue
        if manager in valid:
            reports.setdefault(manager, []).append(index)
        else:
            pending.append(index)
    left_out: set[int] = set()
    while pending:
        index = pending.pop()
        if index in left_out:
            continue
        left_out.add(index)
        number, employee = kept[index]
        reason = ("le responsable n'a pas pu être importé (sa ligne contient des erreurs)"
                  if employee.manager_matricule in all_matricules else "matricule de responsable inconnu")
        employees.errors.append(
            RowError(table.file, number, "manager_matricule", employee.manager_matricule, reason))
        pending.extend(reports.pop(employee.matricule, ()))
    return [item for index, item in enumerate(kept) if index not in left_out]


def _dependents(table: _Table, role: str, valid: set[str], all_matricules: set[str],
                hires: Mapping[str, dt.date] | None = None) -> _Rows:
    """Absences, trainings or interviews: valid rows whose employee was imported."""
    result = _Rows()
    for number, row in table.rows:
        values, errors = _parse_row(table, role, number, row)
        if role == "absences":
            problem = _date_order_error(table, number, values, "date_debut", "date_fin",
                                        "la date de fin précède la date de début")
            errors += [problem] if problem else []
        matricule = values.get("matricule")
        if role == "entretiens":
            hire = (hires or {}).get(matricule)
            if hire is not None and values.get("date") is not None and values["date"] < hire:
                errors.append(RowError(table.file, number, "date", values["date"].isoformat(),
                                       "l'entretien précède l'entrée du salarié"))
            if values.get("compte") is not None and values.get("statut") != "refused":
                errors.append(RowError(table.file, number, "compte", _shown(row.get("compte")),
                                       "« compte » ne s'applique qu'à un entretien refusé"))
        if matricule is not None and matricule not in valid:
            reason = ("salarié non importé (sa ligne contient des erreurs)"
                      if matricule in all_matricules else "matricule inconnu dans le fichier des salariés")
            errors.append(RowError(table.file, number, "matricule", matricule, reason))
        if errors:
            result.errors += errors
        elif role == "entretiens":
            counts = values["compte"] if values["compte"] is not None else True
            result.kept.append((number, PastInterview(values["date"], values["type"], values["statut"], counts,
                                                      matricule)))
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
    hires = {employee.matricule: employee.date_entree for _, employee in employees.kept}
    absences, trainings, history = (
        _dependents(tables[role], role, valid, all_matricules, hires) if role in tables else _Rows()
        for role in ("absences", "formations", "entretiens")
    )

    # Row order within each file, whatever check found the problem.
    errors = [error for rows in (employees, absences, trainings, history)
              for error in sorted(rows.errors, key=lambda error: error.row or 0)]
    if errors and not skip_invalid:
        raise DataImportError(errors)
    dataset = Dataset(
        employees={employee.matricule: employee for _, employee in employees.kept},
        absences=_group((a for _, a in absences.kept), key=lambda a: (a.date_debut, a.date_fin)),
        trainings=_group((t for _, t in trainings.kept), key=lambda t: t.date_fin),
        interviews=(_group((i for _, i in history.kept), key=lambda i: (i.date, i.type))
                    if "entretiens" in tables else None),
    )
    return ImportResult(dataset, tuple(errors))


def load_dataset(
    employees: Source,
    absences: Source | None = None,
    formations: Source | None = None,
    entretiens: Source | None = None,
    *,
    names: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    known_managers: Collection[str] = (),
) -> ImportResult:
    """Import employees, absences, trainings and the interview history from CSV, XLSX or JSON.

    Each source is a path or the file's bytes; `names` gives the file name of bytes sources
    (keys "employees", "absences", "formations", "entretiens"), used to choose the format and in errors.
    A JSON object {"employees": [...], "absences": [...], "formations": [...], "entretiens": [...]}
    may bring them all. The `entretiens` file (matricule, date, type, statut held/refused/planned or
    réalisé/refusé/prévu, optional compte oui/non for a refusal) replaces `date_dernier_entretien`.
    Any error raises DataImportError, unless `skip_invalid`: then the good rows are imported and
    the errors are returned in the result. `known_managers` are matricules that a manager_matricule
    may name besides the file's own (employees already stored elsewhere).
    """
    names = names or {}
    tables: dict[str, _Table] = {}
    file_errors: list[RowError] = []
    for role, source in zip(ROLES, (employees, absences, formations, entretiens)):
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
    """Import employees.*, absences.*, formations.* and entretiens.* (csv, xlsx or json) from a folder."""
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
    return load_dataset(sources["employees"], sources["absences"], sources["formations"], sources["entretiens"],
                        skip_invalid=skip_invalid)
