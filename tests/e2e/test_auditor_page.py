"""An auditor verifies PDFs in a real browser, signed in: the report of a signed compte rendu, its PDF, and refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from browsing import person, sign_in

from parcours.service.tokens import create_token
from signing_flow import links, store_document, store_employees

pytestmark = pytest.mark.libreoffice
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def sealed(live_app, compte_rendu, tmp_path):
    """(base URL, an auditor's e-mail, path of a compte rendu signed by both through HTTP: pyHanko runs in the
    server)."""
    app, base = live_app
    store_employees(app)
    with app.extensions["parcours"].db.session() as session:
        hr, _ = create_token(session, "hr", "RH")
    document_id = store_document(app, *compte_rendu)
    headers = {"Authorization": f"Bearer {hr}"}
    assert requests.post(f"{base}/api/v1/documents/{document_id}/signature-requests", headers=headers,
                         timeout=60).status_code == 201
    assert requests.post(f"{base}/api/v1/sign/{links(app)[-1]}", json={"consent": True}, timeout=60).ok
    done = requests.post(f"{base}/api/v1/sign/{links(app)[-1]}", json={"consent": True}, timeout=60).json()
    assert done["status"] == "completed"
    pdf = requests.get(f"{base}/api/v1/documents/{document_id}/versions/{done['final_version']}/pdf",
                       headers=headers, timeout=60).content
    path = tmp_path / "compte-rendu-signe.pdf"
    path.write_bytes(pdf)
    auditor, _ = person(app, "audit@cabinet.fr", "Cabinet d’audit", ["auditor"])
    return base, auditor, path


def test_an_auditor_reads_the_report_and_takes_the_pdf_away(browser, sealed, tmp_path):
    base, auditor, path = sealed
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    sign_in(page, base, auditor, path="/auditeur/verifier")
    page.wait_for_url("**/auditeur/verifier")
    page.set_input_files("#file", str(path))
    page.click("#verify button[type=submit]")
    page.wait_for_selector("#report:not([hidden])")
    report = page.frame_locator("#report").locator("body")
    assert "Document valide" in report.inner_text(timeout=30000)
    assert "François Rousseau" in report.inner_text() and "Moussa N’Diaye" in report.inner_text()
    page.screenshot(path=str(SHOTS / "auditeur-rapport.png"), full_page=True)
    with page.expect_download(timeout=90000) as download:
        page.click("#pdf")
    document = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    text = "".join(p.extract_text() for p in document.pages)
    assert "François Rousseau" in text
    # A non-PDF is refused, saying why.
    page.reload()
    other = tmp_path / "notes.pdf"
    other.write_bytes(b"ceci n'est pas un PDF")
    page.set_input_files("#file", str(other))
    page.click("#verify button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert "Fichier illisible" in page.inner_text("#error") and "%PDF-" in page.inner_text("#error")
    assert page.is_hidden("#report")
    page.close()


def test_the_page_is_behind_the_sign_in_and_for_auditors_and_hr_only(browser, live_app):
    app, base = live_app
    page = browser.new_page()
    page.goto(base + "/auditeur/verifier")
    assert "/connexion?suite=/auditeur/verifier" in page.url  # signed out: to the login page, and back after
    manager, _ = person(app, "chef@atelier.fr", "Chef d’équipe", ["manager"], matricule="E0001")
    sign_in(page, base, manager, path="/auditeur/verifier")
    assert "Accès refusé" in page.inner_text("h1") and page.locator("#file").count() == 0
    page.close()
