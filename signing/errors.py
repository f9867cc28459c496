"""The signing engine's error types: every third-party failure is translated into one of these.

    SigningError
    ├── PKIError                 the internal authority or a PKCS#12 file cannot be used
    │   └── WrongPassphrase      the passphrase does not open the private keys
    ├── AnchorNotFound           an anchor such as [[SIG_MANAGER]] is not in the PDF
    ├── FieldError               a field is missing, already signed, or cannot be filled
    ├── RevocationUnavailable    the chain's revocation status cannot be checked (hard fail)
    ├── CertificateRevoked       a certificate of the chain is revoked
    ├── CertificateInvalid       the chain cannot be validated for another reason
    ├── TimestampError           the time-stamping authority did not answer properly
    └── PdfError                 the PDF cannot be read or written
"""

from __future__ import annotations


class SigningError(Exception):
    """Base class of every error raised by the signing engine."""


class PKIError(SigningError):
    """The internal authority or a PKCS#12 file cannot be used."""


class WrongPassphrase(PKIError):
    """The passphrase does not decrypt the private keys."""


class AnchorNotFound(SigningError):
    """An anchor (e.g. ``[[SIG_MANAGER]]``) is not in the PDF."""

    def __init__(self, anchor: str):
        super().__init__(f"anchor {anchor} not found in the PDF")
        self.anchor = anchor


class FieldError(SigningError):
    """A field is missing, already signed, or cannot be filled."""


class RevocationUnavailable(SigningError):
    """The revocation status of a certificate of the chain cannot be established (hard fail)."""


class CertificateRevoked(SigningError):
    """A certificate of the chain is revoked."""


class CertificateInvalid(SigningError):
    """The signer's chain cannot be validated (untrusted, expired, wrong key usage...)."""


class TimestampError(SigningError):
    """The time-stamping authority did not give a usable token."""


class PdfError(SigningError):
    """The PDF cannot be read or written."""
