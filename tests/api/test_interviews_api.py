"""Interviews recorded through the API: planned, then held or refused; closed ones stay as they are."""

import dataclasses
import datetime as dt

import pytest

from api_helpers import bearer
from parcours.app import create_app
from parcours.service.tokens import create_token
from signing_flow import store_employees




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
    ({"matricule": "E0003", "type": "periodique", "status": "held", "date": "0425-01-12"}, "date"),  # before the hire
    ({"matricule": "E0003", "type": "periodique", "status": "planned", "date": "2029-01-12"}, "date"),  # years ahead
    ({"matricule": "E0003", "type": "periodique", "status": "held", "date": "2026-01-01", "document_id": 0},
     "document_id"),
    ({"matricule": "E0003", "type": "periodique", "status": "held", "date": "2026-01-01", "document_id": 2 ** 40},
     "document_id"),
    ({"matricule": "E0003", "type": "periodique", "status": "cancelled", "date": "2026-01-01"}, "status"),
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


def test_a_mistyped_held_interview_is_cancelled_with_its_reason_and_the_calendar_forgets_it(client, tokens, employees):
    due_before = client.get("/api/v1/employees/E0003/due?on=2026-12-06", headers=bearer(tokens["hr"])).json
    held = post(client, tokens["hr"], matricule="E0003", type="periodique", status="held", date="2026-11-20").json
    assert client.get("/api/v1/employees/E0003/due?on=2026-12-06", headers=bearer(tokens["hr"])).json != due_before
    url = f"/api/v1/interviews/{held['id']}"
    assert client.patch(url, json={"status": "planned"}, headers=bearer(tokens["hr"])).status_code == 409
    no_reason = client.patch(url, json={"status": "cancelled"}, headers=bearer(tokens["hr"]))
    assert no_reason.status_code == 422 and no_reason.json["errors"][0]["field"] == "note"
    cancelled = client.patch(url, json={"status": "cancelled", "note": "saisi pour le mauvais salarié"},
                             headers=bearer(tokens["hr"]))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.get("/api/v1/employees/E0003/due?on=2026-12-06", headers=bearer(tokens["hr"])).json == due_before
    events = client.get(f"/api/v1/audit/events?subject_type=interview&subject_id={held['id']}",
                        headers=bearer(tokens["auditor"])).json["items"]
    assert [e["type"] for e in events] == ["interview.recorded", "interview.cancelled"]
    assert events[1]["actor"] == "test hr" and events[1]["data"]["note"] == "saisi pour le mauvais salarié"


def test_today_is_the_service_time_zones_not_the_servers_clock(settings):
    """A French employer's service on a server set to UTC: from midnight in Paris, « today » is already the next
    day. Shown with a zone whose date differs from the server's at any hour (UTC+14, or UTC-11 before 10:00)."""
    zone = "Pacific/Kiritimati" if dt.datetime.now(dt.timezone.utc).hour >= 10 else "Pacific/Pago_Pago"
    app = create_app(dataclasses.replace(settings, timezone=zone))
    try:
        store_employees(app)
        with app.extensions["parcours"].db.session() as session:
            token, _ = create_token(session, "hr", "test fuseau")
        client = app.test_client()
        their_today = app.extensions["parcours"].settings.today()
        assert their_today != dt.datetime.now(dt.timezone.utc).date()
        held = post(client, token, matricule="E0003", type="periodique", status="held", date=their_today.isoformat())
        assert held.status_code == 201, held.json
        tomorrow = post(client, token, matricule="E0003", type="periodique", status="held",
                        date=(their_today + dt.timedelta(days=1)).isoformat())
        assert tomorrow.status_code == 422
        assert tomorrow.json["errors"][0]["reason"] == "un entretien tenu ou refusé ne peut pas être daté dans le futur"
    finally:
        app.extensions["parcours"].close()
