"""The legal calendar of the entretien de parcours professionnel (EPP): pure rules, no I/O.

From an employee's data (hire and birth dates, past and planned interviews, absences, trainings) and
the company's headcount, `due_interviews` lists the next interview of each kind with its legal
deadline, the article it comes from and a French sentence explaining it; `due_before` does it for a
whole dataset. The rules are those of loi n° 2025-989 du 24 octobre 2025 (Code du travail L6315-1 as
rewritten), with its transition for cycles started under the former rules
(/work/shared/domain/entretien-rules.md).

Modelling choices (each one is a reading of the law; the constants below hold the numbers):

* **Dates.** A deadline "N years after" an event falls on the same day N years later; from a 29
  February it falls on 28 February (the year is over by then). Birthdays follow
  `context.age_on`: someone born on 29 February turns 60 on 1 March in a non-leap year.
* **Which interviews count.** Every interview type of `INTERVIEW_LABELS` is an EPP: the return,
  mid-career, before-60 and end-of-mandate interviews are EPPs with extra topics (L6315-1; L2141-5
  for the end of a mandate), and the état des lieux "est" an EPP. Any of them restarts the 4-year
  clock.
* **Refused interviews** (status ``refused``) count as held for the calendar: the obligation is the
  employer's, to organise and offer the interview; the employee is free to decline and cannot be
  forced. An employer who proves the offer (a convocation that leaves a trace) has done what
  the law asks, so the refusal restarts the clock, closes the occurrence it was offered for and counts
  among the interviews "réalisés" of the 8-year review (no abondement for an interview the employee
  turned down). Exception: the 2025 exemption from the return interview requires that the employee
  *had* (« a bénéficié d') an EPP in the 12 months before the return; a refused one does not exempt.
  The reasons mention refusals, so HR keeps the proof.
* **Premier entretien:** within the first year after hire. When that year ended before the reform
  came into force (26 October 2025) the cycle started under the former rule (first interview two
  years after hire) and that deadline stays: a law does not make a date overdue retroactively. Any
  EPP held since hire closes it.
* **Périodique:** ``period_years`` (4, or the shorter period of an agreement) after the last interview
  held (or refused), whatever rule was in force then (transition: "the 4-year gap runs from the last
  interview actually held", even one held in 2019 under the 2-year rule). Not listed while the first
  interview is outstanding (that one is due first), nor when the état des lieux, itself an EPP, falls
  due first.
* **État des lieux récapitulatif:** every 8 years *of seniority* (L6315-1 II: the period
  "s’apprécie par référence à l’ancienneté"), i.e. on hire + 8, 16, … years. It may be held from one
  year before that mark: with the first EPP held within the first year, that is what "the first one
  may come 7 years after the first EPP" amounts to. Marks before 26 October 2025 are not reported:
  there was no 8-year review then, and a review that was due at 6 years and not held is now due at
  the next 8-year mark (transition). Only an interview of type ``etat_des_lieux`` closes it.
  The most recent mark still open is reported (overdue), else the next one.
* **Abondement correctif** (companies of 50+, L6315-1 II, L6323-13, R6323-3): the interviews
  "prévus" over the review's 8 years are those of the legal schedule counted from the start of the
  period (first interview's deadline, then every ``period_years``, then the review itself); one is
  "réalisé" when at least one EPP was held or refused between the previous slot and its own date (a
  late interview did take place). The review itself counts as held: the assessment is made at the
  review. For a review still to come, only the slots already past on the reference date are
  counted (a provisional assessment, flagged). Both conditions must hold (Cass. soc. 21/01/2026):
  interviews missed AND no training other than mandatory in the period.
* **Reprise:** after each listed absence (``date_fin`` is the return date, as in
  `context.reprise_absence`); the law sets no delay ("à l’issue" of the absence), the product
  allows one month. For returns since 26 October 2025 it is not required if the employee had an
  EPP in the 12 months before the return (bounds included); it may be held before the return at
  the employee's request (an interview of type ``reprise`` during the absence closes it). Any EPP
  after the return closes it.
* **Mi-carrière:** within 2 months after the mid-career medical visit, by default in the year of the
  45th birthday: due from 1 January to 31 December of that year. Any EPP held in that year closes
  it (the trame then has the mid-career section, `context.is_mi_carriere`).
* **Avant 60 ans:** in the 2 years before the 60th birthday: from the 58th birthday to the day before
  the 60th. Any EPP held in that window closes it (`context.is_avant_60`).
* Both are new in 2025: not reported when their deadline came before 26 October 2025.
* **Planned interviews** are not facts: an occurrence is open until an interview is held or
  refused, but an interview planned that would close it is reported as ``planned_on`` (the
  earliest one). A planned date in the past means the result was not recorded: the occurrence stays
  open (and overdue if its deadline passed).
* **Overdue:** deadline before the reference date and not held.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docgen import formatting
from docgen.context import ABONDEMENT_CORRECTIF, INTERVIEW_LABELS, REVIEW_YEARS, abondement
from docgen.dataset import ABSENCE_LABELS, Absence, Dataset, Employee, Training

__all__ = [
    "REFORM_DATE",
    "STATUSES",
    "DueInterview",
    "PastInterview",
    "abondement_for_review",
    "due_before",
    "due_interviews",
]

REFORM_DATE = dt.date(2025, 10, 26)
"""Loi n° 2025-989 du 24 octobre 2025 in force."""
FIRST_INTERVIEW_YEARS = 1
FORMER_FIRST_INTERVIEW_YEARS = 2  # former L6315-1 I: "tous les deux ans" from hire
MAX_PERIOD_YEARS = 4
REVIEW_EARLY_YEARS = 1  # the review may come from 7 years (one year before the 8-year mark)
REPRISE_EXEMPTION_MONTHS = 12
REPRISE_DELAY_MONTHS = 1  # product choice: the law says "à l’issue" of the absence, no delay
MI_CARRIERE_AGE = 45
AVANT_60_AGE = 60
AVANT_60_WINDOW_YEARS = 2

STATUSES = ("held", "refused", "planned")
_DONE = ("held", "refused")
_ORDER = {code: index for index, code in enumerate(INTERVIEW_LABELS)}

RULES: Mapping[str, str] = {
    "premier": "L6315-1 I",
    "premier_ancien": "L6315-1 I (rédaction antérieure à la loi n° 2025-989)",
    "periodique": "L6315-1 I",
    "periodique_transition": "L6315-1 I ; loi n° 2025-989 du 24 octobre 2025, art. 3 (transition)",
    "etat_des_lieux": "L6315-1 II ; L6323-13 et R6323-3 (abondement correctif)",
    "reprise": "L6315-1 I",
    "mi_carriere": "L6315-1 (loi n° 2025-989 du 24 octobre 2025, art. 3)",
    "avant_60": "L6315-1 (loi n° 2025-989 du 24 octobre 2025, art. 3)",
}
"""Where each deadline comes from, as shown to HR."""


# --- Public types ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PastInterview:
    """An interview of the employee: held, refused by the employee, or planned by HR."""

    date: dt.date
    type: str
    """A key of INTERVIEW_LABELS."""
    status: str
    """« held », « refused » (offered, declined by the employee) or « planned »."""

    def __post_init__(self) -> None:
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise ValueError(f"Entretien : date attendue (datetime.date), reçu {self.date!r}")
        if self.type not in INTERVIEW_LABELS:
            raise ValueError(f"Entretien : type « {self.type} » inconnu ; types possibles : "
                             f"{', '.join(INTERVIEW_LABELS)}")
        if self.status not in STATUSES:
            raise ValueError(f"Entretien : statut « {self.status} » inconnu ; statuts possibles : "
                             f"{', '.join(STATUSES)}")

    @property
    def done(self) -> bool:
        """Held or refused: the employer's obligation is met."""
        return self.status in _DONE


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
    """The article it comes from, e.g. « L6315-1 I »."""
    reason: str
    """Why it is due, in French, for HR."""
    overdue: bool
    """The deadline is before the reference date and the interview was not held."""
    planned_on: dt.date | None = None
    """The date HR already planned for it, if any."""
    abondement: Mapping[str, Any] | None = None
    """For an état des lieux: the abondement correctif assessment (see abondement_for_review)."""


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


