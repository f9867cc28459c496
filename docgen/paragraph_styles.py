"""A template's direct paragraph formatting named as paragraph styles, for the letters only LibreOffice reads.

A batch's one-section merge repeats the template's paragraphs for every letter, each carrying its spacing,
indents, tabs and alignment. LibreOffice imports a reference to a paragraph style faster than the same
properties on each paragraph: 5 to 8 % of its time on a chunk of convocations. A style based on the
paragraph's own style and holding those properties is the same formatting, so the letters read the same; only
properties that mean the same in a style as on a paragraph are named, and the documents users receive as DOCX
are never touched (docgen.render names the formatting of the letters it makes for a merge, once per template).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from docx.oxml.ns import qn
from docx.oxml.parser import OxmlElement
from lxml import etree

# Not numbering (a style's indents give way to its list's, a paragraph's do not), contextual spacing (it compares
# the styles of neighbouring paragraphs), borders, section breaks, tracked changes or anything else: a paragraph
# with any of those keeps its formatting as it is.
NAMEABLE = frozenset(qn(f"w:{name}") for name in
                     ("keepNext", "keepLines", "pageBreakBefore", "widowControl", "spacing", "ind", "jc", "tabs"))
STYLE_ID_PREFIX = "ParcoursP"

_P, _P_PR, _P_STYLE, _R_PR = qn("w:p"), qn("w:pPr"), qn("w:pStyle"), qn("w:rPr")
_STYLE, _STYLE_ID, _TYPE, _DEFAULT = qn("w:style"), qn("w:styleId"), qn("w:type"), qn("w:default")
_NAME, _BASED_ON, _NUM_ID, _VAL = qn("w:name"), qn("w:basedOn"), qn("w:numId"), qn("w:val")


def name_paragraph_formats(body: Any, styles: Any) -> tuple[Any, list[Any]]:
    """A copy of `body` whose paragraphs refer to new paragraph styles instead of carrying their nameable
    formatting, and those styles (w:style elements to add to `styles`, the template's styles element)."""
    body = deepcopy(body)
    existing = {style.get(_STYLE_ID): style for style in styles.iterchildren(_STYLE)}
    names = {name.get(_VAL) for name in styles.iter(_NAME)}
    default = next((key for key, style in existing.items()
                    if style.get(_TYPE) == "paragraph" and style.get(_DEFAULT) in ("1", "true", "on")), None)
    made: list[Any] = []
    by_formatting: dict[bytes, str] = {}
    for properties in body.iter(_P_PR):
        if properties.getparent().tag != _P:  # the former properties a tracked change keeps
            continue
        own = properties.find(_P_STYLE)
        base = own.get(_VAL) if own is not None else default
        kept = [child for child in properties if child.tag in NAMEABLE]
        if (not kept or any(child.tag not in NAMEABLE and child.tag not in (_P_STYLE, _R_PR) for child in properties)
                or (own is not None and base not in existing) or _numbered(base, existing)):
            continue
        formatting = (base or "").encode() + b"".join(etree.tostring(child, method="c14n") for child in kept)
        if b"{" in formatting:  # template code in a property (hand-written XML): left where Jinja renders it
            continue
        if formatting not in by_formatting:
            by_formatting[formatting] = _new_style(existing, names, base, kept, made)
        for child in kept:
            properties.remove(child)
        if own is None:
            own = properties.makeelement(_P_STYLE, {})
            properties.insert(0, own)
        own.set(_VAL, by_formatting[formatting])
    return body, made


def _new_style(existing: dict[str, Any], names: set[str], base: str | None, kept: list[Any],
               made: list[Any]) -> str:
    number = len(made) + 1
    while f"{STYLE_ID_PREFIX}{number}" in existing or f"Parcours format {number}" in names:
        number += 1
    key, name = f"{STYLE_ID_PREFIX}{number}", f"Parcours format {number}"
    style = OxmlElement("w:style", {_TYPE: "paragraph", qn("w:customStyle"): "1", _STYLE_ID: key})
    style.append(OxmlElement("w:name", {_VAL: name}))
    if base is not None:
        style.append(OxmlElement("w:basedOn", {_VAL: base}))
    formatting = OxmlElement("w:pPr")
    formatting.extend(deepcopy(child) for child in kept)
    style.append(formatting)
    existing[key] = style
    names.add(name)
    made.append(style)
    return key


def _numbered(name: str | None, existing: dict[str, Any]) -> bool:
    """Whether paragraph style `name` numbers its paragraphs, itself or through the styles it is based on."""
    seen = set()
    while name is not None and name in existing and name not in seen:
        seen.add(name)
        properties = existing[name].find(_P_PR)
        number = properties.find(f"{qn('w:numPr')}/{_NUM_ID}") if properties is not None else None
        if number is not None and number.get(_VAL) not in (None, "0"):
            return True
        based_on = existing[name].find(_BASED_ON)
        name = based_on.get(_VAL) if based_on is not None else None
    return False
