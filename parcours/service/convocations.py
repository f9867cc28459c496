"""Convocations delivered: their e-mails (PDF, trame, iCalendar invitation), the acknowledgement link, the
letters to print for those without an e-mail address.

A "convocation_dispatch" job waits for a version's documents (made by the campaign's batches), then writes
one message row per recipient and "convocation_mail" jobs for them. A mail job sends each message with a
Message-ID fixed beforehand and records it in its own transaction: a crash between the SMTP server's
acceptance and that commit sends it again with the same Message-ID (at least once; a duplicate is
recognisable). A message the server refuses is recorded on the interview (convocation.bounced) and tried
again by a later job. The employee's message carries a personal acknowledgement link, stored as its sha256.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import logging
import secrets
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from markupsafe import escape
from pypdf import PdfReader, PdfWriter
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from docgen import formatting
from docgen.context import INTERVIEW_LABELS
from parcours.container import Services
from parcours.errors import Gone, NotFound
from parcours.jobs.runner import complete, enqueue, handler
from parcours.models import (
    AcknowledgementLink,
    BatchItem,
    Convocation,
    ConvocationMessage,
    DocumentVersion,
    Employee,
    Interview,
    Job,
    utcnow,
)
from parcours.service import audit, mail, webhooks
from parcours.service.campaigns import DISPATCH_JOB, interview_event
from parcours.service.tokens import hash_token

log = logging.getLogger(__name__)
MAIL_JOB = "convocation_mail"
MAIL_CHUNK = 10
"""Messages per mail job: small, so that the runner's threads send in parallel with the batches."""
POLL = dt.timedelta(seconds=1)
"""How soon a dispatch job looks again at versions whose documents are still being made."""
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=10), dt.timedelta(hours=1), dt.timedelta(hours=6))
"""When a refused message is tried again; after the last, it stays failed (shown on the interview)."""
ACK_PAGE = "/convocation/"
DURATION = dt.timedelta(minutes=60)


# --- dispatch: documents ready -> message rows and mail jobs --------------------------------------------

@handler(DISPATCH_JOB)
def dispatch(services: Services, job: Job) -> None:
    """For each pending version: failed documents leave the interview « à planifier »; ready ones get their messages."""
    with services.db.session() as session:
        # Polled every second while the batches run: only the versions whose documents are finished are loaded.
        letter, guide = aliased(BatchItem), aliased(BatchItem)
        pending = set(session.scalars(select(Convocation.id).where(Convocation.id.in_(job.payload["convocations"]),
                                                                   Convocation.status == "pending")))
        finished = list(session.scalars(
            select(Convocation.id).outerjoin(letter, letter.id == Convocation.batch_item_id)
            .outerjoin(guide, guide.id == Convocation.trame_item_id)
            .where(Convocation.id.in_(pending), or_(letter.id.is_(None), letter.status != "pending"),
                   or_(guide.id.is_(None), guide.status != "pending")))) if pending else []
        rows = session.execute(select(Convocation, Interview).join(Interview, Interview.id == Convocation.interview_id)
                               .where(Convocation.id.in_(finished))).all() if finished else []
        item_ids = [i for c, _ in rows for i in (c.batch_item_id, c.trame_item_id) if i is not None]
        items = {item.id: item for item in session.scalars(select(BatchItem).where(BatchItem.id.in_(item_ids)))} \
            if item_ids else {}
        emails = dict(session.execute(select(Employee.matricule, Employee.email).where(
            Employee.matricule.in_({i.matricule for _, i in rows}))).all()) if rows else {}
        waiting, messages = sorted(pending - set(finished)), []
        for convocation, interview in rows:
            mine = [items[i] for i in (convocation.batch_item_id, convocation.trame_item_id) if i in items]
            failed = [item for item in mine if item.status in ("failed", "cancelled")]
            if failed:
                convocation.status, convocation.error = "failed", failed[0].error or "lot annulé"
                interview.status, interview.reason = "to_plan", f"convocation impossible : {convocation.error}"
                audit.record(session, "convocation.failed", subject_type="interview", subject_id=interview.id,
                             actor="system", data={"version": convocation.version, "error": convocation.error})
                continue
            if any(item.status != "done" for item in mine):
                waiting.append(convocation.id)
                continue
            if convocation.batch_item_id in items:
                convocation.document_id = items[convocation.batch_item_id].document_id
            if convocation.trame_item_id in items:
                convocation.trame_document_id = items[convocation.trame_item_id].document_id
            address = (emails.get(interview.matricule) or "").strip()
            if not address and convocation.method == "REQUEST":
                convocation.status = "paper"
                interview.reason = "pas d'adresse e-mail : convocation à remettre en main propre (courrier à imprimer)"
                continue
            convocation.status = "sending"
            recipients = [("salarie", address)] if address else []
            if interview.interviewer_email:
                recipients.append(("interlocuteur", interview.interviewer_email))
            for role, to in recipients:
                message = ConvocationMessage(convocation_id=convocation.id, role=role, to=to, status="pending",
                                             attempts=0, message_id=message_id(services, convocation, role))
                session.add(message)
                messages.append(message)
        session.flush()
        ids = [m.id for m in messages]
        for first in range(0, len(ids), MAIL_CHUNK):
            enqueue(session, MAIL_JOB, {"messages": ids[first:first + MAIL_CHUNK]})
        if waiting:
            enqueue(session, DISPATCH_JOB, {"convocations": waiting}, run_at=utcnow() + POLL)
        complete(session, job)  # in this transaction: a second run of this job finds nothing pending
        session.commit()
    if (ids or waiting) and services.jobs is not None:
        services.jobs.wake()


