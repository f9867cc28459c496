"""Tampering with a signed PDF, the way a forger would: each function takes the bytes of a signed
file and returns a forged copy, still a readable PDF.

- ``flip_byte_in_content_stream``: one byte changed inside a signed byte range (no new revision);
- the others append an incremental update after the last signature, as any PDF editor does:
  ``rewrite_page_text`` (the page's own content stream rewritten, the text really changed),
  ``overlay_content`` (a content stream added to the page), ``overlay_xobject`` (a form XObject drawn
  over the page), ``change_field_value`` (a form field's value and appearance replaced),
  ``add_annotation`` (a FreeText or Square annotation);
- ``truncate``, ``truncate_in_last_revision``, ``encrypt``: files that cannot be validated at all;
- ``hybrid_xref``: the same document rewritten with hybrid cross-references, as Microsoft Word
  writes them (classic table plus an /XRefStm stream for objects kept in an object stream).

They know LibreOffice's output (simple TrueType fonts, hex strings, a /ToUnicode map per font): that is
what the compte rendu is made of.
"""

from __future__ import annotations

import io
import re
import zlib

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "flip_byte_in_content_stream",
    "rewrite_page_text",
    "overlay_content",
    "overlay_xobject",
    "change_field_value",
    "add_annotation",
    "page_text",
    "truncate",
    "truncate_in_last_revision",
    "encrypt",
    "hybrid_xref",
]


# --- helpers --------------------------------------------------------------------------------------

def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)


def _done(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page(writer: IncrementalPdfFileWriter, index: int) -> tuple[generic.Reference, generic.DictionaryObject]:
    ref = writer.find_page_for_modification(index)[0]
    return ref, ref.get_object()


def _helvetica() -> generic.DictionaryObject:
    return generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica"), pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
    })


def _text_stream(text: str, rect: tuple[float, float, float, float], *, font: str = "/Helv",
                 white_background: bool = True) -> bytes:
    """Drawing operators: a white box over `rect` (hiding what is below), then `text` in it."""
    x0, y0, x1, y1 = rect
    words = _pdf_literal(text)
    box = f"q 1 g {x0} {y0} {x1 - x0} {y1 - y0} re f Q\n" if white_background else ""
    return (box + f"q 0 g BT {font} 10 Tf {x0 + 4} {y1 - 14} Td ({words}) Tj ET Q\n").encode("latin-1")


def _pdf_literal(text: str) -> str:
    return text.encode("cp1252").decode("latin-1").replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


# --- 1. a byte changed inside a signed range --------------------------------------------------------

def flip_byte_in_content_stream(pdf: bytes, page: int = 0) -> bytes:
    """The file with one byte of the page's (first) content stream changed in place.

    The byte is inside the first revision, so inside every signature's byte range; lengths and offsets
    do not move, so the file stays perfectly readable (the page's compressed stream no longer
    decompresses: the point is the digest, not the picture).
    """
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page_obj = reader.root["/Pages"]["/Kids"][page].get_object()
    contents = page_obj.raw_get("/Contents")
    ref = contents[0] if isinstance(contents, generic.ArrayObject) else contents
    stream = ref.get_object()
    # the stream's bytes follow "<idnum> <gen> obj ... stream" (its only definition: revision 1)
    header = f"\n{ref.idnum} {ref.generation} obj".encode()
    start = pdf.index(header)
    data_start = pdf.index(b"stream", start) + len(b"stream")
    data_start += 2 if pdf[data_start:data_start + 2] == b"\r\n" else 1
    target = data_start + len(stream.encoded_data) // 2
    return pdf[:target] + bytes([pdf[target] ^ 0x20]) + pdf[target + 1:]


# --- 2. the page's text rewritten -------------------------------------------------------------------

_TF = re.compile(rb"/(\w+)\s+[\d.]+\s+Tf")
_SHOW = re.compile(rb"\[((?:[^\]\\]|\\.)*)\]\s*TJ|<([0-9A-Fa-f\s]*)>\s*Tj")
_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")


