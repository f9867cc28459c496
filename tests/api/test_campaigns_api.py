"""Campaigns through the API: wrong input is a problem+json naming the row and the field, and nothing is created."""

from __future__ import annotations

import io
import json

import pytest
from campaign_flow import CAMPAIGN
from sqlalchemy import func, select

from api_helpers import bearer
from parcours.models import Batch, Campaign, Convocation, Interview, Job


def post(client, token, body=None, **files):
    if files:
        data = {"request": json.dumps(body or CAMPAIGN),
                **{name: (io.BytesIO(content), f"{name}.csv") for name, content in files.items()}}
        return client.post("/api/v1/campaigns", headers=bearer(token), data=data, content_type="multipart/form-data")
    return client.post("/api/v1/campaigns", headers=bearer(token), json=body or CAMPAIGN)


def nothing_created(app):
    with app.extensions["parcours"].db.session() as session:
        return all(session.scalar(select(func.count()).select_from(model)) == 0
                   for model in (Campaign, Interview, Convocation, Batch, Job))


def problem(response, status=422):
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    return response.json


def test_an_unknown_matricule_in_the_population_is_named_and_nothing_is_created(app, client, tokens, employees):
    body = {**CAMPAIGN, "population": {"matricules": ["E0003", "E9999"]}}
    [error] = problem(post(client, tokens["hr"], body))["errors"]
    assert (error["field"], error["row"], error["value"]) == ("population.matricules", 2, "E9999")
    assert "aucun salarié" in error["reason"]
    # The same in an uploaded list: the file's line.
    [error] = problem(post(client, tokens["hr"], population=b"matricule\nE0003\nE0009\nE9999\n"))["errors"]
    assert (error["file"], error["row"], error["field"], error["value"]) == ("population", 4, "population.matricules",
                                                                           "E9999")
    assert nothing_created(app)


def test_a_planning_file_with_a_slot_in_the_past_names_the_row_and_nothing_is_created(app, client, tokens, employees):
    planning = "matricule;date;heure;lieu\nE0003;18/01/2027;9h30;Atelier\nE0009;02/01/2026;10:00;Atelier\n"
    [error] = problem(post(client, tokens["hr"], planning=planning.encode("cp1252")))["errors"]
    assert (error["file"], error["row"], error["field"]) == ("planning", 3, "date")
    assert "passé" in error["reason"] and "2 janvier 2026" in error["reason"]
    assert nothing_created(app)


def test_two_employees_in_the_same_slot_with_the_same_interviewer_are_refused(app, client, tokens, employees):
    # E0003 and E0009 both have E0005 for manager.
    planning = b"matricule,date,heure\nE0003,2027-01-18,09:30\nE0009,2027-01-18,09:30\n"
    [error] = problem(post(client, tokens["hr"], planning=planning))["errors"]
    assert (error["file"], error["row"], error["field"]) == ("planning", 3, "heure")
    assert "E0003" in error["reason"] and "18 janvier 2027 à 9 h 30" in error["reason"]
    # In JSON, the row is the matricule.
    body = {**CAMPAIGN, "planning": {"E0003": {"date": "2027-01-18", "heure": "09:30"},
                                     "E0009": {"date": "2027-01-18", "heure": "09:30"}}}
    [error] = problem(post(client, tokens["hr"], body))["errors"]
    assert (error["row"], error["field"]) == ("E0009", "planning.E0009.heure")
    assert nothing_created(app)


def test_an_interviewer_without_an_email_address_is_refused(app, client, tokens, employees):
    values = {**CAMPAIGN["values"], "salaries": {"E0003": {"entretien": {"interlocuteur": {
        "civilite": "M.", "nom": "Durand", "prenom": "Paul", "fonction": "Chef d'atelier"}}}}}
    [error] = problem(post(client, tokens["hr"], {**CAMPAIGN, "values": values}))["errors"]
    assert (error["row"], error["field"]) == ("E0003", "values.salaries.E0003.entretien.interlocuteur.email")
    assert "Paul Durand" in error["reason"] and "e-mail" in error["reason"]
    assert nothing_created(app)


