"""Beyond one machine: one HTTP process without jobs, two `parcours worker` processes on a Redis-backed
Celery, PostgreSQL and a shared blob folder, every process with its own instance folder and LibreOffice.

A batch of 400 convocations goes through while one worker is killed with kill -9 (its process group and
its LibreOffice) and then Redis is restarted without persistence (every queued message lost): the batch
completes with exactly one document per employee, the ZIP served by the HTTP process holds them all,
and the killed worker's chunk was taken over (a second claim).

With the blobs in the database or in an S3 bucket (moto's server: an emulator) instead of a shared
folder, progress, cancel and the ZIP work the same whichever process ran the chunks."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import zipfile

import pytest
from sqlalchemy import func, select

from api_helpers import database
from cluster import PARCOURS, ROOT, Http, MotoS3, Redis, soffice_under, worker
from test_convert import wait_until
from docgen.dataset import Dataset, load_dataset_dir
from parcours import resources
from parcours.db import Database
from parcours.models import Batch, Document, Job
from parcours.service.employees import upsert_dataset
from parcours.service.tokens import create_token

pytestmark = pytest.mark.libreoffice
SAMPLES = resources.SAMPLES
CAMPAIGN = json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))
EMPLOYEES = 400
SECOND = 400  # the cancelled batch's letters: four chunks of 100 for two LibreOffice workers (chunk_sizes)


def copies(count: int) -> dict:
    """`count` employees: the 25 samples again and again under new matricules, each with a manager."""
    samples = list(load_dataset_dir(SAMPLES).dataset.employees.values())
    made = {}
    for index in range(count):
        employee = samples[index % len(samples)]
        matricule = f"C{index // len(samples):02d}{employee.matricule[1:]}"
        made[matricule] = dataclasses.replace(employee, matricule=matricule,
                                              manager_matricule=employee.manager_matricule or "E0001")
    return made


@pytest.fixture
def blobs(request, tmp_path):
    """The blob settings of every process: a shared folder unless the test is parametrized otherwise."""
    kind = getattr(request, "param", "folder")
    if kind == "folder":
        yield {"PARCOURS_BLOB_DIR": str(tmp_path / "shared-blobs")}
    elif kind == "database":
        yield {"PARCOURS_BLOB_STORE": "database"}
    else:
        s3 = MotoS3(tmp_path / "s3")
        s3.start()
        try:
            s3.bucket("parcours-blobs")
            yield {"PARCOURS_BLOB_STORE": "s3://parcours-blobs/production", "PARCOURS_S3_ENDPOINT_URL": s3.url,
                   **MotoS3.KEYS}
        finally:
            s3.stop()


@pytest.fixture
def cluster(tmp_path, blobs):
    """Redis of its own, PostgreSQL, the blob store, the HTTP process; the workers are the test's."""
    with database("postgresql", tmp_path) as url:
        redis = Redis(tmp_path / "redis")
        redis.start()
        env = {"PARCOURS_DATABASE_URL": url, "PARCOURS_BROKER_URL": redis.url, "PARCOURS_PKI_PASSPHRASE": "secret",
               "PARCOURS_WORKERS": "2",  # batches cut for two LibreOffice workers, whatever the machine
               "PARCOURS_JOB_SWEEP_SECONDS": "1", "PARCOURS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", **blobs}
        http = Http(tmp_path / "http", env)
        started = [http]
        try:
            # As the README says: `parcours init` once, its pki/ folder copied to every machine.
            done = subprocess.run(PARCOURS + ["init"], env=http.env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stderr[-3000:]
            for name in ("worker1", "worker2"):
                shutil.copytree(tmp_path / "http" / "instance" / "pki", tmp_path / name / "instance" / "pki")
            http.start()
            db = Database(url)
            yield http, redis, env, db, started
            db.dispose()
        finally:
            for process in started:
                process.stop()
            redis.stop()


def start(cluster, tmp_path, count: int):
    """`count` employees and an HR token in the database, two workers started: (token, employees, workers)."""
    http, redis, env, db, started = cluster
    employees = copies(count)
    with db.session() as session:
        token, _ = create_token(session, "hr", "test workers")
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)  # their managers
        upsert_dataset(session, Dataset(employees=employees, absences={}, trainings={}))
    workers = [worker(f"worker{n}", tmp_path / f"worker{n}", env) for n in (1, 2)]
    started.extend(workers)
    for process in workers:
        process.start()
    return token, employees, workers


