"""Templates: shipped ones seeded once, checked uploads as numbered immutable versions, download, preview."""

import codecs
import io
import zipfile

import pytest
from sqlalchemy import func, select

from api_helpers import bearer
from docx_factory import make_docx, rebuild
from parcours.http.api.templates import DOCX_TYPE
from parcours.models import Template, TemplateVersion
from parcours.service import templates as service

SHIPPED = {"compte_rendu", "convocation", "etat_des_lieux", "trame"}
PROBLEM = "application/problem+json"


def upload(client, token, name, data, filename="modele.docx"):
    return client.post("/api/v1/templates", data={"name": name, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", headers=bearer(token))


def stored(app) -> tuple[int, int, int]:
    """(templates, versions, blob files): what a refused upload must leave unchanged."""
    container = app.extensions["parcours"]
    with container.db.session() as session:
        counts = (session.scalar(select(func.count(Template.id))),
                  session.scalar(select(func.count(TemplateVersion.id))))
    return (*counts, sum(1 for p in container.blobs.root.rglob("*") if p.is_file()))


def test_the_shipped_templates_exist_from_the_start_as_version_1_by_parcours(client, tokens):
    response = client.get("/api/v1/templates", headers=bearer(tokens["auditor"]))
    assert response.status_code == 200
    items = {item["name"]: item for item in response.json["items"]}
    assert set(items) == SHIPPED
    for item in items.values():
        version = item["latest_version"]
        assert version["number"] == 1 and version["created_by"] == "Parcours"
        assert version["inspection"]["unknown"] == [] and version["inspection"]["problems"] == []
        # Their batches take the one-section path: the inspection says so, and why.
        assert version["inspection"]["batch_path"]["one_section"] is True
        assert "reportés sur le PDF" in version["inspection"]["batch_path"]["reason"]
        assert "salarie.nom" in items["convocation"]["latest_version"]["inspection"]["variables"]


def test_seeding_again_or_racing_another_process_creates_nothing_more(app, monkeypatch):
    container = app.extensions["parcours"]
    before = stored(app)
    service.seed_shipped(container.db, container.blobs)
    assert stored(app) == before
    # Another process inserted the names between our check and our insert: the unique name refuses ours.
    monkeypatch.setattr(service, "existing_names", lambda session, names: set())
    assert service.seed_shipped(container.db, container.blobs) == []
    assert stored(app) == before


def test_an_upload_creates_a_template_then_each_upload_a_new_version(client, tokens, app):
    first = make_docx("Bonjour {{ salarie.prenom }}", "Service : {{ salarie.servcie }}")
    response = upload(client, tokens["hr"], "lettre_accueil", first, "Lettre d'accueil.docx")
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/api/v1/templates/lettre_accueil")
    version = response.json["latest_version"]
    assert (version["number"], version["created_by"], version["size"]) == (1, "test hr", len(first))
    assert version["filename"] == "Lettre d'accueil.docx"
    # An unknown variable is accepted, and reported: it is probably a typo.
    assert version["inspection"]["variables"] == ["salarie.prenom", "salarie.servcie"]
    assert version["inspection"]["unknown"] == ["salarie.servcie"]
    assert any("salarie.servcie" in warning for warning in response.json["warnings"])

    second = make_docx("Bonjour {{ salarie.prenom }} {{ salarie.nom }}")
    again = upload(client, tokens["hr"], "lettre_accueil", second)
    assert again.status_code == 201 and again.json["latest_version"]["number"] == 2
    assert again.json["warnings"] == []

    detail = client.get("/api/v1/templates/lettre_accueil", headers=bearer(tokens["auditor"])).json
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["versions"][0]["sha256"] == version["sha256"] and detail["versions"][0]["created_at"]
    download = client.get(detail["versions"][0]["links"]["docx"], headers=bearer(tokens["auditor"]))
    assert download.status_code == 200 and download.data == first  # version 1 is unchanged
    assert download.content_type == DOCX_TYPE
    assert 'filename="lettre_accueil-v1.docx"' in download.headers["Content-Disposition"]
    listed = {i["name"]: i for i in client.get("/api/v1/templates", headers=bearer(tokens["hr"])).json["items"]}
    assert listed["lettre_accueil"]["latest_version"]["number"] == 2
    assert app.extensions["parcours"].blobs.get(again.json["latest_version"]["sha256"]) == second


def test_a_template_with_syntax_errors_is_refused_with_the_text_around_each(client, tokens, app):
    before = stored(app)
    broken = make_docx("Madame, Monsieur,", "Vous êtes convoqué le {{ entretien.date|date }",
                       "{% if salarie.age %}sans fin")
    response = upload(client, tokens["hr"], "convocation", broken)
    assert response.status_code == 422 and response.content_type == PROBLEM
    errors = response.json["errors"]
    assert errors and all(e["field"] == "file" and e["reason"].startswith("erreur de syntaxe") for e in errors)
    assert any("convoqué" in (e["excerpt"] or "") or "sans fin" in (e["excerpt"] or "") for e in errors)
    assert stored(app) == before


def test_every_error_of_a_template_is_refused_at_once_in_french(client, tokens, app):
    before = stored(app)
    broken = make_docx("{% if salarie.poste %}x{% endfi %}", "{{ salarie.nom|majuscules }}",
                       "{{ salarie.__class__ }}", "{{r salarie.nom }}")
    response = upload(client, tokens["hr"], "convocation", broken)
    assert response.status_code == 422 and response.json["title"] == "Le modèle contient des erreurs"
    reasons = [e["reason"] for e in response.json["errors"]]
    assert len(reasons) == 4, reasons
    assert any(r.startswith("erreur de syntaxe : balise inconnue « endfi »") for r in reasons)
    assert "filtre inconnu « majuscules »" in reasons
    assert "instruction interdite : l'attribut « __class__ » n'est pas accessible" in reasons
    assert any(r.startswith("la balise « {{r … }} »") for r in reasons)
    assert stored(app) == before


@pytest.mark.parametrize("payload, reason", [
    ("{% for i in range(10**9) %}x{% endfor %}", "range() limité"),
    ("{{ 7**(10**8) }}", "puissance"),
    ("{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(1) }}", "appels imbriqués"),
    ("{% for i in range(9999) %}{% for j in range(9999) %}x{% endfor %}{% endfor %}", "tours de boucle"),
])
def test_a_template_past_the_rendering_limits_is_refused_at_upload_naming_the_paragraph(client, tokens, app,
                                                                                         payload, reason):
    before = stored(app)
    response = upload(client, tokens["hr"], "piege", make_docx("Madame, Monsieur,", payload))
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert response.json["title"] == "Le modèle dépasse les limites de remplissage"
    (error,) = response.json["errors"]
    assert error["field"] == "file" and reason in error["reason"] and payload[:10] in error["excerpt"]
    assert stored(app) == before


def utf16_billion_laughs(docx: bytes) -> bytes:
    """The document part in UTF-16 (with its BOM) opening with a billion laughs: no byte spells « <!DOCTYPE »."""
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    text = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode("utf-8")
    text = text.replace("UTF-8", "UTF-16", 1).replace("?>", f'?><!DOCTYPE d [<!ENTITY l0 "lol">{entities}]>', 1)
    return rebuild(docx, replace={"word/document.xml": codecs.BOM_UTF16_LE + text.encode("utf-16-le")})


@pytest.mark.parametrize("make, reason", [
    (lambda docx: rebuild(docx, add={"word/vbaProject.bin": b"\0" * 10}), "macros"),
    (utf16_billion_laughs, "« word/document.xml » déclare des entités XML, refusées par sécurité"),
    (lambda docx: rebuild(docx, add={"word/media/bomb.bin": b"\0" * (20 * 1024 * 1024)}), "compress"),
    (lambda docx: b"%PDF-1.7 not a word document", "ZIP"),
])
def test_unsafe_files_are_refused_and_nothing_is_stored(client, tokens, app, make, reason):
    before = stored(app)
    response = upload(client, tokens["hr"], "piege", make(make_docx("Bonjour")))
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert reason in response.json["detail"] and response.json["errors"][0]["field"] == "file"
    assert stored(app) == before
    assert client.get("/api/v1/templates/piege", headers=bearer(tokens["hr"])).status_code == 404


def test_an_upload_over_the_size_limit_is_a_413_problem_and_stores_nothing(client, tokens, app):
    before = stored(app)
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    response = upload(client, tokens["hr"], "gros", make_docx("x" * 10, *["Paragraphe"] * 10) + b"\0" * 30_000)
    assert response.status_code == 413 and response.content_type == PROBLEM
    assert stored(app) == before


def test_a_bad_name_or_a_missing_file_names_the_field(client, tokens):
    response = upload(client, tokens["hr"], "mon modèle", make_docx("Bonjour"))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "name"
    missing = client.post("/api/v1/templates", data={}, content_type="multipart/form-data",
                          headers=bearer(tokens["hr"]))
    assert missing.status_code == 422 and {e["field"] for e in missing.json["errors"]} == {"file", "name"}


def test_each_route_admits_only_its_roles(client, tokens):
    reads = ["/api/v1/templates", "/api/v1/templates/trame", "/api/v1/templates/trame/versions/1/docx"]
    for path in reads:
        for role in ("hr", "auditor"):
            assert client.get(path, headers=bearer(tokens[role])).status_code == 200, (path, role)
        refused = client.get(path, headers=bearer(tokens["admin"]))
        assert refused.status_code == 403 and refused.content_type == PROBLEM
        assert client.get(path).status_code == 401
    assert client.get("/api/v1/templates/trame/versions/1/preview.pdf").status_code == 401
    assert client.get("/api/v1/templates/trame/versions/1/preview.pdf",
                      headers=bearer(tokens["admin"])).status_code == 403
    for role in ("auditor", "admin"):
        refused = upload(client, tokens[role], "lettre", make_docx("Bonjour"))
        assert refused.status_code == 403 and refused.content_type == PROBLEM
    anonymous = client.post("/api/v1/templates", data={"name": "x"}, content_type="multipart/form-data")
    assert anonymous.status_code == 401 and anonymous.content_type == PROBLEM


def test_unknown_templates_and_versions_are_404_problems(client, tokens):
    for path in ("/api/v1/templates/inconnu", "/api/v1/templates/inconnu/versions/1/docx",
                 "/api/v1/templates/trame/versions/2/docx", "/api/v1/templates/trame/versions/9/preview.pdf"):
        response = client.get(path, headers=bearer(tokens["hr"]))
        assert response.status_code == 404 and response.content_type == PROBLEM, path
    assert "version 2" in client.get("/api/v1/templates/trame/versions/2/docx",
                                     headers=bearer(tokens["hr"])).json["detail"]


def test_a_preview_needing_a_field_the_sample_lacks_names_it(client, tokens, app):
    upload(client, tokens["hr"], "coquille", make_docx("Bonjour {{ salarie.surnom }}"))

    def no_libreoffice():
        raise AssertionError("the template fails before any conversion")

    app.extensions["parcours"].converter = no_libreoffice
    response = client.get("/api/v1/templates/coquille/versions/1/preview.pdf", headers=bearer(tokens["auditor"]))
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert response.json["errors"][0]["field"] == "salarie.surnom"


@pytest.fixture
def shared_pool(app, pool):
    """The session's LibreOffice pool lent to the app (starting one per test costs seconds)."""
    container = app.extensions["parcours"]
    container._converter = pool
    yield pool
    container._converter = None  # the app fixture closes its services: not the shared pool


@pytest.mark.libreoffice
def test_a_preview_is_the_version_filled_with_the_sample_then_served_from_the_cache(client, tokens, app, shared_pool):
    response = client.get("/api/v1/templates/convocation/versions/1/preview.pdf", headers=bearer(tokens["hr"]))
    assert response.status_code == 200 and response.content_type == "application/pdf"
    assert response.data.startswith(b"%PDF") and b"convocation-v1-apercu.pdf" in response.headers[
        "Content-Disposition"].encode()
    import pypdfium2

    text = pypdfium2.PdfDocument(response.data)[0].get_textpage().get_text_range()
    assert "Lefèvre" in text  # the shipped sample.json's employee

    def no_libreoffice():
        raise AssertionError("a cached preview is not converted again")

    app.extensions["parcours"].converter = no_libreoffice
    again = client.get("/api/v1/templates/convocation/versions/1/preview.pdf", headers=bearer(tokens["auditor"]))
    assert again.status_code == 200 and again.data == response.data
