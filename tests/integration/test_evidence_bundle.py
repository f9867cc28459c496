"""The evidence bundle of a request completed through the API (real LibreOffice, the instance's PKI and
TSA), downloaded by an auditor, unzipped, and checked by running the very commands of its LISEZMOI.txt:
sha256sum, openssl ts, pdfsig (with certutil's NSS database), `parcours verify`, the Python recomputation
of the audit hashes. On SQLite, and on PostgreSQL when a server answers on 127.0.0.1:5432."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import database
from signing_flow import complete_request, fresh_app, real_compte_rendu, store_document, store_employees

from parcours.service.tokens import create_token
from parcours.settings import Settings

pytestmark = pytest.mark.libreoffice
PARCOURS = Path(sys.executable).parent / "parcours"
ENV = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}  # the tools' English messages, as LISEZMOI quotes them


# --- a completed request ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compte_rendu(pool):
    return real_compte_rendu(pool)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def app(database_url, tmp_path_factory):
    settings = Settings(instance_dir=tmp_path_factory.mktemp("instance"), database_url=database_url, run_jobs=False,
                        workers=1, public_url="https://parcours.example", organisation="Atelier Lumière")
    with fresh_app(settings) as application:
        yield application


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": "auditeur-test/1.0"}


@dataclass(frozen=True)
class Completed:
    request_id: int
    document_id: int
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def completed(app, compte_rendu) -> Completed:
    store_employees(app)
    with app.extensions["parcours"].db.session() as session:
        tokens = {role: create_token(session, role, label)[0]
                  for role, label in (("hr", "SIRH"), ("auditor", "Cabinet d'audit"), ("admin", "exploitation"))}
    document_id = store_document(app, *compte_rendu)
    request_id, _ = complete_request(app, app.test_client(), tokens["hr"], document_id,
                                     comments="Je souhaite une formation.")
    return Completed(request_id, document_id, tokens)


# --- the bundle, as the auditor gets it ---------------------------------------------------------------

@dataclass(frozen=True)
class Downloaded:
    data: bytes
    headers: dict[str, str]
    folder: Path
    sections: list[tuple[str, list[str]]]
    """LISEZMOI.txt's steps, each with its commands (the lines starting with « $ », without it)."""

    @property
    def commands(self) -> list[str]:
        return [c for _, commands in self.sections for c in commands]


def _sections(readme: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("avant les étapes", [])]
    for line in readme.splitlines():
        if line.startswith("ÉTAPE "):
            sections.append((line, []))
        elif line.startswith("$ "):
            sections[-1][1].append(line[2:])
    return sections


