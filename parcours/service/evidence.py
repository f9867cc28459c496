"""The evidence bundle of a completed signature request: gathered from the database and blobs, built by
signing.evidence, and its download recorded in the audit trail in the same transaction.

    download(services, request_id, actor=…, ip=…, user_agent=…, token_id=…, role=…) → Bundle(filename, data)

What goes in: every version of the document up to the request's final one (the generated version
included), the audit events about the document and about each of its signature requests, the anchors
covering those events (for each event, the first anchor at or after it), the validation report of the
final PDF (JSON, and PDF when `with_report_pdf`, by parcours.reports), the
instance's root, CA and TSA certificates with their current CRLs, and the request as the API shows it.

Errors (parcours.errors): NotFound for an unknown request, Conflict for a request that is not completed,
Unavailable when the time-stamping authority does not answer (nothing is recorded then).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from parcours import reports
from parcours.container import Services
from parcours.errors import Conflict, NotFound, Unavailable
from parcours.models import AuditAnchor, AuditEvent, DocumentVersion, SignatureRequest, utcnow
from parcours.service import audit, signatures, verifications
from parcours.service import pki as instance_pki
from signing import evidence
from signing.audit import ChainAnchor, Event
from signing.errors import TimestampError

log = logging.getLogger(__name__)
EVENT = "evidence.downloaded"
STATUS_FR = {"pending": "en cours", "refused": "refusée", "expired": "expirée", "cancelled": "annulée",
             "completed": "terminée"}


@dataclass(frozen=True)
class Bundle:
    """A ZIP ready to serve, and the audit event that recorded its download."""

    filename: str
    data: bytes
    sha256: str
    event_sequence: int


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, default=_json_default) + "\n").encode("utf-8")


def completed_request(session: Session, request_id: int) -> SignatureRequest:
    """The request if it is completed: 404 unknown, 409 otherwise."""
    request = session.get(SignatureRequest, request_id)
    if request is None:
        raise NotFound("Demande introuvable", f"Aucune demande de signature n'a l'identifiant {request_id}.")
    if request.status != "completed" or request.final_version is None:
        state = STATUS_FR.get(request.status, request.status)
        raise Conflict("Dossier de preuves indisponible",
                       f"La demande n° {request_id} est {state} : seule une demande terminée (toutes les signatures "
                       "recueillies et le document scellé) a un dossier de preuves.", request_status=request.status)
    return request


def _versions(services: Services, session: Session, request: SignatureRequest) -> list[evidence.Version]:
    rows = session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == request.document_id,
                                                         DocumentVersion.number <= request.final_version)
                           .order_by(DocumentVersion.number)).all()
    return [evidence.Version(r.number, r.kind, r.created_at, services.blobs.get(r.pdf_sha256)) for r in rows]


def _events(session: Session, request: SignatureRequest) -> list[Event]:
    """The events about the document and about each of its signature requests, in chain order."""
    request_ids = session.scalars(select(SignatureRequest.id)
                                  .where(SignatureRequest.document_id == request.document_id)).all()
    about = or_(and_(AuditEvent.subject_type == "document", AuditEvent.subject_id == str(request.document_id)),
                and_(AuditEvent.subject_type == "signature_request",
                     AuditEvent.subject_id.in_([str(i) for i in request_ids])))
    return [audit.to_event(row) for row in session.scalars(select(AuditEvent).where(about)
                                                            .order_by(AuditEvent.sequence))]


def _anchors(session: Session, events: list[Event]) -> list[ChainAnchor]:
    """For each event, the first anchor at or after it (one query per distinct anchor)."""
    found: list[ChainAnchor] = []
    index = 0
    while index < len(events):
        row = session.execute(select(AuditAnchor.sequence, AuditAnchor.head_hash, AuditAnchor.token,
                                     AuditAnchor.created_at)
                              .where(AuditAnchor.sequence >= events[index].sequence)
                              .order_by(AuditAnchor.sequence, AuditAnchor.id).limit(1)).first()
        if row is None:
            break
        found.append(ChainAnchor(row.sequence, row.head_hash, bytes(row.token), row.created_at))
        while index < len(events) and events[index].sequence <= row.sequence:
            index += 1
    return found


def _report_pdf(services: Services, report: dict[str, Any]) -> bytes:
    """The report as a PDF/A, through the LibreOffice pool."""
    return reports.report_pdf(report, services.converter())


def gather(services: Services, session: Session, request: SignatureRequest, *,
           with_report_pdf: bool = True) -> evidence.BundleInputs:
    """The bundle's inputs for a completed request (read only)."""
    settings = services.settings
    versions = _versions(services, session, request)
    final = next(v for v in versions if v.number == request.final_version)
    events = _events(session, request)
    report = verifications.verify(settings, session, final.pdf)
    authority = instance_pki.authority(settings)
    pem = serialization.Encoding.PEM
    return evidence.BundleInputs(
        request_id=request.id, versions=tuple(versions), events=tuple(events), anchors=tuple(_anchors(session, events)),
        report_json=_json(report), report_pdf=_report_pdf(services, report) if with_report_pdf else None,
        request_json=_json(signatures.request_view(session, request)),
        root_pem=authority.root_certificate.public_bytes(pem), ca_pem=authority.ca_certificate.public_bytes(pem),
        tsa_pem=authority.tsa_certificate.public_bytes(pem), root_crl=authority.root_crl, ca_crl=authority.ca_crl,
        extra_roots_pem=b"".join(c.public_bytes(pem) for c in verifications.extra_roots(settings)),
        organisation=settings.organisation, created_at=utcnow())


def download(services: Services, request_id: int, *, actor: str | audit.Actor, ip: str | None = None, user_agent: str | None = None,
             token_id: int | None = None, role: str | None = None, with_report_pdf: bool = True) -> Bundle:
    """Build the bundle of a completed request and record its download (event evidence.downloaded, with the
    ZIP's sha256) in the same transaction: no bundle leaves without its event, and a failure records nothing."""
    with services.db.session() as session:
        request = completed_request(session, request_id)
        inputs = gather(services, session, request, with_report_pdf=with_report_pdf)
        try:
            data = evidence.build_bundle(inputs, instance_pki.timestamper(services.settings))
        except TimestampError as exc:
            log.exception("signature request %s: the evidence bundle's manifest could not be timestamped", request_id)
            raise Unavailable("Dossier de preuves indisponible pour le moment",
                              "L'autorité d'horodatage n'a pas horodaté le manifeste du dossier ; réessayez.") from exc
        digest = hashlib.sha256(data).hexdigest()
        if isinstance(actor, audit.Actor):
            token_id, role = actor.token_id, role or ", ".join(actor.roles)
        row = audit.record(session, EVENT, subject_type="signature_request", subject_id=request.id, actor=actor,
                           ip=ip, user_agent=user_agent,
                           data={"document_id": request.document_id, "final_version": request.final_version,
                                 "final_pdf_sha256": hashlib.sha256(inputs.final.pdf).hexdigest(),
                                 "bundle_sha256": digest, "bundle_size": len(data),
                                 "events": len(inputs.events), "anchors": len(inputs.anchors),
                                 "report_pdf": inputs.report_pdf is not None, "token_id": token_id, "role": role})
        sequence = row.sequence
    return Bundle(f"{evidence.bundle_folder(request_id)}.zip", data, digest, sequence)
