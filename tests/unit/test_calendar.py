"""The legal calendar of the EPP (docgen.calendar), rule by rule.

Every expected date below is worked out by hand from the text (docgen/law/legi.json, the consolidated
Code du travail) and the modelling choices in docgen/calendar.py's docstring, never by calling the code:
the comment of each case names the article, quotes the words and shows the sum. Reference date: 26
November 2026; headcount 120 unless stated.
"""

import datetime as dt
from pathlib import Path

import pytest

from docgen.calendar import (
    RULES,
    DueInterview,
    Headcount,
    PastInterview,
    assess_review,
    due_before,
    due_interviews,
)
from docgen.dataset import Absence, Dataset, Employee, Training, load_dataset_dir
from docgen.law import normalize
from parcours import resources

D = dt.date
ON = D(2026, 11, 26)
REPO = Path(__file__).parents[2]
SAMPLES = resources.SAMPLES

# Born 5 May 1990: 45 in 2035 (visit unknown: by 29/02/2036), 60 on 05/05/2050 (avant 60 by 04/05/2050).
BIRTH = D(1990, 5, 5)


def employee(hire: dt.date, birth: dt.date = BIRTH, matricule: str = "T001", civilite: str = "Mme",
             **kwargs) -> Employee:
    return Employee(matricule, civilite, "Test", "Alice", "alice@example.com", birth, hire,
                    "Technicienne", "Maintenance", "Lyon", **kwargs)


def held(day: dt.date, type: str = "periodique") -> PastInterview:
    return PastInterview(day, type, "held")


def refused(day: dt.date, type: str = "periodique", counts: bool = True) -> PastInterview:
    return PastInterview(day, type, "refused", counts)


def planned(day: dt.date, type: str = "periodique") -> PastInterview:
    return PastInterview(day, type, "planned")


def absence(motif: str, start: dt.date, end: dt.date, matricule: str = "T001") -> Absence:
    return Absence(matricule, motif, start, end)


def training(day: dt.date, mandatory: bool, matricule: str = "T001") -> Training:
    return Training(matricule, "Formation", day, certifiante=False, obligatoire=mandatory)


def by_type(items: list[DueInterview], code: str) -> DueInterview:
    (found,) = [item for item in items if item.type == code]
    return found


def quoted(reason: str, words: str) -> bool:
    return normalize(words) in normalize(reason)


