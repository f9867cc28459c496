"""Converts every .docx of a folder to PDF through unoserver, for bench_peers.py.

    out/peers/venv/bin/python benchmarks/peers/unoserver_convert.py FOLDER SERVERS

Starts SERVERS unoserver processes (each its own LibreOffice and profile), converts the files with
one client thread per server, prints one JSON line: documents, seconds, failed, startup. Runs in
out/peers/venv (unoserver from PyPI, installed by `make bench-peers`), never the project's.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from unoserver.client import UnoClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    folder, count = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2
    files = sorted(folder.glob("*.docx"))
    profiles = Path(tempfile.mkdtemp(prefix="unoserver-profiles-"))
    servers, clients = [], []
    started = time.perf_counter()
    try:
        for index in range(count):
            port, uno_port = free_port(), free_port()
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "unoserver.server", "--interface", "127.0.0.1", "--port", str(port),
                 "--uno-port", str(uno_port), "--user-installation", str(profiles / str(index)), "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            clients.append(UnoClient(port=str(port)))
        # Ready once a first conversion goes through (the start-up is timed apart, as the other tools').
        first = files[0].read_bytes()
        for server, client in zip(servers, clients):
            for _ in range(600):
                if server.poll() is not None:
                    raise SystemExit(f"unoserver stopped at start-up (exit {server.returncode})")
                try:
                    client.convert(indata=first, convert_to="pdf")
                    break
                except (ConnectionError, OSError, xmlrpc.client.Fault):
                    time.sleep(0.1)
            else:
                raise SystemExit("unoserver not ready after 60 s")
        startup = time.perf_counter() - started

        def convert_share(index: int) -> int:
            failed = 0
            for path in files[1:][index::count]:
                try:
                    pdf = clients[index].convert(indata=path.read_bytes(), convert_to="pdf")
                    path.with_suffix(".unoserver.pdf").write_bytes(pdf)
                except Exception:  # noqa: BLE001 (counted: the benchmark reports failures, it does not stop)
                    failed += 1
            return failed

        started = time.perf_counter()
        with ThreadPoolExecutor(count) as executor:
            failed = sum(executor.map(convert_share, range(count)))
        seconds = time.perf_counter() - started
        print(json.dumps({"documents": len(files) - 1, "seconds": seconds, "failed": failed, "startup": startup}))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(profiles, ignore_errors=True)


if __name__ == "__main__":
    main()
