"""A file signed elsewhere: another organisation's PKI that answers revocation by OCSP only, two signers
without signature timestamps, then a document timestamp: what a compte rendu signed with another
provider's tool looks like when it reaches an auditor.

    foreign = authority()                                   # root, issuing CA, TSA; OCSP for the CA's certificates
    pdf = two_signer_file(blank_pdf(), foreign)             # both OCSP answers (valid 10 minutes) in the DSS
    trust = verifier_trust(foreign, at=later)               # the root, its CRL and a TSA OCSP answer of that day

Everything is real: pyHanko signs and timestamps, the OCSP answers are built with cryptography's
OCSPResponseBuilder and signed by the issuing CA itself (RFC 6960's simplest responder). Nothing is
fetched: every address in the certificates is 127.0.0.1:9 (discard).
"""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator import ValidationContext
from stamper_at import StamperAt

from signing import pki, validate

OCSP_URL = "http://127.0.0.1:9/ocsp"
ROOT_CRL_URL = "http://127.0.0.1:9/racine.crl"

@pytest.fixture(scope="module", autouse=True)
def quiet():
    """For a test module that imports it: pyHanko logs every check it could not improve."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


OCSP_VALIDITY = dt.timedelta(minutes=10)
SIGNERS = (("signature_1", "Claire Fontaine", "c.fontaine@cabinet-martin.example"),
           ("signature_2", "Hugo Lambert", "h.lambert@cabinet-martin.example"))


def blank_pdf(text: bytes = b"BT /F1 12 Tf 72 720 Td (Compte rendu) Tj ET") -> bytes:
    """A one-page PDF made by pyHanko (no LibreOffice)."""
    pdf = writer.PdfFileWriter()
    pdf.insert_page(writer.PageObject(contents=pdf.add_object(generic.StreamObject(stream_data=text)),
                                      media_box=(0, 0, 595, 842)))
    out = io.BytesIO()
    pdf.write(out)
    return out.getvalue()


def authority(name: str = "Cabinet Martin Conseil", *, now: dt.datetime | None = None) -> pki.Authority:
    """Root (with a CRL for the issuing CA), issuing CA whose certificates (signers, TSA) name an OCSP
    responder and no CRL."""
    return pki.create_authority(name, b"secret", crl_url=None, root_crl_url=ROOT_CRL_URL, ocsp_url=OCSP_URL, now=now)


def signer(foreign: pki.Authority, name: str, email: str, *, now: dt.datetime | None = None) -> pki.SignerCredentials:
    """A signer certificate valid three years, as a commercial provider issues them."""
    return pki.issue_signer_certificate(foreign, name=name, email=email, role="Consultant", now=now,
                                        validity=dt.timedelta(days=3 * 365))


def ocsp_answer(foreign: pki.Authority, certificate: x509.Certificate, *, now: dt.datetime | None = None,
                validity: dt.timedelta = OCSP_VALIDITY, revoked_at: dt.datetime | None = None) -> bytes:
    """A DER OCSP response "good" (or "revoked") for `certificate`, signed by the issuing CA, valid
    `validity` from `now` (whole seconds: some validators reject fractions)."""
    now = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    status = ocsp.OCSPCertStatus.REVOKED if revoked_at else ocsp.OCSPCertStatus.GOOD
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=certificate, issuer=foreign.ca_certificate, algorithm=hashes.SHA1(), cert_status=status,
        this_update=now, next_update=now + validity, revocation_time=revoked_at, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, foreign.ca_certificate)
    return builder.sign(foreign.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _context(foreign: pki.Authority, ocsps: list[bytes], now: dt.datetime | None = None) -> ValidationContext:
    root_crl = pki.root_crl(foreign, now=now)
    return ValidationContext(
        trust_roots=[foreign.root], other_certs=list(foreign.chain),
        crls=[asn1_crl.CertificateList.load(root_crl)], ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps],
        allow_fetching=False, revocation_mode="hard-fail", moment=now)


def prepare(pdf: bytes) -> bytes:
    """Both (invisible) signature fields, before any signature."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for field, _, _ in SIGNERS:
        fields.append_signature_field(w, fields.SigFieldSpec(field))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sign(pdf: bytes, foreign: pki.Authority, field: str, creds: pki.SignerCredentials, *,
         ocsps: list[bytes], now: dt.datetime | None = None) -> bytes:
    """A PAdES signature without signature timestamp (B-B), its OCSP answer added to the DSS."""
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES, embed_validation_info=True,
        validation_context=_context(foreign, ocsps, now), md_algorithm="sha256")
    out = signers.PdfSigner(meta, signer=creds.signer()).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
    return out.getvalue()


def timestamp(pdf: bytes, foreign: pki.Authority, *, ocsps: list[bytes], now: dt.datetime | None = None) -> bytes:
    """A document timestamp of the foreign TSA over everything, with the validation data in the DSS."""
    stamper = StamperAt(foreign, now) if now else pki.LocalTimeStamper(foreign)
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.PdfTimeStamper(stamper).timestamp_pdf(w, "sha256", validation_context=_context(foreign, ocsps, now))
    return out.getvalue()


def two_signer_file(pdf: bytes, foreign: pki.Authority, *, now: dt.datetime | None = None,
                    document_timestamp: bool = True) -> bytes:
    """Two signers (no signature timestamps), each OCSP answer (10 minutes) in the DSS, then a document
    timestamp whose TSA's OCSP answer goes in the DSS too; all of it at `now` (the certificates, the answers,
    the validation while signing and the timestamp; the signers' software writes the real time)."""
    pdf = prepare(pdf)
    answers: list[bytes] = []
    for field, name, email in SIGNERS:
        creds = signer(foreign, name, email, now=now)
        answers.append(ocsp_answer(foreign, creds.certificate, now=now))
        pdf = sign(pdf, foreign, field, creds, ocsps=answers, now=now)
    if not document_timestamp:
        return pdf
    answers.append(ocsp_answer(foreign, foreign.tsa_certificate, now=now))
    return timestamp(pdf, foreign, ocsps=answers, now=now)


def verifier_trust(foreign: pki.Authority, *, at: dt.datetime) -> validate.TrustInputs:
    """What an auditor brings on day `at`: the root, the root's CRL of that day, and the TSA certificate's
    OCSP answer of that day (for the last timestamp, validated at that day)."""
    return validate.TrustInputs((foreign.root_certificate,), crls=(pki.root_crl(foreign, now=at),),
                                ocsps=(ocsp_answer(foreign, foreign.tsa_certificate, now=at),))