# --- One table: one case per rule, with its article and the words it rests on ------------------------
# Each case: the employee, interviews, absences, options, the type looked at, and what is expected:
# (deadline, overdue, rule key, words the reason must quote).
RULE_CASES = [
    pytest.param(
        # L. 6315-1, I: « au cours de la première année suivant son embauche ». Hired 26/10/2026 (after
        # the reform): by 26/10/2027.
        employee(D(2026, 10, 26)), [], [], {}, "premier",
        (D(2027, 10, 26), False, "premier", "au cours de la première année suivant son embauche"),
        id="premier-loi-nouvelle",
    ),
    pytest.param(
        # C. civ. 2222 al. 2 (Q-R n° 2): hired 28/10/2024, the two-year delay (28/10/2026) was running on
        # 26/10/2025; the one-year delay runs from then, « sans que la durée totale puisse excéder » the
        # old one: min(26/10/2026, 28/10/2026) = 26/10/2026.
        employee(D(2024, 10, 28)), [], [], {}, "premier",
        (D(2026, 10, 26), True, "premier_transition", "sans que la durée totale puisse excéder la durée prévue"),
        id="premier-transition-embauche-octobre-2024",
    ),
    pytest.param(
        # Former L. 6315-1, I (« tous les deux ans »): hired 26/09/2022, due 26/09/2024, expired before the
        # reform: the breach stays (C. civ. 2222 al. 1, « sans effet sur … une forclusion acquise »).
        employee(D(2022, 9, 26)), [], [], {}, "premier",
        (D(2024, 9, 26), True, "premier_ancien", "sans effet"),
        id="premier-delai-expire-avant-la-reforme",
    ),
    pytest.param(
        # Last EPP 16/01/2023: under the former rule due 16/01/2025, expired before 26/10/2025: overdue
        # since January 2025, not « avant janvier 2027 » (C. civ. 2222 al. 1).
        employee(D(2015, 1, 12)), [held(D(2023, 1, 16))], [], {}, "periodique",
        (D(2025, 1, 16), True, "periodique_ancien", "sans effet sur une prescription ou une forclusion acquise"),
        id="dernier-entretien-janvier-2023-en-retard-depuis-janvier-2025",
    ),
    pytest.param(
        # The day before the boundary: 25/10/2023 + 2 = 25/10/2025, expired the day before the reform.
        employee(D(2015, 1, 12)), [held(D(2023, 10, 25))], [], {}, "periodique",
        (D(2025, 10, 25), True, "periodique_ancien", "sans effet sur une prescription"),
        id="delai-expire-la-veille-de-la-reforme",
    ),
    pytest.param(
        # 26/10/2023 + 2 = 26/10/2025, not expired on that day: C. civ. 2222 al. 1, « il est alors tenu
        # compte du délai déjà écoulé »; L. 6315-1, I, « tous les quatre ans »: 26/10/2027.
        employee(D(2015, 1, 12)), [held(D(2023, 10, 26))], [], {}, "periodique",
        (D(2027, 10, 26), False, "periodique_transition", "tous les quatre ans"),
        id="delai-en-cours-le-jour-de-la-reforme",
    ),
    pytest.param(
        # Last EPP 10/01/2026, after the reform: L. 6315-1, I, « tous les quatre ans »: 10/01/2030.
        employee(D(2015, 1, 12)), [held(D(2026, 1, 10))], [], {}, "periodique",
        (D(2030, 1, 10), False, "periodique", "tous les quatre ans"),
        id="periodique-loi-nouvelle",
    ),
    pytest.param(
        # L. 6315-1, III: an agreement sets two years (« sans que celle-ci excède quatre ans »): 01/03/2028.
        employee(D(2015, 1, 12)), [held(D(2026, 3, 1))], [], {"period_years": 2}, "periodique",
        (D(2028, 3, 1), False, "periodique_accord", "sans que celle-ci excède quatre ans"),
        id="accord-deux-ans",
    ),
    pytest.param(
        # A pre-reform agreement of six years applied until 30/09/2026: 10/01/2021 + 6 = 10/01/2027 is
        # after it, so four years apply, already past then: due on 30/09/2026, overdue.
        employee(D(2015, 1, 12)), [held(D(2021, 1, 10))], [], {"period_years": 6, "pre_reform_agreement": True},
        "periodique", (D(2026, 9, 30), True, "periodique_transition", "tous les quatre ans"),
        id="accord-anterieur-six-ans-jusquau-30-septembre-2026",
    ),
    pytest.param(
        # L. 6315-1, II: « Tous les huit ans », « par référence à l'ancienneté »; the first one « peut être
        # réalisé sept ans après » the first EPP. Hired 04/11/2019, first EPP 01/09/2020: 8 years on
        # 04/11/2027, from 01/09/2027 (7 years after the EPP), before 9 years (Q-R): by 03/11/2028.
        employee(D(2019, 11, 4)), [held(D(2020, 9, 1), "premier"), held(D(2024, 6, 1))], [], {}, "etat_des_lieux",
        (D(2028, 11, 3), False, "etat_des_lieux_premier", "peut être réalisé sept ans après"),
        id="premier-etat-des-lieux-sept-ans-apres-le-premier-entretien",
    ),
    pytest.param(
        # L. 6315-1, II, « Cette durée s'apprécie par référence à l'ancienneté »; L. 3142-28, congé sabbatique
        # « son contrat de travail est suspendu »: 181 days (01/01/2022 -> 01/07/2022) left out. 8 years on
        # 04/11/2027 + 181 days = 03/05/2028; 9 years: 04/11/2028 + 181 days = 04/05/2029, by 03/05/2029.
        employee(D(2019, 11, 4)), [], [absence("conge_sabbatique", D(2022, 1, 1), D(2022, 7, 1))], {},
        "etat_des_lieux", (D(2029, 5, 3), False, "etat_des_lieux_premier", "par référence à l'ancienneté"),
        id="anciennete-sans-le-conge-sabbatique",
    ),
    pytest.param(
        # L. 6315-1, IV, « dans un délai de deux mois à compter de la visite médicale de mi-carrière »: visit
        # on 15/10/2026, by 15/12/2026. Born 10/12/1981.
        employee(D(2015, 1, 12), birth=D(1981, 12, 10), date_visite_mi_carriere=D(2026, 10, 15)),
        [held(D(2024, 6, 1))], [], {}, "mi_carriere",
        (D(2026, 12, 15), False, "mi_carriere", "dans un délai de deux mois à compter de la visite"),
        id="mi-carriere-avec-la-date-de-visite",
    ),
    pytest.param(
        # Visit date unknown: L. 4624-2-2, I, « durant l'année civile du quarante-cinquième anniversaire »
        # (2026), plus two months: by 28/02/2027.
        employee(D(2015, 1, 12), birth=D(1981, 12, 10)), [held(D(2024, 6, 1))], [], {}, "mi_carriere",
        (D(2027, 2, 28), False, "mi_carriere_sans_visite", "durant l'année civile du quarante-cinquième"),
        id="mi-carriere-sans-date-de-visite",
    ),
    pytest.param(
        # L. 6315-1, V, « au cours des deux années précédant le soixantième anniversaire »: born 09/09/1966,
        # by 08/09/2026, missed.
        employee(D(1998, 3, 16), birth=D(1966, 9, 9)), [held(D(2024, 5, 12))], [], {}, "avant_60",
        (D(2026, 9, 8), True, "avant_60", "au cours des deux années précédant le soixantième anniversaire"),
        id="avant-60-ans",
    ),
    pytest.param(
        # L. 6315-1, I and L. 1225-46-7, « à l'issue du congé supplémentaire de naissance »: back on
        # 31/08/2026, no EPP in the 12 months before (last 10/01/2024): by 30/09/2026 (one month, a choice).
        employee(D(2015, 1, 12)), [held(D(2024, 1, 10))],
        [absence("conge_supplementaire_naissance", D(2026, 6, 1), D(2026, 8, 31))], {}, "reprise",
        (D(2026, 9, 30), True, "reprise_conge_supplementaire_naissance",
         "est proposé systématiquement au salarié qui reprend son activité"),
        id="retour-de-conge-supplementaire-de-naissance",
    ),
    pytest.param(
        # L. 6315-1, I, « d'une période d'activité à temps partiel au sens de l'article L. 1225-47 », and
        # L. 1225-57 (pay and career): back to full time on 02/11/2026, by 02/12/2026.
        employee(D(2015, 1, 12)), [held(D(2024, 1, 10))],
        [absence("temps_partiel_parental", D(2025, 11, 1), D(2026, 11, 2))], {}, "reprise",
        (D(2026, 12, 2), False, "reprise_temps_partiel_parental",
         "les conséquences éventuelles du congé sur sa rémunération et l'évolution de sa carrière"),
        id="fin-du-temps-partiel-parental",
    ),
]


