"""Archive timestamps of sealed PDFs (PAdES B-LTA): when the latest document timestamp stops being
provable, and its renewal before that day.

A document timestamp proves the file's state only while its TSA certificate is valid; before it
expires, a new document timestamp is added over everything, with fresh validation data (CRLs) for the
previous one in the DSS (pyHanko's ``update_archival_timestamp_chain``). Bytes in, bytes and data out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from dataclasses import dataclass

from pyhanko.pdf_utils.misc import PdfError as HankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko_certvalidator import CertificateValidator

from .errors import CertificateInvalid, CertificateRevoked, PdfError, SigningError
from .pades import ValidationInputs, translate_error

__all__ = ["ArchiveTimestamp", "latest_timestamp", "renew"]


@dataclass(frozen=True)
class ArchiveTimestamp:
    """The last document timestamp of a PDF: what it proves, and until when."""

    field: str
    """The signature field holding it."""
    time: dt.datetime
    """The time the TSA put in the token (genTime), in UTC."""
    tsa: str
    """The TSA certificate's subject."""
    tsa_serial: str
    """The TSA certificate's serial number, in hexadecimal."""
    expires: dt.datetime
    """The TSA certificate's notAfter: renew the timestamp before then."""
    count: int
    """How many document timestamps the PDF holds (1 after sealing, one more per renewal)."""


def _reader(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except (HankoPdfError, ValueError, KeyError) as exc:
        raise PdfError(f"the PDF cannot be read: {exc}") from exc


def latest_timestamp(pdf: bytes) -> ArchiveTimestamp | None:
    """The last document timestamp and its TSA certificate's expiry; None when the PDF has none."""
    reader = _reader(pdf)
    try:
        stamps = reader.embedded_timestamp_signatures
        if not stamps:
            return None
        last = stamps[-1]
        tst_info = last.signed_data["encap_content_info"]["content"].parsed
        tsa = last.signer_cert
        return ArchiveTimestamp(
            field=last.field_name,
            time=tst_info["gen_time"].native.astimezone(dt.timezone.utc),
            tsa=tsa.subject.human_friendly,
            tsa_serial=format(tsa.serial_number, "x"),
            expires=tsa.not_valid_after.astimezone(dt.timezone.utc),
            count=len(stamps),
        )
    except SigningError:
        raise
    except Exception as exc:
        raise PdfError(f"the document timestamp cannot be read: {exc}") from exc


def _check_previous(reader: PdfFileReader, validation: ValidationInputs) -> None:
    """The last document timestamp must hold now: a new one over a broken one would seem to vouch for it.

    (pyHanko validates it too, but goes on with an untrusted one, or fails on its missing path.)
    """
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return
    # The diff analysis is for the signatures' reports (signing.validate); here only the token and its chain matter.
    status = validate_pdf_timestamp(stamps[-1], validation_context=validation.context(), skip_diff=True)
    if not (status.intact and status.valid):
        raise PdfError(f"the last document timestamp does not match the file: {status.summary()}")
    if status.revoked:
        raise CertificateRevoked(f"the last document timestamp's TSA certificate is revoked: {status.summary()}")
    if not status.trusted:
        raise _why_untrusted(stamps[-1], validation, status.summary())


def _why_untrusted(stamp, validation: ValidationInputs, summary: str) -> SigningError:
    """pyHanko's status keeps an AdES indication only (a missing CRL reads as a general chain failure):
    the TSA certificate validated alone gives the cause."""
    validator = CertificateValidator(stamp.signer_cert, intermediate_certs=stamp.other_embedded_certs,
                                     validation_context=validation.context())
    try:
        asyncio.run(validator.async_validate_usage(set(), extended_key_usage={"time_stamping"}))
    except Exception as exc:
        return translate_error(exc, "checking the last document timestamp")
    return CertificateInvalid(f"the last document timestamp cannot be validated now: {summary}")


def renew(pdf: bytes, timestamper: TimeStamper, validation: ValidationInputs) -> bytes:
    """A new document timestamp over the whole file, after checking the previous one (hard-fail) and
    putting its validation data in the DSS. The previous timestamp's chain must validate against
    `validation`; the new one's too, since its own validation data goes in as well."""
    reader = _reader(pdf)
    try:
        _check_previous(reader, validation)
        out = signers.PdfTimeStamper(timestamper).update_archival_timestamp_chain(
            reader, validation.context(), in_place=False
        )
    except SigningError:
        raise
    except Exception as exc:
        raise translate_error(exc, "renewing the archive timestamp") from exc
    return out.getvalue()
