"""A campaign of the 25 sample employees over HTTP, on SQLite and PostgreSQL, with a real SMTP server (aiosmtpd):
convocations made by LibreOffice and e-mailed with the convocation, the trame and an iCalendar invitation;
acknowledgements clicked; a move and a cancellation mailed; statuses, counts, tracking and exports checked."""

from __future__ import annotations

import csv
import re
import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import requests
from campaign_flow import CAMPAIGN, LINK, Inbox, attachments, event, free_port, invitation, text
from signing_flow import store_employees
from waitress import create_server

from api_helpers import database
from parcours.app import create_app
from parcours.service.tokens import create_token
from parcours.settings import Settings

pytestmark = pytest.mark.libreoffice
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def inbox():
    box = Inbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path, inbox, pool):
    """The service with its jobs under waitress in a thread: (app, base URL, hr headers)."""
    with database(request.param, tmp_path) as url:
        port = free_port()
        settings = Settings(instance_dir=tmp_path / "instance", database_url=url, workers=1,
                            smtp_url=f"smtp://127.0.0.1:{inbox.controller.port}", public_url=f"http://127.0.0.1:{port}",
                            organisation="Atelier Lumière", mail_from="rh@atelier-lumiere.example")
        app = create_app(settings)
        services = app.extensions["parcours"]
        services._converter = pool  # the session's LibreOffice pool: starting one costs seconds
        store_employees(app)
        with services.db.session() as session:
            hr = {"Authorization": f"Bearer {create_token(session, 'hr', 'test')[0]}"}
        server = create_server(app, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        yield app, f"http://127.0.0.1:{port}", hr
        server.close()
        services._converter = None
        services.close()


def test_a_campaign_of_the_sample_employees_is_convoked_acknowledged_moved_cancelled_and_exported(live, inbox):
    app, base, hr = live
    api = f"{base}/api/v1"
    created = requests.post(f"{api}/campaigns", json=CAMPAIGN, headers=hr, timeout=60)
    assert created.status_code == 201, created.text
    campaign = created.json()
    total = campaign["total"]
    assert total >= 20 and campaign["counts"]["to_plan"] == total

    interviews = {i["matricule"]: i for i in requests.get(f"{api}/interviews", params={"campaign": campaign["id"]},
                                                          headers=hr, timeout=30).json()["items"]}
    # E0001 has no manager and no interlocuteur was named: no convocation, « à planifier » with the reason.
    assert interviews["E0001"]["status"] == "to_plan" and "pas de responsable" in interviews["E0001"]["reason"]
    sent = [m for m, i in interviews.items() if m != "E0001"]
    inbox.wait(lambda: len({m["To"] for m in inbox.messages}) >= len(sent) + 1, what="every convocation")

    def status_counts():
        return requests.get(f"{api}/campaigns/{campaign['id']}", headers=hr, timeout=30).json()["counts"]

    inbox.wait(lambda: status_counts()["convoked"] == len(sent), seconds=60, what="statuses convoked")
    employees = {m: requests.get(f"{api}/employees/{m}", headers=hr, timeout=30).json() for m in ("E0003", "E0005")}
    e3 = [m for m in inbox.to(employees["E0003"]["email"]) if "votre entretien" in m["Subject"]]
    assert len(e3) == 1
    message = e3[0]
    assert message["From"] == "Atelier Lumière <rh@atelier-lumiere.example>"
    assert message["Message-ID"] == f"<convocation-{interviews['E0003']['id']}-v1-salarie@atelier-lumiere.example>"
    assert message.get_body(preferencelist=("html",)) is not None
    files = attachments(message)
    assert sorted(files) == ["convocation-E0003.pdf", "invitation.ics", "trame-E0003.pdf"]
    assert files["convocation-E0003.pdf"][1].startswith(b"%PDF") and files["trame-E0003.pdf"][1].startswith(b"%PDF")
    assert files["invitation.ics"][0] == "text/calendar"
    calendar = invitation(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    first = event(calendar)
    slot = dt.datetime.combine(dt.date.fromisoformat(interviews["E0003"]["date"]),
                               dt.time.fromisoformat(interviews["E0003"]["heure"]), tzinfo=PARIS)
    start = first.decoded("DTSTART")
    assert start == slot and str(start.tzinfo) == "Europe/Paris" and int(first["SEQUENCE"]) == 0
    manager = requests.get(f"{api}/employees/{employees['E0003']['manager_matricule']}", headers=hr, timeout=30).json()
    attendees = [str(a).lower() for a in first.get("ATTENDEE")]
    assert f"mailto:{manager['email']}".lower() in attendees
    assert str(first["ORGANIZER"]) == "mailto:rh@atelier-lumiere.example" and "Fourvière" in str(first["LOCATION"])
    assert "le lundi" in message["Subject"] or " h" in message["Subject"]
    # The interviewer gets the invitation too.
    to_manager = [m for m in inbox.to(manager["email"]) if "N'Diaye" in m["Subject"]]
    assert len(to_manager) == 1 and sorted(attachments(to_manager[0])) == ["invitation.ics"]

    # The acknowledgement: the page by the link (nothing recorded), then one click.
    link = LINK.search(text(message)).group(0)
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "J'ai bien reçu ma convocation" in page.text
    assert requests.get(f"{api}/interviews/{interviews['E0003']['id']}", headers=hr, timeout=30).json()["status"] == "convoked"
    clicked = requests.post(link, headers={"User-Agent": "Navigateur d'essai"}, timeout=30)
    assert clicked.status_code == 200 and "votre confirmation est enregistrée" in clicked.text
    e3_view = requests.get(f"{api}/interviews/{interviews['E0003']['id']}", headers=hr, timeout=30).json()
    assert e3_view["status"] == "acknowledged" and e3_view["status_label"] == "convocation reçue"
    [version] = e3_view["convocations"]
    assert version["acknowledged_ip"] == "127.0.0.1" and version["acknowledged_user_agent"] == "Navigateur d'essai"
    assert [e["status"] for e in version["emails"]] == ["sent", "sent"]
    trail = requests.get(f"{api}/audit/events", params={"subject_type": "interview", "subject_id": e3_view["id"]},
                         headers=hr, timeout=30).json()["items"]
    [ack] = [e for e in trail if e["type"] == "convocation.acknowledged"]
    assert ack["ip"] == "127.0.0.1" and ack["user_agent"] == "Navigateur d'essai"
    assert requests.post(link, timeout=30).status_code == 200  # a second click changes nothing
    assert len([e for e in requests.get(f"{api}/audit/events", params={"subject_type": "interview",
                "subject_id": e3_view["id"]}, headers=hr, timeout=30).json()["items"]
                if e["type"] == "convocation.acknowledged"]) == 1

    # A move: a new convocation version, the same UID and a higher SEQUENCE.
    e4 = interviews["E0004"]
    moved = requests.post(f"{api}/interviews/{e4['id']}/move", json={"date": "2027-02-15", "heure": "16:00"},
                          headers=hr, timeout=60)
    assert moved.status_code == 200, moved.text
    e4_email = requests.get(f"{api}/employees/E0004", headers=hr, timeout=30).json()["email"]

    def own(address):  # E0004 and E0005 lead others' interviews too: their own convocations only
        return [m for m in inbox.to(address) if "votre entretien" in m["Subject"]]

    inbox.wait(lambda: len(own(e4_email)) == 2, seconds=120, what="the new convocation")
    before, after = (event(invitation(m)) for m in own(e4_email))
    assert str(after["UID"]) == str(before["UID"]) and int(after["SEQUENCE"]) == 1
    assert after.decoded("DTSTART") == dt.datetime(2027, 2, 15, 16, 0, tzinfo=PARIS)
    assert own(e4_email)[1]["Subject"].startswith("Nouvelle date")
    assert sorted(attachments(own(e4_email)[1])) == ["convocation-E0004.pdf", "invitation.ics", "trame-E0004.pdf"]
    old_link = LINK.search(text(own(e4_email)[0])).group(0)
    assert requests.post(old_link, timeout=30).status_code == 410  # the first version's link is replaced

    # A cancellation: METHOD:CANCEL, same UID, the next SEQUENCE.
    e5 = interviews["E0005"]
    assert requests.post(f"{api}/interviews/{e5['id']}/cancel", json={}, headers=hr, timeout=30).status_code == 422
    cancelled = requests.post(f"{api}/interviews/{e5['id']}/cancel", json={"reason": "Départ en congé sabbatique"},
                              headers=hr, timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    e5_email = employees["E0005"]["email"]
    inbox.wait(lambda: len(own(e5_email)) == 2, seconds=60, what="the cancellation")
    convocation, cancellation = own(e5_email)
    cancel = event(invitation(cancellation))
    assert cancellation["Subject"].startswith("Annulé") and sorted(attachments(cancellation)) == ["invitation.ics"]
    assert str(invitation(cancellation)["METHOD"]) == "CANCEL" and str(cancel["STATUS"]) == "CANCELLED"
    assert str(cancel["UID"]) == str(event(invitation(convocation))["UID"]) and int(cancel["SEQUENCE"]) == 1
    assert requests.post(f"{api}/interviews/{e5['id']}/move", json={"date": "2027-02-16"}, headers=hr,
                         timeout=30).status_code == 409

    inbox.wait(lambda: status_counts()["rescheduled"] == 1, seconds=60, what="the move's convocation sent")
    counts = status_counts()
    assert counts == {"to_plan": 1, "convoked": len(sent) - 3, "acknowledged": 1, "rescheduled": 1, "held": 0,
                      "refused": 0, "cancelled": 1}
    tracking = requests.get(f"{api}/campaigns/{campaign['id']}/tracking", headers=hr, timeout=30).json()
    assert sum(group["total"] for group in tracking["by_service"]) == total
    assert tracking["by_manager"][0]["late"] >= tracking["by_manager"][-1]["late"]
    # The legal calendar: E0001 is not planned; E0003 is.
    due: dict[str, set] = {}
    for item in requests.get(f"{api}/employees/due", params={"before": "2027-03-31", "on": "2026-12-01"}, headers=hr,
                             timeout=30).json()["items"]:
        due.setdefault(item["matricule"], set()).add(item["planned_on"])
    assert due["E0001"] == {None} and interviews["E0003"]["date"] in due["E0003"]

    # Exports: « ; » with a BOM, and XLSX.
    exported = requests.get(f"{api}/campaigns/{campaign['id']}/export", params={"format": "csv"}, headers=hr, timeout=30)
    assert exported.content.startswith("\ufeff".encode()) and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == total
    by_matricule = {row["matricule"]: row for row in rows}
    assert by_matricule["E0001"]["état"] == "à planifier" and "pas de responsable" in by_matricule["E0001"]["raison"]
    assert by_matricule["E0003"]["état"] == "convocation reçue" and by_matricule["E0003"]["reçue le"]
    workbook = openpyxl.load_workbook(io.BytesIO(requests.get(
        f"{api}/campaigns/{campaign['id']}/export", params={"format": "xlsx"}, headers=hr, timeout=30).content))
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["matricule", "nom", "prénom"] and sheet.max_row == total + 1
    assert {r[header.index("état")] for r in sheet.iter_rows(min_row=2, values_only=True)} >= {"convoqué", "annulé"}


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_a_refused_message_shows_on_the_interview_and_a_job_sends_it_again_and_paper_letters_are_printable(
        live, inbox, monkeypatch):
    from pypdf import PdfReader
    from sqlalchemy import update

    from parcours.models import Employee
    from parcours.service import convocations

    app, base, hr = live
    api = f"{base}/api/v1"
    monkeypatch.setattr(convocations, "RETRY_DELAYS", (dt.timedelta(seconds=1), dt.timedelta(seconds=1)))
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(Employee).where(Employee.matricule == "E0009").values(email=""))
        session.commit()
    address = requests.get(f"{api}/employees/E0003", headers=hr, timeout=30).json()["email"]
    inbox.refused.add(address)
    created = requests.post(f"{api}/campaigns", json={**CAMPAIGN, "population": {"matricules": ["E0003", "E0009"]}},
                            headers=hr, timeout=60).json()
    e3, e9 = sorted(requests.get(f"{api}/interviews", params={"campaign": created["id"]}, headers=hr,
                                 timeout=30).json()["items"], key=lambda i: i["matricule"])

    def emails():
        return requests.get(f"{api}/interviews/{e3['id']}", headers=hr, timeout=30).json()["convocations"][0]["emails"]

    inbox.wait(lambda: any(e["role"] == "salarie" and e["status"] == "failed" for e in emails()), seconds=120,
               what="the refusal recorded")
    [refused] = [e for e in emails() if e["role"] == "salarie"]
    assert "550" in refused["error"] and refused["attempts"] == 1
    assert requests.get(f"{api}/interviews/{e3['id']}", headers=hr, timeout=30).json()["status"] == "to_plan"
    inbox.refused.clear()
    inbox.wait(lambda: len(inbox.to(address)) == 1, seconds=30, what="the retry")
    # The job records the send after the SMTP server has the message: wait for that commit too.
    inbox.wait(lambda: any(e["role"] == "salarie" and e["status"] == "sent" for e in emails()), seconds=30,
               what="the retry recorded")
    [sent] = [e for e in emails() if e["role"] == "salarie"]
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert requests.get(f"{api}/interviews/{e3['id']}", headers=hr, timeout=30).json()["status"] == "convoked"
    trail = [e["type"] for e in requests.get(f"{api}/audit/events", params={"subject_type": "interview",
             "subject_id": e3["id"]}, headers=hr, timeout=30).json()["items"]]
    assert trail.count("email.failed") == 1 and "convocation.sent" in trail

    # E0009 has no e-mail address: a letter to print, the interview « à planifier » until it is handed over.
    def e9_view():
        return requests.get(f"{api}/interviews/{e9['id']}", headers=hr, timeout=30).json()

    inbox.wait(lambda: e9_view()["convocations"][0]["status"] == "paper", seconds=60, what="the paper letter")
    assert e9_view()["status"] == "to_plan" and "main propre" in e9_view()["reason"]
    printed = requests.get(f"{api}/campaigns/{created['id']}/paper.pdf", headers=hr, timeout=60)
    assert printed.status_code == 200 and printed.headers["Content-Type"] == "application/pdf"
    pages = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(printed.content)).pages)
    assert "Girard" in pages and "N'Diaye" not in pages
    numbers = re.findall(r"Page (\d+) sur (\d+)", pages)
    assert numbers[0] == ("1", numbers[0][1]) and numbers.count(("1", numbers[-1][1])) == 1  # each letter numbered alone
