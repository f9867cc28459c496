"""Writes lines of text (« Page 2 sur 3 », a footer naming the employee) onto PDF pages, in an embedded font.

The batch's fast path lays letters out in one section, so LibreOffice cannot number pages per letter
nor print each letter's own footer line; those lines are drawn afterwards on the split PDFs, at the
place and size LibreOffice gave them in a letter converted alone, in the same font file (a subset of
it, embedded as a CID font with its Unicode map, so the text is extractable and PDF/A-2b stays valid).
"""

from __future__ import annotations

import io
import logging
import subprocess
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables.O_S_2f_2 import intersectUnicodeRanges
from pypdf import PageObject, PdfWriter
from pypdf.generic import (
    ArrayObject, DecodedStreamObject, DictionaryObject, EncodedStreamObject, IndirectObject,
    NameObject, NumberObject, TextStringObject,
)

FONT_KEY = "/ParcoursStamp"
# Carlito's header carries a creation date fontTools finds odd and says so at every load.
logging.getLogger("fontTools.ttLib.tables._h_e_a_d").setLevel(logging.ERROR)
# fontTools builds its table of Unicode blocks on its first subset, without a lock: a thread subsetting
# meanwhile could read it half-made (an IndexError in a batch's threads, seen once). Built here, at import.
intersectUnicodeRanges(())
# A shared subset grows with the characters of the chunks it serves, up to this many (then it starts afresh).
_MAX_SHARED_GLYPHS = 600
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "kern", "DSIG", "hdmx", "VDMX", "LTSH", "fpgm", "prep", "cvt ", "gasp")


class StampError(Exception):
    """The line cannot be drawn as LibreOffice would (font not found, glyph missing, too long)."""


@dataclass(frozen=True)
class Placement:
    """Where and how a footer line sits on the page, as measured in a letter converted alone."""

    anchor: float
    """The x of the line's left edge, centre or right edge (points), depending on `align`."""
    baseline: float
    size: float
    align: str  # "left", "center" or "right"
    color: tuple[float, float, float]
    max_width: float
    """Wider than this, LibreOffice would wrap the line: such a letter cannot be stamped."""


@dataclass(frozen=True)
class Stamp:
    """One line of text on one page."""

    text: str
    placement: Placement


class FontFile:
    """A TrueType font from the system, measured and subset for embedding."""

    def __init__(self, path: str) -> None:
        self.path = path
        font = TTFont(path, lazy=True)
        if "glyf" not in font:
            raise StampError(f"police non TrueType : {path}")
        self.cmap = dict(font.getBestCmap())
        # Like LibreOffice, a font without a no-break space draws a space.
        if 0xA0 not in self.cmap and 0x20 in self.cmap:
            self.cmap[0xA0] = self.cmap[0x20]
        self.units = font["head"].unitsPerEm
        self.advances = {name: advance for name, (advance, _) in font["hmtx"].metrics.items()}
        self.glyph_ids = {name: font.getGlyphID(name) for name in set(self.cmap.values())}
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        self.bbox = [head.xMin, head.yMin, head.xMax, head.yMax]
        self.ascent, self.descent = hhea.ascent, hhea.descent
        self.cap_height = getattr(os2, "sCapHeight", hhea.ascent) or hhea.ascent
        self.postscript_name = font["name"].getDebugName(6) or "Font"
        # Tables a few lines of plain text never use: without them, subsetting takes 18 ms, not 120.
        for tag in _UNUSED_TABLES:
            if tag in font:
                del font[tag]
        out = io.BytesIO()
        font.save(out)
        self._base = out.getvalue()
        self._last: EmbeddedFont | None = None

    def __reduce__(self):
        # Sent to worker processes by path: each loads the file once.
        return (font_file, (self.path,))

    def missing(self, text: str) -> set[str]:
        return {c for c in text if ord(c) not in self.cmap}

    def width(self, text: str, size: float) -> float:
        return sum(self.advances[self.cmap[ord(c)]] for c in text) * size / self.units

    def embed_covering(self, chars: Iterable[str]) -> EmbeddedFont:
        """A subset holding at least `chars`: the last one made when it covers them (subsetting costs
        tens of milliseconds, a batch's chunks mostly draw the same letters), else a new one for them and
        the last one's characters together, so that it soon covers every chunk."""
        wanted = {c for c in chars if ord(c) in self.cmap}
        last = self._last
        if last is not None and wanted <= last.gids.keys():
            return last
        if last is not None and len(last.gids) < _MAX_SHARED_GLYPHS:
            wanted |= last.gids.keys()
        self._last = self.embed(wanted)
        return self._last

    def embed(self, chars: Iterable[str]) -> EmbeddedFont:
        """A subset holding `chars`, glyph ids kept (so the CID of a glyph is its id)."""
        codepoints = sorted({ord(c) for c in chars if ord(c) in self.cmap})
        options = ft_subset.Options()
        options.retain_gids = True
        options.notdef_outline = True
        options.name_IDs, options.layout_features, options.hinting = ["*"], [], False
        options.layout_closure = False
        options.drop_tables += list(_UNUSED_TABLES)
        font = TTFont(io.BytesIO(self._base))
        subsetter = ft_subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        gids = {chr(cp): self.glyph_ids[self.cmap[cp]] for cp in codepoints}
        widths = {gids[chr(cp)]: round(self.advances[self.cmap[cp]] * 1000 / self.units) for cp in codepoints}
        return EmbeddedFont(self, out.getvalue(), gids, widths)


