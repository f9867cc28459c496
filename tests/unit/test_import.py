"""Importing employees, absences and trainings from CSV, XLSX and JSON, with row-level errors."""

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from docgen.dataset import (
    ABSENCE_LABELS,
    DataImportError,
    Dataset,
    ImportResult,
    RowError,
    UnknownEmployeeError,
    load_dataset,
    load_dataset_dir,
)
from parcours import resources

# The repository's copy of the shared sample data, or the shared folder itself.
SAMPLE_DATA = resources.SAMPLES if (resources.SAMPLES / "employees.csv").exists() else Path("/work/shared/data")

EMPLOYEE_HEADER = ("matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,"
                   "manager_matricule,date_dernier_entretien")
BOSS = "E1,M.,Martin,Julien,julien.martin@example.fr,1975-03-14,2012-09-03,Directeur,Direction,Lyon,,2023-02-10"
CHLOE = "E2,Mme,Bénard,Chloé,chloe.benard@example.fr,1981-12-01,2014-09-01,Paie,RH,Lyon,E1,"


def write(tmp_path: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def employees_file(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path, "employees.csv", [EMPLOYEE_HEADER, *rows])


def import_errors(*args, **kwargs) -> list[RowError]:
    with pytest.raises(DataImportError) as caught:
        load_dataset(*args, **kwargs)
    return list(caught.value.errors)


def only_error(*args, **kwargs) -> RowError:
    errors = import_errors(*args, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


# --- The sample data and the accepted formats ----------------------------------------------------

def test_the_sample_folder_loads_without_errors():
    result = load_dataset_dir(SAMPLE_DATA)

    assert isinstance(result, ImportResult)
    assert result.ok and result.errors == ()
    assert len(result.dataset.employees) == 25
    assert sum(len(items) for items in result.dataset.absences.values()) == 5
    assert sum(len(items) for items in result.dataset.trainings.values()) == 9
    moussa = result.dataset.employee("E0003")
    assert (moussa.nom, moussa.civilite, moussa.manager_matricule) == ("N'Diaye", "M.", "E0005")
    assert moussa.date_naissance == dt.date(1990, 11, 2)
    assert result.dataset.employee("E0001").manager_matricule is None
    assert result.dataset.employee("E0006").date_dernier_entretien is None
    assert [t.intitule for t in result.dataset.trainings_of("E0003")] == [
        "Habilitation électrique B1V", "CQPM Technicien de maintenance industrielle",
    ]
    assert result.dataset.trainings_of("E0003")[1].certifiante is True
    assert result.dataset.absences_of("E0014")[0].libelle == "congé de maternité"


def test_an_unknown_matricule_is_a_clear_error():
    dataset = load_dataset_dir(SAMPLE_DATA).dataset
    with pytest.raises(UnknownEmployeeError, match="« E9999 »"):
        dataset.employee("E9999")


def test_semicolon_csv_in_windows_1252_as_french_excel_writes_it(tmp_path):
    path = write(tmp_path, "salariés.csv", [
        EMPLOYEE_HEADER.replace(",", ";"),
        "E7;Mme;Lefèvre-Dubois;Élodie;elodie@example.fr;22/07/1984;11/01/2016;Responsable RH;"
        "Ressources humaines;Besançon;;15/06/2022",
    ], encoding="cp1252")
    assert "É".encode("cp1252") in path.read_bytes()  # really not UTF-8

    elodie = load_dataset(path).dataset.employee("E7")

    assert elodie.prenom == "Élodie"
    assert elodie.nom == "Lefèvre-Dubois"
    assert elodie.site == "Besançon"
    assert elodie.date_naissance == dt.date(1984, 7, 22)
    assert elodie.date_dernier_entretien == dt.date(2022, 6, 15)


def test_utf8_csv_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "employees.csv"
    path.write_text(EMPLOYEE_HEADER + "\n" + CHLOE.replace(",E1,", ",,") + "\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    chloe = load_dataset(path).dataset.employee("E2")

    assert chloe.prenom == "Chloé"


def test_column_names_ignore_case_and_surrounding_spaces(tmp_path):
    header = ",".join(f"  {name.upper()} " for name in EMPLOYEE_HEADER.split(","))
    path = write(tmp_path, "employees.csv", [header, BOSS])

    assert load_dataset(path).dataset.employee("E1").nom == "Martin"


def test_extra_columns_and_blank_lines_are_ignored(tmp_path):
    path = write(tmp_path, "employees.csv", [EMPLOYEE_HEADER + ",remarque", BOSS + ",RAS", "", ",,,,,,,,,,,,"])

    assert list(load_dataset(path).dataset.employees) == ["E1"]


@pytest.mark.parametrize(("written", "expected"), [
    ("M.", "M."), ("M", "M."), ("monsieur", "M."), (" Monsieur ", "M."),
    ("Mme", "Mme"), ("MADAME", "Mme"), ("mme", "Mme"),
])
def test_civilite_variants_are_normalized(tmp_path, written, expected):
    path = employees_file(tmp_path, BOSS.replace(",M.,", f",{written},"))

    assert load_dataset(path).dataset.employee("E1").civilite == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("oui", True), ("NON", False), ("True", True), ("false", False), ("1", True), ("0", False),
    ("yes", True), ("No", False), ("VRAI", True), ("faux", False),
])
def test_booleans_accept_french_and_english_words_and_digits(tmp_path, written, expected):
    employees = employees_file(tmp_path, BOSS)
    formations = write(tmp_path, "formations.csv", [
        "matricule,intitule,date_fin,certifiante,obligatoire", f"E1,SST,2024-01-10,{written},non",
    ])

    training = load_dataset(employees, formations=formations).dataset.trainings_of("E1")[0]

    assert training.certifiante is expected


def test_xlsx_first_sheet_with_date_cells_and_text_dates(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(EMPLOYEE_HEADER.split(","))
    sheet.append(["E1", "M.", "Martin", "Julien", "j.martin@example.fr", dt.datetime(1975, 3, 14),
                  dt.date(2012, 9, 3), "Directeur", "Direction", "Lyon", None, "10/02/2023"])
    sheet.append([1234, "Mme", "Roux", "Sarah", "s.roux@example.fr", "1992-05-19", "15/07/2019",
                  "Contrôleuse", "Finance", "Lyon", "E1", None])
    workbook.create_sheet("Autre").append(["ignorée"])
    path = tmp_path / "employees.xlsx"
    workbook.save(path)

    dataset = load_dataset(path).dataset

    julien = dataset.employee("E1")
    assert julien.date_naissance == dt.date(1975, 3, 14)
    assert julien.date_entree == dt.date(2012, 9, 3)
    assert julien.date_dernier_entretien == dt.date(2023, 2, 10)
    sarah = dataset.employee("1234")  # a number typed in Excel is still a matricule
    assert sarah.date_entree == dt.date(2019, 7, 15)
    assert sarah.manager_matricule == "E1"


def test_xlsx_errors_name_the_excel_row(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(EMPLOYEE_HEADER.split(","))
    sheet.append(BOSS.split(","))
    sheet.append(CHLOE.replace("chloe.benard@example.fr", "chloe").split(","))
    path = tmp_path / "employees.xlsx"
    workbook.save(path)

    error = only_error(path)

    assert (error.file, error.row, error.column, error.value) == ("employees.xlsx", 3, "email", "chloe")


def test_json_list_of_objects(tmp_path):
    employees = [dict(zip(EMPLOYEE_HEADER.split(","), BOSS.split(",")))]
    absences = [{"matricule": "E1", "motif": "conge_sabbatique", "date_debut": "2026-01-05",
                 "date_fin": "03/07/2026"}]
    (tmp_path / "employees.json").write_text(json.dumps(employees), encoding="utf-8")
    (tmp_path / "absences.json").write_text(json.dumps(absences), encoding="utf-8")

    dataset = load_dataset(tmp_path / "employees.json", tmp_path / "absences.json").dataset

    assert dataset.employee("E1").prenom == "Julien"
    assert dataset.absences_of("E1")[0].date_fin == dt.date(2026, 7, 3)


def test_json_object_with_all_three_lists(tmp_path):
    document = {
        "employees": [{"Matricule": "E1", "civilite": "Monsieur", "nom": "Martin", "prenom": "Julien",
                       "email": "j.martin@example.fr", "date_naissance": "1975-03-14",
                       "date_entree": "2012-09-03", "poste": "Directeur", "service": "Direction",
                       "site": "Lyon", "manager_matricule": None}],
        "absences": [],
        "formations": [{"matricule": "E1", "intitule": "SST", "date_fin": "2024-01-10",
                        "certifiante": False, "obligatoire": True}],
    }
    path = tmp_path / "donnees.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    dataset = load_dataset(path).dataset

    assert dataset.employee("E1").civilite == "M."
    assert dataset.absences_of("E1") == ()
    assert dataset.trainings_of("E1")[0].obligatoire is True


def test_bytes_are_recognized_by_their_content_or_by_the_given_name(tmp_path):
    csv_bytes = (EMPLOYEE_HEADER + "\n" + BOSS + "\n").encode()
    json_bytes = json.dumps([dict(zip(EMPLOYEE_HEADER.split(","), BOSS.split(",")))]).encode()
    workbook = openpyxl.Workbook()
    workbook.active.append(EMPLOYEE_HEADER.split(","))
    workbook.active.append(BOSS.split(","))
    workbook.save(tmp_path / "upload.xlsx")
    xlsx_bytes = (tmp_path / "upload.xlsx").read_bytes()

    for data in (csv_bytes, json_bytes, xlsx_bytes):
        assert load_dataset(data).dataset.employee("E1").nom == "Martin"
    named = load_dataset(csv_bytes, names={"employees": "export RH.csv"})
    assert named.dataset.employee("E1").nom == "Martin"


def test_a_folder_with_xlsx_and_json_files(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(EMPLOYEE_HEADER.split(","))
    workbook.active.append(BOSS.split(","))
    workbook.save(tmp_path / "Employees.xlsx")
    (tmp_path / "formations.json").write_text(json.dumps([
        {"matricule": "E1", "intitule": "SST", "date_fin": "2024-01-10", "certifiante": "non",
         "obligatoire": "oui"},
    ]), encoding="utf-8")

    dataset = load_dataset_dir(tmp_path).dataset

    assert dataset.trainings_of("E1")[0].intitule == "SST"


# --- Row errors --------------------------------------------------------------------------------

@pytest.mark.parametrize(("row", "column", "value", "reason"), [
    (CHLOE.replace(",Chloé,", ",,"), "prenom", None, "obligatoire"),
    (CHLOE.replace("1981-12-01", "1981-13-01"), "date_naissance", "1981-13-01", "n'existe pas"),
    (CHLOE.replace("1981-12-01", "31/02/1981"), "date_naissance", "31/02/1981", "n'existe pas"),
    (CHLOE.replace("1981-12-01", "1er décembre 1981"), "date_naissance", "1er décembre 1981", "format"),
    (CHLOE.replace("1981-12-01", "12-01-1981"), "date_naissance", "12-01-1981", "format"),
    (CHLOE.replace(",Mme,", ",Mlle,"), "civilite", "Mlle", "civilité"),
    (CHLOE.replace(",Mme,", ",Dr,"), "civilite", "Dr", "civilité"),
    (CHLOE.replace("chloe.benard@example.fr", "chloe.benard@example"), "email", "chloe.benard@example", "e-mail"),
    (CHLOE.replace("chloe.benard@example.fr", "chloe benard@example.fr"), "email", "chloe benard@example.fr",
     "e-mail"),
    (CHLOE.replace("2014-09-01", "1980-01-01"), "date_entree", "1980-01-01", "précède la date de naissance"),
    (CHLOE.replace(",E1,", ",E404,"), "manager_matricule", "E404", "responsable inconnu"),
    (CHLOE.replace(",E1,", ",E2,"), "manager_matricule", "E2", "son propre responsable"),
    (CHLOE.replace("E2,", "E1,", 1).replace(",E1,", ",,"), "matricule", "E1", "déjà utilisé ligne 2"),
    (CHLOE + "2022-13-45", "date_dernier_entretien", "2022-13-45", "n'existe pas"),
])
def test_each_bad_employee_value_is_reported_with_its_line_and_column(tmp_path, row, column, value, reason):
    path = employees_file(tmp_path, BOSS, row)

    error = only_error(path)

    assert (error.file, error.row, error.column, error.value) == ("employees.csv", 3, column, value)
    assert reason in error.reason


def test_every_error_of_a_row_is_reported(tmp_path):
    row = CHLOE.replace(",Mme,", ",Mlle,").replace("chloe.benard@example.fr", "chloe").replace(",Chloé,", ",,")
    path = employees_file(tmp_path, BOSS, row)

    errors = import_errors(path)

    assert sorted(e.column for e in errors) == ["civilite", "email", "prenom"]
    assert {e.row for e in errors} == {3}


@pytest.mark.parametrize(("row", "column", "value", "reason"), [
    ("E1,conge_maternite,2026-05-04,2026-03-01", "date_fin", "2026-03-01", "précède la date de début"),
    ("E1,vacances,2026-05-04,2026-08-24", "motif", "vacances", "motif inconnu"),
    ("E9,conge_maternite,2026-05-04,2026-08-24", "matricule", "E9", "inconnu"),
    ("E1,conge_maternite,,2026-08-24", "date_debut", None, "obligatoire"),
])
def test_each_bad_absence_is_reported_with_its_line_and_column(tmp_path, row, column, value, reason):
    employees = employees_file(tmp_path, BOSS)
    absences = write(tmp_path, "absences.csv", [
        "matricule,motif,date_debut,date_fin", "E1,conge_sabbatique,2026-01-05,2026-07-03", row,
    ])

    error = only_error(employees, absences)

    assert (error.file, error.row, error.column, error.value) == ("absences.csv", 3, column, value)
    assert reason in error.reason


@pytest.mark.parametrize(("row", "column", "value", "reason"), [
    ("E9,SST,2024-01-10,non,oui", "matricule", "E9", "inconnu"),
    ("E1,SST,2024-01-10,peut-être,oui", "certifiante", "peut-être", "oui ou non"),
    ("E1,SST,10.01.2024,non,oui", "date_fin", "10.01.2024", "format"),
    ("E1,,2024-01-10,non,oui", "intitule", None, "obligatoire"),
])
def test_each_bad_training_is_reported_with_its_line_and_column(tmp_path, row, column, value, reason):
    employees = employees_file(tmp_path, BOSS)
    formations = write(tmp_path, "formations.csv", ["matricule,intitule,date_fin,certifiante,obligatoire", row])

    error = only_error(employees, formations=formations)

    assert (error.file, error.row, error.column, error.value) == ("formations.csv", 2, column, value)
    assert reason in error.reason


def test_every_motif_has_a_french_label():
    assert ABSENCE_LABELS["conge_maternite"] == "congé de maternité"
    # L. 6315-1, I: « à l'issue des congés de maternité et d'adoption ou, le cas échéant, à l'issue d'un congé
    # supplémentaire de naissance, d'un congé parental d'éducation, d'un congé de proche aidant, d'un congé
    # sabbatique, d'une période de mobilité volontaire sécurisée […], d'une période d'activité à temps partiel
    # au sens de l'article L. 1225-47 […], d'un arrêt longue maladie […] ou à l'issue d'un mandat syndical ».
    assert set(ABSENCE_LABELS) == {
        "conge_maternite", "conge_supplementaire_naissance", "conge_parental_education", "temps_partiel_parental",
        "conge_proche_aidant", "conge_adoption", "conge_sabbatique", "mobilite_volontaire_securisee",
        "arret_longue_maladie", "fin_mandat_syndical",
    }


def test_a_line_break_inside_a_quoted_cell_keeps_excel_line_numbers(tmp_path):
    path = employees_file(tmp_path, BOSS.replace(",Directeur,", ',"Directeur\ngénéral",'), CHLOE + "demain")

    error = only_error(path)

    assert (error.row, error.column) == (3, "date_dernier_entretien")


def test_a_missing_required_column_is_one_error_naming_it(tmp_path):
    header = EMPLOYEE_HEADER.replace("email,", "")
    rows = [",".join(p for p in line.split(",") if "@" not in p) for line in (BOSS, CHLOE)]
    path = write(tmp_path, "employees.csv", [header, *rows])

    error = only_error(path)

    assert (error.row, error.column) == (1, "email")
    assert "colonne obligatoire absente" in error.reason


def test_optional_columns_may_be_left_out(tmp_path):
    header = ",".join(EMPLOYEE_HEADER.split(",")[:10])
    path = write(tmp_path, "employees.csv", [header, ",".join(BOSS.split(",")[:10])])

    boss = load_dataset(path).dataset.employee("E1")

    assert boss.manager_matricule is None and boss.date_dernier_entretien is None


def test_a_json_object_missing_a_key_is_a_row_error(tmp_path):
    complete = dict(zip(EMPLOYEE_HEADER.split(","), BOSS.split(",")))
    partial = {**dict(zip(EMPLOYEE_HEADER.split(","), CHLOE.split(","))), "manager_matricule": "E1"}
    del partial["poste"]
    path = tmp_path / "employees.json"
    path.write_text(json.dumps([complete, partial]), encoding="utf-8")

    error = only_error(path)

    assert (error.row, error.column) == (2, "poste")
    assert "élément 2" in str(error)


# --- File errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b";;;\n"])
def test_an_empty_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "employees.csv"
    path.write_bytes(content)

    error = only_error(path)

    assert error.row is None and "vide" in error.reason


def test_a_header_without_employees_is_an_error(tmp_path):
    error = only_error(employees_file(tmp_path))

    assert "aucun salarié" in error.reason


def test_a_header_without_absences_is_fine(tmp_path):
    absences = write(tmp_path, "absences.csv", ["matricule,motif,date_debut,date_fin"])

    assert load_dataset(employees_file(tmp_path, BOSS), absences).dataset.absences_of("E1") == ()


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("employees.pdf", b"%PDF-1.7 ...", "non pris en charge"),
    ("employees.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    ("employees.xlsx", b"matricule,nom\nE1,Martin\n", "classeur Excel"),
    ("employees.csv", b"PK\x03\x04\x00\x00\x00binary", "binaire"),
])
def test_a_file_that_is_not_csv_xlsx_or_json_is_a_clear_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)

    error = only_error(path)

    assert error.file == name and reason in error.reason


@pytest.mark.parametrize(("content", "reason"), [
    ('[{"matricule": "E1",}]', "JSON invalide (ligne 1"),
    ('"employees"', "liste d'objets"),
    ('{"salaries": []}', "clé(s) inconnue(s) : salaries"),
    ('{"employees": {"matricule": "E1"}}', "liste d'objets"),
])
def test_bad_json_is_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "employees.json"
    path.write_text(content, encoding="utf-8")

    error = only_error(path)

    assert reason in error.reason


def test_a_json_list_item_that_is_not_an_object_is_a_row_error(tmp_path):
    path = tmp_path / "employees.json"
    path.write_text(json.dumps([dict(zip(EMPLOYEE_HEADER.split(","), BOSS.split(","))), "E2"]), encoding="utf-8")

    error = only_error(path)

    assert error.row == 2 and "objet" in error.reason


def test_a_missing_file_is_a_clear_error(tmp_path):
    error = only_error(tmp_path / "nope.csv")

    assert "introuvable" in error.reason


def test_a_folder_without_employees_is_a_clear_error(tmp_path):
    write(tmp_path, "absences.csv", ["matricule,motif,date_debut,date_fin"])

    with pytest.raises(DataImportError, match="employees.csv"):
        load_dataset_dir(tmp_path)


def test_the_same_data_given_twice_is_an_error(tmp_path):
    path = tmp_path / "all.json"
    path.write_text(json.dumps({"employees": [], "absences": []}), encoding="utf-8")
    absences = write(tmp_path, "absences.csv", ["matricule,motif,date_debut,date_fin"])

    error = only_error(path, absences)

    assert "aussi dans" in error.reason


def test_the_message_lists_every_error_readably(tmp_path):
    path = employees_file(tmp_path, BOSS, CHLOE.replace(",Mme,", ",Mlle,").replace("chloe.benard@example.fr", "x"))

    with pytest.raises(DataImportError) as caught:
        load_dataset(path)

    assert str(caught.value).splitlines() == [
        "Import impossible : 2 erreurs.",
        "- employees.csv, ligne 3, colonne « civilite » (valeur « Mlle ») : civilité inconnue : "
        "« M. » (Monsieur) ou « Mme » (Madame) attendu",
        "- employees.csv, ligne 3, colonne « email » (valeur « x ») : adresse e-mail invalide",
    ]


# --- skip_invalid --------------------------------------------------------------------------------

def test_skip_invalid_keeps_the_good_rows_and_returns_the_errors(tmp_path):
    bad = "E3,Mme,Roux,Sarah,pas-un-email,1992-05-19,2019-07-15,Contrôleuse,Finance,Lyon,E1,"
    employees = employees_file(tmp_path, BOSS, bad, CHLOE)
    absences = write(tmp_path, "absences.csv", [
        "matricule,motif,date_debut,date_fin",
        "E2,conge_maternite,2026-05-04,2026-08-24",
        "E3,arret_longue_maladie,2025-11-03,2026-10-30",
        "E2,conge_inconnu,2026-05-04,2026-08-24",
    ])

    result = load_dataset(employees, absences, skip_invalid=True)

    assert not result.ok
    assert list(result.dataset.employees) == ["E1", "E2"]
    assert [a.motif for a in result.dataset.absences_of("E2")] == ["conge_maternite"]
    assert result.dataset.absences_of("E3") == ()
    assert [(e.file, e.row, e.column) for e in result.errors] == [
        ("employees.csv", 3, "email"),
        ("absences.csv", 3, "matricule"),  # E3 exists in the file but was left out
        ("absences.csv", 4, "motif"),
    ]
    assert "sa ligne contient des erreurs" in result.errors[1].reason


def test_without_skip_invalid_a_file_with_errors_imports_nothing(tmp_path):
    employees = employees_file(tmp_path, BOSS, CHLOE.replace("1981-12-01", "hier"))

    with pytest.raises(DataImportError):
        load_dataset(employees)


def test_skip_invalid_leaves_out_an_employee_whose_manager_was_left_out(tmp_path):
    boss = BOSS.replace("julien.martin@example.fr", "julien")
    employees = employees_file(tmp_path, boss, CHLOE)

    result = load_dataset(employees, skip_invalid=True)

    assert dict(result.dataset.employees) == {}
    assert [(e.row, e.column) for e in result.errors] == [(2, "email"), (3, "manager_matricule")]


def test_a_dataset_is_read_only():
    dataset = Dataset(employees={})
    with pytest.raises(TypeError):
        dataset.employees["E1"] = None  # type: ignore[index]


def test_skip_invalid_also_leaves_out_the_reports_of_a_left_out_manager(tmp_path):
    boss = BOSS.replace("julien.martin@example.fr", "julien")
    report = "E3,M.,Roux,Paul,paul.roux@example.fr,1992-05-19,2019-07-15,Comptable,Finance,Lyon,E2,"
    other = CHLOE.replace("E2,", "E4,", 1).replace(",E1,", ",,")
    employees = employees_file(tmp_path, boss, CHLOE, report, other)

    result = load_dataset(employees, skip_invalid=True)

    assert list(result.dataset.employees) == ["E4"]
    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (2, "email", "julien"), (3, "manager_matricule", "E1"), (4, "manager_matricule", "E2"),
    ]


def test_a_title_line_instead_of_a_header_is_one_error_on_its_excel_line(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([])
    sheet.append(["Export du 2026-11-26"])  # a title line is read as the header: columns missing
    path = tmp_path / "employees.xlsx"
    workbook.save(path)

    error = only_error(path)

    assert error.row == 2
    assert "ligne d'en-tête introuvable" in error.reason and "matricule" in error.reason


def test_excel_sep_line_sets_the_delimiter_and_is_not_counted(tmp_path):
    path = write(tmp_path, "employees.csv", ["sep=;", EMPLOYEE_HEADER.replace(",", ";"), BOSS.replace(",", ";"),
                                             CHLOE.replace(",", ";").replace("2014-09-01", "hier")])

    error = only_error(path)

    assert (error.row, error.column) == (3, "date_entree")


def test_tab_separated_utf16_text_as_excel_saves_unicode_text(tmp_path):
    path = tmp_path / "employees.txt"
    path.write_text("\r\n".join([EMPLOYEE_HEADER.replace(",", "\t"), CHLOE.replace(",E1,", ",,").replace(",", "\t")]),
                    encoding="utf-16")

    assert load_dataset(path).dataset.employee("E2").prenom == "Chloé"


def test_a_manager_known_elsewhere_is_accepted_only_when_named():
    csv_text = ("matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,manager_matricule\n"
                "E0100,Mme,Petit,Anne,anne.petit@example.fr,1990-01-01,2020-01-01,Comptable,Finance,Lyon,E0001\n")
    with pytest.raises(DataImportError, match="manager_matricule"):
        load_dataset(csv_text.encode(), names={"employees": "employees.csv"})
    result = load_dataset(csv_text.encode(), names={"employees": "employees.csv"}, known_managers={"E0001"})
    assert result.dataset.employee("E0100").manager_matricule == "E0001"


# --- The interview history, exits and contracts ------------------------------------------------------

ENTRETIENS_HEADER = "matricule,date,type,statut,compte"


def test_an_entretiens_file_brings_the_history_held_refused_and_planned(tmp_path):
    employees = employees_file(tmp_path, BOSS, CHLOE)
    entretiens = write(tmp_path, "entretiens.csv", [
        ENTRETIENS_HEADER, "E2,2016-08-12,premier,réalisé,", "E2,2018-08-02,periodique,refused,non",
        "E2,2020-07-23,etat_des_lieux,held,", "E2,2027-01-15,periodique,prévu,",
    ])

    dataset = load_dataset(employees, entretiens=entretiens).dataset

    history = dataset.interviews_of("E2")
    assert [(i.date, i.type, i.status, i.counts) for i in history] == [
        (dt.date(2016, 8, 12), "premier", "held", True), (dt.date(2018, 8, 2), "periodique", "refused", False),
        (dt.date(2020, 7, 23), "etat_des_lieux", "held", True), (dt.date(2027, 1, 15), "periodique", "planned", True)]
    # With a history file, date_dernier_entretien is not used: E1 has no interview recorded.
    assert dataset.interviews_of("E1") == ()


def test_without_an_entretiens_file_the_last_interview_is_the_history(tmp_path):
    dataset = load_dataset(employees_file(tmp_path, BOSS, CHLOE)).dataset

    (last,) = dataset.interviews_of("E1")
    assert (last.date, last.type, last.status) == (dt.date(2023, 2, 10), "periodique", "held")
    assert dataset.interviews is None and dataset.interviews_of("E2") == ()


@pytest.mark.parametrize(("row", "column", "reason"), [
    ("E2,2018-08-02,annuel,held,", "type", "type inconnu"),
    ("E2,2018-08-02,periodique,fait,", "statut", "statut inconnu"),
    ("E2,2010-01-01,periodique,held,", "date", "précède l'entrée"),
    ("E2,2018-08-02,periodique,held,non", "compte", "ne s'applique qu'à un entretien refusé"),
    ("E9,2018-08-02,periodique,held,", "matricule", "matricule inconnu"),
])
def test_entretiens_rows_are_checked_like_the_others(tmp_path, row, column, reason):
    entretiens = write(tmp_path, "entretiens.csv", [ENTRETIENS_HEADER, row])

    error = only_error(employees_file(tmp_path, BOSS, CHLOE), entretiens=entretiens)

    assert (error.file, error.row, error.column) == ("entretiens.csv", 2, column)
    assert reason in error.reason


def test_exit_dates_and_fixed_term_contracts(tmp_path):
    header = EMPLOYEE_HEADER + ",date_sortie,type_contrat,date_fin_contrat,date_visite_mi_carriere"
    path = write(tmp_path, "employees.csv", [
        header, BOSS + ",2026-06-30,,,", CHLOE + ",,CDD,2027-08-31,2026-10-15",
    ])

    dataset = load_dataset(path).dataset

    boss, chloe = dataset.employee("E1"), dataset.employee("E2")
    assert (boss.date_sortie, boss.type_contrat, boss.end_of_employment) == (dt.date(2026, 6, 30), "cdi",
                                                                           dt.date(2026, 6, 30))
    assert (chloe.type_contrat, chloe.date_fin_contrat) == ("cdd", dt.date(2027, 8, 31))
    assert chloe.date_visite_mi_carriere == dt.date(2026, 10, 15)
    bad = write(tmp_path, "bad.csv", [header, BOSS + ",,CDI,2027-01-01,", CHLOE + ",,stage,,"])
    errors = import_errors(bad)
    assert [(e.row, e.column) for e in errors] == [(2, "date_fin_contrat"), (3, "type_contrat")]


def test_a_hire_date_more_than_a_year_ahead_is_a_row_error_and_a_coming_hire_is_kept(tmp_path):
    soon = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    later = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    coming = CHLOE.replace("2014-09-01", soon)
    assert load_dataset(employees_file(tmp_path, BOSS, coming)).dataset.employee("E2").date_entree.isoformat() == soon
    error = only_error(employees_file(tmp_path, BOSS, CHLOE.replace("2014-09-01", later)))
    assert (error.row, error.column, error.value) == (3, "date_entree", later)
    assert error.reason.startswith("date d'entrée plus d'un an après aujourd'hui : faute de frappe ?")
    assert "une embauche à venir est acceptée jusqu'au " in error.reason and "-" not in error.reason


def test_a_matricule_longer_than_50_characters_is_a_row_error_in_every_file(tmp_path):
    long = "E" * 51
    error = only_error(employees_file(tmp_path, BOSS, CHLOE.replace("E2,", long + ",", 1)))
    assert (error.row, error.column, error.reason) == (3, "matricule", "50 caractères au plus (ici 51)")
    error = only_error(employees_file(tmp_path, BOSS, CHLOE.replace(",E1,", f",{long},")))
    assert (error.column, error.reason) == ("manager_matricule", "50 caractères au plus (ici 51)")
    assert load_dataset(employees_file(tmp_path, BOSS, CHLOE.replace("E2,", "E" * 50 + ",", 1))).dataset


@pytest.mark.parametrize("motif", ["conge_supplementaire_naissance", "temps_partiel_parental"])
def test_the_new_return_motifs_import(tmp_path, motif):
    absences = write(tmp_path, "absences.csv", ["matricule,motif,date_debut,date_fin", f"E2,{motif},2026-01-05,2026-06-30"])

    dataset = load_dataset(employees_file(tmp_path, BOSS, CHLOE), absences).dataset

    assert dataset.absences_of("E2")[0].motif == motif


def test_a_folder_with_an_entretiens_file(tmp_path):
    employees_file(tmp_path, BOSS, CHLOE)
    write(tmp_path, "entretiens.csv", [ENTRETIENS_HEADER, "E2,2016-08-12,premier,held,"])

    assert len(load_dataset_dir(tmp_path).dataset.interviews_of("E2")) == 1


# --- A long chain of managers: every row reported, in linear time ----------------------------------

def chained_employees(count: int, head_manager: str) -> bytes:
    """`count` employees, each the manager of the next; the first names `head_manager`."""
    rows = [f"C{index:05d},M.,Nom{index},Paul,p{index}@example.fr,1980-01-01,2015-03-02,Technicien,Atelier,Lyon,"
            f"{head_manager if index == 0 else f'C{index - 1:05d}'}," for index in range(count)]
    return ("\n".join([EMPLOYEE_HEADER, *rows]) + "\n").encode()


def load_within(seconds: float, *args, **kwargs) -> ImportResult:
    """load_dataset in a daemon thread: a guard against a hang, not a timing."""
    import threading

    outcome: dict[str, ImportResult] = {}
    worker = threading.Thread(target=lambda: outcome.update(result=load_dataset(*args, **kwargs)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"import still running after {seconds} s"
    return outcome["result"]


def test_a_chain_of_2500_employees_under_an_unknown_manager_is_reported_row_by_row():
    result = load_within(120, chained_employees(2500, "INCONNU"), names={"employees": "employees.csv"},
                         skip_invalid=True)

    assert dict(result.dataset.employees) == {}
    assert [(e.row, e.column) for e in result.errors] == [(row, "manager_matricule") for row in range(2, 2502)]
    assert (result.errors[0].value, result.errors[0].reason) == ("INCONNU", "matricule de responsable inconnu")
    assert all(error.value == f"C{error.row - 3:05d}" for error in result.errors[1:])
    assert {error.reason for error in result.errors[1:]} == {
        "le responsable n'a pas pu être importé (sa ligne contient des erreurs)"}


def test_a_chain_under_a_manager_known_elsewhere_is_imported_whole():
    result = load_within(120, chained_employees(2500, "E0001"), names={"employees": "employees.csv"},
                         known_managers=["E0001"])

    assert result.errors == () and len(result.dataset.employees) == 2500


def test_a_left_out_employee_known_elsewhere_still_manages_their_reports(tmp_path):
    boss = BOSS.replace("julien.martin@example.fr", "julien")
    employees = employees_file(tmp_path, boss, CHLOE)

    result = load_dataset(employees, skip_invalid=True, known_managers={"E1"})

    assert list(result.dataset.employees) == ["E2"]
    assert [(e.row, e.column) for e in result.errors] == [(2, "email")]


def test_without_skip_invalid_a_chain_raises_every_row_at_once():
    errors = import_errors(chained_employees(300, "INCONNU"), names={"employees": "employees.csv"})

    assert [error.row for error in errors] == list(range(2, 302))
