"""A one-section merge's letters after the first are rendered without a document of their own
(DocxRenderer.render_letter): the merge must be the very same as with documents, but for their paragraph
formatting, which it names as paragraph styles (docgen.paragraph_styles)."""

import copy
import io
import struct
import zipfile
import zlib

import pytest
from docx import Document as DocxDocument
from docx.document import Document
from lxml import etree

from docgen import batch
from docgen.dataset import load_dataset_dir
from docgen.letters import Calibration, assess, blank_footer_lines, footer_lines, shared_key
from docgen.merge import merge_letters
from docgen.render import DocxRenderer, Letter
from docgen.values import load_values
from parcours import resources
from parcours.service.templates import sample_context

TEMPLATES = ("convocation.docx", "compte_rendu.docx", "trame.docx", "etat_des_lieux.docx")


def contexts(count: int, template: str = "convocation.docx") -> list[tuple[str, dict]]:
    """(matricule, context) of the sample campaign's employees; for the état des lieux, which the campaign
    does not make, the template's sample under other names."""
    if template == "etat_des_lieux.docx":
        sample = sample_context()
        return [(f"S{n}", {**sample, "salarie": {**sample["salarie"], "nom": f"Nom{n}"}}) for n in range(count)]
    dataset = load_dataset_dir(resources.SAMPLES).dataset
    values = load_values(resources.SAMPLES / "campagne.json")
    made = []
    for matricule in sorted(dataset.employees):
        try:
            made.append((matricule, values.context(dataset, matricule)))
        except Exception:  # an employee the campaign does not concern
            continue
    return made[:count]


def parts(docx: bytes) -> dict[str, bytes]:
    """Each part of the package, its XML canonicalised (namespace declarations may sit elsewhere)."""
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: etree.tostring(etree.fromstring(archive.read(name)), method="c14n")
                if name.endswith((".xml", ".rels")) else archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("name", TEMPLATES)
def test_letters_rendered_without_a_document_merge_into_the_same_docx(name):
    template = (resources.DOCUMENTS / name).read_bytes()
    verdict = assess(template)
    employees = contexts(4, name)
    with_documents = DocxRenderer(template, name)
    documents = [with_documents.render_document(context, key) for key, context in employees]
    light = DocxRenderer(template, name)
    letters = [light.render_document(*reversed(employees[0]))]
    letters += [light.render_letter(context, key) for key, context in employees[1:]]
    assert all(isinstance(letter, Letter) for letter in letters[1:])
    for document, letter in zip(documents[1:], letters[1:]):
        assert footer_lines(letter, verdict) == footer_lines(document, verdict)
        assert shared_key(letter, verdict) == shared_key(document, verdict)
    expected, made = parts(merge_letters(documents)), parts(merge_letters(letters))
    assert made.keys() == expected.keys()
    assert made["word/document.xml"] != expected["word/document.xml"]  # the letters' formatting is named
    made["word/document.xml"], made["word/styles.xml"] = formats_inlined(made["word/document.xml"],
                                                                          made["word/styles.xml"])
    expected["word/document.xml"], _ = formats_inlined(expected["word/document.xml"], expected["word/styles.xml"])
    for part in expected:
        if part != "docProps/core.xml":  # its modification time is the saving's
            assert made[part] == expected[part], part


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def formats_inlined(document_xml: bytes, styles_xml: bytes) -> tuple[bytes, bytes]:
    """The document with each named paragraph format put back on its paragraphs, properties in one order and
    a reference to the default paragraph style dropped (both mean the same); the styles without the named ones."""
    document, styles = etree.fromstring(document_xml), etree.fromstring(styles_xml)
    by_id = {style.get(f"{W}styleId"): style for style in styles.iter(f"{W}style")}
    default = next(key for key, style in by_id.items()
                   if style.get(f"{W}type") == "paragraph" and style.get(f"{W}default") == "1")
    for properties in document.iter(f"{W}pPr"):
        reference = properties.find(f"{W}pStyle")
        named = by_id.get(reference.get(f"{W}val")) if reference is not None else None
        if named is not None and named.get(f"{W}styleId").startswith("ParcoursP"):
            properties.extend(copy.deepcopy(child) for child in named.find(f"{W}pPr"))
            reference.set(f"{W}val", named.find(f"{W}basedOn").get(f"{W}val"))
        if reference is not None and reference.get(f"{W}val") == default:
            properties.remove(reference)
        properties[:] = sorted(properties, key=lambda child: child.tag)
    for key, style in by_id.items():
        if key.startswith("ParcoursP"):
            styles.remove(style)
    return etree.tostring(document, method="c14n"), etree.tostring(styles, method="c14n")


