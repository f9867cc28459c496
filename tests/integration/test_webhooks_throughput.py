"""Webhook deliveries by batches, against a real keep-alive receiver on 127.0.0.1.

Events written one per transaction (a job each) are claimed and delivered together, over a few
keep-alive connections, as many attempts in flight as the receiver's latency calls for. Speed itself
is measured by benchmarks/bench_webhooks.py, not here.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from parcours.app import create_app
from parcours.jobs.handlers import LANES as JOB_LANES
from parcours.jobs.runner import HANDLERS, JobRunner
from parcours.models import Job, WebhookMessage
from parcours.service import deliveries
from parcours.service import webhooks as service
from parcours.service.tokens import create_token
from parcours.settings import Settings
from webhooks.errors import VerificationError
from webhooks.signing import verify


class _QuietServer(ThreadingHTTPServer):
    """A client that closes its connection, on purpose here, is no error worth a traceback."""

    def handle_error(self, request, client_address):
        pass


class KeepAliveReceiver:
    """An HTTP/1.1 receiver (connections kept open, as production servers do, closed after
    `idle_timeout` if given) that checks every signature, answers 204 after `delay` seconds, and notes
    the connections and attempts in flight."""

    def __init__(self, delay: float = 0.0, idle_timeout: float | None = None) -> None:
        self.secret, self.delay = "", delay
        self.ids: list[str] = []
        self.connections: set[tuple[str, int]] = set()
        self.verified = True
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handle(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            timeout = idle_timeout

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify(body, headers, outer.secret)
                except VerificationError:
                    outer.verified = False
                with outer.lock:
                    outer.in_flight += 1
                    outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                    outer.connections.add(self.client_address)
                time.sleep(outer.delay)
                with outer.lock:
                    outer.in_flight -= 1
                    outer.ids.append(headers["webhook-id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/parcours"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_of():
    made = []

    def make(delay: float = 0.0, idle_timeout: float | None = None) -> KeepAliveReceiver:
        made.append(KeepAliveReceiver(delay, idle_timeout))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def app(tmp_path):
    """The service with its job runner off: each test starts a runner when the events are written."""
    application = create_app(Settings(instance_dir=tmp_path / "instance", run_jobs=False, workers=2,
                                      webhook_allowed_hosts="127.0.0.1"))
    yield application
    container = application.extensions["parcours"]
    if container.jobs is not None:
        container.jobs.stop()
        container.jobs = None
    container.close()


def subscribe(app, receiver: KeepAliveReceiver) -> None:
    client = app.test_client()
    with app.extensions["parcours"].db.session() as session:
        admin, _ = create_token(session, "admin", "test admin")
    created = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url},
                          headers={"Authorization": f"Bearer {admin}"})
    assert created.status_code == 201, created.json
    receiver.secret = created.json["secret"]


def emit_one_by_one(app, count: int) -> list[str]:
    sent = []
    for n in range(count):
        with app.extensions["parcours"].db.session() as session:
            sent += [m.public_id for m in service.emit(session, "document.generated", {"document_id": n})]
    return sent


def deliver_all(app, count: int, timeout: float = 20.0) -> None:
    """Start the job runner as the service does, and wait until `count` messages are delivered."""
    container = app.extensions["parcours"]
    container.jobs = JobRunner(container.db, container, container.workers, lanes=JOB_LANES, tick=0.05)
    container.jobs.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.db.session() as session:
            statuses = session.scalars(select(WebhookMessage.status)).all()
        if statuses.count("delivered") == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{statuses.count('delivered')} of {count} messages delivered after {timeout} s")


def test_events_written_one_by_one_are_delivered_by_a_few_batches(app, receiver_of, monkeypatch):
    receiver = receiver_of()
    subscribe(app, receiver)
    sent = emit_one_by_one(app, 60)
    calls = []
    monkeypatch.setitem(HANDLERS, service.KIND, lambda services, jobs: calls.append(len(jobs))
                        or deliveries.run_deliveries(services, jobs))
    deliver_all(app, 60)
    assert calls == [deliveries.BATCH_JOBS, 60 - deliveries.BATCH_JOBS]  # 60 jobs, two claims, two calls
    assert sorted(receiver.ids) == sorted(sent) and receiver.verified
    with app.extensions["parcours"].db.session() as session:
        assert {job.status for job in session.scalars(select(Job))} == {"done"}


def test_deliveries_to_a_receiver_go_over_a_few_keep_alive_connections(app, receiver_of):
    receiver = receiver_of()
    subscribe(app, receiver)
    emit_one_by_one(app, 40)
    deliver_all(app, 40)
    assert len(receiver.ids) == 40 and receiver.verified
    assert len(receiver.connections) <= service.POLICY.concurrency  # not one connection per message


def test_a_slow_receiver_gets_several_attempts_at_once_but_no_more_than_the_limit(app, receiver_of):
    receiver = receiver_of(delay=0.2)  # 200 ms an answer: one at a time would make 5 a second
    subscribe(app, receiver)
    emit_one_by_one(app, 24)
    deliver_all(app, 24)
    assert sorted(set(receiver.ids)) == sorted(receiver.ids) and len(receiver.ids) == 24
    assert 1 < receiver.most_in_flight <= service.POLICY.concurrency


def test_connections_the_receiver_closed_while_idle_are_not_a_failed_attempt(app, receiver_of):
    receiver = receiver_of(idle_timeout=0.05)  # the receiver closes a connection idle for 50 ms
    subscribe(app, receiver)
    emit_one_by_one(app, 6)
    deliver_all(app, 6)
    time.sleep(0.3)  # every kept connection is closed by now, on the receiver's side
    emit_one_by_one(app, 6)
    container = app.extensions["parcours"]
    container.jobs.wake()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # received, then recorded: results are written by groups (0.25 s)
        with container.db.session() as session:
            messages = session.scalars(select(WebhookMessage)).all()
        if len(receiver.ids) >= 12 and all(m.status != "pending" for m in messages):
            break
        time.sleep(0.05)
    assert {(m.status, m.attempts) for m in messages} == {("delivered", 1)} and len(messages) == 12