def _d(day: dt.date) -> str:
    return formatting.date(day)


def _salarie(employee: Employee) -> str:
    return "La salariée" if employee.civilite == "Mme" else "Le salarié"


# --- Validation ------------------------------------------------------------------------------

def _check_date(name: str, value: object) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValueError(f"« {name} » : date attendue (datetime.date), reçu {value!r}")
    return value


def _check_period(period_years: object) -> int:
    if isinstance(period_years, bool) or not isinstance(period_years, int):
        raise ValueError("Périodicité des entretiens : nombre entier d’années attendu, "
                         f"reçu {period_years!r}")
    if not 1 <= period_years <= MAX_PERIOD_YEARS:
        raise ValueError(
            f"Périodicité des entretiens de {period_years} an(s) refusée : elle est de "
            f"{MAX_PERIOD_YEARS} ans, et un accord d’entreprise ou de branche ne peut fixer qu’une "
            f"périodicité plus courte (de 1 à {MAX_PERIOD_YEARS} ans)."
        )
    return period_years


def _check_headcount(headcount: object) -> int:
    if isinstance(headcount, bool) or not isinstance(headcount, int) or headcount < 0:
        raise ValueError(f"Effectif de l’entreprise : nombre entier positif attendu, reçu {headcount!r}")
    return headcount


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
        if item.done and item.date > on:
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


