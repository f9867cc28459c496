"""The legal calendar of the entretien de parcours professionnel (EPP): pure rules, no I/O.

From an employee's data (hire, birth, exit and contract dates, the interview history, absences,
trainings) and the company's headcount, `due_interviews` lists what is owed, each item with its
deadline, the articles it rests on (`RULES`: references into docgen/law/legi.json, the consolidated
text extracted from Légifrance's LEGI data) and a French sentence quoting the words it rests on;
`due_before` does it for a whole dataset; `assess_review` is the état des lieux récapitulatif and the
abondement correctif, the one source the état des lieux document is built from.

The law of each date (the numbers are the constants below):

* **One schedule, the law in force at each due date.** The interviews "prévus" form a chain from
  hire. The first one: under the former rule (before 26 October 2025, loi n° 2025-989 in force) two
  years after hire; since then « au cours de la première année suivant son embauche » (L. 6315-1, I).
  Then one interview every two years before the reform and « tous les quatre ans » after, counted
  from the last interview held (or refused, see below). A slot is "réalisé" when an EPP of any type
  took place between the previous interview and its deadline; a missed slot stays a breach, and the
  next slot falls one period after the missed deadline (the obligation recurs); a late interview
  realises the next slot, never the missed one, and the clock restarts from it.
* **Transitions** (C. civ., art. 2222, as the ministry's questions-réponses of February 2026, n° 2,
  apply it): a two-year delay still running on 26 October 2025 becomes a four-year delay counted from
  the last interview (al. 1: « il est alors tenu compte du délai déjà écoulé »); one that had expired
  before stays a breach (« sans effet sur une prescription ou une forclusion acquise »). For the first
  interview, whose delay is shortened from two years to one, the new delay runs from 26 October 2025
  without exceeding the old one (al. 2).
* **Agreements** (L. 6315-1, III): `period_years` from 1 to 4. An agreement made before the reform
  (`pre_reform_agreement`) may have set a longer period; it applied until 30 September 2026, after
  which the deadline is at most four years after the last interview (and not before 30 September 2026).
* **État des lieux récapitulatif** (L. 6315-1, II): « tous les huit ans », « par référence à
  l'ancienneté du salarié ». Due when seniority reaches 8, 16… years, to be held before 9, 17… years
  (ministry's Q-R); the first one after hire « peut être réalisé sept ans après » the first interview.
  Seniority leaves out the suspensions the law does not count as work: half of a full-time congé
  parental d'éducation (L. 1225-54), a congé sabbatique (L. 3142-28), a période de mobilité volontaire
  sécurisée (L. 1222-12) and an arrêt longue maladie (no text assimilates them to work; a collective
  agreement may: this is a default). A 6-year review whose date fell before the reform was due under
  the former law: when not held it is reported as a breach, assessed over six years.
  Only an interview of type ``etat_des_lieux`` holds a review.
* **Abondement correctif** (L. 6315-1, II; L. 6323-13; R. 6323-3): companies of at least fifty
  employees, headcount per CSS L. 130-1 (`Headcount`: the annual average of the previous calendar
  year; the threshold counts once reached for five consecutive calendar years). Owed when, over the
  eight years before the review (six for a review due before the reform), the employee did not have
  the interviews "prévus" AND had no training other than mandatory ones (cumulative, Cass. soc.
  21 January 2026, n° 24-12.972). "Prévus": the chain's slots whose deadline falls in the period, and
  the mid-career and before-60 interviews due in it (ministry's Q-R n° 11); the review itself is not
  counted. 3 000 € paid to the Caisse des dépôts by the last day of the calendar quarter following the
  review (R. 6323-3, I, II and IV). A review still to come is assessed on the slots already due
  (``provisoire``).
* **Refusals** (the law is silent; sources disagree). The obligation is the employer's: to organise
  and offer the interview (« est organisé par l'employeur »); an employee cannot be forced to attend.
  An employer who proves the offer (a convocation that leaves a trace) has done what the law asks, so
  by default a refusal counts like an interview held: it restarts the clock, realises its slot and
  closes the occurrence, and the état des lieux lists it as refused. HR overrides this per case
  (``PastInterview.counts=False``, column ``compte`` = non in the entretiens file) when the offer cannot
  be proved; the refusal then counts for nothing. Exception: the return interview is not required if
  the employee « a bénéficié » of an EPP in the twelve months before; a refused one does not exempt.
* **Reprise** (L. 6315-1, I; L. 1225-46-7, L. 1225-57): after each listed absence (``date_fin`` is the
  return); the law sets no delay (« à l'issue »), the product allows one month. Not required if the
  employee had an EPP in the twelve months before the return (returns since 26 October 2025); it may
  be held before the return at the employee's request.
* **Mi-carrière** (L. 6315-1, IV; L. 4624-2-2): within two months after the mid-career medical visit
  (`Employee.date_visite_mi_carriere`); when the visit date is unknown, the visit is taken in the
  calendar year of the 45th birthday and the interview is due by the end of February that follows,
  which the reason says.
* **Avant 60 ans** (L. 6315-1, V): in the two years before the 60th birthday. Mid-career and before-60
  interviews are new in 2025: not reported when their deadline came before 26 October 2025.
* **Who is concerned**: nothing is listed for an employee who left (`date_sortie`) or whose fixed-term
  contract ended on the reference date; an interview whose deadline falls after the end of the
  employment (exit date or end of the contract) is not owed (« tout salarié restant employé »).
* **Planned interviews** are not facts: an occurrence stays open until an interview is held or
  refused; one planned is shown as ``planned_on``. **Overdue**: deadline before the reference date.
* **Dates**: N years after a 29 February is 28 February; a birthday on 29 February is on 1 March.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docgen import formatting
from docgen.dataset import (
    ABSENCE_LABELS,
    INTERVIEW_LABELS,
    INTERVIEW_STATUSES,
    Absence,
    Dataset,
    Employee,
    PastInterview,
    Training,
)
from docgen.law import Ref

__all__ = [
    "ABONDEMENT_CORRECTIF",
    "REFORM_DATE",
    "RULES",
    "STATUSES",
    "DueInterview",
    "Headcount",
    "PastInterview",
    "abondement_for_review",
    "assess_review",
    "due_before",
    "due_interviews",
]

REFORM_DATE = dt.date(2025, 10, 26)
"""Loi n° 2025-989 du 24 octobre 2025 in force (published on 25 October)."""
LAW_2014_DATE = dt.date(2014, 3, 7)
"""Loi n° 2014-288 du 5 mars 2014 in force: the entretien professionnel every two years and the 6-year
review start then; nothing is planned before (first interview by 7 March 2016, first review by 7 March 2020)."""
PRE_REFORM_AGREEMENTS_END = dt.date(2026, 9, 30)
ABONDEMENT_CORRECTIF = 3000  # euros, R. 6323-3, I
ABONDEMENT_MIN_HEADCOUNT = 50
THRESHOLD_YEARS = 5  # CSS L. 130-1, II
FIRST_INTERVIEW_YEARS = 1
FORMER_PERIOD_YEARS = 2
MAX_PERIOD_YEARS = 4
MAX_PRE_REFORM_PERIOD_YEARS = 10
REVIEW_YEARS = 8
FORMER_REVIEW_YEARS = 6
FIRST_REVIEW_AFTER_FIRST_EPP_YEARS = 7
REPRISE_EXEMPTION_MONTHS = 12
REPRISE_DELAY_MONTHS = 1  # product choice: the law says « à l'issue » of the absence, no delay
MI_CARRIERE_AGE = 45
MI_CARRIERE_DELAY_MONTHS = 2
AVANT_60_AGE = 60
AVANT_60_WINDOW_YEARS = 2
SENIORITY_COUNTED: Mapping[str, float] = {
    "conge_parental_education": 0.5,  # L. 1225-54: « prise en compte pour moitié »
    "conge_sabbatique": 0.0,  # L. 3142-28: contract suspended, no text counts it
    "mobilite_volontaire_securisee": 0.0,  # L. 1222-12: « l'exécution de son contrat de travail est suspendue »
    "arret_longue_maladie": 0.0,  # no legal text assimilates it to work (collective agreements may)
}
"""Share of an absence counted in seniority for the état des lieux (1 when not listed)."""

STATUSES = tuple(INTERVIEW_STATUSES)
_ORDER = {code: index for index, code in enumerate(INTERVIEW_LABELS)}

_QR2 = "Questions-réponses du ministère du Travail sur l’entretien de parcours professionnel (février 2026), n° 2"
_QR11 = "Questions-réponses du ministère du Travail sur l’entretien de parcours professionnel (février 2026), n° 11"
_QR_REVIEW = ("Questions-réponses du ministère du Travail sur l’entretien de parcours professionnel (février 2026) : "
              "état des lieux avant neuf ans d’ancienneté")
_CIV_2222 = "article 2222 du code civil"
_CASS = "Cass. soc., 21 janvier 2026, n° 24-12.972"

_FIRST = Ref("L6315-1", "I", "au cours de la première année suivant son embauche")
_EVERY_4 = Ref("L6315-1", "I", "tous les quatre ans")
_AGREEMENT = Ref("L6315-1", "III", "sans que celle-ci excède quatre ans")
_REVIEW = Ref("L6315-1", "II", "Tous les huit ans")
_SENIORITY = Ref("L6315-1", "II", "Cette durée s'apprécie par référence à l'ancienneté du salarié dans l'entreprise")
_FIRST_REVIEW = Ref("L6315-1", "II", "il peut être réalisé sept ans après l'entretien mentionné au premier alinéa du I")
_ABONDEMENT = Ref("L6315-1", "II", "n'a pas bénéficié des entretiens prévus et d'au moins une formation autre que "
                                   "celle mentionnée à l'article L. 6321-2")
_HEADCOUNT = Ref("L6315-1", "II", "selon les modalités prévues à l'article L. 130-1 du code de la sécurité sociale")
_CSS_AVERAGE = Ref("L130-1", "I", "correspond à la moyenne du nombre de personnes employées au cours de chacun des "
                                  "mois de l'année civile précédente")
_CSS_FIVE_YEARS = Ref("L130-1", "II", "lorsque ce seuil a été atteint ou dépassé pendant cinq années civiles "
                                      "consécutives")
_AMOUNT = Ref("R6323-3", "I", "d'un montant de 3 000 euros")
_PAID_TO = Ref("R6323-3", "II", "est versée par l'employeur à la Caisse des dépôts et consignations")
_PAID_BY = Ref("R6323-3", "IV", "le dernier jour du trimestre civil suivant la date de l'entretien professionnel")
_L6323_13 = Ref("L6323-13", "", "durant les huit ans précédant l'entretien mentionné au II de l'article L. 6315-1")
_REPRISE = Ref("L6315-1", "I", "est proposé systématiquement au salarié qui reprend son activité")
_REPRISE_12 = Ref("L6315-1", "I", "si le salarié n'a bénéficié d'aucun entretien de parcours professionnel au cours "
                                  "des douze mois précédant sa reprise d'activité")
_MI_CARRIERE = Ref("L6315-1", "IV", "dans un délai de deux mois à compter de la visite médicale de mi-carrière")
_VISIT_YEAR = Ref("L4624-2-2", "I", "durant l'année civile du quarante-cinquième anniversaire du travailleur")
_AVANT_60 = Ref("L6315-1", "V", "au cours des deux années précédant le soixantième anniversaire du salarié")
_FORMER = Ref(None, source="article L. 6315-1, I, du code du travail dans sa rédaction antérieure à la loi "
                           "n° 2025-989 (LEGIARTI000038610069) : « tous les deux ans »")
_FORMER_REVIEW = Ref(None, source="article L. 6315-1, II, du code du travail dans sa rédaction antérieure à la loi "
                                  "n° 2025-989 (LEGIARTI000038610069) : « tous les six ans »")
_CIV_AL1 = Ref(None, source=f"{_CIV_2222}, al. 1 ; {_QR2}")
_CIV_AL2 = Ref(None, source=f"{_CIV_2222}, al. 2 ; {_QR2}")

_REPRISE_MOTIF_REFS: Mapping[str, Ref] = {
    "conge_maternite": Ref("L6315-1", "I", "à l'issue des congés de maternité et d'adoption"),
    "conge_adoption": Ref("L6315-1", "I", "à l'issue des congés de maternité et d'adoption"),
    "conge_supplementaire_naissance": Ref("L1225-46-7", "", "à l'issue du congé supplémentaire de naissance"),
    "conge_parental_education": Ref("L1225-57", "", "les conséquences éventuelles du congé sur sa rémunération et "
                                                    "l'évolution de sa carrière"),
    "temps_partiel_parental": Ref("L6315-1", "I", "d'une période d'activité à temps partiel au sens de l'article "
                                                  "L. 1225-47"),
    "conge_proche_aidant": Ref("L6315-1", "I", "d'un congé de proche aidant"),
    "conge_sabbatique": Ref("L6315-1", "I", "d'un congé sabbatique"),
    "mobilite_volontaire_securisee": Ref("L6315-1", "I", "d'une période de mobilité volontaire sécurisée"),
    "arret_longue_maladie": Ref("L6315-1", "I", "d'un arrêt longue maladie prévu à l'article L. 324-1 du code de la "
                                                "sécurité sociale"),
    "fin_mandat_syndical": Ref("L2141-5", "", "recensement des compétences acquises au cours du mandat"),
}

RULES: Mapping[str, tuple[Ref, ...]] = {
    "premier": (_FIRST,),
    "premier_ancien": (_FORMER, Ref(None, source=f"{_CIV_2222}, al. 1")),
    "premier_transition": (_FIRST, _CIV_AL2),
    "periodique": (_EVERY_4,),
    "periodique_accord": (_AGREEMENT,),
    "periodique_ancien": (_FORMER, Ref(None, source=f"{_CIV_2222}, al. 1")),
    "periodique_transition": (_EVERY_4, _CIV_AL1),
    "etat_des_lieux": (_REVIEW, _SENIORITY, Ref(None, source=_QR_REVIEW)),
    "etat_des_lieux_premier": (_REVIEW, _FIRST_REVIEW, _SENIORITY, Ref(None, source=_QR_REVIEW)),
    "etat_des_lieux_ancien": (_FORMER_REVIEW, Ref(None, source=f"{_CIV_2222}, al. 1")),
    "abondement": (_ABONDEMENT, _L6323_13, _HEADCOUNT, _CSS_AVERAGE, _CSS_FIVE_YEARS, _AMOUNT, _PAID_TO, _PAID_BY,
                   Ref(None, source=_CASS), Ref(None, source=_QR11)),
    "reprise": (_REPRISE, _REPRISE_12),
    **{f"reprise_{motif}": (_REPRISE, ref) for motif, ref in _REPRISE_MOTIF_REFS.items()},
    "mi_carriere": (_MI_CARRIERE,),
    "mi_carriere_sans_visite": (_MI_CARRIERE, _VISIT_YEAR),
    "avant_60": (_AVANT_60,),
    "anciennete": (_SENIORITY, Ref("L1225-54", "", "prise en compte pour moitié"),
                   Ref("L3142-28", "", "son contrat de travail est suspendu"),
                   Ref("L1222-12", "", "l'exécution de son contrat de travail est suspendue")),
}
"""Where each rule comes from: the articles (and the words) of docgen/law/legi.json, and the other sources."""


def cite(rule: str) -> str:
    """The references of a rule as shown to HR: « article L. 6315-1, I, du code du travail ; … »."""
    return " ; ".join(dict.fromkeys(ref.cite() for ref in RULES[rule]))


def _q(ref: Ref) -> str:
    """« words » (L. 6315-1, I): a quotation and where it comes from, with French apostrophes."""
    assert ref.article is not None
    where = f"{ref.article[0]}. {ref.article[1:]}" + (f", {ref.paragraph}" if ref.paragraph else "")
    if ref.code != "code du travail":
        where += f" du {ref.code}"
    return f"« {ref.quote.replace(chr(39), '’')} » ({where})"


# --- Public types ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Headcount:
    """The company's headcount for the abondement correctif, as CSS L. 130-1 counts it."""

    value: int
    """The annual headcount: the average of the months of the previous calendar year (L. 130-1, I)."""
    measured_on: dt.date | None = None
    """When HR measured it (shown in the reasons)."""
    years_at_threshold: int | None = None
    """Consecutive calendar years at 50 or more (L. 130-1, II: the threshold counts from five); None
    when HR states the threshold is crossed (or not) through `value` alone."""

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise ValueError(f"Effectif de l’entreprise : nombre entier positif attendu, reçu {self.value!r}")
        if self.years_at_threshold is not None and (
                isinstance(self.years_at_threshold, bool) or not isinstance(self.years_at_threshold, int)
                or self.years_at_threshold < 0):
            raise ValueError("Effectif : nombre d’années civiles consécutives à 50 salariés ou plus attendu")

    def describe(self) -> str:
        measured = f", mesuré le {formatting.date(self.measured_on)}" if self.measured_on else ""
        return (f"effectif de {formatting.nombre(self.value)} salarié{'s' if self.value > 1 else ''}{measured}, "
                "au sens de l’article L. 130-1 du code de la sécurité sociale")

    def crosses_threshold(self) -> bool:
        if self.value < ABONDEMENT_MIN_HEADCOUNT:
            return False
        return self.years_at_threshold is None or self.years_at_threshold >= THRESHOLD_YEARS


