"""Every shell example of the README, run as written (in order, one shell per block) against a demo
instance of `parcours serve --demo`; the few that cannot run here are listed with the reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_server import Server

pytestmark = pytest.mark.libreoffice
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.DOTALL | re.MULTILINE)

NOT_RUN = {
    "make run    #": "installs everything and runs the whole suite (what CI does with `make test`)",
    "createdb -h": "a deployment on PostgreSQL, Redis and four processes on fixed ports: "
                   "tests/integration/test_celery_workers.py runs the same",
    "sirh.example.com/hooks": "a receiver on the internet: the SSRF guard resolves its name, and tests have no DNS "
                              "(tests/api/test_webhooks_api.py and tests/integration/test_webhooks_delivery.py)",
    "-F file=@compte-rendu.pdf": "needs a compte rendu signed through the signers' e-mailed links: "
                                 "tests/integration/test_signature_workflow.py and tests/api/test_verifications_api.py",
    "signature-requests/1/evidence": "needs a completed signature request (both signers): "
                                     "tests/integration/test_evidence_bundle.py",
}
"""Blocks not run, by a piece of their text, and why."""
LINES_NOT_RUN = {
    "scripts/extract_legi.py": "fetches the law from the npm registry (no network in tests)",
    ".venv/bin/pytest": "the tests themselves",
    "benchmarks/bench_": "a benchmark: minutes of work, run by hand",
}
PREAMBLE = """set -eo pipefail
curl() { command curl -sS --fail-with-body "$@"; echo; }
"""


def blocks() -> list[str]:
    return FENCE.findall(README.read_text(encoding="utf-8"))


def runnable(block: str) -> str:
    lines = []
    for line in block.splitlines():
        if re.match(r"^[A-Z]+=prc_…", line):
            continue  # « T=prc_… »: the token is set by the test
        if any(marker in line for marker in LINES_NOT_RUN):
            continue
        lines.append(line)
    return "\n".join(lines)


def test_every_block_is_run_or_said_why_not():
    found = blocks()
    assert len(found) >= 10
    for marker in NOT_RUN:
        assert sum(marker in block for block in found) == 1, f"« {marker} » should name exactly one block"


def test_the_readme_examples_run_as_written_against_a_demo_instance(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in (".venv", "parcours", "docgen", "signing", "webhooks", "scripts", "tests", "pyproject.toml"):
        (work / name).symlink_to(ROOT / name)
    instance = tmp_path / "instance"
    server = Server(instance, cli=True, extra=["--demo"])
    server.start()
    try:
        access = _wait_for(instance / "demo-acces.txt")
        tokens = dict(re.findall(r"Jeton de démonstration (\w+)\s*: (prc_\S+)", access))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")},
               "PARCOURS_INSTANCE_DIR": str(instance), "PARCOURS_WORKERS": "2",
               "T": tokens["hr"], "A": tokens["admin"], "AUDITOR": tokens["auditor"]}
        base = f"http://127.0.0.1:{server.port}"
        script = PREAMBLE
        for number, block in enumerate(blocks(), 1):
            if any(marker in block for marker in NOT_RUN):
                continue
            script += f"\necho '### bloc {number}'\n" + runnable(block).replace("http://127.0.0.1:8000", base) + "\n"
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        (tmp_path / "sortie.txt").write_text(done.stdout + "\n--- stderr\n" + done.stderr, encoding="utf-8")
        assert done.returncode == 0, (done.stdout[-6000:], done.stderr[-4000:])
        assert (work / "out" / "convocation-E0003.pdf").read_bytes().startswith(b"%PDF")
        assert (work / "lot-1.zip").stat().st_size > 1000
    finally:
        server.kill()


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.2)
    return path.read_text(encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - to read the script the test runs
    print(PREAMBLE + "\n".join(runnable(b) for b in blocks() if not any(m in b for m in NOT_RUN)), file=sys.stdout)
