"""A person signs in a real browser: the manager, then the employee with comments; the final PDF
validates. And a refusal, recorded. The page is also checked on a phone-sized screen."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pypdf import PdfReader

from parcours.service.tokens import create_token
from parcours.service import pki as instance_pki
from signing import pades
from signing_flow import links, store_document, store_employees

pytestmark = pytest.mark.libreoffice
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def signing(live_app, compte_rendu):
    """(app, base URL, hr token, document id) with a compte rendu for E0003 stored (no pyHanko: it must not
    run in this thread while the browser is open; the signatures are made in the server's threads)."""
    app, base = live_app
    store_employees(app)
    with app.extensions["parcours"].db.session() as session:
        token, _ = create_token(session, "hr", "RH")
    return app, base, token, store_document(app, *compte_rendu, created_by="RH")


def request_signatures(app, base, token, document_id) -> int:
    client = app.test_client()
    response = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_manager_then_employee_sign_in_the_browser_and_the_pdf_validates(browser, signing):
    app, base, token, document_id = signing
    request_signatures(app, base, token, document_id)
    SHOTS.mkdir(exist_ok=True)

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(f"{base}/signer/{links(app)[0]}")
    assert "François Rousseau" in page.inner_text("main")
    assert page.locator("section.pages img").count() >= 2
    # The PDF itself, next to its pictures (phones, screen readers); the organisation's name on the page.
    assert page.locator("header").inner_text().startswith(app.extensions["parcours"].settings.organisation)
    pdf_link = page.get_attribute("#pdf", "href")
    assert page.request.get(base + pdf_link).body().startswith(b"%PDF")
    page.wait_for_function("document.querySelector('section.pages img').naturalWidth > 0")
    assert page.locator("#commentaires").count() == 0  # comments are the employee's
    page.screenshot(path=str(SHOTS / "signer-manager-phone.png"), full_page=False)
    page.click("#signer")  # without consent the browser refuses to send
    assert "Merci" not in page.inner_text("body")
    page.check("#consent")
    page.click("#signer")
    assert "Merci, votre signature est enregistrée" in page.inner_text("h1")

    employee = browser.new_page(viewport={"width": 1280, "height": 900})
    employee.goto(f"{base}/signer/{links(app)[1]}")
    assert "Moussa N'Diaye" in employee.inner_text("main") or "Moussa N’Diaye" in employee.inner_text("main")
    employee.fill("#commentaires", "Je remercie mon responsable pour cet échange.")
    employee.check("#consent")
    employee.screenshot(path=str(SHOTS / "signer-employee.png"))
    employee.click("#signer")
    assert "document est maintenant signé" in employee.inner_text("main")
    assert "chacun en reçoit un exemplaire par e-mail" in employee.inner_text("main")

    versions = app.test_client().get(f"/api/v1/documents/{document_id}/versions",
                                     headers={"Authorization": f"Bearer {token}"}).json["items"]
    last = versions[-1]
    pdf = app.test_client().get(f"/api/v1/documents/{document_id}/versions/{last['number']}/pdf",
                                headers={"Authorization": f"Bearer {token}"}).data
    root = instance_pki.authority(app.extensions["parcours"].settings).root
    # Playwright's sync API keeps an event loop running in this thread; pyHanko's sync API needs its own.
    with ThreadPoolExecutor(1) as thread:
        reports = thread.submit(pades.verify, pdf, [root]).result()
    signatures_ = [r for r in reports if r.kind == "signature"]
    assert len(signatures_) == 2 and all(r.intact and r.valid and r.trusted for r in signatures_)
    assert any(r.kind == "document_timestamp" for r in reports)
    fields = PdfReader(io.BytesIO(pdf)).get_fields()
    assert fields["commentaires_salarie"]["/V"] == "Je remercie mon responsable pour cet échange."

    # The link is useless after use.
    again = browser.new_page()
    response = again.goto(f"{base}/signer/{links(app)[0]}")
    assert response.status == 410


def test_a_refusal_in_the_browser_is_recorded(browser, signing):
    app, base, token, document_id = signing
    request_id = request_signatures(app, base, token, document_id)
    page = browser.new_page()
    page.goto(f"{base}/signer/{links(app)[0]}")
    page.click("summary")
    page.fill("#raison", "Je ne suis pas d'accord avec la rédaction du point 4.")
    page.click("#refuser")
    # Refusing is final: a second page asks to confirm, the reason carried over; going back changes nothing.
    assert "Confirmez-vous votre refus" in page.inner_text("h1")
    assert page.input_value("#raison") == "Je ne suis pas d'accord avec la rédaction du point 4."
    page.screenshot(path=str(SHOTS / "signer-refusal-confirmation.png"))
    page.click("#revenir")
    assert page.locator("#signer").count() == 1
    state = app.test_client().get(f"/api/v1/signature-requests/{request_id}",
                                  headers={"Authorization": f"Bearer {token}"}).json
    assert state["status"] == "pending"
    page.click("summary")
    page.fill("#raison", "Je ne suis pas d'accord avec la rédaction du point 4.")
    page.click("#refuser")
    page.click("#confirmer-refus")
    assert "Votre refus est enregistré" in page.inner_text("h1")
    assert "écrit sur le document" in page.inner_text("main")
    state = app.test_client().get(f"/api/v1/signature-requests/{request_id}",
                                  headers={"Authorization": f"Bearer {token}"}).json
    assert state["status"] == "refused" and state["versions"][-1]["kind"] == "refused"
