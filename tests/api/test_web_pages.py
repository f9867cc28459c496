"""The staff pages without a browser (SQLite and PostgreSQL): sign-in and roles, CSRF on every change, the import's
row errors, the due list kept until the data changes, the signature, template and administration actions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from docx_factory import make_docx
from sqlalchemy import func, select

from parcours.http.auth import SESSION_COOKIE, csrf_token
from parcours.http.web import frame
from parcours.models import ApiToken, Employee, SignatureRequest
from parcours.service import interviews, users
from parcours.service.audit import Actor
from signing_flow import service_today

HOST = "http://localhost"
PASSWORD = "une phrase de passe solide"
PAGES = ["/tableau-de-bord", "/salaries", "/salaries/importer", "/echeances", "/campagnes", "/entretiens",
         "/signatures", "/modeles", "/audit", "/audit/chaine", "/administration", "/mes-entretiens", "/compte",
         "/auditeur/verifier"]
BAD = ("matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,manager_matricule,"
       "date_dernier_entretien\n"
       "N0001,Mme,Valide,Alice,alice@atelier.fr,1990-01-02,2020-03-01,Comptable,Finance,Lyon,,\n"
       "N0002,M.,Faux,Bruno,bruno@atelier.fr,1985-13-45,2019-01-01,Technicien,Production,Lyon,,\n").encode()


def signed_in(app, roles, matricule=None, email="rose@atelier.fr"):
    """A test client signed in as a person with `roles`, and the session's CSRF token."""
    with app.extensions["parcours"].db.session() as session:
        user = users.create_user(session, email=email, name="Rose Hébert", roles=list(roles), matricule=matricule,
                                 by=Actor("test", "cli"))
        user.password_hash = users.hash_password(PASSWORD)
    client = app.test_client()
    answer = client.post("/connexion", data={"email": email, "password": PASSWORD}, headers={"Origin": HOST})
    assert answer.status_code == 303
    return client, csrf_token(client.get_cookie(SESSION_COOKIE).value)


