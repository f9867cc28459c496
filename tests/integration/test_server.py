"""The real service over HTTP (waitress in a subprocess, SQLite): a batch end to end, then a kill -9 mid-batch."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from cluster import ApiClient, free_port, wait_for_port
from test_convert import wait_until
from test_render_processes import render_processes_of
from sqlalchemy import func, select

from docgen.dataset import Dataset, load_dataset_dir
from parcours import resources
from parcours.db import Database
from parcours.models import Batch, Document, Job
from parcours.service.employees import upsert_dataset
from parcours.service.tokens import create_token

pytestmark = pytest.mark.libreoffice
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = resources.SAMPLES
CAMPAIGN = json.loads((SAMPLES / "campagne.json").read_text(encoding="utf-8"))
SERVE = "from waitress import serve; from parcours.app import create_app; serve(create_app(), host='127.0.0.1', port={port}, threads=8)"


class Server(ApiClient):
    """`parcours` under waitress in its own process, on an instance folder that outlives it."""

    def __init__(self, instance: Path, *, cli: bool = False, extra: list[str] | None = None,
                 environment: dict[str, str] | None = None) -> None:
        self.instance, self.port, self.process, self.cli = instance, free_port(), None, cli
        self.extra = extra or []
        self.environment = environment or {}
        """More PARCOURS_* variables (an SMTP server, say)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self) -> None:
        self.port = free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")},
               "PARCOURS_INSTANCE_DIR": str(self.instance), "PARCOURS_WORKERS": "2", **self.environment}
        log = self.instance.parent / "server.log"
        command = ([sys.executable, "-m", "parcours.cli", "serve", "--port", str(self.port), *self.extra] if self.cli
                   else [sys.executable, "-c", SERVE.format(port=self.port)])
        with open(log, "ab") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, log, 30)

    def kill(self) -> None:
        """kill -9, then its LibreOffice processes (their own process groups: they would outlive it)."""
        if self.process is None or self.process.poll() is not None:
            return
        children = _children(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for pid, profile in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if profile is not None:
                shutil.rmtree(profile, ignore_errors=True)



def _children(pid: int) -> list[tuple[int, Path | None]]:
    """(pid, LibreOffice run folder) of the direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
            continue
        profile = next((Path(arg.decode().split("file://", 1)[1]).parent for arg in cmdline
                        if arg.startswith(b"-env:UserInstallation=file://")), None)
        found.append((int(entry.name), profile))
    return found


@pytest.fixture
def server(tmp_path):
    instance = tmp_path / "instance"
    running = Server(instance)
    running.start()  # creates the database and seeds the shipped templates
    yield running
    running.kill()


@pytest.fixture
def database(server):
    db = Database(f"sqlite:///{(server.instance / 'parcours.sqlite3').resolve()}")
    yield db
    db.dispose()


@pytest.fixture
def hr(database) -> str:
    with database.session() as session:
        token, _ = create_token(session, "hr", "test serveur")
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)
    return token


def wait(server: Server, token: str, batch_id: int, until, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, batch = server.json("GET", f"/batches/{batch_id}", token)
        assert status == 200, batch
        if until(batch):
            return batch
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} still {batch} after {timeout} s")


def test_a_batch_of_the_sample_employees_over_http_gives_a_zip_of_25_pdfs(server, hr):
    started = time.perf_counter()
    status, batch = server.json("POST", "/batches", hr, {"template": "convocation", "values": CAMPAIGN})
    assert status == 202, batch
    batch = wait(server, hr, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 60)
    seconds = time.perf_counter() - started
    assert (batch["status"], batch["done"], batch["failed"]) == ("completed", 25, 0)
    status, data = server.call("GET", f"/batches/{batch['id']}/zip", hr)
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(data))
    pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    assert len(pdfs) == 25 and all(archive.read(name).startswith(b"%PDF") for name in pdfs)
    assert archive.read("manifest.csv").decode().count("\n") == 26
    print(f"\n25 convocations over HTTP in {seconds:.1f} s (LibreOffice start included), "
          f"server-side {batch['documents_per_second']} documents/s")


def copies_of_the_samples(database: Database, rounds: int) -> dict:
    """25 × rounds employees: the samples again, under new matricules."""
    samples = load_dataset_dir(SAMPLES).dataset.employees
    copies = {}
    for round_ in range(rounds):
        for employee in samples.values():
            matricule = f"C{round_}{employee.matricule[1:]}"
            copies[matricule] = dataclasses.replace(  # the director has no manager: E0001 interviews the copies
                employee, matricule=matricule, manager_matricule=employee.manager_matricule or "E0001")
    with database.session() as session:
        upsert_dataset(session, Dataset(employees=copies, absences={}, trainings={}))
    return copies


def start_batch(server: Server, token: str, matricules: list[str]) -> dict:
    values = {key: value for key, value in CAMPAIGN.items() if key != "salaries"}
    status, batch = server.json("POST", "/batches", token, {"template": "convocation", "values": values,
                                                            "matricules": matricules})
    assert status == 202 and batch["total"] == len(matricules), batch
    return batch


def test_a_batch_killed_mid_way_finishes_after_a_restart_with_one_document_per_employee(server, hr, database):
    # 400 letters: four chunks, two still waiting for LibreOffice when the first ones are recorded (a chunk
    # records its letters all at once).
    copies = copies_of_the_samples(database, 16)
    batch = start_batch(server, hr, sorted(copies))

    middle = wait(server, hr, batch["id"], lambda b: b["done"] >= 10, 60)
    server.kill()
    assert 1 <= middle["done"] < len(copies), middle
    server.start()  # same instance: the jobs table holds the unfinished chunks
    started = time.perf_counter()
    final = wait(server, hr, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 75)
    print(f"\nkilled at {middle['done']}/{len(copies)}; finished {time.perf_counter() - started:.1f} s after the "
          "restart")
    assert (final["status"], final["done"], final["failed"]) == ("completed", len(copies), 0)
    with database.session() as session:
        per_matricule = dict(session.execute(select(Document.matricule, func.count()).where(
            Document.batch_id == batch["id"]).group_by(Document.matricule)).all())
        assert session.get(Batch, batch["id"]).status == "completed"
    assert per_matricule == {matricule: 1 for matricule in copies}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_parcours_serve_stopped_mid_batch_closes_libreoffice_gives_back_its_jobs_and_the_batch_ends_at_the_next_start(
        tmp_path, signum):
    server = Server(tmp_path / "instance", cli=True)
    server.start()
    database = Database(f"sqlite:///{(server.instance / 'parcours.sqlite3').resolve()}")
    try:
        with database.session() as session:
            token, _ = create_token(session, "hr", "test arrêt")
            upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)
        copies = copies_of_the_samples(database, 16)  # four chunks: two are left when the first ones are recorded
        batch = start_batch(server, token, sorted(copies))
        middle = wait(server, token, batch["id"], lambda b: b["done"] >= 5 or b["failed"], 60)
        assert not middle["failed"], server.json("GET", f"/batches/{batch['id']}/items?status=failed", token)
        children = _children(server.process.pid)
        libreoffice = [(pid, profile) for pid, profile in children if profile is not None]
        assert libreoffice and all(profile.exists() for _, profile in libreoffice)
        # The second and third chunks are rendered and split in worker processes, beside LibreOffice.
        assert render_processes_of(server.process.pid), children

        server.process.send_signal(signum)
        assert server.process.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()[-3000:]
        assert "Parcours arrêté." in (tmp_path / "server.log").read_text()
        # LibreOffice and the worker processes (multiprocessing's resource tracker follows a moment later).
        assert wait_until(lambda: not [pid for pid, _ in children if _alive(pid)], 10), children
        assert [profile for _, profile in libreoffice if profile.exists()] == []
        with database.session() as session:
            held = session.execute(select(Job.id, Job.status).where(Job.lease_until.is_not(None))).all()
        assert held == []  # no job keeps a lease: each ended or was given back
        assert middle["done"] < len(copies)

        server.start()
        final = wait(server, token, batch["id"], lambda b: b["status"] in ("completed", "failed", "cancelled"), 90)
        assert (final["status"], final["done"], final["failed"]) == ("completed", len(copies), 0)
    finally:
        server.kill()
        database.dispose()
