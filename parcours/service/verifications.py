"""Verify any PDF for an auditor: the engine's report, what the instance trusts, and whether the file is a stored version.

Nothing is written: a verification changes nothing (the file is neither stored nor logged).
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.models import DocumentVersion
from parcours.service import pki as instance_pki
from parcours.settings import Settings
from signing.validate import TrustInputs, ValidationReport, validate

# pyHanko logs every failed check with a stack trace; the report already says it in French.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.ERROR)


class TrustRootsError(ValueError):
    """The PEM file of setting trust_roots cannot be read."""


@lru_cache(maxsize=8)
def _extra_roots(path: Path, mtime: float) -> tuple[x509.Certificate, ...]:
    try:
        certificates = tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise TrustRootsError(f"PARCOURS_TRUST_ROOTS: {path} cannot be read as PEM certificates ({exc})") from exc
    return certificates


def extra_roots(settings: Settings) -> tuple[x509.Certificate, ...]:
    """The roots of setting trust_roots (re-read when the file changes)."""
    if settings.trust_roots is None:
        return ()
    path = Path(settings.trust_roots)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise TrustRootsError(f"PARCOURS_TRUST_ROOTS: {path} cannot be read ({exc})") from exc
    return _extra_roots(path, mtime)


def trust_inputs(settings: Settings) -> TrustInputs:
    """The instance's root and its current CRLs, plus the configured roots; fully offline."""
    own = instance_pki.validation(settings)
    return TrustInputs(trust_roots=own.trust_roots + extra_roots(settings), crls=own.crls)


def stored_version(session: Session, sha256: str) -> dict[str, Any] | None:
    """The stored document version with exactly these bytes, if any (the earliest)."""
    row = session.execute(select(DocumentVersion.document_id, DocumentVersion.number, DocumentVersion.kind)
                          .where(DocumentVersion.pdf_sha256 == sha256)
                          .order_by(DocumentVersion.id).limit(1)).first()
    if row is None:
        return None
    return {"document_id": row.document_id, "version": row.number, "kind": row.kind,
            "history_url": f"/api/v1/documents/{row.document_id}/history",
            "pdf_url": f"/api/v1/documents/{row.document_id}/versions/{row.number}/pdf"}


def report(settings: Settings, pdf: bytes) -> ValidationReport:
    """The engine's report with the instance's trust (raises signing.validate's NotAPdf, EncryptedPdf, DamagedPdf)."""
    return validate(pdf, trust_inputs(settings))


def verify(settings: Settings, session: Session, pdf: bytes) -> dict[str, Any]:
    """The report as data, with `stored` (the matching version, or None)."""
    data = report(settings, pdf).to_dict()
    data["stored"] = stored_version(session, hashlib.sha256(pdf).hexdigest())
    return data
