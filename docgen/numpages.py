"""Finds NUMPAGES fields (« Page X sur Y ») and writes a fixed page count in their place."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy

from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn


def _roots(doc: Document) -> Iterator:
    yield doc.element.body
    for rel in doc.part.rels.values():
        if rel.reltype in (RT.HEADER, RT.FOOTER) and not rel.is_external:
            yield rel.target_part.element


def _is_numpages(instruction: str | None) -> bool:
    return bool(instruction) and instruction.split()[:1] == ["NUMPAGES"]


def uses_numpages(doc: Document) -> bool:
    for root in _roots(doc):
        for simple in root.iter(qn("w:fldSimple")):
            if _is_numpages(simple.get(qn("w:instr"))):
                return True
        for instruction in root.iter(qn("w:instrText")):
            if _is_numpages(instruction.text):
                return True
    return False


def freeze_numpages(doc: Document, pages: int) -> None:
    """Replace every NUMPAGES field by the text `pages`, in the same character format."""
    text = str(pages)
    for root in _roots(doc):
        for simple in [s for s in root.iter(qn("w:fldSimple")) if _is_numpages(s.get(qn("w:instr")))]:
            runs = simple.findall(qn("w:r"))
            run = runs[0] if runs else simple.makeelement(qn("w:r"), {})
            _set_text(run, text)
            simple.addprevious(run)
            simple.getparent().remove(simple)
        for instruction in [i for i in root.iter(qn("w:instrText")) if _is_numpages(i.text)]:
            _freeze_complex_field(instruction.getparent(), text)


def _freeze_complex_field(instruction_run, text: str) -> None:
    """A field spread over runs: begin, instruction, separate, result, end. Keep one run of text."""
    begin = instruction_run
    while begin is not None and _field_char(begin) != "begin":
        begin = begin.getprevious()
    if begin is None:
        return
    runs, current = [], begin
    while current is not None:
        runs.append(current)
        if _field_char(current) == "end":
            break
        current = current.getnext()
    literal = instruction_run.makeelement(qn("w:r"), {})
    properties = instruction_run.find(qn("w:rPr"))
    if properties is not None:
        literal.append(deepcopy(properties))
    _set_text(literal, text)
    begin.addprevious(literal)
    for run in runs:
        run.getparent().remove(run)


def _field_char(run) -> str | None:
    char = run.find(qn("w:fldChar"))
    return None if char is None else char.get(qn("w:fldCharType"))


def _set_text(run, text: str) -> None:
    for old in run.findall(qn("w:t")):
        run.remove(old)
    t = run.makeelement(qn("w:t"), {})
    t.text = text
    run.append(t)