# --- The rules -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Facts:
    """What every rule needs: the inputs, checked."""

    employee: Employee
    interviews: tuple[PastInterview, ...]
    absences: tuple[Absence, ...]
    trainings: tuple[Training, ...]
    on: dt.date
    headcount: int
    period: int

    @property
    def done(self) -> list[PastInterview]:
        return sorted((i for i in self.interviews if i.done), key=lambda i: i.date)

    def closed_by(self, accepts: Callable[[PastInterview], bool]) -> PastInterview | None:
        """The earliest interview held or refused that closes the occurrence."""
        return next((i for i in self.done if accepts(i)), None)

    def planned_for(self, accepts: Callable[[PastInterview], bool]) -> dt.date | None:
        """The earliest planned interview that would close the occurrence."""
        dates = [i.date for i in self.interviews if i.status == "planned" and accepts(i)]
        return min(dates, default=None)


def _due(facts: _Facts, code: str, due_from: dt.date, deadline: dt.date, rule: str, reason: str,
         accepts: Callable[[PastInterview], bool], abondement_info: Mapping[str, Any] | None = None
         ) -> DueInterview:
    planned_on = facts.planned_for(accepts)
    if planned_on is not None:
        if planned_on < facts.on:
            reason += (f" Un entretien était prévu le {_d(planned_on)} mais n’est pas enregistré comme "
                       "réalisé : mettez à jour son statut.")
        elif planned_on > deadline:
            reason += f" L’entretien prévu le {_d(planned_on)} est après l’échéance."
        else:
            reason += f" Entretien prévu le {_d(planned_on)}."
    return DueInterview(
        matricule=facts.employee.matricule, type=code, libelle=INTERVIEW_LABELS[code],
        due_from=due_from, deadline=deadline, rule=rule, reason=reason,
        overdue=deadline < facts.on, planned_on=planned_on, abondement=abondement_info,
    )


def _premier_deadline(hire: dt.date) -> tuple[dt.date, bool]:
    """The first interview's deadline, and whether the former rule gives it."""
    deadline = _add_years(hire, FIRST_INTERVIEW_YEARS)
    if deadline < REFORM_DATE:
        return _add_years(hire, FORMER_FIRST_INTERVIEW_YEARS), True
    return deadline, False


def _premier(facts: _Facts) -> DueInterview | None:
    hire = facts.employee.date_entree

    def accepts(item: PastInterview) -> bool:
        return item.date >= hire

    if facts.closed_by(accepts):
        return None
    deadline, former = _premier_deadline(hire)
    if former:
        reason = (f"Embauche le {_d(hire)}, sous l’ancienne règle : le premier entretien professionnel "
                  f"devait avoir lieu dans les deux ans, au plus tard le {_d(deadline)}. Aucun entretien "
                  "n’est enregistré depuis l’embauche.")
        rule = RULES["premier_ancien"]
    else:
        reason = (f"Embauche le {_d(hire)} : le premier entretien de parcours professionnel a lieu dans "
                  f"l’année qui suit l’embauche, au plus tard le {_d(deadline)}.")
        rule = RULES["premier"]
    return _due(facts, "premier", hire, deadline, rule, reason, accepts)


def _refusal_note(item: PastInterview) -> str:
    if item.status != "refused":
        return ""
    return (f" L’entretien du {_d(item.date)} a été refusé par le salarié : il compte comme proposé, "
            "gardez la preuve de la convocation.")


