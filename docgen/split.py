"""Cuts the PDF of a merged batch back into one PDF per document, keeping PDF/A identification.

`extract` makes one document's PDF with pypdf. `extract_all` makes every document of a merge at once,
about three times faster: the objects all documents share (fonts, the colour profile, the XMP metadata)
are written once as bytes and copied into each file, and each file only writes its own pages; merges
it cannot read that way (object streams, annotations, pages inheriting from a tree) go through `extract`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject, DictionaryObject, IndirectObject, NameObject, NumberObject, PdfObject, StreamObject,
)

from docgen.merge import bookmark_name
from docgen.stamp import BEFORE, FONT_KEY, EmbeddedFont, Stamp, drawing, stamp_page

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
    reader = _reader(pdf)
    starts = document_starts(reader, count)
    ends = starts[1:] + [len(reader.pages)]
    return reader, [range(start, end) for start, end in zip(starts, ends)]


def _reader(pdf: bytes) -> PdfReader:
    """The merged PDF, opened strictly, which spares pypdf checking where every object starts (a quarter of a
    split; LibreOffice's cross-reference table is right), then read leniently as before; wholly leniently if
    the strict opening fails."""
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=True)
    except Exception:  # noqa: BLE001 - whatever the strict reading objects to, the lenient one is as before
        return PdfReader(io.BytesIO(pdf))
    reader.strict = False
    return reader


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


# Page entries the fast split knows how to carry; a page with others (annotations, say) goes through `extract`.
_PAGE_KEYS = {"/Type", "/Parent", "/Resources", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox",
              "/Contents", "/Rotate", "/Group", "/StructParents", "/UserUnit"}
_INFO_KEYS = ("/Producer", "/Creator", "/CreationDate")  # what `extract` keeps of the document information


def extract_all(reader: PdfReader, ranges: Sequence[range], *,
                stamps: Sequence[Sequence[Sequence[Stamp]]] | None = None,
                font: EmbeddedFont | None = None) -> list[bytes]:
    """`extract(reader, ranges[i], stamps=stamps[i], font=font)` for every i, the same for a reader."""
    try:
        return _Splitter(reader, font if stamps else None).documents(ranges, stamps)
    except _NotPlain:
        return [extract(reader, pages, stamps=stamps[i] if stamps else None, font=font)
                for i, pages in enumerate(ranges)]


class _NotPlain(Exception):
    """The merged PDF has something the fast split does not carry."""


class _Numbers:
    """Stands for a PdfWriter when an EmbeddedFont adds its objects: numbers them from `first`."""

    def __init__(self, first: int) -> None:
        self.next, self.objects = first, []

    def _add_object(self, obj: PdfObject) -> IndirectObject:
        ref = IndirectObject(self.next, 0, None)  # type: ignore[arg-type]
        self.objects.append((self.next, obj))
        self.next += 1
        return ref


class _Splitter:
    def __init__(self, reader: PdfReader, font: EmbeddedFont | None) -> None:
        if reader.xref_objStm or "/Encrypt" in reader.trailer or "/Prev" in reader.trailer:
            raise _NotPlain("object streams, encryption or updates")
        self.reader, self.font = reader, font
        self._refs: dict[int, tuple[int, ...]] = {}
        self.catalog = reader.trailer["/Root"].get_object()
        self.catalog_entries = {key: self.catalog.raw_get(key) for key in _CATALOG_KEYS if key in self.catalog}
        info = reader.metadata or {}
        self.info = DictionaryObject({NameObject(k): v for k, v in info.items() if k in _INFO_KEYS})
        self.header = reader.pdf_header.encode("latin-1") + b"\n%\xe2\xe3\xcf\xd3\n"

    def documents(self, ranges: Sequence[range], stamps) -> list[bytes]:
        pages = self.reader.pages
        own: list[set[int]] = []
        for pages_of in ranges:
            found: set[int] = set()
            for number in pages_of:
                page = pages[number]
                if not set(page.keys()) <= _PAGE_KEYS or page.indirect_reference is None:
                    raise _NotPlain("a page with other entries")
                # A page's own entries, not its parent (the whole tree) nor its place in the structure tree.
                number_of_page = page.indirect_reference.idnum
                self._refs[number_of_page] = tuple(_refs_in(
                    [v for k, v in dict.items(page) if k not in ("/Parent", "/StructParents")]))
                found |= self._closure([number_of_page])
            own.append(found)
        # Objects every document uses (fonts, resources, the colour profile) get the same numbers in all.
        page_objects = {pages[n].indirect_reference.idnum for pages_of in ranges for n in pages_of}
        shared = (set.intersection(*own) if own else set()) - page_objects
        shared |= self._closure(_refs_in(self.catalog_entries.values()))
        numbers = {old: new for new, old in enumerate(sorted(shared), start=1)}
        common = [self._object(numbers[old], self.reader.get_object(old), numbers) for old in sorted(shared)]
        first = len(numbers) + 1
        font_ref = None
        if self.font is not None:
            collector = _Numbers(first)
            font_ref = self.font.add_to(collector)  # type: ignore[arg-type]
            identity = {number: number for number, _ in collector.objects}
            common += [self._object(number, obj, identity) for number, obj in collector.objects]
            first = collector.next
        out = []
        for index, pages_of in enumerate(ranges):
            page_stamps = stamps[index] if stamps else None
            out.append(self._document(pages_of, own[index] - shared, numbers, common, first, font_ref, page_stamps))
        return out

    def _document(self, pages_of: range, objects: set[int], shared: dict[int, int], common: list[bytes],
                  first: int, font_ref: IndirectObject | None, stamps) -> bytes:
        numbers = dict(shared)
        for old in sorted(objects):
            numbers[old] = first
            first += 1
        pages_ref, catalog_ref, info_ref = first, first + 1, first + 2
        first += 3
        page_refs = [numbers[self.reader.pages[n].indirect_reference.idnum] for n in pages_of]
        extra: list[bytes] = []
        rewritten: dict[int, DictionaryObject] = {}
        for i, number in enumerate(pages_of):
            page = self.reader.pages[number]
            entries = DictionaryObject({k: v for k, v in dict.items(page) if k not in ("/Parent", "/StructParents")})
            entries[NameObject("/Parent")] = _Mark(pages_ref)
            if stamps and stamps[i] and font_ref is not None:
                before, after = first, first + 1
                first += 2
                extra.append(_stream(before, BEFORE))
                extra.append(_stream(after, drawing(self.font, stamps[i])))
                contents = dict.get(page, "/Contents")
                resolved = contents.get_object() if isinstance(contents, IndirectObject) else contents
                existing = list(resolved) if isinstance(resolved, ArrayObject) else ([contents] if contents else [])
                entries[NameObject("/Contents")] = ArrayObject(
                    [_Mark(before), *existing, _Mark(after)])
                resources = DictionaryObject(dict.items(page["/Resources"].get_object())) \
                    if "/Resources" in page else DictionaryObject()
                fonts = resources.get("/Font")
                fonts = DictionaryObject(dict.items(fonts.get_object())) if fonts is not None else DictionaryObject()
                fonts[NameObject(FONT_KEY)] = _Mark(font_ref.idnum)
                resources[NameObject("/Font")] = fonts
                entries[NameObject("/Resources")] = resources
            rewritten[self.reader.pages[number].indirect_reference.idnum] = entries
        body = [self.header]
        offsets: list[int] = []
        position = len(self.header)

        def add(chunk: bytes) -> None:
            nonlocal position
            offsets.append(position)
            body.append(chunk)
            position += len(chunk)

        for chunk in common:
            add(chunk)
        for old in sorted(objects):
            add(self._object(numbers[old], rewritten.get(old) or self.reader.get_object(old), numbers))
        kids = ArrayObject(_Mark(n) for n in page_refs)
        add(self._object(pages_ref, DictionaryObject({NameObject("/Type"): NameObject("/Pages"),
                                                      NameObject("/Kids"): kids,
                                                      NameObject("/Count"): NumberObject(len(page_refs))}), numbers))
        catalog = DictionaryObject({NameObject("/Type"): NameObject("/Catalog"),
                                    NameObject("/Pages"): _Mark(pages_ref)})
        catalog.update({NameObject(k): v for k, v in self.catalog_entries.items()})
        add(self._object(catalog_ref, catalog, numbers))
        add(self._object(info_ref, self.info, numbers))
        for chunk in extra:
            add(chunk)
        count = len(offsets) + 1
        identifier = hashlib.md5(b"".join(body[1:])).hexdigest()  # noqa: S324 (a file identifier, not security)
        xref = [f"xref\n0 {count}\n0000000000 65535 f \n".encode()]
        xref += [f"{offset:010d} 00000 n \n".encode() for offset in offsets]
        trailer = (f"trailer\n<< /Size {count} /Root {catalog_ref} 0 R /Info {info_ref} 0 R "
                   f"/ID [<{identifier}><{identifier}>] >>\nstartxref\n{position}\n%%EOF\n").encode()
        if len(offsets) != first - 1:
            raise _NotPlain("object numbers out of step")
        return b"".join(body + xref) + trailer

    def _closure(self, start: Iterable[int]) -> set[int]:
        seen: set[int] = set()
        stack = list(start)
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            seen.add(number)
            refs = self._refs.get(number)
            if refs is None:
                obj = self.reader.get_object(number)
                if obj is None:
                    raise _NotPlain(f"object {number} is missing")
                refs = self._refs[number] = tuple(_refs_in([obj], stream_length=False))
            stack.extend(refs)
        return seen

    def _object(self, number: int, obj: PdfObject, numbers: dict[int, int]) -> bytes:
        out = io.BytesIO()
        out.write(f"{number} 0 obj\n".encode())
        if isinstance(obj, StreamObject):
            data = obj._data  # as stored in the file: still encoded
            entries = DictionaryObject({k: v for k, v in dict.items(obj) if k != "/Length"})
            entries[NameObject("/Length")] = NumberObject(len(data))
            _write(entries, numbers, out)
            out.write(b"\nstream\n")
            out.write(data)
            out.write(b"\nendstream")
        else:
            _write(obj, numbers, out)
        out.write(b"\nendobj\n")
        return out.getvalue()


class _Mark(IndirectObject):
    """A reference already in the new file's numbers (not renumbered)."""

    def __init__(self, number: int) -> None:
        super().__init__(number, 0, None)  # type: ignore[arg-type]


def _refs_in(values: Iterable, stream_length: bool = True) -> Iterable[int]:
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, IndirectObject):
            yield value.idnum
        elif isinstance(value, dict):
            skip_length = isinstance(value, StreamObject) and not stream_length
            stack.extend(v for k, v in dict.items(value) if not (skip_length and k == "/Length"))
        elif isinstance(value, list):
            stack.extend(value)


def _write(value, numbers: dict[int, int], out: io.BytesIO) -> None:
    if isinstance(value, _Mark):
        out.write(b"%d 0 R" % value.idnum)
    elif isinstance(value, IndirectObject):
        out.write(b"%d 0 R" % numbers[value.idnum])
    elif isinstance(value, dict):
        out.write(b"<<")
        for key, item in dict.items(value):
            NameObject(key).write_to_stream(out)
            out.write(b" ")
            _write(item, numbers, out)
        out.write(b">>")
    elif isinstance(value, list):
        out.write(b"[")
        for i, item in enumerate(value):
            if i:
                out.write(b" ")
            _write(item, numbers, out)
        out.write(b"]")
    else:
        value.write_to_stream(out)


def _stream(number: int, data: bytes) -> bytes:
    return b"%d 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n" % (number, len(data), data)