def _to_unicode(font: generic.DictionaryObject) -> dict[int, str]:
    """code -> text of a simple font's /ToUnicode CMap (bfchar and bfrange with one-byte codes)."""
    cmap = font["/ToUnicode"].data.decode("latin-1")
    table: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(code, 16)] = bytes.fromhex(text).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int.from_bytes(bytes.fromhex(text), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                table[code] = chr(first + offset)
    return table


def _decode(match: re.Match, table: dict[int, str]) -> str:
    hexes = _HEX.findall(match.group(1)) if match.group(1) is not None else [match.group(2)]
    codes = b"".join(bytes.fromhex(h.decode().replace(" ", "").replace("\n", "")) for h in hexes)
    return "".join(table.get(c, "\ufffd") for c in codes)


def _encode(text: str, table: dict[int, str]) -> bytes:
    reverse = {value: code for code, value in table.items() if len(value) == 1}
    missing = sorted({ch for ch in text if ch not in reverse})
    if missing:
        raise ValueError(f"the font subset has no glyph for {''.join(missing)!r}")
    return bytes(reverse[ch] for ch in text)


def rewrite_page_text(pdf: bytes, old: str, new: str) -> bytes:
    """An incremental update where the content stream of the page showing `old` is replaced, in place
    (same object number, the page dictionary untouched), by one showing `new` instead.

    `old` must be within one text-showing operator and `new` drawable with the same font subset.
    """
    writer = _writer(pdf)
    pages = writer.root["/Pages"]["/Kids"]
    for index in range(len(pages)):
        _, page = _page(writer, index)
        contents = page.raw_get("/Contents")
        refs = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
        fonts = page["/Resources"]["/Font"]
        for ref in refs:
            data = ref.get_object().data
            font = None
            out, last = [], 0
            events = sorted([(m.start(), "font", m) for m in _TF.finditer(data)] +
                            [(m.start(), "show", m) for m in _SHOW.finditer(data)], key=lambda e: e[0])
            changed = False
            for _, kind, match in events:
                if kind == "font":
                    font = match.group(1).decode()
                    continue
                if font is None or changed:
                    continue
                table = _to_unicode(fonts["/" + font])
                text = _decode(match, table)
                if old not in text:
                    continue
                replacement = b"<" + _encode(text.replace(old, new), table).hex().upper().encode() + b"> Tj"
                out += [data[last:match.start()], replacement]
                last = match.end()
                changed = True
            if changed:
                out.append(data[last:])
                stream = generic.StreamObject(stream_data=b"".join(out))
                stream.compress()
                writer.objects[(ref.generation, ref.idnum)] = stream
                return _done(writer)
    raise ValueError(f"no text-showing operator shows {old!r}")


def page_text(pdf: bytes) -> str:
    """The text of every page (pypdf), as a reader would copy it."""
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- 3. an overlay ----------------------------------------------------------------------------------

def _append_content(writer, page, content: bytes, resources: dict[str, dict[str, generic.PdfObject]]):
    """Add `resources` to the page's and a content stream drawing `content` after the page's own."""
    page_resources = page["/Resources"]
    for category, entries in resources.items():
        raw = page_resources.raw_get(category) if category in page_resources else None
        if raw is None:
            current = generic.DictionaryObject()
            page_resources[pdf_name(category)] = current
        else:
            current = raw.get_object()
        for name, obj in entries.items():
            current[pdf_name(name)] = obj
        if isinstance(raw, generic.IndirectObject):
            writer.mark_update(raw)
    writer.update_container(page_resources)
    stream = writer.add_object(generic.StreamObject(stream_data=content))
    contents = page.raw_get("/Contents")
    existing = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    page[pdf_name("/Contents")] = generic.ArrayObject(existing + [stream])
    writer.update_container(page)


def overlay_content(pdf: bytes, text: str, rect=(56, 640, 540, 700), page: int = 0) -> bytes:
    """An incremental update adding a content stream to the page: a white box hides `rect`, `text` is
    written over it (what a "typewriter" tool of a PDF editor does)."""
    writer = _writer(pdf)
    _, page_obj = _page(writer, page)
    font = writer.add_object(_helvetica())
    _append_content(writer, page_obj, _text_stream(text, rect, font="/HelvForged"),
                    {"/Font": {"/HelvForged": font}})
    return _done(writer)


def _text_form(writer, text: str, width: float, height: float) -> generic.Reference:
    """A form XObject of `width` × `height` (a white box and `text` in Helvetica), added to `writer`."""
    font = writer.add_object(_helvetica())
    return writer.add_object(generic.StreamObject({
        pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
        pdf_name("/BBox"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, width, height)]),
        pdf_name("/Resources"): generic.DictionaryObject({
            pdf_name("/Font"): generic.DictionaryObject({pdf_name("/Helv"): font})}),
    }, stream_data=_text_stream(text, (0, 0, width, height))))


