"""Small DOCX files made on the fly for tests: one paragraph per line of text."""

from __future__ import annotations

import io

from docx import Document


def make_docx(*paragraphs: str, footer: str | None = None) -> bytes:
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    if footer is not None:
        doc.sections[0].footer.paragraphs[0].text = footer
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for section in doc.sections:
        parts += [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)
