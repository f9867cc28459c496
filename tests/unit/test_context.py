"""The templates' context: interview, company and letter details, and the facts derived from them.

Expected values come from the rules (domain/entretien-rules.md) and the sample data, worked out by hand.
"""

import datetime as dt
from pathlib import Path

import pytest

from docgen.context import (
    Company,
    Interview,
    Interviewer,
    InterviewError,
    Letter,
    Signer,
    age_on,
    build_context,
    sample_interview,
)
from docgen.dataset import Dataset, UnknownEmployeeError, load_dataset_dir
from parcours import resources

# The repository's copy of the shared sample data, or the shared folder itself.
SAMPLE_DATA = resources.SAMPLES if (resources.SAMPLES / "employees.csv").exists() else Path("/work/shared/data")
COMPANY = Company("Atelier Lumière", "12 rue des Canuts", "69004", "Lyon", effectif=120)
SMALL_COMPANY = Company("Petit Atelier", "3 place Bellecour", "69002", "Lyon", effectif=30)
LETTER = Letter(Signer("Élodie Lefèvre-Dubois", "Responsable RH"), date=dt.date(2027, 2, 15))


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset_dir(SAMPLE_DATA).dataset


def interview(type: str = "periodique", on: dt.date = dt.date(2027, 3, 1), **kwargs) -> Interview:
    kwargs.setdefault("lieu", "Salle Jacquard")
    return Interview(type=type, date=on, heure=dt.time(14, 30), **kwargs)


def context_for(dataset, matricule, on=dt.date(2027, 3, 1), type="periodique", company=COMPANY, letter=LETTER,
                **kwargs):
    extra = kwargs.pop("extra", None)
    return build_context(dataset, matricule, interview(type, on, **kwargs), company, letter, extra)


def letter_on(day: dt.date) -> Letter:
    return Letter(Signer("Élodie Lefèvre-Dubois", "Responsable RH"), date=day)


# --- Shape -------------------------------------------------------------------------------------

def test_the_context_has_exactly_the_schema_keys(dataset):
    context = context_for(dataset, "E0003")

    assert set(context) == {"salarie", "manager", "entretien", "societe", "courrier", "compte_rendu"}
    assert set(context["salarie"]) == {
        "matricule", "civilite", "nom", "prenom", "email", "date_naissance", "date_entree", "poste",
        "service", "site", "age", "date_dernier_entretien", "formations", "certifications", "absences",
        "entretiens_precedents",
    }
    assert set(context["manager"]) == {"civilite", "nom", "prenom", "poste", "email"}
    assert set(context["entretien"]) == {
        "type", "libelle", "titre", "date", "heure", "duree", "lieu", "interlocuteur", "mi_carriere",
        "avant_60", "etat_des_lieux",
    }
    assert set(context["societe"]) == {"nom", "adresse", "code_postal", "ville", "effectif", "moins_de_300"}
    assert set(context["courrier"]) == {"date", "ville", "signataire"}


def test_an_ordinary_periodic_interview(dataset):
    context = context_for(dataset, "E0003")
    salarie, entretien = context["salarie"], context["entretien"]

    # Born 2 November 1990: still 36 on 1 March 2027.
    assert salarie["age"] == 36
    assert salarie["nom"] == "N'Diaye" and salarie["civilite"] == "M."
    assert salarie["date_entree"] == dt.date(2019, 4, 1)
    assert salarie["date_dernier_entretien"] == dt.date(2022, 4, 20)
    assert [f["intitule"] for f in salarie["formations"]] == [
        "Habilitation électrique B1V", "CQPM Technicien de maintenance industrielle",
    ]
    assert salarie["certifications"] == [{
        "intitule": "CQPM Technicien de maintenance industrielle", "date_fin": dt.date(2024, 6, 28),
        "certifiante": True, "obligatoire": False,
    }]
    assert salarie["absences"] == []
    # From samples/entretiens.csv: the history, each with its status.
    assert salarie["entretiens_precedents"] == [{
        "date": dt.date(2021, 3, 12), "type": "premier", "libelle": "premier entretien de parcours professionnel",
        "statut": "held", "statut_libelle": "réalisé",
    }, {
        "date": dt.date(2022, 4, 20), "type": "periodique",
        "libelle": "entretien de parcours professionnel périodique", "statut": "held", "statut_libelle": "réalisé",
    }]
    assert entretien["libelle"] == "entretien de parcours professionnel périodique"
    assert entretien["titre"] == "Entretien de parcours professionnel"
    assert (entretien["date"], entretien["heure"], entretien["duree"]) == (dt.date(2027, 3, 1), dt.time(14, 30), 60)
    assert entretien["lieu"] == "Salle Jacquard"
    assert (entretien["mi_carriere"], entretien["avant_60"], entretien["etat_des_lieux"]) == (False, False, False)


