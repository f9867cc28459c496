"""A person in a real browser: the invitation's link, a password, the sign-in, the auditor's page used with
the session (no token to paste), sign-out; at desktop and phone widths."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_auditor_page import sealed  # noqa: F401 - fixture: a compte rendu signed by both, over HTTP

from parcours.service import users
from parcours.service.audit import Actor

pytestmark = pytest.mark.libreoffice
SHOTS = Path(__file__).parent / "screenshots"


def test_an_invited_auditor_sets_a_password_signs_in_and_verifies_without_a_token(browser, live_app, sealed):  # noqa: F811
    app, base = live_app
    services = app.extensions["parcours"]
    with services.db.session() as session:
        user_id = users.create_user(session, email="auditrice@cabinet.fr", name="Inès Morel", roles=["auditor"],
                                    by=Actor("test", "cli")).id
    link = users.invite(services, user_id, by=Actor("test", "cli")).replace("http://127.0.0.1:8000", base)
    SHOTS.mkdir(exist_ok=True)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(link)
    assert "Choisir votre mot de passe" in phone.inner_text("h1")
    phone.fill("#password", "une phrase de passe solide")
    phone.fill("#confirmation", "une phrase de passe solide")
    phone.screenshot(path=str(SHOTS / "mot-de-passe-390.png"), full_page=True)
    phone.click("button[type=submit]")
    phone.wait_for_url("**/connexion?message=mot-de-passe")
    assert "Votre mot de passe est enregistré" in phone.inner_text("main")
    phone.close()

    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.goto(base + "/auditeur/verifier")  # behind the sign-in: the login page, then back
    page.wait_for_url("**/connexion?suite=/auditeur/verifier")
    page.fill("#email", "auditrice@cabinet.fr")
    page.fill("#password", "pas la bonne")
    page.click("button[type=submit]")
    assert "mot de passe incorrect" in page.inner_text(".error")
    page.fill("#password", "une phrase de passe solide")
    page.screenshot(path=str(SHOTS / "connexion-1100.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_url("**/auditeur/verifier")
    assert page.locator("#token").count() == 0 and "Inès Morel" in page.inner_text(".lead")
    page.set_input_files("#file", str(sealed[2]))
    page.click("#verify button[type=submit]")
    page.wait_for_selector("#report:not([hidden])")
    assert "Document valide" in page.frame_locator("#report").locator("body").inner_text(timeout=30000)
    page.goto(base + "/")
    assert "Bonjour Inès Morel" in page.inner_text("h1") and "auditeur" in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "accueil-1100.png"), full_page=True)
    page.click("text=Se déconnecter")
    page.wait_for_url("**/connexion?message=deconnecte")
    page.goto(base + "/")
    assert "/connexion" in page.url
    page.close()
