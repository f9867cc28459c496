"""An auditor verifies PDFs in a real browser: the report of a signed compte rendu, its PDF, and refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from parcours.service.tokens import create_token
from signing_flow import links, store_document, store_employees

pytestmark = pytest.mark.libreoffice
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def sealed(live_app, compte_rendu, tmp_path):
    """(base URL, auditor token, path of a compte rendu signed by both, through HTTP: pyHanko runs in the server)."""
    app, base = live_app
    store_employees(app)
    with app.extensions["parcours"].db.session() as session:
        hr, _ = create_token(session, "hr", "RH")
        auditor, _ = create_token(session, "auditor", "Cabinet d’audit")
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
    return base, auditor, path


def test_an_auditor_reads_the_report_and_takes_the_pdf_away(browser, sealed, tmp_path):
    base, auditor, path = sealed
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.goto(base + "/auditeur/verifier")
    page.fill("#token", auditor)
    page.set_input_files("#file", str(path))
    page.click("button[type=submit]")
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
    # The token stays in the tab: a second file needs no retyping; a non-PDF is refused, saying why.
    page.reload()
    assert page.input_value("#token") == auditor
    other = tmp_path / "notes.pdf"
    other.write_bytes(b"ceci n'est pas un PDF")
    page.set_input_files("#file", str(other))
    page.click("button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert "Fichier illisible" in page.inner_text("#error") and "%PDF-" in page.inner_text("#error")
    assert page.is_hidden("#report")
    page.close()


def test_a_wrong_token_is_told(browser, sealed):
    base, _, path = sealed
    page = browser.new_page()
    page.goto(base + "/auditeur/verifier")
    page.fill("#token", "prc_faux")
    page.set_input_files("#file", str(path))
    page.click("button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert "401" in page.inner_text("#error") or "Jeton" in page.inner_text("#error")
    page.close()