def test_the_manager_leads_the_interview_by_default(dataset):
    context = context_for(dataset, "E0003")

    assert context["manager"] == {
        "civilite": "M.", "nom": "Rousseau", "prenom": "François", "poste": "Chef d'atelier",
        "email": "francois.rousseau@atelier-lumiere.example",
    }
    assert context["entretien"]["interlocuteur"] == {
        "civilite": "M.", "nom": "Rousseau", "prenom": "François", "fonction": "Chef d'atelier",
    }


def test_a_given_interlocuteur_replaces_the_manager(dataset):
    lead = Interviewer("Madame", "Lefèvre-Dubois", "Élodie", "Responsable RH")

    context = context_for(dataset, "E0003", interlocuteur=lead)

    assert context["entretien"]["interlocuteur"] == {
        "civilite": "Mme", "nom": "Lefèvre-Dubois", "prenom": "Élodie", "fonction": "Responsable RH",
    }
    assert context["manager"]["nom"] == "Rousseau"


def test_an_employee_without_manager_has_no_manager_key_and_needs_an_interlocuteur(dataset):
    with pytest.raises(InterviewError, match="interlocuteur"):
        context_for(dataset, "E0001")

    lead = Interviewer("M.", "Faure", "Raphaël", "Responsable logistique")
    context = context_for(dataset, "E0001", interlocuteur=lead)

    assert "manager" not in context
    assert context["entretien"]["interlocuteur"]["nom"] == "Faure"


def test_missing_optional_values_are_absent_not_none(dataset):
    # Hired 2 March 2026, no interview yet; the company has no logo, the letter no reference.
    context = context_for(dataset, "E0006", type="premier", lieu=None, lien_visio="https://visio.example/epp")

    assert "date_dernier_entretien" not in context["salarie"]
    assert context["salarie"]["entretiens_precedents"] == []
    assert "lieu" not in context["entretien"]
    assert context["entretien"]["lien_visio"] == "https://visio.example/epp"
    assert "logo" not in context["societe"]
    assert "reference" not in context["courrier"]
    assert "reprise" not in context["entretien"]

    def values(node):
        if isinstance(node, dict):
            for item in node.values():
                yield from values(item)
        elif isinstance(node, list):
            for item in node:
                yield from values(item)
        else:
            yield node

    assert None not in list(values(context))


def test_blocks_are_plain_dicts_and_lists(dataset):
    context = context_for(dataset, "E0010", type="etat_des_lieux")

    assert type(context["salarie"]) is dict
    assert type(context["salarie"]["formations"]) is list
    assert type(context["etat_des_lieux"]["periode"]) is dict


def test_trainings_and_absences_after_the_interview_are_not_history_yet(dataset):
    # Louis Vincent's Linux training ended on 7 October 2024.
    assert context_for(dataset, "E0019", on=dt.date(2024, 6, 1))["salarie"]["formations"] == []
    assert len(context_for(dataset, "E0019", on=dt.date(2024, 10, 7))["salarie"]["formations"]) == 1


