"""Decides whether a template's letters can share one section, and what must be stamped on them then.

LibreOffice lays out a file with page breaks and no sections about a third faster than one section
per letter. In one section a letter cannot restart its page numbers nor have a footer of its own, so
the lines of the footer that vary (« Page X sur Y », « … adressée à Nathalie Lefèvre. ») are left
blank in the merged file and drawn on each letter's pages afterwards (docgen.stamp). A template gets
that fast path when everything else in its headers and footers is the same for every letter; the
verdict names the reason when it does not (several sections, a different first page, other fields…).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from docx import Document as open_docx
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from lxml import etree
from pypdf import PdfReader

from docgen.stamp import FontFile, Placement, StampError, color_of, system_font

R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PAGE, PAGES = "\x01", "\x02"  # where PAGE and NUMPAGES sit in a footer line's text
_FIELDS = {"PAGE": PAGE, "NUMPAGES": PAGES}
_RUN_CHILDREN = {qn("w:rPr"), qn("w:t"), qn("w:fldChar"), qn("w:instrText")}
_JINJA = re.compile(r"\{[{%#]")


@dataclass(frozen=True)
class Verdict:
    """Which batch path a template gets, and why (a French sentence for the inspection)."""

    one_section: bool
    reason: str
    stamped: tuple[int, ...] = field(default=())
    """Indexes of the footer paragraphs drawn afterwards on the PDF (those that vary)."""


def assess(template: bytes | Document) -> Verdict:
    """Can this template's letters be merged with page breaks, their varying footer lines stamped?"""
    if isinstance(template, bytes):
        try:
            doc = open_docx(io.BytesIO(template))
        except (PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError):
            return Verdict(False, "la structure du modèle n’est pas reconnue")
    else:
        doc = template
    body = doc.element.body
    if body.find(f".//{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
        return Verdict(False, "le modèle a plusieurs sections : chaque courrier garde les siennes")
    section = body.find(qn("w:sectPr"))
    if section is None:
        return Verdict(False, "le modèle n’a pas de mise en page de section")
    if section.find(qn("w:titlePg")) is not None:
        return Verdict(False, "la première page a un en-tête ou un pied de page différent")
    settings = doc.settings.element
    if settings.find(qn("w:evenAndOddHeaders")) is not None:
        return Verdict(False, "les pages paires et impaires ont des en-têtes différents")
    first = next((child for child in body if child.tag != qn("w:sectPr")), None)
    if first is None or first.tag != qn("w:p"):
        return Verdict(False, "le courrier ne commence pas par un paragraphe")
    if _fields(body):
        return Verdict(False, f"le corps contient un champ ({', '.join(sorted(_fields(body)))})")
    footers = [ref for ref in section.findall(qn("w:footerReference"))]
    headers = [ref for ref in section.findall(qn("w:headerReference"))]
    if any(ref.get(qn("w:type"), "default") != "default" for ref in footers + headers):
        return Verdict(False, "le modèle a des en-têtes ou pieds de page selon les pages")
    for ref in headers:
        if _fields(doc.part.rels[ref.get(R_ID)].target_part.element):
            return Verdict(False, "l’en-tête contient un champ")
    stamped: list[int] = []
    if footers:
        footer = doc.part.rels[footers[0].get(R_ID)].target_part.element
        other = _fields(footer) - set(_FIELDS)
        if other:
            return Verdict(False, f"le pied de page contient un champ que l’on ne peut pas reporter ({', '.join(sorted(other))})")
        for index, paragraph in enumerate(_paragraphs(footer)):
            text = "".join(t.text or "" for t in paragraph.iter(qn("w:t")))
            if not _fields(paragraph) and not _JINJA.search(text):
                continue
            if "{%p" in text or "{%tr" in text:
                return Verdict(False, "le pied de page a un paragraphe conditionnel")
            if not _simple(paragraph):
                return Verdict(False, "une ligne variable du pied de page a une mise en forme que l’on ne peut pas reporter")
            stamped.append(index)
    reason = ("en-têtes communs à tous les courriers ; numéros de page et lignes du pied de page propres à chaque "
              "courrier reportés sur le PDF") if stamped else "en-têtes et pieds de page communs à tous les courriers"
    return Verdict(True, reason, tuple(stamped))


def footer_part(doc: Document):
    section = doc.element.body.find(qn("w:sectPr"))
    ref = section.find(qn("w:footerReference")) if section is not None else None
    return None if ref is None else doc.part.rels[ref.get(R_ID)].target_part


def footer_lines(doc: Document, verdict: Verdict) -> list[str] | None:
    """A rendered letter's varying footer lines, PAGE and NUMPAGES as markers; None if not as planned."""
    part = footer_part(doc)
    if part is None:
        return [] if not verdict.stamped else None
    paragraphs = _paragraphs(part.element)
    if verdict.stamped and max(verdict.stamped) >= len(paragraphs):
        return None
    lines = []
    for index in verdict.stamped:
        text = _line(paragraphs[index])
        if text is None:
            return None
        lines.append(text)
    return lines


def shared_key(doc: Document, verdict: Verdict) -> bytes:
    """What must be the same in every letter merged together: headers and the footer's fixed lines."""
    key = []
    section = doc.element.body.find(qn("w:sectPr"))
    for ref in section.findall(qn("w:headerReference")):
        key.append(etree.tostring(doc.part.rels[ref.get(R_ID)].target_part.element))
    part = footer_part(doc)
    if part is not None:
        for index, paragraph in enumerate(_paragraphs(part.element)):
            if index not in verdict.stamped:
                key.append(etree.tostring(paragraph))
        key.append(str(len(_paragraphs(part.element))).encode())
    return b"\0".join(key)


def blank_footer_lines(doc: Document, verdict: Verdict) -> None:
    """Empty the varying footer lines, keeping one no-break space in their format so that the footer keeps its height."""
    part = footer_part(doc)
    if part is None:
        return
    paragraphs = _paragraphs(part.element)
    for index in verdict.stamped:
        paragraph = paragraphs[index]
        runs = paragraph.findall(qn("w:r")) + paragraph.findall(qn("w:fldSimple"))
        first = next((r for r in paragraph.iter(qn("w:r"))), None)
        for run in runs:
            paragraph.remove(run)
        blank = paragraph.makeelement(qn("w:r"), {})
        properties = first.find(qn("w:rPr")) if first is not None else None
        if properties is not None:
            blank.append(properties)
        t = blank.makeelement(qn("w:t"), {"{http://www.w3.org/XML/1998/namespace}space": "preserve"})
        t.text = "\u00a0"  # LibreOffice gives a line of one plain space less height than a line of text
        blank.append(t)
        paragraph.append(blank)


def fill(line: str, page: int, pages: int) -> str:
    return line.replace(PAGE, str(page)).replace(PAGES, str(pages))


@dataclass(frozen=True)
class Calibration:
    """Where LibreOffice put each varying footer line in a letter converted alone, and in which font."""

    placements: tuple[Placement, ...]
    font: FontFile | None


def calibrate(doc: Document, verdict: Verdict, pdf: bytes) -> Calibration:
    """Find the letter's varying footer lines on the first page of its own PDF; raise StampError if not there."""
    lines = footer_lines(doc, verdict)
    if lines is None:
        raise StampError("pied de page inattendu")
    if not lines:
        return Calibration((), None)
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    pieces: list[tuple[float, float, str, str, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text and text.strip() and font is not None:
            # Text space to user space: LibreOffice writes an identity cm and a plain Tm.
            x = tm[4] * cm[0] + cm[4]
            y = tm[5] * cm[3] + cm[5]
            pieces.append((round(y, 2), x, text, str(font.get("/BaseFont", "")), size * tm[3] * cm[3]))

    reader.pages[0].extract_text(visitor_text=visit)
    rows: dict[float, list[tuple[float, str, str, float]]] = {}
    for y, x, text, font, size in pieces:
        rows.setdefault(y, []).append((x, text, font, size))
    section = doc.element.body.find(qn("w:sectPr"))
    page_width, margins = _page_width(section)
    paragraphs = _paragraphs(footer_part(doc).element)
    placements, font_names = [], set()
    for index, line in zip(verdict.stamped, lines):
        expected = _squash(fill(line, 1, pages))
        row = next((r for r in rows.values() if _squash("".join(t for _, t, _, _ in sorted(r))) == expected), None)
        if row is None:
            raise StampError(f"ligne du pied de page introuvable dans le PDF : {fill(line, 1, pages)!r}")
        row.sort()
        names = {name.split("+", 1)[-1].lstrip("/") for _, _, name, _ in row}
        if len(names) != 1:
            raise StampError("ligne du pied de page en plusieurs polices")
        font_names |= names
        left, size = row[0][0], row[0][3]
        placements.append((index, left, row, size, fill(line, 1, pages)))
    if len(font_names) != 1:
        raise StampError("lignes du pied de page en plusieurs polices")
    font = system_font(font_names.pop())
    result = []
    for index, left, row, size, text in placements:
        paragraph = paragraphs[index]
        align = _alignment(paragraph)
        width = font.width(text, size)
        anchor = {"left": left, "center": left + width / 2, "right": left + width}[align]
        baseline = next(y for y, r in rows.items() if r is row)
        result.append(Placement(anchor, baseline, size, align, _color(paragraph), page_width - margins))
    return Calibration(tuple(result), font)


def stampable(calibration: Calibration, lines: Sequence[str]) -> bool:
    """Whether these lines fit on one line in the calibrated font (else LibreOffice would wrap them)."""
    font = calibration.font
    for line, placement in zip(lines, calibration.placements):
        widest = fill(line, 999, 999)
        if font is None or font.missing(widest) or font.width(widest, placement.size) > placement.max_width - 2:
            return False
    return True


# --- XML helpers --------------------------------------------------------------------------------

def _paragraphs(root) -> list:
    # Direct paragraphs and those of tables, in document order.
    return list(root.iter(qn("w:p")))


def _fields(root) -> set[str]:
    """The field names (PAGE, NUMPAGES, DATE…) under `root`."""
    instructions = [s.get(qn("w:instr")) or "" for s in root.iter(qn("w:fldSimple"))]
    instructions += [i.text or "" for i in root.iter(qn("w:instrText"))]
    return {words[0] for words in (i.split() for i in instructions) if words}


def _simple(paragraph) -> bool:
    """Text runs and PAGE/NUMPAGES fields only, all in one character format."""
    formats = set()
    for child in paragraph:
        if child.tag == qn("w:pPr"):
            continue
        runs = child.findall(qn("w:r")) if child.tag == qn("w:fldSimple") else [child]
        if child.tag not in (qn("w:r"), qn("w:fldSimple"), qn("w:bookmarkStart"), qn("w:bookmarkEnd"), qn("w:proofErr")):
            return False
        for run in runs:
            if run.tag != qn("w:r") or any(c.tag not in _RUN_CHILDREN for c in run):
                return False
            properties = run.find(qn("w:rPr"))
            formats.add(b"" if properties is None else etree.tostring(properties))
    return len(formats) <= 1


def _line(paragraph) -> str | None:
    """The paragraph's text with PAGE and NUMPAGES markers; None if it holds something else."""
    out, in_field, instruction, showing = [], False, "", True
    for child in paragraph:
        if child.tag == qn("w:fldSimple"):
            words = (child.get(qn("w:instr")) or "").split()
            marker = _FIELDS.get(words[0] if words else "")
            if marker is None:
                return None
            out.append(marker)
            continue
        if child.tag != qn("w:r"):
            continue
        for part in child:
            if part.tag == qn("w:fldChar"):
                kind = part.get(qn("w:fldCharType"))
                if kind == "begin":
                    in_field, instruction, showing = True, "", False
                elif kind == "separate":
                    words = instruction.split()
                    marker = _FIELDS.get(words[0] if words else "")
                    if marker is None:
                        return None
                    out.append(marker)
                elif kind == "end":
                    in_field, showing = False, True
            elif part.tag == qn("w:instrText"):
                instruction += part.text or ""
            elif part.tag == qn("w:t") and showing and not in_field:
                out.append(part.text or "")
            elif part.tag not in (qn("w:rPr"), qn("w:t"), qn("w:instrText")):
                return None
    return "".join(out)


def _squash(text: str) -> str:
    return "".join(text.split())


def _alignment(paragraph) -> str:
    jc = paragraph.find(f"{qn('w:pPr')}/{qn('w:jc')}")
    value = jc.get(qn("w:val")) if jc is not None else "left"
    return {"right": "right", "end": "right", "center": "center"}.get(value, "left")


def _color(paragraph) -> tuple[float, float, float]:
    color = paragraph.find(f"{qn('w:r')}/{qn('w:rPr')}/{qn('w:color')}")
    return color_of(color.get(qn("w:val")) if color is not None else None)


def _page_width(section) -> tuple[float, float]:
    size, margins = section.find(qn("w:pgSz")), section.find(qn("w:pgMar"))
    width = int(size.get(qn("w:w"), "11906")) / 20 if size is not None else 595.3
    side = 0.0
    if margins is not None:
        side = (int(margins.get(qn("w:left"), "0")) + int(margins.get(qn("w:right"), "0"))) / 20
    return width, side