@lru_cache(maxsize=8)
def font_file(path: str) -> FontFile:
    return FontFile(path)


@lru_cache(maxsize=8)
def system_font(postscript_name: str) -> FontFile:
    """The installed font file whose PostScript name LibreOffice wrote in the PDF (« Carlito »)."""
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}\n%{postscriptname}", f":postscriptname={postscript_name}"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as exc:
        raise StampError(f"fc-match : {exc}") from None
    if len(found) < 2 or found[1] != postscript_name:
        raise StampError(f"police « {postscript_name} » introuvable")
    return font_file(found[0])


class EmbeddedFont:
    """A font subset ready to be added to PDFs: once per output file, shared by its pages."""

    def __init__(self, source: FontFile, data: bytes, gids: dict[str, int], widths: dict[int, int]) -> None:
        self.source, self.gids, self.widths = source, gids, widths
        self._file = zlib.compress(data, 6)
        self._file_length = len(data)
        unicode_of: dict[int, str] = {}
        for char, gid in sorted(gids.items()):
            unicode_of.setdefault(gid, char)  # a glyph drawn for two characters reads as the first
        entries = "\n".join(f"<{gid:04X}> <{_utf16(c)}>" for gid, c in sorted(unicode_of.items()))
        self._to_unicode = zlib.compress((
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            f"{len(unicode_of)} beginbfchar\n{entries}\nendbfchar\n"
            "endcmap CMapName currentdict /CMap defineresource pop end end").encode())

    def covers(self, text: str) -> bool:
        return all(c in self.gids for c in text)

    def encode(self, text: str) -> str:
        return "<" + "".join(f"{self.gids[c]:04X}" for c in text) + ">"

    def add_to(self, writer: PdfWriter) -> IndirectObject:
        source = self.source
        name = NameObject("/PCRSTP+" + source.postscript_name)
        font_file = _flate_stream(self._file, Length1=NumberObject(self._file_length))
        descriptor = DictionaryObject({
            NameObject("/Type"): NameObject("/FontDescriptor"), NameObject("/FontName"): name,
            NameObject("/Flags"): NumberObject(32),
            NameObject("/FontBBox"): ArrayObject(NumberObject(round(v * 1000 / source.units)) for v in source.bbox),
            NameObject("/ItalicAngle"): NumberObject(0),
            NameObject("/Ascent"): NumberObject(round(source.ascent * 1000 / source.units)),
            NameObject("/Descent"): NumberObject(round(source.descent * 1000 / source.units)),
            NameObject("/CapHeight"): NumberObject(round(source.cap_height * 1000 / source.units)),
            NameObject("/StemV"): NumberObject(80),
            NameObject("/FontFile2"): writer._add_object(font_file),
        })
        widths = ArrayObject()
        for gid, width in sorted(self.widths.items()):
            widths += [NumberObject(gid), ArrayObject([NumberObject(width)])]
        cid_font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/CIDFontType2"),
            NameObject("/BaseFont"): name,
            NameObject("/CIDSystemInfo"): DictionaryObject({
                NameObject("/Registry"): _string("Adobe"), NameObject("/Ordering"): _string("Identity"),
                NameObject("/Supplement"): NumberObject(0)}),
            NameObject("/FontDescriptor"): writer._add_object(descriptor),
            NameObject("/W"): widths, NameObject("/CIDToGIDMap"): NameObject("/Identity"),
        })
        font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/BaseFont"): name, NameObject("/Encoding"): NameObject("/Identity-H"),
            NameObject("/DescendantFonts"): ArrayObject([writer._add_object(cid_font)]),
            NameObject("/ToUnicode"): writer._add_object(_flate_stream(self._to_unicode)),
        })
        return writer._add_object(font)


