"""HR staff and a manager in a real browser: import the sample employees and a file with errors (its table read),
search, then every page of the menu, each checked by axe-core (no serious or critical violation), reached by
keyboard with a visible focus, and photographed at 1280 px and 390 px into out/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browsing import person, sign_in
from test_auditor_page import sealed  # noqa: F401 - fixture: a compte rendu signed by both, over HTTP

from parcours.resources import SAMPLES

pytestmark = pytest.mark.libreoffice
ROOT = Path(__file__).parents[2]
SHOTS = ROOT / "out" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)

BAD_EMPLOYEES = (
    "matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,manager_matricule,"
    "date_dernier_entretien\n"
    "N0001,Mme,Valide,Alice,alice.valide@atelier.fr,1990-01-02,2020-03-01,Comptable,Finance,Lyon,,\n"
    "N0002,M.,Datefausse,Bruno,bruno@atelier.fr,1985-13-45,2019-01-01,Technicien,Production,Lyon,,\n"
    "N0003,Mme,Sanscourriel,Chloé,,1992-05-06,2021-09-01,Acheteuse,Achats,Lyon,,\n"
)


def accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each (rule, impact, first elements)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3)"
                          ".map(n => n.target.join(' '))}))")
    return [f"{v['id']} ({v['impact']}) : {v['help']} — {json.dumps(v['nodes'], ensure_ascii=False)}"
            for v in found if v["impact"] in ("serious", "critical")]


def check(pages, base: str, path: str, name: str, heading: str) -> None:
    """Open `path` at each width: its heading, no serious accessibility violation, a screenshot."""
    for width, page in pages.items():
        response = page.goto(base + path)
        assert response.status == 200, (path, response.status)
        assert heading in page.inner_text("h1"), (path, page.inner_text("h1"))
        problems = accessibility_problems(page)
        assert not problems, f"{path} à {width} px :\n" + "\n".join(problems)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def pages(browser):
    """A page per width, signed in later; CSP bypassed only so that axe-core can be injected."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make setup runs npm ci at the root)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    contexts = {w: browser.new_context(viewport={"width": w, "height": 900}, bypass_csp=True, locale="fr-FR")
                for w in WIDTHS}
    yield {w: c.new_page() for w, c in contexts.items()}
    for context in contexts.values():
        context.close()