def _periodique(facts: _Facts, review: DueInterview | None) -> DueInterview | None:
    done = facts.done
    if not done:
        return None  # the first interview is due first
    last = done[-1]
    deadline = _add_years(last.date, facts.period)
    if review is not None and review.deadline <= deadline:
        return None  # the review is an EPP: held in time, it is the periodic interview too
    due_from = _add_years(last.date, facts.period - 1)
    every = f"tous les {facts.period} ans" if facts.period > 1 else "chaque année"
    agreement = "" if facts.period == MAX_PERIOD_YEARS else " (périodicité fixée par accord)"
    held = "réalisé" if last.status == "held" else "proposé"
    reason = (f"Dernier entretien {held} le {_d(last.date)} : un entretien de parcours professionnel a lieu "
              f"{every}{agreement}, au plus tard le {_d(deadline)}.")
    rule = RULES["periodique"]
    if last.date < REFORM_DATE:
        rule = RULES["periodique_transition"]
        reason += (" Cet entretien date d’avant la loi du 24 octobre 2025 : le délai court depuis le "
                   "dernier entretien réellement tenu.")
    reason += _refusal_note(last)
    if review is not None and review.due_from <= max(deadline, facts.on):
        reason += (f" L’état des lieux récapitulatif (possible dès le {_d(review.due_from)}) est lui-même "
                   "un entretien de parcours professionnel et peut en tenir lieu.")

    def accepts(item: PastInterview) -> bool:
        return item.date > last.date

    return _due(facts, "periodique", due_from, deadline, rule, reason, accepts)


def _review_mark(hire: dt.date, k: int) -> dt.date:
    return _add_years(hire, REVIEW_YEARS * k)


def _review_window(hire: dt.date, k: int) -> tuple[dt.date, dt.date]:
    """When a review held closes mark k: from one year before it to one year before mark k+1."""
    return (_add_years(_review_mark(hire, k), -REVIEW_EARLY_YEARS),
            _add_years(_review_mark(hire, k + 1), -REVIEW_EARLY_YEARS))


def _etat_des_lieux(facts: _Facts) -> DueInterview:
    hire = facts.employee.date_entree
    k = 1
    while _review_mark(hire, k) < REFORM_DATE:
        k += 1
    # The most recent mark already past, if it is still open; else the next open one.
    while _review_mark(hire, k + 1) <= facts.on:
        k += 1

    def accepts_for(mark: int) -> Callable[[PastInterview], bool]:
        start, end = _review_window(hire, mark)
        return lambda item: item.type == "etat_des_lieux" and start <= item.date < end

    while facts.closed_by(accepts_for(k)):
        k += 1
    deadline = _review_mark(hire, k)
    due_from = _review_window(hire, k)[0]
    reason = (f"Tous les {REVIEW_YEARS} ans d’ancienneté (embauche le {_d(hire)}), l’entretien fait un état "
              f"des lieux récapitulatif du parcours : au plus tard le {_d(deadline)}, possible dès le "
              f"{_d(due_from)}. Il vérifie que les entretiens ont eu lieu et si le salarié a suivi une "
              "formation, obtenu une certification et connu une progression salariale ou professionnelle.")
    if hire < REFORM_DATE:
        reason += (" Depuis la loi du 24 octobre 2025, l’état des lieux est dû à 8 ans d’ancienneté et non "
                   "plus à 6 ans.")
    info = abondement_for_review(facts.employee, interviews=facts.interviews, trainings=facts.trainings,
                                 review_date=deadline, on=facts.on, headcount=facts.headcount,
                                 period_years=facts.period)
    return _due(facts, "etat_des_lieux", due_from, deadline, RULES["etat_des_lieux"], reason,
                lambda item: item.type == "etat_des_lieux" and item.date >= due_from, info)


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
        return exemption and item.status != "refused" and exempt_from <= item.date

    if facts.closed_by(accepts):
        return None
    deadline = _add_months(back, REPRISE_DELAY_MONTHS)
    reason = (f"Retour de {ABSENCE_LABELS[absence.motif]} le {_d(back)} (absence depuis le "
              f"{_d(absence.date_debut)}) : un entretien de parcours professionnel est proposé à la reprise "
              f"(délai retenu : {REPRISE_DELAY_MONTHS} mois, au plus tard le {_d(deadline)}).")
    if exemption:
        reason += (f" Aucun entretien n’a eu lieu dans les 12 mois précédant le retour (depuis le "
                   f"{_d(exempt_from)}), qui l’aurait rendu inutile. Il peut avoir lieu avant le retour si "
                   "le salarié le demande.")
    refused = [i for i in facts.done if i.status == "refused" and exempt_from <= i.date < back]
    if exemption and refused:
        reason += (f" L’entretien refusé le {_d(refused[-1].date)} ne dispense pas de cet entretien : le "
                   "salarié n’en a pas bénéficié.")
    return _due(facts, "reprise", back, deadline, RULES["reprise"], reason, accepts)


