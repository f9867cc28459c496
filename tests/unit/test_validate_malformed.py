"""Signed files broken the ways of pyHanko's `coverage-anomalies` test data, and worse (tests/malformed.py
generates them from a real signed file): signing.validate gives a report or raises UnreadablePdf with a
French reason, never anything else; `parcours verify` answers exit 1 or 2, never a traceback."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import foreign_pki as F
import malformed as M
import pytest
from cryptography.hazmat.primitives import serialization
from foreign_pki import quiet  # noqa: F401 - autouse fixture: pyHanko's logs silenced

from signing import validate as V

NOW = dt.datetime.now(dt.timezone.utc)
PARCOURS = Path(sys.executable).parent / "parcours"


@pytest.fixture(scope="module")
def foreign():
    return F.authority()


@pytest.fixture(scope="module")
def signed(foreign):
    return F.two_signer_file(F.blank_pdf(), foreign)


@pytest.mark.parametrize("name", list(M.ANOMALIES))
def test_a_malformed_signature_gives_a_failed_report_or_a_french_reason(name, signed, foreign):
    broken = M.ANOMALIES[name](signed)
    assert broken != signed and len(broken) == len(signed)
    try:
        report = V.validate(broken, F.verifier_trust(foreign, at=NOW), at=NOW)
    except V.UnreadablePdf as exc:
        assert str(exc).startswith("les signatures du fichier ne peuvent pas être lues"), exc
        return
    first = report.signatures[0]
    assert (first.indication, report.indication) == (V.FAILED, V.FAILED), (first.sub_indication, first.details)
    assert first.sub_indication in ("HASH_FAILURE", "FORMAT_FAILURE")
    assert first.coverage not in ("ENTIRE_FILE", "ENTIRE_REVISION")
    assert first.message.startswith("La signature de Claire Fontaine n'est pas valide")


def test_one_byterange_is_a_report_not_an_index_error(signed, foreign):
    """pyHanko's one-byterange.pdf crashed `_covers` (byte_range[2]): the report now says what it covers."""
    report = V.validate(M.one_byterange(signed), F.verifier_trust(foreign, at=NOW), at=NOW)
    first = report.signatures[0]
    assert first.coverage == "UNCLEAR" and "plages d'octets signées sont anormales" in first.covers


@pytest.mark.skipif(not PARCOURS.exists(), reason="the parcours command is not installed in this environment")
@pytest.mark.parametrize("name,code", [("one-byterange", 1), ("range-not-an-array", 1), ("range-missing", 2),
                                       ("contents-not-cms", 2)])
def test_parcours_verify_answers_a_malformed_file_without_traceback(name, code, signed, foreign, tmp_path):
    pdf, root = tmp_path / f"{name}.pdf", tmp_path / "racine.pem"
    pdf.write_bytes(M.ANOMALIES[name](signed))
    root.write_bytes(foreign.root_certificate.public_bytes(serialization.Encoding.PEM))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PARCOURS_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([str(PARCOURS), "verify", str(pdf), "--racine", str(root)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    if code == 2:
        assert "Erreur" in done.stderr and "ne peuvent pas être lues" in done.stderr, done.stderr
    else:
        assert done.stdout.startswith("NON VALIDE"), done.stdout
