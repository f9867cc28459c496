"""The signature workflow over HTTP with a real SMTP server (aiosmtpd on 127.0.0.1): links e-mailed, the
manager then the employee sign, the sealed PDF checked by pyHanko and poppler; refusal, expiry, reused
links, wrong codes, a race, a crash before the store, an edited audit row."""

from __future__ import annotations

import datetime as dt
import email
import re
import shutil
import socket
import subprocess
import threading

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from signing_flow import LINK, fresh_app, real_compte_rendu, store_document, store_employees
from sqlalchemy import update

from parcours.cli import main
from parcours.http.web.signer import form_token
from parcours.models import SignatureRequest
from parcours.service import pki as instance_pki
from parcours.service import signatures
from parcours.service.tokens import create_token
from parcours.settings import Settings
from signing import pades

pytestmark = pytest.mark.libreoffice
CODE = re.compile(r"code de signature : (\d{6})")


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address):
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def body(self, message):
        return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")

    def last_link(self, address):
        return LINK.findall(self.body(self.to(address)[-1]))[-1]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def app(tmp_path, inbox):
    settings = Settings(instance_dir=tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                        run_jobs=False, workers=1, smtp_url=f"smtp://127.0.0.1:{inbox[1]}",
                        public_url="https://parcours.example")
    with fresh_app(settings) as application:
        yield application


@pytest.fixture
def hr(app):
    with app.extensions["parcours"].db.session() as session:
        return {"Authorization": f"Bearer {create_token(session, 'hr', 'test')[0]}"}


@pytest.fixture
def document_id(app, compte_rendu):
    store_employees(app)
    return store_document(app, *compte_rendu)


MANAGER = "francois.rousseau@atelier-lumiere.example"
EMPLOYEE = "moussa.ndiaye@atelier-lumiere.example"


def _create(client, hr, document_id, **body):
    response = client.post(f"/api/v1/documents/{document_id}/signature-requests", json=body, headers=hr)
    assert response.status_code == 201, response.json
    return response.json


def test_the_whole_workflow_with_codes_ends_in_a_valid_b_lta_pdf(app, hr, document_id, inbox, tmp_path):
    box, _ = inbox
    client = app.test_client()
    created = _create(client, hr, document_id, require_code=True)
    assert created["email_sent"] and [s["status"] for s in created["signers"]] == ["sent", "waiting"]
    assert not box.to(EMPLOYEE)  # the employee's turn comes after the manager's
    body = box.body(box.to(MANAGER)[0])
    assert "Compte rendu" in body and "valable jusqu'au" in body and "https://parcours.example/signer/" in body
    for address, comments in ((MANAGER, None), (EMPLOYEE, "Je souhaite une formation au soudage TIG.")):
        token = box.last_link(address)
        page = client.get(f"/api/v1/sign/{token}")
        assert page.status_code == 200 and page.json["document"]["pages"] >= 1
        assert client.get(f"/api/v1/sign/{token}/pdf").data.startswith(b"%PDF")
        assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 403  # code first
        assert client.post(f"/api/v1/sign/{token}/code").status_code == 200
        code = CODE.search(box.to(address)[-1]["Subject"]).group(1)
        assert client.post(f"/api/v1/sign/{token}/code/check", json={"code": code}).json == {"verified": True}
        signed = client.post(f"/api/v1/sign/{token}", json={"consent": True, "comments": comments})
        assert signed.status_code == 200, signed.json
        assert client.get(f"/api/v1/sign/{token}").status_code == 410  # the link is used
    state = client.get(f"/api/v1/signature-requests/{created['id']}", headers=hr).json
    assert state["status"] == "completed"
    assert [v["kind"] for v in state["versions"]] == ["prepared", "signed", "signed", "sealed"]
    assert state["signers"][1]["comments"] == "Je souhaite une formation au soudage TIG."
    final = client.get(state["versions"][-1]["links"]["pdf"], headers=hr).data
    root = instance_pki.authority(app.extensions["parcours"].settings).root_certificate
    reports = pades.verify(final, [root])
    assert [r.kind for r in reports] == ["signature", "signature", "document_timestamp"]
    for report in reports:
        assert report.intact and report.valid and report.trusted and report.bottom_line, report.summary
    assert reports[0].certification and reports[0].modification_level == "FORM_FILLING"
    assert reports[1].modification_level == "LTA_UPDATES"
    if shutil.which("pdfsig"):
        path = tmp_path / "final.pdf"
        path.write_bytes(final)
        out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout
        assert out.count("Signature Validation: Signature is Valid.") == 2, out
    events = client.get(f"/api/v1/audit/events?subject_type=signature_request&subject_id={created['id']}",
                        headers=hr).json["items"]
    types = [e["type"] for e in events]
    for expected in ("signature_request.created", "email.sent", "link.opened", "code.checked", "signed", "completed"):
        assert expected in types
    assert client.get("/api/v1/audit/verify", headers=hr).json["ok"]
    assert client.get("/api/v1/pki/root.pem").data.startswith(b"-----BEGIN CERTIFICATE")


