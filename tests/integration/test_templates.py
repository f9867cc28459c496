"""Every shipped template, for every sample employee, through the real LibreOffice: the PDF text."""

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from docgen.batch import BatchGenerator, BatchItem
from docgen.dataset import load_dataset_dir
from docgen.render import DocxRenderer
from docgen.values import CampaignValues, load_values
from parcours import resources

pytestmark = pytest.mark.libreoffice

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ("convocation", "trame", "compte_rendu", "etat_des_lieux")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset_dir(resources.SAMPLES).dataset


@pytest.fixture(scope="module")
def campaign() -> CampaignValues:
    return load_values(resources.SAMPLES / "campagne.json")


def values_for(template: str, campaign: CampaignValues) -> CampaignValues:
    if template != "etat_des_lieux":
        return campaign
    common = {**campaign.common, "entretien": {**campaign.common["entretien"], "type": "etat_des_lieux"}}
    return CampaignValues(common, {"E0001": campaign.per_employee["E0001"]})


@pytest.fixture(scope="module")
def documents(pool, dataset, campaign):
    """{template: {matricule: (context, text of each page)}} for the 25 sample employees."""
    made = {}
    for template in TEMPLATES:
        values = values_for(template, campaign)
        renderer = DocxRenderer((resources.DOCUMENTS / f"{template}.docx").read_bytes(), f"{template}.docx")
        items = [BatchItem(m, values.context(dataset, m)) for m in sorted(dataset.employees)]
        contexts = {item.key: item.context for item in items}
        made[template] = {}
        for result in BatchGenerator(renderer, pool).run(items):
            assert result.ok, result.error
            pages = [page.extract_text() for page in PdfReader(io.BytesIO(result.pdf)).pages]
            made[template][result.key] = (contexts[result.key], pages)
    return made


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_sample_employee_gets_a_clean_document(documents, template):
    assert len(documents[template]) == 25
    for matricule, (context, pages) in documents[template].items():
        text = flat(" ".join(pages))
        employee = context["salarie"]
        assert f"{employee['prenom']} {employee['nom']}" in text, matricule
        assert "Atelier Lumière" in text
        for leftover in ("{{", "}}", "{%", "%}", "None"):
            assert leftover not in text, f"{template} {matricule}: {leftover!r} left in the text"
        for number, page in enumerate(pages, start=1):
            assert f"Page {number} sur {len(pages)}" in flat(page), f"{template} {matricule} page {number}"
            assert "Document confidentiel" in page


def test_convocations_give_the_interview_in_french(documents):
    for matricule, (context, pages) in documents["convocation"].items():
        text = flat(" ".join(pages))
        assert "mardi 12 janvier 2027" in text
        assert "Lyon, le 14 décembre 2026" in text
        assert "ne porte pas sur l’évaluation de votre travail" in text
        assert "prévu par l’article L. 6315-1 du code du travail" in text.replace("\u00a0", " ")
        assert "L6315-1" not in text and "Code du travail" not in text
        # Under 300 employees (120 here): the conseil en évolution professionnelle may help prepare (I).
        assert "conseil en évolution professionnelle (CEP), service gratuit" in text
        hour = {"E0021": "10 h", "E0024": "9 h"}.get(matricule, "14 h 30")
        assert re.search(rf"Heure : {hour}\b", text), (matricule, hour)
        civilite = "Madame" if context["salarie"]["civilite"] == "Mme" else "Monsieur"
        assert f"{civilite}," in text


def test_return_from_absence_letters_name_the_absence(documents):
    text = flat(" ".join(documents["convocation"]["E0014"][1]))
    assert "reprise d’activité" in text
    assert "congé de maternité, du 4 mai 2026 au 24 août 2026" in text
    assert "https://visio.atelier-lumiere.example/epp-e0014" in text
    periodic = flat(" ".join(documents["convocation"]["E0003"][1]))
    assert "congé" not in periodic


def test_the_trame_lists_trainings_and_the_five_topics(documents):
    text = flat(" ".join(documents["trame"]["E0003"][1]))
    assert "CQPM Technicien de maintenance industrielle" in text
    assert "Habilitation électrique B1V" in text
    empty = flat(" ".join(documents["trame"]["E0001"][1]))
    assert "Aucune formation enregistrée" in empty
    for topic in ("compétences", "formation", "compte personnel de formation"):
        assert topic in text


def test_the_compte_rendu_carries_the_signature_anchors(documents):
    for matricule, (_, pages) in documents["compte_rendu"].items():
        text = " ".join(pages)
        for anchor in ("[[SIG_MANAGER]]", "[[SIG_SALARIE]]", "[[CHAMP_COMMENTAIRES]]"):
            assert text.count(anchor) == 1, (matricule, anchor)


def test_the_etat_des_lieux_states_the_abondement(documents):
    def spaces(text: str) -> str:
        return flat(text.replace("\u00a0", " ").replace("\u202f", " "))

    for matricule, (context, pages) in documents["etat_des_lieux"].items():
        text = spaces(" ".join(pages))
        assert "abondement correctif" in text
        assert spaces(context["etat_des_lieux"]["abondement"]["motif"]) in text, matricule
