"""The batch's one-section path against the sectioned one, with the real LibreOffice and the shipped templates."""

import copy
import io
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from docgen import render
from docgen.batch import BatchGenerator, BatchItem
from docgen.dataset import load_dataset_dir
from docgen.render import DocxRenderer
from docgen.values import load_values
from parcours import resources
from parcours.service.templates import sample_context

pytestmark = pytest.mark.libreoffice


def pdftotext_pages(pdf: bytes) -> list[str]:
    """Each page's text as a reader sees it (layout kept, runs of spaces folded: column gaps may move by a point)."""
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    pages = text.decode().split("\f")[:-1]
    return ["\n".join(" ".join(line.split()) for line in page.splitlines() if line.strip()) for page in pages]


def fonts(pdf: bytes) -> list[tuple[str, str]]:
    """(name, embedded) for each font, from pdffonts."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        out = subprocess.run(["pdffonts", file.name], capture_output=True, check=True, text=True).stdout
    rows = out.splitlines()[2:]
    # name type... emb sub uni object ID: the emb column is the fourth from the end.
    return [(row.split()[0], row.split()[-5]) for row in rows]


def pdfa_markers(pdf: bytes) -> tuple[bool, bool, bool]:
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    metadata = catalog["/Metadata"].get_object().get_data() if "/Metadata" in catalog else b""
    return "/OutputIntents" in catalog, b"pdfaid:part" in metadata, bool(reader.trailer.get("/ID"))


def both_paths(pool, template: bytes, name: str, items: list[BatchItem], **options):
    """The same items through the sectioned path and the one-section path."""
    runs = {}
    for path in ("sections", "one-section"):
        generator = BatchGenerator(DocxRenderer(template, name), pool, chunk_size=8,
                                   one_section=path == "one-section", **options)
        runs[path] = generator, list(generator.run(items))
    return runs


def assert_same_for_a_reader(sectioned, one_section) -> None:
    for old, new in zip(sectioned, one_section):
        assert old.ok and new.ok, (old.error, new.error)
        assert old.key == new.key and old.pages == new.pages
        old_pages, new_pages = pdftotext_pages(old.pdf), pdftotext_pages(new.pdf)
        assert len(new_pages) == new.pages
        assert new_pages == old_pages, new.key
        for number, text in enumerate(new_pages, start=1):
            assert f"Page {number} sur {new.pages}" in text, (new.key, number)
        assert fonts(new.pdf) and all(embedded == "yes" for _, embedded in fonts(new.pdf)), fonts(new.pdf)
        assert pdfa_markers(new.pdf) == (True, True, True)


def sample_campaign() -> list[BatchItem]:
    dataset = load_dataset_dir(resources.SAMPLES).dataset
    values = load_values(resources.SAMPLES / "campagne.json")
    items = []
    for matricule in sorted(dataset.employees):
        try:
            items.append(BatchItem(matricule, values.context(dataset, matricule)))
        except Exception:  # an employee the campaign does not concern: not this test's business
            continue
    return items


def test_the_sample_campaigns_convocations_read_the_same_on_both_paths(pool):
    items = sample_campaign()
    assert len(items) >= 10
    runs = both_paths(pool, (resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx", items)
    generator, one_section = runs["one-section"]
    assert generator.path.startswith("une section"), generator.path
    assert generator.stats.documents_one_section >= len(items) - 2, generator.stats
    assert_same_for_a_reader(runs["sections"][1], one_section)
    # The footer line names each letter's own employee.
    for item, result in zip(items, one_section):
        salarie = item.context["salarie"]
        assert f"adressée à {salarie['prenom']} {salarie['nom']}" in " ".join(pdftotext_pages(result.pdf)[0].split())


def named_samples(prefix: str, names: list[tuple[str, str]]) -> list[BatchItem]:
    """The shipped sample context, for employees of these names (of different lengths)."""
    base = sample_context()
    items = []
    for i, (prenom, nom) in enumerate(names):
        context = copy.deepcopy(base)
        context["salarie"].update(prenom=prenom, nom=nom, matricule=f"{prefix}-{i:04d}")
        items.append(BatchItem(f"{prefix}-{i:04d}", context))
    return items


@pytest.mark.parametrize("name", ["trame", "compte_rendu", "etat_des_lieux"])
def test_the_other_shipped_templates_read_the_same_on_both_paths(pool, name):
    items = named_samples("RPI", [("Nathalie", "Lefèvre"), ("Jean-Baptiste", "N'Diaye-Rousseau"), ("Zoé", "Da Silva"),
                                  ("Ana", "Bénard")])
    runs = both_paths(pool, (resources.DOCUMENTS / f"{name}.docx").read_bytes(), f"{name}.docx", items)
    generator, one_section = runs["one-section"]
    assert generator.stats.documents_one_section >= 2, generator.stats
    assert_same_for_a_reader(runs["sections"][1], one_section)


def rasters(pdf: bytes) -> list[bytes]:
    """Each page drawn in grey at 60 dpi (pdftoppm), to compare pixels."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", "60", "-gray", "-", f"{folder}/page"], input=pdf, check=True)
        return [(Path(folder) / name).read_bytes() for name in sorted(os.listdir(folder))]