@pytest.mark.parametrize("person, interviews, absences, options, code, expected", RULE_CASES)
def test_each_rule(person, interviews, absences, options, code, expected):
    deadline, overdue, rule, words = expected
    items = due_interviews(person, interviews=interviews, absences=absences, on=ON, headcount=120, **options)
    item = by_type([i for i in items if i.rule_key != "etat_des_lieux_ancien"], code)
    assert (item.deadline, item.overdue, item.rule_key) == (deadline, overdue, rule)
    assert quoted(item.reason, words), item.reason
    # The reason quotes the words of the first article the rule rests on, and cites it.
    first = next((ref for ref in RULES[rule] if ref.article is not None), None)
    if first is not None:
        assert quoted(item.reason, first.quote), item.reason
        assert first.cite() in item.rule


def test_nothing_is_planned_before_the_2014_law():
    # Hired 16/03/1998, no interview: the first one was due two years after the loi du 5 mars 2014 came
    # into force (07/03/2014), on 07/03/2016.
    premier = by_type(due_interviews(employee(D(1998, 3, 16)), on=ON, headcount=120), "premier")
    assert (premier.deadline, premier.overdue, premier.rule_key) == (D(2016, 3, 7), True, "premier_ancien")
    assert "loi du 5 mars 2014" in premier.reason