@dataclass(frozen=True)
class DueInterview:
    """One interview the employee must be offered."""

    matricule: str
    type: str
    """A key of INTERVIEW_LABELS."""
    libelle: str
    due_from: dt.date
    """From this date the interview is relevant (it may be held and counts)."""
    deadline: dt.date
    """The last day it may legally be held."""
    rule: str
    """The references it rests on, e.g. « article L. 6315-1, I, du code du travail »."""
    reason: str
    """Why it is due, in French, quoting the text."""
    overdue: bool
    """The deadline is before the reference date and the interview was not held."""
    planned_on: dt.date | None = None
    """The date HR already planned for it, if any."""
    abondement: Mapping[str, Any] | None = None
    """For an état des lieux: the assessment (see assess_review)."""
    rule_key: str = ""
    """The key of RULES."""

    @property
    def references(self) -> tuple[Ref, ...]:
        return RULES[self.rule_key] if self.rule_key else ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (dates as ISO strings)."""
        found: dict[str, Any] = {
            "matricule": self.matricule, "type": self.type, "libelle": self.libelle,
            "due_from": self.due_from.isoformat(), "deadline": self.deadline.isoformat(),
            "overdue": self.overdue, "planned_on": self.planned_on.isoformat() if self.planned_on else None,
            "rule_key": self.rule_key, "rule": self.rule,
            "references": [ref.as_dict() for ref in self.references], "reason": self.reason,
        }
        if self.abondement is not None:
            found["abondement"] = _jsonable(self.abondement)
        return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- Dates -----------------------------------------------------------------------------------

def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the year is over on 28 February
        return day.replace(year=day.year + years, day=28)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day))


def _birthday(birth: dt.date, age: int) -> dt.date:
    """The day the employee turns `age` (1 March for a 29 February birth, as context.age_on)."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return dt.date(birth.year + age, 3, 1)