def test_entretien_libelle_and_titre_follow_the_type(dataset):
    context = context_for(dataset, "E0009", type="premier", on=dt.date(2026, 9, 15))

    assert context["entretien"]["libelle"] == "premier entretien de parcours professionnel"
    assert context["entretien"]["titre"] == "Premier entretien de parcours professionnel"


def test_societe_and_courrier(dataset):
    company = Company("Atelier Lumière", "12 rue des Canuts", "69004", "Lyon", 120, logo=Path("/srv/logo.png"))
    letter = Letter(Signer("Élodie Lefèvre-Dubois", "Responsable RH"), date=dt.date(2027, 2, 15),
                    ville="Villeurbanne", reference="RH/2027/042")

    context = build_context(dataset, "E0003", interview(), company, letter)

    assert context["societe"] == {"nom": "Atelier Lumière", "adresse": "12 rue des Canuts", "code_postal": "69004",
                                  "ville": "Lyon", "effectif": 120, "moins_de_300": True, "logo": "/srv/logo.png"}
    assert context["courrier"] == {"date": dt.date(2027, 2, 15), "ville": "Villeurbanne",
                                   "signataire": {"nom": "Élodie Lefèvre-Dubois", "fonction": "Responsable RH"},
                                   "reference": "RH/2027/042"}


def test_the_letter_defaults_to_today_and_the_company_city(dataset):
    letter = Letter(Signer("Élodie Lefèvre-Dubois", "Responsable RH"))

    context = build_context(dataset, "E0003", interview(), COMPANY, letter)

    assert context["courrier"]["date"] == dt.date.today()
    assert context["courrier"]["ville"] == "Lyon"


def test_an_undated_letter_is_dated_today_where_the_employer_is_not_on_the_servers_clock(dataset):
    import json
    from zoneinfo import ZoneInfo

    from docgen.values import load_values

    # A zone whose date differs from UTC's at this hour: UTC+14 from 10:00 UTC, UTC-11 before.
    zone = "Pacific/Kiritimati" if dt.datetime.now(dt.timezone.utc).hour >= 10 else "Pacific/Pago_Pago"
    common = json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    common.pop("salaries")
    del common["courrier"]["date"]
    context = load_values(common, timezone=zone).context(dataset, "E0003")
    assert context["courrier"]["date"] == dt.datetime.now(ZoneInfo(zone)).date()
    assert context["courrier"]["date"] != dt.datetime.now(dt.timezone.utc).date()


# --- Age, mid-career, before 60 -----------------------------------------------------------------

def test_age_of_someone_born_on_29_february(dataset):
    # Liam O'Connor, born 29 February 1988: 39 only from 1 March in a non-leap year.
    assert context_for(dataset, "E0007", on=dt.date(2027, 2, 28))["salarie"]["age"] == 38
    assert context_for(dataset, "E0007", on=dt.date(2027, 3, 1))["salarie"]["age"] == 39
    assert age_on(dt.date(1988, 2, 29), dt.date(2028, 2, 29)) == 40


def test_mid_career_applies_in_the_year_of_the_45th_birthday_and_the_two_months_after(dataset):
    # Manon Bonnet, born 14 February 1982: 45 in 2027, even before her birthday. Visit date unknown:
    # taken in 2027 (L. 4624-2-2), the interview « dans un délai de deux mois » (L. 6315-1, IV): to 29/02/2028.
    early = context_for(dataset, "E0016", on=dt.date(2027, 1, 10))
    assert early["salarie"]["age"] == 44
    assert early["entretien"]["mi_carriere"] is True
    assert context_for(dataset, "E0016", on=dt.date(2027, 12, 20))["entretien"]["mi_carriere"] is True
    assert context_for(dataset, "E0016", on=dt.date(2028, 2, 29))["entretien"]["mi_carriere"] is True
    assert context_for(dataset, "E0016", on=dt.date(2026, 12, 20))["entretien"]["mi_carriere"] is False
    assert context_for(dataset, "E0016", on=dt.date(2028, 3, 1))["entretien"]["mi_carriere"] is False


