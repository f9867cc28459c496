"""The verification report in French only: pyHanko's English stays in each element's « Détails techniques »,
never in the verdict, the sentences or the rows. The HTML page and the PDF (LibreOffice) are rendered for
reports of every kind (valid, not valid, not established, malformed) and their text outside the technical
notes is scanned for English words."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess

import foreign_pki as F
import forgery
import malformed as M
import pytest
from foreign_pki import quiet  # noqa: F401 - autouse fixture: pyHanko's logs silenced

from parcours import reports
from signing import validate as V

pytestmark = pytest.mark.libreoffice

NOW = dt.datetime.now(dt.timezone.utc)
SIGNED = NOW - dt.timedelta(days=30)
ENGLISH = re.compile(r"\b(the|and|of|not|was|were|could|failed|failure|certificate|revoked|expired|past|current|"
                     r"result|path|error|unable|found|insufficient|improve|manage|validated|signer|timestamp|"
                     r"response|recent|enough|None|True|False)\b", re.IGNORECASE)
TECHNICAL_END = re.compile(r"\n\s*\d+\. (?:Signature|Horodatage)|Remarques|Comment lire ce rapport")


@pytest.fixture(scope="module")
def cases():
    foreign = F.authority(now=SIGNED - dt.timedelta(days=1))
    pdf = F.two_signer_file(F.blank_pdf(), foreign, now=SIGNED)
    trust = F.verifier_trust(foreign, at=NOW)
    made = {
        "valide": V.validate(pdf, trust, at=NOW),
        "révocation-à-fournir": V.validate(pdf, V.TrustInputs((foreign.root_certificate,)), at=NOW),
        "modifié": V.validate(forgery.flip_byte_in_content_stream(pdf), trust, at=NOW),
        "plage-anormale": V.validate(M.range_not_an_array(pdf), trust, at=NOW),
        "autre-racine": V.validate(pdf, F.verifier_trust(F.authority("Autre"), at=NOW), at=NOW),
    }
    expected = {"valide": V.PASSED, "révocation-à-fournir": V.INDETERMINATE, "modifié": V.FAILED,
                "plage-anormale": V.FAILED, "autre-racine": V.INDETERMINATE}
    for name, report in made.items():
        assert report.indication == expected[name], (name, report.message)
    assert any(c.details for r in made.values() for c in r.signatures)  # there is English to keep out
    out = {}
    for name, report in made.items():
        data = report.to_dict()
        data["stored"] = None
        out[name] = data
    return out


def _english(text: str, report: dict | None = None) -> list[str]:
    """English words of `text`, once the file's own identifiers (field names such as pyHanko's
    « Timestamp-1f3… ») are taken out: they are data, shown as the file has them."""
    for check in (report or {}).get("signatures", ()):
        text = text.replace(check["field"], " ")
    return sorted({m.group(0) for m in ENGLISH.finditer(text)})


def test_the_html_report_has_english_only_in_its_technical_notes(cases):
    english_in_notes = False
    for name, report in cases.items():
        page = reports.report_html(report)
        technical = re.findall(r'<div class="technical".*?</div>', page, flags=re.S)
        english_in_notes |= any(_english(html.unescape(t)) for t in technical)
        body = re.sub(r'<div class="technical".*?</div>|<style.*?</style>', "", page, flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", " ", body))
        assert not _english(text, report), (name, _english(text, report))
    assert english_in_notes  # pyHanko's words are kept, where they belong


def _outside_technical_notes(text: str) -> str:
    parts = text.split("Détails techniques")
    kept = [parts[0]]
    for part in parts[1:]:
        end = TECHNICAL_END.search(part)
        kept.append(part[end.start():] if end else "")
    return "".join(kept)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_the_pdf_report_has_english_only_in_its_technical_notes(cases, pool, tmp_path):
    for name in ("révocation-à-fournir", "plage-anormale"):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(reports.report_pdf(cases[name], pool))
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              timeout=60, check=True).stdout
        assert "Détails techniques" in text and _english(text), name  # the technical notes are there, in English
        outside = _outside_technical_notes(text)
        assert not _english(outside, cases[name]), (name, _english(outside, cases[name]))


def test_the_sentences_of_every_report_are_french(cases):
    for name, report in cases.items():
        for sentence in [report["message"]] + [c["message"] for c in report["signatures"]]:
            assert not _english(sentence), (name, sentence)
            assert not re.search(r"\d\d:\d\d:\d\d", sentence), sentence  # « 14 h 05 min 09 s, heure de Paris »