def test_hired_in_october_2024_is_not_overdue_the_day_the_law_came_in():
    items = due_interviews(employee(D(2024, 10, 28)), on=D(2025, 10, 27), headcount=120)
    premier = by_type(items, "premier")
    assert (premier.deadline, premier.overdue) == (D(2026, 10, 26), False)


def test_a_review_held_moves_to_the_next_one_at_16_years_without_the_early_window():
    # Held on 15/09/2027 (in the window from 01/09/2027): next at 16 years, 04/11/2035, by 03/11/2036;
    # the seven-year window is for the first review only.
    items = due_interviews(employee(D(2019, 11, 4)),
                           interviews=[held(D(2020, 9, 1), "premier"), held(D(2027, 9, 15), "etat_des_lieux")],
                           on=D(2027, 10, 1), headcount=120)
    review = by_type(items, "etat_des_lieux")
    assert (review.due_from, review.deadline, review.rule_key) == (D(2035, 11, 4), D(2036, 11, 3), "etat_des_lieux")


def test_a_review_held_before_seven_years_after_the_first_interview_does_not_count():
    items = due_interviews(employee(D(2019, 11, 4)),
                           interviews=[held(D(2020, 9, 1), "premier"), held(D(2027, 8, 1), "etat_des_lieux")],
                           on=D(2027, 10, 1), headcount=120)
    assert by_type(items, "etat_des_lieux").deadline == D(2028, 11, 3)


# --- The abondement correctif --------------------------------------------------------------------------

ISSUE_HIRE = D(2017, 11, 6)
ISSUE_HISTORY = [held(D(2019, 10, 15)), held(D(2023, 10, 10))]


def test_the_2017_hire_with_2019_and_2023_interviews_is_owed_the_abondement():
    # Hired 06/11/2017, EPPs 15/10/2019 and 10/10/2023, no training (the issue's case). Former rule, every
    # two years: 06/11/2019 (held 15/10/2019), 15/10/2021 (missed), 15/10/2023 (held 10/10/2023), then
    # 10/10/2025, expired before the reform (missed). L. 6315-1, II: « n'a pas bénéficié des entretiens
    # prévus et d'au moins une formation autre que celle mentionnée à l'article L. 6321-2 ».
    items = due_interviews(employee(ISSUE_HIRE), interviews=ISSUE_HISTORY, on=ON, headcount=120)
    former, current = [i for i in items if i.type == "etat_des_lieux"]
    # The 6-year review fell due on 06/11/2023, before the reform: a breach, assessed over six years
    # (06/11/2017-06/11/2023): 2019, 2021, 2023 -> 2 of 3; paid by 31/03/2024 (R. 6323-3, IV).
    assert (former.rule_key, former.deadline, former.overdue) == ("etat_des_lieux_ancien", D(2023, 11, 6), True)
    assert (former.abondement["entretiens_prevus"], former.abondement["entretiens_realises"]) == (3, 2)
    assert former.abondement["applicable"] is True and former.abondement["versement_avant"] == D(2024, 3, 31)
    assert "cette échéance est dépassée" in former.abondement["motif"]  # 31/03/2024, before 26/11/2026
    # The 8-year review: 06/11/2025, by 05/11/2026 (before 9 years): overdue, assessed on 05/11/2026 over
    # 05/11/2018-05/11/2026: 2019, 2021, 2023, 2025 -> 2 of 4; 3 000 € by 31/03/2027.
    assert (current.rule_key, current.deadline, current.overdue) == ("etat_des_lieux_premier", D(2026, 11, 5), True)
    review = current.abondement
    assert [(e["echeance"], e["realise"]) for e in review["echeances"]] == [
        (D(2019, 11, 6), True), (D(2021, 10, 15), False), (D(2023, 10, 15), True), (D(2025, 10, 10), False)]
    assert (review["entretiens_prevus"], review["entretiens_realises"]) == (4, 2)
    assert (review["applicable"], review["montant"], review["versement_avant"]) == (True, 3000, D(2027, 3, 31))
    assert "dépassée" not in review["motif"]  # 31/03/2027 is still to come
    # R. 6323-3, I, « d'un montant de 3 000 euros »; II, « versée par l'employeur à la Caisse des dépôts et
    # consignations »; IV, « le dernier jour du trimestre civil suivant la date de l'entretien ».
    for words in ("d'un montant de 3 000 euros", "est versée par l'employeur à la Caisse des dépôts et consignations",
                  "le dernier jour du trimestre civil suivant la date de l'entretien professionnel"):
        assert quoted(review["motif"], words)


