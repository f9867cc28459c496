"""Joins documents rendered from one template into a single DOCX, one section per document (or one in all).

LibreOffice's cost is per document opened, not per page, so a batch converts merged documents and
splits the PDF afterwards. Each document becomes a section that starts on a new page, restarts page
numbering and begins with a bookmark, which the PDF export turns into a named destination: that is
how the split finds where each document starts. Each section keeps its own document's headers and
footers, which may name the employee.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from copy import deepcopy

from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml.ns import qn
from docx.parts.styles import StylesPart
from lxml import etree

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_BOOKMARK_START, _BOOKMARK_END, _W_ID = qn("w:bookmarkStart"), qn("w:bookmarkEnd"), qn("w:id")
_P, _NUM_ID, _VAL, _STYLE = qn("w:p"), qn("w:numId"), qn("w:val"), f"{qn('w:pPr')}/{qn('w:pStyle')}"
# The block and its descendants that carry an r: attribute (r:id, r:embed…): XPath finds them in C.
_WITH_RELATIONSHIP = etree.XPath(f"descendant-or-self::*[@*[namespace-uri()='{R_NS}']]")
# Letters and digits only: LibreOffice escapes other characters in destination names.
BOOKMARK_PREFIX = "ParcoursDoc"


class MergeNotPossible(Exception):
    """The documents cannot share one file (they reference parts that differ); convert them apart."""


def bookmark_name(index: int) -> str:
    return f"{BOOKMARK_PREFIX}{index:05d}"


def merge_documents(documents: Sequence[Document]) -> bytes:
    """Return one DOCX holding `documents` in order, document i starting at bookmark_name(i).

    All documents must come from the same template: the first one's styles and numbering
    definitions serve for all. The documents are consumed (the first one becomes the result).
    """
    master, final_sect = _master(documents)
    _restart_page_numbers(final_sect)
    _mark_start(_blocks(master.element.body), 0)
    styled = _numbered_styles(master)
    for index, doc in enumerate(documents[1:], start=1):
        _close_section(master.element.body, final_sect)
        mapping = _adopt_headers_footers(doc, master, index)
        _point_references(final_sect, doc.element.body.find(qn("w:sectPr")), mapping)
        _append(master, final_sect, doc, [deepcopy(block) for block in _blocks(doc.element.body)], index, mapping,
                styled)
    return _saved(master)


def merge_letters(documents: Sequence[Document]) -> bytes:
    """Return one DOCX holding `documents` in ONE section, each starting on a new page at bookmark_name(i).

    The fast path (docgen.letters): LibreOffice lays out page breaks faster than sections, but the
    letters then share the first one's headers and footers, and page numbers run on; the caller
    stamps what varies. The documents are consumed: their paragraphs move into the first one.
    """
    master, final_sect = _master(documents)
    _mark_start(_blocks(master.element.body), 0)
    styled = _numbered_styles(master)
    for index, doc in enumerate(documents[1:], start=1):
        blocks = _blocks(doc.element.body)
        if not blocks or blocks[0].tag != qn("w:p"):
            raise MergeNotPossible("a letter does not start with a paragraph")
        blocks[0].get_or_add_pPr().pageBreakBefore_val = True
        _append(master, final_sect, doc, blocks, index, {}, styled)
    # The letters' paragraph styles (docgen.render's Letter), the same for every letter of a template.
    named = next((doc.paragraph_styles for doc in documents[1:] if getattr(doc, "paragraph_styles", ())), ())
    if named:
        _add_styles(master, named)
    return _saved(master)


def _add_styles(master: Document, styles: Sequence) -> None:
    """Give the master a styles part of its own, the template's with `styles` added: the template's is shared
    by every document rendered from it (docgen.render), and must stay as it is."""
    for rid, rel in list(master.part.rels.items()):
        if rel.reltype == RT.STYLES and not rel.is_external:
            shared = rel.target_part
            element = deepcopy(shared.element)
            element.extend(deepcopy(style) for style in styles)
            own = StylesPart(shared.partname, shared.content_type, element, shared.package)
            master.part.rels.add_relationship(RT.STYLES, own, rid)  # in place of the shared one, in the master only
            return
    raise MergeNotPossible("the template has no styles part for the letters' paragraph styles")


def _master(documents: Sequence[Document]) -> tuple[Document, object]:
    """The first document, which receives the others, and its final section properties."""
    if not documents:
        raise ValueError("nothing to merge")
    master = documents[0]
    final_sect = master.element.body.find(qn("w:sectPr"))
    if final_sect is None:
        raise MergeNotPossible("the template has no section properties")
    return master, final_sect


def _append(master: Document, final_sect, doc: Document, blocks: list, index: int, adopted: dict[str, str],
            styled: dict[str, int]) -> None:
    """Move `blocks` of `doc` (document `index`) into the master before its final section properties, their
    relationships, bookmarks and lists made the master's own, the first text bookmarked."""
    for block in blocks:
        _remap_relationships(block, doc, master, adopted)
        _renumber_bookmarks(block, index)
    _restart_lists(blocks, master, doc, styled)
    _mark_start(blocks, index)
    for block in blocks:
        final_sect.addprevious(block)


