"""The templates' context: the interview, the company and the letter, and the data each template receives."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from docgen import calendar, formatting
from docgen.calendar import ABONDEMENT_CORRECTIF, REVIEW_YEARS, Headcount
from docgen.dataset import (
    INTERVIEW_LABELS,
    INTERVIEW_STATUSES,
    Absence,
    ContextError,
    Dataset,
    Employee,
    PastInterview,
    Training,
    normalize_civilite,
)

__all__ = ["ABONDEMENT_CORRECTIF", "INTERVIEW_LABELS", "INTERVIEW_TITLES", "REVIEW_YEARS", "build_context"]

# --- Reference data --------------------------------------------------------------------------

INTERVIEW_TITLES: Mapping[str, str] = MappingProxyType({
    "premier": "Premier entretien de parcours professionnel",
    "periodique": "Entretien de parcours professionnel",
    "etat_des_lieux": "État des lieux récapitulatif du parcours professionnel",
    "reprise": "Entretien de parcours professionnel à la reprise d’activité",
    "mi_carriere": "Entretien de mi-carrière",
    "avant_60": "Entretien de parcours professionnel avant 60 ans",
    "fin_mandat": "Entretien de fin de mandat",
})

ABONDEMENT_MIN_EFFECTIF = calendar.ABONDEMENT_MIN_HEADCOUNT
EPP_PERIOD_YEARS = 4


class InterviewError(ContextError):
    """The interview, company or letter details are incomplete or inconsistent."""


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
    """Headcount per CSS L. 130-1 (annual average of the previous calendar year): the abondement
    correctif applies from 50."""
    logo: str | os.PathLike[str] | None = None
    """Path to an image; the renderer turns it into a picture."""
    effectif_mesure_le: dt.date | None = None
    """When the headcount was measured."""
    effectif_annees_seuil: int | None = None
    """Consecutive calendar years at 50 or more (L. 130-1, II), when known."""
    periodicite: int = EPP_PERIOD_YEARS
    """Years between two interviews (an agreement may shorten it, L. 6315-1, III)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("nom", "adresse", "code_postal", "ville"):
            _check_text(problems, name, getattr(self, name))
        if isinstance(self.effectif, bool) or not isinstance(self.effectif, int) or self.effectif < 0:
            problems.append("effectif : un nombre entier de salariés est attendu")
        _raise_if(problems, "Société")

    @property
    def headcount(self) -> Headcount:
        return Headcount(self.effectif, self.effectif_mesure_le, self.effectif_annees_seuil)


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


def is_mi_carriere(birth: dt.date, day: dt.date, visit: dt.date | None = None) -> bool:
    """The mid-career section applies: within two months after the mid-career visit (L. 6315-1, IV),
    by default in the year of the 45th birthday or the two months after it (calendar's window)."""
    if visit is not None:
        return visit <= day <= calendar._add_months(visit, calendar.MI_CARRIERE_DELAY_MONTHS)
    year = birth.year + calendar.MI_CARRIERE_AGE
    return dt.date(year, 1, 1) <= day <= calendar._add_months(dt.date(year, 12, 31), calendar.MI_CARRIERE_DELAY_MONTHS)


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


def _interview_dict(item: PastInterview) -> dict[str, Any]:
    return {"date": item.date, "type": item.type, "libelle": INTERVIEW_LABELS[item.type],
            "statut": item.status, "statut_libelle": INTERVIEW_STATUSES[item.status]}


def _history(dataset: Dataset, employee: Employee, extra: Mapping[str, Any]) -> list[PastInterview]:
    """The employee's interviews: `entretiens_precedents` from extra ({date, type, statut?}, held by
    default), else the dataset's history (the entretiens file, or date_dernier_entretien)."""
    if "entretiens_precedents" not in extra:
        return list(dataset.interviews_of(employee.matricule))
    items = extra["entretiens_precedents"]
    if not isinstance(items, list):
        raise InterviewError("entretiens_precedents : une liste est attendue")
    past = []
    for item in items:
        code = item.get("type") if isinstance(item, Mapping) else None
        day = item.get("date") if isinstance(item, Mapping) else None
        status = item.get("statut", "held") if isinstance(item, Mapping) else None
        if code not in INTERVIEW_LABELS or not isinstance(day, dt.date) or status not in INTERVIEW_STATUSES:
            raise InterviewError(f"entretiens_precedents : {{date, type, statut}} attendu, reçu {item!r}")
        past.append(PastInterview(day, code, status, bool(item.get("compte", True)), employee.matricule))
    return sorted(past, key=lambda item: item.date)


def _previous_interviews(history: list[PastInterview], interview: Interview) -> list[dict[str, Any]]:
    """Interviews held or refused before the interview's date, oldest first."""
    return [_interview_dict(item) for item in history if item.status != "planned" and item.date < interview.date]


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
    held = [item["date"] for item in previous if item["statut"] == "held"]
    if held:
        salarie["date_dernier_entretien"] = held[-1]
    elif employee.date_dernier_entretien is not None and employee.date_dernier_entretien < day:
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
        "mi_carriere": is_mi_carriere(employee.date_naissance, interview.date, employee.date_visite_mi_carriere),
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
                f"Entretien de reprise : aucune absence {formatting.de(employee.prenom)} {employee.nom} "
                f"({employee.matricule}) ne se termine au plus tard le {formatting.date(interview.date)}"
            )
        entretien["reprise"] = _absence_dict(absence)
        entretien["reprise"]["parental"] = absence.motif in ("conge_parental_education", "temps_partiel_parental")
        entretien["reprise"]["retour"] = f"Retour {formatting.de(absence.libelle)}"
    if interview.type == "fin_mandat":
        entretien["fin_mandat"] = True
    return entretien


