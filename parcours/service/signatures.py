"""The signature workflow of a compte rendu or an état des lieux: the manager (the employer's representative)
signs (certifies), then the employee (comments and approves), then the document is sealed (B-LTA) and every
party gets it by e-mail (service.copies). A refusal is written into a sealed version, mailed the same way.
Every step is a document version, an audit event and a webhook.

Functions for an HTML page or the JSON API (each opens and commits its own transactions, since e-mails
are sent and the audit chain anchored only after the commit):

    create_request(services, document_id, actor=…, signers=None, expires_in_days=30, require_code=False)
    open_link(services, token, ip, user_agent)      → describe(): what the signer's page shows
    document_pdf(services, token)                   → the PDF the signer is asked to sign (latest version)
    send_code(services, token, ip, user_agent) / check_code(services, token, code, ip, user_agent)
    sign(services, token, consent=True, comments=None, code=None, ip, user_agent)
    refuse(services, token, reason, ip, user_agent)
    cancel(services, request_id, actor, reason) / resend(services, request_id, actor) / expire_due(services)

Errors (parcours.errors): NotFound for an unknown link, Gone for a link used or a request ended (expired,
cancelled, refused, completed), Conflict when it is not the signer's turn, Invalid input, Forbidden while the
one-time code is missing, TooManyAttempts after too many wrong codes.

Link tokens are made when the signer's turn comes (the employee's after the manager signed) and kept
as their sha256 only. Concurrent actions on a request are serialised by a lock on its row (SELECT … FOR
UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) held until the commit, signing included: the second
signer of a race sees the first one's result. A signature always applies to the latest version; the
signed PDF, the new version row, the signer's status and the audit event commit together, so a failure
leaves the previous version current and the link usable again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from docgen import formatting
from parcours.container import Services
from parcours.errors import Conflict, Forbidden, Gone, Invalid, NotFound, TooManyAttempts, Unavailable
from parcours.jobs.runner import enqueue, handler
from parcours.models import AuditEvent, Document, DocumentVersion, Employee, Job, SignatureRequest, Signer, User, utcnow
from parcours.service import audit, copies, mail, templates, webhooks
from parcours.service import pki as instance_pki
from parcours.service.audit import Actor
from parcours.service.tokens import hash_token
from parcours.settings import Settings
from signing import pades, pki
from signing.errors import AnchorNotFound, FieldError, SigningError

log = logging.getLogger(__name__)
API = webhooks.API_ROOT
SIGN_PAGE = "/signer/"
"""Path of the signer's HTML page; the e-mailed link is settings.public_url + SIGN_PAGE + token."""
ROLES = ("manager", "salarie")
FIELDS = {"manager": "signature_manager", "salarie": "signature_salarie"}
LOCKS = {"manager": ["signature_manager"], "salarie": ["signature_salarie", "commentaires_salarie", "date_remise"]}
"""What each signature locks, among the fields the document has (date_remise is optional: older templates)."""
REMISE_FIELD = pades.REMISE_FIELD.name
"""Filled with the day the employee signs, which is the day his signed copy is e-mailed (« remise le »)."""
MAX_COMMENTS = 2000
CODE_DIGITS, CODE_TRIES, CODE_VALIDITY = 6, 3, dt.timedelta(minutes=10)
MAX_WRONG_CODES = 10
"""Wrong codes in all, over every code sent, after which the link is locked: HR must send a new link."""
OPENED_WINDOW = dt.timedelta(minutes=30)
"""A link's openings within this delay are one `link.opened` event: whoever holds a link cannot grow the
trail without bound."""
EXPIRY_JOB = "signature_expiry"
REMINDER_JOB = "signature_reminder"
REMINDER_AFTER = dt.timedelta(days=7)
"""A signer who has not acted gets a new link this long after the last one (each link works once)."""
ENDED = {"completed": "La demande de signature est terminée : toutes les signatures sont recueillies.",
         "refused": "La signature a été refusée : ce lien n'est plus utilisable.",
         "expired": "Ce lien a expiré. Demandez au service RH un nouvel envoi.",
         "cancelled": "Le service RH a annulé cette demande de signature."}
CONSENT = {
    "salarie": ("Je reconnais avoir reçu une copie de ce compte rendu d'entretien et je le signe électroniquement. "
                "Ma signature atteste la réception de ce document ; elle ne vaut pas accord sur son contenu."),
    "manager": ("Je signe électroniquement ce compte rendu, qui reflète l'entretien que j'ai conduit ; "
                "le salarié le recevra ensuite pour le signer à son tour."),
}
CONSENT_ETAT_DES_LIEUX = {
    "salarie": ("Je reconnais avoir reçu une copie de cet état des lieux récapitulatif et je le signe "
                "électroniquement. Ma signature atteste la réception de ce document ; elle ne vaut pas accord sur "
                "son contenu."),
    "manager": ("Je signe électroniquement cet état des lieux récapitulatif pour l'employeur ; le salarié le "
                "recevra ensuite pour le signer à son tour."),
}
FIELDS_BY_TEMPLATE = {"etat_des_lieux": pades.ETAT_DES_LIEUX_FIELDS}
"""The signature fields of each signable template (the compte rendu's otherwise)."""
REFUSAL_FIELD = COMMENTS_FIELD = "commentaires_salarie"
"""A refusal is written in the employee's comments box: the one field still open after the first signature."""



