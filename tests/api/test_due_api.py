"""The legal calendar through the API: who is due, recording an interview moves it on, and batches
of convocations made from the due list."""

import datetime as dt
import json

from sqlalchemy import select

from api_helpers import bearer
from parcours.models import BatchItem, Interview

ON = "2026-11-26"




def due(client, token, before="2027-03-31", **params):
    query = "&".join(f"{k}={v}" for k, v in {"before": before, "on": ON, **params}.items())
    response = client.get(f"/api/v1/employees/due?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["errors"] == []
    return response.json["items"]


def of(items, matricule):
    return {(i["type"], i["deadline"], i["overdue"]) for i in items if i["matricule"] == matricule}


def test_the_due_list_follows_the_law(client, tokens, employees):
    items = due(client, tokens["auditor"])
    # Hired 2026-03-02, no interview yet: the first one is due within a year of hire.
    assert ("premier", "2027-03-02", False) in of(items, "E0006")
    # Hired 2025-10-01, no interview: the former two-year delay was running on 2025-10-26; the one-year
    # delay runs from then without exceeding it (C. civ. 2222 al. 2): by 2026-10-26.
    assert ("premier", "2026-10-26", True) in of(items, "E0009")
    # Last interview 2020-05-12: under the former rule the next was due 2 years later, expired before
    # the reform: overdue since 2022-05-12.
    assert ("periodique", "2022-05-12", True) in of(items, "E0010")
    assert all(i["rule"] and i["reason"] for i in items)
    assert items == sorted(items, key=lambda i: i["deadline"])


def test_recording_a_held_interview_moves_the_calendar_on(client, tokens, employees):
    def periodic(matricule):
        items = client.get(f"/api/v1/employees/{matricule}/due?on={ON}", headers=bearer(tokens["hr"])).json["items"]
        return [i["deadline"] for i in items if i["type"] == "periodique"]

    # E0020's last interview was on 2024-01-15: the next one is due 4 years later.
    assert periodic("E0020") == ["2028-01-15"]
    created = client.post("/api/v1/interviews", json={"matricule": "E0020", "type": "periodique", "status": "held",
                                                      "date": "2026-11-20"}, headers=bearer(tokens["hr"]))
    assert created.status_code == 201
    assert periodic("E0020") == ["2030-11-20"]
    # E0010 was overdue (last interview 2020-05-12); held now, it leaves the due list's périodique.
    assert ("periodique", "2022-05-12", True) in of(due(client, tokens["hr"]), "E0010")
    client.post("/api/v1/interviews", json={"matricule": "E0010", "type": "periodique", "status": "held",
                                            "date": "2026-11-20"}, headers=bearer(tokens["hr"]))
    assert not any(t == "periodique" for t, _, _ in of(due(client, tokens["hr"]), "E0010"))


def test_the_cli_and_the_service_give_the_same_due_list_from_an_earlier_date(app):
    # The samples record interviews held after 1 January 2024: seen from that date, both leave them out.
    from click.testing import CliRunner

    from parcours.cli import main
    from parcours.resources import SAMPLES
    from parcours.service import due as service
    from parcours.service.employees import import_files

    names = {"employees": "employees.csv", "absences": "absences.csv", "formations": "formations.csv",
             "entretiens": "entretiens.csv"}
    with app.extensions["parcours"].db.session() as session:
        import_files(session, {key: (SAMPLES / name).read_bytes() for key, name in names.items()}, names)
    with app.extensions["parcours"].db.session() as session:
        failures: dict[str, str] = {}
        _, found = service.due_list(session, before=dt.date(2024, 12, 31), on=dt.date(2024, 1, 1), headcount=120,
                                    period_years=4, failures=failures)
    result = CliRunner().invoke(main, ["due", "--before", "2024-12-31", "--le", "2024-01-01", "--effectif", "120",
                                       "--data", str(SAMPLES), "--json"])
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    assert failures == {} and from_cli["erreurs"] == []
    key = lambda i: (i["matricule"], i["type"], i["deadline"], i["overdue"])  # noqa: E731
    assert sorted(map(key, from_cli["entretiens"])) == sorted(
        key({"matricule": d.matricule, **d.as_dict()}) for d in found)


def test_wrong_dates_and_unknown_employees_are_problems(client, tokens, employees):
    assert client.get("/api/v1/employees/due", headers=bearer(tokens["hr"])).status_code == 422
    bad = client.get("/api/v1/employees/due?before=31/13/2027", headers=bearer(tokens["hr"]))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "before"
    assert client.get("/api/v1/employees/E9999/due", headers=bearer(tokens["hr"])).status_code == 404
    assert client.get("/api/v1/employees/due?before=2027-01-01", headers=bearer(tokens["admin"])).status_code == 403


def test_employees_whose_stored_data_cannot_be_computed_are_named_and_the_others_listed(client, tokens, employees, app):
    from parcours.models import Employee

    with app.extensions["parcours"].db.session() as session:
        # Rows older than today's checks: a held interview in the year 425, a birth date near the year 9999.
        session.add(Interview(matricule="E0010", type="periodique", status="held", date=dt.date(425, 1, 1),
                              created_by="ancienne version"))
        far = session.get(Employee, "E0020")
        far.date_naissance = dt.date(9990, 1, 1)
        session.commit()
    response = client.get(f"/api/v1/employees/due?before=2027-03-31&on={ON}", headers=bearer(tokens["hr"]))
    assert response.status_code == 200, response.json
    errors = {e["matricule"]: e["reason"] for e in response.json["errors"]}
    assert set(errors) == {"E0010", "E0020"}
    assert "précède l’entrée" in errors["E0010"] and "9999" in errors["E0020"]
    items = response.json["items"]
    assert ("premier", "2027-03-02", False) in of(items, "E0006")  # everyone else is there
    assert not of(items, "E0010") and not of(items, "E0020")
    made = client.post("/api/v1/batches/due", json={"before": "2027-03-31", "on": ON, "values": VALUES},
                       headers=bearer(tokens["hr"]))
    assert made.status_code == 202, made.json  # the others are convoked
    with app.extensions["parcours"].db.session() as session:
        convoked = set(session.scalars(select(BatchItem.matricule)))
    assert "E0006" in convoked and not {"E0010", "E0020"} & convoked


def test_a_batch_is_made_for_everyone_due_with_slots_and_planned_interviews(client, tokens, employees, app):
    values = {"societe": {"nom": "Atelier Lumière", "adresse": "18 quai Saint-Vincent", "code_postal": "69001",
                          "ville": "Lyon", "effectif": 120},
              "courrier": {"signataire": {"nom": "Élodie Lefèvre-Dubois", "fonction": "Responsable RH"}},
              "entretien": {"lieu": "Salle Fourvière"},
              "salaries": {"E0001": {"entretien": {"interlocuteur": "E0002"}}}}
    response = client.post("/api/v1/batches/due", headers=bearer(tokens["hr"]), json={
        "before": "2027-03-31", "on": ON, "values": values,
        "planning": {"E0006": {"date": "2027-02-01", "heure": "11:00"}},
        "creneaux": {"debut": "2027-01-11", "heures": ["09:00", "14:00"], "jours": [0, 1, 2, 3, 4]}})
    assert response.status_code == 202, response.json
    batches = response.json["batches"]
    assert len(batches) == 1 and batches[0]["template"]["name"] == "convocation"
    due_people = {i["matricule"] for i in due(client, tokens["hr"])}
    with app.extensions["parcours"].db.session() as session:
        items = session.scalars(select(BatchItem).where(BatchItem.batch_id == batches[0]["id"])).all()
        planned = {i.matricule: i for i in session.scalars(select(Interview).where(Interview.status == "convoked"))}
    assert {i.matricule for i in items} == set(planned)
    assert planned["E0006"].date == dt.date(2027, 2, 1)
    slots = sorted(i.date for m, i in planned.items() if m != "E0006")
    assert slots[0] == dt.date(2027, 1, 11) and slots[1] == dt.date(2027, 1, 11) and slots[2] == dt.date(2027, 1, 12)
    assert all(d.weekday() < 5 for d in slots)
    # Planned interviews show in the due list as planned.
    assert due_people


VALUES = {"societe": {"nom": "Atelier Lumière", "adresse": "18 quai Saint-Vincent", "code_postal": "69001",
                      "ville": "Lyon", "effectif": 120},
          "courrier": {"signataire": {"nom": "Élodie Lefèvre-Dubois", "fonction": "Responsable RH"}},
          "entretien": {"lieu": "Salle Fourvière"}, "salaries": {"E0001": {"entretien": {"interlocuteur": "E0002"}}}}


def test_a_planning_file_from_excel_sets_the_interviews(client, tokens, employees, app):
    import io
    import json

    planning = "matricule;date;heure;lieu\nE0009;18/01/2027;9h30;Atelier de Villeurbanne\n".encode("cp1252")
    response = client.post("/api/v1/batches/due", headers=bearer(tokens["hr"]), content_type="multipart/form-data",
                           data={"request": json.dumps({"before": "2027-03-31", "on": ON, "values": VALUES}),
                                 "planning": (io.BytesIO(planning), "planning.csv")})
    assert response.status_code == 202, response.json
    with app.extensions["parcours"].db.session() as session:
        e9 = session.scalar(select(Interview).where(Interview.matricule == "E0009"))
        item = session.scalar(select(BatchItem).where(BatchItem.matricule == "E0009"))
    assert (e9.date, e9.type) == (dt.date(2027, 1, 18), "premier")
    entretien = item.snapshot["entretien"]
    assert entretien["lieu"] == "Atelier de Villeurbanne" and entretien["heure"] == {"$time": "09:30:00"}


def test_a_wrong_planning_file_names_the_row_and_creates_nothing(client, tokens, employees, app):
    import io
    import json

    planning = b"matricule,date,heure\nE0009,2027-01-18,09:00\nE0006,2027-02-30,10:00\n"
    response = client.post("/api/v1/batches/due", headers=bearer(tokens["hr"]), content_type="multipart/form-data",
                           data={"request": json.dumps({"before": "2027-03-31", "on": ON, "values": VALUES}),
                                 "planning": (io.BytesIO(planning), "planning.csv")})
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert response.json["errors"][0]["row"] == 3 and "E0006" in response.json["errors"][0]["field"]
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(Interview)) is None
