"""Signature requests through the API on SQLite and PostgreSQL (no SMTP: e-mails go to the outbox)."""

from __future__ import annotations

import pytest

from parcours.service import pki as instance_pki
from signing_flow import complete_request, links, real_compte_rendu, store_document

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


@pytest.fixture
def document_id(app, employees, compte_rendu):
    return store_document(app, *compte_rendu)


def _auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_a_request_goes_to_the_manager_of_the_snapshot_first(app, client, tokens, document_id):
    response = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={}, headers=_auth(tokens, "hr"))
    assert response.status_code == 201, response.json
    body = response.json
    assert [(s["role"], s["email"], s["status"]) for s in body["signers"]] == [
        ("manager", "francois.rousseau@atelier-lumiere.example", "sent"),
        ("salarie", "moussa.ndiaye@atelier-lumiere.example", "waiting")]
    assert [v["kind"] for v in body["versions"]] == ["prepared"] and body["email_sent"]
    assert len(links(app)) == 1
    again = client.post(f"/api/v1/documents/{document_id}/signature-requests", json={}, headers=_auth(tokens, "hr"))
    assert again.status_code == 409
    assert client.get(f"/api/v1/signature-requests/{body['id']}", headers=_auth(tokens, "auditor")).status_code == 200
    assert client.post(f"/api/v1/signature-requests/{body['id']}/cancel", headers=_auth(tokens, "auditor")).status_code == 403
    cancelled = client.post(f"/api/v1/signature-requests/{body['id']}/cancel", json={"reason": "erreur"},
                            headers=_auth(tokens, "hr"))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.get(f"/api/v1/sign/{links(app)[0]}").status_code == 410
    # The prepared version is reused by the next request.
    renewed = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=_auth(tokens, "hr"))
    assert renewed.status_code == 201 and renewed.json["prepared_version"] == body["prepared_version"]


def test_manager_then_employee_sign_and_the_request_completes(app, client, tokens, document_id):
    created = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=_auth(tokens, "hr")).json
    manager = links(app)[0]
    page = client.get(f"/api/v1/sign/{manager}").json
    assert page["signer"]["role"] == "manager" and not page["comments_allowed"]
    assert client.post(f"/api/v1/sign/{manager}", json={"consent": True, "comments": "non"}).status_code == 422
    assert client.post(f"/api/v1/sign/{manager}", json={"consent": True}).json["status"] == "pending"
    employee = links(app)[1]
    assert "réception" in client.get(f"/api/v1/sign/{employee}").json["consent_text"]
    done = client.post(f"/api/v1/sign/{employee}", json={"consent": True, "comments": "D'accord."})
    assert done.status_code == 200 and done.json["status"] == "completed"
    state = client.get(f"/api/v1/signature-requests/{created['id']}", headers=_auth(tokens, "hr")).json
    assert [v["kind"] for v in state["versions"]] == ["prepared", "signed", "signed", "sealed"]
    assert all(s["signed_at"] and s["certificate_serial"] for s in state["signers"])


def test_errors(client, tokens, document_id):
    hr = _auth(tokens, "hr")
    assert client.post("/api/v1/documents/999/signature-requests", headers=hr).status_code == 404
    bad = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=hr,
                      json={"expires_in_days": 0, "require_code": "oui"})
    assert bad.status_code == 422 and {e["field"] for e in bad.json["errors"]} == {"expires_in_days", "require_code"}
    order = client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=hr,
                        json={"signers": [{"role": "salarie"}, {"role": "manager"}]})
    assert order.status_code == 422
    assert client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=_auth(tokens, "auditor")).status_code == 403
    assert client.get("/api/v1/signature-requests/999", headers=hr).status_code == 404
    assert client.get("/api/v1/pki/crl").status_code == 200


def test_a_signer_who_waits_gets_a_reminder_with_a_fresh_link(app, client, tokens, document_id):
    from sqlalchemy import select, update

    from parcours.jobs.runner import JobRunner
    from parcours.models import Job, utcnow
    from parcours.service.signatures import REMINDER_JOB

    client.post(f"/api/v1/documents/{document_id}/signature-requests", headers=_auth(tokens, "hr"))
    first = links(app)[0]
    services = app.extensions["parcours"]
    with services.db.session() as session:
        job = session.scalar(select(Job).where(Job.kind == REMINDER_JOB))
        assert job is not None and job.run_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
        session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))  # a week later
    runner = JobRunner(services.db, services, workers=1)
    job_id = runner.claim(frozenset({REMINDER_JOB}))
    runner.run(job_id)
    outbox = sorted((services.settings.instance_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    assert "Rappel" in outbox[-1].read_text()
    fresh = links(app)[-1]
    assert fresh != first
    assert client.get(f"/api/v1/sign/{first}").status_code == 404  # replaced: that link no longer exists
    assert client.get(f"/api/v1/sign/{fresh}").status_code == 200
    # A reminder planned for a link that was replaced does nothing.
    runner.run(job_id)
    assert len(links(app)) == 2


def test_an_organisation_seal_from_a_pkcs12_file_closes_the_signed_compte_rendu(app, tokens, document_id, tmp_path):
    import dataclasses
    import datetime as dt

    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from parcours.app import create_app
    from signing import pades, pki

    settings = app.extensions["parcours"].settings
    authority = instance_pki.authority(settings)
    organisation = pki.issue_signer_certificate(authority, name="Atelier Lumière", email="rh@atelier-lumiere.example",
                                                role="Cachet", validity=dt.timedelta(days=365))
    p12 = tmp_path / "cachet.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"cachet", organisation.private_key, organisation.certificate, list(organisation.chain),
        BestAvailableEncryption(b"secret du cachet")))
    sealed_app = create_app(dataclasses.replace(settings, seal_pkcs12=p12, seal_passphrase="secret du cachet"))
    try:
        # The links go to the shared instance folder's outbox; the sealing app answers.
        _, final = complete_request(app, sealed_app.test_client(), tokens["hr"], document_id, comments=None)
        reports = pades.verify(final, [authority.root_certificate])
        by_field = {r.field: r for r in reports if r.kind == "signature"}
        assert set(by_field) == {"signature_manager", "signature_salarie", "cachet_organisation"}
        assert all(r.intact and r.valid and r.trusted for r in by_field.values())
        assert "Atelier Lumière" in by_field["cachet_organisation"].signer
        assert any(r.kind == "document_timestamp" for r in reports)
    finally:
        sealed_app.extensions["parcours"].close()


def test_the_signing_page_of_an_unknown_link_is_a_french_page_not_a_json_error(client):
    from parcours.http.web.signer import form_token

    for path in ("/signer/lien-qui-n-existe-pas", "/signer/lien-qui-n-existe-pas/refuse"):
        response = client.open(path, method="POST" if path.endswith("refuse") else "GET",
                               data={"csrf_token": form_token("lien-qui-n-existe-pas")})
        assert response.status_code == 404 and response.mimetype == "text/html", path
        assert "Lien inconnu" in response.get_data(as_text=True)
    assert client.get("/signer/lien-qui-n-existe-pas/pages/1.png").status_code == 404
