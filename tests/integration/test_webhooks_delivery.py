"""Webhook deliveries end to end: the service's job runner posts to a real HTTP receiver on 127.0.0.1.

The receiver checks every delivery's signature with webhooks.signing.verify, as a customer's would.
The retry schedule and the timeout are shrunk so that the tests take seconds, not hours.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from api_helpers import lend_pool
from docgen.dataset import load_dataset_dir
from parcours import resources
from parcours.app import create_app
from parcours.models import TemplateVersion, WebhookAttempt, WebhookEndpoint, WebhookMessage
from parcours.service import documents as document_service
from parcours.service import webhooks as service
from parcours.service.employees import upsert_dataset
from parcours.service.tokens import create_token
from parcours.settings import Settings
from webhooks.errors import VerificationError
from webhooks.schedule import RetrySchedule
from webhooks.signing import verify

SAMPLES = resources.SAMPLES
CAMPAIGN = {k: v for k, v in json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8")).items()
            if k != "salaries"}


class Receiver:
    """An HTTP receiver on 127.0.0.1 in a thread. `script` gives (status, seconds to wait) per request in
    turn (then 204); every delivery is checked against `secrets`, each secret alone."""

    def __init__(self, script: list[tuple[int, float]] | None = None) -> None:
        self.script = list(script or [])
        self.secrets: list[str] = []
        self.deliveries: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                checked = {}
                for secret in outer.secrets:
                    try:
                        verify(body, headers, secret)
                        checked[secret] = True
                    except VerificationError:
                        checked[secret] = False
                with outer.lock:
                    status, wait = outer.script.pop(0) if outer.script else (204, 0.0)
                    outer.deliveries.append({"id": headers.get("webhook-id"), "headers": headers, "body": body,
                                             "verified": checked, "payload": json.loads(body), "status": status})
                time.sleep(wait)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/parcours"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.deliveries) >= count:
                return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.deliveries)} deliveries after {timeout} s, expected {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(script=None) -> Receiver:
        made.append(Receiver(script))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def fast(monkeypatch):
    """Seconds instead of hours: retries 0.2 s apart, a 1 s timeout."""
    policy = service.DeliveryPolicy(timeout=1.0, schedule=RetrySchedule((0, 0.2, 0.2, 0.2, 0.2), jitter=0))
    monkeypatch.setattr(service, "POLICY", policy)
    return policy


class Service:
    """create_app on an instance folder that outlives it (a restart is create_app again)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.apps = tmp_path, []
        self.database_url = f"sqlite:///{tmp_path / 'parcours.sqlite3'}"

    def start(self, run_jobs: bool = True, allowed: str = "127.0.0.1"):
        app = create_app(Settings(instance_dir=self.tmp_path / "instance", database_url=self.database_url,
                                  run_jobs=run_jobs, workers=2, webhook_allowed_hosts=allowed))
        container = app.extensions["parcours"]
        if container.jobs is not None:
            container.jobs.tick = 0.05  # due retries are picked up quickly
        self.apps.append(app)
        with container.db.session() as session:
            self.admin, _ = create_token(session, "admin", "test admin")
            self.hr, _ = create_token(session, "hr", "test hr")
        return app

    def stop(self, app) -> None:
        app.extensions["parcours"].close()
        self.apps.remove(app)

    def close(self) -> None:
        for app in list(self.apps):
            self.stop(app)


@pytest.fixture
def parcours(tmp_path):
    running = Service(tmp_path)
    yield running
    running.close()


