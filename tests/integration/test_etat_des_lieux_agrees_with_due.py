"""One source of truth: for every sample employee, the état des lieux document (real LibreOffice, text read
back with pdftotext) says what `parcours due --json` says, count for count and on the abondement."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docgen.batch import BatchGenerator, BatchItem
from docgen.dataset import load_dataset_dir
from docgen.formatting import date as french_date
from docgen.render import DocxRenderer
from docgen.values import CampaignValues, load_values, parse_date
from parcours import resources

pytestmark = pytest.mark.libreoffice

ROOT = Path(__file__).resolve().parents[2]
ON = "2026-11-26"


@pytest.fixture(scope="module")
def due_json() -> dict:
    """The real command, as HR runs it (every review up to 2045, whatever its date)."""
    command = shutil.which("parcours", path=str(Path(sys.executable).parent)) or shutil.which("parcours")
    if command is None:
        pytest.skip("the parcours command is not installed (pip install -e .)")
    done = subprocess.run([command, "due", "--before", "2045-12-31", "--le", ON,
                           "--effectif", "120", "--data", str(resources.SAMPLES), "--format", "json"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def reviews(due_json) -> list[dict]:
    return [item for item in due_json["entretiens"] if item["type"] == "etat_des_lieux"]


def flat(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.fixture(scope="module")
def documents(pool, reviews, tmp_path_factory) -> dict[tuple[str, str], str]:
    """{(matricule, review date): the PDF's text} for every review `due` lists."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    dataset = load_dataset_dir(resources.SAMPLES).dataset
    campaign = load_values(resources.SAMPLES / "campagne.json")
    renderer = DocxRenderer((resources.DOCUMENTS / "etat_des_lieux.docx").read_bytes(), "etat_des_lieux.docx")
    items = []
    for review in reviews:
        matricule, day = review["matricule"], review["abondement"]["periode"]["fin"]
        common = {**campaign.common, "entretien": {**campaign.common["entretien"], "type": "etat_des_lieux",
                                                   "date": day},
                  "courrier": {**campaign.common["courrier"], "date": ON}}
        per_employee = {m: {k: v for k, v in values.items() if k != "entretien"} | (
            {"entretien": {"interlocuteur": values["entretien"]["interlocuteur"]}}
            if "interlocuteur" in values.get("entretien", {}) else {})
            for m, values in campaign.per_employee.items()}
        values = CampaignValues(common, per_employee)
        items.append(BatchItem(f"{matricule}_{day}", values.context(dataset, matricule)))
    folder = tmp_path_factory.mktemp("etat_des_lieux")
    texts = {}
    for result in BatchGenerator(renderer, pool).run(items):
        assert result.ok, result.error
        pdf = folder / f"{result.key}.pdf"
        pdf.write_bytes(result.pdf)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        matricule, day = result.key.split("_")
        texts[(matricule, day)] = flat(text)
    return texts


def test_every_sample_employee_has_a_review_in_the_due_list(reviews):
    employees = load_dataset_dir(resources.SAMPLES).dataset.employees
    assert {item["matricule"] for item in reviews} == set(employees)


def test_the_document_agrees_with_the_due_list_on_every_count_and_on_the_abondement(reviews, documents):
    assert len(documents) == len(reviews)
    owed = 0
    for review in reviews:
        info = review["abondement"]
        text = documents[(review["matricule"], info["periode"]["fin"])]
        where = f"{review['matricule']} {info['periode']['fin']}"
        found = re.search(r"Entretiens prévus sur la période : (\d+)\. Entretiens réalisés : (\d+)\.", text)
        assert found, where
        assert (int(found[1]), int(found[2])) == (info["entretiens_prevus"], info["entretiens_realises"]), where
        debut, fin = (french_date(parse_date(info["periode"][k], k)) for k in ("debut", "fin"))
        assert f"du {debut} au {fin}" in text, where
        # One line per planned interview: « Oui, le … » when held, « Non » when missed.
        realised = [e for e in info["echeances"] if e["realise"]]
        for slot in realised:
            assert f"Oui, le {french_date(parse_date(slot['date'], 'date'))}" in text, (where, slot)
        if info["applicable"]:
            owed += 1
            assert "Conclusion : un abondement correctif de 3 000 € est dû." in text, where
            paid_by = french_date(parse_date(info["versement_avant"], "versement_avant"))
            assert f"Caisse des dépôts et consignations au plus tard le {paid_by}" in text, where
        else:
            assert "Conclusion : aucun abondement correctif n’est dû." in text, where
        assert flat(info["motif"]) in text, where
        assert "L. 130-1 du code de la sécurité sociale" in text, where
        assert "L6315-1" not in text and "Code du travail" not in text, where
    # The samples show both verdicts.
    assert 0 < owed < len(reviews)