def _end_of_next_quarter(day: dt.date) -> dt.date:
    quarter_start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return _add_months(quarter_start, 6) - dt.timedelta(days=1)


_DAY = dt.timedelta(days=1)


def _d(day: dt.date) -> str:
    return formatting.date(day)


def _le(day: dt.date) -> str:
    """« le 3 mars 2027 », « le 1er mars 2027 »."""
    return f"le {_d(day)}"


def _salarie(employee: Employee) -> str:
    return "La salariée" if employee.civilite == "Mme" else "Le salarié"


def _years(count: int) -> str:
    """« quatre ans », « neuf ans », « 16 ans »: words up to ten in running text."""
    return f"{formatting.en_lettres(count)} an{'s' if count > 1 else ''}"


# --- Validation ------------------------------------------------------------------------------

def _check_date(name: str, value: object) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValueError(f"« {name} » : date attendue (datetime.date), reçu {value!r}")
    return value


def _check_period(period_years: object, pre_reform_agreement: bool) -> int:
    if isinstance(period_years, bool) or not isinstance(period_years, int):
        raise ValueError("Périodicité des entretiens : nombre entier d’années attendu, "
                         f"reçu {period_years!r}")
    limit = MAX_PRE_REFORM_PERIOD_YEARS if pre_reform_agreement else MAX_PERIOD_YEARS
    if not 1 <= period_years <= limit:
        raise ValueError(
            f"Périodicité des entretiens de {period_years} an(s) refusée : elle est de "
            f"{MAX_PERIOD_YEARS} ans, et un accord d’entreprise ou de branche ne peut fixer qu’une "
            f"périodicité plus courte (de 1 à {MAX_PERIOD_YEARS} ans) ; un accord conclu avant la loi du "
            "24 octobre 2025 a pu en fixer une plus longue, appliquée jusqu’au 30 septembre 2026."
        )
    return period_years


def _check_headcount(headcount: object) -> Headcount:
    if isinstance(headcount, Headcount):
        return headcount
    return Headcount(headcount)  # type: ignore[arg-type]


def _check_inputs(employee: Employee, interviews: Sequence[PastInterview], absences: Iterable[Absence],
                  trainings: Iterable[Training], on: dt.date) -> tuple[list[PastInterview], list[Absence],
                                                                       list[Training]]:
    who = f"{employee.prenom} {employee.nom} ({employee.matricule})"
    past = list(interviews)
    for item in past:
        if not isinstance(item, PastInterview):
            raise ValueError(f"Entretiens de {who} : PastInterview attendu, reçu {item!r}")
        if item.date < employee.date_entree:
            raise ValueError(f"Entretiens de {who} : l’entretien du {_d(item.date)} précède l’entrée "
                             f"du {_d(employee.date_entree)}")
        if item.status != "planned" and item.date > on:
            state = "réalisé" if item.status == "held" else "refusé"
            raise ValueError(f"Entretiens de {who} : un entretien ne peut pas être {state} le "
                             f"{_d(item.date)}, après la date de référence du {_d(on)} ; "
                             "indiquez le statut « planned »")
    absence_list = list(absences)
    for absence in absence_list:
        if absence.matricule != employee.matricule:
            raise ValueError(f"Absences de {who} : l’absence {absence!r} concerne un autre matricule")
        if absence.motif not in ABSENCE_LABELS:
            raise ValueError(f"Absences de {who} : motif « {absence.motif} » inconnu")
        if absence.date_fin < absence.date_debut:
            raise ValueError(f"Absences de {who} : la fin ({_d(absence.date_fin)}) précède le début "
                             f"({_d(absence.date_debut)})")
    training_list = list(trainings)
    for training in training_list:
        if training.matricule != employee.matricule:
            raise ValueError(f"Formations de {who} : la formation « {training.intitule} » concerne "
                             "un autre matricule")
    return past, absence_list, training_list