@pytest.mark.parametrize(("matricule", "on", "expected"), [
    # Gabriel François, born 24 December 1968: the window runs from 24 December 2026 to 23 December 2028.
    ("E0017", dt.date(2026, 12, 23), False),
    ("E0017", dt.date(2026, 12, 24), True),
    ("E0017", dt.date(2028, 12, 23), True),
    ("E0017", dt.date(2028, 12, 24), False),
    # Ana Da Silva, born 1 January 1967, is 60 on 1 January 2027.
    ("E0004", dt.date(2026, 12, 31), True),
    ("E0004", dt.date(2027, 1, 1), False),
    # Inès Moreau, born 9 September 1966, is already 60 in March 2027.
    ("E0010", dt.date(2027, 3, 1), False),
])
def test_before_60_applies_in_the_two_years_before_the_60th_birthday(dataset, matricule, on, expected):
    assert context_for(dataset, matricule, on=on)["entretien"]["avant_60"] is expected


# --- Return from absence ---------------------------------------------------------------------------

def test_a_return_interview_names_the_absence(dataset):
    # Chloé Bénard's parental leave ran from 1 September 2025 to 1 December 2026.
    context = context_for(dataset, "E0008", type="reprise", on=dt.date(2026, 12, 3))

    assert context["entretien"]["reprise"] == {
        "motif": "conge_parental_education", "libelle": "congé parental d’éducation",
        "date_debut": dt.date(2025, 9, 1), "date_fin": dt.date(2026, 12, 1),
        "parental": True, "retour": "Retour de congé parental d’éducation",
    }
    assert context["entretien"]["libelle"] == "entretien de parcours professionnel à la reprise d’activité"
    assert context["salarie"]["absences"][0]["libelle"] == "congé parental d’éducation"


def test_the_return_interview_may_be_on_the_last_day_of_the_absence(dataset):
    context = context_for(dataset, "E0018", type="reprise", on=dt.date(2026, 10, 30))

    assert context["entretien"]["reprise"]["motif"] == "arret_longue_maladie"


def test_the_missing_absence_message_elides_de_before_a_vowel(dataset):
    # Arthur Lefebvre's sabbatical ends on 3 July 2026.
    with pytest.raises(InterviewError, match="aucune absence d’Arthur Lefebvre"):
        context_for(dataset, "E0021", type="reprise", on=dt.date(2026, 3, 1))


def test_a_return_interview_needs_an_absence_that_has_ended(dataset):
    with pytest.raises(InterviewError, match="aucune absence"):
        context_for(dataset, "E0008", type="reprise", on=dt.date(2026, 11, 15))
    with pytest.raises(InterviewError, match="aucune absence"):
        context_for(dataset, "E0002", type="reprise")


# --- État des lieux --------------------------------------------------------------------------------

def test_the_8_year_review_is_the_calendars_assessment_as_known_on_the_letters_date(dataset):
    # Jules Chevalier, hired 1995, history (samples/entretiens.csv) 16/02/2016, 06/02/2018, 27/01/2020
    # (état des lieux), 20/01/2022. Review on 01/03/2027, letter of 15/02/2027: provisional. Chain from the
    # 2014 law: 2016-03-07 (held 16/02/2016), 2018-02-16 (06/02/2018), 2020-02-06 (27/01/2020), 2022-01-27
    # (20/01/2022), then 2024-01-20 under the former two-year rule, expired before the reform: missed.
    # In the period (01/03/2019, 15/02/2027]: 2020, 2022, 2024 -> 2 réalisés pour 3 prévus; his only
    # training (CACES 2018) is mandatory and before the period -> owed.
    context = context_for(dataset, "E0025", type="etat_des_lieux")
    review = context["etat_des_lieux"]

    assert context["entretien"]["etat_des_lieux"] is True
    assert review["periode"] == {"debut": dt.date(2019, 3, 1), "fin": dt.date(2027, 3, 1)}
    assert review["provisoire"] is True and review["date_reference"] == dt.date(2027, 2, 15)
    assert [e["date"] for e in review["entretiens"]] == [dt.date(2020, 1, 27), dt.date(2022, 1, 20)]
    assert [(e["echeance"], e["realise"]) for e in review["echeances"]] == [
        (dt.date(2020, 2, 6), True), (dt.date(2022, 1, 27), True), (dt.date(2024, 1, 20), False)]
    assert (review["entretiens_prevus"], review["entretiens_realises"]) == (3, 2)
    assert review["formations_non_obligatoires"] == []
    assert review["certification"] is False and review["certification_detail"] == ""
    assert review["progression_renseignee"] is False and review["progression_detail"] == ""
    assert review["abondement"]["applicable"] is True
    assert review["abondement"]["montant"] == 3000