def _societe(company: Company) -> dict[str, Any]:
    societe: dict[str, Any] = {"nom": company.nom, "adresse": company.adresse,
                               "code_postal": company.code_postal, "ville": company.ville,
                               "effectif": company.effectif,
                               "moins_de_300": company.effectif < 300}
    if company.effectif_mesure_le is not None:
        societe["effectif_mesure_le"] = company.effectif_mesure_le
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
                       "commentaires_salarie", "bilan_mi_carriere", "fin_de_carriere", "competences_mandat",
                       "reprise_consequences")
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


_REVIEW_GIVEN = {"progression": (bool, type(None)), "progression_detail": str, "vae": (bool, type(None)),
                 "certification_detail": str, "commentaires": str}
_REVIEW_COMPUTED = ("periode", "entretiens", "entretiens_prevus", "entretiens_realises", "abondement",
                    "formations_non_obligatoires", "certification", "echeances", "entretiens_refuses")


def etat_des_lieux(employee: Employee, dataset: Dataset, history: list[PastInterview], interview: Interview,
                   company: Company, on: dt.date, given: Mapping[str, Any] | None = None,
                   given_history: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The état des lieux récapitulatif: the legal calendar's own assessment (calendar.assess_review)
    of the review held on the interview's date, as known on `on` (the letter's date: when the document
    is written).

    Counts, interviews, trainings and the abondement are never given: they come from the calendar.
    `given` holds what only people know: ``progression`` (True/False, None until said),
    ``progression_detail``, ``vae`` (elements of certification by VAE), ``certification_detail``,
    ``commentaires``.
    """
    given = dict(given or {})
    computed = sorted(set(given) & set(_REVIEW_COMPUTED))
    if computed:
        raise InterviewError(f"etat_des_lieux : {', '.join(computed)} viennent du calendrier légal (historique "
                             "des entretiens et formations) et ne se saisissent pas")
    unknown = sorted(set(given) - set(_REVIEW_GIVEN))
    if unknown:
        raise InterviewError(f"etat_des_lieux : champ(s) inconnu(s) : {', '.join(unknown)}")
    for name, kind in _REVIEW_GIVEN.items():
        if name in given and not isinstance(given[name], kind):
            raise InterviewError(f"etat_des_lieux.{name} : valeur de type {type(given[name]).__name__} refusée")
    try:
        review = calendar.assess_review(
            employee, interviews=[i for i in history if i.status == "planned" or i.date <= on],
            absences=dataset.absences_of(employee.matricule), trainings=dataset.trainings_of(employee.matricule),
            review_date=interview.date, on=on, headcount=company.headcount, period_years=company.periodicite,
            history_complete=dataset.interviews is not None or "entretiens_precedents" in (given_history or {}))
    except ValueError as exc:
        raise InterviewError(f"État des lieux : {exc}") from None
    trainings = {t.intitule: t for t in dataset.trainings_of(employee.matricule)}
    non_mandatory = [_training_dict(trainings[name]) for name in review["formations_non_obligatoires"]]
    certifying = [trainings[name] for name in review["certifications"]]
    vae = given.get("vae")
    detail = given.get("certification_detail") or "; ".join(
        f"{t.intitule} ({formatting.date(t.date_fin)})" for t in certifying)
    block: dict[str, Any] = {
        "periode": review["periode"],
        "provisoire": review["provisoire"],
        "date_reference": review["date_reference"],
        "regle": review["regle"],
        "entretiens": review["entretiens"],
        "entretiens_refuses": [item for item in review["entretiens"] if item["statut"] == "refused"],
        "echeances": [{**slot, "libelle": INTERVIEW_LABELS[slot["type"]]} for slot in review["echeances"]],
        "entretiens_prevus": review["entretiens_prevus"],
        "entretiens_realises": review["entretiens_realises"],
        "formations": review["formations"],
        "formation": bool(review["formations"]),
        "formations_non_obligatoires": non_mandatory,
        "certification": bool(certifying) or vae is True,
        "certification_detail": detail if (certifying or vae) else "",
        "vae": bool(vae),
        "vae_renseignee": vae is not None,
        "progression": bool(given.get("progression")),
        "progression_renseignee": given.get("progression") is not None,
        "progression_detail": given.get("progression_detail", ""),
        "commentaires": given.get("commentaires", ""),
        "abondement": {key: review[key] for key in ("applicable", "montant", "motif", "versement_avant")
                       if key in review},
        "historique_incomplet": review.get("historique_incomplet", False),
        "effectif": company.effectif,
    }
    return block


def build_context(
    dataset: Dataset,
    matricule: str,
    interview: Interview,
    company: Company,
    letter: Letter,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The templates' context (parcours/resources/documents/SCHEMA.md) for one employee and one interview.

    `extra` (merged over `interview.extra`, key by key) may hold "compte_rendu" and
    "etat_des_lieux" values and "entretiens_precedents" (a list of {date, type, statut}). Optional
    values that are unknown are left out of the dicts, so printing them stops the rendering. The
    état des lieux is the legal calendar's assessment (docgen.calendar.assess_review) of the review
    on the interview's date, as known on the letter's date (when the document is written).
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
    history = _history(dataset, employee, merged)
    previous = _previous_interviews(history, interview)

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
        on = letter.date  # what is known when the document is written
        context["etat_des_lieux"] = etat_des_lieux(employee, dataset, history, interview, company, on,
                                                   merged.get("etat_des_lieux"), merged)
    return context
