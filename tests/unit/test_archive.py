"""signing.archive: reading the latest document timestamp of a PDF and renewing it, with real
authorities and their time-stamping keys (no LibreOffice: a one-page PDF made by pyHanko)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from signing import archive, pades, pki
from signing.errors import CertificateInvalid, CertificateRevoked, PdfError, RevocationUnavailable, TimestampError

NOW = dt.datetime.now(dt.timezone.utc)


def _blank_pdf() -> bytes:
    pdf = writer.PdfFileWriter()
    pdf.insert_page(writer.PageObject(contents=pdf.add_object(generic.StreamObject(stream_data=b"")),
                                      media_box=(0, 0, 595, 842)))
    out = io.BytesIO()
    pdf.write(out)
    return out.getvalue()


def _authority(name: str = "Atelier Lumière", now: dt.datetime | None = None) -> pki.Authority:
    # With CRL addresses in the certificates, validation must find their CRLs (hard fail).
    return pki.create_authority(name, b"secret", crl_url="http://127.0.0.1:9/pki/crl",
                                root_crl_url="http://127.0.0.1:9/pki/root.crl", now=now)


def _fresh(authority: pki.Authority, at: dt.datetime | None = None) -> pki.Authority:
    return authority.with_crls(ca_crl=pki.crl(authority, now=at), root_crl=pki.root_crl(authority, now=at))


def _inputs(*authorities: pki.Authority) -> pades.ValidationInputs:
    return pades.ValidationInputs(tuple(a.root_certificate for a in authorities),
                                  crls=tuple(crl for a in authorities for crl in a.crls))


def _dss_crls(pdf: bytes) -> list[bytes]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf), strict=False))
    return [ref.get_object().data for ref in dss.crls]


@pytest.fixture(scope="module")
def authority():
    # CRLs issued an hour ago: the renewal brings newer ones.
    return _fresh(_authority(), NOW - dt.timedelta(hours=1))


@pytest.fixture(scope="module")
def sealed(authority):
    return pades.seal(_blank_pdf(), pki.LocalTimeStamper(authority), _inputs(authority))


def test_a_pdf_without_document_timestamp_has_no_archive_timestamp():
    assert archive.latest_timestamp(_blank_pdf()) is None


def test_the_latest_timestamp_says_when_its_tsa_certificate_expires(authority, sealed):
    stamp = archive.latest_timestamp(sealed)
    tsa = authority.tsa_certificate
    assert stamp.expires == tsa.not_valid_after_utc and stamp.tsa_serial == format(tsa.serial_number, "x")
    assert "horodatage" in stamp.tsa and stamp.count == 1
    assert abs(stamp.time - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)


def test_a_renewal_adds_a_timestamp_and_fresh_crls_for_the_previous_one(authority, sealed):
    current = _fresh(authority)
    renewed = archive.renew(sealed, pki.LocalTimeStamper(current), _inputs(current))
    assert renewed.startswith(sealed)
    before, after = archive.latest_timestamp(sealed), archive.latest_timestamp(renewed)
    assert after.count == 2 and after.field != before.field and after.time >= before.time
    assert current.ca_crl in _dss_crls(renewed) and current.ca_crl not in _dss_crls(sealed)
    reports = pades.verify(renewed, [authority.root_certificate])
    assert [r.kind for r in reports] == ["document_timestamp"] * 2
    assert all(r.bottom_line for r in reports), [r.summary for r in reports]


def test_a_new_tsa_certificate_moves_the_expiry_forward():
    # An authority created almost ten years ago: its TSA certificate ends in 100 days.
    born = NOW - pki.TSA_VALIDITY + dt.timedelta(days=100)
    old, new = _fresh(_authority(now=born)), _authority()
    sealed = pades.seal(_blank_pdf(), pki.LocalTimeStamper(old), _inputs(old))
    expiring = archive.latest_timestamp(sealed)
    assert expiring.expires - NOW < dt.timedelta(days=101)
    renewed = archive.renew(sealed, pki.LocalTimeStamper(new), _inputs(old, new))
    assert archive.latest_timestamp(renewed).expires - NOW > dt.timedelta(days=9 * 365)
    reports = pades.verify(renewed, [old.root_certificate, new.root_certificate])
    assert len(reports) == 2 and all(r.bottom_line for r in reports), [r.summary for r in reports]


def test_a_previous_timestamp_from_an_unknown_authority_is_not_renewed(sealed):
    stranger = _authority("Ailleurs")
    with pytest.raises(CertificateInvalid):
        archive.renew(sealed, pki.LocalTimeStamper(stranger), _inputs(stranger))


def test_a_previous_timestamp_whose_tsa_was_revoked_is_not_renewed(authority, sealed):
    revoked = authority.with_crls(ca_crl=pki.crl(authority, [authority.tsa_certificate]),
                                  root_crl=pki.root_crl(authority))
    with pytest.raises(CertificateRevoked):
        archive.renew(sealed, pki.LocalTimeStamper(revoked), _inputs(revoked))


def test_without_revocation_data_for_the_previous_timestamp_nothing_is_renewed(authority, sealed):
    with pytest.raises(RevocationUnavailable):
        archive.renew(sealed, pki.LocalTimeStamper(authority), pades.ValidationInputs((authority.root_certificate,)))


def test_an_unreachable_tsa_is_a_timestamp_error(authority, sealed):
    with pytest.raises(TimestampError):
        archive.renew(sealed, pki.timestamper("http://127.0.0.1:9/tsa", timeout=2), _inputs(_fresh(authority)))


def test_bytes_that_are_not_a_pdf_are_a_pdf_error(authority):
    with pytest.raises(PdfError):
        archive.latest_timestamp(b"not a pdf")
    with pytest.raises(PdfError):
        archive.renew(b"not a pdf", pki.LocalTimeStamper(authority), _inputs(authority))