def message_id(services: Services, convocation: Convocation, role: str) -> str:
    """The same for every sending of one version to one person."""
    _, address = email.utils.parseaddr(services.settings.mail_from)
    domain = address.partition("@")[2] or "parcours.local"
    return f"<convocation-{convocation.interview_id}-v{convocation.version}-{role}@{domain}>"


# --- sending -------------------------------------------------------------------------------------------

@handler(MAIL_JOB)
def send_messages(services: Services, job: Job) -> None:
    for message_id_ in job.payload["messages"]:
        send_one(services, message_id_)


def send_one(services: Services, message_row_id: int) -> bool:
    """Send one message unless it was sent already; record the result."""
    settings = services.settings
    with services.db.session() as session:
        message = session.get(ConvocationMessage, message_row_id)
        if message is None or message.status == "sent":
            return False
        convocation = session.get(Convocation, message.convocation_id)
        if convocation.status == "superseded":
            session.execute(update(ConvocationMessage).where(ConvocationMessage.id == message.id)
                            .values(status="superseded"))
            session.commit()
            return False
        interview = session.get(Interview, convocation.interview_id)
        employee = session.get(Employee, interview.matricule)
        link = None
        if message.role == "salarie" and convocation.method == "REQUEST":
            token = secrets.token_urlsafe(32)
            session.add(AcknowledgementLink(token_hash=hash_token(token), convocation_id=convocation.id))
            link = settings.public_url.rstrip("/") + ACK_PAGE + token
        subject, text, html = content(settings, interview, employee, convocation, message.role, link)
        attachments = [mail.Attachment("invitation.ics", invitation(settings, interview, employee, convocation),
                                       f"text/calendar; method={convocation.method}")]
        if message.role == "salarie" and convocation.method == "REQUEST":
            attachments[:0] = [mail.Attachment(f"convocation-{employee.matricule}.pdf",
                                               _pdf(services, session, convocation.document_id)),
                               mail.Attachment(f"trame-{employee.matricule}.pdf",
                                               _pdf(services, session, convocation.trame_document_id))]
        to, stable = message.to, message.message_id
        session.commit()  # the link exists before the message that carries it
    try:
        mail.send(settings, to, subject, text, html=html, attachments=attachments, message_id=stable)
    except mail.MailError as exc:
        _refused(services, message_row_id, str(exc))
        return False
    _sent(services, message_row_id)
    return True


def _pdf(services: Services, session: Session, document_id: int | None) -> bytes:
    sha = session.scalar(select(DocumentVersion.pdf_sha256).where(DocumentVersion.document_id == document_id)
                         .order_by(DocumentVersion.number.desc()).limit(1))
    if sha is None:
        raise RuntimeError(f"document {document_id} has no PDF")
    return services.blobs.get(sha)