def _saved(master: Document) -> bytes:
    out = io.BytesIO()
    master.save(out)
    return out.getvalue()


def _blocks(body):
    return [child for child in body if child.tag != qn("w:sectPr")]


def _restart_page_numbers(sect) -> None:
    numbering = sect.find(qn("w:pgNumType"))
    if numbering is None:
        numbering = sect.makeelement(qn("w:pgNumType"), {})
        # pgNumType comes after pgSz, pgMar, paperSrc, pgBorders, lnNumType in the schema.
        anchor = None
        for name in ("w:lnNumType", "w:pgBorders", "w:paperSrc", "w:pgMar", "w:pgSz"):
            anchor = sect.find(qn(name))
            if anchor is not None:
                break
        if anchor is not None:
            anchor.addnext(numbering)
        else:
            sect.insert(0, numbering)
    numbering.set(qn("w:start"), "1")


def _close_section(body, final_sect) -> None:
    """End the section so far at the last paragraph, with the template's page setup."""
    previous = final_sect.getprevious()
    if previous is None or previous.tag != qn("w:p") or previous.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
        previous = final_sect.makeelement(qn("w:p"), {})
        final_sect.addprevious(previous)
    properties = previous.find(qn("w:pPr"))
    if properties is None:
        properties = previous.makeelement(qn("w:pPr"), {})
        previous.insert(0, properties)
    change = properties.find(qn("w:pPrChange"))
    section = deepcopy(final_sect)
    if change is not None:
        change.addprevious(section)
    else:
        properties.append(section)


def _mark_start(blocks, index: int) -> None:
    """Bookmark the document's first text. A bookmark at the very start of the paragraph that
    follows a section break is placed by LibreOffice on the page before, so it goes after the
    first text run."""
    paragraphs = [p for b in blocks for p in b.iter(qn("w:p"))]
    if not paragraphs:
        raise MergeNotPossible("a document has no paragraph to mark")
    text_run = next((r for p in paragraphs for r in p.iter(qn("w:r")) if r.find(qn("w:t")) is not None), None)
    ident = str(900000 + index)
    start = paragraphs[0].makeelement(qn("w:bookmarkStart"), {qn("w:id"): ident, qn("w:name"): bookmark_name(index)})
    end = paragraphs[0].makeelement(qn("w:bookmarkEnd"), {qn("w:id"): ident})
    if text_run is not None:
        text_run.addnext(end)
        text_run.addnext(start)
    else:
        paragraphs[0].append(start)
        paragraphs[0].append(end)


def _renumber_bookmarks(block, index: int) -> None:
    # Bookmark ids must stay unique in the merged file; names may repeat (only ours are looked up).
    for mark in block.iter(_BOOKMARK_START, _BOOKMARK_END):
        mark.set(_W_ID, str(index * 1000 + int(mark.get(_W_ID, "0")) % 1000))


