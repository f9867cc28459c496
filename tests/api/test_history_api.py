"""GET /documents/{id}/history on SQLite and PostgreSQL: a compte rendu signed through the API, then
everything an auditor needs about it in one answer, checked against the files and the audit trail."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from pypdf import PdfWriter
from sqlalchemy import update

from parcours.models import DocumentVersion
from signing_flow import complete_request, real_compte_rendu, store_document

MANAGER = "francois.rousseau@atelier-lumiere.example"
EMPLOYEE = "moussa.ndiaye@atelier-lumiere.example"


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


def _auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


@pytest.fixture
def signed_document(app, client, tokens, employees, compte_rendu):
    """A compte rendu signed by the manager then the employee, sealed: (document id, request id)."""
    document_id = store_document(app, *compte_rendu)
    request_id, _ = complete_request(app, client, tokens["hr"], document_id)
    return document_id, request_id


@pytest.mark.libreoffice
def test_an_auditor_reads_every_version_signature_and_event_of_a_signed_compte_rendu(client, tokens, signed_document):
    document_id, request_id = signed_document
    response = client.get(f"/api/v1/documents/{document_id}/history", headers=_auth(tokens, "auditor"))
    assert response.status_code == 200, response.json
    history = response.json
    assert history["document"]["id"] == document_id and history["document"]["matricule"] == "E0003"
    assert history["document"]["template"]["name"] == "compte_rendu"

    versions = history["versions"]
    assert [(v["number"], v["kind"]) for v in versions] == [
        (1, "generated"), (2, "prepared"), (3, "signed"), (4, "signed"), (5, "sealed")]
    for version in versions:
        assert version["links"]["pdf"] == f"/api/v1/documents/{document_id}/versions/{version['number']}/pdf"
        pdf = client.get(version["links"]["pdf"], headers=_auth(tokens, "auditor")).data
        assert hashlib.sha256(pdf).hexdigest() == version["pdf_sha256"]
    assert [v["made_by"]["event"] for v in versions] == [
        "document.generated", "signature_request.created", "signed", "signed", "completed"]
    who = [v["created_by"] for v in versions]
    assert who[0] == "test" and who[1] == "test hr"  # the token by its label, never "token:N" and who[2:] == [MANAGER, EMPLOYEE, "system"]
    assert all(v["made_by"]["actor"] == v["created_by"] for v in versions)

    [request] = history["signature_requests"]
    assert (request["id"], request["status"], request["final_version"]) == (request_id, "completed", 5)
    assert [(s["role"], s["email"], s["status"], s["signed_version"]) for s in request["signers"]] == [
        ("manager", MANAGER, "signed", 3), ("salarie", EMPLOYEE, "signed", 4)]
    assert all(s["signed_at"] and re.fullmatch(r"[0-9a-f]+", s["certificate_serial"]) for s in request["signers"])

    # The events are those the trail holds about the document and its request, in chain order, as /audit/events shows them.
    events = history["events"]
    trail = client.get("/api/v1/audit/events?limit=500", headers=_auth(tokens, "auditor")).json["items"]
    about = [e for e in trail if (e["subject_type"], e["subject_id"]) in
             {("document", str(document_id)), ("signature_request", str(request_id))}]
    assert events == about
    assert [e["sequence"] for e in events] == sorted(e["sequence"] for e in events)
    assert {"document.generated", "signature_request.created", "email.sent", "signed", "completed"} <= {
        e["type"] for e in events}
    by_sequence = {e["sequence"]: e for e in trail}
    for event in events:
        before = by_sequence.get(event["sequence"] - 1)
        assert re.fullmatch(r"[0-9a-f]{64}", event["hash"])
        assert event["prev_hash"] == (before["hash"] if before else "0" * 64)
    made = {v["made_by"]["sequence"] for v in versions}
    assert made <= {e["sequence"] for e in events}
    assert history["chain"]["ok"] and history["chain"]["count"] == len(trail)


@pytest.mark.libreoffice
def test_hr_reads_the_history_too_and_admin_cannot(client, tokens, signed_document):
    document_id, _ = signed_document
    url = f"/api/v1/documents/{document_id}/history"
    assert client.get(url, headers=_auth(tokens, "hr")).status_code == 200
    assert client.get(url, headers=_auth(tokens, "admin")).status_code == 403
    assert client.get(url).status_code == 401


def _blank_pdf() -> bytes:
    writer, out = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=595, height=842)
    writer.write(out)
    return out.getvalue()


def test_an_unknown_document_is_a_404_problem(client, tokens):
    response = client.get("/api/v1/documents/999/history", headers=_auth(tokens, "auditor"))
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    assert response.json["title"] == "Document introuvable"


def test_a_version_made_before_the_author_column_names_the_actor_of_its_event(app, client, tokens):
    document_id = store_document(app, _blank_pdf(), {}, template="convocation")
    with app.extensions["parcours"].db.session() as session:  # as migration 0006 leaves older rows
        session.execute(update(DocumentVersion).where(DocumentVersion.document_id == document_id)
                        .values(created_by=None))
    history = client.get(f"/api/v1/documents/{document_id}/history", headers=_auth(tokens, "auditor")).json
    [version] = history["versions"]
    assert version["created_by"] == "test" and version["made_by"]["event"] == "document.generated"
    assert history["signature_requests"] == [] and [e["type"] for e in history["events"]] == ["document.generated"]
    assert history["chain"]["ok"]