def test_hr_imports_reads_the_errors_and_browses_every_page_accessibly(  # noqa: F811 - sealed
        browser, live_app, sealed, pages, tmp_path):
    app, base = live_app
    hr, _ = person(app, "rh@atelier.fr", "Rose Hébert", ["hr", "admin"])
    for page in pages.values():
        sign_in(page, base, hr)
    desktop = pages[1280]
    assert desktop.url.endswith("/tableau-de-bord")  # HR lands on the dashboard

    # The sample files, all four at once.
    desktop.goto(base + "/salaries/importer")
    for role in ("employees", "absences", "formations", "entretiens"):
        desktop.set_input_files(f"#f-{role}", str(SAMPLES / f"{role}.csv"))
    desktop.click("main button[type=submit]")
    desktop.wait_for_url("**/salaries")
    assert "Import terminé" in desktop.inner_text(".flash") and "25" in desktop.inner_text(".flash")
    assert desktop.locator("#resultats tbody tr").count() == 25

    # A file with two bad rows: nothing imported, each error named by row, column and reason.
    bad = tmp_path / "salaries-erreurs.csv"
    bad.write_text(BAD_EMPLOYEES, encoding="utf-8")
    desktop.goto(base + "/salaries/importer")
    desktop.set_input_files("#f-employees", str(bad))
    desktop.click("main button[type=submit]")
    rows = [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in desktop.locator("table.errors tbody tr").all()]
    assert "rien n'a été importé" in desktop.inner_text(".error strong")
    assert [r[:3] for r in rows] == [["salaries-erreurs.csv", "3", "date_naissance"],
                                     ["salaries-erreurs.csv", "4", "email"]], rows
    assert all(r[4] for r in rows)  # a reason for each
    problems = accessibility_problems(desktop)
    assert not problems, problems
    desktop.screenshot(path=str(SHOTS / "import-erreurs-1280.png"), full_page=True)
    desktop.goto(base + "/salaries?q=Valide")
    assert desktop.locator("#resultats tbody tr").count() == 0  # nothing written

    # « Importer les lignes valides »: the good row goes in, the others are listed.
    desktop.goto(base + "/salaries/importer")
    desktop.set_input_files("#f-employees", str(bad))
    desktop.check("input[name=lignes_valides]")
    desktop.click("main button[type=submit]")
    report = desktop.inner_text(".warning")
    assert "1 salarié(s) créé(s)" in report and "2 ligne(s) écartée(s)" in report

    # Searching as one types (htmx swaps the table and keeps the address).
    desktop.goto(base + "/salaries")
    desktop.fill("#q", "diaye")
    desktop.wait_for_function("document.querySelectorAll('#resultats tbody tr').length === 1")
    assert "N’Diaye" in desktop.inner_text("#resultats") or "N'Diaye" in desktop.inner_text("#resultats")
    assert "q=diaye" in desktop.url

    # Keyboard: the first Tab reaches the skip link, shown with a visible outline.
    desktop.goto(base + "/tableau-de-bord")
    desktop.keyboard.press("Tab")
    focused = desktop.evaluate("(() => { const e = document.activeElement, s = getComputedStyle(e);"
                               " return {text: e.textContent, outline: s.outlineStyle, width: s.outlineWidth,"
                               " left: e.getBoundingClientRect().left}; })()")
    assert focused["text"] == "Aller au contenu" and focused["outline"] != "none" and focused["left"] >= 0, focused

    request_id = sealed_request_id(app)
    for path, name, heading in (
            ("/tableau-de-bord", "tableau-de-bord", "Tableau de bord"),
            ("/salaries", "salaries", "Salariés"),
            ("/salaries/E0003", "salarie", "Diaye"),
            ("/salaries/importer", "import", "Importer des salariés"),
            ("/echeances", "echeances", "Échéances"),
            ("/campagnes", "campagnes", "Campagnes"),
            ("/entretiens", "entretiens", "Entretiens"),
            ("/signatures", "signatures", "Signatures"),
            (f"/signatures/{request_id}", "signature", f"n° {request_id}"),
            ("/modeles", "modeles", "Modèles"),
            ("/modeles/compte_rendu", "modele", "compte_rendu"),
            ("/audit", "audit", "Audit"),
            (f"/audit/documents/{document_of(app, request_id)}", "document", "Historique du document"),
            ("/auditeur/verifier", "verifier", "Vérifier un PDF signé"),
            ("/administration", "administration", "Administration"),
            ("/compte", "compte", "Bonjour Rose Hébert")):
        check(pages, base, path, name, heading)

    # The signed copy and the chain's status, from the pages.
    desktop.goto(base + f"/signatures/{request_id}")
    with desktop.expect_download() as download:
        desktop.click("text=Dossier de preuve (ZIP)")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    copy = desktop.request.get(base + desktop.get_attribute("text=Télécharger la copie signée", "href"))
    assert copy.ok and copy.body()[:5] == b"%PDF-"
    desktop.goto(base + "/audit")
    desktop.click("text=Vérifier la chaîne maintenant")
    desktop.wait_for_selector("#chaine .flash")
    assert "Chaîne intacte" in desktop.inner_text("#chaine")


def test_a_manager_sees_their_team_and_nothing_of_hr(browser, live_app, pages):
    app, base = live_app
    from signing_flow import store_employees

    store_employees(app)
    manager, _ = person(app, "julien.martin@atelier.fr", "Julien Martin", ["manager"], matricule="E0001")
    for page in pages.values():
        sign_in(page, base, manager)
    assert pages[1280].url.endswith("/mes-entretiens")
    check(pages, base, "/mes-entretiens", "mes-entretiens", "Mes entretiens")
    menu = pages[1280].inner_text("nav[aria-label='Menu principal']")
    assert "Mes entretiens" in menu and "Salariés" not in menu and "Administration" not in menu
    assert "Élodie Lefèvre-Dubois" in pages[1280].inner_text("#equipe + ul")
    refused = pages[1280].goto(base + "/salaries")
    assert refused.status == 403 and "Accès refusé" in pages[1280].inner_text("h1")


def sealed_request_id(app) -> int:
    from sqlalchemy import select

    from parcours.models import SignatureRequest

    with app.extensions["parcours"].db.session() as session:
        return session.scalar(select(SignatureRequest.id).order_by(SignatureRequest.id.desc()).limit(1))


def document_of(app, request_id: int) -> int:
    from parcours.models import SignatureRequest

    with app.extensions["parcours"].db.session() as session:
        return session.get(SignatureRequest, request_id).document_id