BEFORE = b"q\n"  # the content stream put before a stamped page's own: its drawing cannot leak into the stamps


def drawing(font: EmbeddedFont, stamps: Sequence[Stamp]) -> bytes:
    """The content stream put after a page's own, drawing `stamps` in `font` (named FONT_KEY)."""
    operations = ["Q"]
    for stamp in stamps:
        p = stamp.placement
        width = font.source.width(stamp.text, p.size)
        x = p.anchor - {"left": 0.0, "center": width / 2, "right": width}[p.align]
        operations.append(f"q {p.color[0]:.3f} {p.color[1]:.3f} {p.color[2]:.3f} rg BT {FONT_KEY} {p.size:g} Tf "
                          f"1 0 0 1 {x:.2f} {p.baseline:.2f} Tm {font.encode(stamp.text)} Tj ET Q")
    return ("\n" + "\n".join(operations) + "\n").encode("ascii")


def stamp_page(writer: PdfWriter, page: PageObject, font_ref: IndirectObject, font: EmbeddedFont,
               stamps: Sequence[Stamp]) -> None:
    """Draw `stamps` over a page of `writer`, the page's own drawing left untouched (between q and Q)."""
    before = DecodedStreamObject()
    before.set_data(BEFORE)
    after = DecodedStreamObject()
    after.set_data(drawing(font, stamps))
    contents = page.raw_get("/Contents") if "/Contents" in page else ArrayObject()
    contents = contents.get_object() if isinstance(contents, IndirectObject) else contents
    existing = list(contents) if isinstance(contents, ArrayObject) else [page.raw_get("/Contents")]
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(before), *existing, writer._add_object(after)])
    resources = page["/Resources"].get_object() if "/Resources" in page else DictionaryObject()
    if "/Resources" not in page:
        page[NameObject("/Resources")] = resources
    fonts = resources.get("/Font")
    if fonts is None:
        fonts = resources[NameObject("/Font")] = DictionaryObject()
    fonts.get_object()[NameObject(FONT_KEY)] = font_ref


def _flate_stream(data: bytes, **entries) -> EncodedStreamObject:
    stream = EncodedStreamObject()
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    for key, value in entries.items():
        stream[NameObject("/" + key)] = value
    stream._data = data
    return stream


def _string(text: str) -> TextStringObject:
    return TextStringObject(text)


def _utf16(char: str) -> str:
    return char.encode("utf-16-be").hex().upper()


def color_of(hex_rgb: str | None) -> tuple[float, float, float]:
    """A w:color value (« 595959 », « auto ») as PDF RGB components."""
    if not hex_rgb or len(hex_rgb) != 6:
        return (0.0, 0.0, 0.0)
    try:
        return tuple(int(hex_rgb[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        return (0.0, 0.0, 0.0)


__all__ = ["BEFORE", "FONT_KEY", "EmbeddedFont", "FontFile", "Placement", "Stamp", "StampError", "color_of", "drawing",
           "stamp_page", "system_font"]
