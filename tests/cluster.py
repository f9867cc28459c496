"""Several real processes of one deployment, for the tests and the benchmark of `parcours worker`:
a Redis server of their own (another port than the shared one), HTTP processes (`parcours serve`
without jobs), Celery workers (`parcours worker`), each with its own instance folder and temporary
folder (so its LibreOffice processes can be found and killed by their profile), sharing a database
and a blob store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARCOURS = [sys.executable, "-W", "ignore", "-c", "from parcours.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


class ApiClient:
    """Calls to the JSON API of a service running in its own process, at `url` (…/api/v1), with a bearer token."""

    url: str
    timeout: float = 60

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {token}", **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
        status, data = self.call(method, path, token, body)
        return status, json.loads(data)


class Redis:
    """redis-server on a port of its own, without persistence: a restart loses every message."""

    def __init__(self, folder: Path) -> None:
        import shutil

        import pytest

        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (Debian's redis-server; the project's machines have it)")
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--dir", str(self.folder),
                        "--pidfile", str(self.folder / "redis.pid"), "--logfile", str(self.folder / "redis.log")],
                       check=True)
        wait_for_port(self.port, None, self.folder / "redis.log", 10)

    def stop(self) -> None:
        """SHUTDOWN NOSAVE: whatever the queues held is gone."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.1)
            except OSError:
                return


class Process:
    """`parcours …` in its own process group, with its own instance and temporary folders."""

    def __init__(self, name: str, folder: Path, env: dict[str, str], args: list[str]) -> None:
        self.name, self.folder, self.args = name, folder, args
        self.tmp = folder / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")}, **env,
                    "PARCOURS_INSTANCE_DIR": str(folder / "instance"), "TMPDIR": str(self.tmp)}
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(PARCOURS + self.args, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """kill -9 of its process group (the worker and its pool processes), then of the LibreOffice
        processes it started (their own sessions: found by their profile under its temporary folder)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        deadline = time.monotonic() + 10
        while (found := soffice_under(self.tmp)) and time.monotonic() < deadline:
            for pid in found:  # killed again until gone: a SIGKILLed process takes a moment to leave /proc
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a warm shutdown), then kill -9 if it lingers."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)


def soffice_under(folder: Path) -> list[int]:
    """Pids of the processes whose command line names a LibreOffice profile under `folder`."""
    found = []
    needle = str(folder).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"UserInstallation=file://" in cmdline and needle in cmdline:
            found.append(int(entry.name))
    return found


class Http(Process, ApiClient):
    timeout = 120  # a batch's first request may wait for LibreOffice to start

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        super().__init__("http", folder, env, ["serve", "--port", str(self.port)])

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, self.process, self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def wait(self, token: str, batch_id: int, until, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        batch: dict = {}
        while time.monotonic() < deadline:
            status, batch = self.json("GET", f"/batches/{batch_id}", token)
            assert status == 200, batch
            if until(batch):
                return batch
            assert batch["status"] not in ("completed", "failed", "cancelled"), batch
            time.sleep(0.2)
        raise AssertionError(f"batch {batch_id} still {batch} after {timeout} s")


def worker(name: str, folder: Path, env: dict[str, str], concurrency: int = 1) -> Process:
    return Process(name, folder, env, ["worker", "--concurrency", str(concurrency), "--loglevel", "warning"])


class MotoS3:
    """moto's S3 server mode (an S3 emulator installed from PyPI with moto[server]) on a port of its own."""

    KEYS = {"AWS_ACCESS_KEY_ID": "parcours", "AWS_SECRET_ACCESS_KEY": "parcours-secret",
            "AWS_DEFAULT_REGION": "eu-west-3"}

    def __init__(self, folder: Path) -> None:
        self.port, self.log = free_port(), folder / "moto.log"
        folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                             str(self.port)], stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, self.log, 60)

    def bucket(self, name: str) -> None:
        import boto3

        boto3.session.Session(**{k.lower(): v for k, v in self.KEYS.items() if k != "AWS_DEFAULT_REGION"},
                              region_name=self.KEYS["AWS_DEFAULT_REGION"]).client(
            "s3", endpoint_url=self.url).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.KEYS["AWS_DEFAULT_REGION"]})

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
