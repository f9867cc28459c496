"""The signed document in everyone's hands: after the last signature (or a refusal), the final version is
e-mailed to the employee (attached, with a personal download link valid 90 days, kept as its sha256), to the
interviewer and to HR. Each delivery is an audit event; the employee's is the « remise » of the copy.

    deliver(services, request_id)                 → after the commit that completed or refused the request
    open_copy(services, token, ip, user_agent)    → (pdf, file name) for the download link
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.container import Services
from parcours.errors import Conflict, Gone, NotFound
from parcours.models import CopyLink, Document, DocumentVersion, Employee, SignatureRequest, User, utcnow
from parcours.service import audit, interview_outcomes, mail, templates, webhooks
from parcours.service.audit import Actor
from parcours.service.tokens import hash_token

log = logging.getLogger(__name__)
COPY_VALIDITY = dt.timedelta(days=90)
COPY_PAGE = "/copie/"
"""Path of the employee's download link: settings.public_url + COPY_PAGE + token."""
LABELS = {"compte_rendu": "Compte rendu de l'entretien de parcours professionnel",
          "etat_des_lieux": "État des lieux récapitulatif du parcours professionnel"}


def document_name(session: Session, version: DocumentVersion) -> str:
    """« Compte rendu de l'entretien de parcours professionnel – M. Moussa N'Diaye »."""
    template, _ = templates.name_and_number(session, version.template_version_id)
    label = LABELS.get(template, template or "Document")
    salarie = (version.snapshot or {}).get("salarie") or {}
    who = " ".join(str(salarie.get(k)) for k in ("civilite", "prenom", "nom") if salarie.get(k))
    return f"{label} – {who}" if who else label


@dataclass(frozen=True)
class Recipient:
    role: str
    """salarie, manager (the interviewer) or hr."""
    name: str
    email: str


def _recipients(session: Session, request: SignatureRequest, document: Document) -> list[Recipient]:
    by_role = {s.role: s for s in request.signers}
    employee = session.get(Employee, document.matricule)
    found: list[Recipient] = []
    if "salarie" in by_role:
        found.append(Recipient("salarie", by_role["salarie"].name, by_role["salarie"].email))
    elif employee is not None:
        found.append(Recipient("salarie", f"{employee.prenom} {employee.nom}", employee.email))
    if "manager" in by_role:
        found.append(Recipient("manager", by_role["manager"].name, by_role["manager"].email))
    hr = [u for u in session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
          if "hr" in (u.roles or [])]
    if not hr:
        # No HR account: whoever asked for the signatures, when their address is known.
        name, address = _address(request.created_by or "")
        if address:
            found.append(Recipient("hr", name or "Service RH", address))
    found += [Recipient("hr", u.name, u.email) for u in hr]
    seen, unique = set(), []
    for r in found:  # one message per address, the first role wins (an HR manager signing gets his own copy)
        if r.email and r.email.lower() not in seen:
            seen.add(r.email.lower())
            unique.append(r)
    return unique


def _address(label: str) -> tuple[str, str | None]:
    name, address = email.utils.parseaddr(label)
    return name, address if "@" in address else None