MID_BIRTH = D(1981, 3, 10)  # 45 in 2026: visit unknown, mid-career due by 28/02/2027
MID_HISTORY = [held(D(2020, 10, 1), "premier"), held(D(2022, 9, 20)), held(D(2024, 9, 10))]


def test_mid_career_interviews_count_among_the_interviews_planned():
    # Hired 04/11/2019, review at 8 years on 04/11/2027, assessed that day. Chain: 04/11/2021 (former rule,
    # held 01/10/2020), 01/10/2022 (20/09/2022), 20/09/2024 (10/09/2024); next 10/09/2028, outside. The
    # mid-career interview (Q-R n° 11), due by 28/02/2027, did not take place: 3 of 4 -> owed.
    review = assess_review(employee(D(2019, 11, 4), birth=MID_BIRTH), interviews=MID_HISTORY,
                           review_date=D(2027, 11, 4), on=D(2027, 11, 4), headcount=120)
    assert [e["type"] for e in review["echeances"]] == ["premier", "periodique", "periodique", "mi_carriere"]
    assert (review["entretiens_prevus"], review["entretiens_realises"], review["applicable"]) == (4, 3, True)
    # With the visit on 04/05/2026 and an EPP on 15/06/2026 (within two months): 4 of 4, not owed.
    review = assess_review(employee(D(2019, 11, 4), birth=MID_BIRTH, date_visite_mi_carriere=D(2026, 5, 4)),
                           interviews=[*MID_HISTORY, held(D(2026, 6, 15))],
                           review_date=D(2027, 11, 4), on=D(2027, 11, 4), headcount=120)
    assert (review["entretiens_prevus"], review["entretiens_realises"], review["applicable"]) == (4, 4, False)


@pytest.mark.parametrize(("headcount", "applicable", "words"), [
    # L. 6315-1, II: « Dans les entreprises d'au moins cinquante salariés ».
    (49, False, "moins de cinquante salariés"),
    (50, True, "3\u202f000\u00a0€"),
    # CSS L. 130-1, II: « lorsque ce seuil a été atteint ou dépassé pendant cinq années civiles consécutives ».
    (Headcount(120, D(2026, 1, 31), years_at_threshold=4), False, "pendant cinq années civiles consécutives"),
    (Headcount(120, D(2026, 1, 31), years_at_threshold=5), True, "mesuré le 31 janvier 2026"),
], ids=["49", "50", "seuil-depuis-4-ans", "seuil-depuis-5-ans"])
def test_headcount_per_css_l130_1(headcount, applicable, words):
    items = due_interviews(employee(ISSUE_HIRE), interviews=ISSUE_HISTORY, on=ON, headcount=headcount)
    review = [i for i in items if i.rule_key == "etat_des_lieux_premier"][0].abondement
    assert review["applicable"] is applicable
    assert quoted(review["motif"], words), review["motif"]
    assert "L. 130-1 du code de la sécurité sociale" in review["motif"]


def test_a_non_mandatory_training_prevents_the_abondement_the_conditions_are_cumulative():
    # Cass. soc. 21/01/2026 n° 24-12.972: missed interviews AND no training other than mandatory.
    items = due_interviews(employee(ISSUE_HIRE), interviews=ISSUE_HISTORY, trainings=[training(D(2022, 3, 1), False)],
                           on=ON, headcount=120)
    review = [i for i in items if i.rule_key == "etat_des_lieux_premier"][0].abondement
    assert review["applicable"] is False and "cumulatives" in review["motif"]
    items = due_interviews(employee(ISSUE_HIRE), interviews=ISSUE_HISTORY, trainings=[training(D(2022, 3, 1), True)],
                           on=ON, headcount=120)
    assert [i for i in items if i.rule_key == "etat_des_lieux_premier"][0].abondement["applicable"] is True


REFUSAL_HISTORY = [held(D(2021, 10, 1), "premier"), held(D(2025, 9, 10))]