def post(client, path, csrf, data=None, **kwargs):
    return client.post(path, data={"csrf_token": csrf, **(data or {})}, headers={"Origin": HOST}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_signed_out_every_page_leads_to_the_login_and_back(client):
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/connexion?suite="), path
    assert client.get("/").headers["Location"].startswith("/connexion")


def test_each_role_sees_its_menu_and_is_refused_the_others_pages_in_french(app, employees):
    manager, _ = signed_in(app, ["manager"], matricule="E0005")
    assert manager.get("/").headers["Location"] == "/mes-entretiens"
    page = text(manager.get("/mes-entretiens"))
    assert "Moussa N&#39;Diaye" in page and "Salariés</a>" not in page  # their team; no HR menu
    refused = manager.get("/salaries")
    assert refused.status_code == 403 and "Accès refusé" in text(refused) and refused.mimetype == "text/html"
    assert manager.get("/salaries/E0003").status_code == 403
    hr, _ = signed_in(app, ["hr"], email="rh@atelier.fr")
    assert hr.get("/").headers["Location"] == "/tableau-de-bord"
    for path in PAGES:
        expected = 403 if path in ("/administration", "/mes-entretiens") else 200
        assert hr.get(path).status_code == expected, path


def test_a_change_without_the_csrf_token_or_from_another_site_changes_nothing(app):
    client, csrf = signed_in(app, ["admin"])
    forged = client.post("/administration/jetons", data={"label": "pirate", "role": "admin"}, headers={"Origin": HOST})
    assert forged.status_code == 403 and "anti-falsification" in text(forged)
    elsewhere = client.post("/administration/jetons", data={"csrf_token": csrf, "label": "pirate", "role": "admin"},
                            headers={"Origin": "https://ailleurs.example"})
    assert elsewhere.status_code == 403 and "autre site" in text(elsewhere)
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_an_import_with_errors_imports_nothing_and_names_row_column_and_reason(app):
    client, csrf = signed_in(app, ["hr"])
    answer = post(client, "/salaries/importer", csrf, {"employees": (__import__("io").BytesIO(BAD), "salaries.csv")},
                  content_type="multipart/form-data")
    assert answer.status_code == 422
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", text(answer))
    assert rows[0][:4] == ("salaries.csv", "3", "date_naissance", "1985-13-45") and rows[0][4]
    assert "1 erreur, détaillée ci-dessous" in text(answer)
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(Employee)) == 0
    kept = post(client, "/salaries/importer", csrf, {"employees": (__import__("io").BytesIO(BAD), "salaries.csv"),
                                                      "lignes_valides": "1"}, content_type="multipart/form-data")
    assert kept.status_code == 200 and "1 salarié(s) créé(s)" in text(kept) and "1 ligne(s) écartée(s)" in text(kept)
    missing = post(client, "/salaries/importer", csrf, {}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Fichier des salariés manquant" in text(missing)


def test_a_clean_import_says_so_on_the_next_page_once(app):
    client, csrf = signed_in(app, ["hr"])
    from parcours.resources import SAMPLES

    answer = post(client, "/salaries/importer", csrf, {"employees": ((SAMPLES / "employees.csv").open("rb"), "e.csv")},
                  content_type="multipart/form-data")
    assert answer.status_code == 303 and answer.headers["Location"] == "/salaries"
    listing = client.get("/salaries")
    assert "Import terminé : 25 salarié(s) créé(s), 0 mis à jour." in text(listing)
    assert "Import terminé" not in text(client.get("/salaries"))  # shown once
    assert "Lefèvre-Dubois" in text(client.get("/salaries?q=lefèvre"))


def test_the_due_list_is_kept_until_an_interview_or_an_employee_changes(app, employees):
    client, _ = signed_in(app, ["hr"])
    late = int(re.search(r"(\d+) entretien\(s\) dû\(s\)", text(client.get("/echeances?retard=1"))).group(1))
    assert late > 0
    with app.extensions["parcours"].db.session() as session:  # E0003's overdue periodic interview, held now
        interviews.record(session, matricule="E0003", type="periodique", status="held", date=service_today(),
                          today=service_today(),
                          created_by="test")
    assert int(re.search(r"(\d+) entretien\(s\) dû\(s\)", text(client.get("/echeances?retard=1"))).group(1)) < late


def test_the_due_list_filters_and_pages_say_what_is_wrong(app, employees):
    client, _ = signed_in(app, ["hr"])
    page = text(client.get("/echeances?type=etat_des_lieux"))
    assert "état des lieux récapitulatif" in page and "entretien de mi-carrière</td>" not in page
    wrong = client.get("/echeances?avant=31/02/2027")
    assert wrong.status_code == 422 and "avant" in text(wrong) and "AAAA-MM-JJ" in text(wrong)


def test_a_template_upload_shows_the_unknown_variables_and_refuses_a_broken_one(app):
    client, csrf = signed_in(app, ["hr"])
    import io

    typo = make_docx("Bonjour {{ salarie.prenom }}, service {{ salarie.servcie }}")
    answer = post(client, "/modeles", csrf, {"name": "lettre", "file": (io.BytesIO(typo), "lettre.docx")},
                  content_type="multipart/form-data")
    assert answer.status_code == 201 and "salarie.servcie" in text(answer) and "Version 1 enregistrée" in text(answer)
    broken = make_docx("Bonjour {{ salarie.prenom }")
    refused = post(client, "/modeles", csrf, {"name": "lettre", "file": (io.BytesIO(broken), "lettre.docx")},
                   content_type="multipart/form-data")
    assert refused.status_code == 422 and "Le modèle contient des erreurs" in text(refused)
    assert "Version 2" not in text(client.get("/modeles/lettre"))


def test_hr_resends_the_link_then_cancels_a_pending_signature_request_from_its_page(app, employees):
    from parcours.models import Document, DocumentVersion, Signer, Template, TemplateVersion

    with app.extensions["parcours"].db.session() as session:
        version = session.scalar(select(TemplateVersion.id).join(Template).where(Template.name == "compte_rendu"))
        document = Document(matricule="E0003", template_version_id=version, created_by="test")
        session.add(document)
        session.flush()
        session.add(DocumentVersion(document_id=document.id, number=1, kind="prepared", pdf_sha256="0" * 64, pages=1,
                                    template_version_id=version, snapshot={}))
        request = SignatureRequest(document_id=document.id, status="pending", prepared_version=1, created_by="test",
                                   expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
        session.add(request)
        session.flush()
        session.add(Signer(request_id=request.id, position=1, role="manager", title="Chef d'atelier",
                           name="François Rousseau", email="f@atelier.fr", status="sent"))
        request_id = request.id
    client, csrf = signed_in(app, ["hr"])
    page = text(client.get(f"/signatures/{request_id}"))
    assert "François Rousseau" in page and "Moussa N&#39;Diaye" in page and "Annuler la demande" in page
    listing = text(client.get("/signatures?statut=pending"))
    assert f"n° {request_id}" in listing and "François Rousseau (lien envoyé)" in listing
    resent = post(client, f"/signatures/{request_id}/relancer", csrf)
    assert resent.status_code == 303 and "Un nouveau lien a été envoyé." in text(client.get(resent.headers["Location"]))
    outbox = list((app.extensions["parcours"].settings.instance_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and "f@atelier.fr" in outbox[0].read_text()
    done = post(client, f"/signatures/{request_id}/annuler", csrf, {"motif": "erreur de salarié"})
    assert done.status_code == 303
    after = text(client.get(done.headers["Location"]))
    assert "La demande de signature est annulée." in after and "« erreur de salarié »" in after
    again = post(client, f"/signatures/{request_id}/annuler", csrf)
    assert again.status_code == 409 and "Demande terminée" in text(again)
    auditor, _ = signed_in(app, ["auditor"], email="audit@cabinet.fr")
    assert "Annuler la demande" not in text(auditor.get(f"/signatures/{request_id}"))
    assert auditor.post(f"/signatures/{request_id}/annuler", headers={"Origin": HOST}).status_code == 403


def test_an_admin_makes_a_token_shown_once_invites_a_person_and_revokes(app):
    client, csrf = signed_in(app, ["admin"])
    made = post(client, "/administration/jetons", csrf, {"label": "SIRH", "role": "hr"})
    token = re.search(r'value="(prc_[^"]+)"', text(made)).group(1)
    assert made.status_code == 200 and "plus jamais affiché" in text(made)
    assert client.get("/api/v1/employees", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in text(client.get("/administration"))
    invalid = post(client, "/administration/personnes", csrf, {"name": "Chef", "email": "pas-une-adresse",
                                                               "roles": "manager"})
    assert invalid.status_code == 422 and "adresse e-mail invalide" in text(invalid)
    invited = post(client, "/administration/personnes", csrf, {"name": "Chef d'atelier", "email": "chef@atelier.fr",
                                                               "roles": "manager", "matricule": "E0005"})
    assert invited.status_code == 200 and "/mot-de-passe/" in text(invited)
    with app.extensions["parcours"].db.session() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.label == "SIRH"))
    assert post(client, f"/administration/jetons/{token_id}/revoquer", csrf).status_code == 303
    assert client.get("/api/v1/employees", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_every_menu_entry_names_an_existing_page_and_roles_the_page_also_checks(app):
    with app.test_request_context():
        for entry in frame.NAV:
            view = app.view_functions[entry.endpoint]
            assert set(view.roles) == set(entry.roles), entry.endpoint


@pytest.mark.parametrize("path", ["/static/parcours/vendor/htmx.min.js", "/static/parcours/parcours.css"])
def test_the_pages_assets_are_served_by_the_app_itself(client, path):
    answer = client.get(path)
    assert answer.status_code == 200 and len(answer.data) > 1000


def test_the_dashboard_shows_a_planned_interview_whose_date_has_passed(app, employees):
    client, _ = signed_in(app, ["hr"])
    assert "Aucun entretien ouvert n’a dépassé sa date." in text(client.get("/tableau-de-bord"))
    with app.extensions["parcours"].db.session() as session:
        interviews.record(session, matricule="E0003", type="periodique", status="planned", today=service_today(),
                          date=service_today() - dt.timedelta(days=3), created_by="test")
    page = text(client.get("/tableau-de-bord"))
    assert "1 entretien(s) encore ouvert(s) après leur date" in page
    assert "Moussa N&#39;Diaye</a> : convoqué, prévu le" in page


def test_every_staff_page_declares_its_roles_and_sends_anonymous_visitors_to_the_login(app, client):
    staff = {"dashboard", "people", "campaign_pages", "signature_pages", "models", "audit_pages", "admin", "team",
             "auditor", "report_pages"}
    walked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in staff or rule.endpoint.endswith(".static"):
            continue
        assert getattr(app.view_functions[rule.endpoint], "roles", None), rule.endpoint
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method, headers={"Origin": HOST})
            assert answer.status_code == 302 and "/connexion" in answer.headers["Location"], (method, path)
            walked += 1
    assert walked > 25


def test_a_running_batch_refreshes_its_progress_by_itself_until_it_ends(app):
    from parcours.models import Batch, Template, TemplateVersion

    with app.extensions["parcours"].db.session() as session:
        version = session.scalar(select(TemplateVersion.id).join(Template).where(Template.name == "convocation"))
        batch = Batch(template_version_id=version, status="running", total=40, done=12, failed=1, created_by="RH")
        session.add(batch)
        session.flush()
        batch_id = batch.id
    client, _ = signed_in(app, ["hr"])
    page = text(client.get("/campagnes"))
    assert 'hx-trigger="every 3s"' in page and "12 sur 40, 1 en échec" in page and "<html" in page
    fragment = text(client.get("/campagnes", headers={"HX-Request": "true"}))
    assert "<html" not in fragment and 'id="lots"' in fragment  # only the table, swapped in place
    with app.extensions["parcours"].db.session() as session:
        done = session.get(Batch, batch_id)
        done.status, done.done = "completed", 39
    ended = text(client.get("/campagnes", headers={"HX-Request": "true"}))
    assert "every 3s" not in ended and "terminé" in ended and f"/api/v1/batches/{batch_id}/zip" in ended


def test_the_dashboard_names_the_employee_whose_data_stops_the_calendar_and_shows_the_rest(app, employees):
    with app.extensions["parcours"].db.session() as session:  # an interview before the hiring: the calendar refuses
        session.get(Employee, "E0003").date_dernier_entretien = dt.date(2001, 1, 1)
    client, _ = signed_in(app, ["hr"])
    for path in ("/tableau-de-bord", "/echeances?avant=2030-12-31"):
        page = text(client.get(path))
        assert "Le calendrier légal ne peut pas être calculé pour 1 salarié(s)" in page and ">E0003</a> : " in page
        others = set(re.findall(r'href="/salaries/(E\d+)"', page)) - {"E0003"}
        assert len(others) >= 5, others  # the others are listed


def test_after_an_import_the_due_list_is_computed_ahead_for_the_next_page(app):
    from parcours.resources import SAMPLES
    from parcours.service import overview

    client, csrf = signed_in(app, ["hr"])
    overview._MEMO.clear()
    post(client, "/salaries/importer", csrf, {"employees": ((SAMPLES / "employees.csv").open("rb"), "e.csv")},
         content_type="multipart/form-data")
    warming = [t for t in __import__("threading").enumerate() if t.name == "parcours-due-list"]
    for thread in warming:
        thread.join(30)
    memo = overview._MEMO[id(app.extensions["parcours"].db.engine)]
    assert memo.value is not None and len(memo.value[0].employees) == 25


def test_a_file_over_the_size_limit_is_refused_on_the_page_in_french(app):
    import io

    client, csrf = signed_in(app, ["hr"])
    app.config["MAX_CONTENT_LENGTH"] = 2000
    answer = post(client, "/salaries/importer", csrf, {"employees": (io.BytesIO(b"x" * 5000), "grand.csv")},
                  content_type="multipart/form-data")
    assert answer.status_code == 413 and answer.mimetype == "text/html" and "Fichier trop volumineux" in text(answer)


def test_an_admin_adds_a_webhook_endpoint_sees_its_secret_once_and_disables_it(app):
    from parcours.models import WebhookEndpoint

    client, csrf = signed_in(app, ["admin"])
    refused = post(client, "/administration/webhooks", csrf, {"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 422 and "URL refusée" in text(refused) and "adresse de bouclage" in text(refused)
    made = post(client, "/administration/webhooks", csrf, {
        "url": "https://93.184.216.34/parcours", "description": "SIRH", "event_types": "signature_request.completed"})
    assert made.status_code == 200 and "il ne sera plus affiché" in text(made)
    with app.extensions["parcours"].db.session() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
        endpoint_id, secret, kinds = endpoint.id, endpoint.secret, endpoint.event_types
    assert secret in text(made) and secret not in text(client.get("/administration"))
    assert kinds == ["signature_request.completed"]
    assert post(client, f"/administration/webhooks/{endpoint_id}/etat", csrf, {"enabled": "0"}).status_code == 303
    assert "désactivé" in text(client.get("/administration"))
    assert "Aucun message." in text(client.get(f"/administration/webhooks/{endpoint_id}"))
