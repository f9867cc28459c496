"""E-mails sent by a `parcours worker`: a signature reminder, planned a week ahead in the jobs table (never
in the broker), is dispatched by a worker's sweep once due, runs on the worker and reaches a real SMTP
server (aiosmtpd on 127.0.0.1) once."""

from __future__ import annotations

import shutil
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from api_helpers import database
from cluster import Redis, free_port, worker
from parcours.models import Job, utcnow
from parcours.service import pki as instance_pki
from parcours.service.signatures import REMINDER_JOB
from parcours.settings import Settings
from signing_flow import fresh_app, real_compte_rendu, store_document, store_employees

pytestmark = pytest.mark.libreoffice


class Inbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


def test_a_due_reminder_is_swept_to_a_worker_and_mailed_once(tmp_path, pool):
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    redis = Redis(tmp_path / "redis")
    redis.start()
    running = None
    try:
        with database("postgresql", tmp_path) as url:
            common = {"database_url": url, "broker_url": redis.url, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
                      "pki_passphrase": "secret", "public_url": "https://parcours.example",
                      "blob_dir": tmp_path / "shared-blobs"}
            settings = Settings(instance_dir=tmp_path / "http" / "instance", **common)
            with fresh_app(settings) as app:
                instance_pki.init(settings)
                shutil.copytree(tmp_path / "http" / "instance" / "pki", tmp_path / "worker" / "instance" / "pki")
                running = worker("worker", tmp_path / "worker", {
                    f"PARCOURS_{name.upper()}": str(value) for name, value in common.items()} | {
                    "PARCOURS_JOB_SWEEP_SECONDS": "1"})
                running.start()
                store_employees(app)
                document_id = store_document(app, *real_compte_rendu(pool))
                services = app.extensions["parcours"]
                with services.db.session() as session:
                    from parcours.service.tokens import create_token

                    hr, _ = create_token(session, "hr", "test rappel")
                created = app.test_client().post(f"/api/v1/documents/{document_id}/signature-requests",
                                                 headers={"Authorization": f"Bearer {hr}"})
                assert created.status_code == 201, created.json
                assert len(inbox.messages) == 1, inbox.messages  # the first link, sent by the HTTP process itself
                with services.db.session() as session:
                    job = session.scalar(select(Job).where(Job.kind == REMINDER_JOB))
                    session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))  # a week later
                    job_id = job.id
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and len(inbox.messages) < 2:
                    time.sleep(0.2)
                while time.monotonic() < deadline:  # the mail goes out before the job is marked done
                    with services.db.session() as session:
                        done = session.get(Job, job_id)
                        state = (done.status, done.attempts, done.last_error)
                    if state[0] != "running":
                        break
                    time.sleep(0.1)
                assert len(inbox.messages) == 2, (state, len(inbox.messages), running.log.read_text()[-3000:])
                assert "Rappel" in inbox.messages[1]
                assert state[:2] == ("done", 1), state
                assert not (tmp_path / "worker" / "instance" / "outbox").exists()  # sent, not kept aside
    finally:
        if running is not None:
            running.stop()
        redis.stop()
        smtp.stop()
