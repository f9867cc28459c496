"""The sandboxed renderer: strict values, escaping, the sandbox, and template inspection."""

import datetime as dt
import io
import struct
import zipfile
import zlib

import pytest
from docx import Document

from docgen.render import DocxRenderer, RenderError, inspect_template, render_docx
from docx_factory import docx_text, make_docx


def render(*paragraphs, context, footer=None):
    template = make_docx(*paragraphs, footer=footer)
    return docx_text(render_docx(template, context, template_name="essai.docx", matricule="E0042"))


def test_values_and_french_filters_are_rendered():
    text = render(
        "{{ salarie.civilite|civilite_longue }} {{ salarie.nom }},",
        "le {{ entretien.date|date_longue }} à {{ entretien.heure|heure }}",
        context={"salarie": {"civilite": "Mme", "nom": "Lefèvre-Dubois"},
                 "entretien": {"date": dt.date(2027, 3, 1), "heure": dt.time(14, 30)}},
    )
    assert "Madame Lefèvre-Dubois," in text
    assert "le lundi 1er mars 2027 à 14 h 30" in text


def test_a_missing_value_names_the_field_the_template_and_the_employee():
    with pytest.raises(RenderError) as caught:
        render("Poste : {{ salarie.poste }}", context={"salarie": {"nom": "Martin"}})
    error = caught.value
    assert error.field == "salarie.poste"
    assert "salarie.poste" in str(error) and "essai.docx" in str(error) and "E0042" in str(error)


def test_a_none_value_is_missing_too():
    with pytest.raises(RenderError, match="entretien.lieu"):
        render("{{ entretien.lieu }}", context={"entretien": {"lieu": None}})


def test_a_missing_field_inside_a_list_is_named_with_its_position():
    with pytest.raises(RenderError, match=r"salarie\.formations\[1\]\.date_fin"):
        render("{% for f in salarie.formations %}{{ f.intitule }} {{ f.date_fin|date }}{% endfor %}",
               context={"salarie": {"formations": [
                   {"intitule": "SST", "date_fin": dt.date(2024, 1, 5)}, {"intitule": "CACES"}]}})


def test_a_missing_value_may_be_tested_to_show_optional_parts():
    text = render("{% if entretien.lien_visio %}Lien : {{ entretien.lien_visio }}{% endif %}Fin",
                  context={"entretien": {}})
    assert text.strip() == "Fin"


def test_values_are_xml_escaped():
    text = render("{{ societe.nom }}", context={"societe": {"nom": "Dupont & Fils <SARL>"}})
    assert "Dupont & Fils <SARL>" in text


def test_footer_is_rendered_with_the_same_context():
    text = render("Corps", context={"societe": {"nom": "Atelier Lumière"}},
                  footer="Document confidentiel – {{ societe.nom }}")
    assert "Document confidentiel – Atelier Lumière" in text


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ salarie.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% set x = salarie.update({'nom': 'pirate'}) %}{{ salarie.nom }}",
])
def test_template_code_cannot_escape_the_sandbox(payload):
    with pytest.raises(RenderError) as caught:
        render(payload, context={"salarie": {"nom": "Martin"}})
    assert "uid=" not in str(caught.value)


def test_a_syntax_error_is_reported_with_the_text_around_it():
    with pytest.raises(RenderError) as caught:
        render("Bonjour", "Votre entretien aura lieu le {{ entretien.date|date }", "Cordialement",
               context={"entretien": {"date": dt.date(2027, 1, 4)}})
    assert "syntaxe" in str(caught.value)
    assert "Votre entretien aura lieu" in (caught.value.excerpt or "")


def test_a_wrongly_typed_value_is_reported_as_invalid():
    with pytest.raises(RenderError, match="valeur invalide"):
        render("{{ entretien.date|date }}", context={"entretien": {"date": "demain"}})


def test_inspection_lists_dotted_variables_with_list_items():
    template = make_docx(
        "{{ salarie.nom }} {{ entretien.date|date }}",
        "{% for f in salarie.formations %}{{ f.intitule }}{% endfor %}",
        "{% if entretien.lien_visio %}x{% endif %}",
        footer="{{ societe.nom }}",
    )
    inspection = inspect_template(template, "essai.docx")
    assert inspection.variables == [
        "entretien.date", "entretien.lien_visio", "salarie.formations[].intitule", "salarie.nom", "societe.nom",
    ]
    assert inspection.problems == []


def test_inspection_flags_unknown_variables_and_syntax_errors():
    template = make_docx("{{ salarie.non }}", "Texte avant {% if entretien.lieu %} sans fin")
    inspection = inspect_template(template, "essai.docx", known_fields={"salarie.nom", "entretien.lieu"})
    assert len(inspection.problems) == 1
    assert "Texte avant" in inspection.problems[0].excerpt
    ok = inspect_template(make_docx("{{ salarie.non }}"), "essai.docx", known_fields={"salarie.nom"})
    assert ok.unknown == ["salarie.non"] and not ok.ok


def test_a_renderer_refuses_a_file_that_is_not_a_docx():
    with pytest.raises(RenderError, match="pas un document Word"):
        DocxRenderer(b"%PDF-1.7 not a docx", "essai.docx")


