"""Helpers for campaign tests and the campaign benchmark: a real SMTP server (aiosmtpd on 127.0.0.1) that keeps
what it accepts, the values of a campaign of the sample employees, and reading convocation e-mails back."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import socket
import threading
import time
from collections.abc import Callable

import icalendar
from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S+/convocation/[A-Za-z0-9_-]+")
VALUES = {"societe": {"nom": "Atelier Lumière", "adresse": "18 quai Saint-Vincent", "code_postal": "69001",
                      "ville": "Lyon", "effectif": 120},
          "courrier": {"signataire": {"nom": "Élodie Lefèvre-Dubois", "fonction": "Responsable RH"}}}
ON = "2026-11-26"
CAMPAIGN = {"name": "Entretiens 2027", "period": {"debut": "2027-01-04", "fin": "2027-03-31"}, "on": ON,
            "values": VALUES, "creneaux": {"debut": "2027-01-11", "heures": ["09:00", "10:30", "14:00", "15:30"],
                                          "lieu": "Salle Fourvière, 18 quai Saint-Vincent, 69001 Lyon"}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server accepted; `refuse(address)` makes it answer 550 for that recipient, `delay` slows it."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.refused: set[str] = set()
        self.delay = 0.0
        self.controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 Boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            time.sleep(self.delay)  # a slow server: the test's sending stays under way long enough
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def start(self) -> int:
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        return self.controller.port

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def wait(self, condition: Callable[[], bool], seconds: float = 240, what: str = "") -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {seconds} s for {what or condition}; {self.count()} messages")
            time.sleep(0.2)


def text(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def attachments(message: email.message.EmailMessage) -> dict[str, tuple[str, bytes]]:
    """{filename: (content type, bytes)}."""
    return {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()}


def invitation(message: email.message.EmailMessage) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(attachments(message)["invitation.ics"][1])


def event(calendar: icalendar.Calendar) -> icalendar.Event:
    [found] = calendar.walk("VEVENT")
    return found
