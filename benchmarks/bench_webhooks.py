"""Webhook dispatcher speed: deliveries to a local receiver, and the API's latency meanwhile.

The service runs as it does by default (HTTP under waitress and the job runner in one process, SQLite
in a temporary instance folder, or --database-url: an empty database of its own); the receiver is
another process on 127.0.0.1 that answers 204 over keep-alive connections, as production servers do,
and checks one signature in 50. Events are written 100 per transaction (a campaign's events: they
share a delivery job per endpoint) and one per transaction (a document generated through the API, a
signature: a delivery job each), in three runs each:

- while writing: one thread writes the events as fast as it can while the dispatcher delivers them;
  the clock runs from the first write to the last delivery recorded;
- paced: the same at --pace events per second (200): does the dispatcher keep up, at what cost to
  the API;
- backlog drained: the events are written with the dispatcher stopped, then it starts; the clock runs
  from its start to the last delivery recorded (the dispatcher's own speed, whatever the writer's).

Meanwhile a client asks for one endpoint over HTTP every 10 ms; its latency is compared with the same
requests on an idle service. Each run is made twice (unless --no-baseline): with the dispatcher as it
is (due delivery jobs claimed and run by batches, attempts over keep-alive connections, several at a
time for a slow receiver, results written by groups), then, for the ratio, with each delivery job
claimed and run alone, one attempt at a time over a new connection, as before the batches.

    .venv/bin/python benchmarks/bench_webhooks.py [--deliveries 2000] [--per-transaction 100 1] [--pace 200]
                                                  [--workers N] [--database-url URL] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
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

from parcours import jobs  # noqa: E402
from parcours.app import create_app
from parcours.jobs.handlers import LANES as JOB_LANES  # noqa: E402
from parcours.service.tokens import create_token  # noqa: E402
from parcours.service import deliveries
from parcours.service import webhooks as service  # noqa: E402
from parcours.settings import Settings  # noqa: E402
from parcours.models import WebhookEndpoint, WebhookMessage  # noqa: E402


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
        protocol_version = "HTTP/1.1"  # keep-alive, as any production server
        disable_nagle_algorithm = True

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

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512  # the listen() backlog: set before the socket listens

    Server(("127.0.0.1", port), Handle).serve_forever()


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


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if len(ordered) >= 20 else ordered[-1]
    return statistics.median(ordered), p95


@contextlib.contextmanager
def one_job_at_a_time():
    """The dispatcher before the batches: each delivery job claimed and run alone (one claim for every
    free thread), one attempt at a time over a new connection, no pause between claims."""
    saved = (jobs.BATCHES.pop(service.KIND), jobs.HANDLERS[service.KIND], deliveries.CONNECTIONS, service.POLICY,
             jobs.IDLE_PAUSE)
    jobs.HANDLERS[service.KIND] = lambda services, job: deliveries.run_deliveries(services, [job])
    deliveries.CONNECTIONS, jobs.IDLE_PAUSE = None, 0.0
    service.POLICY = dataclasses.replace(service.POLICY, concurrency=1)
    try:
        yield
    finally:
        (jobs.BATCHES[service.KIND], jobs.HANDLERS[service.KIND], deliveries.CONNECTIONS, service.POLICY,
         jobs.IDLE_PAUSE) = saved


class Bench:
    def __init__(self, container, probe: str, token: str, counter, deliveries: int) -> None:
        self.container, self.probe, self.token, self.counter, self.deliveries = (
            container, probe, token, counter, deliveries)

    def start_dispatcher(self) -> None:
        container = self.container
        container.jobs = jobs.JobRunner(container.db, container, container.workers, lanes=JOB_LANES)
        container.jobs.start()

    def stop_dispatcher(self) -> None:
        if self.container.jobs is not None:
            self.container.jobs.stop()
            self.container.jobs = None

    def write(self, per_transaction: int, pace: float = 0.0) -> None:
        """The events, `per_transaction` per transaction, as fast as possible or `pace` per second."""
        container, start = self.container, time.perf_counter()
        for first in range(0, self.deliveries, per_transaction):
            if pace:
                time.sleep(max(0.0, start + first / pace - time.perf_counter()))
            with container.db.session() as session:
                for n in range(first, min(first + per_transaction, self.deliveries)):
                    service.emit(session, "document.generated", {"document_id": n, "links": {
                        "document": f"/api/v1/documents/{n}"}})
            if container.jobs is not None:
                container.jobs.wake()

    def delivered_since(self, first_id: int) -> int:
        with self.container.db.session() as session:
            return session.scalar(select(func.count()).select_from(WebhookMessage).where(
                WebhookMessage.id > first_id, WebhookMessage.status == "delivered"))

    def run(self, per_transaction: int, mode: str, pace: float) -> dict:
        """Write the events, while the dispatcher delivers them or before it starts; wait until all are
        delivered."""
        with self.container.db.session() as session:
            last_id = session.scalar(select(func.max(WebhookMessage.id))) or 0
        stop, busy = threading.Event(), []
        received = self.counter.value
        if mode == "backlog":
            start = time.perf_counter()
            self.write(per_transaction)
            written = time.perf_counter() - start
        client = threading.Thread(target=lambda: busy.extend(latencies(self.probe, self.token, stop)))
        client.start()
        start = time.perf_counter()
        self.start_dispatcher()
        if mode != "backlog":
            self.write(per_transaction, pace if mode == "paced" else 0.0)
            written = time.perf_counter() - start
        while self.delivered_since(last_id) < self.deliveries:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        lag = elapsed - written if mode != "backlog" else 0.0
        self.stop_dispatcher()
        stop.set()
        client.join()
        assert self.counter.value - received >= self.deliveries, "the receiver missed deliveries"
        return {"written": written, "elapsed": elapsed, "rate": self.deliveries / elapsed, "lag": lag,
                "latency": quantiles(busy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="events per run")
    parser.add_argument("--workers", type=int, default=0, help="job threads (the service's default: one per core)")
    parser.add_argument("--per-transaction", type=int, nargs="+", default=[100, 1],
                        help="events written per transaction (default: 100, then 1)")
    parser.add_argument("--database-url", default="",
                        help="an empty database of its own (tables are created in it); SQLite in a temporary folder if empty")
    parser.add_argument("--pace", type=float, default=200.0,
                        help="events per second written in the paced run (0: no paced run)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the runs with each delivery job run alone (the ratios)")
    args = parser.parse_args()

    from waitress import create_server

    instance = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    app = create_app(Settings(instance_dir=instance, database_url=args.database_url, workers=args.workers,
                              run_jobs=False, webhook_allowed_hosts="127.0.0.1"))
    container = app.extensions["parcours"]
    with container.db.session() as session:
        if session.scalar(select(func.count()).select_from(WebhookEndpoint)):
            sys.exit("the database already has webhook endpoints: give the benchmark an empty database of its own")
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

    idle = quantiles(latencies(probe, token))
    print(f"database: {container.db.engine.url.get_backend_name()}, job threads: {container.workers} "
          f"(+{JOB_LANES[service.KIND]} for deliveries), cores: {os.cpu_count()}, {args.deliveries} events per run")
    print(f"API latency idle: median {idle[0]:.1f} ms, p95 {idle[1]:.1f} ms\n")
    bench = Bench(container, probe, token, counter, args.deliveries)
    dispatchers = [("batched", contextlib.nullcontext)] + ([] if args.no_baseline else [("one job alone", one_job_at_a_time)])
    modes = [("while writing", "fast"), *([(f"paced {args.pace:g}/s", "paced")] if args.pace else []),
             ("backlog drained", "backlog")]
    print(f"{'events/txn':>10}  {'run':<15}  {'dispatcher':<13}  {'written/s':>9}  {'delivered/s':>11}  "
          f"{'last, after writes':>18}  {'API median (x idle)':>19}  {'API p95':>8}")
    for per_transaction in args.per_transaction:
        for label, mode in modes:
            results = {}
            for name, dispatcher in dispatchers:
                with dispatcher():
                    found = results[name] = bench.run(per_transaction, mode, args.pace)
                median, p95 = found["latency"]
                after = f"{found['lag']:.2f} s" if mode != "backlog" else "-"
                print(f"{per_transaction:>10}  {label:<15}  {name:<13}  {args.deliveries / found['written']:>9.0f}  "
                      f"{found['rate']:>11.0f}  {after:>18}  {f'{median:.1f} ms (x{median / idle[0]:.1f})':>19}  "
                      f"{p95:>5.1f} ms", flush=True)
            if len(results) == 2:
                ratio = results["batched"]["rate"] / results["one job alone"]["rate"]
                print(f"{'':>10}  {'':<15}  deliveries/s batched / one job alone: x{ratio:.1f}")
    receiver.terminate()
    server.close()
    container.close()


if __name__ == "__main__":
    main()
