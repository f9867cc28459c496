"""After the last signature every party receives the PDF (real SMTP server, aiosmtpd), the employee with a
download link; a refusal is written into a sealed version that validates; the interview is then held and the
calendar moves on. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess

import pytest
from aiosmtpd.controller import Controller
from signing_flow import (MATRICULE, MailInbox, fresh_app, real_compte_rendu, service_today, store_document,
                          store_employees)

from api_helpers import database, lend_pool
from parcours.models import AuditEvent, CopyLink, WebhookMessage
from parcours.service import interviews, webhooks
from parcours.service.audit import Actor
from parcours.service.tokens import create_token
from parcours.service.users import create_user
from parcours.settings import Settings

pytestmark = pytest.mark.libreoffice
MANAGER = "francois.rousseau@atelier-lumiere.example"
EMPLOYEE = "moussa.ndiaye@atelier-lumiere.example"
HR = "claire.rh@atelier-lumiere.example"
SIGN = re.compile(r"/signer/([A-Za-z0-9_-]{20,})")
COPY = re.compile(r"https://parcours\.example/copie/([A-Za-z0-9_-]{20,})")


class Inbox(MailInbox):
    @staticmethod
    def text(message) -> str:
        return message.get_body(("plain",)).get_content()

    @staticmethod
    def pdfs(message) -> list[bytes]:
        return [part.get_content() for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


@pytest.fixture
def inbox():
    box = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, inbox):
    with database(request.param, tmp_path) as url:
        settings = Settings(instance_dir=tmp_path / "instance", database_url=url, run_jobs=False, workers=1,
                            smtp_url=f"smtp://127.0.0.1:{inbox[1]}", public_url="https://parcours.example",
                            organisation="Atelier Lumière", mail_from="rh@atelier-lumiere.example")
        with fresh_app(settings) as application:
            yield application


@pytest.fixture
def held(app, compte_rendu):
    """(hr headers, document id, interview id): E0003's compte rendu, its interview three days ago, an HR user."""
    store_employees(app)
    document_id = store_document(app, *compte_rendu)
    with app.extensions["parcours"].db.session() as session:
        create_user(session, email=HR, name="Claire Martin", roles=["hr"], by=Actor("test", "token"))
        interview = interviews.record(session, matricule=MATRICULE, type="periodique", status="planned", today=service_today(),
                                      date=service_today() - dt.timedelta(days=3), created_by="test",
                                      document_id=document_id)
        token, _ = create_token(session, "hr", "test")
        interview_id = interview.id
    return {"Authorization": f"Bearer {token}"}, document_id, interview_id


def _sign(client, box, address, body):
    token = SIGN.findall(Inbox.text(box.to(address)[-1]))[-1]
    response = client.post(f"/api/v1/sign/{token}", json=body)
    assert response.status_code == 200, response.json
    return response.json


def _validate(client, hr, pdf):
    report = client.post("/api/v1/verifications", headers={**hr, "Content-Type": "application/pdf"}, data=pdf).json
    assert report["indication"] == "TOTAL_PASSED", report
    return report


def _events(app, type_):
    with app.extensions["parcours"].db.session() as session:
        return [e.data for e in session.query(AuditEvent).filter(AuditEvent.type == type_).order_by(AuditEvent.id)]


