"""Reads what a user says about a campaign (company, letter, interview, per-employee overrides) from JSON.

The shape follows parcours/resources/documents/SCHEMA.md, with dates as "AAAA-MM-JJ" (or "JJ/MM/AAAA") and times as
"HH:MM" (or "14 h 30"); `entretien.debut` may instead give an ISO date-time with its offset, which
is put in the employer's time zone. `interlocuteur` is an object or the matricule of an employee.
`salaries` maps a matricule to values that replace the common ones for that employee.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docgen import dataset
from docgen.context import EXTRA_KEYS, Company, Interview, Interviewer, Letter, Signer, build_context
from docgen.dataset import ContextError, Dataset

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2})\s*(?::|h)\s*(\d{2})?$")
_HH_MM = re.compile(r"^\d{2}:\d{2}$")
_TOP_KEYS = {"societe", "courrier", "entretien", "salaries", *EXTRA_KEYS}


class ValuesError(ContextError):
    """The values are malformed; the message names the key and the reason, in French."""


@dataclass(frozen=True)
class CampaignValues:
    """The parsed JSON: common values and per-employee overrides, still as plain data."""

    common: Mapping[str, Any]
    per_employee: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    timezone: str = "Europe/Paris"
    _parsed: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """The common values parsed, as (dataset, day, blocks) under "common": for the last dataset and day they served."""

    def for_employee(self, matricule: str) -> Mapping[str, Any]:
        return deep_merge(self.common, self.per_employee.get(matricule, {}))

    def context(self, dataset: Dataset, matricule: str) -> dict[str, Any]:
        """The template context of one employee (raises ContextError subclasses on bad values)."""
        # Undated letters are dated today where the employer is, not on the server's clock (often UTC).
        today = dt.datetime.now(ZoneInfo(self.timezone)).date()
        own = self.per_employee.get(matricule)
        if own:
            blocks = self._parse(deep_merge(self.common, own), dataset, today)
        else:
            # The common values are parsed once for every employee without values of their own (a batch's
            # thousand letters, while LibreOffice waits for the first): what they give is only read.
            cached = self._parsed.get("common")
            if cached is None or cached[0] is not dataset or cached[1] != today:
                cached = self._parsed["common"] = (dataset, today, self._parse(self.common, dataset, today))
            blocks = cached[2]
        return build_context(dataset, matricule, *blocks)

    def _parse(self, values: Mapping[str, Any], dataset: Dataset, today: dt.date
               ) -> tuple[Interview, Company, Letter, dict[str, Any] | None]:
        company = parse_company(_block(values, "societe"))
        letter = parse_letter(_block(values, "courrier"), today)
        interview = parse_interview(_block(values, "entretien"), dataset, self.timezone)
        extra = {key: typed(values[key], key) for key in EXTRA_KEYS if key in values}
        return interview, company, letter, extra or None


def load_values(source: str | Path | bytes | Mapping[str, Any], *, timezone: str = "Europe/Paris",
                overrides: Mapping[str, Any] | None = None) -> CampaignValues:
    """Parse a values file (path, bytes or already-decoded JSON); `overrides` win over the file."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        raw = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValuesError(f"fichier de valeurs : JSON invalide ({exc})") from None
    if not isinstance(data, dict):
        raise ValuesError("fichier de valeurs : un objet JSON est attendu")
    data = deep_merge(data, overrides or {})
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValuesError(f"clés inconnues : {', '.join(unknown)} (clés possibles : {', '.join(sorted(_TOP_KEYS))})")
    per_employee = data.pop("salaries", {}) or {}
    if not isinstance(per_employee, dict) or not all(isinstance(v, dict) for v in per_employee.values()):
        raise ValuesError("salaries : un objet {matricule: {valeurs}} est attendu")
    return CampaignValues(data, per_employee, timezone)


def parse_company(values: Mapping[str, Any]) -> Company:
    effectif = values.get("effectif", 0)
    if isinstance(effectif, str) and effectif.strip().isdigit():
        effectif = int(effectif)
    measured = values.get("effectif_mesure_le")
    years = values.get("effectif_annees_seuil")
    period = values.get("periodicite", 4)
    return Company(nom=values.get("nom", ""), adresse=values.get("adresse", ""),
                   code_postal=str(values.get("code_postal", "")), ville=values.get("ville", ""),
                   effectif=effectif, logo=values.get("logo"),
                   effectif_mesure_le=parse_date(measured, "societe.effectif_mesure_le") if measured else None,
                   effectif_annees_seuil=years, periodicite=period)


