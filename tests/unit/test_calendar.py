"""The legal calendar of the EPP (docgen.calendar).

Every expected date below is worked out by hand from the rules (shared/domain/entretien-rules.md and
the modelling choices in docgen/calendar.py's docstring), never by calling the code: the comment of
each case shows the sum. Reference date: 26 November 2026; headcount 120 unless stated.
"""

from parcours import resources
import datetime as dt
from pathlib import Path

import pytest

from docgen.calendar import DueInterview, PastInterview, abondement_for_review, due_before, due_interviews
from docgen.dataset import Absence, Dataset, Employee, Training, load_dataset_dir

D = dt.date
ON = D(2026, 11, 26)
REPO = Path(__file__).parents[2]
SAMPLES = resources.SAMPLES

# Born 5 May 1990: 45 in 2035 (mi-carrière by 31/12/2035), 60 on 05/05/2050 (avant 60 by 04/05/2050).
BIRTH = D(1990, 5, 5)
AGE_ITEMS = [("mi_carriere", D(2035, 12, 31), False), ("avant_60", D(2050, 5, 4), False)]


def employee(hire: dt.date, birth: dt.date = BIRTH, matricule: str = "T001", civilite: str = "Mme") -> Employee:
    return Employee(matricule, civilite, "Test", "Alice", "alice@example.com", birth, hire,
                    "Technicienne", "Maintenance", "Lyon")


def held(day: dt.date, type: str = "periodique") -> PastInterview:
    return PastInterview(day, type, "held")


def refused(day: dt.date, type: str = "periodique") -> PastInterview:
    return PastInterview(day, type, "refused")


def planned(day: dt.date, type: str = "periodique") -> PastInterview:
    return PastInterview(day, type, "planned")


def absence(motif: str, start: dt.date, end: dt.date, matricule: str = "T001") -> Absence:
    return Absence(matricule, motif, start, end)


def training(day: dt.date, mandatory: bool, matricule: str = "T001") -> Training:
    return Training(matricule, "Formation", day, certifiante=False, obligatoire=mandatory)


def summary(items: list[DueInterview]) -> list[tuple[str, dt.date, bool]]:
    return [(item.type, item.deadline, item.overdue) for item in items]


def by_type(items: list[DueInterview], code: str) -> DueInterview:
    (found,) = [item for item in items if item.type == code]
    return found