def test_every_party_receives_the_signed_pdf_and_the_employee_a_download_link(app, held, inbox):
    hr, document_id, interview_id = held
    box, _ = inbox
    client = app.test_client()
    with app.extensions["parcours"].db.session() as session:
        webhooks.create_endpoint(session, url="https://sirh.example/parcours", event_types=["document.delivered"],
                                 description="SIRH", created_by="test")
    assert client.post(f"/api/v1/documents/{document_id}/signature-requests", json={}, headers=hr).status_code == 201
    assert box.to(MANAGER)[0]["From"] == "Atelier Lumière <rh@atelier-lumiere.example>"
    _sign(client, box, MANAGER, {"consent": True})
    done = _sign(client, box, EMPLOYEE, {"consent": True, "comments": "Je souhaite une formation au soudage TIG."})
    assert done["status"] == "completed"
    final = client.get(f"/api/v1/documents/{document_id}/versions/{done['final_version']}/pdf", headers=hr).data

    for address in (EMPLOYEE, MANAGER, HR):
        copy = box.to(address)[-1]
        assert Inbox.pdfs(copy) == [final], address  # the sealed version itself, attached
    employee = box.to(EMPLOYEE)[-1]
    assert employee["Subject"].startswith("Votre exemplaire signé : Compte rendu")
    today = service_today()
    text = Inbox.text(employee)
    assert "il vous est remis ce jour" in text and "L.\u00a06315-1 du code du travail" in text
    assert box.to(HR)[-1]["Subject"].startswith("Signé par tous : ")
    delivered = _events(app, "copy.delivered")
    assert sorted(e["role"] for e in delivered) == ["hr", "manager", "salarie"]
    assert all(e["delivered_on"] == today.isoformat() and e["version"] == done["final_version"] for e in delivered)
    with app.extensions["parcours"].db.session() as session:
        told = [json.loads(m.body) for m in session.query(WebhookMessage)]
    assert [(m["type"], m["data"]["outcome"], m["data"]["interview_id"], sorted(m["data"]["delivered_to"]))
            for m in told] == [("document.delivered", "signed", interview_id, ["hr", "manager", "salarie"])]

    # The link works 90 days, kept only as its hash; each download is recorded.
    token = COPY.search(text).group(1)
    downloaded = client.get(f"/copie/{token}")
    assert downloaded.status_code == 200 and downloaded.data == final
    assert "attachment" in downloaded.headers["Content-Disposition"]
    with app.extensions["parcours"].db.session() as session:
        link = session.query(CopyLink).one()
        assert token not in (link.token_hash, link.email) and link.downloads == 1
        assert (link.expires_at - link.created_at).days == 90
        link.expires_at = link.created_at  # as if 90 days had passed
    assert client.get(f"/copie/{token}").status_code == 410
    assert client.get("/copie/" + "x" * 43).status_code == 404
    downloaded_event = _events(app, "copy.downloaded")[0]
    assert downloaded_event["downloads"] == 1
    assert downloaded_event["acteur"] == {"methode": "link", "roles": ["salarie"], "nom": "Moussa N'Diaye"}

    # HR may send the copies again (a new link; the first one stays valid until its own end).
    again = client.post(f"/api/v1/signature-requests/{done['signature_request_id']}/copies", headers=hr)
    assert again.status_code == 200 and sorted(e["role"] for e in again.json["items"]) == ["hr", "manager", "salarie"]
    assert len(box.to(EMPLOYEE)) == 3 and Inbox.pdfs(box.to(EMPLOYEE)[-1]) == [final]  # link, copy, copy again
    _validate(client, hr, final)
    # The interview is held; the calendar counts it: the next periodic interview four years after.
    interview = client.get("/api/v1/interviews", query_string={"matricule": MATRICULE}, headers=hr).json["items"]
    assert [(i["id"], i["status"]) for i in interview] == [(interview_id, "held")]
    due = client.get(f"/api/v1/employees/{MATRICULE}/due", headers=hr).json["items"]
    assert not [d for d in due if d["type"] == "periodique"]  # it was overdue before (2024)
    later = (today + dt.timedelta(days=4 * 366)).isoformat()
    due = client.get(f"/api/v1/employees/{MATRICULE}/due", query_string={"on": later}, headers=hr).json["items"]
    held_on = today - dt.timedelta(days=3)
    assert [d["deadline"] for d in due if d["type"] == "periodique"] == [held_on.replace(year=held_on.year + 4).isoformat()]