@pytest.mark.parametrize(("counts", "expected"), [(True, (3, 3, False)), (False, (3, 2, True))],
                         ids=["refus-compte-par-defaut", "refus-ecarte-par-les-rh"])
def test_refusals_count_as_offered_unless_hr_decides_otherwise(counts, expected):
    # Hired 04/11/2019; 01/10/2021 held (by 04/11/2021), 20/09/2023 offered and refused (slot 01/10/2023),
    # 10/09/2025 held (by 20/09/2025). Review 04/11/2027. By default the refusal realises its slot (the
    # employer offered the interview): 3 of 3. When HR sets it aside (compte = non): 2 of 3, owed.
    history = [*REFUSAL_HISTORY, refused(D(2023, 9, 20), counts=counts)]
    review = assess_review(employee(D(2019, 11, 4)), interviews=history, review_date=D(2027, 11, 4),
                           on=D(2027, 11, 4), headcount=120)
    assert (review["entretiens_prevus"], review["entretiens_realises"], review["applicable"]) == expected
    assert review["entretiens_refuses"] == [{"date": D(2023, 9, 20), "type": "periodique", "compte": counts}]
    assert "refus" in review["motif"].lower()


def test_a_refused_interview_does_not_exempt_from_the_return_interview():
    # L. 6315-1, I: exempt only « si le salarié n'a bénéficié d'aucun entretien » in the 12 months: he did not.
    items = due_interviews(employee(D(2015, 1, 12)), interviews=[held(D(2022, 1, 10)), refused(D(2025, 12, 1))],
                           absences=[absence("conge_sabbatique", D(2026, 1, 5), D(2026, 7, 3))], on=ON,
                           headcount=120)
    reprise = by_type(items, "reprise")
    assert (reprise.deadline, reprise.overdue) == (D(2026, 8, 3), True)
    assert "ne dispense pas" in reprise.reason
    items = due_interviews(employee(D(2015, 1, 12)), interviews=[held(D(2022, 1, 10)), held(D(2025, 12, 1))],
                           absences=[absence("conge_sabbatique", D(2026, 1, 5), D(2026, 7, 3))], on=ON,
                           headcount=120)
    assert not [i for i in items if i.type == "reprise"]


def test_a_review_with_nothing_due_yet_says_so():
    review = by_type(due_interviews(employee(D(2026, 10, 26)), on=ON, headcount=120), "etat_des_lieux").abondement
    assert (review["entretiens_prevus"], review["applicable"], review["provisoire"]) == (0, False, True)
    assert "Aucun entretien prévu n’est encore échu" in review["motif"]


def test_a_provisional_assessment_counts_only_what_fell_due():
    # Hired 04/11/2019, seen on 26/11/2026: the review of 04/11/2027 counts 04/11/2021 and 01/10/2022 (held),
    # not 10/09/2028 nor anything after the reference date.
    items = due_interviews(employee(D(2019, 11, 4)), interviews=[held(D(2020, 10, 1)), held(D(2022, 9, 20))],
                           on=ON, headcount=120)
    review = by_type(items, "etat_des_lieux").abondement
    assert review["provisoire"] is True
    assert [e["echeance"] for e in review["echeances"]] == [D(2021, 11, 4), D(2022, 10, 1), D(2024, 9, 20)]
    assert (review["entretiens_prevus"], review["entretiens_realises"]) == (3, 2)
    assert review["motif"].startswith("Évaluation provisoire au 26 novembre 2026")


# --- Who is no longer, or not yet, concerned -------------------------------------------------------------

def test_an_employee_who_left_owes_nothing():
    person = employee(D(2015, 1, 12), date_sortie=D(2026, 6, 30))
    assert due_interviews(person, interviews=[held(D(2020, 1, 15))], on=ON, headcount=120) == []
    assert due_before(Dataset({"T001": person}), before=D(2027, 3, 31), on=ON, headcount=120) == []