def _sent(services: Services, message_row_id: int) -> None:
    with services.db.session() as session:
        now = utcnow()
        changed = session.execute(update(ConvocationMessage).where(
            ConvocationMessage.id == message_row_id, ConvocationMessage.status != "sent").values(
            status="sent", sent_at=now, error=None, attempts=ConvocationMessage.attempts + 1)).rowcount
        if not changed:
            return
        message = session.get(ConvocationMessage, message_row_id)
        convocation = session.get(Convocation, message.convocation_id)
        interview = session.get(Interview, convocation.interview_id)
        audit.record(session, "email.sent", subject_type="interview", subject_id=interview.id, actor="system",
                     data={"version": convocation.version, "method": convocation.method, "role": message.role,
                           "to": message.to, "message_id": message.message_id})
        if message.role == "salarie" or interview.status == "cancelled" or convocation.method == "CANCEL":
            if convocation.sent_at is None:
                convocation.sent_at = now
                if convocation.status == "sending":
                    convocation.status = "sent"
                if convocation.method == "REQUEST" and interview.status == "to_plan":
                    # « reporté » only if an earlier version had reached the employee.
                    earlier = session.scalar(select(Convocation.id).where(
                        Convocation.interview_id == interview.id, Convocation.version < convocation.version,
                        Convocation.sent_at.is_not(None)).limit(1))
                    interview.status, interview.reason = ("rescheduled" if earlier else "convoked"), None
                audit.record(session, "convocation.sent", subject_type="interview", subject_id=interview.id,
                             actor="system", data={"version": convocation.version, "method": convocation.method})
                webhooks.emit(session, "convocation.sent", {**interview_event(interview),
                                                            "version": convocation.version,
                                                            "method": convocation.method})
        session.commit()


def _refused(services: Services, message_row_id: int, error: str) -> None:
    log.warning("convocation message %s: %s", message_row_id, error)
    with services.db.session() as session:
        message = session.get(ConvocationMessage, message_row_id)
        if message is None or message.status == "sent":
            return
        message.status, message.error, message.attempts = "failed", error[:1000], message.attempts + 1
        convocation = session.get(Convocation, message.convocation_id)
        interview = session.get(Interview, convocation.interview_id)
        retry = message.attempts <= len(RETRY_DELAYS)
        audit.record(session, "email.failed", subject_type="interview", subject_id=interview.id, actor="system",
                     data={"version": convocation.version, "role": message.role, "to": message.to,
                           "error": error[:500], "retry": retry})
        webhooks.emit(session, "convocation.bounced", {**interview_event(interview), "version": convocation.version,
                                                        "role": message.role, "attempts": message.attempts})
        if retry:
            enqueue(session, MAIL_JOB, {"messages": [message.id]},
                    run_at=utcnow() + RETRY_DELAYS[message.attempts - 1])
        session.commit()


# --- what the messages say -------------------------------------------------------------------------------

def _where(convocation: Convocation) -> str:
    if convocation.lien_visio and not convocation.lieu:
        return f"en visioconférence ({convocation.lien_visio})"
    return convocation.lieu or "au lieu indiqué dans la convocation"