def parse_letter(values: Mapping[str, Any], today: dt.date | None = None) -> Letter:
    """The « courrier » block; a letter without a date is dated `today` (the Letter's default if None)."""
    signer = values.get("signataire") or {}
    if not isinstance(signer, Mapping):
        raise ValuesError("courrier.signataire : un objet {nom, fonction} est attendu")
    kwargs: dict[str, Any] = {}
    if values.get("date"):
        kwargs["date"] = parse_date(values["date"], "courrier.date")
    elif today is not None:
        kwargs["date"] = today
    return Letter(signataire=Signer(signer.get("nom", ""), signer.get("fonction", "")),
                  ville=values.get("ville"), reference=values.get("reference"), **kwargs)


def parse_interview(values: Mapping[str, Any], dataset: Dataset | None = None,
                    timezone: str = "Europe/Paris") -> Interview:
    if values.get("debut"):
        start = _datetime(values["debut"], "entretien.debut").astimezone(ZoneInfo(timezone))
        day, time = start.date(), start.time().replace(tzinfo=None)
    else:
        if not values.get("date"):
            raise ValuesError("entretien.date : la date de l’entretien est obligatoire")
        if not values.get("heure"):
            raise ValuesError("entretien.heure : l’heure de l’entretien est obligatoire")
        day = parse_date(values["date"], "entretien.date")
        time = parse_time(values["heure"], "entretien.heure")
    duree = values.get("duree", 60)
    if isinstance(duree, str) and duree.strip().isdigit():
        duree = int(duree)
    return Interview(type=values.get("type", "periodique"), date=day, heure=time, duree=duree,
                     lieu=values.get("lieu"), lien_visio=values.get("lien_visio"),
                     interlocuteur=parse_interviewer(values.get("interlocuteur"), dataset))


def parse_interviewer(value: Any, dataset: Dataset | None) -> Interviewer | None:
    """An object {civilite, nom, prenom, fonction}, or the matricule of an employee."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if dataset is None:
            raise ValuesError("entretien.interlocuteur : un matricule demande les données des salariés")
        person = dataset.employee(value)
        return Interviewer(person.civilite, person.nom, person.prenom, person.poste)
    if isinstance(value, Mapping):
        return Interviewer(value.get("civilite", ""), value.get("nom", ""), value.get("prenom", ""),
                           value.get("fonction", ""))
    raise ValuesError("entretien.interlocuteur : un matricule ou un objet {civilite, nom, prenom, fonction} est attendu")


def parse_date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValuesError(f"{key} : une date sans heure est attendue")
    try:
        return dataset.parse_date(value)
    except dataset.CellError as exc:
        raise ValuesError(f"{key} : « {value} » : {exc}") from None


def parse_time(value: Any, key: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    match = _TIME.match(str(value).strip().lower())
    if not match:
        raise ValuesError(f"{key} : « {value} » n’est pas une heure (HH:MM ou 14 h 30)")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise ValuesError(f"{key} : l’heure « {value} » n’existe pas")
    return dt.time(hours, minutes)


def _datetime(value: Any, key: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValuesError(f"{key} : « {value} » n’est pas une date-heure ISO 8601") from None
    if moment.tzinfo is None:
        raise ValuesError(f"{key} : indiquez le fuseau (par exemple 2027-03-01T14:30:00+01:00)")
    return moment


def _block(values: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    block = values.get(key) or {}
    if not isinstance(block, Mapping):
        raise ValuesError(f"{key} : un objet est attendu")
    return block


def typed(value: Any, key: str = "", *, times: bool = False) -> Any:
    """JSON values with their "AAAA-MM-JJ" strings as dates (and, with `times`, "HH:MM" strings as
    times): the compte rendu and état des lieux blocks, or a whole sample context."""
    if isinstance(value, str):  # first: most values are texts
        if _ISO_DATE.match(value.strip()):
            return parse_date(value, key)
        if times and _HH_MM.match(value):
            return dt.time.fromisoformat(value)
        return value
    if isinstance(value, Mapping):
        return {k: typed(v, f"{key}.{k}" if key else str(k), times=times) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v, f"{key}[{i}]", times=times) for i, v in enumerate(value)]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` on top, nested objects merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
