"""E-mail to signers: through SMTP (setting `smtp_url`), or, without it (the demo), as .eml files in
<instance>/outbox with their links written to the log."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from docgen import formatting
from parcours.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT = 15
_LINK = re.compile(r"https?://\S+")


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class Attachment:
    """A file joined to a message: a PDF, or an iCalendar invitation (content type "text/calendar; method=REQUEST")."""
    filename: str
    content: bytes
    content_type: str = "application/pdf"


def sender(settings: Settings) -> str:
    """The From: the organisation's name before the address of `mail_from` (an employee must recognise his employer)."""
    _, address = email.utils.parseaddr(settings.mail_from)
    return str(Address(display_name=settings.organisation, addr_spec=address or "parcours@localhost"))


def build(settings: Settings, to: str, subject: str, body: str, *, html: str | None = None,
          attachments: Sequence[Attachment] = (), message_id: str | None = None) -> EmailMessage:
    """A French message, plain text with an optional HTML alternative and attachments. A caller that may send
    it again after a crash passes a stable `message_id`, so that a duplicate can be recognised."""
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="parcours.local")
    message.set_content(body)
    message["Content-Language"] = "fr"  # after set_content, which clears the Content-* headers
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *parameters = [part.strip() for part in rest.split(";")]
        params = dict(parameter.split("=", 1) for parameter in parameters if "=" in parameter)
        if maintype == "text":
            message.add_attachment(attachment.content.decode("utf-8"), subtype=subtype, filename=attachment.filename,
                                   params=params)
        else:
            message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                                   filename=attachment.filename, params=params)
    return message


def send(settings: Settings, to: str, subject: str, body: str, *, html: str | None = None,
         attachments: Sequence[Attachment] = (), message_id: str | None = None) -> str:
    """Send (or write to the outbox); the Message-ID."""
    message = build(settings, to, subject, body, html=html, attachments=attachments, message_id=message_id)
    if not settings.smtp_url:
        outbox = settings.instance_dir / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        log.warning("no SMTP server (PARCOURS_SMTP_URL): e-mail to %s written to %s; links: %s",
                    to, path, " ".join(_LINK.findall(body)) or "none")
        return message["Message-ID"]
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise MailError(f"PARCOURS_SMTP_URL must look like smtp://host:port, not {settings.smtp_url!r}")
    try:
        if url.scheme == "smtps":
            client = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=TIMEOUT,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(url.hostname, url.port or 25, timeout=TIMEOUT)
        with client:
            if url.scheme == "smtp" and url.username and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the e-mail to {to} could not be sent: {exc}") from exc
    return message["Message-ID"]


