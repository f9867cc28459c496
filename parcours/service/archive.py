"""Archive timestamps kept alive: a completed request's final PDF whose latest document timestamp
can be proven for less than a window gets a new one, stored as a new "timestamped" version.

Requests are first checked without a lock (reading the final PDF of each); a due one is then locked
and checked again (another run may have renewed it meanwhile), and its new version, the request's
final_version and the audit event commit together, one transaction per document.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.container import Services
from parcours.models import Document, DocumentVersion, SignatureRequest, utcnow
from parcours.service import audit
from parcours.service import pki as instance_pki
from parcours.service.signatures import latest_version, lock_request, new_version
from signing import archive
from signing.archive import ArchiveTimestamp
from signing.errors import SigningError

log = logging.getLogger(__name__)
EVENT = "archive.refreshed"
DEFAULT_WINDOW = dt.timedelta(days=365)


@dataclass(frozen=True)
class Renewal:
    """A document whose archive timestamp was renewed (or would be, in a dry run)."""

    request_id: int
    document_id: int
    matricule: str
    previous_version: int
    expiring: ArchiveTimestamp | None
    """The latest document timestamp before renewal; None when the final PDF had none."""
    version: int | None = None
    """The new version; None in a dry run."""
    renewed: ArchiveTimestamp | None = None
    """The new timestamp (its `expires` says when the next renewal is due)."""


@dataclass(frozen=True)
class Failure:
    request_id: int
    document_id: int
    error: SigningError


@dataclass
class RefreshReport:
    deadline: dt.datetime
    """Timestamps whose TSA certificate expires before this moment are renewed."""
    dry_run: bool
    checked: int = 0
    renewals: list[Renewal] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def still_due(self) -> list[Renewal]:
        """Renewals whose new timestamp expires before the deadline too: the TSA's certificate needs renewing."""
        return [r for r in self.renewals if r.renewed is not None and r.renewed.expires <= self.deadline]


def _due(stamp: ArchiveTimestamp | None, deadline: dt.datetime) -> bool:
    return stamp is None or stamp.expires <= deadline


def _final(session: Session, request: SignatureRequest) -> DocumentVersion:
    return session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == request.document_id,
                                                        DocumentVersion.number == request.final_version))


def _completed(services: Services) -> list[tuple[int, int, int, str]]:
    """(request id, document id, final version, matricule) of every completed request, by id."""
    with services.db.session() as session:
        rows = session.execute(select(SignatureRequest.id, SignatureRequest.document_id, SignatureRequest.final_version,
                                      Document.matricule)
                               .join(Document, Document.id == SignatureRequest.document_id)
                               .where(SignatureRequest.status == "completed", SignatureRequest.final_version.is_not(None))
                               .order_by(SignatureRequest.id)).all()
    return [tuple(row) for row in rows]


def _renew(services: Services, found: Renewal, stamper: Any, validation: Any) -> Renewal | None:
    """Lock the request, check the final version is still the one found, renew; None if it moved on."""
    with services.db.session() as session:
        request = lock_request(session, found.request_id)
        if request is None or request.status != "completed" or request.final_version != found.previous_version:
            return None
        final = _final(session, request)
        pdf = archive.renew(services.blobs.get(final.pdf_sha256), stamper, validation)
        renewed = archive.latest_timestamp(pdf)
        version = new_version(session, services.blobs, latest_version(session, request.document_id), pdf, "timestamped",
                               "system")
        request.final_version = version.number
        expiring = found.expiring
        audit.record(session, EVENT, subject_type="signature_request", subject_id=request.id, actor="system",
                     data={"document_id": request.document_id, "version": version.number,
                           "pdf_sha256": version.pdf_sha256, "previous_version": final.number,
                           "expiring_not_after": expiring.expires.isoformat() if expiring else None,
                           "expiring_tsa_serial": expiring.tsa_serial if expiring else None,
                           "not_after": renewed.expires.isoformat() if renewed else None})
        return Renewal(found.request_id, found.document_id, found.matricule, final.number, expiring,
                       version.number, renewed)


def refresh(services: Services, *, within: dt.timedelta = DEFAULT_WINDOW, dry_run: bool = False,
            now: dt.datetime | None = None) -> RefreshReport:
    """Renew every archive timestamp expiring within `within` of `now`; a failure is reported, the others go on."""
    report = RefreshReport(deadline=(now or utcnow()) + within, dry_run=dry_run)
    stamper = validation = None
    for request_id, document_id, final_version, matricule in _completed(services):
        report.checked += 1
        try:
            with services.db.session() as session:
                request = session.get(SignatureRequest, request_id)
                stamp = archive.latest_timestamp(services.blobs.get(_final(session, request).pdf_sha256))
            if not _due(stamp, report.deadline):
                continue
            found = Renewal(request_id, document_id, matricule, final_version, stamp)
            if dry_run:
                report.renewals.append(found)
                continue
            if stamper is None:  # one timestamper and one set of CRLs for the run
                stamper = instance_pki.timestamper(services.settings)
                validation = instance_pki.validation(services.settings)
            done = _renew(services, found, stamper, validation)
            if done is not None:
                report.renewals.append(done)
        except SigningError as exc:
            log.warning("signature request %s: archive timestamp not renewed: %s", request_id, exc)
            report.failures.append(Failure(request_id, document_id, exc))
    return report