def add_endpoint(app, token: str, url: str, **body) -> dict:
    response = app.test_client().post("/api/v1/webhooks/endpoints", json={"url": url, **body},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    return response.json


def emit(app, type: str = "batch.completed", data: dict | None = None) -> list[str]:
    container = app.extensions["parcours"]
    with container.db.session() as session:
        sent = [m.public_id for m in service.emit(session, type, data or {"batch_id": 1})]
    if container.jobs is not None:
        container.jobs.wake()
    return sent


def message(app, public_id: str) -> tuple[WebhookMessage, list[WebhookAttempt]]:
    with app.extensions["parcours"].db.session() as session:
        row = session.scalar(select(WebhookMessage).where(WebhookMessage.public_id == public_id))
        attempts = session.scalars(select(WebhookAttempt).where(WebhookAttempt.message_id == row.id)
                                   .order_by(WebhookAttempt.id)).all()
        return row, list(attempts)


def settled(app, public_id: str, timeout: float = 10.0) -> tuple[WebhookMessage, list[WebhookAttempt]]:
    """The message once it is delivered or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row, attempts = message(app, public_id)
        if row.status != "pending":
            return row, attempts
        time.sleep(0.05)
    raise AssertionError(f"message {public_id} still pending after {timeout} s")


@pytest.mark.libreoffice
def test_a_generated_document_is_delivered_signed(parcours, receivers, pool, fast):
    receiver = receivers()
    app = parcours.start()
    lend_pool(app, pool)
    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)
    receiver.secrets = [add_endpoint(app, parcours.admin, receiver.url, event_types=["document.generated"])["secret"]]
    made = app.test_client().post("/api/v1/documents", json={"template": "convocation", "matricule": "E0003",
                                                             "values": CAMPAIGN},
                                  headers={"Authorization": f"Bearer {parcours.hr}"})
    assert made.status_code == 201, made.json
    [delivery] = receiver.wait_for(1)
    assert all(delivery["verified"].values())
    assert delivery["payload"]["type"] == "document.generated"
    data = delivery["payload"]["data"]
    assert (data["document_id"], data["matricule"], data["template"]["name"]) == (made.json["id"], "E0003", "convocation")
    row, attempts = settled(app, delivery["id"])
    assert row.status == "delivered" and [a.status_code for a in attempts] == [204]


def test_a_receiver_failing_three_times_gets_the_message_at_the_fourth_attempt(parcours, receivers, fast):
    receiver = receivers([(500, 0), (503, 0), (502, 0)])
    app = parcours.start()
    receiver.secrets = [add_endpoint(app, parcours.admin, receiver.url)["secret"]]
    [public_id] = emit(app)
    deliveries = receiver.wait_for(4)
    assert [d["id"] for d in deliveries] == [public_id] * 4  # the same webhook-id: receivers deduplicate on it
    assert all(all(d["verified"].values()) for d in deliveries)
    assert len({d["body"] for d in deliveries}) == 1
    row, attempts = settled(app, public_id)
    assert (row.status, row.attempts) == ("delivered", 4)
    assert [a.status_code for a in attempts] == [500, 503, 502, 204]
    assert all(a.latency_ms >= 0 for a in attempts)


def test_a_receiver_hanging_past_the_timeout_is_cut_and_tried_again(parcours, receivers, fast):
    receiver = receivers([(200, 3.0)])  # answers after 3 s; the timeout is 1 s
    app = parcours.start()
    receiver.secrets = [add_endpoint(app, parcours.admin, receiver.url)["secret"]]
    [public_id] = emit(app)
    receiver.wait_for(2)
    row, attempts = settled(app, public_id)
    assert row.status == "delivered"
    assert (attempts[0].status_code, attempts[0].error) == (None, "délai dépassé")
    assert 900 <= attempts[0].latency_ms < 2500
    assert attempts[1].status_code == 204


def test_a_receiver_answering_410_gone_disables_its_endpoint(parcours, receivers, fast):
    receiver = receivers([(410, 0)])
    app = parcours.start()
    endpoint = add_endpoint(app, parcours.admin, receiver.url)
    [public_id] = emit(app)
    row, attempts = settled(app, public_id)
    assert (row.status, [a.status_code for a in attempts]) == ("failed", [410])
    with app.extensions["parcours"].db.session() as session:
        stored = session.get(WebhookEndpoint, endpoint["id"])
        assert not stored.enabled and "410" in stored.disabled_reason
    assert emit(app) == []  # a disabled endpoint gets nothing more
    time.sleep(0.5)
    assert len(receiver.deliveries) == 1


def test_a_message_failing_every_attempt_is_marked_failed(parcours, receivers, monkeypatch):
    monkeypatch.setattr(service, "POLICY", service.DeliveryPolicy(timeout=1, schedule=RetrySchedule((0, 0.1, 0.1), 0)))
    receiver = receivers([(500, 0)] * 10)
    app = parcours.start()
    add_endpoint(app, parcours.admin, receiver.url)
    [public_id] = emit(app)
    row, attempts = settled(app, public_id)
    assert (row.status, row.attempts, row.last_status) == ("failed", 3, 500)
    time.sleep(0.5)
    assert len(receiver.deliveries) == 3


def test_pending_deliveries_resume_after_a_restart(parcours, receivers, fast):
    receiver = receivers()
    first = parcours.start(run_jobs=False)  # written, never sent: the process "stops" here
    receiver.secrets = [add_endpoint(first, parcours.admin, receiver.url)["secret"]]
    sent = emit(first) + emit(first, "batch.failed", {"batch_id": 2}) + emit(first)
    parcours.stop(first)
    assert receiver.deliveries == []
    second = parcours.start()
    deliveries = receiver.wait_for(3)
    assert sorted(d["id"] for d in deliveries) == sorted(sent)
    assert all(settled(second, public_id)[0].status == "delivered" for public_id in sent)


def test_a_retry_scheduled_before_a_restart_is_made_after_it(parcours, receivers, monkeypatch):
    monkeypatch.setattr(service, "POLICY", service.DeliveryPolicy(timeout=1, schedule=RetrySchedule((0, 1.5), 0)))
    receiver = receivers([(503, 0)])
    first = parcours.start()
    add_endpoint(first, parcours.admin, receiver.url)
    [public_id] = emit(first)
    receiver.wait_for(1)
    time.sleep(0.2)
    parcours.stop(first)  # the second attempt is due in 1.5 s: a row with its run_at
    second = parcours.start()
    row, attempts = settled(second, public_id)
    assert row.status == "delivered" and [a.status_code for a in attempts] == [503, 204]


def test_during_a_rotation_deliveries_carry_both_signatures(parcours, receivers, fast):
    receiver = receivers()
    app = parcours.start()
    endpoint = add_endpoint(app, parcours.admin, receiver.url)
    old = endpoint["secret"]
    rotated = app.test_client().post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/rotate",
                                     headers={"Authorization": f"Bearer {parcours.admin}"}).json
    new = rotated["secret"]
    receiver.secrets = [old, new]
    emit(app)
    [delivery] = receiver.wait_for(1)
    assert len(delivery["headers"]["webhook-signature"].split(" ")) == 2
    assert delivery["verified"] == {old: True, new: True}


def test_an_address_no_longer_allowed_is_refused_at_delivery(parcours, receivers, fast):
    receiver = receivers()
    first = parcours.start()
    add_endpoint(first, parcours.admin, receiver.url)
    parcours.stop(first)
    app = parcours.start(allowed="")  # 127.0.0.1 is not allowed any more
    [public_id] = emit(app)
    row, attempts = settled(app, public_id)
    assert row.status == "failed" and receiver.deliveries == []
    assert all(a.status_code is None and "URL refusée" in a.error and "bouclage" in a.error for a in attempts)


def test_a_change_that_rolls_back_sends_nothing(parcours, receivers, fast):
    receiver = receivers()
    app = parcours.start()
    add_endpoint(app, parcours.admin, receiver.url)
    container = app.extensions["parcours"]
    with container.db.session() as session:
        version = session.scalar(select(TemplateVersion).limit(1))
    with pytest.raises(RuntimeError):
        with container.db.session() as session:
            document_service.store(session, container.blobs, version.id,
                                   document_service.NewVersion("E0003", b"%PDF-1.7", 1, {}), created_by="test")
            raise RuntimeError("the change fails after its event was written")
    container.jobs.wake()
    time.sleep(1.0)
    assert receiver.deliveries == []
    with container.db.session() as session:
        assert session.scalars(select(WebhookMessage)).all() == []