def _mi_carriere(facts: _Facts) -> DueInterview | None:
    year = facts.employee.date_naissance.year + MI_CARRIERE_AGE
    due_from, deadline = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if deadline < REFORM_DATE:
        return None

    def accepts(item: PastInterview) -> bool:
        return due_from <= item.date <= deadline or (item.type == "mi_carriere" and item.date >= due_from)

    if facts.closed_by(accepts):
        return None
    reason = (f"{_salarie(facts.employee)} a {MI_CARRIERE_AGE} ans en {year} : l’entretien de mi-carrière "
              "a lieu dans les deux mois qui suivent la visite médicale de mi-carrière, par défaut dans "
              f"l’année des 45 ans, au plus tard le {_d(deadline)}. Tout entretien de parcours professionnel "
              f"tenu en {year} peut en tenir lieu, avec les questions de mi-carrière.")
    return _due(facts, "mi_carriere", due_from, deadline, RULES["mi_carriere"], reason, accepts)


def _avant_60(facts: _Facts) -> DueInterview | None:
    birth = facts.employee.date_naissance
    sixty = _birthday(birth, AVANT_60_AGE)
    due_from = _birthday(birth, AVANT_60_AGE - AVANT_60_WINDOW_YEARS)
    deadline = sixty - dt.timedelta(days=1)
    if deadline < REFORM_DATE:
        return None

    def accepts(item: PastInterview) -> bool:
        return due_from <= item.date <= deadline or (item.type == "avant_60" and item.date >= due_from)

    if facts.closed_by(accepts):
        return None
    reason = (f"{_salarie(facts.employee)} aura 60 ans le {_d(sixty)} : un entretien de parcours "
              f"professionnel a lieu dans les deux ans qui précèdent, à partir du {_d(due_from)} et au plus "
              f"tard le {_d(deadline)}.")
    if deadline < facts.on:
        reason += " L’échéance est passée : à signaler au prochain état des lieux récapitulatif."
    return _due(facts, "avant_60", due_from, deadline, RULES["avant_60"], reason, accepts)


# --- Abondement correctif --------------------------------------------------------------------

def _slots(facts: _Facts, start: dt.date, review_date: dt.date) -> list[dt.date]:
    """The interviews the law plans over the review's period: their deadlines, the review last."""
    hire = facts.employee.date_entree
    slot = _premier_deadline(hire)[0] if start == hire else _add_years(start, facts.period)
    slots = []
    while slot < review_date:
        slots.append(slot)
        slot = _add_years(slot, facts.period)
    return [*slots, review_date]