def test_naming_the_letters_formats_leaves_the_templates_own_styles_as_they_are():
    template = (resources.DOCUMENTS / "convocation.docx").read_bytes()
    renderer = DocxRenderer(template, "convocation.docx")
    employees = contexts(3)
    before = parts(renderer.render(*reversed(employees[0])))["word/styles.xml"]
    letters = [renderer.render_document(*reversed(employees[0]))]
    letters += [renderer.render_letter(context, key) for key, context in employees[1:]]
    merged = parts(merge_letters(letters))
    assert merged["word/styles.xml"].count(b'w:styleId="ParcoursP') >= 5
    assert parts(renderer.render(*reversed(employees[0])))["word/styles.xml"] == before
    assert parts(template)["word/styles.xml"] == before


def test_a_letter_with_a_logo_gets_a_document_of_its_own():
    key, context = contexts(1)[0]
    context = {**context, "societe": {**context["societe"], "logo": _png()}}
    letter = DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx") \
        .render_letter(context, key)
    assert isinstance(letter, Document)


def test_a_letter_missing_a_value_is_refused_as_a_document_is():
    key, context = contexts(1)[0]
    renderer = DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx")
    broken = {**context, "salarie": {k: v for k, v in context["salarie"].items() if k != "nom"}}
    with pytest.raises(Exception) as as_letter:
        renderer.render_letter(broken, key)
    with pytest.raises(Exception) as as_document:
        renderer.render_document(broken, key)
    assert str(as_letter.value) == str(as_document.value) and "salarie.nom" in str(as_letter.value)


def _png() -> bytes:
    """A 1×1 PNG, made by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x80")) \
        + chunk(b"IEND", b"")


def test_when_the_first_letter_is_left_out_the_next_one_is_rendered_as_the_document_that_receives_the_others(
        monkeypatch):
    name = "convocation.docx"
    template = (resources.DOCUMENTS / name).read_bytes()
    verdict = assess(template)
    employees = contexts(3)
    renderer = DocxRenderer(template, name)
    docs = [renderer.render_document(employees[0][1], employees[0][0])]
    docs += [renderer.render_letter(context, key) for key, context in employees[1:]]
    left_out = footer_lines(docs[0], verdict)
    monkeypatch.setattr(batch, "stampable", lambda calibration, lines: lines != left_out)  # its line would wrap
    asked = []

    def document(index):
        asked.append(index)
        return renderer.render_document(employees[index][1], employees[index][0])

    merged = batch._choose_and_merge(verdict, Calibration((), None), docs, document)
    assert asked == [1] and merged.chosen == [1, 2]
    expected = DocxRenderer(template, name)
    documents = [expected.render_document(context, key) for key, context in employees[1:]]
    blank_footer_lines(documents[0], verdict)  # as the merge does: the lines are stamped on the PDF
    alone = merge_letters(documents)
    made, wanted = parts(merged.docx), parts(alone)
    made["word/document.xml"], made["word/styles.xml"] = formats_inlined(made["word/document.xml"],
                                                                          made["word/styles.xml"])
    wanted["word/document.xml"], _ = formats_inlined(wanted["word/document.xml"], wanted["word/styles.xml"])
    assert [part for part in wanted if part != "docProps/core.xml" and made[part] != wanted[part]] == []
    # Without a way to make that document, the letters are not merged (the caller makes them otherwise).
    assert batch._choose_and_merge(verdict, Calibration((), None), docs) is None


def test_a_letter_with_a_picture_in_its_body_numbers_its_drawing_as_a_document_does():
    doc = DocxDocument()
    doc.add_paragraph("Convocation de {{ salarie.nom }}")
    doc.add_picture(io.BytesIO(_png()))
    doc.add_picture(io.BytesIO(_png()))
    out = io.BytesIO()
    doc.save(out)
    template, employees = out.getvalue(), contexts(3)
    with_documents, light = DocxRenderer(template, "image.docx"), DocxRenderer(template, "image.docx")
    documents = [with_documents.render_document(context, key) for key, context in employees]
    letters = [light.render_document(*reversed(employees[0]))]
    letters += [light.render_letter(context, key) for key, context in employees[1:]]
    assert isinstance(letters[1], Letter)
    assert b'id="1002"' in etree.tostring(letters[1].element.body)  # the second drawing, as docxtpl numbers it
    made, expected = parts(merge_letters(letters)), parts(merge_letters(documents))
    assert [part for part in expected if part != "docProps/core.xml" and made[part] != expected[part]] == []
