"""Signature engine: internal PKI (pki), PAdES signatures (pades), errors; validation and audit to come."""

from .errors import (
    AnchorNotFound,
    CertificateInvalid,
    CertificateRevoked,
    FieldError,
    PdfError,
    PKIError,
    RevocationUnavailable,
    SigningError,
    TimestampError,
    WrongPassphrase,
)

__all__ = [
    "AnchorNotFound",
    "CertificateInvalid",
    "CertificateRevoked",
    "FieldError",
    "PdfError",
    "PKIError",
    "RevocationUnavailable",
    "SigningError",
    "TimestampError",
    "WrongPassphrase",
]