def _by_link(signer: Signer) -> Actor:
    """A signer acts through the link sent to their address: the events name them by it."""
    return Actor(signer.email, "link", name=signer.name, roles=(signer.role,))


# --- locking and lookups ---------------------------------------------------------------------------

def _begin_write(session: Session) -> None:
    """SQLite: take the database write lock now (BEGIN IMMEDIATE), before anything is read."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_request(session: Session, request_id: int) -> SignatureRequest | None:
    """The request row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite: the write lock)."""
    _begin_write(session)
    query = select(SignatureRequest).where(SignatureRequest.id == request_id).execution_options(populate_existing=True)
    if session.connection().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def latest_version(session: Session, document_id: int) -> DocumentVersion:
    return session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                          .order_by(DocumentVersion.number.desc()).limit(1)
                          .execution_options(populate_existing=True))


def _by_token(session: Session, token: str, *, lock: bool) -> tuple[Signer, SignatureRequest]:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound("Lien inconnu", "Ce lien de signature n'existe pas.")
    if lock:
        _begin_write(session)
    signer = session.scalar(select(Signer).where(Signer.token_hash == hash_token(token)))
    if signer is None:
        raise NotFound("Lien inconnu", "Ce lien de signature n'existe pas.")
    request = lock_request(session, signer.request_id) if lock else signer.request
    session.refresh(signer)
    return signer, request


def _usable(services: Services, session: Session, signer: Signer, request: SignatureRequest, *, actor_ip=None,
            user_agent=None) -> None:
    """410 when the link is used or the request ended (an overdue request is marked expired first); 409 out of turn."""
    if request.status == "pending" and request.expires_at <= utcnow():
        _expire(session, request, actor="system", ip=actor_ip, user_agent=user_agent)
        session.commit()
    if request.status != "pending":
        raise Gone("Lien inutilisable", ENDED.get(request.status), request_status=request.status)
    if signer.status in ("signed", "refused"):
        raise Gone("Lien déjà utilisé", "Ce lien a déjà servi : il ne peut plus être utilisé.",
                   signer_status=signer.status)
    earlier = [s for s in request.signers if s.position < signer.position and s.status != "signed"]
    if earlier or signer.status == "waiting":
        raise Conflict("Ce n'est pas encore votre tour",
                       "Un signataire précédent n'a pas encore signé : vous recevrez un lien à votre tour.")


# --- payloads -------------------------------------------------------------------------------------

def _webhook(session: Session, type: str, request: SignatureRequest, signer: Signer | None = None,
             **extra: Any) -> None:
    document = session.get(Document, request.document_id)
    data: dict[str, Any] = {"signature_request_id": request.id, "document_id": request.document_id,
                            "matricule": document.matricule, "status": request.status}
    if signer is not None:
        data["signer"] = {"position": signer.position, "role": signer.role}
    data.update(extra)
    data["links"] = {"signature_request": f"{API}/signature-requests/{request.id}",
                     "document": f"{API}/documents/{request.document_id}"}
    webhooks.emit(session, type, data)


_document_name = copies.document_name


def _template(session: Session, version: DocumentVersion) -> str:
    return templates.name_and_number(session, version.template_version_id)[0]


def consent_text(template: str, role: str) -> str:
    """What the signer agrees to, for this kind of document."""
    return (CONSENT_ETAT_DES_LIEUX if template == "etat_des_lieux" else CONSENT)[role]


def describe(session: Session, signer: Signer, request: SignatureRequest) -> dict[str, Any]:
    """What the signer's page shows: the document, the signer, the consent text, what is still needed."""
    latest = latest_version(session, request.document_id)
    return {
        "signature_request": {"id": request.id, "status": request.status,
                              "expires_at": request.expires_at.isoformat(),
                              "require_code": request.require_code},
        "document": {"id": request.document_id, "name": _document_name(session, latest), "version": latest.number,
                     "pages": latest.pages, "pdf_sha256": latest.pdf_sha256},
        "signer": {"position": signer.position, "role": signer.role, "name": signer.name, "title": signer.title,
                   "status": signer.status, "code_verified": signer.code_verified_at is not None},
        "consent_text": consent_text(_template(session, latest), signer.role),
        "comments_allowed": signer.role == "salarie",
        "max_comments": MAX_COMMENTS,
    }


def request_view(session: Session, request: SignatureRequest) -> dict[str, Any]:
    """The request for HR and auditors: status, signers with their times, the versions it made."""
    versions = session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == request.document_id,
                                                             DocumentVersion.number >= request.prepared_version)
                               .order_by(DocumentVersion.number)).all()
    iso = lambda m: m.isoformat() if m else None  # noqa: E731
    return {
        "id": request.id, "document_id": request.document_id, "status": request.status,
        "require_code": request.require_code, "created_by": request.created_by, "created_at": iso(request.created_at),
        "expires_at": iso(request.expires_at), "completed_at": iso(request.completed_at),
        "ended_at": iso(request.ended_at), "end_reason": request.end_reason,
        "prepared_version": request.prepared_version, "final_version": request.final_version,
        "signers": [{"position": s.position, "role": s.role, "name": s.name, "email": s.email, "title": s.title,
                     "status": s.status, "sent_at": iso(s.sent_at), "viewed_at": iso(s.viewed_at),
                     "signed_at": iso(s.signed_at), "refused_at": iso(s.refused_at), "comments": s.comments,
                     "signed_version": s.signed_version, "certificate_serial": s.certificate_serial}
                    for s in request.signers],
        "versions": [{"number": v.number, "kind": v.kind, "pdf_sha256": v.pdf_sha256, "created_at": iso(v.created_at),
                      "links": {"pdf": f"{API}/documents/{request.document_id}/versions/{v.number}/pdf"}}
                     for v in versions],
    }