@pytest.mark.parametrize("name", ["convocation", "trame", "compte_rendu", "etat_des_lieux"])
def test_letters_whose_formatting_is_named_as_styles_are_drawn_pixel_for_pixel_as_before(pool, monkeypatch, name):
    """docgen.paragraph_styles: the letters after the first refer to styles instead of carrying their paragraph
    formatting; LibreOffice must lay them out exactly as the formatting itself."""
    template = (resources.DOCUMENTS / f"{name}.docx").read_bytes()
    items = named_samples("PIX", [("Nathalie", "Lefèvre"), ("Jean-Baptiste", "N'Diaye-Rousseau"), ("Zoé", "Bénard"),
                                  ("Ana", "Da Silva"), ("Éric", "Martin")])

    def letters() -> tuple[BatchGenerator, list[bytes]]:
        # The first chunk measures the footer; in the second, the letters after the first are rendered as Letters.
        generator = BatchGenerator(DocxRenderer(template, name), pool)
        made = generator.run_chunk(items[:2]) + generator.run_chunk(items[2:])
        assert generator.stats.documents_one_section == 3, generator.stats
        return generator, [result.pdf for result in made]

    named, named_pdfs = letters()
    assert len(named.renderer._loaded()[1].letter_styles) >= 5
    monkeypatch.setattr(render, "name_paragraph_formats", lambda body, styles: (body, []))
    direct, direct_pdfs = letters()
    assert not direct.renderer._loaded()[1].letter_styles
    for letter, (named_pdf, direct_pdf) in enumerate(zip(named_pdfs, direct_pdfs)):
        named_pages, direct_pages = rasters(named_pdf), rasters(direct_pdf)
        assert len(named_pages) == len(direct_pages) >= 1
        for page, (drawn, expected) in enumerate(zip(named_pages, direct_pages), start=1):
            assert drawn == expected, f"letter {letter}, page {page}: the pixels differ"


