"""signing.validate on real files: our sealed compte rendu, every way a forger could change it, other
authorities, an expired certificate, files that are not PDFs, a hybrid-reference PDF, three years
later without the network, and poppler's pdfsig as a second opinion.

The compte rendu is signed once for the module (tests/signed_samples.py); each forgery
(tests/forgery.py) starts from its sealed B-LTA state, as a forger would, and every validation runs
with outgoing connections forbidden.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import socket
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import forgery
import pytest
import signed_samples as S
from cryptography.hazmat.primitives import serialization
from docx_factory import make_docx
from pypdf import PdfReader
from signed_samples import authority, samples  # noqa: F401 - fixtures

from signing import validate as V

pytestmark = pytest.mark.libreoffice

LATER = dt.timedelta(days=3 * 365)
"""Long after the one-hour signer certificates expired, within the 10 years of the CAs and the TSA."""


# --- helpers ----------------------------------------------------------------------------------------

class NetworkUsed(ConnectionRefusedError):
    """What a refused connection raises, so that libraries handle it as they would a real one."""


def validate_offline(pdf: bytes, trust: V.TrustInputs, *, attempts: list | None = None, **kwargs) -> V.ValidationReport:
    """validate() with every outgoing connection and name lookup refused and recorded: it must need none
    (a refusal swallowed by a library still fails the test). `attempts` receives them instead."""
    seen = [] if attempts is None else attempts

    def refuse(*args, **_):
        seen.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise NetworkUsed(f"validate tried to reach the network: {seen[-1]}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        report = V.validate(pdf, trust, **kwargs)
    if attempts is None:
        assert not seen, f"validate tried to reach the network: {seen}"
    return report


def named(text: str, words: tuple[str, ...]) -> bool:
    """One of `words` appears in `text` (pyHanko's words today, French ones if they are translated)."""
    return any(word.lower() in text.lower() for word in words)


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def root_sha256(authority) -> str:
    return hashlib.sha256(authority.root_certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture(scope="module")
def trust(authority):
    return S.trust(authority)


@pytest.fixture(scope="module")
def sealed_report(samples, trust):
    return validate_offline(samples.sealed, trust)


# --- 1. our sealed compte rendu ---------------------------------------------------------------------

def test_the_sealed_compte_rendu_is_total_passed_at_b_lta(sealed_report, authority):
    report = sealed_report
    assert (report.indication, report.sub_indication) == (V.PASSED, None), report.message
    assert report.passed and not report.lenient
    assert [c.kind for c in report.signatures] == ["signature", "signature", "document_timestamp"]
    manager, employee, stamp = report.signatures
    for check in report.signatures:
        assert (check.indication, check.sub_indication) == (V.PASSED, None), check.message
        assert check.intact and check.valid and check.trusted and check.offline, check.message
        assert check.coverage == "ENTIRE_REVISION"
        assert check.certificate_valid_at_signing is True
        assert check.timestamp is not None and check.timestamp.ok
        assert check.changes is not None and check.changes.allowed, check.changes
        root = check.chain[-1]
        assert root.trust_root and root.sha256 == root_sha256(authority), [c.subject for c in check.chain]
        assert check.chain[0].sha256 == check.signer.sha256
    assert manager.level == employee.level == "PAdES-B-LTA"
    assert stamp.level is None
    assert (manager.signer.common_name, manager.signer.email) == (S.MANAGER["name"], S.MANAGER["email"])
    assert (employee.signer.common_name, employee.signer.email) == (S.EMPLOYEE["name"], S.EMPLOYEE["email"])
    assert manager.certification == "FILL_FORMS" and employee.certification is None
    assert manager.changes.later_signatures == ("signature_salarie",) and manager.changes.later_timestamps == 1
    assert employee.changes.level == "LTA_UPDATES"
    assert stamp.timestamp.time >= employee.timestamp.time >= manager.timestamp.time
    assert S.MANAGER["name"] in manager.message and S.EMPLOYEE["name"] in employee.message


# --- 2 to 6. forgeries ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Forgery:
    id: str
    make: Callable[[bytes], bytes]
    """From the sealed file to the forged one."""
    indications: tuple[str, ...]
    sub_indications: tuple[str | None, ...]
    names: tuple[str, ...]
    """Words of which one must name the change in the failing signature's changes.description and message."""
    appended: bool = True
    """An incremental update (the signed bytes untouched), not an edit in place."""
    failing: tuple[str, ...] = ("signature_manager", "signature_salarie")
    """The signatures the change must fail (or leave indeterminate)."""
    shows: Callable[[bytes], bool] | None = None
    """The forgery did happen: what a reader of the forged file sees."""


def _comments(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).get_fields()["commentaires_salarie"].get("/V")


def _annotations(pdf: bytes) -> list[str]:
    return [a.get_object()["/Subtype"] for page in PdfReader(io.BytesIO(pdf)).pages for a in page.get("/Annots") or []]


NOT_OK = (V.FAILED, V.INDETERMINATE)
FORGERIES = [
    Forgery("byte-changed-in-signed-range", forgery.flip_byte_in_content_stream, (V.FAILED,), ("HASH_FAILURE",),
            ("empreinte",), appended=False),
    Forgery("page-text-rewritten", lambda pdf: forgery.rewrite_page_text(pdf, "12 janvier 2027", "19 janvier 2027"),
            NOT_OK, ("FORMAT_FAILURE",), ("contenu d'une page",),
            shows=lambda pdf: "19 janvier 2027" in forgery.page_text(pdf) and "12 janvier 2027" not in forgery.page_text(pdf)),
    Forgery("overlay-content-stream", lambda pdf: forgery.overlay_content(pdf, "Le salarié refuse toute formation."),
            NOT_OK, ("FORMAT_FAILURE",), ("contenu d'une page",),
            shows=lambda pdf: "refuse toute formation" in forgery.page_text(pdf)),
    Forgery("overlay-xobject", lambda pdf: forgery.overlay_xobject(pdf, "Le salarié refuse toute formation."),
            NOT_OK, ("FORMAT_FAILURE",), ("contenu d'une page", "éléments affichés"),
            shows=lambda pdf: "/FmForged" in str(PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/XObject"])),
    Forgery("locked-field-value-and-appearance",
            lambda pdf: forgery.change_field_value(pdf, "commentaires_salarie", "Je ne suis pas d'accord."),
            (V.FAILED,), ("FORMAT_FAILURE",), ("« Commentaires du salarié », verrouillé",),
            failing=("signature_salarie",), shows=lambda pdf: _comments(pdf) == "Je ne suis pas d'accord."),
    Forgery("locked-field-appearance-only",
            lambda pdf: forgery.change_field_value(pdf, "commentaires_salarie", "Je ne suis pas d'accord.",
                                                   set_value=False),
            (V.FAILED,), ("FORMAT_FAILURE",), ("« Commentaires du salarié », verrouillé",),
            failing=("signature_salarie",), shows=lambda pdf: _comments(pdf) == S.COMMENT),
    Forgery("freetext-annotation-added", lambda pdf: forgery.add_annotation(pdf, "FreeText", "Avis défavorable"),
            NOT_OK, ("FORMAT_FAILURE",), ("annotation",), shows=lambda pdf: "/FreeText" in _annotations(pdf)),
    Forgery("square-annotation-added", lambda pdf: forgery.add_annotation(pdf, "Square"),
            NOT_OK, ("FORMAT_FAILURE",), ("annotation",), shows=lambda pdf: "/Square" in _annotations(pdf)),
]


@pytest.mark.parametrize("case", FORGERIES, ids=lambda c: c.id)
def test_a_forgery_is_not_passed_and_the_change_is_named(case, samples, trust):
    forged = case.make(samples.sealed)
    if case.shows is not None:
        assert case.shows(forged), "the forgery did not take"
    assert forged.startswith(samples.sealed) is case.appended
    report = validate_offline(forged, trust)

    assert report.indication in case.indications and report.sub_indication in case.sub_indications, report.message
    by_field = {c.field: c for c in report.signatures}
    for name in case.failing:
        check = by_field[name]
        assert check.indication in case.indications and check.sub_indication in case.sub_indications, check.message
        where = check.message + " " + (check.changes.description if check.changes else "")
        assert named(where, case.names), f"the change is not named: {where}"
        if case.appended:
            assert check.intact and check.valid  # what failed is the change after it, not the bytes it signed
            assert check.changes is not None and not check.changes.allowed
    assert named(report.message, case.names), report.message


# --- 7. a certificate from another authority ------------------------------------------------------------

@pytest.fixture(scope="module")
def other_authority():
    return S.new_authority("Concurrent SA")


def test_a_certificate_from_an_unknown_authority_is_indeterminate(samples, authority, other_authority, trust):
    signed = S.sign_with_other_authority(samples.prepared, authority, other_authority)
    report = validate_offline(signed, trust)
    assert (report.indication, report.sub_indication) == (V.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"), report.message
    (check,) = report.signatures
    assert (check.indication, check.sub_indication) == (V.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    assert check.intact and check.valid and not check.trusted
    assert check.signer.common_name == S.MANAGER["name"]
    assert not any(c.trust_root for c in check.chain)
    assert "Concurrent SA" in check.chain[-1].common_name  # the chain shows whose authority it is
    assert "autorité de confiance" in check.message
    # Trusting that authority too, the same file passes: only the trust was missing.
    both = V.TrustInputs((authority.root_certificate, other_authority.root_certificate),
                         crls=authority.crls + other_authority.crls)
    assert validate_offline(signed, both).indication == V.PASSED


# --- 8. a certificate expired when it signed --------------------------------------------------------------
#
# The signature's timestamp proves it existed at T, after the certificate's notAfter; nothing proves it
# existed while the certificate was valid. ETSI EN 319 102-1 (5.5.4 and 5.6.2.4, the check DSS calls
# "best-signature-time before the expiration of the signing certificate") gives INDETERMINATE /
# OUT_OF_BOUNDS_NO_POE: the timestamp does not prove the signature was *made* after the expiry (it may
# have been made before and timestamped late), only a content timestamp taken before signing could give
# TOTAL_FAILED / EXPIRED. Either way it must never pass.

@pytest.fixture(scope="module")
def expired_signature(samples, authority):
    return S.sign_with_expired_certificate(samples.prepared, authority)


def _assert_expired(report, authority):
    assert (report.indication, report.sub_indication) == (V.INDETERMINATE, "OUT_OF_BOUNDS_NO_POE"), report.message
    check = report.signatures[0]
    assert (check.indication, check.sub_indication) == (V.INDETERMINATE, "OUT_OF_BOUNDS_NO_POE")
    assert check.certificate_valid_at_signing is False
    assert check.timestamp.time > check.signer.not_after
    assert check.intact and check.valid and "a expiré le" in check.message


def test_a_certificate_expired_at_signing_sealed_b_lta_is_out_of_bounds(expired_signature, authority, trust):
    from signing import pades, pki

    sealed = pades.seal(expired_signature, pki.LocalTimeStamper(authority), S.validation_inputs(authority))
    _assert_expired(validate_offline(sealed, trust), authority)


def test_a_certificate_expired_at_signing_b_lt_is_out_of_bounds(expired_signature, authority, trust):
    _assert_expired(validate_offline(expired_signature, trust), authority)


# --- 9. no signature ------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["pdf", "prepared"])
def test_a_pdf_without_signature_says_so(state, samples, trust):
    report = validate_offline(getattr(samples, state), trust)
    assert (report.indication, report.sub_indication) == (V.NO_SIGNATURE, None)
    assert report.signatures == () and not report.passed
    assert "aucune signature" in report.message


# --- 10. files that cannot be validated ------------------------------------------------------------------

UNREADABLE = [
    ("docx", lambda s: make_docx("Compte rendu"), V.NotAPdf, r"n'est pas un PDF"),
    ("png", lambda s: png(), V.NotAPdf, r"n'est pas un PDF"),
    ("empty", lambda s: b"", V.NotAPdf, r"vide"),
    ("encrypted", lambda s: forgery.encrypt(s.sealed), V.EncryptedPdf, r"chiffré.*mot de passe"),
    ("truncated-in-half", lambda s: forgery.truncate(s.sealed), V.DamagedPdf, r"tronqué"),
    ("truncated-by-100-bytes", lambda s: s.sealed[:-100], V.DamagedPdf, r"tronqué"),
]


@pytest.mark.parametrize("name,make,error,reason", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_a_file_that_cannot_be_validated_raises_a_french_reason(name, make, error, reason, samples, trust):
    with pytest.raises(error, match=reason) as raised:
        validate_offline(make(samples), trust)
    assert isinstance(raised.value, V.UnreadablePdf)


def test_a_file_cut_inside_its_last_revision_is_reported_truncated(samples, trust):
    cut = forgery.truncate_in_last_revision(samples.sealed)
    try:
        report = validate_offline(cut, trust)
    except V.DamagedPdf as exc:
        assert "tronqué" in str(exc)
        return
    assert report.lenient and any("tronqué" in note for note in report.notes), (report.indication, report.notes)


def test_a_file_cut_at_the_end_of_an_earlier_revision_is_that_revision(samples, trust):
    """Not damaged: the first revision of a signed file is a complete PDF (LibreOffice's, unsigned)."""
    first = samples.sealed[: len(samples.pdf)]
    assert first == samples.pdf
    assert validate_offline(first, trust).indication == V.NO_SIGNATURE


# --- 11. hybrid cross-references ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hybrid(samples):
    pdf = forgery.hybrid_xref(samples.pdf)
    from pyhanko.pdf_utils.reader import PdfFileReader

    assert PdfFileReader(io.BytesIO(pdf), strict=False).xrefs.hybrid_xrefs_present
    assert len(PdfReader(io.BytesIO(pdf)).pages) == len(PdfReader(io.BytesIO(samples.pdf)).pages)
    return pdf


def test_a_hybrid_reference_pdf_is_read_leniently(hybrid, trust):
    report = validate_offline(hybrid, trust)
    assert report.indication == V.NO_SIGNATURE
    assert report.lenient
    assert any("hybrides" in note for note in report.notes), report.notes


def test_a_signed_hybrid_reference_pdf_is_read_leniently_and_passes(hybrid, authority, trust):
    sealed = S.sign_all(hybrid, authority).sealed
    report = validate_offline(sealed, trust)
    assert report.lenient and any("hybrides" in note for note in report.notes), report.notes
    assert report.indication == V.PASSED, report.message


# --- 12. three years later, offline ------------------------------------------------------------------------

def test_three_years_later_the_b_lta_file_passes_offline_with_the_current_crls(samples, authority):
    later = dt.datetime.now(dt.timezone.utc) + LATER
    report = validate_offline(samples.sealed, S.trust(authority, at=later), at=later)
    assert report.validated_at == later
    assert (report.indication, report.sub_indication) == (V.PASSED, None), report.message
    for check in report.signatures:
        assert check.indication == V.PASSED and check.offline, check.message
        if check.kind == "signature":
            assert check.signer.not_after < later  # long expired, yet valid: proven made while it was valid
            assert check.level == "PAdES-B-LTA"


def test_the_network_guard_sees_a_fetch(samples, authority):
    """The guard above is not blind: allowed to fetch, the validator does try the CRL address of the
    certificates (127.0.0.1:9) when it lacks current CRLs."""
    later = dt.datetime.now(dt.timezone.utc) + LATER
    attempts: list = []
    fetching = V.TrustInputs((authority.root_certificate,), allow_fetching=True)
    report = validate_offline(samples.sealed, fetching, at=later, attempts=attempts)
    assert attempts and report.indication != V.PASSED


def test_three_years_later_without_the_current_crls_nothing_is_established(samples, authority):
    """The CRLs embedded at signing expired long ago: the last timestamp's chain needs fresh ones."""
    later = dt.datetime.now(dt.timezone.utc) + LATER
    report = validate_offline(samples.sealed, S.trust(authority), at=later)
    assert report.indication == V.INDETERMINATE, report.message


def test_three_years_later_the_b_lt_file_passes_too_while_its_tsa_is_trusted(samples, authority):
    """Not what the brief expected (B-LT indeterminate), and right by ETSI EN 319 102-1: each signature's own
    timestamp proves it existed while its certificate was valid, the revocation data of that moment is
    embedded, and the TSA's certificate (10 years) is still valid and not revoked per the current CRLs. The
    archive timestamp matters once the signature timestamps can no longer be trusted (TSA certificate
    expired or revoked, algorithm broken), which needs an archive timestamp from another or renewed TSA."""
    later = dt.datetime.now(dt.timezone.utc) + LATER
    report = validate_offline(samples.employee, S.trust(authority, at=later), at=later)
    assert [c.kind for c in report.signatures] == ["signature", "signature"]
    assert report.indication == V.PASSED, report.message
    assert all(c.level == "PAdES-B-LT" for c in report.signatures)


# --- 13. a second opinion: poppler's pdfsig ------------------------------------------------------------------

def _pdfsig(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "file.pdf"
    path.write_bytes(pdf)
    # -nocert: the bytes and the signature only (trust needs the root in an NSS database, and certutil)
    done = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60)
    return done.stdout


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) is not installed")
def test_pdfsig_agrees_the_sealed_file_is_intact(samples, tmp_path):
    out = _pdfsig(samples.sealed, tmp_path)
    assert out.count("Signature Validation: Signature is Valid.") == 2, out
    assert S.MANAGER["name"] in out and S.EMPLOYEE["name"] in out


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) is not installed")
def test_pdfsig_agrees_a_changed_byte_breaks_both_signatures(samples, tmp_path):
    out = _pdfsig(forgery.flip_byte_in_content_stream(samples.sealed), tmp_path)
    assert out.count("Signature Validation: Digest Mismatch.") == 2, out
    assert "Signature is Valid" not in out
