"""Documents per second through Celery workers: 1 worker against 2, and the ratio.

    .venv/bin/python benchmarks/bench_workers.py              # 400 convocations per run
    .venv/bin/python benchmarks/bench_workers.py --docs 800

Starts a Redis of its own (another port than 6379), a throwaway PostgreSQL database (127.0.0.1:5432,
or PARCOURS_TEST_POSTGRES_URL), one HTTP process without jobs (`parcours serve` with a broker) and
`parcours worker` processes sharing a blob folder, each with its own instance folder and LibreOffice.
Every configuration gets a warm-up batch (LibreOffice starts), then a timed batch of N convocations
from the POST to the completed status:

  A  1 worker, 1 process, pinned to one core (taskset)   the rate of one core
  B  2 workers, 1 process each, one core each             two machines of one core
  C  1 worker, 2 processes, both cores                    one machine of two cores

B/A is what a second machine (or core) adds when the database, Redis and the HTTP process are not the
bottleneck: on a bigger machine or more machines, count A's rate per core given to workers, times
B/A's efficiency. The cores are shared with everything else on this machine (the HTTP process,
PostgreSQL, Redis, this script, and whatever else runs), so B and C include that contention; the CPU
time the workers and their LibreOffice processes used per document (from /proc) does not depend on
it, and gives the documents per second one core gives where nothing else competes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from api_helpers import postgres_database  # noqa: E402
from bench_batch import synthetic_dataset  # noqa: E402
from cluster import Http, Process, Redis, worker  # noqa: E402


def pinned(process: Process, core: int | None) -> Process:
    """The process started under `taskset -c core` (it and its LibreOffice on that core), if a core is given."""
    if core is not None:
        process.start = _taskset(process, core)  # type: ignore[method-assign]
    return process


def _taskset(process: Process, core: int):
    import subprocess

    from cluster import PARCOURS

    def start() -> None:
        with open(process.log, "ab") as log:
            process.process = subprocess.Popen(["taskset", "-c", str(core), *PARCOURS, *process.args], cwd=ROOT,
                                               env=process.env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
    return start


def cpu_seconds(processes: list[Process]) -> float:
    """User + system CPU seconds of the processes' groups (a worker and its pool processes) and of their
    LibreOffice processes (found by profile), as /proc tells now."""
    from cluster import soffice_under

    groups = {p.process.pid for p in processes if p.process is not None}
    pids = {pid for p in processes for pid in soffice_under(p.tmp)}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in groups:
                pids.add(int(entry.name))
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def run_batch(http: Http, token: str, matricules: list[str], values: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    status, batch = http.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                          "matricules": matricules})
    assert status == 202, batch
    final = http.wait(token, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 1800)
    assert (final["status"], final["done"]) == ("completed", len(matricules)), final
    return time.perf_counter() - started, final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=400)
    args = parser.parse_args()

    import json

    import pytest  # postgres_database skips through pytest when no server answers

    from parcours import resources
    from parcours.db import Database
    from parcours.service.employees import upsert_dataset
    from parcours.service.tokens import create_token

    values = {k: v for k, v in json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8")).items()
              if k != "salaries"}
    try:
        url, drop = postgres_database()
    except pytest.skip.Exception as exc:
        sys.exit(f"PostgreSQL is needed: {exc}")
    folder = Path(tempfile.mkdtemp(prefix="parcours-bench-workers-"))
    redis = Redis(folder / "redis")
    redis.start()
    env = {"PARCOURS_DATABASE_URL": url, "PARCOURS_BROKER_URL": redis.url, "PARCOURS_PKI_PASSPHRASE": "bench",
           "PARCOURS_BLOB_DIR": str(folder / "blobs")}
    http = Http(folder / "http", env)
    running: list[Process] = [http]
    results = {}
    try:
        http.start()
        db = Database(url)
        dataset = synthetic_dataset(args.docs * 4 + 40)
        with db.session() as session:
            upsert_dataset(session, dataset)
            token, _ = create_token(session, "hr", "bench")
        db.dispose()
        people = sorted(m for m in dataset.employees if m != "M0000")
        cores = os.cpu_count() or 1
        configurations = {
            "A  1 worker x 1 process, 1 core": [(1, 0)],
            "B  2 workers x 1 process, 1 core each": [(1, 0), (1, 1 % cores)],
            "C  1 worker x 2 processes, all cores": [(2, None)],
        }
        used = 0
        for name, spec in configurations.items():
            workers = [pinned(worker(f"w{n}", folder / name[0] / f"w{n}", env, concurrency), core)
                       for n, (concurrency, core) in enumerate(spec)]
            running.extend(workers)
            for process in workers:
                process.start()
            run_batch(http, token, people[used:used + 40], values)  # warm-up: LibreOffice starts
            used += 40
            before = cpu_seconds(workers)
            seconds, final = run_batch(http, token, people[used:used + args.docs], values)
            cpu = (cpu_seconds(workers) - before) / args.docs
            used += args.docs
            results[name] = args.docs / seconds
            print(f"{name}: {args.docs} documents in {seconds:.1f} s = {results[name]:.1f} documents/s "
                  f"(server-side {final['documents_per_second']}); workers and their LibreOffice used "
                  f"{cpu * 1000:.0f} ms of CPU per document, {1 / cpu:.1f} documents/s per core", flush=True)
            for process in workers:
                process.stop()
                running.remove(process)
    finally:
        for process in running:
            process.stop()
        redis.stop()
        drop()
    a, b, c = results.values()
    print(f"\nratio 2 workers / 1 worker (one core each): {b / a:.2f}")
    print(f"ratio 1 worker of 2 processes / 1 worker of 1 core: {c / a:.2f}")


if __name__ == "__main__":
    main()