@pytest.mark.parametrize(("body", "field"), [
    ({**CAMPAIGN, "name": ""}, "name"),
    ({**CAMPAIGN, "period": {"debut": "2027-03-31", "fin": "2027-01-01"}}, "period.fin"),
    ({**CAMPAIGN, "period": {"debut": "2027-02-30", "fin": "2027-03-31"}}, "period.debut"),
    ({**CAMPAIGN, "population": {"equipes": ["A"]}}, "population.equipes"),
    ({**CAMPAIGN, "population": {"services": "Maintenance"}}, "population.services"),
    ({**CAMPAIGN, "creneaux": {"jours": [9]}}, "creneaux.jours"),
    ({**CAMPAIGN, "couleur": "bleu"}, "couleur"),
])
def test_wrong_fields_are_named(app, client, tokens, employees, body, field):
    errors = problem(post(client, tokens["hr"], body))["errors"]
    assert field in [e["field"] for e in errors]
    assert nothing_created(app)


def test_a_population_that_matches_nobody_or_is_not_due_says_so(app, client, tokens, employees):
    assert "aucun salarié" in problem(post(client, tokens["hr"], {**CAMPAIGN, "population": {
        "services": ["Astronomie"]}}))["errors"][0]["reason"]
    assert nothing_created(app)


def test_only_hr_creates_and_the_auditor_reads(app, client, tokens, employees):
    assert post(client, tokens["auditor"]).status_code == 403
    assert client.get("/api/v1/campaigns", headers=bearer(tokens["auditor"])).json["items"] == []
    assert client.get("/api/v1/campaigns/1", headers=bearer(tokens["auditor"])).status_code == 404


def test_listings_filter_and_reject_wrong_filters(app, client, tokens, employees):
    hr = bearer(tokens["hr"])
    for url in ("/api/v1/interviews?status=perdu", "/api/v1/interviews?campaign=abc", "/api/v1/interviews?from=2027-13-01",
                "/api/v1/signature-requests?status=perdu", "/api/v1/interviews/export?from=2027-01-01"):
        assert client.get(url, headers=hr).status_code == 422, url
    assert client.get("/api/v1/signature-requests?status=pending", headers=hr).json["items"] == []
    created = client.post("/api/v1/interviews", headers=hr, json={"matricule": "E0003", "type": "periodique",
                                                                  "status": "planned", "date": "2027-01-12"})
    assert created.status_code == 201 and created.json["status"] == "convoked"  # « planned » still accepted
    assert [i["matricule"] for i in client.get("/api/v1/interviews?status=planned&service=Maintenance",
                                                headers=hr).json["items"]] == ["E0003"]
    assert client.get("/api/v1/interviews?service=Finance", headers=hr).json["items"] == []


def test_a_campaign_announces_itself_and_its_interviews_to_webhooks_with_ids_and_links_only(
        app, client, tokens, employees):
    from parcours.models import WebhookEndpoint, WebhookMessage

    with app.extensions["parcours"].db.session() as session:
        session.add(WebhookEndpoint(url="https://sirh.example.com/hooks", secret="whsec_x", enabled=True, created_by="test",
                                    event_types=["campaign.created", "interview.planned"]))
        session.commit()
    created = post(client, tokens["hr"], {**CAMPAIGN, "population": {"services": ["Maintenance"]}})
    assert created.status_code == 201, created.json
    with app.extensions["parcours"].db.session() as session:
        bodies = [json.loads(m.body) for m in session.scalars(select(WebhookMessage).order_by(WebhookMessage.id))]
    assert [b["type"] for b in bodies].count("interview.planned") == created.json["total"]
    [campaign] = [b["data"] for b in bodies if b["type"] == "campaign.created"]
    assert campaign["links"]["campaign"] == f"/api/v1/campaigns/{created.json['id']}"
    text = json.dumps(bodies, ensure_ascii=False)
    assert "N'Diaye" not in text and "@" not in text  # ids and links, no personal data
    interview = next(b["data"] for b in bodies if b["type"] == "interview.planned")
    shown = client.get(interview["links"]["interview"], headers=bearer(tokens["hr"])).json
    assert shown["links"]["campaign"] == campaign["links"]["campaign"] and shown["convocations"][0]["version"] == 1


