"""Employees: imports upsert by matricule or import nothing, listings page by cursor, one employee in full."""

import io
import json

from sqlalchemy import func, insert, select

from api_helpers import SAMPLES, bearer
from parcours.models import Employee

PROBLEM = "application/problem+json"
HEADER = "matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,manager_matricule"


def post_files(client, token, query="", **files):
    data = {role: (io.BytesIO(content), name) for role, (name, content) in files.items()}
    return client.post(f"/api/v1/employees/import{query}", data=data, content_type="multipart/form-data",
                       headers=bearer(token))


def import_samples(client, token):
    files = {role: (f"{role}.csv", (SAMPLES / f"{role}.csv").read_bytes())
             for role in ("employees", "absences", "formations")}
    return post_files(client, token, **files)


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def count(app) -> int:
    with app.extensions["parcours"].db.session() as session:
        return session.scalar(select(func.count()).select_from(Employee))


def test_an_import_creates_then_updates_by_matricule(client, tokens):
    first = import_samples(client, tokens["hr"])
    assert first.status_code == 200
    assert len(first.json["created"]) == 25 and first.json["updated"] == [] and first.json["skipped"] == []
    again = import_samples(client, tokens["hr"])
    assert again.json["created"] == [] and sorted(again.json["updated"]) == sorted(first.json["created"])


def test_an_employee_comes_with_iso_dates_and_labelled_absences_and_trainings(client, tokens):
    import_samples(client, tokens["hr"])
    employee = client.get("/api/v1/employees/E0008", headers=bearer(tokens["auditor"])).json
    assert employee["absences"] == [{"motif": "conge_parental_education", "date_debut": "2025-09-01",
                                     "date_fin": "2026-12-01", "libelle": "congé parental d’éducation"}]
    assert employee["date_naissance"].count("-") == 2 and employee["manager_matricule"]
    trained = client.get("/api/v1/employees/E0003", headers=bearer(tokens["hr"])).json
    assert trained["nom"] == "N'Diaye" and trained["date_dernier_entretien"].startswith("2022-04")
    assert {"intitule": "CQPM Technicien de maintenance industrielle", "date_fin": "2024-06-28",
            "certifiante": True, "obligatoire": False} in trained["formations"]
    missing = client.get("/api/v1/employees/E9999", headers=bearer(tokens["hr"]))
    assert missing.status_code == 404 and missing.content_type == PROBLEM and "E9999" in missing.json["detail"]


def test_import_errors_name_the_row_and_column_and_nothing_is_stored(client, tokens, app):
    employees = csv("A1,M.,Durand,Paul,paul@example.fr,1980-01-01,2010-01-01,Tourneur,Atelier,Lyon,",
                    "A2,Mme,Petit,Léa,pas-un-email,1985-02-30,2011-01-01,Comptable,Finance,Lyon,A1",
                    "A3,M.,Roux,Marc,marc@example.fr,1990-01-01,2012-01-01,Cariste,Logistique,Lyon,Z9")
    absences = csv("A1,vacances,2026-01-01,2026-02-01", header="matricule,motif,date_debut,date_fin")
    response = post_files(client, tokens["hr"], employees=("salaries.csv", employees),
                          absences=("absences.csv", absences))
    assert response.status_code == 422 and response.content_type == PROBLEM
    found = {(e["file"], e["row"], e["field"]) for e in response.json["errors"]}
    assert found == {("salaries.csv", 3, "email"), ("salaries.csv", 3, "date_naissance"),
                     ("salaries.csv", 4, "manager_matricule"), ("absences.csv", 2, "motif")}
    assert all(e["reason"] for e in response.json["errors"])
    assert count(app) == 0


def test_a_matricule_too_long_for_its_column_is_a_row_error_on_every_database(client, tokens, app):
    long = "M" * 51
    employees = csv(f"{long},M.,Durand,Paul,paul@example.fr,1980-01-01,2010-01-01,Tourneur,Atelier,Lyon,")
    response = post_files(client, tokens["hr"], employees=("salaries.csv", employees))
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert [(e["row"], e["field"], e["reason"]) for e in response.json["errors"]] == [
        (2, "matricule", "50 caractères au plus (ici 51)")]
    assert count(app) == 0