def _date(moment: dt.datetime, timezone: str) -> str:
    """« 5 janvier 2027 à 18 h 05 », in the employer's time zone: a letter's typography, not a table's."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{formatting.date(local.date())} à {formatting.heure(local.time())}"


def signature_link(*, name: str, role: str, document: str, link: str, expires_at: dt.datetime,
                   timezone: str) -> tuple[str, str]:
    """(subject, body) of the invitation to sign."""
    subject = f"À signer : {document}"
    if role == "salarie":
        note = ("Votre signature atteste que vous avez reçu une copie de ce compte rendu ; elle ne vaut pas "
                "accord sur son contenu. Vous pouvez y ajouter vos commentaires avant de signer, ou refuser "
                "de signer en indiquant pourquoi.")
    else:
        note = ("Votre signature atteste que ce compte rendu reflète l'entretien ; le salarié recevra ensuite "
                "le lien pour signer à son tour, et sa signature attestera qu'il en a reçu une copie.")
    body = (f"Bonjour {name},\n\n"
            f"Le document « {document} » attend votre signature électronique.\n\n"
            f"Pour le lire et le signer, ouvrez ce lien personnel (ne le transmettez à personne) :\n{link}\n\n"
            f"Ce lien est valable jusqu'au {_date(expires_at, timezone)} et ne sert qu'une fois.\n\n"
            f"{note}\n\n"
            "Ce message est envoyé automatiquement par Parcours.\n")
    return subject, body


def one_time_code(*, name: str, document: str, code: str, minutes: int) -> tuple[str, str]:
    subject = f"Votre code de signature : {code}"
    body = (f"Bonjour {name},\n\n"
            f"Voici le code à saisir pour signer « {document} » : {code}\n\n"
            f"Il est valable {minutes} minutes. Si vous n'avez pas demandé ce code, ignorez ce message.\n")
    return subject, body


def copy_delivered(*, recipient_role: str, recipient_name: str, document: str, refused: bool, refused_by: str | None,
                   reason: str | None, delivered_on: dt.date, link: str | None, expires_at: dt.datetime,
                   timezone: str, organisation: str) -> tuple[str, str]:
    """(subject, body) of the message that carries the final version (attached): the employee's copy, with his
    download link, or the interviewer's and HR's; after a refusal, the version that bears the mention."""
    day = formatting.date(delivered_on)
    if refused:
        who = "le responsable de l'entretien" if refused_by == "manager" else "le salarié"
        motif = f"« {reason} »" if reason else "non indiqué"
        if recipient_role == "salarie":
            subject = f"Votre exemplaire : {document}"
            what = (f"Le refus de signer le document « {document} » est consigné sur le document lui-même : la "
                    f"version jointe porte la mention du refus et son motif ({motif}). Ce refus ne constitue pas une "
                    f"faute. Cette version, horodatée, vous est remise ce jour, le {day}.")
        else:
            subject = f"Refus de signature : {document}"
            what = (f"Le {day}, {who} a refusé de signer le document « {document} ». Motif : {motif}.\n\n"
                    "La version jointe porte la mention du refus ; elle est horodatée et conservée. "
                    "Le salarié en a reçu une copie.")
    elif recipient_role == "salarie":
        subject = f"Votre exemplaire signé : {document}"
        what = (f"Toutes les signatures du document « {document} » sont recueillies. Votre exemplaire signé et "
                f"horodaté est joint à ce message ; il vous est remis ce jour, le {day}. Conservez-le : il fait "
                "partie de votre parcours professionnel (article L.\u00a06315-1 du code du travail).")
    else:
        subject = f"Signé par tous : {document}"
        what = (f"Toutes les signatures du document « {document} » sont recueillies. Le document signé et horodaté "
                f"est joint à ce message ; le salarié en a reçu son exemplaire le {day}, par e-mail.")
    body = f"Bonjour {recipient_name},\n\n{what}\n\n"
    if link:
        until = formatting.date(expires_at.astimezone(ZoneInfo(timezone)).date())
        body += (f"Vous pouvez aussi le télécharger jusqu'au {until} avec ce lien personnel (ne le transmettez "
                 f"à personne) :\n{link}\n\n")
    body += f"Ce message vous est envoyé par {organisation}, au moyen de Parcours.\n"
    return subject, body


def account_link(*, name: str, purpose: str, link: str, expires_at: dt.datetime, timezone: str,
                 organisation: str) -> tuple[str, str]:
    """(subject, body) of an invitation to choose a first password, or of a password reset."""
    if purpose == "invitation":
        subject = f"Votre accès à Parcours ({organisation})"
        what = (f"Un compte Parcours a été ouvert pour vous par {organisation}. Pour choisir votre mot de passe "
                "et vous connecter, ouvrez ce lien personnel")
    else:
        subject = "Réinitialisation de votre mot de passe Parcours"
        what = "Vous avez demandé à changer votre mot de passe Parcours. Pour en choisir un nouveau, ouvrez ce lien"
    body = (f"Bonjour {name},\n\n{what} (ne le transmettez à personne) :\n{link}\n\n"
            f"Ce lien est valable jusqu'au {_date(expires_at, timezone)} et ne sert qu'une fois.\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien ne change.\n\n"
            "Ce message est envoyé automatiquement par Parcours.\n")
    return subject, body


def outbox(settings: Settings) -> Path:
    return settings.instance_dir / "outbox"
