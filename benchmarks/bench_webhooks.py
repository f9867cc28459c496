"""Webhook dispatcher speed: 2000 deliveries to a local receiver, and the API's latency meanwhile.

The service runs as it does by default (HTTP under waitress and the job runner in one process, SQLite
in a temporary instance folder, or --database-url); the receiver is another process on 127.0.0.1
that answers 204 and checks one signature in 50. Events are written to the outbox 100 per transaction;
the clock runs from the first write to the last delivery recorded. Meanwhile a client asks for one
endpoint over HTTP again and again; its latency is compared with the same requests on an idle service.

    .venv/bin/python benchmarks/bench_webhooks.py [--deliveries 2000] [--per-transaction 100 1] [--workers N]
                                                  [--database-url URL]

Events written in one transaction share a delivery job per endpoint (up to 100); events written one
per transaction (a document generated through the API) make a job each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from parcours.app import create_app  # noqa: E402
from parcours.auth import create_token  # noqa: E402
from parcours.service import webhooks as service  # noqa: E402
from parcours.settings import Settings  # noqa: E402
from parcours.webhook_models import WebhookMessage  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def receive(port: int, secret_queue, counter) -> None:
    """The receiver process: 204 to everything; every 50th delivery's signature is checked."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from webhooks.signing import verify

    secret = secret_queue.get()

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with counter.get_lock():
                counter.value += 1
                n = counter.value
            if n % 50 == 0:
                verify(body, {k.lower(): v for k, v in self.headers.items()}, secret)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handle)
    server.daemon_threads = True
    server.request_queue_size = 512
    server.serve_forever()


def latencies(url: str, token: str, stop: threading.Event | None = None, count: int = 200) -> list[float]:
    """Milliseconds per GET, one after the other, `count` times or until `stop`."""
    found: list[float] = []
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    while (stop is None and len(found) < count) or (stop is not None and not stop.is_set()):
        start = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
        found.append((time.perf_counter() - start) * 1000)
        if stop is not None:
            time.sleep(0.01)  # a busy client, not a flood
    return found


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if len(ordered) >= 20 else ordered[-1]
    return f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms ({len(ordered)} requests)"


def run(container, deliveries: int, per_transaction: int, probe: str, token: str, counter) -> None:
    """Write `deliveries` events, `per_transaction` per transaction, and wait until all are delivered."""
    with container.db.session() as session:
        before = session.scalar(select(func.count()).select_from(WebhookMessage))
    stop = threading.Event()
    busy: list[float] = []
    client = threading.Thread(target=lambda: busy.extend(latencies(probe, token, stop)))
    client.start()
    received = counter.value
    start = time.perf_counter()
    for first in range(0, deliveries, per_transaction):
        with container.db.session() as session:
            for n in range(first, min(first + per_transaction, deliveries)):
                service.emit(session, "document.generated", {"document_id": n, "links": {
                    "document": f"/api/v1/documents/{n}"}})
        container.jobs.wake()
    written = time.perf_counter() - start
    with container.db.session() as session:
        delivered_when_written = session.scalar(select(func.count()).select_from(WebhookMessage)
                                                .where(WebhookMessage.status == "delivered")) - before
    while True:
        with container.db.session() as session:
            delivered = session.scalar(select(func.count()).select_from(WebhookMessage)
                                       .where(WebhookMessage.status == "delivered"))
        if delivered >= before + deliveries:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    stop.set()
    client.join()
    print(f"\n{per_transaction} event(s) per transaction: {deliveries} written in {written:.2f} s, delivered in "
          f"{elapsed:.2f} s: {deliveries / elapsed:.0f} deliveries/s (the receiver counted {counter.value - received})")
    backlog = deliveries - delivered_when_written
    if backlog > 0 and elapsed > written:
        # Writing one event per transaction may be the slower side: how fast the dispatcher drains
        # what is waiting once the writes are over is its own speed.
        print(f"backlog of {backlog} after the writes drained in {elapsed - written:.2f} s: "
              f"{backlog / (elapsed - written):.0f} deliveries/s")
    print(f"API latency while sending: {summary(busy)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="job threads (the service's default: one per core)")
    parser.add_argument("--per-transaction", type=int, nargs="+", default=[100, 1],
                        help="events written per transaction, one run each (default: 100, then 1)")
    parser.add_argument("--database-url", default="",
                        help="a database of its own (tables are created in it); SQLite in a temporary folder if empty")
    args = parser.parse_args()

    from waitress import create_server

    instance = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    app = create_app(Settings(instance_dir=instance, database_url=args.database_url, workers=args.workers,
                              webhook_allowed_hosts="127.0.0.1"))
    container = app.extensions["parcours"]
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/api/v1"

    receiver_port = free_port()
    secrets, counter = multiprocessing.Queue(), multiprocessing.Value("i", 0)
    receiver = multiprocessing.Process(target=receive, args=(receiver_port, secrets, counter), daemon=True)
    receiver.start()
    with container.db.session() as session:
        token, _ = create_token(session, "admin", "bench")
        endpoint, secret = service.create_endpoint(session, url=f"http://127.0.0.1:{receiver_port}/hook",
                                                   event_types=None, description="bench", created_by="bench")
        endpoint_id = endpoint.id
    secrets.put(secret)
    time.sleep(0.5)
    probe = f"{base}/webhooks/endpoints/{endpoint_id}"

    idle = latencies(probe, token)
    print(f"database: {container.db.engine.url.get_backend_name()}, job threads: {container.workers}, "
          f"cores: {os.cpu_count()}")
    print(f"API latency idle:          {summary(idle)}")
    for per_transaction in args.per_transaction:
        run(container, args.deliveries, per_transaction, probe, token, counter)
    receiver.terminate()
    server.close()
    container.close()


if __name__ == "__main__":
    main()
