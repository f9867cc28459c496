"""The employee's comment, up to the 2 000 characters the page allows, is printed whole and readable in the
signed revision: the document's font at its body size (9 pt at least), every sentence found by pdftotext,
and the file still validates."""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from pypdf import PdfReader
from signed_samples import compte_rendu, new_authority, sign_employee, sign_manager, trust, validation_inputs

from parcours.service.signatures import MAX_COMMENTS
from signing import pades, pki, validate

pytestmark = pytest.mark.libreoffice
SENTENCES = [f"Phrase {n} : je souhaite une formation au soudage TIG et évoluer vers l’encadrement d’équipe."
             for n in range(1, 40)]


def _signed(pool, comment: str) -> tuple[bytes, pki.Authority]:
    authority = new_authority()
    stamper, validation = pki.LocalTimeStamper(authority), validation_inputs(authority)
    prepared = pades.prepare(compte_rendu(pool.convert))
    manager = sign_manager(prepared, authority, stamper, validation)
    employee = sign_employee(manager, authority, stamper, validation, comment=comment)
    return pades.seal(employee, stamper, validation), authority


def _appearance(pdf: bytes) -> tuple[set[float], set[str]]:
    """The font sizes (Tf) and font names the comments field is drawn with."""
    reader = PdfReader(io.BytesIO(pdf))
    field = next(a.get_object() for page in reader.pages for a in page.get("/Annots", [])
                 if a.get_object().get("/T") == "commentaires_salarie")
    stream = field["/AP"]["/N"].get_object()
    sizes = {float(v) for v in re.findall(rb"/\w+ ([\d.]+) Tf", stream.get_data())}
    fonts = {str(f.get_object()["/BaseFont"]) for f in stream["/Resources"]["/Font"].values()}
    return sizes, fonts


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout.split())


def test_a_comment_of_2000_characters_is_whole_at_the_body_size_and_the_pdf_validates(pool, tmp_path):
    comment = " ".join(SENTENCES)
    comment = comment[:comment.rindex(".", 0, MAX_COMMENTS) + 1]
    comment += " " + "x" * (MAX_COMMENTS - len(comment) - 1)  # a 2 000-character text, one long « word » at the end
    assert len(comment) == MAX_COMMENTS
    pdf, authority = _signed(pool, comment)
    text = _text(pdf, tmp_path)
    written = [s for s in SENTENCES if s in comment]
    assert len(written) >= 18 and all(s in text for s in written)  # every sentence, none clipped
    sizes, fonts = _appearance(pdf)
    assert sizes == {11} and all("Carlito" in f for f in fonts), (sizes, fonts)  # the body's font, 10,5 pt or more
    assert validate.validate(pdf, trust(authority)).indication == "TOTAL_PASSED"
    path = tmp_path / "comment"
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(tmp_path / "document.pdf"), str(path)], check=True)


def test_a_comment_of_many_short_lines_still_fits_at_nine_points_at_least(pool, tmp_path):
    comment = "\n".join(f"Point {n} : oui." for n in range(1, 200))[:MAX_COMMENTS]
    pdf, authority = _signed(pool, comment)
    text = _text(pdf, tmp_path)
    assert all(f"Point {n} : oui." in text for n in range(1, 120) if f"Point {n} : oui." in comment)
    sizes, _ = _appearance(pdf)
    assert min(sizes) >= 9, sizes
    assert validate.validate(pdf, trust(authority)).indication == "TOTAL_PASSED"
