"""PAdES on a real compte rendu: fields at the anchors, manager certifies, employee comments and
approves, B-LTA seal; checked with pyHanko and poppler's pdfsig, and the negative cases."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from docgen.dataset import load_dataset_dir
from docgen.render import DocxRenderer
from docgen.values import load_values
from parcours import resources
from signing import pades, pki
from signing.errors import AnchorNotFound, CertificateRevoked, RevocationUnavailable

pytestmark = pytest.mark.libreoffice

ROOT = Path(__file__).resolve().parents[2]
COMMENT = "Je suis d’accord avec ce compte rendu. Je souhaite une formation au soudage TIG en 2027."


@pytest.fixture(scope="session")
def compte_rendu(pool) -> bytes:
    dataset = load_dataset_dir(resources.SAMPLES).dataset
    values = load_values(resources.SAMPLES / "campagne.json")
    renderer = DocxRenderer((resources.DOCUMENTS / "compte_rendu.docx").read_bytes(), "compte_rendu.docx")
    return pool.convert(renderer.render(values.context(dataset, "E0003"), "E0003"))


@pytest.fixture(scope="module")
def authority():
    return pki.create_authority("Atelier Lumière", b"secret", crl_url="http://127.0.0.1:9/pki/crl")


@pytest.fixture(scope="module")
def validation(authority):
    return pades.ValidationInputs((authority.root_certificate,), crls=authority.crls)


@pytest.fixture(scope="module")
def stamper(authority):
    return pki.LocalTimeStamper(authority)


def sign_manager(pdf, authority, stamper, validation):
    creds = pki.issue_signer_certificate(
        authority, name="François Rousseau", email="f.rousseau@atelier.fr", role="Chef d’atelier"
    )
    return pades.sign(
        pdf, field="signature_manager", credentials=creds, timestamper=stamper, validation=validation,
        appearance=pades.Appearance("M. François Rousseau", "Chef d’atelier"), certify=True,
        lock_fields=["signature_manager"],
    )


def sign_employee(pdf, authority, stamper, validation, creds=None):
    creds = creds or pki.issue_signer_certificate(
        authority, name="Moussa N’Diaye", email="m.ndiaye@atelier.fr", role="Salarié"
    )
    return pades.sign(
        pdf, field="signature_salarie", credentials=creds, timestamper=stamper, validation=validation,
        appearance=pades.Appearance("M. Moussa N’Diaye", "Salarié"),
        lock_fields=["signature_salarie", "commentaires_salarie"],
        fill={"commentaires_salarie": COMMENT},
    )


@pytest.fixture(scope="module")
def prepared(compte_rendu):
    return pades.prepare(compte_rendu)


@pytest.fixture(scope="module")
def signed(prepared, authority, stamper, validation):
    first = sign_manager(prepared, authority, stamper, validation)
    second = sign_employee(first, authority, stamper, validation)
    return pades.seal(second, stamper, validation)


def anchor_pages(pdf):
    pages = {}
    for index, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):
        text = page.extract_text()
        for anchor in ("[[SIG_MANAGER]]", "[[SIG_SALARIE]]", "[[CHAMP_COMMENTAIRES]]"):
            if anchor in text:
                pages[anchor] = index
    return pages


def test_prepare_puts_each_field_on_the_page_of_its_anchor(compte_rendu, prepared):
    pages = anchor_pages(compte_rendu)
    reader = PdfReader(io.BytesIO(prepared))
    assert len(reader.pdf_header) and prepared.startswith(compte_rendu)  # one incremental update
    assert prepared.count(b"%%EOF") == compte_rendu.count(b"%%EOF") + 1
    by_field = {}
    for index, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if "/T" in annot:
                by_field[annot["/T"]] = (index, [float(v) for v in annot["/Rect"]], page.mediabox)
    assert "date_remise" not in by_field  # optional: the sample's compte rendu prints the campaign's date instead
    for spec in (spec for spec in pades.COMPTE_RENDU_FIELDS if not spec.optional):
        index, rect, box = by_field[spec.name]
        assert index == pages[spec.anchor], spec.name
        assert 0 <= rect[0] < rect[2] <= float(box.right) and 0 <= rect[1] < rect[3] <= float(box.top)
        assert rect[2] - rect[0] == pytest.approx(spec.width, abs=1)
        assert rect[3] - rect[1] == pytest.approx(spec.height, abs=1)
    fields = reader.get_fields()
    assert fields["commentaires_salarie"]["/FT"] == "/Tx"
    assert fields["signature_manager"]["/FT"] == "/Sig"


def test_a_missing_anchor_is_named(compte_rendu):
    with pytest.raises(AnchorNotFound, match=r"\[\[SIG_DRH\]\]"):
        pades.prepare(compte_rendu, [pades.FieldSpec("signature_drh", "[[SIG_DRH]]")])


def test_both_signatures_and_the_seal_are_valid_trusted_and_unaltered(signed, authority):
    reports = pades.verify(signed, [authority.root_certificate])
    assert [r.kind for r in reports] == ["signature", "signature", "document_timestamp"]
    manager, employee, seal = reports
    for report in reports:
        assert report.intact and report.valid and report.trusted, report.summary
        assert report.docmdp_ok is not False, report.summary
        assert report.bottom_line, report.summary
        assert report.coverage == "ENTIRE_REVISION"
    assert manager.certification and not employee.certification
    assert manager.modification_level == "FORM_FILLING"  # the employee's comments and signature
    assert employee.modification_level == "LTA_UPDATES"  # only the archive timestamp after it
    assert manager.timestamp and employee.timestamp and manager.timestamp_valid and employee.timestamp_valid
    assert "François Rousseau" in manager.signer and "Moussa N’Diaye" in employee.signer
    assert seal.timestamp >= employee.timestamp


def test_the_signed_file_holds_the_comments_and_the_validation_data(signed):
    reader = PdfReader(io.BytesIO(signed))
    assert reader.get_fields()["commentaires_salarie"]["/V"] == COMMENT
    dss = reader.trailer["/Root"]["/DSS"]
    assert len(dss["/CRLs"]) >= 2 and len(dss["/Certs"]) >= 3


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) is not installed")
def test_poppler_confirms_the_signature_bytes(signed, tmp_path):
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout
    assert out.count("Signature Validation: Signature is Valid.") == 2, out
    assert "François Rousseau" in out and "Moussa N’Diaye" in out
    # Trust needs the root in an NSS database (certutil, libnss3-tools): not checked here.


def test_a_changed_byte_in_a_signed_range_invalidates_the_signature(signed, authority):
    start = signed.index(b"\n%") + 2  # the binary comment line: harmless to parsing, signed by all
    tampered = signed[:start] + b"X" + signed[start + 1:]
    reports = pades.verify(tampered, [authority.root_certificate])
    assert not any(r.intact and r.valid for r in reports if r.kind == "signature")


def test_a_field_added_after_certification_is_flagged(prepared, authority, stamper, validation):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    certified = sign_manager(prepared, authority, stamper, validation)
    writer = IncrementalPdfFileWriter(io.BytesIO(certified))
    fields.append_signature_field(writer, fields.SigFieldSpec("intrus", on_page=0, box=(10, 10, 100, 50)))
    out = io.BytesIO()
    writer.write(out)
    (manager,) = pades.verify(out.getvalue(), [authority.root_certificate])
    assert manager.intact and manager.valid
    assert not manager.bottom_line
    assert manager.docmdp_ok is False or manager.modification_level == "OTHER"


def test_signing_is_refused_when_revocation_cannot_be_checked(prepared, authority, stamper):
    no_crls = pades.ValidationInputs((authority.root_certificate,))
    with pytest.raises(RevocationUnavailable):
        sign_manager(prepared, authority, stamper, no_crls)


def test_signing_is_refused_when_the_signer_certificate_is_revoked(prepared, authority, stamper, validation):
    certified = sign_manager(prepared, authority, stamper, validation)
    creds = pki.issue_signer_certificate(authority, name="Moussa N’Diaye", email="m@atelier.fr", role="Salarié")
    revoked = pades.ValidationInputs(
        (authority.root_certificate,), crls=(pki.crl(authority, [creds.serial_number]), authority.root_crl)
    )
    with pytest.raises(CertificateRevoked):
        sign_employee(certified, authority, stamper, revoked, creds)


def test_the_signature_page_renders(signed, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    pages = anchor_pages(signed)
    page = pages["[[SIG_MANAGER]]"] + 1
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), str(path), str(tmp_path / "p")],
                   check=True, timeout=60)
    assert list(tmp_path.glob("p*.png"))


def test_french_signing_time():
    import datetime as dt

    assert pades.format_signing_time(dt.datetime(2027, 1, 12, 13, 30, tzinfo=dt.timezone.utc)) == (
        "le 12 janvier 2027 à 14 h 30"
    )
    assert pades.format_signing_time(dt.datetime(2027, 7, 1, 7, 0, tzinfo=dt.timezone.utc)) == "le 1er juillet 2027 à 9 h"


def test_an_employee_who_adds_no_comment_leaves_a_file_that_validates(prepared, authority, stamper, validation):
    """The locked comments field is written in the employee's revision even when empty: pyHanko's difference
    analysis otherwise flags every later revision as changing it."""
    from signing.validate import PASSED, TrustInputs, validate

    creds = pki.issue_signer_certificate(authority, name="Moussa N’Diaye", email="m.ndiaye@atelier.fr", role="Salarié")
    manager = sign_manager(prepared, authority, stamper, validation)
    employee = pades.sign(manager, field="signature_salarie", credentials=creds, timestamper=stamper,
                          validation=validation, appearance=pades.Appearance("M. Moussa N’Diaye", "Salarié"),
                          lock_fields=["signature_salarie", "commentaires_salarie"])
    report = validate(pades.seal(employee, stamper, validation), TrustInputs((authority.root_certificate,)))
    assert report.indication == PASSED, report.message
    assert [c.changes.allowed for c in report.signatures] == [True, True, True]