# --- Facts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Facts:
    """What every rule needs: the inputs, checked."""

    employee: Employee
    interviews: tuple[PastInterview, ...]
    absences: tuple[Absence, ...]
    trainings: tuple[Training, ...]
    on: dt.date
    headcount: Headcount
    period: int
    pre_reform_agreement: bool = False
    history_complete: bool = True
    """False when only the last interview is known (date_dernier_entretien, no entretiens file)."""

    @property
    def done(self) -> list[PastInterview]:
        """Held, or refused and counted; oldest first."""
        return sorted((i for i in self.interviews if i.done), key=lambda i: i.date)

    @property
    def refused(self) -> list[PastInterview]:
        return sorted((i for i in self.interviews if i.status == "refused"), key=lambda i: i.date)

    def closed_by(self, accepts: Callable[[PastInterview], bool]) -> PastInterview | None:
        """The earliest interview held or refused that closes the occurrence."""
        return next((i for i in self.done if accepts(i)), None)

    def planned_for(self, accepts: Callable[[PastInterview], bool]) -> dt.date | None:
        """The earliest planned interview that would close the occurrence."""
        dates = [i.date for i in self.interviews if i.status == "planned" and accepts(i)]
        return min(dates, default=None)


def _facts(employee: Employee, interviews: Sequence[PastInterview], absences: Iterable[Absence],
           trainings: Iterable[Training], on: dt.date, headcount: int | Headcount, period_years: int,
           pre_reform_agreement: bool, history_complete: bool = True) -> _Facts:
    _check_date("on", on)
    past, absence_list, training_list = _check_inputs(employee, interviews, absences, trainings, on)
    return _Facts(employee, tuple(past), tuple(absence_list), tuple(training_list), on,
                  _check_headcount(headcount), _check_period(period_years, pre_reform_agreement),
                  pre_reform_agreement, history_complete)


def _due(facts: _Facts, code: str, due_from: dt.date, deadline: dt.date, rule: str, reason: str,
         accepts: Callable[[PastInterview], bool], abondement_info: Mapping[str, Any] | None = None
         ) -> DueInterview:
    planned_on = facts.planned_for(accepts)
    if planned_on is not None:
        if planned_on < facts.on:
            reason += (f" Un entretien était prévu {_le(planned_on)} mais n’est pas enregistré comme "
                       "réalisé : mettez à jour son statut.")
        elif planned_on > deadline:
            reason += f" L’entretien prévu {_le(planned_on)} est après l’échéance."
        else:
            reason += f" Entretien prévu {_le(planned_on)}."
    return DueInterview(
        matricule=facts.employee.matricule, type=code, libelle=INTERVIEW_LABELS[code],
        due_from=due_from, deadline=deadline, rule=cite(rule), reason=reason,
        overdue=deadline < facts.on, planned_on=planned_on, abondement=abondement_info, rule_key=rule,
    )


# --- The chain of periodic interviews --------------------------------------------------------

@dataclass(frozen=True)
class _Slot:
    """One interview the law plans: its window (after the previous interview, up to its deadline)."""

    kind: str
    """« premier » or « periodique »."""
    start: dt.date
    deadline: dt.date
    rule: str
    anchor: dt.date
    """What the deadline counts from: the hire, the last interview, or the missed deadline before."""
    held: tuple[PastInterview, ...] = ()
    """The interviews held (or refused) in the window."""

    @property
    def realised(self) -> bool:
        return bool(self.held)


def _former_period(facts: _Facts) -> int:
    return facts.period if facts.pre_reform_agreement else FORMER_PERIOD_YEARS


def _new_deadline(facts: _Facts, anchor: dt.date) -> tuple[dt.date, bool]:
    """The deadline from `anchor` under the current law, and whether an agreement sets it."""
    if facts.pre_reform_agreement and facts.period > MAX_PERIOD_YEARS:
        deadline = _add_years(anchor, facts.period)
        if deadline <= PRE_REFORM_AGREEMENTS_END:
            return deadline, True
        return max(_add_years(anchor, MAX_PERIOD_YEARS), PRE_REFORM_AGREEMENTS_END), False
    return _add_years(anchor, facts.period), facts.period != MAX_PERIOD_YEARS


def _first_deadline(facts: _Facts, hire: dt.date) -> tuple[dt.date, str]:
    if hire >= REFORM_DATE:
        return _add_years(hire, FIRST_INTERVIEW_YEARS), "premier"
    former = _add_years(hire, _former_period(facts))
    if former < REFORM_DATE:
        return former, "premier_ancien"  # expired before the reform: the breach stays
    # C. civ. 2222 al. 2: the shorter delay runs from the new law, never beyond the old one.
    return min(_add_years(REFORM_DATE, FIRST_INTERVIEW_YEARS), former), "premier_transition"


def _next_deadline(facts: _Facts, anchor: dt.date) -> tuple[dt.date, str]:
    if anchor >= REFORM_DATE:
        deadline, agreed = _new_deadline(facts, anchor)
        return deadline, "periodique_accord" if agreed else "periodique"
    former = _add_years(anchor, _former_period(facts))
    if former < REFORM_DATE:
        return former, "periodique_ancien"
    # C. civ. 2222 al. 1: a longer delay applies to one still running, counting the time elapsed.
    deadline, agreed = _new_deadline(facts, anchor)
    return deadline, "periodique_accord" if agreed else "periodique_transition"


def _chain(facts: _Facts, until: dt.date) -> list[_Slot]:
    """The periodic interviews the law plans from hire (or from the 2014 law), up to the first deadline
    after `until`."""
    hire = facts.employee.date_entree
    done = facts.done
    slots: list[_Slot] = []
    kind, start = "premier", hire
    anchor = max(hire, LAW_2014_DATE)
    deadline, rule = _first_deadline(facts, anchor)
    while True:
        held = tuple(i for i in done if start <= i.date <= deadline)
        slots.append(_Slot(kind, start, deadline, rule, anchor, held))
        if deadline > until:
            return slots
        anchor = held[-1].date if held else deadline
        start = anchor + _DAY
        kind = "periodique"
        deadline, rule = _next_deadline(facts, anchor)


def _chain_until(facts: _Facts) -> dt.date:
    return _add_years(max(facts.on, facts.employee.date_entree), 20)