def _adopt_headers_footers(doc: Document, master: Document, index: int) -> dict[str, str]:
    """Copy a document's header and footer parts into the master; return {its rId: master rId}."""
    mapping = {}
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype not in (RT.HEADER, RT.FOOTER) or rel.is_external:
            continue
        source = rel.target_part
        stem, ext = source.partname.rsplit(".", 1)
        copy = Part(PackURI(f"{stem}d{index}.{ext}"), source.content_type, source.blob, master.part.package)
        for inner_rid, inner in source.rels.items():
            target = inner.target_ref if inner.is_external else _shared_part(master, inner.target_part)
            copy.load_rel(inner.reltype, target, inner_rid, inner.is_external)
        mapping[rid] = master.part.relate_to(copy, rel.reltype)
    return mapping


def _shared_part(master: Document, part):
    """The master's part with the same name and content (a header's logo, say)."""
    for candidate in master.part.package.iter_parts():
        if candidate.partname == part.partname:
            if candidate.blob == part.blob:
                return candidate
            break
    raise MergeNotPossible(f"part {part.partname} differs between documents")


def _point_references(section, own_section, mapping: dict[str, str]) -> None:
    """Make a section use its document's own headers and footers."""
    if own_section is None:
        return
    own = {(ref.tag, ref.get(qn("w:type"))): ref.get(f"{{{R_NS}}}id")
           for ref in own_section if ref.tag in (qn("w:headerReference"), qn("w:footerReference"))}
    for ref in section:
        key = (ref.tag, ref.get(qn("w:type")))
        if key in own and own[key] in mapping:
            ref.set(f"{{{R_NS}}}id", mapping[own[key]])


def _remap_relationships(block, doc: Document, master: Document, adopted: dict[str, str]) -> None:
    """Point r:id/r:embed references at the master's relationships, adding what is new."""
    mapping = dict(adopted)
    for element in _WITH_RELATIONSHIP(block):
        for attribute, rid in element.attrib.items():
            if not attribute.startswith(f"{{{R_NS}}}"):
                continue
            if rid not in mapping:
                mapping[rid] = _master_rid(doc, master, rid)
            element.set(attribute, mapping[rid])


def _master_rid(doc: Document, master: Document, rid: str) -> str:
    rel = doc.part.rels.get(rid)
    if rel is None:
        raise MergeNotPossible(f"dangling relationship {rid}")
    if rel.is_external:
        return master.part.relate_to(rel.target_ref, rel.reltype, is_external=True)
    if rel.reltype == RT.IMAGE:
        rid_in_master, _ = master.part.get_or_add_image(io.BytesIO(rel.target_part.blob))
        return rid_in_master
    # Any other part (chart, embedded object) must be the template's very own, shared by all.
    return master.part.relate_to(_shared_part(master, rel.target_part), rel.reltype)


def _restart_lists(blocks, master: Document, doc: Document, styled: dict[str, int]) -> None:
    """Give each document's numbered lists their own instance so that they restart at 1;
    `styled` is _numbered_styles(master)."""
    paragraphs = [p for b in blocks for p in b.iter(_P)]
    for paragraph in paragraphs if styled else ():
        # A list numbered through its paragraph style gets the numbering written on the paragraph.
        style = paragraph.find(_STYLE)
        if style is not None and style.get(_VAL) in styled and paragraph.pPr.numPr is None:
            paragraph.pPr.get_or_add_numPr().get_or_add_numId().val = styled[style.get(_VAL)]
    used = {num.get(_VAL) for b in blocks for num in b.iter(_NUM_ID)} - {None, "0"}
    numbering = master.part.numbering_part.element
    for old_id in sorted(used):
        source = numbering.num_having_numId(int(old_id))
        new = numbering.add_num(source.abstractNumId.val)
        for level in range(9):
            new.add_lvlOverride(ilvl=level).add_startOverride(1)
        for paragraph in paragraphs:
            for num in paragraph.iter(_NUM_ID):
                if num.get(_VAL) == old_id:
                    num.set(_VAL, str(new.numId))


def _numbered_styles(doc: Document) -> dict[str, int]:
    found = {}
    for style in doc.styles.element.iter(qn("w:style")):
        num = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}/{qn('w:numId')}")
        if num is not None and num.get(qn("w:val")) not in (None, "0"):
            found[style.get(qn("w:styleId"))] = int(num.get(qn("w:val")))
    return found
