"""The verification report as a PDF an auditor can file, from real validations of a real signed compte
rendu: valid (B-LTA, stored), altered after signing, signed under a root the verifier does not trust,
unsigned. Made by the DOCX template and LibreOffice; checked with pypdf."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from signed_samples import EMPLOYEE, MANAGER, authority, new_authority, samples, trust  # noqa: F401 - fixtures

from parcours import reports
from signing import validate

pytestmark = pytest.mark.libreoffice

STORED = {"document_id": 12, "version": 5, "kind": "sealed", "history_url": "/api/v1/documents/12/history",
          "pdf_url": "/api/v1/documents/12/versions/5/pdf"}


def altered(pdf: bytes) -> bytes:
    """One byte changed inside the range every signature covers (the XMP metadata of the first revision)."""
    at = pdf.index(b"pdfaid:part")
    return pdf[:at] + b"Q" + pdf[at + 1:]


@pytest.fixture(scope="module")
def cases(samples, authority):  # noqa: F811 - fixtures imported from signed_samples
    """case -> (report dict, PDF of the report)."""
    stranger = new_authority("Autre Société")
    made = {
        "valid": (samples.sealed, trust(authority), STORED),
        "failed": (altered(samples.sealed), trust(authority), None),
        "unknown_root": (samples.sealed, trust(stranger), None),
        "unsigned": (samples.prepared, trust(authority), None),
    }
    out = {}
    for name, (pdf, inputs, stored) in made.items():
        report = validate.validate(pdf, inputs).to_dict()
        report["stored"] = stored
        out[name] = report
    return out


@pytest.fixture(scope="module")
def pdfs(cases, pool):
    return {name: reports.report_pdf(report, pool) for name, report in cases.items()}


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, no-break spaces made plain and whitespace collapsed."""
    return [" ".join(page.extract_text().replace("\u00a0", " ").replace("\u202f", " ").split())
            for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_real_cases_have_the_expected_verdicts(cases):
    assert {name: report["indication"] for name, report in cases.items()} == {
        "valid": validate.PASSED, "failed": validate.FAILED, "unknown_root": validate.INDETERMINATE,
        "unsigned": validate.NO_SIGNATURE}


@pytest.mark.parametrize("case", ["valid", "failed", "unknown_root", "unsigned"])
def test_the_pdf_shows_the_verdict_the_signers_and_the_files_sha256(case, cases, pdfs):
    report, texts = cases[case], pages_text(pdfs[case])
    first, everything = texts[0], " ".join(texts)
    label = reports.VERDICTS[report["indication"]][0]
    assert "Rapport de vérification de signatures électroniques" in first
    assert re.search(rf"Rapport de vérification .*{re.escape(label)}", first)
    assert report["sha256"] in first
    assert report["indication"] in first
    if case == "unsigned":
        assert "Aucune signature ni horodatage" in everything
    else:
        for person in (MANAGER, EMPLOYEE):
            assert f"Signature de {person['name']}" in everything
        assert "Horodatage du document" in everything
    for check in report["signatures"]:
        assert check["signer"]["sha256"] in everything


@pytest.mark.parametrize("case", ["valid", "unsigned"])
def test_every_page_says_page_x_of_n_and_carries_the_sha256(case, cases, pdfs):
    texts = pages_text(pdfs[case])
    for number, page in enumerate(texts, 1):
        assert f"Page {number} sur {len(texts)}" in page
        assert cases[case]["sha256"] in page
        assert "Vérification du " in page


def test_the_pdf_names_the_stored_version_or_says_there_is_none(pdfs):
    valid, failed = " ".join(pages_text(pdfs["valid"])), " ".join(pages_text(pdfs["failed"]))
    assert "version 5 du document n° 12" in valid and "/api/v1" not in valid
    assert "ne correspond à aucune version enregistrée" in failed and "/history" not in failed


def test_the_failures_are_explained(pdfs):
    failed, unknown = " ".join(pages_text(pdfs["failed"])), " ".join(pages_text(pdfs["unknown_root"]))
    assert "HASH_FAILURE" in failed and "le contenu signé a été modifié après coup" in failed
    assert "NO_CERTIFICATE_CHAIN_FOUND" in unknown
    assert "racine qui n’est pas parmi les racines de confiance du vérificateur" in unknown


def test_the_pdf_is_pdf_a_like_the_other_documents(pdfs):
    for pdf in pdfs.values():
        reader = PdfReader(io.BytesIO(pdf))
        catalog = reader.trailer["/Root"]
        assert "/OutputIntents" in catalog
        assert re.search(rb"pdfaid:part(?:>|=\")\s*2", catalog["/Metadata"].get_object().get_data())
        assert reader.metadata.title == reports.TITLE
        assert not reader.is_encrypted


def test_a_hostile_signer_name_is_printed_as_text(cases, pool):
    hostile = '<w:p>Bobby "Tables" & </w:t>{{ 7*7 }}'
    report = {**cases["valid"], "signatures": [dict(check) for check in cases["valid"]["signatures"]]}
    report["signatures"][0]["signer"] = {**report["signatures"][0]["signer"], "common_name": hostile}
    text = " ".join(pages_text(reports.report_pdf(report, pool)))
    assert f"Signature de {hostile}" in text