def _premier_periodique(facts: _Facts, review: DueInterview | None) -> DueInterview | None:
    """The open slot of the chain: the one after the last interview held (or the first one)."""
    slots = _chain(facts, _chain_until(facts))
    last_realised = max((index for index, slot in enumerate(slots) if slot.realised), default=-1)
    slot = slots[last_realised + 1]
    hire = facts.employee.date_entree
    last = slots[last_realised].held[-1] if last_realised >= 0 else None
    code = "premier" if last is None else "periodique"
    reason = _chain_reason(facts, slot, last)
    if code == "periodique" and review is not None and review.deadline <= slot.deadline and not (
            slot.deadline < facts.on):
        return None  # the review is an EPP: held in time, it is the periodic interview too
    if code == "periodique" and review is not None and review.due_from <= max(slot.deadline, facts.on):
        reason += (f" L’état des lieux récapitulatif (possible dès {_le(review.due_from)}) est lui-même "
                   "un entretien de parcours professionnel et peut en tenir lieu.")
    if last is None:
        due_from = hire

        def accepts(item: PastInterview) -> bool:
            return item.date >= hire
    else:
        due_from = max(last.date + _DAY, _add_years(slot.deadline, -1))
        last_date = last.date

        def accepts(item: PastInterview) -> bool:
            return item.date > last_date

    return _due(facts, code, due_from, slot.deadline, slot.rule, reason, accepts)


def _chain_reason(facts: _Facts, slot: _Slot, last: PastInterview | None) -> str:
    hire = facts.employee.date_entree
    late = slot.deadline < facts.on
    until = f"en retard depuis {_le(slot.deadline)}" if late else f"au plus tard {_le(slot.deadline)}"
    if last is None:
        # A hire still to come (imported up to a year ahead) is said in the future, not as a past hire.
        head = (f"Embauche prévue {_le(hire)} : " if hire > facts.on
                else f"Embauche {_le(hire)}, aucun entretien enregistré depuis : ")
        if slot.rule == "premier":
            return head + f"le premier entretien a lieu {_q(_FIRST)} ; {until}."
        if slot.rule == "premier_ancien":
            since = ("de l’entrée en vigueur de la loi du 5 mars 2014" if hire < LAW_2014_DATE
                     else "de l’embauche")
            return (head + "sous la règle antérieure à la loi du 24 octobre 2025, le premier entretien avait "
                    f"lieu dans les deux ans {since} ({_FORMER.source}) ; ce délai a expiré {_le(slot.deadline)}, "
                    "avant l’entrée en vigueur de la loi nouvelle le 26 octobre 2025, qui est « sans effet » sur "
                    f"un délai expiré ({_CIV_2222}, al. 1) : le manquement demeure ; {until}.")
        return (head + "le délai de deux ans de l’ancienne règle courait encore le 26 octobre 2025 ; le nouveau "
                f"délai, {_q(_FIRST)}, « court à compter du jour de l’entrée en vigueur de la loi nouvelle, "
                "sans que la durée totale puisse excéder la durée prévue par la loi antérieure » "
                f"({_CIV_2222}, al. 2 ; questions-réponses du ministère, n° 2) ; {until}.")
    held = "réalisé" if last.status == "held" else "proposé (refusé par le salarié)"
    head = f"Dernier entretien {held} {_le(last.date)} : "
    if slot.rule == "periodique":
        text = head + f"un entretien de parcours professionnel a lieu {_q(_EVERY_4)} ; {until}."
    elif slot.rule == "periodique_accord":
        text = (head + f"un entretien a lieu tous les {_years(facts.period)}, périodicité fixée par accord "
                f"({_q(_AGREEMENT)}) ; {until}.")
        if facts.pre_reform_agreement and facts.period > MAX_PERIOD_YEARS:
            text += " L’accord, conclu avant la loi du 24 octobre 2025, s’applique jusqu’au 30 septembre 2026."
    elif slot.rule == "periodique_ancien":
        text = (head + "sous la règle antérieure à la loi du 24 octobre 2025, l’entretien suivant devait avoir "
                f"lieu dans les deux ans ({_FORMER.source}) ; ce délai a expiré {_le(slot.deadline)}, avant "
                "l’entrée en vigueur de la loi nouvelle, qui est « sans effet sur une prescription ou une "
                f"forclusion acquise » ({_CIV_2222}, al. 1) : {until}.")
    else:  # periodique_transition
        text = (head + "le délai de deux ans de l’ancienne règle n’était pas expiré le 26 octobre 2025 ; le "
                f"délai nouveau, {_q(_EVERY_4)}, s’applique et « il est alors tenu compte du délai déjà "
                f"écoulé » ({_CIV_2222}, al. 1 ; questions-réponses du ministère, n° 2) : il court depuis le "
                f"dernier entretien ; {until}.")
    if last.status == "refused":
        text += (f" L’entretien du {_d(last.date)} a été refusé par le salarié : il compte comme proposé, "
                 "gardez la preuve de la convocation.")
    return text


# --- Seniority and the état des lieux --------------------------------------------------------

def _excluded_days(facts: _Facts, until: dt.date) -> int:
    """Days of suspension before `until` that seniority does not count (SENIORITY_COUNTED)."""
    excluded = 0.0
    for absence in facts.absences:
        share = SENIORITY_COUNTED.get(absence.motif, 1.0)
        end = min(absence.date_fin, until)
        if share < 1 and end > absence.date_debut:
            excluded += (end - absence.date_debut).days * (1 - share)
    return int(excluded)


def _seniority_date(facts: _Facts, years: int) -> dt.date:
    """The day the employee's seniority reaches `years`, suspensions not counted left out."""
    plain = _add_years(facts.employee.date_entree, years)
    day = plain
    for _ in range(20):
        later = plain + dt.timedelta(days=_excluded_days(facts, day))
        if later == day:
            break
        day = later
    return day


@dataclass(frozen=True)
class _Review:
    mark: dt.date
    """Seniority reaches 8k years (6k under the former law)."""
    due_from: dt.date
    deadline: dt.date
    rule: str
    years: int
    former: bool


def _reviews(facts: _Facts) -> list[_Review]:
    """Every review from hire to 20 years after the reference date."""
    hire = facts.employee.date_entree
    found: list[_Review] = []
    k = 1
    while True:
        mark = _seniority_date(facts, FORMER_REVIEW_YEARS * k)
        if hire < LAW_2014_DATE:
            mark = _add_years(LAW_2014_DATE, FORMER_REVIEW_YEARS * k)
        if mark >= REFORM_DATE:
            break
        found.append(_Review(mark, mark, mark, "etat_des_lieux_ancien", FORMER_REVIEW_YEARS * k, True))
        k += 1
    first_epp = facts.done[0].date if facts.done else None
    k = 1
    limit = _add_years(max(facts.on, hire), 20)
    while (mark := _seniority_date(facts, REVIEW_YEARS * k)) <= limit:
        if mark >= REFORM_DATE:
            deadline = _seniority_date(facts, REVIEW_YEARS * k + 1) - _DAY
            due_from, rule = mark, "etat_des_lieux"
            if k == 1:
                rule = "etat_des_lieux_premier"
                if first_epp is not None:
                    due_from = min(mark, _add_years(first_epp, FIRST_REVIEW_AFTER_FIRST_EPP_YEARS))
            found.append(_Review(mark, due_from, deadline, rule, REVIEW_YEARS * k, False))
        k += 1
    return found


def _review_closed(facts: _Facts, reviews: list[_Review], index: int) -> PastInterview | None:
    review = reviews[index]
    start = review.due_from if not review.former else (reviews[index - 1].mark + _DAY if index else
                                                       facts.employee.date_entree)
    end = reviews[index + 1].due_from if index + 1 < len(reviews) else dt.date.max
    return facts.closed_by(lambda item: item.type == "etat_des_lieux" and start <= item.date < end)


