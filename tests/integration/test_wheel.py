"""A built wheel carries everything the service ships (templates, reports, samples, migrations, pages):
installed alone in a fresh virtual environment, away from the source tree, `parcours demo` works."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    return next(out.glob("parcours-*.whl"))


def test_the_wheel_holds_the_shipped_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("parcours/resources/documents/compte_rendu.docx", "parcours/resources/documents/sample.json",
                    "parcours/resources/reports/rapport_verification.docx",
                    "parcours/resources/reports/verification_report.html", "parcours/resources/samples/employees.csv",
                    "parcours/migrations/versions/0001_initial_schema.py", "parcours/http/web/pages/base.html",
                    "parcours/http/web/pages/signer/page.html"):
        assert shipped in names, shipped


@pytest.mark.libreoffice
def test_parcours_demo_runs_from_the_wheel_in_a_fresh_environment(wheel, tmp_path):
    # A fresh venv on the same base Python (Debian's, for LibreOffice's python3-uno); the dependencies are
    # borrowed from the test environment's site-packages by a .pth line, which does not carry its
    # editable link to the source tree (a .pth inside a borrowed folder is not read).
    env = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)],
                   check=True, timeout=120)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import parcours; print(parcours.__file__)"], cwd=work,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    demo = subprocess.run([str(env / "bin" / "parcours"), "demo", "--out", "demo"], cwd=work, capture_output=True,
                          text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    for template in ("convocation", "trame", "compte_rendu", "etat_des_lieux"):
        pdfs = list((work / "demo" / template).glob("*.pdf"))
        assert len(pdfs) >= 20 and all(p.read_bytes()[:5] == b"%PDF-" for p in pdfs), template