def test_a_fixed_term_contract_ending_before_the_first_year_owes_no_interview():
    # « au cours de la première année suivant son embauche », « tout salarié restant employé »: a CDD from
    # 02/03/2026 to 31/12/2026 ends before 02/03/2027.
    short = employee(D(2026, 3, 2), type_contrat="cdd", date_fin_contrat=D(2026, 12, 31))
    assert due_interviews(short, on=ON, headcount=120) == []
    longer = employee(D(2026, 3, 2), type_contrat="cdd", date_fin_contrat=D(2027, 8, 31))
    assert [(i.type, i.deadline) for i in due_interviews(longer, on=ON, headcount=120)] == [
        ("premier", D(2027, 3, 2))]


# --- French ------------------------------------------------------------------------------------------------

def test_reasons_are_written_in_french_with_elisions_and_tenses():
    items = due_interviews(employee(D(2015, 1, 12), birth=D(1981, 12, 10)), interviews=[held(D(2024, 1, 10))],
                           absences=[absence("arret_longue_maladie", D(2026, 1, 5), D(2026, 10, 30))],
                           on=ON, headcount=120)
    reprise, mid = by_type(items, "reprise"), by_type(items, "mi_carriere")
    assert reprise.reason.startswith("Retour d’arrêt longue maladie le 30 octobre 2026 (absence du 5 janvier "
                                     "2026 au 30 octobre 2026)")
    assert mid.reason.startswith("La salariée aura 45 ans le 10 décembre 2026")
    after = due_interviews(employee(D(2015, 1, 12), birth=D(1981, 11, 10)), interviews=[held(D(2024, 1, 10))],
                           on=ON, headcount=120)
    assert by_type(after, "mi_carriere").reason.startswith("La salariée a eu 45 ans le 10 novembre 2026")
    for item in items:
        assert "L6315" not in item.reason + item.rule and "Code du travail" not in item.reason + item.rule
        assert " de a" not in item.reason and " de e" not in item.reason


# --- Planned interviews, dates, validation ------------------------------------------------------------------

def test_planned_interviews_are_reported_and_a_past_one_stays_open():
    items = due_interviews(employee(D(2015, 1, 12)), interviews=[held(D(2026, 1, 10)), planned(D(2029, 12, 1))],
                           on=ON, headcount=120)
    assert by_type(items, "periodique").planned_on == D(2029, 12, 1)
    items = due_interviews(employee(D(2015, 1, 12)), interviews=[held(D(2023, 1, 16)), planned(D(2026, 11, 1))],
                           on=ON, headcount=120)
    periodic = by_type(items, "periodique")
    assert periodic.overdue and "mettez à jour son statut" in periodic.reason


def test_29_february():
    # Hired 29/02/2028: first year over on 28/02/2029. Born 29/02/1968: 60 on 29/02/2028, avant 60 to 28/02/2028.
    items = due_interviews(employee(D(2028, 2, 29), birth=D(1968, 2, 29)), on=D(2028, 3, 1), headcount=120)
    assert by_type(items, "premier").deadline == D(2029, 2, 28)
    items = due_interviews(employee(D(2015, 1, 12), birth=D(1968, 2, 29)), interviews=[held(D(2026, 1, 9))],
                           on=ON, headcount=120)
    avant_60 = by_type(items, "avant_60")
    assert (avant_60.due_from, avant_60.deadline) == (D(2026, 3, 1), D(2028, 2, 28))


@pytest.mark.parametrize("period", [5, 0, -1, True, 2.0])
def test_period_refused(period):
    with pytest.raises(ValueError, match="(?i)périodicité"):
        due_interviews(employee(D(2015, 1, 12)), on=ON, headcount=120, period_years=period)


@pytest.mark.parametrize("kwargs, message", [
    ({"interviews": [held(D(2026, 12, 1))]}, "après la date de référence"),
    ({"interviews": [refused(D(2026, 12, 1))]}, "refusé"),
    ({"interviews": [held(D(2010, 1, 1))]}, "précède l’entrée"),
    ({"interviews": [(D(2020, 1, 1), "periodique", "held")]}, "PastInterview attendu"),
    ({"absences": [absence("conge_maternite", D(2026, 1, 1), D(2026, 3, 1), matricule="X")]}, "autre matricule"),
    ({"absences": [absence("conge_maternite", D(2026, 3, 1), D(2026, 1, 1))]}, "précède le début"),
    ({"trainings": [training(D(2020, 1, 1), False, matricule="X")]}, "autre matricule"),
    ({"headcount": -1}, "Effectif"),
    ({"on": dt.datetime(2026, 11, 26, 12, 0)}, "date attendue"),
])
def test_invalid_inputs(kwargs, message):
    arguments = {"on": ON, "headcount": 120, **kwargs}
    with pytest.raises(ValueError, match=message):
        due_interviews(employee(D(2015, 1, 12)), **arguments)