def _etat_des_lieux(facts: _Facts) -> list[DueInterview]:
    """The last review due under the former law when it was missed, and the current (or next) review."""
    reviews = _reviews(facts)
    found: list[DueInterview] = []
    former = [i for i, r in enumerate(reviews) if r.former]
    if former and _review_closed(facts, reviews, former[-1]) is None:
        found.append(_review_item(facts, reviews[former[-1]]))
    current = [i for i, r in enumerate(reviews) if not r.former]
    for position, index in enumerate(current):
        if _review_closed(facts, reviews, index) is not None:
            continue
        following = current[position + 1] if position + 1 < len(current) else None
        if following is not None and reviews[following].due_from <= facts.on:
            continue  # a later review is already due: this one is a past breach
        found.append(_review_item(facts, reviews[index]))
        break
    return found


def _review_item(facts: _Facts, review: _Review) -> DueInterview:
    hire = facts.employee.date_entree
    excluded = _excluded_days(facts, review.mark)
    seniority = (f" (ancienneté calculée sans {excluded} jour{'s' if excluded > 1 else ''} de suspension du "
                 "contrat non assimilée à du travail effectif)") if excluded else ""

    def accepts(item: PastInterview) -> bool:
        return item.type == "etat_des_lieux" and item.date >= review.due_from

    if review.former:
        reason = (f"Embauche {_le(hire)} : sous la règle antérieure à la loi du 24 octobre 2025, l’entretien "
                  f"faisait un état des lieux récapitulatif tous les six ans ({_FORMER_REVIEW.source}) ; celui "
                  f"{'des six ans d’ancienneté' if hire >= LAW_2014_DATE else 'compté depuis la loi du 5 mars 2014'} "
                  f"était dû {_le(review.mark)}{seniority}, avant la loi nouvelle, "
                  f"et n’est pas enregistré : c’est un manquement ({_CIV_2222}, al. 1), apprécié sur six ans "
                  "selon les règles d’alors.")
    else:
        quote = _q(_REVIEW)
        reason = (f"Embauche {_le(hire)} : {quote}, l’entretien fait un état des lieux récapitulatif, "
                  f"{_q(_SENIORITY).replace('« Cette durée s', '« cette durée s')} : "
                  f"{_years(review.years)} d’ancienneté "
                  f"{_le(review.mark)}{seniority} ; à tenir avant {_years(review.years + 1)} "
                  f"d’ancienneté (questions-réponses du ministère), au plus tard {_le(review.deadline)}.")
        if review.rule == "etat_des_lieux_premier" and review.due_from < review.mark:
            reason += (f" Premier état des lieux après l’embauche : {_q(_FIRST_REVIEW)}, "
                       f"soit dès {_le(review.due_from)}.")
        reason += (" Il vérifie que les entretiens prévus ont eu lieu et si le salarié a suivi une formation, "
                   "acquis des éléments de certification et bénéficié d’une progression salariale ou "
                   "professionnelle.")
    planned = facts.planned_for(accepts)
    review_date = planned if planned is not None and review.due_from <= planned <= review.deadline \
        else review.deadline
    info = _assess(facts, review_date, former=review.former)
    return _due(facts, "etat_des_lieux", review.due_from, review.deadline, review.rule, reason, accepts, info)


# --- Mid-career, before 60, returns ----------------------------------------------------------

def _mi_carriere_window(employee: Employee) -> tuple[dt.date, dt.date, bool]:
    """(from, deadline, visit known)."""
    visit = employee.date_visite_mi_carriere
    if visit is not None:
        return visit, _add_months(visit, MI_CARRIERE_DELAY_MONTHS), True
    year = employee.date_naissance.year + MI_CARRIERE_AGE
    return dt.date(year, 1, 1), _add_months(dt.date(year, 12, 31), MI_CARRIERE_DELAY_MONTHS), False


def _mi_carriere_accepts(employee: Employee) -> Callable[[PastInterview], bool]:
    due_from, deadline, _ = _mi_carriere_window(employee)
    return lambda item: due_from <= item.date <= deadline or (item.type == "mi_carriere" and item.date >= due_from)


def _mi_carriere(facts: _Facts) -> DueInterview | None:
    employee = facts.employee
    due_from, deadline, known = _mi_carriere_window(employee)
    if deadline < REFORM_DATE:
        return None
    accepts = _mi_carriere_accepts(employee)
    if facts.closed_by(accepts):
        return None
    birthday = _birthday(employee.date_naissance, MI_CARRIERE_AGE)
    verb = "aura" if facts.on < birthday else "a eu"
    who = f"{_salarie(employee)} {verb} 45 ans {_le(birthday)}"
    if known:
        reason = (f"{who} ; visite médicale de mi-carrière {_le(due_from)} : l’entretien a lieu "
                  f"{_q(_MI_CARRIERE)}, au plus tard {_le(deadline)}.")
        rule = "mi_carriere"
    else:
        reason = (f"{who}. La date de la visite médicale de mi-carrière n’est pas renseignée : à défaut d’accord "
                  f"de branche, elle a lieu {_q(_VISIT_YEAR)}, soit en {due_from.year} ; l’entretien a lieu "
                  f"{_q(_MI_CARRIERE)} : au plus tard {_le(deadline)} en retenant une visite le 31 décembre. "
                  "Renseignez la date de la visite pour un délai exact.")
        rule = "mi_carriere_sans_visite"
    reason += (" Le compte rendu en récapitule les éléments « sous forme de bilan » (L. 6315-1, IV). Tout "
               "entretien de parcours professionnel tenu dans ce délai en tient lieu, avec ces questions.")
    return _due(facts, "mi_carriere", due_from, deadline, rule, reason, accepts)


def _avant_60_window(employee: Employee) -> tuple[dt.date, dt.date]:
    birth = employee.date_naissance
    return (_birthday(birth, AVANT_60_AGE - AVANT_60_WINDOW_YEARS), _birthday(birth, AVANT_60_AGE) - _DAY)


def _avant_60_accepts(employee: Employee) -> Callable[[PastInterview], bool]:
    due_from, deadline = _avant_60_window(employee)
    return lambda item: due_from <= item.date <= deadline or (item.type == "avant_60" and item.date >= due_from)


def _avant_60(facts: _Facts) -> DueInterview | None:
    due_from, deadline = _avant_60_window(facts.employee)
    if deadline < REFORM_DATE:
        return None
    accepts = _avant_60_accepts(facts.employee)
    if facts.closed_by(accepts):
        return None
    sixty = deadline + _DAY
    verb = "aura" if facts.on < sixty else "a eu"
    reason = (f"{_salarie(facts.employee)} {verb} 60 ans {_le(sixty)} : le premier entretien {_q(_AVANT_60)} "
              "aborde aussi le maintien dans l’emploi et l’aménagement de fin de carrière (temps partiel, "
              f"retraite progressive) ; à partir du {_d(due_from)}, au plus tard {_le(deadline)}.")
    if deadline < facts.on:
        reason += " L’échéance est passée : elle compte parmi les entretiens prévus de l’état des lieux."
    return _due(facts, "avant_60", due_from, deadline, "avant_60", reason, accepts)