def test_skip_invalid_imports_the_good_rows_and_lists_the_others(client, tokens, app):
    employees = csv("A1,M.,Durand,Paul,paul@example.fr,1980-01-01,2010-01-01,Tourneur,Atelier,Lyon,",
                    "A2,Mme,Petit,Léa,pas-un-email,1985-02-03,2011-01-01,Comptable,Finance,Lyon,A1",
                    "A3,M.,Roux,Marc,marc@example.fr,1990-01-01,2012-01-01,Cariste,Logistique,Lyon,A1")
    response = post_files(client, tokens["hr"], "?skip_invalid=true", employees=("employees.csv", employees))
    assert response.status_code == 200
    assert response.json["created"] == ["A1", "A3"] and response.json["updated"] == []
    assert [(s["row"], s["field"]) for s in response.json["skipped"]] == [(3, "email")]
    assert response.json["skipped"][0]["reason"] == "adresse e-mail invalide"
    assert count(app) == 2
    bad = post_files(client, tokens["hr"], "?skip_invalid=peut-etre", employees=("employees.csv", employees))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "skip_invalid"


def test_a_semicolon_windows_1252_csv_and_a_json_file_are_read(client, tokens):
    text = (HEADER.replace(",", ";") + "\r\n"
            + "B1;Mme;Lefèvre;Hélène;helene@example.fr;14/03/1975;01/09/2012;Chargée de paie;"
              "Ressources humaines;Lyon;\r\n")
    response = post_files(client, tokens["hr"], employees=("export excel.csv", text.encode("cp1252")))
    assert response.status_code == 200 and response.json["created"] == ["B1"]
    helene = client.get("/api/v1/employees/B1", headers=bearer(tokens["hr"])).json
    assert (helene["nom"], helene["prenom"], helene["date_naissance"]) == ("Lefèvre", "Hélène", "1975-03-14")
    document = {"employees": [{"matricule": "B2", "civilite": "Madame", "nom": "Roy", "prenom": "Inès",
                               "email": "ines@example.fr", "date_naissance": "1991-05-06",
                               "date_entree": "2020-01-06", "poste": "Acheteuse", "service": "Achats",
                               "site": "Lyon", "manager_matricule": "B1"}],
                "formations": [{"matricule": "B2", "intitule": "Négociation", "date_fin": "2024-03-01",
                                "certifiante": "non", "obligatoire": "non"}]}
    from_json = post_files(client, tokens["hr"], employees=("rh.json", json.dumps(document).encode()))
    assert from_json.status_code == 200 and from_json.json["created"] == ["B2"]
    ines = client.get("/api/v1/employees/B2", headers=bearer(tokens["hr"])).json
    assert ines["civilite"] == "Mme" and ines["formations"][0]["intitule"] == "Négociation"


def test_a_manager_may_be_an_employee_already_in_the_database(client, tokens):
    import_samples(client, tokens["hr"])
    newcomer = csv("N1,M.,Blanc,Hugo,hugo@example.fr,1999-01-01,2026-01-05,Stagiaire,Direction,Lyon,E0001",
                   "N2,Mme,Noir,Zoé,zoe@example.fr,1998-01-01,2026-01-05,Stagiaire,Direction,Lyon,N1")
    response = post_files(client, tokens["hr"], employees=("arrivees.csv", newcomer))
    assert response.status_code == 200 and response.json["created"] == ["N1", "N2"]
    assert client.get("/api/v1/employees/N1", headers=bearer(tokens["hr"])).json["manager_matricule"] == "E0001"
    assert client.get("/api/v1/employees/E0001", headers=bearer(tokens["hr"])).json["nom"] == "Martin"
    unknown = post_files(client, tokens["hr"], employees=("arrivees.csv", csv(
        "N3,M.,Gris,Léo,leo@example.fr,1999-01-01,2026-01-05,Stagiaire,Direction,Lyon,E9999")))
    assert unknown.status_code == 422
    assert [(e["row"], e["field"], e["value"]) for e in unknown.json["errors"]] == [(2, "manager_matricule", "E9999")]


def test_import_refusals_are_problems(client, tokens):
    missing = post_files(client, tokens["hr"], absences=("absences.csv", b"matricule,motif\n"))
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "employees"
    for role in ("auditor", "admin"):
        refused = import_samples(client, tokens[role])
        assert refused.status_code == 403 and refused.content_type == PROBLEM
    anonymous = client.post("/api/v1/employees/import", data={}, content_type="multipart/form-data")
    assert anonymous.status_code == 401 and anonymous.content_type == PROBLEM