def test_a_refusal_is_written_into_a_sealed_version_that_everyone_receives(app, held, inbox, tmp_path):
    hr, document_id, interview_id = held
    box, _ = inbox
    client = app.test_client()
    created = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={}, headers=hr)
    assert created.status_code == 201
    _sign(client, box, MANAGER, {"consent": True})
    pending = client.post(f"/api/v1/signature-requests/{created.json['id']}/copies", headers=hr)
    assert pending.status_code == 409 and pending.mimetype == "application/problem+json"
    token = SIGN.findall(Inbox.text(box.to(EMPLOYEE)[-1]))[-1]
    reason = "Je ne suis pas d’accord avec la rédaction du point 4."
    refused = client.post(f"/api/v1/sign/{token}/refuse", json={"reason": reason})
    assert refused.status_code == 200, refused.json
    assert client.post(f"/api/v1/signature-requests/{refused.json['signature_request_id']}/copies",
                       headers=hr).status_code == 200  # after a refusal too
    versions = client.get(f"/api/v1/documents/{document_id}/versions", headers=hr).json["items"]
    assert [v["kind"] for v in versions][-1] == "refused"
    pdf = client.get(f"/api/v1/documents/{document_id}/versions/{versions[-1]['number']}/pdf", headers=hr).data
    path = tmp_path / "refus.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    from docgen.formatting import date

    assert f"Le salarié a refusé de signer le {date(service_today())} : motif « {reason} »" in text
    report = _validate(client, hr, pdf)
    assert [s["kind"] for s in report["signatures"]] == ["signature", "document_timestamp"]

    hr_mail = box.to(HR)[-1]
    assert hr_mail["Subject"].startswith("Refus de signature : ") and reason in Inbox.text(hr_mail)
    assert Inbox.pdfs(hr_mail) == [pdf] and Inbox.pdfs(box.to(MANAGER)[-1]) == [pdf]
    assert Inbox.pdfs(box.to(EMPLOYEE)[-1]) == [pdf] and COPY.search(Inbox.text(box.to(EMPLOYEE)[-1]))
    interview = client.get("/api/v1/interviews", query_string={"matricule": MATRICULE}, headers=hr).json["items"][0]
    assert interview["status"] == "held" and "refus de signature" in interview["note"]


def test_the_etat_des_lieux_is_signed_by_hr_then_the_employee_through_the_same_flow(app, held, inbox, pool, tmp_path):
    from api_helpers import SAMPLES
    hr, _, _ = held
    box, _ = inbox
    lend_pool(app, pool)
    client = app.test_client()
    campaign = json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    values = {k: v for k, v in campaign.items() if k not in ("salaries", "compte_rendu")}
    values["entretien"] = {**values["entretien"], "type": "etat_des_lieux", "date": service_today().isoformat()}
    made = client.post("/api/v1/documents", json={"template": "etat_des_lieux", "matricule": MATRICULE,
                                                  "values": values}, headers=hr)
    assert made.status_code == 201, made.json
    document_id = made.json["id"]
    # The employer's representative is the letter's signatory (HR): the data has no address for her.
    refused = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={}, headers=hr)
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "signers[0].email"
    assert "absent des données" in refused.json["errors"][0]["reason"]
    signers = [{"role": "manager", "name": "Claire Martin", "email": HR}, {"role": "salarie"}]
    created = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={"signers": signers}, headers=hr)
    assert created.status_code == 201, created.json
    assert [(s["name"], s["title"]) for s in created.json["signers"]] == [
        ("Claire Martin", "Responsable des ressources humaines"), ("M. Moussa N'Diaye", "Salarié")]
    token = SIGN.findall(Inbox.text(box.to(HR)[-1]))[-1]
    page = client.get(f"/api/v1/sign/{token}").json
    assert "état des lieux récapitulatif pour l'employeur" in page["consent_text"]
    assert page["document"]["name"].startswith("État des lieux récapitulatif du parcours professionnel")
    _sign(client, box, HR, {"consent": True})
    done = _sign(client, box, EMPLOYEE, {"consent": True, "comments": "Bien reçu."})
    assert done["status"] == "completed"
    final = client.get(f"/api/v1/documents/{document_id}/versions/{done['final_version']}/pdf", headers=hr).data
    report = _validate(client, hr, final)
    assert [s["kind"] for s in report["signatures"]] == ["signature", "signature", "document_timestamp"]
    assert Inbox.pdfs(box.to(EMPLOYEE)[-1]) == [final]
    assert box.to(EMPLOYEE)[-1]["Subject"].startswith("Votre exemplaire signé : État des lieux")
    path = tmp_path / "etat.pdf"
    path.write_bytes(final)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    from docgen.formatting import date

    assert "Bien reçu." in text and f"{date(service_today())}, par e-mail" in text  # the comment, « remise le »