def _reprise(facts: _Facts, absence: Absence) -> DueInterview | None:
    back = absence.date_fin
    exempt_from = _add_months(back, -REPRISE_EXEMPTION_MONTHS)
    exemption = back >= REFORM_DATE

    def accepts(item: PastInterview) -> bool:
        if item.date >= back:
            return True  # an EPP after the return
        if item.type in ("reprise", "fin_mandat") and item.date >= absence.date_debut:
            return True  # held before the return at the employee's request
        # Since 2025: an EPP in the 12 months before the return; the employee must have had it.
        return exemption and item.status == "held" and exempt_from <= item.date

    if facts.closed_by(accepts):
        return None
    deadline = _add_months(back, REPRISE_DELAY_MONTHS)
    label = ABSENCE_LABELS[absence.motif]
    if back <= facts.on:
        period = f"absence du {_d(absence.date_debut)} au {_d(back)}"
        returned = f"Retour {formatting.de(label)} {_le(back)} ({period})"
    else:
        returned = (f"Retour {formatting.de(label)} prévu {_le(back)} (absence depuis le "
                    f"{_d(absence.date_debut)})")
    reason = (f"{returned} : l’entretien de parcours professionnel {_q(_REPRISE)} (délai retenu : "
              f"{formatting.en_lettres(REPRISE_DELAY_MONTHS)} mois, au plus tard {_le(deadline)}).")
    specific = _REPRISE_MOTIF_REFS.get(absence.motif)
    if absence.motif in ("conge_parental_education", "temps_partiel_parental"):
        reason += (f" Il examine aussi {_q(_REPRISE_MOTIF_REFS['conge_parental_education'])}.")
    elif absence.motif == "fin_mandat_syndical":
        reason += f" Il permet de procéder au {_q(_REPRISE_MOTIF_REFS['fin_mandat_syndical'])}."
    if exemption:
        reason += (f" Aucun entretien n’a eu lieu dans les douze mois précédant le retour (depuis le "
                   f"{_d(exempt_from)}) : il n’est dispensé que {_q(_REPRISE_12)}. Il peut avoir lieu avant le "
                   "retour si le salarié le demande.")
    refused = [i for i in facts.refused if exempt_from <= i.date < back]
    if exemption and refused:
        reason += (f" L’entretien refusé le {_d(refused[-1].date)} ne dispense pas de cet entretien : le "
                   "salarié n’en a pas bénéficié.")
    rule = f"reprise_{absence.motif}" if specific is not None else "reprise"
    return _due(facts, "reprise", back, deadline, rule, reason, accepts)


# --- The état des lieux assessment and the abondement ----------------------------------------

def _assess(facts: _Facts, review_date: dt.date, *, former: bool = False) -> dict[str, Any]:
    """The review of `review_date` (see assess_review)."""
    employee = facts.employee
    hire = employee.date_entree
    years = FORMER_REVIEW_YEARS if former else REVIEW_YEARS
    start = max(_add_years(review_date, -years), hire)
    provisional = review_date > facts.on
    horizon = min(review_date, facts.on) if provisional else review_date
    done_by_review = [i for i in facts.done if i.date <= review_date]
    slots: list[dict[str, Any]] = []
    for slot in _chain(facts, review_date):
        if start < slot.deadline <= horizon and slot.deadline < review_date:
            slots.append({"type": slot.kind, "echeance": slot.deadline, "realise": slot.realised,
                          "date": slot.held[-1].date if slot.held else None,
                          "statut": slot.held[-1].status if slot.held else None})
    occasions = []
    if not former:
        mi_from, mi_deadline, _ = _mi_carriere_window(employee)
        occasions.append(("mi_carriere", mi_deadline, _mi_carriere_accepts(employee)))
        occasions.append(("avant_60", _avant_60_window(employee)[1], _avant_60_accepts(employee)))
    for code, deadline, accepts in occasions:
        if deadline >= REFORM_DATE and start < deadline <= horizon and deadline < review_date:
            closing = next((i for i in done_by_review if accepts(i)), None)
            slots.append({"type": code, "echeance": deadline, "realise": closing is not None,
                          "date": closing.date if closing else None,
                          "statut": closing.status if closing else None})
    slots.sort(key=lambda slot: slot["echeance"])
    prevus, realises = len(slots), sum(slot["realise"] for slot in slots)
    in_period = [i for i in facts.done if start <= i.date < review_date]
    refused = [i for i in facts.refused if start <= i.date < review_date]
    trainings = [t for t in facts.trainings if start <= t.date_fin <= review_date]
    non_mandatory = [t for t in trainings if not t.obligatoire]
    certifying = [t for t in trainings if t.certifiante]
    result = _verdict(facts.headcount, prevus, realises, non_mandatory, review_date, former)
    if result["applicable"] and result["versement_avant"] < facts.on:
        result["motif"] += (f" Au {_d(facts.on)}, cette échéance est dépassée : le versement reste dû ; à défaut "
                            "de versement après mise en demeure, l’entreprise verse au Trésor public l’insuffisance "
                            "majorée de 100 % (L. 6323-13).")
    if provisional:
        result["motif"] = (f"Évaluation provisoire au {_d(facts.on)}, avant l’état des lieux du "
                           f"{_d(review_date)} (seuls les entretiens déjà échus sont comptés) : {result['motif']}")
    counted_refusals = [i for i in refused if i.counts]
    if counted_refusals:
        dates = ", ".join(_d(i.date) for i in counted_refusals)
        result["motif"] += (f" Entretien(s) refusé(s) par le salarié, comptés comme proposés : {dates}.")
    first_known = facts.done[0].date if facts.done else None
    unknown_before = [slot for slot in slots
                      if not slot["realise"] and (first_known is None or slot["echeance"] < first_known)]
    if not facts.history_complete and unknown_before:
        result["motif"] += (" Historique incomplet : seule la date du dernier entretien est connue "
                            "(colonne date_dernier_entretien) ; les entretiens antérieurs, faute d’être enregistrés, "
                            "sont comptés comme non réalisés. Importez l’historique (fichier entretiens).")
        result["historique_incomplet"] = True
    uncounted = [i for i in refused if not i.counts]
    if uncounted:
        dates = ", ".join(_d(i.date) for i in uncounted)
        result["motif"] += f" Refus non retenu(s) comme entretien proposé (décision RH) : {dates}."
    result.update({
        "periode": {"debut": start, "fin": review_date},
        "regle": "ancienne" if former else "actuelle",
        "annees": years,
        "date_reference": facts.on,
        "provisoire": provisional,
        "entretiens_prevus": prevus,
        "entretiens_realises": realises,
        "echeances": slots,
        "entretiens": [{"date": i.date, "type": i.type, "libelle": INTERVIEW_LABELS[i.type], "statut": i.status,
                        "statut_libelle": INTERVIEW_STATUSES[i.status]}
                       for i in sorted([*in_period, *uncounted], key=lambda i: i.date)],
        "entretiens_refuses": [{"date": i.date, "type": i.type, "compte": i.counts} for i in refused],
        "formations": [t.intitule for t in trainings],
        "formations_non_obligatoires": [t.intitule for t in non_mandatory],
        "certifications": [t.intitule for t in certifying],
        "effectif": facts.headcount.value,
    })
    return result