def test_the_readme_campaign_is_the_one_the_tests_run(app, client, tokens, employees):
    """The README's `curl … /campaigns` body, taken from the README itself, creates the campaign."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Campagnes", 1)[1]
    body = json.loads(re.search(r"-d '(\{\"name\".*?)' \\\n", section, re.S).group(1))
    assert body == CAMPAIGN
    response = post(client, tokens["hr"], body)
    assert response.status_code == 201, response.json
    assert response.json["counts"]["to_plan"] == response.json["total"] > 20
    campaign_id = response.json["id"]
    assert client.get(f"/api/v1/campaigns/{campaign_id}/tracking", headers=bearer(tokens["auditor"])).status_code == 200
    exported = client.get(f"/api/v1/campaigns/{campaign_id}/export?format=csv", headers=bearer(tokens["auditor"]))
    assert exported.data.startswith("\ufeffmatricule;nom;prénom".encode())


def test_an_unknown_template_fails_the_whole_campaign(app, client, tokens, employees):
    response = post(client, tokens["hr"], {**CAMPAIGN, "trame": "trame_inconnue"})
    assert response.status_code in (404, 422) and response.content_type == "application/problem+json"
    assert "trame_inconnue" in json.dumps(response.json, ensure_ascii=False)
    assert nothing_created(app)


def test_the_interviews_held_in_a_period_export_as_csv_and_xlsx_with_formulas_neutralised(app, client, tokens, employees):
    import csv

    import openpyxl
    from sqlalchemy import update

    from parcours.models import Employee

    hr = bearer(tokens["hr"])
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(Employee).where(Employee.matricule == "E0003").values(nom='=HYPERLINK("http://x")'))
        session.commit()
    for matricule, status, day in (("E0003", "held", "2026-10-05"), ("E0009", "refused", "2026-10-06"),
                                   ("E0010", "held", "2025-01-10")):
        assert client.post("/api/v1/interviews", headers=hr, json={"matricule": matricule, "type": "periodique",
                           "status": status, "date": day}).status_code == 201
    exported = client.get("/api/v1/interviews/export?from=2026-01-01&to=2026-12-31&format=csv", headers=hr)
    assert exported.status_code == 200 and exported.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig")), delimiter=";"))
    assert [(r["matricule"], r["état"], r["date"]) for r in rows] == [("E0003", "tenu", "05/10/2026"),
                                                                     ("E0009", "refusé par le salarié", "06/10/2026")]
    assert rows[0]["nom"] == '\'=HYPERLINK("http://x")'
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(
        "/api/v1/interviews/export?from=2026-01-01&to=2026-12-31&format=xlsx", headers=hr).data)).active
    cell = sheet.cell(row=2, column=2)
    assert cell.value == '\'=HYPERLINK("http://x")' and cell.data_type == "s"
    assert client.get("/api/v1/interviews/export?from=2026-12-31&to=2026-01-01", headers=hr).status_code == 422


def test_an_interview_still_to_plan_in_one_campaign_is_not_convoked_again_by_the_next(app, client, tokens, employees):
    first = post(client, tokens["hr"], CAMPAIGN)
    assert first.status_code == 201, first.json
    with app.extensions["parcours"].db.session() as session:
        pending = set(map(tuple, session.execute(select(Interview.matricule, Interview.type).where(
            Interview.campaign_id == first.json["id"], Interview.status == "to_plan"))))
    assert pending  # nothing is sent yet: the whole campaign is « à planifier »
    again = post(client, tokens["hr"], {**CAMPAIGN, "name": "La même, par erreur"})
    assert again.status_code == 422 and again.json["title"] == "Personne n'est à convoquer"
