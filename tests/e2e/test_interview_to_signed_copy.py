"""From a held interview to the copies in everyone's inbox, in a real browser, on SQLite and PostgreSQL: the
interviewer writes the content, the compte rendu is generated and sent for signature, the manager then the
employee sign in Chromium, every party receives the PDF from a real SMTP server, the PDF validates, the
interview is held and the next one due four years on. The same with a refusal, confirmed in the browser."""

from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from api_helpers import SAMPLES, database, lend_pool
from docgen.formatting import date as french_date
from parcours.app import create_app
from parcours.service import interviews
from parcours.service import pki as instance_pki
from parcours.service.audit import Actor
from parcours.service.tokens import create_token
from parcours.service.users import create_user
from parcours.settings import Settings
from signing_flow import MailInbox, service_today, store_employees

pytestmark = pytest.mark.libreoffice
SHOTS = Path(__file__).parent / "screenshots"
MANAGER, EMPLOYEE = "francois.rousseau@atelier-lumiere.example", "moussa.ndiaye@atelier-lumiere.example"
HR = "claire.martin@atelier-lumiere.example"
CONTENT = {
    "parcours": "Depuis le dernier entretien, prise en charge de la maintenance préventive de la ligne 2.",
    "competences": "Soudage TIG maîtrisé ; habilitation électrique B1V obtenue en 2025.",
    "besoins_formation": "Formation souhaitée : automatismes industriels.",
    "souhaits": "Évoluer vers un poste de technicien de maintenance confirmé.",
    "cpf_cep": "Le salarié connaît son CPF ; les coordonnées du CEP lui ont été remises.",
    "information_vae": True, "information_cpf": True, "information_cep": True,
}


class Inbox(MailInbox):
    def link(self, address):
        return re.findall(r"https?://\S+/signer/[A-Za-z0-9_-]+", self.to(address)[-1].get_body(("plain",)).get_content())[-1]

    def pdfs(self, address):
        return [p.get_content() for p in self.to(address)[-1].iter_attachments()]