def _verdict(headcount: Headcount, prevus: int, realises: int, non_mandatory: list[Training],
             review_date: dt.date, former: bool) -> dict[str, Any]:
    held = f"{_count(realises, 'réalisé')} pour {_count(prevus, 'prévu')}"
    years = "six" if former else "huit"
    applicable = False
    if headcount.value < ABONDEMENT_MIN_HEADCOUNT:
        motif = (f"L’entreprise compte moins de cinquante salariés ({headcount.describe()}) : l’abondement "
                 "correctif ne s’applique pas (« Dans les entreprises d’au moins cinquante salariés », "
                 "L. 6315-1, II).")
    elif not headcount.crosses_threshold():
        motif = (f"Le seuil de cinquante salariés n’est atteint que depuis {headcount.years_at_threshold} "
                 f"année(s) civile(s) ({headcount.describe()}) : il n’est pris en compte {_q(_CSS_FIVE_YEARS)} ; "
                 "l’abondement correctif ne s’applique pas.")
    elif prevus == 0:
        motif = ("Aucun entretien prévu n’est encore échu sur la période : l’abondement correctif ne s’applique "
                 "pas en l’état.")
    elif realises >= prevus:
        motif = (f"Les entretiens prévus des {years} dernières années ont eu lieu ({held}) : l’abondement "
                 "correctif ne s’applique pas.")
    elif non_mandatory:
        motif = (f"Des entretiens prévus n’ont pas eu lieu ({held}), mais le salarié a suivi au moins une "
                 "formation autre qu’obligatoire : les deux conditions sont cumulatives (le salarié "
                 f"{_q(_ABONDEMENT)} ; {_CASS}) ; l’abondement correctif ne s’applique pas.")
    else:
        applicable = True
        motif = (f"Au cours des {years} dernières années, le salarié {_q(_ABONDEMENT)} : {held}, et aucune "
                 f"formation autre qu’obligatoire ; {headcount.describe()}. L’employeur doit un abondement "
                 f"correctif de {formatting.euros(ABONDEMENT_CORRECTIF)} ({_q(_AMOUNT)}), somme qui "
                 f"{_q(_PAID_TO)}, au plus tard {_le(_end_of_next_quarter(review_date))} ({_q(_PAID_BY)}).")
    result: dict[str, Any] = {"applicable": applicable, "montant": ABONDEMENT_CORRECTIF, "motif": motif}
    if applicable:
        result["versement_avant"] = _end_of_next_quarter(review_date)
    return result


def _count(number: int, word: str) -> str:
    """« 0 réalisé », « 1 prévu », « 2 prévus »: French plural from 2."""
    return f"{number} {word}{'s' if number >= 2 else ''}"


def assess_review(employee: Employee, *, interviews: Sequence[PastInterview] = (),
                  absences: Iterable[Absence] = (), trainings: Iterable[Training] = (),
                  review_date: dt.date, on: dt.date, headcount: int | Headcount, period_years: int = 4,
                  pre_reform_agreement: bool = False, history_complete: bool = True) -> dict[str, Any]:
    """The état des lieux récapitulatif held (or due) on `review_date`, as known on `on`.

    Returns {applicable, montant, motif, versement_avant (when owed), periode {debut, fin}, regle,
    provisoire, entretiens_prevus, entretiens_realises, echeances (each planned interview: type,
    echeance, realise, date, statut), entretiens (held and refused in the period), entretiens_refuses,
    formations, formations_non_obligatoires, certifications, effectif}. The review itself is not
    counted among the interviews prévus. A review due before the reform is assessed over six years.
    """
    _check_date("review_date", review_date)
    facts = _facts(employee, interviews, absences, trainings, on, headcount, period_years, pre_reform_agreement,
                   history_complete)
    former = review_date < REFORM_DATE
    return _assess(facts, review_date, former=former)


def abondement_for_review(employee: Employee, *, interviews: Sequence[PastInterview],
                          trainings: Iterable[Training], review_date: dt.date, on: dt.date,
                          headcount: int | Headcount, period_years: int = 4) -> dict[str, Any]:
    """assess_review without absences (kept for callers of the earlier API)."""
    return assess_review(employee, interviews=interviews, trainings=trainings, review_date=review_date, on=on,
                         headcount=headcount, period_years=period_years)


# --- Public functions ------------------------------------------------------------------------

def due_interviews(employee: Employee, *, interviews: Sequence[PastInterview] = (),
                   absences: Iterable[Absence] = (), trainings: Iterable[Training] = (),
                   on: dt.date, headcount: int | Headcount, period_years: int = 4,
                   pre_reform_agreement: bool = False, history_complete: bool = True) -> list[DueInterview]:
    """Everything due for `employee` on the reference date `on`: the next occurrence of each kind
    (one per absence for the return interview, and a missed review of the former law), overdue or
    upcoming, sorted by deadline. Nothing for an employee who left; nothing due after the end of
    the employment.

    `history_complete` is False when only the last interview is known: the état des lieux says so.
    Raises ValueError (French message) on invalid input.
    """
    facts = _facts(employee, interviews, absences, trainings, on, headcount, period_years, pre_reform_agreement,
                   history_complete)
    end = employee.end_of_employment
    if end is not None and end <= on:
        return []
    reviews = _etat_des_lieux(facts)
    current_review = next((r for r in reviews if r.rule_key != "etat_des_lieux_ancien"), None)
    found = [_premier_periodique(facts, current_review), *reviews,
             *(_reprise(facts, absence) for absence in sorted(facts.absences, key=lambda a: a.date_fin)),
             _mi_carriere(facts), _avant_60(facts)]
    return sorted((item for item in found if item is not None and (end is None or item.deadline <= end)),
                  key=lambda item: (item.deadline, _ORDER[item.type]))


def due_before(dataset: Dataset, interviews_by_matricule: Mapping[str, Sequence[PastInterview]] | None = None,
               *, before: dt.date, on: dt.date, headcount: int | Headcount, period_years: int = 4,
               pre_reform_agreement: bool = False, failures: dict[str, str] | None = None) -> list[DueInterview]:
    """Everyone’s interviews due by `before` (deadline on or before it), overdue ones included,
    sorted by deadline then matricule.

    `interviews_by_matricule` defaults to the dataset's own history (Dataset.interviews_of).
    Interviews of matricules absent from the dataset (former employees) are ignored.
    With `failures`, an employee whose data cannot be computed (a stored interview before the hire, a
    date past the calendar's range…) is left out and named there with the French reason, so that one
    bad record does not stop the list for everyone; without it, the first such error is raised.
    """
    _check_date("before", before)
    _check_date("on", on)
    if before < on:
        raise ValueError(f"La date limite ({_d(before)}) précède la date de référence ({_d(on)}).")
    found: list[DueInterview] = []
    complete = interviews_by_matricule is not None or dataset.interviews is not None
    for matricule in sorted(dataset.employees):
        history = (interviews_by_matricule.get(matricule, ()) if interviews_by_matricule is not None
                   else dataset.interviews_of(matricule))
        try:
            items = due_interviews(dataset.employees[matricule], interviews=history,
                                   absences=dataset.absences_of(matricule),
                                   trainings=dataset.trainings_of(matricule),
                                   on=on, headcount=headcount, period_years=period_years,
                                   pre_reform_agreement=pre_reform_agreement, history_complete=complete)
        except (ValueError, OverflowError, TypeError, AttributeError) as exc:
            if failures is None:
                raise
            failures[matricule] = _failure_reason(exc)
            continue
        found.extend(item for item in items if item.overdue or item.deadline <= before)
    return sorted(found, key=lambda item: (item.deadline, item.matricule, _ORDER[item.type]))



def _failure_reason(exc: Exception) -> str:
    """Why an employee's interviews cannot be computed, in French (Python's own words are not)."""
    text = str(exc)
    if isinstance(exc, OverflowError) or "out of range" in text:
        return "une date de ses données sort du calendrier (après l’an 9999) : corrigez-la puis importez à nouveau"
    if isinstance(exc, ValueError) and text and not text.isascii():
        return text  # the calendar's own checks speak French
    return f"données incohérentes, calcul impossible ({type(exc).__name__})"