def test_a_refusal_is_kept_with_its_reason(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    created = _create(client, hr, document_id)
    client.post(f"/api/v1/sign/{box.last_link(MANAGER)}", json={"consent": True})
    token = box.last_link(EMPLOYEE)
    assert client.post(f"/api/v1/sign/{token}/refuse", json={"reason": "Je conteste le compte rendu."}).status_code == 200
    state = client.get(f"/api/v1/signature-requests/{created['id']}", headers=hr).json
    assert state["status"] == "refused" and state["end_reason"] == "Je conteste le compte rendu."
    assert state["signers"][1]["status"] == "refused"
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 410


def test_an_expired_link_gives_410_and_expires_the_request(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    created = _create(client, hr, document_id)
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(SignatureRequest).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    response = client.get(f"/api/v1/sign/{box.last_link(MANAGER)}")
    assert response.status_code == 410 and response.json["request_status"] == "expired"
    assert client.get(f"/api/v1/signature-requests/{created['id']}", headers=hr).json["status"] == "expired"


def test_unknown_reused_and_out_of_turn_links(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id)
    token = box.last_link(MANAGER)
    assert client.get("/api/v1/sign/" + "x" * 43).status_code == 404
    assert client.post(f"/api/v1/sign/{token}", json={"consent": False}).status_code == 422
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 200
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 410


def test_three_wrong_codes_kill_the_code(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id, require_code=True)
    token = box.last_link(MANAGER)
    client.post(f"/api/v1/sign/{token}/code")
    code = CODE.search(box.to(MANAGER)[-1]["Subject"]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    statuses = [client.post(f"/api/v1/sign/{token}/code/check", json={"code": wrong}).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    assert client.post(f"/api/v1/sign/{token}/code/check", json={"code": code}).status_code == 422  # no code any more
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True, "code": code}).status_code == 422


def test_two_simultaneous_signatures_sign_once(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    created = _create(client, hr, document_id)
    token = box.last_link(MANAGER)
    results = []
    barrier = threading.Barrier(2)

    def attempt():
        barrier.wait()
        results.append(app.test_client().post(f"/api/v1/sign/{token}", json={"consent": True}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 410]
    state = client.get(f"/api/v1/signature-requests/{created['id']}", headers=hr).json
    assert [v["kind"] for v in state["versions"]] == ["prepared", "signed"]


def test_a_crash_before_the_store_leaves_the_previous_version_and_a_usable_link(app, hr, document_id, inbox, monkeypatch):
    box, _ = inbox
    client = app.test_client()
    created = _create(client, hr, document_id)
    token = box.last_link(MANAGER)
    real = signatures.new_version

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(signatures, "new_version", crash)
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 500
    state = client.get(f"/api/v1/signature-requests/{created['id']}", headers=hr).json
    assert [v["kind"] for v in state["versions"]] == ["prepared"] and state["signers"][0]["status"] == "sent"
    monkeypatch.setattr(signatures, "new_version", real)
    assert client.post(f"/api/v1/sign/{token}", json={"consent": True}).status_code == 200


def test_an_edited_audit_row_is_caught_by_parcours_audit_verify(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id)
    client.post(f"/api/v1/sign/{box.last_link(MANAGER)}", json={"consent": True})
    services = app.extensions["parcours"]
    env = {"PARCOURS_DATABASE_URL": services.settings.database_url,
           "PARCOURS_INSTANCE_DIR": str(services.settings.instance_dir)}
    assert CliRunner().invoke(main, ["audit", "verify"], env=env).exit_code == 0
    with services.db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        connection.exec_driver_sql("UPDATE audit_events SET actor = 'mallory' WHERE type = 'signed'")
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 1


def test_a_link_opened_again_and_again_is_one_event_per_half_hour(app, hr, document_id, inbox):
    from sqlalchemy import func, select

    from parcours.models import AuditEvent

    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id)
    token = box.last_link(MANAGER)
    for _ in range(5):
        assert client.get(f"/api/v1/sign/{token}").status_code == 200
        assert client.get(f"/signer/{token}").status_code == 200
    with app.extensions["parcours"].db.session() as session:
        opened = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.type == "link.opened"))
    assert opened == 1


def test_codes_are_sent_at_most_once_a_minute_per_link(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id, require_code=True)
    token = box.last_link(MANAGER)
    assert client.post(f"/api/v1/sign/{token}/code").status_code == 200
    again = client.post(f"/api/v1/sign/{token}/code")
    assert again.status_code == 429 and again.mimetype == "application/problem+json"
    page = client.post(f"/signer/{token}/code", data={"csrf_token": form_token(token)})
    assert page.status_code == 429 and "patientez une minute" in page.get_data(as_text=True)
    assert len(box.to(MANAGER)) == 2  # the link, and one code


def test_the_signing_page_forms_carry_the_link_token_and_a_forged_post_signs_nothing(app, hr, document_id, inbox):
    box, _ = inbox
    client = app.test_client()
    _create(client, hr, document_id)
    token = box.last_link(MANAGER)
    page = client.get(f"/signer/{token}").get_data(as_text=True)
    assert page.count(f'name="csrf_token" value="{form_token(token)}"') == 2  # sign and refuse forms
    form = {"consent": "oui", "csrf_token": form_token(token)}
    for data, headers in (({**form, "csrf_token": ""}, {}),                          # no token
                          ({**form, "csrf_token": form_token("un-autre-lien")}, {}),  # another link's
                          (form, {"Origin": "http://evil.example"})):                # another site
        refused = client.post(f"/signer/{token}", data=data, headers=headers)
        assert refused.status_code == 403 and "Requête refusée" in refused.get_data(as_text=True)
        assert client.post(f"/signer/{token}/refuse", data=data, headers=headers).status_code == 403
    assert client.get(f"/api/v1/sign/{token}").json["signer"]["status"] != "signed"
    # The page's own post (no-referrer: the browser says Origin « null ») signs.
    signed = client.post(f"/signer/{token}", data=form, headers={"Origin": "null"})
    assert signed.status_code == 200 and "signature est enregistrée" in signed.get_data(as_text=True)


def test_ten_wrong_codes_in_all_lock_the_link_and_tell_who_asked(app, document_id, inbox):
    from parcours.errors import TooManyAttempts
    from parcours.service import signatures
    from parcours.service.audit import Actor

    box, _ = inbox
    services = app.extensions["parcours"]
    signatures.create_request(services, document_id, actor=Actor("Camille Martin <rh@atelier.fr>", "password"),
                              require_code=True)
    token = box.last_link(MANAGER)
    wrong_in_all = 0
    while wrong_in_all < signatures.MAX_WRONG_CODES:
        signatures.send_code(services, token)  # the service itself: the HTTP limit of one a minute is tested above
        code = CODE.search(box.to(MANAGER)[-1]["Subject"]).group(1)
        for _ in range(signatures.CODE_TRIES):
            if wrong_in_all == signatures.MAX_WRONG_CODES:
                break
            wrong_in_all += 1
            with pytest.raises(Exception):
                signatures.check_code(services, token, "000000" if code != "000000" else "111111")
    with pytest.raises(TooManyAttempts, match="ce lien est bloqué"):
        signatures.send_code(services, token)
    with pytest.raises(TooManyAttempts, match="ce lien est bloqué"):
        signatures.check_code(services, token, code)
    from email.header import decode_header, make_header

    [told] = box.to("rh@atelier.fr")
    assert "Lien de signature bloqué" in str(make_header(decode_header(told["Subject"])))
