"""Batches with the real LibreOffice: merged conversions must give the same documents as single ones."""

import io
import re

import pytest
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from pypdf import PdfReader

from docgen import batch
from docgen.batch import BatchGenerator, BatchItem
from docgen.render import DocxRenderer

pytestmark = pytest.mark.libreoffice


def field(instruction: str):
    return parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" {instruction} "><w:r><w:t>1</w:t></w:r></w:fldSimple>')


def template(footer: str = "", numbered_list: bool = False, link: bool = False) -> bytes:
    doc = Document()
    doc.add_paragraph("Convocation de {{ salarie.prenom }} {{ salarie.nom }}")
    if numbered_list:
        doc.add_paragraph("{%p for f in salarie.formations %}")
        doc.add_paragraph("{{ f }}", style="List Number")
        doc.add_paragraph("{%p endfor %}")
    if link:
        doc.add_paragraph("Lien : {{ lien }}")
    doc.add_paragraph("{%p for i in range(salarie.lignes) %}")
    doc.add_paragraph("Ligne {{ i }} du document de {{ salarie.nom }}")
    doc.add_paragraph("{%p endfor %}")
    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.text = footer + "Page "
    paragraph._p.append(field("PAGE"))
    paragraph.add_run(" sur ")
    paragraph._p.append(field("NUMPAGES"))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(params=["sections", "one-section"])
def path(request) -> str:
    """Every test below runs on both batch paths: one section per letter, and one section in all."""
    return request.param


def run(pool, data: bytes, items, path: str, chunk_size=12):
    generator = BatchGenerator(DocxRenderer(data, "essai.docx"), pool, chunk_size=chunk_size,
                               one_section=path == "one-section")
    return generator, list(generator.run(items))


def merged(generator: BatchGenerator) -> int:
    """Documents converted in merged chunks, whichever the path."""
    return generator.stats.documents_merged + generator.stats.documents_one_section


def employee(i: int, lines: int = 3, **extra):
    return BatchItem(f"E{i:04d}", {"salarie": {"prenom": "Élodie", "nom": f"Nom{i}", "lignes": lines,
                                               "formations": ["SST", "CACES"], **extra}})


def test_each_document_gets_its_own_pages_and_page_count(pool, path):
    # Most documents take one page, every fifth takes several: the batch must notice and redo those.
    items = [employee(i, lines=120 if i % 5 == 2 else 3) for i in range(30)]
    generator, results = run(pool, template(), items, path)
    assert [r.key for r in results] == [i.key for i in items]
    assert merged(generator) >= 20, generator.stats
    long_lengths = set()
    for item, result in zip(items, results):
        assert result.ok, result.error
        pages = pages_text(result.pdf)
        assert result.pages == len(pages)
        if item.context["salarie"]["lignes"] == 120:
            long_lengths.add(len(pages))
        else:
            assert len(pages) == 1
        name = item.context["salarie"]["nom"]
        for number, text in enumerate(pages, start=1):
            assert f"Page {number} sur {len(pages)}" in text
            assert f"document de {name}" in text
            assert not re.search(rf"document de Nom(?!{name[3:]}\b)\d+", text), "another employee's page"
    assert len(long_lengths) == 1 and long_lengths.pop() > 1

def test_a_document_that_fails_to_render_does_not_stop_the_others(pool, path):
    items = [employee(1), BatchItem("E0666", {"salarie": {"prenom": "Jean"}}), employee(3)]
    _, results = run(pool, template(), items, path)
    assert [r.ok for r in results] == [True, False, True]
    assert "salarie.nom" in results[1].error and "E0666" in results[1].error


def test_numbered_lists_restart_in_every_merged_document(pool, path):
    _, results = run(pool, template(numbered_list=True), [employee(i) for i in range(4)], path)
    for result in results:
        text = pages_text(result.pdf)[0]
        assert "1. SST" in text and "2. CACES" in text, text


def test_footers_that_name_the_employee_stay_each_documents_own(pool, path):
    generator, results = run(pool, template(footer="{{ salarie.nom }} – "), [employee(i) for i in range(8)], path)
    assert merged(generator) >= 6, generator.stats
    for i, result in enumerate(results):
        assert f"Nom{i} – Page 1 sur 1" in pages_text(result.pdf)[0]


def test_split_documents_stay_pdf_a(pool, path):
    _, results = run(pool, template(), [employee(i) for i in range(3)], path)
    for result in results:
        reader = PdfReader(io.BytesIO(result.pdf))
        catalog = reader.trailer["/Root"]
        assert "/OutputIntents" in catalog
        assert b"pdfaid:part" in catalog["/Metadata"].get_object().get_data()
        assert reader.trailer.get("/ID")
        assert "/Dests" not in catalog  # the merge's bookmarks do not leak into the documents


def test_a_long_chunk_on_the_sectioned_path_is_converted_in_files_of_at_most_sections_per_chunk(pool, monkeypatch):
    # One-section chunks are long; letters that fall back to sections must not make one file of them all
    # (LibreOffice slows down as section breaks add up).
    monkeypatch.setattr(batch, "SECTIONS_PER_CHUNK", 5)
    items = [employee(i) for i in range(13)]
    generator, results = run(pool, template(), iter(items), "sections", chunk_size=13)  # not a list: one chunk
    assert all(result.ok for result in results)
    # The first letter alone tells the page count « sur Y »; the twelve others go in files of 5, 5 and 2.
    stats = generator.stats
    assert (stats.single_conversions, stats.merged_conversions, stats.documents_merged) == (1, 3, 12), stats
    for item, result in zip(items, results):
        assert f"document de {item.context['salarie']['nom']}" in pages_text(result.pdf)[0]
