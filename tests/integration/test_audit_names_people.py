"""A labour court asks who did what: every event of a full signature flow names a person (or says the
system did it), with their roles then and how they were authenticated, on both databases."""

from __future__ import annotations

import pytest
from api_helpers import bearer, database
from signing_flow import complete_request, fresh_app, real_compte_rendu, store_document, store_employees
from sqlalchemy import or_, select

from parcours.models import AuditEvent
from parcours.service import users
from parcours.service.audit import Actor
from parcours.settings import Settings

pytestmark = pytest.mark.libreoffice
AUTOMATIC = {"email.sent", "completed", "copy.delivered"}
"""Steps nobody takes: the service sends the links, seals the document and e-mails the copies."""


@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


def person_token(app, email: str, name: str, role: str) -> tuple[int, str]:
    """A person with `role`, and a personal token of theirs (made through their session, as in a browser)."""
    from parcours.http.auth import SESSION_COOKIE, csrf_token

    services = app.extensions["parcours"]
    with services.db.session() as session:
        user = users.create_user(session, email=email, name=name, roles=[role], by=Actor("test", "cli"))
        user.password_hash = users.hash_password("un mot de passe assez long")
        user_id = user.id
    browser = app.test_client()
    assert browser.post("/connexion", data={"email": email, "password": "un mot de passe assez long"}).status_code == 303
    made = browser.post("/api/v1/me/tokens", json={"label": "poste de travail", "role": role},
                        headers={"X-CSRF-Token": csrf_token(browser.get_cookie(SESSION_COOKIE).value)})
    assert made.status_code == 201, made.json
    return user_id, made.json["token"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_event_of_a_signature_flow_names_a_person_or_the_system(kind, tmp_path, compte_rendu):
    with database(kind, tmp_path) as url, fresh_app(Settings(instance_dir=tmp_path / "instance", database_url=url,
                                                             run_jobs=False, workers=1)) as app:
        store_employees(app)
        hr_id, hr_token = person_token(app, "rh@atelier.fr", "Camille Martin", "hr")
        auditor_id, auditor_token = person_token(app, "audit@cabinet.fr", "Inès Morel", "auditor")
        with app.extensions["parcours"].db.session() as session:
            hr = users.get_user(session, hr_id)
            generated_by = users.actor_of(hr, "password")
        document_id = store_document(app, *compte_rendu, created_by=generated_by)
        client = app.test_client()
        request_id, _ = complete_request(app, client, hr_token, document_id)
        assert client.get(f"/api/v1/signature-requests/{request_id}/evidence",
                          headers=bearer(auditor_token)).status_code == 200
        with app.extensions["parcours"].db.session() as session:
            events = session.scalars(select(AuditEvent).where(or_(
                (AuditEvent.subject_type == "document") & (AuditEvent.subject_id == str(document_id)),
                (AuditEvent.subject_type == "signature_request") & (AuditEvent.subject_id == str(request_id))))
                .order_by(AuditEvent.sequence)).all()
        kinds = [e.type for e in events]
        assert kinds[0] == "document.generated" and "signed" in kinds and kinds[-1] == "evidence.downloaded"
        for event in events:
            if event.type in AUTOMATIC:
                assert event.actor == "system", event.type
                continue
            who = event.data.get("acteur")
            assert who and who.get("nom") and who.get("methode") in ("password", "token", "link"), (event.type, who)
        by_type = {e.type: e for e in events}
        created = by_type["signature_request.created"].data["acteur"]
        assert created == {"utilisateur": hr_id, "nom": "Camille Martin", "roles": ["hr"], "methode": "token",
                           "jeton": created["jeton"]}
        assert by_type["signature_request.created"].actor == "Camille Martin <rh@atelier.fr>"
        assert by_type["document.generated"].data["acteur"]["methode"] == "password"
        signers = [e.data["acteur"] for e in events if e.type == "signed"]
        assert [(s["nom"], s["methode"], s["roles"]) for s in signers] == [
            ("M. François Rousseau", "link", ["manager"]), ("M. Moussa N'Diaye", "link", ["salarie"])]
        downloaded = by_type["evidence.downloaded"]
        assert downloaded.data["acteur"]["utilisateur"] == auditor_id and downloaded.actor == "Inès Morel <audit@cabinet.fr>"