def abondement_for_review(employee: Employee, *, interviews: Sequence[PastInterview],
                          trainings: Iterable[Training], review_date: dt.date, on: dt.date,
                          headcount: int, period_years: int = 4) -> dict[str, Any]:
    """Whether the abondement correctif of 3 000 € is owed at the 8-year review of `review_date`.

    The period is the 8 years before the review (from hire when later). The interviews "prévus" are
    the legal schedule over the period (the first interview's deadline or the previous review + the
    period, every period, then the review itself); one is "réalisé" when an EPP was held or refused
    after the previous slot and by its own date. The review counts as held. When the review is after
    `on`, only the slots already past are counted and the result is marked ``provisoire``.

    Returns context.abondement's dict (applicable, montant, motif) plus ``periode`` {debut, fin},
    ``entretiens_prevus``, ``entretiens_realises``, ``entretiens_refuses``,
    ``formations_non_obligatoires`` (titles), ``provisoire`` and, when applicable,
    ``versement_avant`` (end of the quarter following the review).
    """
    _check_date("review_date", review_date)
    _check_date("on", on)
    facts = _Facts(employee, tuple(interviews), (), tuple(trainings), on, _check_headcount(headcount),
                   _check_period(period_years))
    hire = employee.date_entree
    start = max(_add_years(review_date, -REVIEW_YEARS), hire)
    provisional = review_date > on
    slots = _slots(facts, start, review_date)
    counted = [slot for slot in slots[:-1] if not provisional or slot <= on]
    done = [i for i in facts.done if start <= i.date <= review_date]
    realised = refused = 0
    for index, slot in enumerate(counted):
        # The first slot's window starts on the period's first day; the others after the previous slot.
        after = start - dt.timedelta(days=1) if index == 0 else counted[index - 1]
        in_slot = [i for i in done if after < i.date <= slot]
        if in_slot:
            realised += 1
            refused += all(i.status == "refused" for i in in_slot)
    non_mandatory = [t for t in facts.trainings if not t.obligatoire and start <= t.date_fin <= review_date]
    result = abondement(headcount, len(counted) + 1, realised + 1, non_mandatory)
    if provisional:
        result["motif"] = f"Évaluation provisoire au {_d(on)}, avant l’état des lieux : {result['motif']}"
    if refused:
        result["motif"] += (f" Entretien(s) refusé(s) par le salarié compté(s) comme réalisé(s) : {refused}.")
    result.update({
        "periode": {"debut": start, "fin": review_date},
        "entretiens_prevus": len(counted) + 1,
        "entretiens_realises": realised + 1,
        "entretiens_refuses": refused,
        "formations_non_obligatoires": [t.intitule for t in non_mandatory],
        "provisoire": provisional,
    })
    if result["applicable"]:
        result["versement_avant"] = _end_of_next_quarter(review_date)
        result["motif"] += (f" Versement de {formatting.euros(ABONDEMENT_CORRECTIF)} au plus tard le "
                            f"{_d(result['versement_avant'])}.")
    return result


def _end_of_next_quarter(day: dt.date) -> dt.date:
    quarter_start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return _add_months(quarter_start, 6) - dt.timedelta(days=1)


# --- Public functions ------------------------------------------------------------------------

def due_interviews(employee: Employee, *, interviews: Sequence[PastInterview] = (),
                   absences: Iterable[Absence] = (), trainings: Iterable[Training] = (),
                   on: dt.date, headcount: int, period_years: int = 4) -> list[DueInterview]:
    """Everything due for `employee` on the reference date `on`: the next occurrence of each kind
    (one per absence for the return interview), overdue or upcoming, sorted by deadline.

    `interviews` are the employee's interviews (held, refused or planned); `period_years` is 4 or
    the shorter period set by an agreement. Raises ValueError (French message) on invalid input.
    """
    _check_date("on", on)
    past, absence_list, training_list = _check_inputs(employee, interviews, absences, trainings, on)
    facts = _Facts(employee, tuple(past), tuple(absence_list), tuple(training_list), on,
                   _check_headcount(headcount), _check_period(period_years))
    review = _etat_des_lieux(facts)
    found = [_premier(facts), _periodique(facts, review), review,
             *(_reprise(facts, absence) for absence in sorted(facts.absences, key=lambda a: a.date_fin)),
             _mi_carriere(facts), _avant_60(facts)]
    return sorted((item for item in found if item is not None),
                  key=lambda item: (item.deadline, _ORDER[item.type]))


def due_before(dataset: Dataset, interviews_by_matricule: Mapping[str, Sequence[PastInterview]], *,
               before: dt.date, on: dt.date, headcount: int, period_years: int = 4) -> list[DueInterview]:
    """Everyone’s interviews due by `before` (deadline on or before it), overdue ones included,
    sorted by deadline then matricule.

    Interviews of matricules absent from the dataset (former employees) are ignored.
    """
    _check_date("before", before)
    _check_date("on", on)
    if before < on:
        raise ValueError(f"La date limite ({_d(before)}) précède la date de référence ({_d(on)}).")
    found: list[DueInterview] = []
    for matricule in sorted(dataset.employees):
        items = due_interviews(dataset.employees[matricule],
                               interviews=interviews_by_matricule.get(matricule, ()),
                               absences=dataset.absences_of(matricule),
                               trainings=dataset.trainings_of(matricule),
                               on=on, headcount=headcount, period_years=period_years)
        found.extend(item for item in items if item.overdue or item.deadline <= before)
    return sorted(found, key=lambda item: (item.deadline, item.matricule, _ORDER[item.type]))
