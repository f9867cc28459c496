"""Interviews recorded through the API: planned, then held or refused; closed ones stay as they are."""

import pytest

from api_helpers import bearer




def post(client, token, **body):
    return client.post("/api/v1/interviews", json=body, headers=bearer(token))


def test_a_planned_interview_is_then_held(client, tokens, employees):
    created = post(client, tokens["hr"], matricule="E0003", type="periodique", status="planned", date="2027-01-12")
    assert created.status_code == 201
    interview = created.json
    assert interview["libelle"] == "entretien de parcours professionnel périodique" and interview["created_by"] == "test hr"
    held = client.patch(f"/api/v1/interviews/{interview['id']}", json={"status": "held", "date": "2026-11-20"},
                        headers=bearer(tokens["hr"]))
    assert held.status_code == 200 and (held.json["status"], held.json["date"]) == ("held", "2026-11-20")
    again = client.patch(f"/api/v1/interviews/{interview['id']}", json={"status": "refused"}, headers=bearer(tokens["hr"]))
    assert again.status_code == 409 and again.content_type == "application/problem+json"
    listing = client.get("/api/v1/interviews?matricule=E0003", headers=bearer(tokens["auditor"])).json["items"]
    assert [i["status"] for i in listing] == ["held"]


@pytest.mark.parametrize("body, field", [
    ({"matricule": "E9999", "type": "periodique", "status": "held", "date": "2026-01-01"}, "matricule"),
    ({"matricule": "E0003", "type": "annuel", "status": "held", "date": "2026-01-01"}, "type"),
    ({"matricule": "E0003", "type": "periodique", "status": "fait", "date": "2026-01-01"}, "status"),
    ({"matricule": "E0003", "type": "periodique", "status": "held", "date": "2026-02-30"}, "date"),
    ({"matricule": "E0003", "type": "periodique", "status": "held", "date": "2099-01-01"}, "date"),
    ({"matricule": "E0003", "type": "periodique", "status": "held"}, "date"),
])
def test_a_wrong_interview_is_refused_naming_the_field(client, tokens, employees, body, field):
    response = post(client, tokens["hr"], **body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert field in {e["field"] for e in response.json["errors"]}


def test_roles_are_enforced(client, tokens, employees):
    body = {"matricule": "E0003", "type": "periodique", "status": "held", "date": "2026-01-01"}
    assert post(client, tokens["auditor"], **body).status_code == 403
    assert post(client, tokens["admin"], **body).status_code == 403
    assert client.post("/api/v1/interviews", json=body).status_code == 401
    assert client.get("/api/v1/interviews", headers=bearer(tokens["admin"])).status_code == 403
    assert client.patch("/api/v1/interviews/999", json={"status": "held"}, headers=bearer(tokens["hr"])).status_code == 404
