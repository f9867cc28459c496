"""POST /api/v1/verifications on SQLite and PostgreSQL: real signed files from the workflow, tampered and foreign ones."""

from __future__ import annotations

import dataclasses
import io

import pytest
from cryptography.hazmat.primitives import serialization
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from parcours.app import create_app
from parcours.models import AuditEvent
from parcours.models import DocumentVersion
from signing import pades, pki
from signing_flow import complete_request, real_compte_rendu, store_document

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


@pytest.fixture
def completed(app, client, tokens, employees, compte_rendu):
    """(document id, request id, final PDF) of a request signed by both."""
    document_id = store_document(app, *compte_rendu)
    request_id, pdf = complete_request(app, client, tokens["hr"], document_id)
    return document_id, request_id, pdf


def _auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def _post(client, tokens, data: bytes, role="auditor", **params):
    return client.post("/api/v1/verifications", headers=_auth(tokens, role), query_string=params,
                       data={"file": (io.BytesIO(data), "document.pdf")}, content_type="multipart/form-data")


def _counts(app):
    with app.extensions["parcours"].db.session() as session:
        return (session.scalar(select(func.count()).select_from(DocumentVersion)),
                session.scalar(select(func.count()).select_from(AuditEvent)))


def test_the_signed_compte_rendu_passes_and_is_found_among_the_stored_versions(app, client, tokens, completed):
    document_id, _, pdf = completed
    before = _counts(app)
    response = _post(client, tokens, pdf)
    assert response.status_code == 200, response.json
    report = response.json
    assert report["indication"] == "TOTAL_PASSED" and report["sub_indication"] is None
    assert report["message"].startswith("Document valide")
    kinds = [(s["kind"], s["indication"], s["level"]) for s in report["signatures"]]
    assert kinds == [("signature", "TOTAL_PASSED", "PAdES-B-LTA")] * 2 + [("document_timestamp", "TOTAL_PASSED", None)]
    manager, employee = report["signatures"][:2]
    assert manager["signer"]["email"] == "francois.rousseau@atelier-lumiere.example"
    assert employee["signer"]["email"] == "moussa.ndiaye@atelier-lumiere.example"
    assert all(s["trusted"] and s["intact"] and s["offline"] for s in report["signatures"])
    assert manager["chain"][-1]["trust_root"] and manager["certification"] == "FILL_FORMS"
    assert employee["timestamp"]["time"] and employee["claimed_time"]
    versions = client.get(f"/api/v1/documents/{document_id}/versions", headers=_auth(tokens, "hr")).json["items"]
    assert report["stored"]["document_id"] == document_id
    assert report["stored"]["version"] == versions[-1]["number"] and report["stored"]["kind"] == "sealed"
    assert report["stored"]["history_url"] == f"/api/v1/documents/{document_id}/history"
    # A verification changes nothing.
    assert _counts(app) == before
    raw = client.post("/api/v1/verifications", headers={**_auth(tokens, "hr"), "Content-Type": "application/pdf"}, data=pdf)
    assert raw.status_code == 200 and raw.json["indication"] == "TOTAL_PASSED"


def test_a_byte_changed_in_a_signed_range_fails_and_matches_no_stored_version(client, tokens, completed):
    pdf = bytearray(completed[2])
    position = pdf.index(b"stream", 2000) + 20  # inside the first revision's content, covered by every signature
    pdf[position] ^= 0x01
    report = _post(client, tokens, bytes(pdf)).json
    assert report["indication"] == "TOTAL_FAILED" and report["sub_indication"] == "HASH_FAILURE"
    assert report["stored"] is None
    assert "modifié" in report["message"]


def test_files_that_cannot_be_verified_get_a_422_naming_the_reason(client, tokens, completed):
    pdf = completed[2]
    encrypted = io.BytesIO()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret")
    writer.write(encrypted)
    cases = {b"PK\x03\x04 a docx": "PDF", pdf[: len(pdf) // 2]: "tronqué", encrypted.getvalue(): "chiffré", b"": "vide"}
    for data, reason in cases.items():
        response = _post(client, tokens, data)
        assert response.status_code == 422, (reason, response.json)
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"][0]["field"] == "file" and reason in response.json["errors"][0]["reason"]
    missing = client.post("/api/v1/verifications", headers=_auth(tokens, "auditor"), json={})
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "file"
    assert _post(client, tokens, pdf, format="xml").status_code == 422


def test_only_auditors_and_hr_verify(client, tokens, completed):
    assert _post(client, tokens, completed[2], role="admin").status_code == 403
    assert client.post("/api/v1/verifications", data=completed[2], content_type="application/pdf").status_code == 401


def test_a_foreign_signature_is_indeterminate_until_its_root_is_configured(settings, tmp_path, compte_rendu):
    authority = pki.create_authority("Cabinet Externe", b"x", crl_url="http://127.0.0.1:9/crl")
    inputs = pades.ValidationInputs((authority.root_certificate,), crls=authority.crls)
    credentials = pki.issue_signer_certificate(authority, name="Maître Durand", email="durand@cabinet.example",
                                               role="Avocat")
    signed = pades.sign(pades.prepare(compte_rendu[0]), field="signature_manager", credentials=credentials,
                        timestamper=pki.LocalTimeStamper(authority), validation=inputs,
                        appearance=pades.Appearance("Maître Durand", "Avocat"), certify=True,
                        lock_fields=["signature_manager"])
    roots = tmp_path / "racines.pem"
    roots.write_bytes(authority.root_certificate.public_bytes(serialization.Encoding.PEM))
    for trust_roots, expected in ((None, ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")), (roots, ("TOTAL_PASSED", None))):
        app = create_app(dataclasses.replace(settings, trust_roots=trust_roots))
        try:
            from parcours.service.tokens import create_token

            with app.extensions["parcours"].db.session() as session:
                token, _ = create_token(session, "auditor", "test")
            report = app.test_client().post("/api/v1/verifications", data=signed, content_type="application/pdf",
                                            headers={"Authorization": f"Bearer {token}"}).json
        finally:
            app.extensions["parcours"].close()
        assert (report["indication"], report["sub_indication"]) == expected, report["message"]
        assert report["signatures"][0]["signer"]["common_name"] == "Maître Durand"
