"""kill -9 while a campaign's e-mails go out (the real service in a subprocess, SQLite, aiosmtpd): after a restart
every convocation message has arrived, and any duplicate carries the same Message-ID (at least once)."""

from __future__ import annotations

import collections
import time

import pytest
from campaign_flow import CAMPAIGN, Inbox
from sqlalchemy import select
from test_server import Server

from docgen.dataset import load_dataset_dir
from parcours import resources
from parcours.db import Database
from parcours.models import ConvocationMessage
from parcours.service.employees import upsert_dataset
from parcours.service.tokens import create_token

pytestmark = pytest.mark.libreoffice


def test_a_campaign_killed_while_sending_delivers_every_message_after_a_restart(tmp_path):
    inbox = Inbox()
    inbox.delay = 0.25  # a slow SMTP server: the kill lands while messages go out
    port = inbox.start()
    server = Server(tmp_path / "instance", environment={"PARCOURS_SMTP_URL": f"smtp://127.0.0.1:{port}",
                                            "PARCOURS_MAIL_FROM": "rh@atelier-lumiere.example",
                                            "PARCOURS_ORGANISATION": "Atelier Lumière"})
    server.start()
    db = Database(f"sqlite:///{(server.instance / 'parcours.sqlite3').resolve()}")
    try:
        with db.session() as session:
            token, _ = create_token(session, "hr", "test serveur")
            upsert_dataset(session, load_dataset_dir(resources.SAMPLES).dataset)
        status, created = server.json("POST", "/campaigns", token, CAMPAIGN)
        assert status == 201, created
        inbox.wait(lambda: inbox.count() >= 6, seconds=180, what="the first messages")
        server.kill()
        at_kill = inbox.count()
        server.start()
        started = time.perf_counter()

        def all_sent() -> bool:
            with db.session() as session:
                statuses = list(session.scalars(select(ConvocationMessage.status)))
            return bool(statuses) and all(s == "sent" for s in statuses)

        inbox.wait(all_sent, seconds=240, what="every message recorded as sent")
        with db.session() as session:
            expected = {(m.message_id, m.to) for m in session.scalars(select(ConvocationMessage))}
        received = collections.Counter((m["Message-ID"], m["To"]) for m in inbox.messages)
        assert set(received) == expected  # every message arrived, none other
        duplicates = sum(n - 1 for n in received.values())
        print(f"\nkilled after {at_kill} of {len(expected)} messages; all sent {time.perf_counter() - started:.1f} s "
              f"after the restart; {duplicates} duplicate(s), each with its original Message-ID")
        assert duplicates <= 8  # at most the messages in flight when killed (one per mail job running)
    finally:
        server.kill()
        db.dispose()
        inbox.stop()
