"""Which batch path a template gets (docgen.letters), and the footer lines a letter would have stamped."""

import io

import pytest
from docx import Document
from docx.enum.section import WD_SECTION
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from docgen.letters import PAGE, PAGES, assess, blank_footer_lines, footer_lines
from parcours import resources


def field(instruction: str):
    return parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" {instruction} "><w:r><w:t>1</w:t></w:r></w:fldSimple>')


def letter(footer: str = "{{ salarie.nom }} – ", change=None) -> Document:
    doc = Document()
    doc.add_paragraph("Convocation de {{ salarie.nom }}")
    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.text = footer + "Page "
    paragraph._p.append(field("PAGE"))
    paragraph.add_run(" sur ")
    paragraph._p.append(field("NUMPAGES"))
    if change:
        change(doc)
    return doc


def as_bytes(doc: Document) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["convocation", "trame", "compte_rendu", "etat_des_lieux"])
def test_the_shipped_templates_take_the_one_section_path(name):
    verdict = assess((resources.DOCUMENTS / f"{name}.docx").read_bytes())
    assert verdict.one_section, verdict.reason
    # The confidentiality line naming the employee and « Page X sur Y » are drawn on the PDF.
    assert verdict.stamped == (0, 1)
    assert "reportés sur le PDF" in verdict.reason


def test_the_shipped_templates_are_slim():
    # LibreOffice imports every style it is given: python-docx's default package had ~790 KB of them.
    import zipfile

    for path in resources.DOCUMENTS.glob("*.docx"):
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
            assert "word/stylesWithEffects.xml" not in names and "docProps/thumbnail.jpeg" not in names
            styles = package.read("word/styles.xml")
            assert len(styles) < 20_000 and b"latentStyles" not in styles, path.name


def add_section(doc):
    doc.add_section(WD_SECTION.NEW_PAGE)
    doc.add_paragraph("Annexe")


def first_page_footer(doc):
    doc.sections[0].different_first_page_header_footer = True


def date_in_footer(doc):
    doc.sections[0].footer.paragraphs[0]._p.append(field("DATE"))


def table_first(doc):
    body = doc.element.body
    table = doc.add_table(rows=1, cols=1)._tbl
    body.remove(table)
    body.insert(0, table)


def page_in_body(doc):
    doc.paragraphs[0]._p.append(field("PAGE"))


def tab_in_varying_line(doc):
    doc.sections[0].footer.paragraphs[0].runs[0].add_tab()


@pytest.mark.parametrize(("change", "reason"), [
    (add_section, "plusieurs sections"),
    (first_page_footer, "première page"),
    (date_in_footer, "champ que l’on ne peut pas reporter (DATE)"),
    (table_first, "ne commence pas par un paragraphe"),
    (page_in_body, "le corps contient un champ (PAGE)"),
    (tab_in_varying_line, "mise en forme que l’on ne peut pas reporter"),
])
def test_templates_that_need_their_sections_keep_the_sectioned_path_and_say_why(change, reason):
    verdict = assess(as_bytes(letter(change=change)))
    assert not verdict.one_section
    assert reason in verdict.reason


def test_a_footer_without_variables_or_fields_needs_no_stamp():
    doc = Document()
    doc.add_paragraph("Bonjour {{ salarie.nom }}")
    doc.sections[0].footer.paragraphs[0].text = "Rhône Précision Industrie"
    verdict = assess(as_bytes(doc))
    assert verdict.one_section and verdict.stamped == ()


def test_footer_lines_mark_page_fields_and_blanking_keeps_the_format():
    doc = letter()
    verdict = assess(doc)
    assert verdict.stamped == (0,)
    assert footer_lines(doc, verdict) == [f"{{{{ salarie.nom }}}} – Page {PAGE} sur {PAGES}"]
    blank_footer_lines(doc, verdict)
    paragraph = doc.sections[0].footer.paragraphs[0]
    assert paragraph.text == "\u00a0"  # a no-break space: a line of a plain space would be lower
