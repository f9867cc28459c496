"""Batches through the service against the engine alone, in one invocation.

    .venv/bin/python benchmarks/bench_api_batch.py            # 1000 convocations
    .venv/bin/python benchmarks/bench_api_batch.py --docs 300 --rounds 3

Starts the real service (waitress, SQLite, its own instance folder) in a subprocess, imports N
synthetic employees, warms LibreOffice up with a small batch, then times a batch of N convocations
over HTTP from its POST to its `finished_at` (what the service records; a client polling every 0.2 s learns
it 0.1 s later on average, also printed): as shipped, then with the batches' Python part in the job
threads instead of worker processes (PARCOURS_BATCH_PROCESSES=false); then the engine alone (docgen's
BatchGenerator on the same contexts, chunk size and LibreOffice workers) in this process, with Python in
threads and in worker processes; the four alternated `--rounds` times. Prints documents per second for
each, their medians and the service's ratio to both engines (the target is at least 0.9).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_batch import synthetic_dataset  # noqa: E402
from docgen.batch import BatchGenerator, BatchItem, RenderProcesses  # noqa: E402
from docgen.convert import ConverterPool  # noqa: E402
from docgen.render import DocxRenderer  # noqa: E402
from docgen.values import load_values  # noqa: E402
from parcours.service.tokens import create_token  # noqa: E402
from parcours.db import Database  # noqa: E402
from parcours.service.employees import upsert_dataset  # noqa: E402
from parcours import resources  # noqa: E402

def serve(instance: Path, workers: int, log: Path, **settings: str) -> tuple[subprocess.Popen, str]:
    """The service as `parcours serve` on a free port (on SIGTERM it closes its LibreOffice workers, which a bare
    waitress left running), with PARCOURS_* settings of its own only; (process, API base URL) once it listens."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")},
           "PARCOURS_INSTANCE_DIR": str(instance), "PARCOURS_WORKERS": str(workers), **settings}
    process = subprocess.Popen([str(Path(sys.executable).with_name("parcours")), "serve", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def run_batch(base: str, token: str, matricules: list[str], values: dict) -> tuple[float, float, dict]:
    """(seconds from the POST to the batch's `finished_at`, seconds until a poll saw it finished, the batch).
    The first is the service's time, the second adds the client's polling (every 0.2 s, 0.1 s late on average)."""
    sent, started = time.time(), time.perf_counter()
    batch = call(f"{base}/batches", token, {"template": "convocation", "matricules": matricules, "values": values})
    while batch["status"] not in ("completed", "failed", "cancelled"):
        time.sleep(0.2)
        batch = call(f"{base}/batches/{batch['id']}", token)
    seen = time.perf_counter() - started
    return dt.datetime.fromisoformat(batch["finished_at"]).timestamp() - sent, seen, batch


def seeded_instance(prefix: str, count: int) -> tuple[Path, Path, Any, str, dict[str, Any]]:
    """A fresh instance folder whose SQLite database holds `count` synthetic employees and an hr token; with the
    sample campaign's common values (its employees removed)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    instance = folder / "instance"
    instance.mkdir()
    dataset = synthetic_dataset(count)
    db = Database(f"sqlite:///{instance / 'parcours.sqlite3'}")
    db.upgrade()
    with db.session() as session:
        upsert_dataset(session, dataset)
        token, _ = create_token(session, "hr", "benchmark")
    db.dispose()
    common = json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    common.pop("salaries")
    return folder, instance, dataset, token, common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="alternated runs of the service, as shipped and with "
                        "its batches' Python part in the job threads")
    args = parser.parse_args()

    folder, instance, dataset, token, common = seeded_instance("parcours-api-bench-", args.docs)
    matricules = [m for m in dataset.employees if m != "M0000"]
    values = load_values(common)
    items = [BatchItem(m, values.context(dataset, m)) for m in matricules]
    renderer = DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx")

    # The service as shipped, with its batches' Python part in the job threads (the way before worker processes),
    # then the engine alone with the service's chunks (chunk_sizes), Python in threads and in worker processes,
    # alternated round after round: a busy machine then weighs on all alike. The engine's LibreOffice workers
    # and worker processes are started by a warm-up and kept, as the service keeps its own from batch to batch.
    services = {"service": {}, "service, job threads": {"PARCOURS_BATCH_PROCESSES": "false"}}
    rates: dict[str, list[float]] = {label: [] for label in (*services, "engine", "engine, worker processes")}
    with ConverterPool(workers=args.workers) as pool, RenderProcesses(pool.size) as processes:
        engines = {"engine": {}, "engine, worker processes": {"processes": processes}}
        for options in engines.values():
            list(BatchGenerator(renderer, pool, **options).run(items[:10]))  # the same warm-up as the service's
        for _ in range(args.rounds):
            for label, settings in services.items():
                server, base = serve(instance, args.workers, folder / "server.log", **settings)
                try:
                    run_batch(base, token, matricules[:10], common)  # starts LibreOffice
                    seconds, seen, batch = run_batch(base, token, matricules, common)
                    rates[label].append(len(matricules) / seconds)
                    print(f"{label:<25} {rates[label][-1]:6.2f} documents/s  ({batch['done']} done, "
                          f"{batch['failed']} failed, {seconds:.2f} s from POST to finished_at, seen by a poll "
                          f"after {seen:.2f} s, {args.workers} workers, load {_load()})")
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            for label, options in engines.items():
                generator = BatchGenerator(renderer, pool, **options)
                started = time.perf_counter()
                made = sum(1 for result in generator.run(items) if result.ok)
                rates[label].append(len(items) / (time.perf_counter() - started))
                print(f"{label:<25} {rates[label][-1]:6.2f} documents/s  ({made} made, no database, no files, "
                      f"load {_load()})")
    median = {label: statistics.median(found) for label, found in rates.items()}
    if args.rounds > 1:
        print("medians: " + ", ".join(f"{label} {rate:.2f}" for label, rate in median.items())
              + f"; service ÷ job threads ×{median['service'] / median['service, job threads']:.2f}")
    for label in engines:
        print(f"service / {label} = {median['service'] / median[label]:.2f} (target: at least 0.90)")


def _load() -> str:
    return os.getloadavg()[0].__format__(".2f")


if __name__ == "__main__":
    main()