class Receiver:
    """A webhook receiver on 127.0.0.1, in a thread of the test: (webhook-id, event type) of each POST."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        outer = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                outer.received.append((self.headers.get("webhook-id"), body.get("type")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rh"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_two_workers_survive_a_kill_and_a_redis_restart_with_one_document_per_employee(cluster, tmp_path):
    http, redis, env, db, started = cluster
    token, employees, workers = start(cluster, tmp_path, EMPLOYEES)
    receiver = Receiver()
    with db.session() as session:
        admin, _ = create_token(session, "admin", "test webhooks")
    status, endpoint = http.json("POST", "/webhooks/endpoints", admin, {"url": receiver.url})
    assert status == 201, endpoint

    values = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}
    status, batch = http.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                          "matricules": sorted(employees)})
    assert status == 202 and batch["total"] == EMPLOYEES, batch

    # Both workers convert; one dies with its LibreOffice while it holds a chunk.
    http.wait(token, batch["id"], lambda b: b["done"] >= 60, 300)
    assert soffice_under(workers[0].tmp) and soffice_under(workers[1].tmp), "each worker has its own LibreOffice"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # both workers hold a chunk (between two, a worker may be idle)
        with db.session() as session:
            running = session.scalar(select(func.count()).select_from(Job).where(
                Job.kind == "batch_chunk", Job.status == "running"))
        if running == 2:
            break
        time.sleep(0.02)
    workers[0].kill()
    status, middle = http.json("GET", f"/batches/{batch['id']}", token)
    assert not soffice_under(workers[0].tmp)
    # Then the broker restarts empty: the queued messages are lost, the jobs table still has the jobs.
    later = http.wait(token, batch["id"], lambda b: b["done"] >= middle["done"] + 60, 300)
    redis.stop()
    redis.start()
    final = http.wait(token, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 600)
    print(f"\nkilled a worker at {middle['done']}/{EMPLOYEES}, restarted Redis at {later['done']}/{EMPLOYEES}")
    assert (final["status"], final["done"], final["failed"]) == ("completed", EMPLOYEES, 0), final

    with db.session() as session:
        per_matricule = dict(session.execute(select(Document.matricule, func.count()).where(
            Document.batch_id == batch["id"]).group_by(Document.matricule)).all())
        assert session.get(Batch, batch["id"]).status == "completed"
    assert per_matricule == {matricule: 1 for matricule in employees}
    # Killed after recording its last letter but before closing its job, the worker left that job running:
    # once its lease runs out, the sweep gives it to the other worker, which finds nothing left to do.
    def chunk_jobs() -> list:
        with db.session() as session:
            return session.execute(select(Job.status, Job.attempts).where(Job.kind == "batch_chunk")).all()

    wait_until(lambda: {status for status, _ in chunk_jobs()} == {"done"}, 90)
    chunks = chunk_jobs()
    assert {status for status, _ in chunks} == {"done"}
    assert max(attempts for _, attempts in chunks) >= 2, "the killed worker's chunk was claimed again"
    assert not soffice_under(http.tmp), "the HTTP process converts nothing"

    status, data = http.call("GET", f"/batches/{batch['id']}/zip", token)
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(data))
    pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    assert len(pdfs) == EMPLOYEES and all(archive.read(name).startswith(b"%PDF") for name in pdfs[:20])

    # The batch's webhook went out from a worker (deliveries queue), one message, acknowledged.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(kind == "batch.completed" for _, kind in receiver.received):
        time.sleep(0.2)
    completed = {message_id for message_id, kind in receiver.received if kind == "batch.completed"}
    assert len(completed) == 1, receiver.received
    while time.monotonic() < deadline:  # the delivery is marked done once the receiver has answered
        with db.session() as session:
            deliveries = session.execute(select(Job.status).where(Job.kind == "webhook_delivery")).scalars().all()
            anchors = session.execute(select(Job.status).where(Job.kind == "audit_anchor")).scalars().all()
        if deliveries and "running" not in deliveries:
            break
        time.sleep(0.1)
    assert deliveries and set(deliveries) == {"done"}
    # The daily audit anchor a worker planned at start ran on a worker and planned the next one.
    assert "done" in anchors and anchors.count("queued") == 1, anchors
    receiver.server.shutdown()


@pytest.mark.parametrize("blobs", ["database", "s3"], indirect=True)
def test_progress_cancel_and_zip_with_blobs_in_the_database_or_a_bucket(cluster, tmp_path):
    http, redis, env, db, started = cluster
    token, employees, workers = start(cluster, tmp_path, 80 + SECOND)
    values = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}
    status, batch = http.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                          "matricules": sorted(employees)[:80]})
    assert status == 202, batch
    final = http.wait(token, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 300)
    assert (final["status"], final["done"], final["failed"]) == ("completed", 80, 0), final
    status, data = http.call("GET", f"/batches/{batch['id']}/zip", token)
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert len([name for name in archive.namelist() if name.endswith(".pdf")]) == 80
    assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist() if name.endswith(".pdf"))
    assert not (tmp_path / "http" / "instance" / "blobs").exists()  # nothing in a folder of one machine

    # A second batch, seen running, then cancelled while the workers make it: they stop, what was made stays.
    # It has chunks still queued when its first letters are recorded: a chunk may record all its letters
    # within a poll.
    status, second = http.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                           "matricules": sorted(employees)[80:]})
    assert status == 202, second
    running = http.wait(token, second["id"], lambda b: b["done"] >= 1, 300)
    assert running["status"] == "running" and running["documents_per_second"], running
    status, cancelled = http.json("POST", f"/batches/{second['id']}/cancel", token)
    assert status == 200 and cancelled["status"] == "cancelled", cancelled
    # The worker's chunk ends (its items are no longer pending) without making another document.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.session() as session:
            chunk = session.scalars(select(Job).where(Job.kind == "batch_chunk")).all()
            if all(job.status == "done" for job in chunk):
                break
        time.sleep(0.2)
    with db.session() as session:
        assert [job.status for job in chunk] == ["done"] * len(chunk)
        made = session.scalar(select(func.count()).select_from(Document).where(Document.batch_id == second["id"]))
    status, after = http.json("GET", f"/batches/{second['id']}", token)
    assert (after["status"], after["done"], after["cancelled"], after["pending"]) == ("cancelled", made,
                                                                                      SECOND - made, 0)
    assert 1 <= made <= SECOND // 2, after  # at most the two chunks the workers held when it was cancelled


def test_a_worker_stopped_by_sigterm_mid_batch_ends_its_chunk_closes_libreoffice_and_holds_no_lease(cluster, tmp_path):
    http, redis, env, db, started = cluster
    token, employees, workers = start(cluster, tmp_path, 80)
    values = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}
    status, batch = http.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                          "matricules": sorted(employees)})
    assert status == 202, batch
    http.wait(token, batch["id"], lambda b: b["done"] >= 5, 300)
    first = workers[0]
    assert soffice_under(first.tmp), "the worker runs LibreOffice"
    first.process.send_signal(signal.SIGTERM)  # to the worker alone, as `kill PID` or a service manager does
    assert first.process.wait(90) == 0, first.log.read_text()[-3000:]
    deadline = time.monotonic() + 10
    while soffice_under(first.tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert soffice_under(first.tmp) == []
    assert not list(first.tmp.glob("parcours-soffice-*")), "its LibreOffice profiles are removed"
    final = http.wait(token, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 300)
    assert (final["status"], final["done"], final["failed"]) == ("completed", 80, 0), final
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.lease_until.is_not(None))) == 0