def _port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pool):
    """(app, base URL, inbox, hr headers, interview id): the service under waitress with a real SMTP server,
    E0003's periodic interview held three days ago, an HR person who receives the copies."""
    from waitress import create_server

    box = Inbox()
    smtp = Controller(box, hostname="127.0.0.1", port=_port())
    smtp.start()
    port = _port()
    with database(request.param, tmp_path) as url:
        instance_pki.forget()
        app = create_app(Settings(instance_dir=tmp_path / "instance", database_url=url, workers=1,
                                  smtp_url=f"smtp://127.0.0.1:{smtp.port}", public_url=f"http://127.0.0.1:{port}",
                                  organisation="Atelier Lumière", mail_from="rh@atelier-lumiere.example"))
        lend_pool(app, pool)
        store_employees(app)
        with app.extensions["parcours"].db.session() as session:
            create_user(session, email=HR, name="Claire Martin", roles=["hr"], by=Actor("test", "cli"))
            token, _ = create_token(session, "hr", "Claire Martin")
            interview_id = interviews.record(session, matricule="E0003", type="periodique", status="planned",
                                             today=service_today(),
                                             date=service_today() - dt.timedelta(days=3), created_by="test").id
        server = create_server(app, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        try:
            yield app, f"http://127.0.0.1:{port}", box, {"Authorization": f"Bearer {token}"}, interview_id
        finally:
            server.close()
            app.extensions["parcours"].close()
            smtp.stop()
            instance_pki.forget()


def _off_thread(function, *args, **kwargs):
    """pyHanko's synchronous API needs a thread without Playwright's running event loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(function, *args, **kwargs).result()


def _write_and_generate(app, hr, interview_id):
    client = app.test_client()
    saved = client.put(f"/api/v1/interviews/{interview_id}/compte-rendu", json={"sections": CONTENT}, headers=hr)
    assert saved.status_code == 200 and saved.json["status"] == "complete", saved.json
    campaign = __import__("json").loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    values = {k: v for k, v in campaign.items() if k not in ("salaries", "compte_rendu")}
    made = _off_thread(client.post, f"/api/v1/interviews/{interview_id}/compte-rendu/document",
                       json={"values": values, "sign": True}, headers=hr)
    assert made.status_code == 201 and made.json["email_sent"], made.json
    return made.json["document_id"]


def test_held_interview_to_signed_copies_in_the_browser(browser, service):
    app, base, box, hr, interview_id = service
    document_id = _write_and_generate(app, hr, interview_id)
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(box.link(MANAGER))
    assert page.locator("header").inner_text().startswith("Atelier Lumière")
    assert "Atelier Lumière" in page.title()
    page.screenshot(path=str(SHOTS / "signer-organisation.png"))
    page.check("#consent")
    page.click("#signer")
    assert "Merci" in page.inner_text("h1")

    page.goto(box.link(EMPLOYEE))
    page.fill("#commentaires", "Je remercie mon responsable pour cet échange.")
    page.check("#consent")
    page.click("#signer")
    assert "chacun en reçoit un exemplaire par e-mail" in page.inner_text("main")

    client = app.test_client()
    versions = client.get(f"/api/v1/documents/{document_id}/versions", headers=hr).json["items"]
    final = client.get(versions[-1]["links"]["pdf"], headers=hr).data
    assert versions[-1]["kind"] == "sealed"
    for address in (EMPLOYEE, MANAGER, HR):
        assert box.pdfs(address) == [final], address
    report = _off_thread(client.post, "/api/v1/verifications", headers={**hr, "Content-Type": "application/pdf"},
                         data=final).json
    assert report["indication"] == "TOTAL_PASSED", report
    # « remise le »: the day the employee signed, which is the day the copy was e-mailed to him.
    path = SHOTS / "signed-copy.pdf"
    path.write_bytes(final)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    assert re.search(rf"Copie remise au salarié le (\[\[CHAMP_REMISE\]\] )?{french_date(service_today())}, par e-mail", text)
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(path), str(SHOTS / "signed-copy")], check=True)
    interview = client.get("/api/v1/interviews", query_string={"matricule": "E0003"}, headers=hr).json["items"][0]
    assert interview["status"] == "held" and interview["document_id"] == document_id
    held_on = service_today() - dt.timedelta(days=3)
    later = (service_today() + dt.timedelta(days=4 * 366)).isoformat()
    due = client.get("/api/v1/employees/E0003/due", query_string={"on": later}, headers=hr).json["items"]
    assert [d["deadline"] for d in due if d["type"] == "periodique"] == [held_on.replace(year=held_on.year + 4).isoformat()]


def test_a_refusal_confirmed_in_the_browser_is_written_into_the_sealed_copy(browser, service, tmp_path):
    app, base, box, hr, interview_id = service
    document_id = _write_and_generate(app, hr, interview_id)
    page = browser.new_page()
    page.goto(box.link(MANAGER))
    page.check("#consent")
    page.click("#signer")
    page.goto(box.link(EMPLOYEE))
    page.click("summary")
    page.fill("#raison", "Le point sur la mobilité ne reflète pas l'entretien.")
    page.click("#refuser")
    page.click("#confirmer-refus")
    assert "Votre refus est enregistré" in page.inner_text("h1")

    client = app.test_client()
    versions = client.get(f"/api/v1/documents/{document_id}/versions", headers=hr).json["items"]
    assert versions[-1]["kind"] == "refused"
    pdf = client.get(versions[-1]["links"]["pdf"], headers=hr).data
    path = tmp_path / "refus.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())
    assert (f"Le salarié a refusé de signer le {french_date(service_today())} : motif « Le point sur la mobilité "
            "ne reflète pas l'entretien. »") in text
    assert f"{french_date(service_today())}, par e-mail" in text  # his copy's « remise le », as a signed one
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "2", "-l", "2", "-singlefile", str(path),
                    str(SHOTS / "refused-version-page-2")], check=True)
    report = _off_thread(client.post, "/api/v1/verifications", headers={**hr, "Content-Type": "application/pdf"},
                         data=pdf).json
    assert report["indication"] == "TOTAL_PASSED", report
    assert box.to(HR)[-1]["Subject"].startswith("Refus de signature") and box.pdfs(HR) == [pdf]
    assert box.pdfs(EMPLOYEE) == [pdf]
