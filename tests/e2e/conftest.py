"""A real browser (Debian's Chromium driven by Playwright) against the real server on 127.0.0.1.

Playwright cannot download its own browser here: the launch names /usr/bin/chromium, installed by
scripts/install-system-packages.sh. Without it these tests are skipped, saying why.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest

from parcours.app import create_app
from parcours.settings import Settings
from signing_flow import real_compte_rendu

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it
    is open, and pyHanko's sync API (asyncio.run) fails under a running loop in later tests."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (Debian package chromium; make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def live_app(tmp_path):
    """The service with its jobs, under waitress in a thread, on a free port: (app, base URL)."""
    from waitress import create_server

    app = create_app(Settings(instance_dir=tmp_path / "instance", workers=1))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    server.close()
    app.extensions["parcours"].close()


@pytest.fixture(scope="module")
def compte_rendu(pool):
    """The sample compte rendu of E0003 and its snapshot (``signing_flow.real_compte_rendu``)."""
    return real_compte_rendu(pool)