# --- versions --------------------------------------------------------------------------------------

def new_version(session: Session, blobs: Any, previous: DocumentVersion, pdf: bytes, kind: str,
                 created_by: str) -> DocumentVersion:
    """A new immutable version after `previous` (blob first: content-addressed, harmless if the transaction fails)."""
    sha = blobs.put(pdf)
    row = DocumentVersion(document_id=previous.document_id, number=previous.number + 1, kind=kind, docx_sha256=None,
                          pdf_sha256=sha, pages=previous.pages, template_version_id=previous.template_version_id,
                          snapshot=previous.snapshot, created_by=created_by)
    session.add(row)
    session.flush()
    return row


# --- creating ---------------------------------------------------------------------------------------

def _full_name(person: dict[str, Any]) -> str:
    return " ".join(str(person[k]) for k in ("civilite", "prenom", "nom") if person.get(k))


def default_signers(session: Session, document: Document, version: DocumentVersion) -> list[dict[str, Any]]:
    """The manager then the employee, from the version's snapshot (e-mails completed from the employees table)."""
    snap = version.snapshot or {}
    salarie = snap.get("salarie") or {}
    employee = session.get(Employee, document.matricule)
    manager = dict(snap.get("manager") or {})
    if not manager.get("email") and employee is not None and employee.manager_matricule:
        boss = session.get(Employee, employee.manager_matricule)
        if boss is not None:
            manager = {"civilite": boss.civilite, "prenom": boss.prenom, "nom": boss.nom, "poste": boss.poste,
                       "email": boss.email, **{k: v for k, v in manager.items() if v}}
    if not manager.get("nom"):
        manager = dict((snap.get("entretien") or {}).get("interlocuteur") or {})
    if manager.get("nom") and not manager.get("email"):
        match = session.scalar(select(Employee).where(Employee.nom == manager["nom"],
                                                      Employee.prenom == manager.get("prenom", "")).limit(1))
        if match is not None:
            manager["email"] = match.email
    first = {"role": "manager", "name": _full_name(manager), "email": manager.get("email") or "",
             "title": manager.get("poste") or manager.get("fonction") or "Responsable de l'entretien"}
    signatory = (snap.get("courrier") or {}).get("signataire") or {}
    if _template(session, version) == "etat_des_lieux" and signatory.get("nom"):
        # The employer's representative signs the état des lieux: the letter's signatory (HR), whose address
        # the request gives (the data has none) unless a user of that name has one.
        user = session.scalar(select(User).where(User.name == signatory["nom"], User.active.is_(True)).limit(1))
        first = {"role": "manager", "name": signatory["nom"], "email": user.email if user is not None else "",
                 "title": signatory.get("fonction") or "Pour l'employeur"}
    return [
        first,
        {"role": "salarie", "name": _full_name(salarie), "email": salarie.get("email") or (employee.email if employee else ""),
         "title": "Salarié"},
    ]