def content(settings: Any, interview: Interview, employee: Employee, convocation: Convocation, role: str,
            link: str | None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in French."""
    when = f"le {formatting.date_longue(convocation.date)} à {formatting.heure(convocation.heure)}"
    kind = INTERVIEW_LABELS.get(interview.type, "entretien").lower()
    person = f"{employee.prenom} {employee.nom}"
    madam = employee.civilite.lower().startswith("mme")
    if role == "salarie":
        greeting = f"Bonjour {'Madame' if madam else 'Monsieur'} {employee.nom},"
        if convocation.method == "CANCEL":
            subject = f"Annulé : votre entretien de parcours professionnel du {formatting.date(convocation.date)}"
            lines = [f"Votre entretien de parcours professionnel prévu {when} est annulé.",
                     "Une nouvelle date vous sera proposée si l'entretien reste dû. L'invitation jointe retire le "
                     "rendez-vous de votre agenda."]
        else:
            moved = convocation.version > 1
            subject = (f"Nouvelle date : votre entretien de parcours professionnel {when}" if moved
                       else f"Convocation à votre entretien de parcours professionnel {when}")
            lines = [(f"Votre entretien de parcours professionnel ({kind}) est déplacé : il aura lieu {when}, "
                      if moved else f"Vous êtes {'convoquée' if madam else 'convoqué'} à votre entretien de parcours "
                      f"professionnel ({kind}) {when}, ") + f"{_where(convocation)}, avec {interview.interviewer_name}.",
                     "Vous trouverez ci-joints votre convocation, la trame de préparation de l'entretien et une "
                     "invitation à ajouter à votre agenda.",
                     "Cet entretien n'est pas une évaluation de votre travail : il porte sur vos perspectives "
                     "d'évolution professionnelle (article L. 6315-1 du code du travail)."]
    else:
        greeting = "Bonjour,"
        if convocation.method == "CANCEL":
            subject = f"Annulé : entretien de parcours professionnel de {person} du {formatting.date(convocation.date)}"
            lines = [f"L'entretien de parcours professionnel de {person} prévu {when} est annulé."]
        else:
            subject = f"Entretien de parcours professionnel de {person} {when}"
            lines = [f"Vous menez l'entretien de parcours professionnel ({kind}) de {person} {when}, "
                     f"{_where(convocation)}. L'invitation jointe l'ajoute à votre agenda."]
    text = "\n\n".join([greeting, *lines])
    html = "".join(f"<p>{escape(line)}</p>" for line in [greeting, *lines])
    if link:
        text += ("\n\nPour confirmer que vous avez bien reçu cette convocation, ouvrez ce lien personnel "
                 f"(ne le transmettez à personne) :\n{link}")
        html += (f'<p><a href="{escape(link)}">J\'ai bien reçu ma convocation</a></p>'
                 "<p>Ce lien vous est personnel : ne le transmettez à personne.</p>")
    signature = f"{settings.organisation}, service des ressources humaines"
    return subject, f"{text}\n\n{signature}\n", f"<html lang=\"fr\"><body>{html}<p>{escape(signature)}</p></body></html>"


def invitation(settings: Any, interview: Interview, employee: Employee, convocation: Convocation) -> bytes:
    """RFC 5545: one event per interview (its UID), SEQUENCE the version's rank, REQUEST or CANCEL, in the
    employer's time zone with its VTIMEZONE."""
    zone = ZoneInfo(settings.timezone)
    start = dt.datetime.combine(convocation.date, convocation.heure, tzinfo=zone)
    _, sender = email.utils.parseaddr(settings.mail_from)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Parcours//Entretiens de parcours professionnel//FR")
    calendar.add("version", "2.0")
    calendar.add("method", convocation.method)
    event = icalendar.Event()
    event.add("uid", f"entretien-{interview.id}@{sender.partition('@')[2] or 'parcours.local'}")
    event.add("sequence", convocation.version - 1)
    event.add("dtstamp", utcnow())
    event.add("dtstart", start)
    event.add("dtend", start + DURATION)
    event.add("summary", f"Entretien de parcours professionnel – {employee.prenom} {employee.nom}")
    event.add("status", "CANCELLED" if convocation.method == "CANCEL" else "CONFIRMED")
    if convocation.lieu:
        event.add("location", convocation.lieu)
    elif convocation.lien_visio:
        event.add("location", convocation.lien_visio)
    if convocation.lien_visio:
        event.add("url", convocation.lien_visio)
    organizer = icalendar.vCalAddress(f"mailto:{sender or 'parcours@localhost'}")
    organizer.params["cn"] = icalendar.vText(settings.organisation)
    event.add("organizer", organizer)
    for name, address, role in ((interview.interviewer_name, interview.interviewer_email, "CHAIR"),
                                (f"{employee.prenom} {employee.nom}", employee.email, "REQ-PARTICIPANT")):
        if address:
            attendee = icalendar.vCalAddress(f"mailto:{address}")
            attendee.params["cn"] = icalendar.vText(name or address)
            attendee.params["role"] = icalendar.vText(role)
            attendee.params["partstat"] = icalendar.vText("NEEDS-ACTION")
            event.add("attendee", attendee)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


# --- acknowledgement ---------------------------------------------------------------------------------------

def _by_link(session: Session, token: str) -> tuple[Convocation, Interview, Employee]:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound("Lien inconnu", "Ce lien de convocation n'existe pas.")
    link = session.get(AcknowledgementLink, hash_token(token))
    if link is None:
        raise NotFound("Lien inconnu", "Ce lien de convocation n'existe pas.")
    convocation = session.get(Convocation, link.convocation_id)
    interview = session.get(Interview, convocation.interview_id)
    return convocation, interview, session.get(Employee, interview.matricule)


def describe(convocation: Convocation, interview: Interview, employee: Employee) -> dict[str, Any]:
    return {"name": f"{employee.prenom} {employee.nom}", "date": formatting.date_longue(convocation.date),
            "heure": formatting.heure(convocation.heure), "where": _where(convocation),
            "interviewer": interview.interviewer_name, "acknowledged_at": convocation.acknowledged_at}


def acknowledgement(services: Services, token: str) -> dict[str, Any]:
    """What the acknowledgement page shows; 410 when a newer version or a cancellation replaced it."""
    with services.db.session() as session:
        convocation, interview, employee = _by_link(session, token)
        _current(session, convocation, interview)
        return describe(convocation, interview, employee)


def _current(session: Session, convocation: Convocation, interview: Interview) -> None:
    newer = session.scalar(select(Convocation.method).where(Convocation.interview_id == interview.id,
                                                             Convocation.version > convocation.version)
                           .order_by(Convocation.version.desc()).limit(1))
    if interview.status == "cancelled" or newer == "CANCEL":
        raise Gone("Entretien annulé", "Cet entretien a été annulé : il n'y a rien à confirmer.")
    if newer is not None:
        raise Gone("Convocation remplacée", "Cet entretien a été déplacé : une nouvelle convocation vous a été "
                   "envoyée ; confirmez sa réception avec le lien qu'elle contient.")


def acknowledge(services: Services, token: str, *, ip: str | None, user_agent: str | None) -> dict[str, Any]:
    """« J'ai bien reçu ma convocation »: recorded once, with time, IP address and browser, as an audit event."""
    with services.db.session() as session:
        convocation, interview, employee = _by_link(session, token)
        session.refresh(interview, with_for_update=True)
        _current(session, convocation, interview)
        if convocation.acknowledged_at is None:
            convocation.acknowledged_at = utcnow()
            convocation.acknowledged_ip, convocation.acknowledged_user_agent = ip, (user_agent or "")[:500] or None
            if interview.status in ("convoked", "rescheduled", "to_plan"):
                interview.status, interview.reason = "acknowledged", None
            audit.record(session, "convocation.acknowledged", subject_type="interview", subject_id=interview.id,
                         actor=f"{employee.prenom} {employee.nom} (lien de convocation)", ip=ip, user_agent=user_agent,
                         data={"version": convocation.version, "matricule": employee.matricule})
            webhooks.emit(session, "convocation.acknowledged", {**interview_event(interview),
                                                                "version": convocation.version})
            session.commit()
        return describe(convocation, interview, employee)


# --- paper -------------------------------------------------------------------------------------------------

def paper_letters(services: Services, session: Session, interview_ids: Sequence[int]) -> bytes | None:
    """One PDF to print: each employee's convocation then trame (each numbered as its own letter)."""
    writer = PdfWriter()
    rows = session.scalars(select(Convocation).where(Convocation.interview_id.in_(interview_ids),
                                                     Convocation.status == "paper")
                           .order_by(Convocation.interview_id, Convocation.version)).all()
    latest = {c.interview_id: c for c in rows}
    for convocation in latest.values():
        for document_id in (convocation.document_id, convocation.trame_document_id):
            if document_id is not None:
                writer.append(PdfReader(io.BytesIO(_pdf(services, session, document_id))))
    if not latest:
        return None
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