def test_the_abondement_is_due_when_interviews_were_missed_and_only_mandatory_training_was_followed(dataset):
    # Inès Moreau, review on 01/06/2029 (letter the same day): EPPs 16/02/2016 and 12/05/2020. Slots in
    # (01/06/2021, 01/06/2029): 16/02/2022 (realised by 12/05/2020, late for the 2020 slot), 12/05/2022
    # and 12/05/2024 (former rule, missed), 12/05/2028 (four years, missed), and the before-60 interview
    # due by 08/09/2026 (60 on 09/09/2026, Q-R n° 11), missed: 1 réalisé pour 5 prévus. SST 2019: mandatory.
    review = context_for(dataset, "E0010", type="etat_des_lieux", on=dt.date(2029, 6, 1),
                         letter=letter_on(dt.date(2029, 6, 1)))["etat_des_lieux"]

    assert review["entretiens"] == []
    assert [(e["type"], e["echeance"], e["realise"]) for e in review["echeances"]] == [
        ("periodique", dt.date(2022, 2, 16), True), ("periodique", dt.date(2022, 5, 12), False),
        ("periodique", dt.date(2024, 5, 12), False), ("avant_60", dt.date(2026, 9, 8), False),
        ("periodique", dt.date(2028, 5, 12), False)]
    assert (review["entretiens_prevus"], review["entretiens_realises"]) == (5, 1)
    assert review["provisoire"] is False
    assert review["abondement"]["applicable"] is True
    assert review["abondement"]["montant"] == 3000
    # R. 6323-3, IV: « le dernier jour du trimestre civil suivant la date de l'entretien ».
    assert review["abondement"]["versement_avant"] == dt.date(2029, 9, 30)
    assert "3\u202f000\u00a0€" in review["abondement"]["motif"]
    assert "Caisse des dépôts et consignations" in review["abondement"]["motif"]
    assert review["abondement"]["motif"].endswith(".")


def test_mandatory_training_alone_does_not_prevent_the_abondement(dataset):
    # Inès Moreau in March 2027: her mandatory SST (4 March 2019) is in the period; no EPP is given.
    review = context_for(dataset, "E0010", type="etat_des_lieux",
                         extra={"entretiens_precedents": []})["etat_des_lieux"]

    assert review["formations_non_obligatoires"] == []
    assert review["abondement"]["applicable"] is True


def test_a_non_mandatory_training_prevents_the_abondement_even_with_missed_interviews(dataset):
    # Hugo Laurent in February 2029: a non-mandatory training in March 2022 (in the period). The two
    # conditions are cumulative (Cass. soc. 21/01/2026).
    review = context_for(dataset, "E0011", type="etat_des_lieux", on=dt.date(2029, 2, 1),
                         letter=letter_on(dt.date(2029, 2, 1)))["etat_des_lieux"]

    assert review["entretiens_realises"] < review["entretiens_prevus"]
    assert [f["intitule"] for f in review["formations_non_obligatoires"]] == ["Négociation commerciale"]
    assert review["abondement"]["applicable"] is False
    assert "cumulatives" in review["abondement"]["motif"]