def test_reads_admit_hr_and_auditors_only(client, tokens):
    import_samples(client, tokens["hr"])
    for path in ("/api/v1/employees", "/api/v1/employees/E0001"):
        for role in ("hr", "auditor"):
            assert client.get(path, headers=bearer(tokens[role])).status_code == 200
        refused = client.get(path, headers=bearer(tokens["admin"]))
        assert refused.status_code == 403 and refused.content_type == PROBLEM
        assert client.get(path).status_code == 401


def test_listings_filter_and_search_names_without_regard_to_case(client, tokens):
    import_samples(client, tokens["hr"])

    def matricules(**query):
        response = client.get("/api/v1/employees", query_string=query, headers=bearer(tokens["auditor"]))
        assert response.status_code == 200
        return [item["matricule"] for item in response.json["items"]]

    assert matricules(q="LEFÈVRE") == matricules(q="lefèvre") == ["E0002"]
    assert matricules(q="julien") == ["E0001"]  # a first name
    assert matricules(q="%") == []  # typed wildcards are literal
    maintenance = matricules(service="Maintenance")
    assert "E0003" in maintenance and "E0001" not in maintenance
    assert set(matricules(site="Villeurbanne")) >= {"E0003", "E0005"}
    reports = matricules(manager="E0001")
    assert {"E0002", "E0004", "E0005"} <= set(reports) and "E0003" not in reports
    assert matricules(service="Maintenance", site="Lyon", q="zzz") == []


def test_pages_follow_the_cursor_and_bad_parameters_are_refused(client, tokens, app):
    import_samples(client, tokens["hr"])
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/employees", query_string=query, headers=bearer(tokens["hr"])).json
        seen += [item["matricule"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 25 and seen == sorted(seen)
    whole = client.get("/api/v1/employees", headers=bearer(tokens["hr"])).json  # page_size is 100
    assert len(whole["items"]) == 25 and whole["next_cursor"] is None
    for query in ({"limit": 0}, {"limit": 1001}, {"limit": "dix"}, {"servise": "Production"}):
        refused = client.get("/api/v1/employees", query_string=query, headers=bearer(tokens["hr"]))
        assert refused.status_code == 422 and refused.content_type == PROBLEM, query
        assert refused.json["errors"][0]["field"] in query
    # The cursor is the last matricule received, as documented: any text is a place in the order.
    after = client.get("/api/v1/employees", query_string={"cursor": "E0020"}, headers=bearer(tokens["hr"])).json
    assert [item["matricule"] for item in after["items"]] == [m for m in seen if m > "E0020"]


def test_ten_thousand_employees_page_completely_and_in_order(client, tokens, app):
    import datetime as dt

    rows = [{"matricule": f"M{i:05d}", "civilite": "Mme", "nom": f"Nom{i}", "prenom": "Prénom",
             "email": f"m{i}@example.fr", "date_naissance": dt.date(1980, 1, 1), "date_entree": dt.date(2010, 1, 1),
             "poste": "Opératrice", "service": "Production", "site": "Lyon", "absences": [], "formations": []}
            for i in range(10_000)]
    with app.extensions["parcours"].db.session() as session:
        session.execute(insert(Employee), rows)
    seen, cursor = [], None
    while True:
        query = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/employees", query_string=query, headers=bearer(tokens["hr"])).json
        assert len(page["items"]) == 1000
        seen += [item["matricule"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [row["matricule"] for row in rows]


def test_an_entretiens_file_records_the_history_once_and_the_calendar_reads_it(client, tokens, app):
    from parcours.models import Interview

    files = {role: (f"{role}.csv", (SAMPLES / f"{role}.csv").read_bytes())
             for role in ("employees", "absences", "formations", "entretiens")}
    assert post_files(client, tokens["hr"], **files).status_code == 200
    assert post_files(client, tokens["hr"], **files).status_code == 200  # again: nothing doubled
    with app.extensions["parcours"].db.session() as session:
        recorded = session.scalars(select(Interview).where(Interview.matricule == "E0017")
                                   .order_by(Interview.date)).all()
        assert [(i.date.isoformat(), i.type, i.status) for i in recorded] == [
            ("2016-02-16", "periodique", "held"), ("2018-02-06", "periodique", "refused"),
            ("2020-01-27", "etat_des_lieux", "held"), ("2022-01-17", "periodique", "held"),
            ("2022-11-18", "periodique", "held")]
    # E0001's history (samples/entretiens.csv): the last one held on 10/02/2023, expired before the reform.
    due = client.get("/api/v1/employees/E0001/due?on=2026-11-26", headers=bearer(tokens["hr"])).json["items"]
    assert ("periodique", "2025-02-10", True) in {(i["type"], i["deadline"], i["overdue"]) for i in due}