# Each case: name, employee, interviews, absences, trainings, period, expected (type, deadline, overdue).
CASES = [
    pytest.param(
        # Hired 26/10/2026: first EPP within the first year, by 26/10/2027. Review at 8 years: 26/10/2034.
        employee(D(2026, 10, 26)), [], [], [], 4,
        [("premier", D(2027, 10, 26), False), ("etat_des_lieux", D(2034, 10, 26), False), *AGE_ITEMS],
        id="embauche-le-mois-dernier",
    ),
    pytest.param(
        # Hired 26/09/2022, no interview. The first year ended on 26/09/2023, before the reform
        # (26/10/2025): the former rule (two years) gives 26/09/2024 -> overdue. No periodic interview
        # (nothing to count from: the first one is due first). Review: 26/09/2022 + 8 = 26/09/2030.
        employee(D(2022, 9, 26)), [], [], [], 4,
        [("premier", D(2024, 9, 26), True), ("etat_des_lieux", D(2030, 9, 26), False), *AGE_ITEMS],
        id="embauche-il-y-a-4-ans-2-mois-sans-entretien",
    ),
    pytest.param(
        # Last EPP 26/12/2022 (3 years 11 months ago): next by 26/12/2026. Hired 12/01/2015: the
        # 8-year mark 12/01/2023 is before the reform, next mark 12/01/2031.
        employee(D(2015, 1, 12)), [held(D(2022, 12, 26))], [], [], 4,
        [("periodique", D(2026, 12, 26), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="dernier-entretien-il-y-a-3-ans-11-mois",
    ),
    pytest.param(
        # Congé parental 01/09/2025 -> 12/11/2026 (back 2 weeks ago); EPP 01/11/2024, 10 months before
        # leaving = 24 months before the return: not in the 12 months before it (from 12/11/2025).
        # Reprise by 12/11/2026 + 1 month = 12/12/2026. Periodic: 01/11/2024 + 4 = 01/11/2028.
        employee(D(2015, 1, 12)), [held(D(2024, 11, 1))],
        [absence("conge_parental_education", D(2025, 9, 1), D(2026, 11, 12))], [], 4,
        [("reprise", D(2026, 12, 12), False), ("periodique", D(2028, 11, 1), False),
         ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="conge-parental-long-entretien-10-mois-avant-le-depart",
    ),
    pytest.param(
        # Same return, short leave 12/09/2026 -> 12/11/2026: the EPP 10 months before leaving
        # (12/11/2025) is exactly 12 months before the return: bound included, no reprise.
        employee(D(2015, 1, 12)), [held(D(2025, 11, 12))],
        [absence("conge_parental_education", D(2026, 9, 12), D(2026, 11, 12))], [], 4,
        [("periodique", D(2029, 11, 12), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="conge-parental-court-entretien-dans-les-12-mois",
    ),
    pytest.param(
        # One day earlier (11/11/2025): 12 months and 1 day before the return, reprise due 12/12/2026.
        employee(D(2015, 1, 12)), [held(D(2025, 11, 11))],
        [absence("conge_parental_education", D(2026, 9, 12), D(2026, 11, 12))], [], 4,
        [("reprise", D(2026, 12, 12), False), ("periodique", D(2029, 11, 11), False),
         ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="conge-parental-court-entretien-a-12-mois-et-1-jour",
    ),
    pytest.param(
        # Maternité 04/05/2026 -> 24/08/2026, last EPP 01/03/2023 (not in 24/08/2025..24/08/2026):
        # reprise by 24/09/2026 -> overdue. Periodic 01/03/2023 + 4 = 01/03/2027.
        employee(D(2015, 1, 12)), [held(D(2023, 3, 1))],
        [absence("conge_maternite", D(2026, 5, 4), D(2026, 8, 24))], [], 4,
        [("reprise", D(2026, 9, 24), True), ("periodique", D(2027, 3, 1), False),
         ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="retour-de-maternite-sans-entretien",
    ),
    pytest.param(
        # Born 15/03/1982, 44 today: 45 in 2027, mi-carrière by 31/12/2027. 60 on 15/03/2042: avant 60
        # by 14/03/2042. Periodic 01/06/2024 + 4 = 01/06/2028.
        employee(D(2015, 1, 12), birth=D(1982, 3, 15)), [held(D(2024, 6, 1))], [], [], 4,
        [("mi_carriere", D(2027, 12, 31), False), ("periodique", D(2028, 6, 1), False),
         ("etat_des_lieux", D(2031, 1, 12), False), ("avant_60", D(2042, 3, 14), False)],
        id="44-ans",
    ),
    pytest.param(
        # Born 10/02/1967, 59 today: 60 on 10/02/2027, avant 60 from 10/02/2025 to 09/02/2027; the last
        # EPP (09/01/2024, aged 56) is before that window. 45 in 2012: before the reform, no mi-carrière.
        # Hired 05/02/2001: marks 2009, 2017, 05/02/2025 (before the reform), next 05/02/2033.
        employee(D(2001, 2, 5), birth=D(1967, 2, 10)), [held(D(2024, 1, 9))], [], [], 4,
        [("avant_60", D(2027, 2, 9), False), ("periodique", D(2028, 1, 9), False),
         ("etat_des_lieux", D(2033, 2, 5), False)],
        id="59-ans",
    ),
    pytest.param(
        # Same person with an EPP on 01/06/2025 (aged 58, in the window): avant 60 done.
        employee(D(2001, 2, 5), birth=D(1967, 2, 10)), [held(D(2024, 1, 9)), held(D(2025, 6, 1))], [], [], 4,
        [("periodique", D(2029, 6, 1), False), ("etat_des_lieux", D(2033, 2, 5), False)],
        id="59-ans-entretien-a-58-ans",
    ),
    pytest.param(
        # Cycle started in 2019: hired 04/03/2019, EPP held 10/06/2019 under the 2-year rule. The 4-year
        # gap runs from it: 10/06/2023 -> overdue. Review at 8 years (04/03/2027), not 6 (04/03/2025).
        employee(D(2019, 3, 4)), [held(D(2019, 6, 10))], [], [], 4,
        [("periodique", D(2023, 6, 10), True), ("etat_des_lieux", D(2027, 3, 4), False), *AGE_ITEMS],
        id="cycle-commence-en-2019",
    ),
    pytest.param(
        # Agreement: every 2 years. Last EPP 01/03/2025: next by 01/03/2027.
        employee(D(2015, 1, 12)), [held(D(2025, 3, 1))], [], [], 2,
        [("periodique", D(2027, 3, 1), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="accord-2-ans",
    ),
    pytest.param(
        # EPP held 15/01/2020, the next one offered 10/01/2024 and refused by the employee: it counts
        # (the employer offered it), next by 10/01/2028 (without it: 15/01/2024, overdue).
        employee(D(2015, 1, 12)), [held(D(2020, 1, 15)), refused(D(2024, 1, 10))], [], [], 4,
        [("periodique", D(2028, 1, 10), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="entretien-refuse",
    ),
    pytest.param(
        # Congé sabbatique 05/01/2026 -> 03/07/2026; an EPP offered 01/12/2025 (in the 12 months before
        # the return) was refused: the employee did not "benefit" from it, the reprise is due by
        # 03/08/2026 -> overdue. Periodic from the refusal: 01/12/2029.
        employee(D(2015, 1, 12)), [held(D(2022, 1, 10)), refused(D(2025, 12, 1))],
        [absence("conge_sabbatique", D(2026, 1, 5), D(2026, 7, 3))], [], 4,
        [("reprise", D(2026, 8, 3), True), ("periodique", D(2029, 12, 1), False),
         ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="entretien-refuse-ne-dispense-pas-de-la-reprise",
    ),
    pytest.param(
        # Same, the 01/12/2025 interview held: it exempts from the reprise.
        employee(D(2015, 1, 12)), [held(D(2022, 1, 10)), held(D(2025, 12, 1))],
        [absence("conge_sabbatique", D(2026, 1, 5), D(2026, 7, 3))], [], 4,
        [("periodique", D(2029, 12, 1), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="entretien-tenu-dispense-de-la-reprise",
    ),
    pytest.param(
        # Return before the reform (maternité -> 01/09/2025) after an EPP on 01/03/2025: the 12-month
        # exemption did not exist yet, the reprise was due by 01/10/2025 -> overdue.
        employee(D(2015, 1, 12)), [held(D(2025, 3, 1))],
        [absence("conge_maternite", D(2025, 4, 1), D(2025, 9, 1))], [], 4,
        [("reprise", D(2025, 10, 1), True), ("periodique", D(2029, 3, 1), False),
         ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="retour-avant-la-reforme-sans-dispense",
    ),
    pytest.param(
        # Reprise held at the employee's request during the leave (01/11/2026, return 15/12/2026).
        employee(D(2015, 1, 12)), [held(D(2022, 1, 10)), held(D(2026, 11, 1), "reprise")],
        [absence("conge_proche_aidant", D(2026, 2, 1), D(2026, 12, 15))], [], 4,
        [("periodique", D(2030, 11, 1), False), ("etat_des_lieux", D(2031, 1, 12), False), *AGE_ITEMS],
        id="reprise-avant-le-retour-a-la-demande-du-salarie",
    ),
]


@pytest.mark.parametrize("person, interviews, absences, trainings, period, expected", CASES)
def test_due_interviews(person, interviews, absences, trainings, period, expected):
    items = due_interviews(person, interviews=interviews, absences=absences, trainings=trainings,
                           on=ON, headcount=120, period_years=period)
    assert summary(items) == expected
    assert [item.deadline for item in items] == sorted(item.deadline for item in items)
    for item in items:
        assert item.matricule == "T001"
        assert item.due_from <= item.deadline
        assert item.rule.startswith("L6315-1")
        assert item.reason
        assert (item.abondement is not None) == (item.type == "etat_des_lieux")


def test_due_from_and_rules():
    items = due_interviews(employee(D(2026, 10, 26)), on=ON, headcount=120)
    premier = by_type(items, "premier")
    assert (premier.due_from, premier.rule) == (D(2026, 10, 26), "L6315-1 I")
    assert "au plus tard le 26 octobre 2027" in premier.reason
    assert premier.libelle == "premier entretien de parcours professionnel"
    # The review may come one year before the 8-year mark.
    assert by_type(items, "etat_des_lieux").due_from == D(2033, 10, 26)

    items = due_interviews(employee(D(2015, 1, 12)), interviews=[held(D(2022, 12, 26))], on=ON, headcount=120)
    periodique = by_type(items, "periodique")
    assert periodique.due_from == D(2025, 12, 26)
    assert "loi n° 2025-989" in periodique.rule  # counted from an interview held before the reform

    items = due_interviews(employee(D(2015, 1, 12), birth=D(1982, 3, 15)), interviews=[held(D(2024, 6, 1))],
                           on=ON, headcount=120)
    assert by_type(items, "mi_carriere").due_from == D(2027, 1, 1)
    assert by_type(items, "avant_60").due_from == D(2040, 3, 15)


def test_former_first_interview_rule():
    item = by_type(due_interviews(employee(D(2022, 9, 26)), on=ON, headcount=120), "premier")
    assert "antérieure" in item.rule and "deux ans" in item.reason


def test_transition_2019_cycle():
    items = due_interviews(employee(D(2019, 3, 4)), interviews=[held(D(2019, 6, 10))], on=ON, headcount=120)
    assert D(2025, 3, 4) not in [item.deadline for item in items]  # the 6-year mark is gone
    review = by_type(items, "etat_des_lieux")
    assert "non plus à 6 ans" in review.reason
    # Slots from 04/03/2019: the first interview's deadline (former rule: 04/03/2021, met by 10/06/2019),
    # 04/03/2025 (missed), then the review: counted so far 3 planned, 2 held (the review counted as held).
    assert review.abondement["provisoire"] is True
    assert (review.abondement["entretiens_prevus"], review.abondement["entretiens_realises"]) == (3, 2)
    assert review.abondement["applicable"] is True
    assert review.abondement["motif"].startswith("Évaluation provisoire au 26 novembre 2026")


# --- The 8-year review and the abondement correctif --------------------------------------------
# Hired 17/09/2018, first EPP held 20/05/2019, nothing else: review due 17/09/2026 -> overdue.
# Planned over 17/09/2018..17/09/2026: the first interview by 17/09/2020 (former 2-year rule, the first
# year ended before the reform) - held 20/05/2019; the next by 17/09/2024 - missed; the review itself.
# So 2 held of 3. The periodic interview (20/05/2019 + 4 = 20/05/2023) is overdue too.
REVIEW_HIRE = D(2018, 9, 17)


@pytest.mark.parametrize("headcount, trainings, applicable", [
    pytest.param(120, [], True, id="120-sans-formation"),
    pytest.param(120, [training(D(2022, 3, 1), mandatory=True)], True, id="120-formation-obligatoire-seule"),
    pytest.param(120, [training(D(2021, 4, 12), mandatory=False)], False, id="120-avec-formation"),
    pytest.param(40, [], False, id="40-sans-formation"),
    pytest.param(40, [training(D(2021, 4, 12), mandatory=False)], False, id="40-avec-formation"),
    pytest.param(120, [training(D(2018, 6, 1), mandatory=False)], True, id="120-formation-avant-la-periode"),
])
def test_review_abondement(headcount, trainings, applicable):
    items = due_interviews(employee(REVIEW_HIRE), interviews=[held(D(2019, 5, 20), "premier")],
                           trainings=trainings, on=ON, headcount=headcount)
    assert summary(items) == [("periodique", D(2023, 5, 20), True), ("etat_des_lieux", D(2026, 9, 17), True),
                              *AGE_ITEMS]
    info = by_type(items, "etat_des_lieux").abondement
    assert info["periode"] == {"debut": D(2018, 9, 17), "fin": D(2026, 9, 17)}
    assert (info["entretiens_prevus"], info["entretiens_realises"]) == (3, 2)
    assert info["provisoire"] is False
    assert info["applicable"] is applicable
    assert info["montant"] == 3000
    if applicable:
        # Review in Q3 2026: paid by the end of the following quarter.
        assert info["versement_avant"] == D(2026, 12, 31)
        assert "3\u202f000\u00a0€" in info["motif"]
    elif headcount < 50:
        assert "moins de 50 salariés" in info["motif"]
    else:
        assert "formation autre qu’obligatoire" in info["motif"]


@pytest.mark.parametrize("second", [held(D(2023, 5, 2)), refused(D(2023, 5, 2))], ids=["tenu", "refuse"])
def test_review_all_interviews_held_no_abondement(second):
    # Both planned interviews took place (20/05/2019, 02/05/2023): no abondement even without training
    # (the conditions are cumulative). The periodic interview (02/05/2027) comes after the review
    # (17/09/2026), itself an EPP: only the review is listed.
    items = due_interviews(employee(REVIEW_HIRE), interviews=[held(D(2019, 5, 20), "premier"), second],
                           on=ON, headcount=120)
    assert summary(items) == [("etat_des_lieux", D(2026, 9, 17), True), *AGE_ITEMS]
    info = items[0].abondement
    assert (info["entretiens_prevus"], info["entretiens_realises"], info["applicable"]) == (3, 3, False)
    assert info["entretiens_refuses"] == (1 if second.status == "refused" else 0)
    if second.status == "refused":
        assert "refusé" in info["motif"]


def test_review_held_moves_to_next_mark():
    # Review held 01/08/2026 (in its window from 17/09/2025): next mark 17/09/2034; the periodic
    # interview runs from the review: 01/08/2030.
    items = due_interviews(employee(REVIEW_HIRE),
                           interviews=[held(D(2019, 5, 20), "premier"), held(D(2026, 8, 1), "etat_des_lieux")],
                           on=ON, headcount=120)
    assert summary(items) == [("periodique", D(2030, 8, 1), False), ("etat_des_lieux", D(2034, 9, 17), False),
                              *AGE_ITEMS]
    # Provisional for the next period (17/09/2026..17/09/2034): its first slot (17/09/2030) is not past.
    info = items[1].abondement
    assert (info["entretiens_prevus"], info["entretiens_realises"], info["provisoire"]) == (1, 1, True)
    assert info["applicable"] is False


def test_abondement_for_review_directly():
    # Period 2 years: slots 17/09/2020 (former first-interview rule), 2022, 2024, review 2026 -> 4 planned;
    # 20/05/2019 meets the first, 02/05/2023 meets 17/09/2024; 17/09/2022 missed -> 3 of 4.
    info = abondement_for_review(employee(REVIEW_HIRE),
                                 interviews=[held(D(2019, 5, 20), "premier"), held(D(2023, 5, 2))],
                                 trainings=[], review_date=D(2026, 9, 17), on=ON, headcount=120, period_years=2)
    assert (info["entretiens_prevus"], info["entretiens_realises"], info["applicable"]) == (4, 3, True)


def test_hired_four_years_ago_provisional_abondement():
    # Hired 26/09/2022, nothing held: the first interview's slot (26/09/2024) is missed; the next slot
    # (26/09/2028) is not past yet. Provisional: 1 held (the review) of 2: warning before the review.
    info = by_type(due_interviews(employee(D(2022, 9, 26)), on=ON, headcount=120), "etat_des_lieux").abondement
    assert (info["entretiens_prevus"], info["entretiens_realises"]) == (2, 1)
    assert info["provisoire"] is True and info["applicable"] is True


# --- Planned interviews ------------------------------------------------------------------------

def test_planned_interview_is_reported_as_planned():
    items = due_interviews(employee(D(2015, 1, 12)),
                           interviews=[held(D(2022, 12, 26)), planned(D(2026, 12, 15))], on=ON, headcount=120)
    periodique = by_type(items, "periodique")
    assert (periodique.deadline, periodique.overdue, periodique.planned_on) == (D(2026, 12, 26), False,
                                                                               D(2026, 12, 15))
    assert "prévu le 15 décembre 2026" in periodique.reason
    assert by_type(items, "etat_des_lieux").planned_on is None  # a periodic interview is not a review


def test_planned_in_the_year_of_45_covers_mi_carriere():
    items = due_interviews(employee(D(2015, 1, 12), birth=D(1982, 3, 15)),
                           interviews=[held(D(2024, 6, 1)), planned(D(2027, 5, 10))], on=ON, headcount=120)
    assert by_type(items, "mi_carriere").planned_on == D(2027, 5, 10)
    assert by_type(items, "periodique").planned_on == D(2027, 5, 10)


def test_planned_in_the_past_stays_overdue():
    items = due_interviews(employee(D(2019, 3, 4)), interviews=[held(D(2019, 6, 10)), planned(D(2026, 10, 1))],
                           on=ON, headcount=120)
    periodique = by_type(items, "periodique")
    assert (periodique.overdue, periodique.planned_on) == (True, D(2026, 10, 1))
    assert "mettez à jour" in periodique.reason


def test_planned_review():
    items = due_interviews(employee(REVIEW_HIRE),
                           interviews=[held(D(2019, 5, 20), "premier"),
                                       planned(D(2026, 12, 3), "etat_des_lieux")],
                           on=ON, headcount=120)
    review = by_type(items, "etat_des_lieux")
    assert (review.overdue, review.planned_on) == (True, D(2026, 12, 3))


# --- Dates ---------------------------------------------------------------------------------------

def test_29_february():
    # Hired 29/02/2028: first year over on 28/02/2029. Born 29/02/1968: 58 on 01/03/2026 (not a leap
    # year: context.age_on) and 60 on 29/02/2028 (a leap year), so avant 60 runs to 28/02/2028.
    on = D(2028, 3, 1)
    items = due_interviews(employee(D(2028, 2, 29), birth=D(1968, 2, 29)), on=on, headcount=120)
    assert by_type(items, "premier").deadline == D(2029, 2, 28)
    items = due_interviews(employee(D(2015, 1, 12), birth=D(1968, 2, 29)), interviews=[held(D(2024, 1, 9))],
                           on=ON, headcount=120)
    avant_60 = by_type(items, "avant_60")
    assert (avant_60.due_from, avant_60.deadline) == (D(2026, 3, 1), D(2028, 2, 28))


def test_avant_60_missed_is_overdue():
    # Born 09/09/1966: 60 on 09/09/2026, last EPP 12/05/2020: avant 60 by 08/09/2026 -> overdue.
    items = due_interviews(employee(D(1998, 3, 16), birth=D(1966, 9, 9)), interviews=[held(D(2020, 5, 12))],
                           on=ON, headcount=120)
    avant_60 = by_type(items, "avant_60")
    assert (avant_60.deadline, avant_60.overdue) == (D(2026, 9, 8), True)
    assert "La salariée aura 60 ans le 9 septembre 2026" in avant_60.reason


# --- Validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("period", [5, 0, -1, True, 2.0])
def test_period_refused(period):
    with pytest.raises(ValueError, match="(?i)périodicité"):
        due_interviews(employee(D(2015, 1, 12)), on=ON, headcount=120, period_years=period)


def test_period_5_message():
    message = "accord d’entreprise ou de branche ne peut fixer qu’une périodicité plus courte"
    with pytest.raises(ValueError, match=message):
        due_interviews(employee(D(2015, 1, 12)), on=ON, headcount=120, period_years=5)


@pytest.mark.parametrize("kwargs, message", [
    ({"interviews": [held(D(2026, 12, 1))]}, "après la date de référence"),
    ({"interviews": [refused(D(2026, 12, 1))]}, "refusé"),
    ({"interviews": [held(D(2010, 1, 1))]}, "précède l’entrée"),
    ({"interviews": [(D(2020, 1, 1), "periodique", "held")]}, "PastInterview attendu"),
    ({"absences": [absence("conge_maternite", D(2026, 1, 1), D(2026, 3, 1), matricule="X")]},
     "autre matricule"),
    ({"absences": [absence("conge_maternite", D(2026, 3, 1), D(2026, 1, 1))]}, "précède le début"),
    ({"trainings": [training(D(2020, 1, 1), False, matricule="X")]}, "autre matricule"),
    ({"headcount": -1}, "Effectif"),
    ({"on": dt.datetime(2026, 11, 26, 12, 0)}, "date attendue"),
])
def test_invalid_inputs(kwargs, message):
    arguments = {"on": ON, "headcount": 120, **kwargs}
    with pytest.raises(ValueError, match=message):
        due_interviews(employee(D(2015, 1, 12)), **arguments)


@pytest.mark.parametrize("args, message", [
    ((D(2020, 1, 1), "annuel", "held"), "type « annuel » inconnu"),
    ((D(2020, 1, 1), "periodique", "done"), "statut « done » inconnu"),
    (("2020-01-01", "periodique", "held"), "date attendue"),
])
def test_past_interview_validation(args, message):
    with pytest.raises(ValueError, match=message):
        PastInterview(*args)


# --- Several employees ---------------------------------------------------------------------------

def test_due_before_filters_and_sorts():
    people = {
        "A": employee(D(2026, 10, 26), matricule="A"),      # premier by 26/10/2027: after `before`
        "B": employee(D(2019, 3, 4), matricule="B"),        # periodic overdue since 10/06/2023
        "C": employee(D(2015, 1, 12), matricule="C"),       # periodic by 26/12/2026
    }
    dataset = Dataset(people)
    interviews = {"B": [held(D(2019, 6, 10))], "C": [held(D(2022, 12, 26))], "GONE": [held(D(2020, 1, 1))]}
    items = due_before(dataset, interviews, before=D(2027, 3, 31), on=ON, headcount=120)
    assert [(item.matricule, item.type, item.deadline, item.overdue) for item in items] == [
        ("B", "periodique", D(2023, 6, 10), True),
        ("C", "periodique", D(2026, 12, 26), False),
        ("B", "etat_des_lieux", D(2027, 3, 4), False),
    ]
    with pytest.raises(ValueError, match="précède la date de référence"):
        due_before(dataset, interviews, before=D(2026, 1, 1), on=ON, headcount=120)


@pytest.fixture(scope="module")
def sample_due() -> list[DueInterview]:
    dataset = load_dataset_dir(SAMPLES).dataset
    interviews = {matricule: [held(person.date_dernier_entretien)] if person.date_dernier_entretien else []
                  for matricule, person in dataset.employees.items()}
    return due_before(dataset, interviews, before=D(2027, 3, 31), on=ON, headcount=120)


def test_samples(sample_due):
    found = {(item.matricule, item.type): (item.deadline, item.overdue) for item in sample_due}
    # Hand-checked from samples/*.csv:
    assert found[("E0009", "premier")] == (D(2026, 10, 1), True)        # hired 01/10/2025
    assert found[("E0006", "premier")] == (D(2027, 3, 2), False)        # hired 02/03/2026
    assert found[("E0010", "avant_60")] == (D(2026, 9, 8), True)        # 60 on 09/09/2026
    assert found[("E0004", "avant_60")] == (D(2026, 12, 31), False)     # 60 on 01/01/2027
    assert found[("E0011", "mi_carriere")] == (D(2026, 12, 31), False)  # born 1981
    assert found[("E0014", "reprise")] == (D(2026, 9, 24), True)        # maternité ended 24/08/2026
    assert found[("E0008", "reprise")] == (D(2027, 1, 1), False)        # parental leave ends 01/12/2026
    assert found[("E0024", "reprise")] == (D(2026, 4, 30), True)        # last EPP 20/05/2024, > 12 months
    assert found[("E0010", "periodique")] == (D(2024, 5, 12), True)     # last EPP 12/05/2020
    assert found[("E0001", "periodique")] == (D(2027, 2, 10), False)    # last EPP 10/02/2023
    # Hired 25/06/2018: review 25/06/2026; 2 of 3 interviews, but a non-mandatory training in 2023.
    assert found[("E0007", "etat_des_lieux")] == (D(2026, 6, 25), True)
    review = next(i for i in sample_due if (i.matricule, i.type) == ("E0007", "etat_des_lieux"))
    assert review.abondement["applicable"] is False
    assert ("E0019", "periodique") not in found                         # last EPP 20/03/2024: 2028
    assert all(item.overdue or item.deadline <= D(2027, 3, 31) for item in sample_due)
    assert [item.deadline for item in sample_due] == sorted(item.deadline for item in sample_due)