def test_the_abondement_applies_only_from_50_employees(dataset):
    review = context_for(dataset, "E0010", type="etat_des_lieux", on=dt.date(2029, 6, 1),
                         letter=letter_on(dt.date(2029, 6, 1)), company=SMALL_COMPANY)["etat_des_lieux"]

    assert review["abondement"]["applicable"] is False
    assert "moins de cinquante salariés" in review["abondement"]["motif"]
    assert "L. 130-1 du code de la sécurité sociale" in review["abondement"]["motif"]


def test_a_certifying_training_in_the_period_is_a_certification(dataset):
    review = context_for(dataset, "E0003", type="etat_des_lieux")["etat_des_lieux"]

    # Hired 1 April 2019: the period cannot start before.
    assert review["periode"]["debut"] == dt.date(2019, 4, 1)
    assert review["certification"] is True
    assert review["certification_detail"] == "CQPM Technicien de maintenance industrielle (28 juin 2024)"


def test_what_people_say_is_given_and_the_counts_never_are(dataset):
    extra = {"etat_des_lieux": {"progression": True, "progression_detail": "Passage agent de maîtrise en 2024",
                                "vae": True}}

    review = context_for(dataset, "E0025", type="etat_des_lieux", extra=extra)["etat_des_lieux"]

    assert review["progression"] is True
    assert review["progression_detail"] == "Passage agent de maîtrise en 2024"
    assert review["certification"] is True  # by VAE (L. 6315-1, II, 2°)
    assert review["entretiens_prevus"] == 3
    with pytest.raises(InterviewError, match="calendrier légal"):
        context_for(dataset, "E0025", type="etat_des_lieux", extra={"etat_des_lieux": {"entretiens_prevus": 2}})


def test_refused_interviews_are_listed_as_refused(dataset):
    # Gabriel François refused the interview of 06/02/2018: it counts as offered, and the review says it was refused.
    review = context_for(dataset, "E0017", type="etat_des_lieux", on=dt.date(2024, 1, 5),
                         letter=letter_on(dt.date(2024, 1, 5)))["etat_des_lieux"]

    assert [(e["date"], e["statut"]) for e in review["entretiens_refuses"]] == [(dt.date(2018, 2, 6), "refused")]
    assert "refusé" in review["abondement"]["motif"]


def test_no_review_block_for_other_interviews_unless_given(dataset):
    assert "etat_des_lieux" not in context_for(dataset, "E0025")
    assert "etat_des_lieux" in context_for(dataset, "E0025", extra={"etat_des_lieux": {}})


# --- Compte rendu ------------------------------------------------------------------------------------

def test_the_report_block_defaults_to_an_empty_draft(dataset):
    assert context_for(dataset, "E0003")["compte_rendu"] == {
        "competences": "", "parcours": "", "besoins_formation": "", "souhaits": "", "cpf_cep": "",
        "commentaires_salarie": "", "actions": [], "bilan_mi_carriere": "", "fin_de_carriere": "",
        "competences_mandat": "", "reprise_consequences": "",
        "information_vae": False, "information_cpf": False, "information_cep": False,
    }


def test_given_report_values_come_from_interview_extra_or_build_context_extra(dataset):
    action = {"action": "Formation GMAO", "type": "formation", "echeance": dt.date(2027, 9, 30), "porteur": "RH"}
    on_interview = interview(extra={"compte_rendu": {"souhaits": "Évoluer vers les méthodes",
                                                     "actions": [action]}})

    context = build_context(dataset, "E0003", on_interview, COMPANY, LETTER,
                            extra={"compte_rendu": {"information_vae": True}})
    report = context["compte_rendu"]

    # build_context's extra replaces the interview's block of the same name.
    assert report["information_vae"] is True
    assert report["souhaits"] == ""
    context = build_context(dataset, "E0003", on_interview, COMPANY, LETTER)
    assert context["compte_rendu"]["souhaits"] == "Évoluer vers les méthodes"
    assert context["compte_rendu"]["actions"] == [action]