def test_line_breaks_in_a_text_stay_and_control_characters_go():
    data = render_docx(make_docx("Réponse : {{ t }}"), {"t": "ligne 1\r\nligne 2\x0b\x07\x0c"},
                       template_name="essai.docx")
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert "ligne 1</w:t><w:br/>" in xml and "ligne 2</w:t>" in xml


def test_inspection_reports_every_error_at_once_in_french_with_its_paragraph():
    template = make_docx(
        "Bonjour {{ salarie.nom }}",
        "{% if salarie.poste %}poste{% endfi %}",
        "Suite normale",
        "{{ salarie.nom|majuscules }} {{ salarie.age is pair }}",
        "{{ ''.__class__ }} {{ salarie['__dict__'] }}",
        "Prénom : {{ salarie.prenom }",
        footer="Page {{ societe.nom ! }}",
    )
    problems = inspect_template(template, "essai.docx", known_fields={"salarie.nom"}).problems
    messages = [p.message for p in problems]
    assert ("erreur de syntaxe : balise inconnue « endfi ». Balises attendues : « elif », « else » ou « endif ». "
            "Le bloc « if » n'est pas fermé.") in messages
    assert "erreur de syntaxe : « } » inattendu" in messages
    assert "erreur de syntaxe : caractère « ! » inattendu" in messages
    assert "filtre inconnu « majuscules »" in messages and "test inconnu « pair »" in messages
    assert "instruction interdite : l'attribut « __class__ » n'est pas accessible" in messages
    assert "instruction interdite : l'attribut « __dict__ » n'est pas accessible" in messages
    excerpts = {p.message: p.excerpt for p in problems}
    assert "{% endfi %}" in excerpts[messages[0]]
    assert "Prénom : {{ salarie.prenom }" in excerpts["erreur de syntaxe : « } » inattendu"]
    assert excerpts["filtre inconnu « majuscules »"] == "{{ salarie.nom|majuscules }} {{ salarie.age is pair }}"
    assert "Page {{ societe.nom ! }}" in excerpts["erreur de syntaxe : caractère « ! » inattendu"]
    assert not any("Jinja" in m or "Encountered" in m or "expected" in m for m in messages)


def test_inspection_refuses_docxtpl_rich_text_value_tags():
    problems = inspect_template(make_docx("Nom : {{r salarie.nom }}", "{{p entretien.lieu }}"), "essai.docx").problems
    assert [p.message.split(" (")[0] for p in problems] == ["la balise « {{r … }} »", "la balise « {{p … }} »"]
    assert problems[0].excerpt == "Nom : {{r salarie.nom }}"


def test_inspection_understands_unpacked_loops_macros_set_methods_and_jinja_names():
    template = make_docx(
        "{% for cle, valeur in salarie.items() %}{{ cle }} : {{ valeur }}{% endfor %}",
        "{% for f in salarie.formations %}{{ loop.index }} {{ f.intitule }}{% endfor %}",
        "{% macro ligne(texte, fin='.') %}{{ texte }}{{ fin }}{% endmacro %}{{ ligne(salarie.nom) }}",
        "{% set nom = salarie.nom.upper() %}{{ nom }} {% for i in range(2) %}{{ i }}{% endfor %}",
        "{% with lieu = entretien.lieu %}{{ lieu }}{% endwith %}",
    )
    inspection = inspect_template(template, "essai.docx", known_fields={
        "salarie", "salarie.formations[].intitule", "salarie.nom", "entretien.lieu"})
    assert inspection.variables == ["entretien.lieu", "salarie.formations[].intitule", "salarie.nom"]
    assert inspection.ok, (inspection.unknown, inspection.problems)


def tiny_png(red: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = b"".join(b"\x00" + bytes((red, 0, 0)) * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


def test_letters_of_one_renderer_keep_their_own_header_logo_and_footer():
    # Letters share the template's unchanged parts: a logo drawn in one letter's header must not reach the next.
    doc = Document()
    doc.add_paragraph("Madame, Monsieur {{ salarie.nom }},")
    doc.sections[0].header.paragraphs[0].text = "{% if societe.logo %}{{ societe.logo }}{% endif %}"
    doc.sections[0].footer.paragraphs[0].text = "Courrier de {{ salarie.nom }}"
    template = io.BytesIO()
    doc.save(template)
    renderer = DocxRenderer(template.getvalue(), "essai.docx")
    letters = [renderer.render({"salarie": {"nom": name}, "societe": {"logo": logo} if logo else {}})
               for name, logo in (("Martin", tiny_png(200)), ("Girard", None), ("Moreau", tiny_png(10)))]
    media = [{name: zipfile.ZipFile(io.BytesIO(letter)).read(name)
              for name in zipfile.ZipFile(io.BytesIO(letter)).namelist() if "media" in name} for letter in letters]
    assert len(media[0]) == 1 and media[1] == {} and len(media[2]) == 1
    assert list(media[0].values()) != list(media[2].values())
    for letter, name in zip(letters, ("Martin", "Girard", "Moreau")):
        assert f"Courrier de {name}" in docx_text(letter)
        assert docx_text(letter).count("Courrier de") == 1
