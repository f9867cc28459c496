"""Cuts the PDF of a merged batch back into one PDF per document, keeping PDF/A identification."""

from __future__ import annotations

import io
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

from docgen.merge import bookmark_name
from docgen.stamp import EmbeddedFont, Stamp, stamp_page

# Catalog entries that make the file PDF/A (output intent, XMP metadata) or describe it as a whole.
_CATALOG_KEYS = ("/OutputIntents", "/Metadata", "/MarkInfo", "/Lang", "/ViewerPreferences")


class SplitError(Exception):
    """The merged PDF does not show where each document starts."""


def document_starts(reader: PdfReader, count: int) -> list[int]:
    """The first page (0-based) of each of `count` merged documents, from their named destinations."""
    destinations = reader.named_destinations
    starts = []
    for index in range(count):
        name = bookmark_name(index)
        # Destinations are PDF names (with a slash) or strings, depending on the producer.
        destination = destinations.get(name) or destinations.get("/" + name)
        if destination is None:
            raise SplitError(f"the destination of document {index} is missing from the PDF")
        starts.append(reader.get_destination_page_number(destination))
    if starts != sorted(starts) or len(set(starts)) != len(starts) or starts[0] != 0:
        raise SplitError(f"document starts are not in order: {starts}")
    return starts


def page_ranges(pdf: bytes, count: int) -> tuple[PdfReader, list[range]]:
    reader = PdfReader(io.BytesIO(pdf))
    starts = document_starts(reader, count)
    ends = starts[1:] + [len(reader.pages)]
    return reader, [range(start, end) for start, end in zip(starts, ends)]


def extract(reader: PdfReader, pages: Sequence[int] | range, *,
            stamps: Sequence[Sequence[Stamp]] | None = None, font: EmbeddedFont | None = None) -> bytes:
    """A standalone PDF of some pages, carrying over the PDF/A output intent and metadata;
    `stamps[i]` are lines drawn on its page i, in `font` (docgen.stamp)."""
    writer = PdfWriter()
    font_ref = None
    for i, number in enumerate(pages):
        page = writer.add_page(reader.pages[number])
        if stamps and stamps[i] and font is not None:
            if font_ref is None:
                font_ref = font.add_to(writer)
            stamp_page(writer, page, font_ref, font, stamps[i])
    catalog = reader.trailer["/Root"]
    for key in _CATALOG_KEYS:
        if key in catalog:
            writer._root_object[NameObject(key)] = catalog.raw_get(key).clone(writer)
    info = reader.metadata
    if info:
        writer.add_metadata({k: v for k, v in info.items() if k in ("/Producer", "/Creator", "/CreationDate")})
    writer.generate_file_identifiers()  # PDF/A requires a file identifier in the trailer
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