def test_a_dataset_seen_from_an_earlier_date_forgets_what_came_after_it():
    later, earlier = held(D(2026, 6, 1)), held(D(2022, 6, 1))
    data = Dataset({"T001": employee(D(2015, 1, 12)), "T002": employee(D(2015, 1, 12), matricule="T002",
                                                                     date_dernier_entretien=D(2026, 6, 1))},
                   interviews={"T001": (earlier, later, refused(D(2026, 7, 1)), planned(D(2026, 9, 1)))})
    seen = data.as_known_on(D(2026, 1, 1))
    assert seen.interviews_of("T001") == (earlier, planned(D(2026, 9, 1)))  # the planned one was planned already
    assert seen.employees["T002"].date_dernier_entretien is None and data.interviews_of("T001")[1] == later
    # What the calendar would refuse from that date (an interview held after it), it is now given no more.
    assert due_before(seen, before=D(2026, 12, 31), on=D(2026, 1, 1), headcount=120)
    with pytest.raises(ValueError, match="après la date de référence"):
        due_before(data, before=D(2026, 12, 31), on=D(2026, 1, 1), headcount=120)


@pytest.mark.parametrize("args, message", [
    ((D(2020, 1, 1), "annuel", "held"), "type « annuel » inconnu"),
    ((D(2020, 1, 1), "periodique", "done"), "statut « done » inconnu"),
    (("2020-01-01", "periodique", "held"), "date attendue"),
])
def test_past_interview_validation(args, message):
    with pytest.raises(ValueError, match=message):
        PastInterview(*args)


# --- The samples ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_due() -> list[DueInterview]:
    dataset = load_dataset_dir(SAMPLES).dataset
    return due_before(dataset, before=D(2027, 3, 31), on=ON, headcount=120)


def test_samples(sample_due):
    found = {(item.matricule, item.rule_key): (item.deadline, item.overdue) for item in sample_due}
    # Hand-checked from samples/*.csv (the history is samples/entretiens.csv):
    assert found[("E0009", "premier_transition")] == (D(2026, 10, 26), True)  # hired 01/10/2025
    assert found[("E0006", "premier")] == (D(2027, 3, 2), False)              # hired 02/03/2026
    assert found[("E0010", "avant_60")] == (D(2026, 9, 8), True)              # 60 on 09/09/2026
    assert found[("E0004", "avant_60")] == (D(2026, 12, 31), False)           # 60 on 01/01/2027
    assert found[("E0011", "mi_carriere_sans_visite")] == (D(2027, 2, 28), False)  # born 1981
    assert found[("E0014", "reprise_conge_maternite")] == (D(2026, 9, 24), True)  # back 24/08/2026
    assert found[("E0008", "reprise_conge_parental_education")] == (D(2027, 1, 1), False)
    assert found[("E0024", "reprise_conge_maternite")] == (D(2026, 4, 30), True)  # last EPP 20/05/2024
    assert found[("E0001", "periodique_ancien")] == (D(2025, 2, 10), True)    # last EPP 10/02/2023
    assert ("E0019", "periodique_transition") not in found                   # last EPP 20/03/2024: 2028
    assert all(item.overdue or item.deadline <= D(2027, 3, 31) for item in sample_due)
    assert [item.deadline for item in sample_due] == sorted(item.deadline for item in sample_due)


def test_a_hire_still_to_come_is_said_in_the_future_with_its_first_interview_within_the_year_after():
    (premier,) = [i for i in due_interviews(employee(D(2027, 1, 15)), on=D(2026, 12, 6), headcount=120)
                  if i.type == "premier"]
    assert premier.deadline == D(2028, 1, 15) and not premier.overdue
    assert premier.reason.startswith("Embauche prévue le 15 janvier 2027 : le premier entretien a lieu")
    assert "aucun entretien enregistré depuis" not in premier.reason