def header_template() -> bytes:
    doc = Document()
    doc.sections[0].header.paragraphs[0].text = "Dossier de {{ salarie.nom }}"
    doc.add_paragraph("Bonjour {{ salarie.nom }}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_letters_whose_header_differs_are_not_merged_under_another_letters_header(pool):
    items = [BatchItem(f"E{i}", {"salarie": {"nom": f"Nom{i}"}}) for i in range(6)]
    runs = both_paths(pool, header_template(), "entete.docx", items)
    generator, results = runs["one-section"]
    assert generator.stats.documents_one_section == 0, generator.stats
    for i, result in enumerate(results):
        assert f"Dossier de Nom{i}" in pdftotext_pages(result.pdf)[0]


def test_a_letter_whose_footer_line_would_wrap_takes_the_sectioned_path(pool):
    items = sample_campaign()[:6]
    long = copy.deepcopy(items[3].context)
    long["salarie"]["nom"] = "De La Tour d'Auvergne-Lauraguais " * 6
    items[3] = BatchItem(items[3].key, long)
    runs = both_paths(pool, (resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx", items)
    generator, results = runs["one-section"]
    # One letter measures the footer alone, the long one is converted apart, the others are merged.
    assert 2 <= generator.stats.documents_one_section <= len(items) - 2, generator.stats
    assert_same_for_a_reader(runs["sections"][1], results)
    assert "Auvergne" in pdftotext_pages(results[3].pdf)[0].split("Document confidentiel")[-1]


def test_in_threads_letters_after_the_measure_need_no_document_and_one_left_out_gets_one(pool):
    items = sample_campaign()[:9]
    long = copy.deepcopy(items[5].context)
    long["salarie"]["nom"] = "De La Tour d'Auvergne-Lauraguais " * 6  # its footer line would wrap
    items[5] = BatchItem(items[5].key, long)
    template = (resources.DOCUMENTS / "convocation.docx").read_bytes()
    threads = BatchGenerator(DocxRenderer(template, "convocation.docx"), pool)
    as_letters = []
    render_letter = threads.renderer.render_letter
    threads.renderer.render_letter = lambda context, key: as_letters.append(key) or render_letter(context, key)
    results = threads.run_chunk(items[:3]) + threads.run_chunk(items[3:])
    # The first chunk measures the footer; in the second, every letter after the first is rendered as a Letter.
    assert as_letters == [item.key for item in items[4:]]
    assert threads.stats.documents_one_section == 7, threads.stats  # all but the measuring one and the long one
    sections = BatchGenerator(DocxRenderer(template, "convocation.docx"), pool, one_section=False)
    assert_same_for_a_reader(list(sections.run(items)), results)
    assert "Auvergne" in pdftotext_pages(results[5].pdf)[0].split("Document confidentiel")[-1]


def test_worker_processes_give_the_same_letters(pool):
    items = sample_campaign()
    generator = BatchGenerator(DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx"),
                               pool, chunk_size=4, processes=2)
    in_processes = list(generator.run(items))
    threads = BatchGenerator(DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx"),
                             pool, chunk_size=4)
    in_threads = list(threads.run(items))
    assert generator.stats.documents_one_section >= len(items) - 4, generator.stats
    for a, b in zip(in_processes, in_threads):
        assert a.key == b.key and a.ok and b.ok
        assert pdftotext_pages(a.pdf) == pdftotext_pages(b.pdf)
        assert f"Page 1 sur {a.pages}" in pdftotext_pages(a.pdf)[0]


@pytest.mark.parametrize("long", [True, False])
def test_parcours_batch_renders_a_long_batch_in_worker_processes_and_a_short_one_in_threads(pool, tmp_path, monkeypatch,
                                                                                         long):
    """Starting worker processes costs about half a second: `parcours batch` (run_batch) starts them for a batch
    of PROCESSES_PAY_FROM letters or more, here lowered to the 25 sample employees, and makes the same files."""
    import csv

    from parcours.cli import documents as cli

    monkeypatch.setattr(cli, "PROCESSES_PAY_FROM", 25 if long else 26)
    given = []

    class Spied(BatchGenerator):
        def __init__(self, *args, **kwargs):
            given.append(kwargs.get("processes", 0))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(cli, "BatchGenerator", Spied)
    dataset = load_dataset_dir(resources.SAMPLES).dataset
    values = load_values(resources.SAMPLES / "campagne.json")
    summary = cli.run_batch((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx", dataset,
                            values, tmp_path, pool=pool)
    assert given == [pool.size if long else 0]
    assert (summary.generated, summary.failed) == (25, 0)
    rows = list(csv.DictReader(summary.manifest.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert len(rows) == 25 and all(row["erreur"] == "" for row in rows)
    for row in rows:
        pdf = PdfReader(tmp_path / row["fichier"])
        count = len(pdf.pages)
        assert count == int(row["pages"])
        assert [f"Page {n} sur {count}" in page.extract_text() for n, page in enumerate(pdf.pages, 1)] == [True] * count