def _check_signers(raw: Any, defaults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors = []
    if raw is None:
        chosen = defaults
    elif not isinstance(raw, list) or not 1 <= len(raw) <= 2:
        raise Invalid("Valeurs invalides", errors=[{"field": "signers", "reason": "une liste d'un ou deux signataires"}])
    else:
        chosen = []
        by_role = {d["role"]: d for d in defaults}
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or item.get("role") not in ROLES:
                errors.append({"field": f"signers[{i}].role", "reason": "manager ou salarie"})
                continue
            unknown = set(item) - {"role", "name", "email", "title"}
            if unknown:
                errors.append({"field": f"signers[{i}]", "reason": f"champs inconnus : {', '.join(sorted(unknown))}"})
            chosen.append({**by_role[item["role"]], **{k: v for k, v in item.items() if v is not None}})
        roles = [c["role"] for c in chosen]
        if len(set(roles)) != len(roles) or roles not in (["manager"], ["salarie"], ["manager", "salarie"]):
            errors.append({"field": "signers", "reason": "le responsable signe avant le salarié, chacun une fois"})
    for i, signer in enumerate(chosen):
        for key in ("name", "email", "title"):
            if not isinstance(signer.get(key), str) or not signer[key].strip():
                errors.append({"field": f"signers[{i}].{key}", "reason": "obligatoire (absent des données du document)"})
        if isinstance(signer.get("email"), str) and signer["email"] and (
                "@" not in signer["email"] or any(c.isspace() for c in signer["email"].strip())):
            errors.append({"field": f"signers[{i}].email", "reason": "adresse e-mail invalide", "value": signer["email"]})
    if errors:
        raise Invalid("Signataires invalides", errors=errors)
    return [{k: v.strip() for k, v in s.items()} for s in chosen]


def _issue_link(signer: Signer) -> str:
    token = secrets.token_urlsafe(32)
    signer.token_hash = hash_token(token)
    signer.status, signer.sent_at = "sent", utcnow()
    signer.code_hash = signer.code_expires_at = signer.code_verified_at = None
    signer.code_attempts = 0
    _plan_reminder(signer)
    return token


def _plan_reminder(signer: Signer) -> None:
    """A reminder after REMINDER_AFTER without a signature, if the request is still open then; the
    link's hash in the payload makes a reminder planned for an older link do nothing."""
    when = utcnow() + REMINDER_AFTER
    if signer.request.expires_at > when:
        enqueue(object_session(signer), REMINDER_JOB, {"signer_id": signer.id, "link": signer.token_hash}, run_at=when)


@dataclass(frozen=True)
class Created:
    request_id: int
    email_sent: bool


def create_request(services: Services, document_id: int, *, actor: str | Actor, signers: Any = None, expires_in_days: Any = 30,
                   require_code: Any = False, ip: str | None = None, user_agent: str | None = None) -> Created:
    """Prepare the latest PDF (fields at the anchors) as a new version, create the request, e-mail the first signer."""
    errors = []
    if isinstance(expires_in_days, float) and expires_in_days.is_integer():
        expires_in_days = int(expires_in_days)  # 30.0 is an integer to JSON Schema, and so to the API
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= 365:
        errors.append({"field": "expires_in_days", "reason": "un nombre de jours de 1 à 365"})
    if not isinstance(require_code, bool):
        errors.append({"field": "require_code", "reason": "true ou false"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    with services.db.session() as session:
        _begin_write(session)
        query = select(Document).where(Document.id == document_id)
        if session.connection().dialect.name == "postgresql":
            query = query.with_for_update()
        document = session.scalar(query)
        if document is None:
            raise NotFound("Document introuvable", f"Aucun document n'a l'identifiant {document_id}.")
        if session.scalar(select(SignatureRequest.id).where(SignatureRequest.document_id == document_id,
                                                            SignatureRequest.status == "pending")):
            raise Conflict("Signature déjà en cours", "Une demande de signature de ce document est en cours : "
                           "annulez-la d'abord.")
        latest = latest_version(session, document_id)
        if latest.kind not in ("generated", "prepared"):
            raise Conflict("Document déjà signé", f"La dernière version ({latest.number}) est « {latest.kind} » : "
                           "générez le document à nouveau pour une nouvelle signature.")
        chosen = _check_signers(signers, default_signers(session, document, latest))
        if latest.kind == "generated":
            try:
                fields = FIELDS_BY_TEMPLATE.get(_template(session, latest), pades.COMPTE_RENDU_FIELDS)
                fields += (pades.SEAL_FIELD,) if services.settings.seal_pkcs12 else ()
                prepared_pdf = pades.prepare(services.blobs.get(latest.pdf_sha256), fields)
            except AnchorNotFound as exc:
                raise Invalid("Document sans emplacement de signature",
                              f"Le PDF n'a pas l'emplacement {exc.anchor} : seuls un compte rendu et un état des "
                              "lieux récapitulatif se signent ici.") from None
            latest = new_version(session, services.blobs, latest, prepared_pdf, "prepared", audit.label(actor))
        request = SignatureRequest(document_id=document_id, status="pending", require_code=require_code,
                                   prepared_version=latest.number, created_by=audit.label(actor),
                                   expires_at=utcnow() + dt.timedelta(days=expires_in_days))
        request.signers = [Signer(position=i, role=s["role"], name=s["name"], email=s["email"], title=s["title"],
                                  status="waiting", code_attempts=0) for i, s in enumerate(chosen)]
        session.add(request)
        session.flush()
        first = request.signers[0]
        token = _issue_link(first)
        audit.record(session, "signature_request.created", subject_type="signature_request", subject_id=request.id,
                     actor=actor, ip=ip, user_agent=user_agent,
                     data={"document_id": document_id, "prepared_version": latest.number,
                           "pdf_sha256": latest.pdf_sha256, "require_code": require_code,
                           "expires_at": request.expires_at.isoformat(),
                           "signers": [{"position": s.position, "role": s.role, "name": s.name, "email": s.email}
                                       for s in request.signers]})
        _webhook(session, "signature_request.sent", request, first)
        enqueue(session, EXPIRY_JOB, {"request_id": request.id}, run_at=request.expires_at)
        request_id, signer_id = request.id, first.id
    return Created(request_id, _send_link(services, signer_id, token))


@handler(REMINDER_JOB)
def _reminder_job(services: Services, job: Job) -> None:
    """The signer still has not signed: a fresh link (the previous one stops working), « Rappel » in the subject."""
    with services.db.session() as session:
        signer = session.get(Signer, job.payload["signer_id"])
        if signer is None or signer.token_hash != job.payload["link"] or signer.status in ("signed", "refused"):
            return  # signed, refused, or a newer link was sent since: nothing to remind
        request = lock_request(session, signer.request_id)
        if request is None or request.status != "pending":
            return
        token = _issue_link(signer)
        audit.record(session, "reminder.sent", subject_type="signature_request", subject_id=request.id,
                     actor="system", data={"signer": signer.position})
        signer_id = signer.id
    _send_link(services, signer_id, token, reminder=True)


def _send_link(services: Services, signer_id: int, token: str, reminder: bool = False) -> bool:
    """E-mail the link (after the commit that made it), then record it; a failure is recorded and logged."""
    settings = services.settings
    with services.db.session() as session:
        signer = session.get(Signer, signer_id)
        request = signer.request
        name = _document_name(session, latest_version(session, request.document_id))
        link = settings.public_url.rstrip("/") + SIGN_PAGE + token
        subject, body = mail.signature_link(name=signer.name, role=signer.role, document=name, link=link,
                                            expires_at=request.expires_at, timezone=settings.timezone)
        if reminder:
            subject = f"Rappel : {subject}"
        try:
            message_id = mail.send(settings, signer.email, subject, body)
        except mail.MailError as exc:
            log.error("signature request %s: %s", request.id, exc)
            audit.record(session, "email.failed", subject_type="signature_request", subject_id=request.id,
                         actor="system", data={"signer": signer.position, "to": signer.email, "error": str(exc)[:500]})
            return False
        audit.record(session, "email.sent", subject_type="signature_request", subject_id=request.id, actor="system",
                     data={"signer": signer.position, "to": signer.email, "purpose": "link",
                           "message_id": message_id})
    return True


# --- the signer's actions --------------------------------------------------------------------------

def open_link(services: Services, token: str, ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """The signer's page: records the opening (webhook `viewed` the first time)."""
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=True)
        _usable(services, session, signer, request, actor_ip=ip, user_agent=user_agent)
        first = signer.viewed_at is None
        if first:
            signer.viewed_at, signer.status = utcnow(), "viewed"
        if first or not _recent(session, request, signer, "link.opened", utcnow() - OPENED_WINDOW):
            audit.record(session, "link.opened", subject_type="signature_request", subject_id=request.id,
                         actor=_by_link(signer), ip=ip, user_agent=user_agent,
                         data={"signer": signer.position, "first": first})
        if first:
            _webhook(session, "signature_request.viewed", request, signer)
        return describe(session, signer, request)


def document_pdf(services: Services, token: str) -> tuple[bytes, str]:
    """The PDF to sign (the latest version) and a file name; same checks as open_link, nothing recorded."""
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=False)
        if request.status != "pending" or signer.status in ("signed", "refused"):
            _usable(services, session, signer, request)
        latest = latest_version(session, request.document_id)
        return services.blobs.get(latest.pdf_sha256), f"document-{request.document_id}-v{latest.number}.pdf"


def _code_digest(token: str, code: str) -> str:
    # Keyed with the link token, which the database does not hold: a copy of the table does not give the code.
    return hmac.new(token.encode(), code.encode(), hashlib.sha256).hexdigest()


def send_code(services: Services, token: str, ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """E-mail a new 6-digit code (valid 10 minutes, 3 tries); the previous one stops working."""
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=True)
        _usable(services, session, signer, request, actor_ip=ip, user_agent=user_agent)
        _refuse_if_locked(session, request, signer)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        signer.code_hash, signer.code_attempts = _code_digest(token, code), 0
        signer.code_expires_at, signer.code_verified_at = utcnow() + CODE_VALIDITY, None
        name = _document_name(session, latest_version(session, request.document_id))
        subject, body = mail.one_time_code(name=signer.name, document=name, code=code,
                                           minutes=int(CODE_VALIDITY.total_seconds() // 60))
        try:
            message_id = mail.send(services.settings, signer.email, subject, body)
        except mail.MailError as exc:
            raise Unavailable("Envoi du code impossible", "Le code n'a pas pu être envoyé ; réessayez plus tard.") from exc
        audit.record(session, "email.sent", subject_type="signature_request", subject_id=request.id, actor="system",
                     ip=ip, user_agent=user_agent,
                     data={"signer": signer.position, "to": signer.email, "purpose": "code", "message_id": message_id})
        return {"sent_to": _mask(signer.email), "expires_at": signer.code_expires_at.isoformat(), "tries": CODE_TRIES}


def _signer_events(session: Session, request: SignatureRequest, signer: Signer, type: str,
                   since: dt.datetime | None = None) -> list[AuditEvent]:
    """This signer's events of `type` on the request (the trail is the record of what the link did)."""
    query = select(AuditEvent).where(AuditEvent.subject_type == "signature_request",
                                     AuditEvent.subject_id == str(request.id), AuditEvent.type == type)
    if since is not None:
        query = query.where(AuditEvent.time >= since)
    return [e for e in session.scalars(query) if e.data.get("signer") == signer.position]


def _recent(session: Session, request: SignatureRequest, signer: Signer, type: str, since: dt.datetime) -> bool:
    return bool(_signer_events(session, request, signer, type, since))


def _wrong_codes(session: Session, request: SignatureRequest, signer: Signer) -> int:
    return sum(1 for e in _signer_events(session, request, signer, "code.checked") if not e.data.get("ok"))


def _refuse_if_locked(session: Session, request: SignatureRequest, signer: Signer) -> None:
    if _wrong_codes(session, request, signer) >= MAX_WRONG_CODES:
        raise TooManyAttempts("Lien bloqué", f"{MAX_WRONG_CODES} codes incorrects : ce lien est bloqué. Le service "
                              "RH en est informé et peut vous envoyer un nouveau lien.")


def _lock(settings: Settings, session: Session, request: SignatureRequest, signer: Signer,
          ip: str | None, user_agent: str | None) -> None:
    """Record the lock and tell whoever asked for the signatures, when their address is known."""
    audit.record(session, "link.locked", subject_type="signature_request", subject_id=request.id,
                 actor=_by_link(signer), ip=ip, user_agent=user_agent,
                 data={"signer": signer.position, "wrong_codes": MAX_WRONG_CODES})
    signer.code_hash = None
    address = re.search(r"<([^<>@\s]+@[^<>\s]+)>", request.created_by or "")
    if address:
        try:
            mail.send(settings, address.group(1), f"Lien de signature bloqué : demande n° {request.id}",
                      f"Bonjour,\n\nLe lien de signature de {signer.name} (demande n° {request.id}) a reçu "
                      f"{MAX_WRONG_CODES} codes incorrects : il est bloqué. Si {signer.name} doit encore signer, "
                      "renvoyez-lui un lien depuis Parcours (« renvoyer le lien »).\n")
        except mail.MailError as exc:
            log.error("signature request %s: the lock could not be told: %s", request.id, exc)


def _mask(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def _verify_code(session: Session, signer: Signer, request: SignatureRequest, token: str, code: Any,
                 ip: str | None, user_agent: str | None, settings: Settings) -> None:
    """Check `code`; a wrong one is counted and committed before the error is raised; the last wrong one
    allowed in all locks the link."""
    _refuse_if_locked(session, request, signer)
    if signer.code_hash is None:
        raise Invalid("Aucun code en cours", "Demandez d'abord un code : il vous sera envoyé par e-mail.",
                      errors=[{"field": "code", "reason": "aucun code envoyé"}])
    if signer.code_expires_at <= utcnow():
        raise Invalid("Code expiré", "Ce code a expiré : demandez-en un nouveau.",
                      errors=[{"field": "code", "reason": "code expiré"}])
    good = isinstance(code, str) and hmac.compare_digest(_code_digest(token, code.strip()), signer.code_hash)
    if good:
        signer.code_verified_at = utcnow()
    else:
        signer.code_attempts += 1
        if signer.code_attempts >= CODE_TRIES:
            signer.code_hash = None
    audit.record(session, "code.checked", subject_type="signature_request", subject_id=request.id, actor=_by_link(signer),
                 ip=ip, user_agent=user_agent, data={"signer": signer.position, "ok": good, "attempt": signer.code_attempts})
    if good:
        return
    if _wrong_codes(session, request, signer) >= MAX_WRONG_CODES:
        _lock(settings, session, request, signer, ip, user_agent)
        session.commit()
        _refuse_if_locked(session, request, signer)
    session.commit()
    if signer.code_hash is None:
        raise TooManyAttempts("Trop d'essais", "Trois codes incorrects : ce code ne fonctionne plus, demandez-en un nouveau.")
    left = CODE_TRIES - signer.code_attempts
    raise Invalid("Code incorrect", f"Ce code est incorrect ; il vous reste {left} essai(s).",
                  errors=[{"field": "code", "reason": "code incorrect", "tries_left": left}])


def check_code(services: Services, token: str, code: Any, ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=True)
        _usable(services, session, signer, request, actor_ip=ip, user_agent=user_agent)
        _verify_code(session, signer, request, token, code, ip, user_agent, services.settings)
        return {"verified": True}


def sign(services: Services, token: str, *, consent: Any, comments: Any = None, code: Any = None,
         ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """Sign the latest version; after the last signer, seal it (B-LTA) and complete the request."""
    errors = []
    if consent is not True:
        errors.append({"field": "consent", "reason": "cochez la case de consentement pour signer"})
    if comments is not None and (not isinstance(comments, str) or len(comments) > MAX_COMMENTS):
        errors.append({"field": "comments", "reason": f"un texte de {MAX_COMMENTS} caractères au plus"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    comments = comments.strip() if isinstance(comments, str) and comments.strip() else None
    settings = services.settings
    next_link: tuple[int, str] | None = None
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=True)
        _usable(services, session, signer, request, actor_ip=ip, user_agent=user_agent)
        if comments is not None and signer.role != "salarie":
            raise Invalid("Valeurs invalides", errors=[{"field": "comments",
                                                             "reason": "seul le salarié ajoute des commentaires"}])
        if request.require_code and signer.code_verified_at is None:
            if code is None:
                raise Forbidden("Code requis", "Saisissez le code reçu par e-mail avant de signer.",
                                errors=[{"field": "code", "reason": "code obligatoire"}])
            _verify_code(session, signer, request, token, code, ip, user_agent, services.settings)
        latest = latest_version(session, request.document_id)
        authority = instance_pki.authority(settings)
        stamper = instance_pki.timestamper(settings)
        validation = instance_pki.validation(settings)
        try:
            pdf = services.blobs.get(latest.pdf_sha256)
            present = pades.field_names(pdf)
            fill = {COMMENTS_FIELD: comments} if comments else {}
            if signer.role == "salarie" and REMISE_FIELD in present:
                fill[REMISE_FIELD] = _remise(settings)
            credentials = pki.issue_signer_certificate(authority, name=signer.name, email=signer.email, role=signer.title)
            signed_pdf = pades.sign(
                pdf, field=FIELDS[signer.role], credentials=credentials,
                timestamper=stamper, validation=validation, appearance=pades.Appearance(signer.name, signer.title),
                certify=signer.position == 0, lock_fields=[f for f in LOCKS[signer.role] if f in present],
                fill=fill or None)
        except SigningError as exc:
            log.exception("signature request %s: signing failed", request.id)
            raise Unavailable("Signature impossible pour le moment",
                              "La signature n'a pas pu être apposée ; le document n'a pas changé, réessayez.") from exc
        version = new_version(session, services.blobs, latest, signed_pdf, "signed", signer.email)
        signer.status, signer.signed_at, signer.comments = "signed", utcnow(), comments
        signer.signed_version, signer.certificate_serial = version.number, format(credentials.serial_number, "x")
        audit.record(session, "signed", subject_type="signature_request", subject_id=request.id, actor=_by_link(signer),
                     ip=ip, user_agent=user_agent,
                     data={"signer": signer.position, "role": signer.role, "name": signer.name,
                           "document_id": request.document_id, "version": version.number,
                           "pdf_sha256": version.pdf_sha256, "certificate_serial": signer.certificate_serial,
                           "comments": comments, "consent_text": consent_text(_template(session, latest), signer.role)})
        _webhook(session, "signature_request.signed", request, signer, version=version.number)
        following = [s for s in request.signers if s.position > signer.position]
        if following:
            next_link = (following[0].id, _issue_link(following[0]))
            _webhook(session, "signature_request.sent", request, following[0])
        else:
            try:
                sealed = _close(settings, signed_pdf)
            except SigningError as exc:
                log.exception("signature request %s: sealing failed", request.id)
                raise Unavailable("Signature impossible pour le moment",
                                  "Le document n'a pas pu être horodaté ; il n'a pas changé, réessayez.") from exc
            final = new_version(session, services.blobs, version, sealed, "sealed", "system")
            request.status, request.final_version, request.completed_at = "completed", final.number, utcnow()
            audit.record(session, "completed", subject_type="signature_request", subject_id=request.id,
                         actor="system", data={"document_id": request.document_id, "version": final.number,
                                               "pdf_sha256": final.pdf_sha256, "level": "PAdES-B-LTA"})
            _webhook(session, "signature_request.completed", request, version=final.number)
        result = {"status": request.status, "signer_status": signer.status, "version": version.number,
                  "final_version": request.final_version, "signature_request_id": request.id}
    if next_link is not None:
        _send_link(services, *next_link)
    if result["status"] == "completed":
        _anchor(services)
        _deliver(services, request.id)
    return result


def _deliver(services: Services, request_id: int) -> None:
    """The copies, after the commit (a failure is logged: the signature or refusal stands; each address that
    could not be reached is a `copy.failed` event, and HR can send the final version again)."""
    try:
        copies.deliver(services, request_id)
    except Exception:  # noqa: BLE001
        log.exception("signature request %s: the copies could not be delivered", request_id)


def _anchor(services: Services) -> None:
    """Timestamp the audit chain's head after a completed request (a failure is logged: the next anchor covers it)."""
    try:
        with services.db.session() as session:
            audit.anchor(session, instance_pki.timestamper(services.settings))
    except Exception:  # noqa: BLE001
        log.exception("the audit chain could not be anchored")


def _close(settings: Settings, pdf: bytes) -> bytes:
    """The organisation's seal when one is configured (it vouches for the whole), then the document timestamp
    that closes the file (B-LTA)."""
    stamper, validation = instance_pki.timestamper(settings), instance_pki.validation(settings)
    seal = instance_pki.seal_credentials(settings)
    if seal is not None:
        pdf = pades.sign(pdf, field=pades.SEAL_FIELD.name, credentials=seal, timestamper=stamper,
                         validation=instance_pki.seal_validation(settings, seal),
                         appearance=pades.Appearance(settings.organisation, "Cachet de l'organisation"),
                         lock_fields=pades.SEAL_FIELD.locks)
    return pades.seal(pdf, stamper, validation)


def _remise(settings: Settings) -> str:
    """« 6 décembre 2026, par e-mail »: today where the employer is."""
    return f"{formatting.date(settings.today())}, par e-mail"


REFUSERS = {"salarie": "Le salarié", "manager": "Le responsable de l'entretien"}


def refusal_mention(role: str, day: dt.date, reason: str | None) -> str:
    """« Le salarié a refusé de signer le 6 décembre 2026 : motif « … ». », written into the document."""
    if reason:  # a quoted sentence keeps its own final point (« … point 4. »), none is added after it
        motif = f"motif «\u00a0{reason}\u00a0»" + ("" if reason[-1] in ".!?…" else ".")
    else:
        motif = "motif non indiqué."
    return f"{REFUSERS.get(role, 'Le signataire')} a refusé de signer le {formatting.date(day)}\u00a0: {motif}"


def refuse(services: Services, token: str, reason: Any = None, ip: str | None = None,
           user_agent: str | None = None) -> dict[str, Any]:
    """The signer refuses: the refusal and its reason are written into the document (the comments box), in a
    new version sealed by a document timestamp; the request ends, refused; everyone gets that version."""
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_COMMENTS):
        raise Invalid("Valeurs invalides", errors=[{"field": "reason", "reason": f"un texte de {MAX_COMMENTS} caractères au plus"}])
    reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
    settings = services.settings
    with services.db.session() as session:
        signer, request = _by_token(session, token, lock=True)
        _usable(services, session, signer, request, actor_ip=ip, user_agent=user_agent)
        latest = latest_version(session, request.document_id)
        mention = refusal_mention(signer.role, settings.today(), reason)
        pdf = services.blobs.get(latest.pdf_sha256)
        try:
            try:
                # The employee gets this version as his copy: it says when, as a signed one does.
                remise = {REMISE_FIELD: _remise(settings)} if REMISE_FIELD in pades.field_names(pdf) else {}
                pdf = pades.fill(pdf, {REFUSAL_FIELD: mention, **remise})
            except FieldError as exc:  # a document without the box: sealed as it is, the refusal in the trail
                log.warning("signature request %s: the refusal could not be written: %s", request.id, exc)
                mention = None
            sealed = _close(settings, pdf)
        except SigningError as exc:
            log.exception("signature request %s: sealing the refusal failed", request.id)
            raise Unavailable("Refus impossible à enregistrer pour le moment",
                              "Le refus n'a pas pu être consigné sur le document ; rien n'a changé, réessayez.") from exc
        final = new_version(session, services.blobs, latest, sealed, "refused", "system")
        signer.status, signer.refused_at = "refused", utcnow()
        request.status, request.ended_at, request.end_reason = "refused", utcnow(), reason
        request.final_version = final.number
        audit.record(session, "refused", subject_type="signature_request", subject_id=request.id, actor=_by_link(signer),
                     ip=ip, user_agent=user_agent,
                     data={"signer": signer.position, "role": signer.role, "name": signer.name, "reason": reason,
                           "document_id": request.document_id, "version": final.number,
                           "pdf_sha256": final.pdf_sha256, "mention": mention})
        _webhook(session, "signature_request.refused", request, signer, version=final.number)
        result = {"status": request.status, "signer_status": signer.status, "final_version": final.number,
                  "signature_request_id": request.id}
    _anchor(services)
    _deliver(services, result["signature_request_id"])
    return result


# --- HR and housekeeping ---------------------------------------------------------------------------

def _expire(session: Session, request: SignatureRequest, *, actor: str, ip=None, user_agent=None) -> None:
    request.status, request.ended_at = "expired", utcnow()
    audit.record(session, "expired", subject_type="signature_request", subject_id=request.id, actor=actor, ip=ip,
                 user_agent=user_agent, data={"document_id": request.document_id,
                                              "expires_at": request.expires_at.isoformat()})
    _webhook(session, "signature_request.expired", request)


def get_request(session: Session, request_id: int) -> SignatureRequest:
    request = session.get(SignatureRequest, request_id)
    if request is None:
        raise NotFound("Demande introuvable", f"Aucune demande de signature n'a l'identifiant {request_id}.")
    return request


def _pending_request(session: Session, request_id: int) -> SignatureRequest:
    """The request, locked, if it is still waiting for signatures: 404 or 409 otherwise."""
    request = lock_request(session, request_id)
    if request is None:
        raise NotFound("Demande introuvable", f"Aucune demande de signature n'a l'identifiant {request_id}.")
    if request.status != "pending":
        raise Conflict("Demande terminée", f"La demande est déjà « {request.status} ».")
    return request


def cancel(services: Services, request_id: int, *, actor: str | Actor, reason: Any = None, ip=None, user_agent=None) -> dict[str, Any]:
    if reason is not None and not isinstance(reason, str):
        raise Invalid("Valeurs invalides", errors=[{"field": "reason", "reason": "un texte"}])
    with services.db.session() as session:
        request = _pending_request(session, request_id)
        request.status, request.ended_at, request.end_reason = "cancelled", utcnow(), (reason or None)
        audit.record(session, "cancelled", subject_type="signature_request", subject_id=request.id, actor=actor, ip=ip,
                     user_agent=user_agent, data={"document_id": request.document_id, "reason": reason or None})
        return request_view(session, request)


def resend(services: Services, request_id: int, *, actor: str | Actor, ip=None, user_agent=None) -> dict[str, Any]:
    """A new link for the signer whose turn it is (the previous link stops working)."""
    with services.db.session() as session:
        request = _pending_request(session, request_id)
        current = next(s for s in request.signers if s.status != "signed")
        token = _issue_link(current)
        audit.record(session, "link.reissued", subject_type="signature_request", subject_id=request.id, actor=actor,
                     ip=ip, user_agent=user_agent, data={"signer": current.position})
        signer_id = current.id
    sent = _send_link(services, signer_id, token)
    with services.db.session() as session:
        return {**request_view(session, get_request(session, request_id)), "email_sent": sent}


def expire_due(services: Services) -> int:
    """Mark every overdue pending request expired (audit + webhook); how many."""
    count = 0
    with services.db.session() as session:
        ids = session.scalars(select(SignatureRequest.id).where(SignatureRequest.status == "pending",
                                                                SignatureRequest.expires_at <= utcnow())).all()
    for request_id in ids:
        with services.db.session() as session:
            request = lock_request(session, request_id)
            if request.status == "pending" and request.expires_at <= utcnow():
                _expire(session, request, actor="system")
                count += 1
    return count


@handler(EXPIRY_JOB)
def _expiry_job(services: Services, job: Job) -> None:
    """Enqueued at creation for the expiry time: the request expires then if it is still pending."""
    with services.db.session() as session:
        request = lock_request(session, job.payload["request_id"])
        if request is not None and request.status == "pending" and request.expires_at <= utcnow():
            _expire(session, request, actor="system")