def overlay_xobject(pdf: bytes, text: str, rect=(56, 640, 540, 700), page: int = 0) -> bytes:
    """An incremental update drawing a form XObject (a white box and `text`) over `rect` of the page."""
    writer = _writer(pdf)
    _, page_obj = _page(writer, page)
    x0, y0, x1, y1 = rect
    form_ref = _text_form(writer, text, x1 - x0, y1 - y0)
    _append_content(writer, page_obj, f"q 1 0 0 1 {x0} {y0} cm /FmForged Do Q\n".encode(),
                    {"/XObject": {"/FmForged": form_ref}})
    return _done(writer)


# --- 4. a form field changed ------------------------------------------------------------------------

def _field(writer, name: str) -> generic.DictionaryObject:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if str(field.get("/T")) == name:
            return field
    raise KeyError(name)


def change_field_value(pdf: bytes, name: str, value: str, *, appearance: bool = True,
                       set_value: bool = True) -> bytes:
    """An incremental update giving the text field `name` (field and widget in one dictionary) the
    value `value` (/V) and/or an appearance showing it (/AP /N)."""
    writer = _writer(pdf)
    field = _field(writer, name)
    if set_value:
        field[pdf_name("/V")] = pdf_string(value)
    if appearance:
        x0, y0, x1, y1 = (float(v) for v in field["/Rect"])
        field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): _text_form(writer, value, x1 - x0, y1 - y0)})
    writer.update_container(field)
    return _done(writer)


# --- 5. an annotation -------------------------------------------------------------------------------

def add_annotation(pdf: bytes, subtype: str = "FreeText", text: str = "Avis défavorable",
                   rect=(300, 60, 540, 110), page: int = 0) -> bytes:
    """An incremental update adding an annotation (``FreeText`` showing `text`, or a ``Square``)
    to the page, as a reader's comment tool does."""
    writer = _writer(pdf)
    page_ref, _ = _page(writer, page)
    annot = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/" + subtype),
        pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
        pdf_name("/Contents"): pdf_string(text), pdf_name("/F"): generic.NumberObject(4),
        pdf_name("/P"): page_ref, pdf_name("/C"): generic.ArrayObject([generic.FloatObject(1), generic.FloatObject(0),
                                                                     generic.FloatObject(0)]),
    })
    if subtype == "FreeText":
        annot[pdf_name("/DA")] = pdf_string("/Helv 12 Tf 1 0 0 rg")
    writer.register_annotation(page_ref, writer.add_object(annot))
    return _done(writer)


# --- 6. files that cannot be validated ------------------------------------------------------------------

def truncate(pdf: bytes, fraction: float = 0.5) -> bytes:
    """The first `fraction` of the file (a download cut short)."""
    return pdf[: int(len(pdf) * fraction)]


def truncate_in_last_revision(pdf: bytes, keep: int = 1000) -> bytes:
    """The file cut `keep` bytes into its last incremental update: every earlier revision is complete,
    so the end of the file looks like a PDF's except for the missing last part."""
    previous_end = pdf.rindex(b"%%EOF", 0, pdf.rindex(b"%%EOF")) + len(b"%%EOF\n")
    if previous_end + keep >= len(pdf):
        raise ValueError("the last revision is shorter than the bytes to keep")
    return pdf[: previous_end + keep]