def deliver(services: Services, request_id: int) -> list[dict[str, Any]]:
    """E-mail the request's final version to each party; what was sent to whom (failures recorded, not raised)."""
    settings = services.settings
    today = services.settings.today()
    with services.db.session() as session:
        request = session.get(SignatureRequest, request_id)
        document = session.get(Document, request.document_id)
        version = session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == document.id,
                                                               DocumentVersion.number == request.final_version))
        pdf = services.blobs.get(version.pdf_sha256)
        name = document_name(session, version)
        refused = request.status == "refused"
        refuser = next((s for s in request.signers if s.status == "refused"), None)
        recipients = _recipients(session, request, document)
        filename = f"{templates.name_and_number(session, version.template_version_id)[0]}-{document.matricule}-" \
                   f"{'refus' if refused else 'signe'}-v{version.number}.pdf"
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + COPY_VALIDITY
        session.add(CopyLink(token_hash=hash_token(token), document_id=document.id, version=version.number,
                             email=recipients[0].email if recipients and recipients[0].role == "salarie" else "",
                             created_at=now, expires_at=expires, downloads=0))
        matricule, sha, number = document.matricule, version.pdf_sha256, version.number
        reason = request.end_reason
    link = settings.public_url.rstrip("/") + COPY_PAGE + token
    sent: list[dict[str, Any]] = []
    for recipient in recipients:
        subject, body = mail.copy_delivered(
            recipient_role=recipient.role, recipient_name=recipient.name, document=name, refused=refused,
            refused_by=refuser.role if refuser is not None else None, reason=reason, delivered_on=today,
            link=link if recipient.role == "salarie" else None, expires_at=expires, timezone=settings.timezone,
            organisation=settings.organisation)
        entry: dict[str, Any] = {"role": recipient.role, "to": recipient.email, "version": number, "pdf_sha256": sha}
        try:
            entry["message_id"] = mail.send(settings, recipient.email, subject, body,
                                            attachments=[mail.Attachment(filename, pdf)])
            entry["delivered_on"] = today.isoformat()
            if recipient.role == "salarie":
                entry["link_expires_at"] = expires.isoformat()
        except mail.MailError as exc:
            log.error("signature request %s: the copy for %s could not be sent: %s", request_id, recipient.email, exc)
            entry["error"] = str(exc)[:500]
        sent.append(entry)
    with services.db.session() as session:
        for entry in sent:
            audit.record(session, "copy.failed" if "error" in entry else "copy.delivered",
                         subject_type="signature_request", subject_id=request_id, actor="system", data=entry)
        delivered = any(e["role"] == "salarie" and "error" not in e for e in sent)
        if refused:
            interview = interview_outcomes.signature_refused(session, document.id, refused_on=today)
        else:
            interview = interview_outcomes.document_signed(session, document.id, delivered_on=today) \
                if delivered else interview_outcomes.of_document(session, document.id)
        webhooks.emit(session, "document.delivered", {
            "document_id": document.id, "matricule": matricule, "signature_request_id": request_id,
            "version": number, "outcome": "refused" if refused else "signed",
            "interview_id": interview.id if interview is not None else None,
            "delivered_to": [e["role"] for e in sent if "error" not in e],
            "links": {"document": f"{webhooks.API_ROOT}/documents/{document.id}",
                      "signature_request": f"{webhooks.API_ROOT}/signature-requests/{request_id}"}})
    return sent


def send_again(services: Services, request_id: int, *, actor: Any) -> list[dict[str, Any]]:
    """HR sends the final version again (an address was wrong, a server refused): 409 before the end."""
    with services.db.session() as session:
        request = session.get(SignatureRequest, request_id)
        if request is None:
            raise NotFound("Demande introuvable", f"Aucune demande de signature n'a l'identifiant {request_id}.")
        if request.status not in ("completed", "refused") or request.final_version is None:
            raise Conflict("Pas encore de version finale", f"La demande est « {request.status} » : les copies partent "
                           "après la dernière signature ou un refus.")
        audit.record(session, "copies.requested", subject_type="signature_request", subject_id=request_id,
                     actor=actor, data={"version": request.final_version})
    return deliver(services, request_id)


def open_copy(services: Services, token: str, ip: str | None = None, user_agent: str | None = None) -> tuple[bytes, str]:
    """The PDF behind a download link (each download an audit event): NotFound, or Gone after 90 days."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound("Lien inconnu", "Ce lien de téléchargement n'existe pas.")
    with services.db.session() as session:
        link = session.scalar(select(CopyLink).where(CopyLink.token_hash == hash_token(token)))
        if link is None:
            raise NotFound("Lien inconnu", "Ce lien de téléchargement n'existe pas.")
        if link.expires_at <= utcnow():
            raise Gone("Lien expiré", "Ce lien de téléchargement a expiré (90 jours) : demandez une copie au "
                       "service RH.")
        version = session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == link.document_id,
                                                               DocumentVersion.number == link.version))
        link.downloads += 1
        link.last_downloaded_at = utcnow()
        document = session.get(Document, link.document_id)
        employee = session.get(Employee, document.matricule)
        # Whoever holds the link is taken for the employee it was sent to, as a signing link is.
        holder = Actor(link.email or document.matricule, "link", roles=("salarie",),
                       name=f"{employee.prenom} {employee.nom}" if employee is not None else document.matricule)
        audit.record(session, "copy.downloaded", subject_type="document", subject_id=link.document_id,
                     actor=holder, ip=ip, user_agent=user_agent,
                     data={"version": link.version, "downloads": link.downloads})
        name = f"{templates.name_and_number(session, version.template_version_id)[0]}-{document.matricule}-" \
               f"v{version.number}.pdf"
        return services.blobs.get(version.pdf_sha256), name