def test_an_unknown_report_field_is_an_error(dataset):
    with pytest.raises(InterviewError, match="souhait"):
        context_for(dataset, "E0003", extra={"compte_rendu": {"souhait": "typo"}})


def test_unknown_extra_blocks_are_errors(dataset):
    with pytest.raises(InterviewError, match="bilan"):
        context_for(dataset, "E0003", extra={"bilan": {}})


# --- Validation ----------------------------------------------------------------------------------------

def test_an_unknown_matricule(dataset):
    with pytest.raises(UnknownEmployeeError, match="E0999"):
        context_for(dataset, "E0999")


def test_an_interview_before_the_hire_date_is_an_error(dataset):
    with pytest.raises(InterviewError, match="précède l'entrée"):
        context_for(dataset, "E0006", on=dt.date(2026, 1, 5))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"type": "annuel"}, "type « annuel » inconnu"),
    ({"lieu": None}, "lieu ou un lien"),
    ({"lieu": "   "}, "lieu ou un lien"),
    ({"lien_visio": "visio.example/epp"}, "lien de visioconférence invalide"),
    ({"duree": 0}, "durée"),
    ({"duree": "60"}, "durée"),
    ({"date": dt.datetime(2027, 3, 1, 14, 30)}, "date"),
    ({"heure": "14:30"}, "heure"),
    ({"extra": {"cr": {}}}, "cr"),
])
def test_interview_details_are_checked(kwargs, message):
    values = {"type": "periodique", "date": dt.date(2027, 3, 1), "heure": dt.time(14, 30), "lieu": "Salle A"}
    values.update(kwargs)

    with pytest.raises(InterviewError, match=message):
        Interview(**values)


def test_an_interview_may_be_held_by_video_only():
    meeting = Interview("periodique", dt.date(2027, 3, 1), dt.time(9), lien_visio="https://visio.example/abc")

    assert meeting.lieu is None and meeting.duree == 60


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Company("", "1 rue", "69001", "Lyon", 10), "nom"),
    (lambda: Company("A", "1 rue", "69001", "Lyon", -1), "effectif"),
    (lambda: Company("A", "1 rue", "69001", "Lyon", "120"), "effectif"),
    (lambda: Signer("Élodie Lefèvre-Dubois", ""), "fonction"),
    (lambda: Interviewer("Mlle", "Roux", "Sarah", "RH"), "civilité"),
    (lambda: Letter(Signer("A", "B"), date=dt.datetime(2027, 1, 1, 10)), "date"),
])
def test_company_letter_and_people_are_checked(make, message):
    with pytest.raises(InterviewError, match=message):
        make()


def test_the_sample_interview_is_valid_and_shows_the_first_of_the_month(dataset):
    sample = sample_interview()

    assert sample.date.day == 1
    assert build_context(dataset, "E0003", sample, COMPANY, LETTER)["entretien"]["type"] == "periodique"
    assert sample_interview("reprise", dt.date(2026, 12, 3)).type == "reprise"


def test_the_abondement_reason_is_a_french_sentence_with_plurals(dataset):
    due = context_for(dataset, "E0010", type="etat_des_lieux", on=dt.date(2029, 6, 1),
                      letter=letter_on(dt.date(2029, 6, 1)))["etat_des_lieux"]
    held = context_for(dataset, "E0014", type="etat_des_lieux", on=dt.date(2023, 11, 16),
                       letter=letter_on(dt.date(2023, 11, 16)))["etat_des_lieux"]

    assert ": 1 réalisé pour 5 prévus," in due["abondement"]["motif"]
    # Léa Dupont, hired 16/11/2015: 27/10/2017, 17/10/2019, 07/10/2021 held in time.
    assert held["abondement"]["motif"] == (
        "Les entretiens prévus des six dernières années ont eu lieu (3 réalisés pour 3 prévus) : l’abondement "
        "correctif ne s’applique pas."
    )