def encrypt(pdf: bytes, password: str = "secret") -> bytes:
    """The document encrypted with pypdf (AES-256), as "protect with a password" does: the file is
    rewritten, so its signatures cannot be checked anymore."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- 7. hybrid cross-references -------------------------------------------------------------------------

def hybrid_xref(pdf: bytes) -> bytes:
    """The document rewritten in one revision with hybrid cross-references (ISO 32000-1 §7.5.8.4), as
    Microsoft Word writes them: most objects in a classic xref table, a few dictionaries only in an
    object stream, absent from the classic table and found through the cross-reference stream the
    trailer's /XRefStm points to (a reader that ignores /XRefStm does not find them).

    The source must be a single-revision file (LibreOffice's output before any field or signature).
    """
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    objects: dict[int, generic.PdfObject] = {}
    for ref in _all_refs(reader):
        objects[ref.idnum] = reader.get_object(ref)
    size = max(objects) + 1
    root_ref = reader.trailer.raw_get("/Root")
    info_ref = _trailer_entry(reader, "/Info")
    # dictionaries that are not streams and not the catalog go into the object stream (as Word does
    # with its font descriptors and structure elements)
    in_stream = sorted(n for n, obj in objects.items()
                       if isinstance(obj, generic.DictionaryObject) and not isinstance(obj, generic.StreamObject)
                       and n != root_ref.idnum and (info_ref is None or n != info_ref.idnum))[:40]
    objstm_num, xref_stream_num = size, size + 1
    size += 2

    out = io.BytesIO()
    out.write(pdf[: pdf.index(b"\n") + 1] + b"%\xe2\xe3\xcf\xd3\n")  # the source's version
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        if num in in_stream:
            continue
        offsets[num] = out.tell()
        out.write(f"{num} 0 obj\n".encode())
        objects[num].write_to_stream(out, None)
        out.write(b"\nendobj\n")

    # the object stream
    bodies, header = [], []
    position = 0
    for num in in_stream:
        buf = io.BytesIO()
        objects[num].write_to_stream(buf, None)
        body = buf.getvalue() + b"\n"
        header.append(f"{num} {position}")
        bodies.append(body)
        position += len(body)
    head = (" ".join(header) + "\n").encode()
    objstm_data = zlib.compress(head + b"".join(bodies))
    offsets[objstm_num] = out.tell()
    out.write(f"{objstm_num} 0 obj\n<< /Type /ObjStm /N {len(in_stream)} /First {len(head)} "
              f"/Filter /FlateDecode /Length {len(objstm_data)} >>\nstream\n".encode())
    out.write(objstm_data + b"\nendstream\nendobj\n")

    # the cross-reference stream for the compressed objects only (type 2 entries)
    rows = b"".join(b"\x02" + objstm_num.to_bytes(4, "big") + index.to_bytes(2, "big")
                    for index, _ in enumerate(in_stream))
    index_array = " ".join(f"{num} 1" for num in in_stream)
    xref_stream_offset = out.tell()
    offsets[xref_stream_num] = xref_stream_offset
    out.write(f"{xref_stream_num} 0 obj\n<< /Type /XRef /Size {size} /W [1 4 2] /Index [{index_array}] "
              f"/Length {len(rows)} >>\nstream\n".encode())
    out.write(rows + b"\nendstream\nendobj\n")

    # the classic table: the uncompressed objects only (the compressed ones are absent, as if free)
    xref_offset = out.tell()
    out.write(b"xref\n0 1\n0000000000 65535 f\r\n")
    present = sorted(offsets)
    runs: list[list[int]] = []
    for num in present:
        if runs and runs[-1][-1] + 1 == num:
            runs[-1].append(num)
        else:
            runs.append([num])
    for run in runs:
        out.write(f"{run[0]} {len(run)}\n".encode())
        for num in run:
            out.write(f"{offsets[num]:010d} 00000 n\r\n".encode())
    trailer = f"trailer\n<< /Size {size} /Root {root_ref.idnum} {root_ref.generation} R "
    if info_ref is not None:
        trailer += f"/Info {info_ref.idnum} {info_ref.generation} R "
    doc_id = _trailer_entry(reader, "/ID")
    if doc_id is not None:
        trailer += "/ID [" + " ".join(f"<{bytes(v.original_bytes).hex()}>" for v in doc_id) + "] "
    trailer += f"/XRefStm {xref_stream_offset} >>\nstartxref\n{xref_offset}\n%%EOF\n"
    out.write(trailer.encode())
    return out.getvalue()


def _trailer_entry(reader: PdfFileReader, key: str):
    try:
        return reader.trailer.raw_get(key)
    except KeyError:
        return None


def _all_refs(reader: PdfFileReader):
    for num in range(1, reader.trailer["/Size"]):
        ref = generic.Reference(num, 0, reader)
        try:
            obj = reader.get_object(ref)
        except Exception:  # noqa: BLE001 - free or missing entries
            continue
        if obj is None or isinstance(obj, generic.NullObject):
            continue
        yield ref
