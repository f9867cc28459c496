"""Cutting a merged PDF back into documents: the fast split against pypdf's, page for page."""

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject, TextStringObject,
)

from docgen import split
from docgen.merge import bookmark_name
from docgen.split import extract, extract_all, page_ranges
from docgen.stamp import Placement, Stamp, StampError, system_font


def merged_pdf(letters: list[int], annotate: bool = False) -> bytes:
    """A PDF like LibreOffice's merge: pages sharing one resources object and font, a named destination at
    each letter's first page, PDF/A-ish catalog entries (metadata, output intent, language)."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    resources = writer._add_object(DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}))
    starts = []
    for letter, pages in enumerate(letters):
        for number in range(pages):
            page = writer.add_blank_page(595, 842)
            content = DecodedStreamObject()
            content.set_data(f"BT /F1 12 Tf 72 700 Td (Lettre {letter} page {number + 1}) Tj ET".encode())
            page[NameObject("/Contents")] = writer._add_object(content)
            page[NameObject("/Resources")] = resources
            if annotate:
                page[NameObject("/Annots")] = ArrayObject()
            if number == 0:
                starts.append(len(writer.pages) - 1)
    for letter, start in enumerate(starts):
        writer.add_named_destination(bookmark_name(letter), start)
    metadata = DecodedStreamObject()
    metadata.set_data(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><pdfaid:part>2</pdfaid:part></x:xmpmeta>")
    metadata.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    profile = DecodedStreamObject()
    profile.set_data(b"not a real ICC profile")
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject({NameObject("/Type"): NameObject("/OutputIntent"),
                               NameObject("/S"): NameObject("/GTS_PDFA1"),
                               NameObject("/DestOutputProfile"): writer._add_object(profile)})
    writer._root_object.update({NameObject("/Metadata"): writer._add_object(metadata),
                                NameObject("/OutputIntents"): ArrayObject([intent]),
                                NameObject("/Lang"): TextStringObject("fr-FR")})
    writer.add_metadata({"/Producer": "LibreOffice 7.4", "/Creator": "Writer", "/Title": "Lot"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def as_read(pdf: bytes) -> tuple:
    """What a reader sees: each page's text, the catalog's PDF/A entries, the document information, an identifier."""
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    return ([page.extract_text() for page in reader.pages],
            sorted(k for k in catalog if k in ("/Metadata", "/OutputIntents", "/Lang")),
            catalog["/Metadata"].get_object().get_data(),
            catalog["/OutputIntents"][0]["/DestOutputProfile"].get_object().get_data(),
            dict(reader.metadata or {}), bool(reader.trailer.get("/ID")))


@pytest.mark.parametrize("annotate", [False, True], ids=["fast", "pages with annotations, through pypdf"])
def test_every_document_reads_as_pypdf_cuts_it(annotate, monkeypatch):
    reader, ranges = page_ranges(merged_pdf([1, 3, 2, 1], annotate=annotate), 4)
    if not annotate:  # the fast split must not have fallen back on pypdf's
        monkeypatch.setattr(split, "extract", None)
    documents = extract_all(reader, ranges)
    monkeypatch.undo()
    assert [as_read(d) for d in documents] == [as_read(extract(reader, r)) for r in ranges]
    assert as_read(documents[1])[0] == ["Lettre 1 page 1", "Lettre 1 page 2", "Lettre 1 page 3"]
    assert as_read(documents[0])[4] == {"/Producer": "LibreOffice 7.4", "/Creator": "Writer"}


def test_a_single_document_is_cut_too():
    reader, ranges = page_ranges(merged_pdf([2]), 1)
    assert [as_read(d) for d in extract_all(reader, ranges)] == [as_read(extract(reader, ranges[0]))]


def test_stamped_documents_read_as_pypdf_stamps_them():
    try:
        font = system_font("Carlito")
    except StampError:
        pytest.skip("Carlito is not installed")
    reader, ranges = page_ranges(merged_pdf([2, 1]), 2)
    placement = Placement(540, 40, 9, "right", (0.2, 0.2, 0.2), 450)
    stamps = [[[Stamp(f"Page {n} sur {len(r)}", placement)] for n in range(1, len(r) + 1)] for r in ranges]
    embedded = font.embed_covering("Page sur 0123456789")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(split, "extract", None)
        documents = extract_all(reader, ranges, stamps=stamps, font=embedded)
    expected = [extract(reader, r, stamps=s, font=embedded) for r, s in zip(ranges, stamps)]
    assert [as_read(d) for d in documents] == [as_read(e) for e in expected]
    assert "Page 2 sur 2" in as_read(documents[0])[0][1] and "Page 1 sur 1" in as_read(documents[1])[0][0]


def test_a_pdf_whose_cross_reference_table_is_off_is_still_split():
    # Opened strictly first (pypdf then skips checking where each object starts); one that a strict reading
    # refuses is read leniently, as before.
    good = merged_pdf([1, 2, 1])
    reader, ranges = page_ranges(good, 3)
    assert ranges == [range(0, 1), range(1, 3), range(3, 4)] and reader.strict is False
    shifted = good.replace(b"%PDF-1.3\n", b"%PDF-1.3\n% a comment LibreOffice never writes\n", 1)
    assert shifted != good
    with pytest.raises(Exception):
        PdfReader(io.BytesIO(shifted), strict=True)
    reader, ranges = page_ranges(shifted, 3)
    assert ranges == [range(0, 1), range(1, 3), range(3, 4)]
    assert [page.extract_text() for page in reader.pages][1] == "Lettre 1 page 1"
