"""A whole campaign in a real browser, as HR and a manager: the sample employees imported (and a file with errors,
whose table is read), a campaign created from the due list, watched until its convocations are made, the
convocation acknowledged from the e-mail (a real SMTP server), the interview recorded as held, the compte rendu
written by the manager (drafts saved by themselves) and sent for signature, signed by the manager and the
employee, the signed copy downloaded and verified on the audit page. axe-core checks each campaign page (no
serious or critical violation) and each is photographed at 1280 px and 390 px into out/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from api_helpers import lend_pool
from browsing import person, sign_in
from campaign_flow import LINK, Inbox, free_port, text
from test_staff_pages import AXE, BAD_EMPLOYEES, SHOTS, accessibility_problems

from parcours.app import create_app
from parcours.resources import SAMPLES
from parcours.service import pki as instance_pki
from parcours.settings import Settings
from signing_flow import service_today

pytestmark = pytest.mark.libreoffice
MANAGER, EMPLOYEE = "francois.rousseau@atelier-lumiere.example", "moussa.ndiaye@atelier-lumiere.example"
SIGNING = re.compile(r"https?://\S+/signer/[A-Za-z0-9_-]+")
CONTENT = {
    "parcours": "Depuis le dernier entretien, prise en charge de la maintenance préventive de la ligne 2.",
    "competences": "Soudage TIG maîtrisé ; habilitation électrique B1V obtenue en 2025.",
    "besoins_formation": "Formation souhaitée : automatismes industriels.",
    "souhaits": "Évoluer vers un poste de technicien de maintenance confirmé.",
    "cpf_cep": "Le salarié connaît son CPF ; les coordonnées du CEP lui ont été remises.",
}


@pytest.fixture
def service(tmp_path, pool):
    """(app, base URL, inbox): the service under waitress with its jobs, a real SMTP server, the session's
    LibreOffice pool, SQLite."""
    from waitress import create_server

    box = Inbox()
    smtp_port = box.start()
    port = free_port()
    instance_pki.forget()
    app = create_app(Settings(instance_dir=tmp_path / "instance", workers=1, smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                              public_url=f"http://127.0.0.1:{port}", organisation="Atelier Lumière",
                              mail_from="rh@atelier-lumiere.example"))
    lend_pool(app, pool)
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield app, f"http://127.0.0.1:{port}", box
    finally:
        server.close()
        app.extensions["parcours"].close()
        box.stop()
        instance_pki.forget()


def looked_at(pages: dict[int, object], base: str, path: str, name: str) -> None:
    """`path` at each width: no serious accessibility violation, a screenshot."""
    for width, page in pages.items():
        page.goto(base + path)
        problems = accessibility_problems(page)
        assert not problems, f"{path} à {width} px :\n" + "\n".join(problems)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_a_whole_campaign_from_the_due_list_to_the_verified_signed_copy(browser, service, tmp_path):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make setup runs npm ci at the root)")
    app, base, box = service
    SHOTS.mkdir(parents=True, exist_ok=True)
    hr, _ = person(app, "rh@atelier-lumiere.example", "Claire Martin", ["hr"])
    contexts = [browser.new_context(viewport={"width": w, "height": 900}, bypass_csp=True, locale="fr-FR")
                for w in (1280, 390)]
    pages = {1280: contexts[0].new_page(), 390: contexts[1].new_page()}
    for page in pages.values():
        sign_in(page, base, hr)
    desktop = pages[1280]

    # The sample employees; then a file with errors, whose table names row, column and reason.
    desktop.goto(base + "/salaries/importer")
    for role in ("employees", "absences", "formations", "entretiens"):
        desktop.set_input_files(f"#f-{role}", str(SAMPLES / f"{role}.csv"))
    desktop.click("main button[type=submit]")
    desktop.wait_for_url("**/salaries")
    assert "Import terminé" in desktop.inner_text(".flash")
    bad = tmp_path / "salaries-erreurs.csv"
    bad.write_text(BAD_EMPLOYEES, encoding="utf-8")
    desktop.goto(base + "/salaries/importer")
    desktop.set_input_files("#f-employees", str(bad))
    desktop.click("main button[type=submit]")
    rows = [[c.strip() for c in r.locator("td").all_inner_texts()]
            for r in desktop.locator("table.errors tbody tr").all()]
    assert [r[1:3] for r in rows] == [["3", "date_naissance"], ["4", "email"]], rows

    # From the due list: E0003 selected, the wizard filled, the campaign created.
    desktop.goto(base + "/echeances?avant=" + (service_today() + dt.timedelta(days=365)).isoformat())
    desktop.locator("input[form=selection][value=E0003]").first.check()
    desktop.click("text=Créer une campagne avec la sélection")
    desktop.wait_for_url("**/campagnes/nouvelle?**")
    assert "1 salarié(s) sélectionné(s)" in desktop.inner_text("main")
    looked_at({390: pages[390]}, base, desktop.url.removeprefix(base), "campagne-assistant")
    problems = accessibility_problems(desktop)
    assert not problems, problems
    desktop.screenshot(path=str(SHOTS / "campagne-assistant-1280.png"), full_page=True)
    desktop.fill("#nom", "Entretiens de la maintenance")
    desktop.fill("#creneaux_debut", service_today().isoformat())  # today: the interview can be held at once
    desktop.fill("#heures", "08:00")
    for day in range(7):
        desktop.check(f"input[name=jours][value='{day}']")
    desktop.fill("#lieu", "Salle Fourvière, 18 quai Saint-Vincent, 69001 Lyon")
    for field, value in (("societe_adresse", "18 quai Saint-Vincent"), ("societe_code_postal", "69001"),
                         ("societe_ville", "Lyon"), ("effectif", "120"), ("signataire_nom", "Élodie Lefèvre-Dubois"),
                         ("signataire_fonction", "Responsable RH")):
        desktop.fill(f"#{field}", value)
    assert desktop.input_value("#societe_nom") == "Atelier Lumière"
    desktop.click("text=Créer la campagne et envoyer les convocations")
    desktop.wait_for_url(re.compile(r".*/campagnes/\d+$"))
    campaign_path = desktop.url.removeprefix(base)
    assert "créée" in desktop.inner_text(".flash")

    # Watched without reloading until the convocations are made, then the e-mail with its link.
    desktop.wait_for_selector("#fini", timeout=180_000)
    assert "Convocations envoyées par courriel : 1 sur 1" in desktop.inner_text("#avancement")
    box.wait(lambda: box.to(EMPLOYEE), 120, "the convocation e-mail")
    looked_at(pages, base, campaign_path, "campagne")
    looked_at(pages, base, "/campagnes", "campagnes-en-cours")
    acknowledge = desktop.context.browser.new_page()
    acknowledge.goto(LINK.search(text(box.to(EMPLOYEE)[-1])).group(0))
    acknowledge.click("text=J'ai bien reçu ma convocation")
    acknowledge.wait_for_load_state()
    acknowledge.close()

    # The interview, acknowledged, recorded as held today.
    desktop.goto(base + campaign_path)
    assert "convocation reçue" in desktop.inner_text("table.cards tbody")
    desktop.click("table.cards tbody a")
    interview_path = desktop.url.removeprefix(base)
    looked_at(pages, base, interview_path, "entretien")
    desktop.click("text=Enregistrer l’entretien tenu")
    assert "tenu" in desktop.inner_text(".flash")

    # The manager writes the compte rendu: drafts saved as he types, then sent for signature.
    # The manager writes the compte rendu under the pages' real Content-Security-Policy (htmx, no inline script):
    # drafts saved as he types, then sent for signature.
    manager, _ = person(app, MANAGER, "François Rousseau", ["manager"], matricule="E0005")
    form = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
    blocked = []
    form.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    sign_in(form, base, manager)
    form.click("a[href$='/compte-rendu']")
    report_path = form.url.removeprefix(base)
    form.check("input[name=information_cpf]")
    for key, value in CONTENT.items():
        form.fill(f"#s-{key}", value)
    form.wait_for_selector("#enregistrement:has-text('toutes les sections')", timeout=30_000)
    assert not blocked, blocked
    mine = {w: browser.new_context(viewport={"width": w, "height": 900}, bypass_csp=True, locale="fr-FR").new_page()
            for w in (1280, 390)}
    for page in mine.values():
        sign_in(page, base, manager)
    looked_at(mine, base, report_path, "compte-rendu")
    # The draft came back on opening the form again.
    form.reload()
    assert form.input_value("#s-souhaits") == CONTENT["souhaits"] and form.is_checked("input[name=information_cpf]")
    form.click("text=Envoyer pour signature")
    form.wait_for_load_state()
    assert "envoyé pour signature" in form.inner_text("main"), form.inner_text("main")[:1500]

    # Manager, then employee, sign from their e-mails.
    signer = browser.new_page()
    box.wait(lambda: any(SIGNING.search(text(m)) for m in box.to(MANAGER)), 60, "the manager's signing link")
    signer.goto(SIGNING.findall(text([m for m in box.to(MANAGER) if SIGNING.search(text(m))][-1]))[-1])
    signer.check("#consent")
    signer.click("#signer")
    assert "Merci" in signer.inner_text("h1")
    box.wait(lambda: any(SIGNING.search(text(m)) for m in box.to(EMPLOYEE)), 60, "the employee's signing link")
    signer.goto(SIGNING.findall(text([m for m in box.to(EMPLOYEE) if SIGNING.search(text(m))][-1]))[-1])
    signer.check("#consent")
    signer.click("#signer")
    assert "exemplaire" in signer.inner_text("main")
    signer.close()

    # HR downloads the signed copy from the interview's document and verifies it on the audit page.
    desktop.goto(base + interview_path)
    assert "tenu" in desktop.inner_text(".lead")
    desktop.click("text=le document")
    pdf_url = desktop.locator("a[href*='/versions/']").last.get_attribute("href")
    signed = desktop.request.get(base + pdf_url)
    assert signed.ok and signed.body().startswith(b"%PDF-")
    copy = tmp_path / "compte-rendu-signe.pdf"
    copy.write_bytes(signed.body())
    desktop.goto(base + "/auditeur/verifier")
    desktop.set_input_files("#file", str(copy))
    desktop.click("#verify button[type=submit]")
    desktop.wait_for_selector("#report:not([hidden])")
    report = desktop.frame_locator("#report").locator("body")
    assert "Document valide" in report.inner_text(timeout=60_000)
    assert "François Rousseau" in report.inner_text()
    for context in (*contexts, form.context, *(p.context for p in mine.values())):
        context.close()