@pytest.fixture(scope="module")
def downloaded(app, completed, tmp_path_factory) -> Downloaded:
    response = app.test_client().get(f"/api/v1/signature-requests/{completed.request_id}/evidence",
                                     headers=_auth(completed.tokens["auditor"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    target = tmp_path_factory.mktemp("auditeur")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        archive.extractall(target)
    folder = target / f"preuves-demande-{completed.request_id}"
    readme = (folder / "LISEZMOI.txt").read_text(encoding="utf-8")
    return Downloaded(response.data, dict(response.headers), folder, _sections(readme))


def _run(command: str, folder: Path) -> subprocess.CompletedProcess:
    if command.startswith("parcours "):
        command = f"{PARCOURS} {command[len('parcours '):]}"
    return subprocess.run(["/bin/sh", "-c", command], cwd=folder, capture_output=True, text=True, timeout=180, env=ENV)


def _check(command: str, result: subprocess.CompletedProcess, signatures: int) -> None:
    """The command succeeded and printed what LISEZMOI.txt says it prints."""
    said = f"« {command} » → {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, said
    if command.startswith("sha256sum -c"):
        lines = result.stdout.splitlines()
        assert lines and all(line.endswith(": OK") for line in lines), said
    elif "openssl ts -verify" in command:
        assert "Verification: OK" in result.stdout, said
    elif command.startswith("openssl x509"):
        assert "autorité racine" in result.stdout, said  # the instance's root, shown with its fingerprint
        assert re.search(r"sha256 Fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2}", result.stdout), said
    elif command.startswith("openssl ts -reply"):
        assert "Time stamp:" in result.stdout, said
    elif command.startswith("pdfsig"):
        assert result.stdout.count("Signature Validation: Signature is Valid.") == signatures, said
        if "-nssdir" in command:
            assert result.stdout.count("Certificate Validation: Certificate is Trusted.") == signatures, said
    elif command.startswith("python3 -c"):
        assert "empreintes fausses : aucune ; liens rompus : aucun" in result.stdout, said
    elif command.startswith("grep -F -c"):
        assert result.stdout.strip() == "1", said
    elif command.startswith("parcours verify"):
        assert result.stdout.startswith("VALIDE : TOTAL_PASSED"), said


def _section_with(downloaded: Downloaded, word: str) -> list[str]:
    return [c for _, commands in downloaded.sections if any(word in c for c in commands) for c in commands]


SIGNATURES = 2  # the manager's and the employee's (no organisation seal configured)


def test_an_auditor_gets_a_zip_named_after_the_request(app, downloaded, completed):
    assert downloaded.headers["Content-Type"] == "application/zip"
    assert downloaded.headers["Content-Disposition"] == \
        f'attachment; filename="preuves-demande-{completed.request_id}.zip"'
    assert downloaded.headers["X-Evidence-Sha256"] == hashlib.sha256(downloaded.data).hexdigest()
    names = {p.relative_to(downloaded.folder).as_posix() for p in downloaded.folder.rglob("*") if p.is_file()}
    assert {"final.pdf", "versions/v1-generated.pdf", "versions/v2-prepared.pdf", "versions/v3-signed.pdf",
            "versions/v4-signed.pdf", "versions/v5-sealed.pdf", "audit/events.jsonl", "report/rapport.json",
            "report/rapport.pdf", "pki/racine.pem", "pki/ac.crl", "MANIFEST.sha256", "MANIFEST.sha256.tsr",
            "demande.json"} <= names
    assert sum(1 for n in names if n.startswith("timestamps/") and n.endswith(".tst")) == SIGNATURES + 1
    # The root to compare is the one the service publishes.
    assert (downloaded.folder / "pki" / "racine.pem").read_bytes() == app.test_client().get("/api/v1/pki/root.pem").data
    report = json.loads((downloaded.folder / "report" / "rapport.json").read_text(encoding="utf-8"))
    assert report["indication"] == "TOTAL_PASSED"
    assert report["sha256"] == hashlib.sha256((downloaded.folder / "final.pdf").read_bytes()).hexdigest()
    assert report["stored"]["version"] == 5 and report["stored"]["kind"] == "sealed"
    assert (downloaded.folder / "report" / "rapport.pdf").read_bytes().startswith(b"%PDF")
    types = [json.loads(line)["type"] for line in (downloaded.folder / "audit" / "events.jsonl").read_text().splitlines()]
    assert types[0] == "document.generated" and "signed" in types and "completed" in types
    assert set(types[types.index("completed") + 1:]) == {"copy.delivered"}  # then the copies, each recorded


def test_the_bundle_passes_its_own_instructions(downloaded):
    """Every command of LISEZMOI.txt, in order, but the NSS step and `parcours verify` (the tests below)."""
    own = set(_section_with(downloaded, "certutil")) | set(_section_with(downloaded, "parcours verify"))
    commands = [c for c in downloaded.commands if c not in own]
    programs = {c.split()[0] for c in commands}
    assert {"sha256sum", "cmp", "openssl", "pdfsig", "python3", "grep", "("} <= programs, programs
    for command in commands:
        _check(command, _run(command, downloaded.folder), SIGNATURES)


@pytest.mark.skipif(shutil.which("certutil") is None,
                    reason="certutil is not installed (Debian package libnss3-tools): pdfsig's trust step not run")
def test_pdfsig_trusts_the_signatures_with_the_bundles_root_in_an_nss_database(downloaded):
    commands = _section_with(downloaded, "certutil")
    assert any(c.startswith("pdfsig -nssdir") for c in commands)
    for command in commands:
        _check(command, _run(command, downloaded.folder), SIGNATURES)


def test_parcours_verify_validates_the_final_pdf_with_the_bundle_alone(downloaded):
    if subprocess.run([str(PARCOURS), "verify", "--help"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip(f"{PARCOURS} verify does not exist yet (parcours/cli/verify.py)")
    (command,) = _section_with(downloaded, "parcours verify")
    _check(command, _run(command, downloaded.folder), SIGNATURES)
    result = _run(command + " --json", downloaded.folder)
    assert result.returncode == 0, result.stderr
    mine = json.loads(result.stdout)
    theirs = json.loads((downloaded.folder / "report" / "rapport.json").read_text(encoding="utf-8"))
    assert mine["indication"] == theirs["indication"] == "TOTAL_PASSED"
    assert mine["sha256"] == theirs["sha256"]
    assert [(s["field"], s["indication"]) for s in mine["signatures"]] == \
        [(s["field"], s["indication"]) for s in theirs["signatures"]]


def test_each_download_is_an_audit_event_and_the_chain_still_verifies(app, completed, downloaded):
    client = app.test_client()
    auditor = _auth(completed.tokens["auditor"])
    events = client.get(f"/api/v1/audit/events?subject_type=signature_request&subject_id={completed.request_id}",
                        headers=auditor).json["items"]
    mine = events[-1]
    assert mine["type"] == "evidence.downloaded" and mine["actor"] == "Cabinet d'audit"
    assert mine["sequence"] == int(downloaded.headers["X-Audit-Sequence"])
    assert mine["ip"] == "127.0.0.1" and mine["user_agent"] == "auditeur-test/1.0"
    assert mine["data"]["bundle_sha256"] == hashlib.sha256(downloaded.data).hexdigest()
    assert mine["data"]["role"] == "auditor" and mine["data"]["document_id"] == completed.document_id
    assert client.get("/api/v1/audit/verify", headers=auditor).json["ok"]
    # The next bundle (here HR's) holds the earlier download among its events.
    again = client.get(f"/api/v1/signature-requests/{completed.request_id}/evidence", headers=_auth(completed.tokens["hr"]))
    assert again.status_code == 200
    with zipfile.ZipFile(io.BytesIO(again.data)) as archive:
        name = f"preuves-demande-{completed.request_id}/audit/events.jsonl"
        lines = [json.loads(line) for line in archive.read(name).decode("utf-8").splitlines()]
    assert lines[-1]["type"] == "evidence.downloaded" and lines[-1]["hash"] == mine["hash"]
    assert client.get("/api/v1/audit/verify", headers=auditor).json["ok"]


def test_only_completed_requests_have_a_bundle_and_only_auditors_and_hr_get_it(app, completed, compte_rendu):
    client = app.test_client()
    path = f"/api/v1/signature-requests/{completed.request_id}/evidence"
    assert client.get(path).status_code == 401
    forbidden = client.get(path, headers=_auth(completed.tokens["admin"]))
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    assert client.get("/api/v1/signature-requests/999999/evidence", headers=_auth(completed.tokens["auditor"])).status_code == 404
    pending = client.post(f"/api/v1/documents/{store_document(app, *compte_rendu)}/signature-requests",
                          headers=_auth(completed.tokens["hr"])).json
    before = client.get("/api/v1/audit/events?limit=500", headers=_auth(completed.tokens["auditor"])).json["items"]
    refused = client.get(f"/api/v1/signature-requests/{pending['id']}/evidence", headers=_auth(completed.tokens["auditor"]))
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert "terminée" in refused.json["detail"] and refused.json["request_status"] == "pending"
    after = client.get("/api/v1/audit/events?limit=500", headers=_auth(completed.tokens["auditor"])).json["items"]
    assert len(after) == len(before)  # a refused download records nothing
