"""The evidence bundle engine alone: a PDF signed here by pyHanko (B-LT, then a document timestamp), a
small audit chain, an anchor; the ZIP's manifest, determinism, event hashes, timestamps and LISEZMOI."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile

import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers

from signing import audit, evidence, pades, pki
from signing.errors import TimestampError

PEM = serialization.Encoding.PEM
T0 = dt.datetime(2027, 1, 12, 13, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def authority():
    return pki.create_authority("Atelier Lumière", b"secret", crl_url="http://127.0.0.1:9/pki/crl")


@pytest.fixture(scope="module")
def stamper(authority):
    return pki.LocalTimeStamper(authority)


def _blank_pdf() -> bytes:
    writer = PdfFileWriter()
    box = generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)])
    writer.insert_page(generic.DictionaryObject({generic.pdf_name("/Type"): generic.pdf_name("/Page"),
                                                 generic.pdf_name("/MediaBox"): box}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def pdfs(authority, stamper):
    """(blank, signed B-LT, sealed with a document timestamp)."""
    blank = _blank_pdf()
    validation = pades.ValidationInputs((authority.root_certificate,), crls=authority.crls)
    credentials = pki.issue_signer_certificate(authority, name="François Rousseau", email="f.rousseau@atelier.fr",
                                               role="Chef d'atelier")
    meta = signers.PdfSignatureMetadata(field_name="signature_manager", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES, embed_validation_info=True,
                                        validation_context=validation.context())
    signed = signers.PdfSigner(meta, signer=credentials.signer(), timestamper=stamper).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(blank))).getvalue()
    return blank, signed, pades.seal(signed, stamper, validation)


@pytest.fixture(scope="module")
def chain():
    """Four events; the third is about another subject and stays out of the bundle."""
    first = audit.Event.new(None, "document.generated", T0, subject_type="document", subject_id="7", actor="RH",
                            data={"version": 1, "matricule": "E0003", "nom": "Moussa N’Diaye « test »\n"})
    second = audit.Event.new(first, "signature_request.created", T0 + dt.timedelta(seconds=1),
                             subject_type="signature_request", subject_id="3", actor="token:1",
                             data={"signers": [{"name": "François Rousseau"}], "prepared_version": 2})
    other = audit.Event.new(second, "document.generated", T0 + dt.timedelta(seconds=2), subject_type="document",
                            subject_id="8", actor="RH", data={})
    last = audit.Event.new(other, "completed", T0 + dt.timedelta(seconds=3), subject_type="signature_request",
                           subject_id="3", actor="system", data={"version": 3, "level": "PAdES-B-LTA"},
                           ip="127.0.0.1", user_agent="pytest")
    return first, second, other, last


class CachingStamper:
    """The same token for the same digest (a real one, from the local TSA): builds become comparable."""

    def __init__(self, inner):
        self.inner, self.tokens = inner, {}

    def timestamp(self, digest: bytes) -> bytes:
        if digest not in self.tokens:
            self.tokens[digest] = asyncio.run(self.inner.async_timestamp(digest, "sha256")).dump()
        return self.tokens[digest]


@pytest.fixture(scope="module")
def inputs(authority, stamper, pdfs, chain):
    blank, signed, sealed = pdfs
    first, second, _, last = chain
    anchor_token = asyncio.run(stamper.async_timestamp(audit.anchor_digest(last.hash), "sha256")).dump()
    return evidence.BundleInputs(
        request_id=3,
        versions=((3, "sealed", T0, sealed), (1, "generated", T0, blank), (2, "signed", T0, signed)),
        events=(first, second, last), anchors=(audit.ChainAnchor(last.sequence, last.hash, anchor_token),),
        report_json=b'{"indication": "TOTAL_PASSED"}\n', report_pdf=b"%PDF-1.7 rapport",
        root_pem=authority.root_certificate.public_bytes(PEM), ca_pem=authority.ca_certificate.public_bytes(PEM),
        tsa_pem=authority.tsa_certificate.public_bytes(PEM), root_crl=authority.root_crl, ca_crl=authority.ca_crl,
        request_json=b'{"id": 3}\n', organisation="Atelier Lumière", created_at=T0)


@pytest.fixture(scope="module")
def bundle(inputs, stamper) -> bytes:
    return evidence.build_bundle(inputs, stamper)


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename.split("/", 1)[1]: archive.read(info) for info in archive.infolist()}


def _commands(files: dict[str, bytes]) -> list[str]:
    return [line[2:] for line in files["LISEZMOI.txt"].decode("utf-8").splitlines() if line.startswith("$ ")]


def test_the_manifest_lists_every_other_file_with_its_sha256(bundle):
    files = _files(bundle)
    listed = {}
    for line in files["MANIFEST.sha256"].decode("ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(files) - {"MANIFEST.sha256", "MANIFEST.sha256.tsr"}
    assert all(hashlib.sha256(files[name]).hexdigest() == digest for name, digest in listed.items())
    assert list(listed) == sorted(listed)


def test_the_manifest_is_timestamped_by_a_granted_response(bundle):
    files = _files(bundle)
    response = tsp.TimeStampResp.load(files["MANIFEST.sha256.tsr"])
    assert response["status"]["status"].native == "granted"
    imprint = audit.anchor_imprint(files["MANIFEST.sha256.tsr"])
    assert imprint.hash_algorithm == "sha256"
    assert imprint.hashed_message == hashlib.sha256(files["MANIFEST.sha256"]).digest()


def test_the_layout_holds_every_part_of_the_evidence(bundle):
    names = set(_files(bundle))
    expected = {"LISEZMOI.txt", "final.pdf", "demande.json", "versions/v1-generated.pdf", "versions/v2-signed.pdf",
                "versions/v3-sealed.pdf", "audit/events.jsonl", "audit/anchors.json", "audit/anchors/ancre-00000004.tst",
                "report/rapport.json", "report/rapport.pdf", "pki/racine.pem", "pki/ac.pem", "pki/tsa.pem",
                "pki/racine.crl", "pki/ac.crl", "timestamps/1-signature_manager.tst",
                "timestamps/1-signature_manager.signature"}
    assert expected <= names
    assert any(re.fullmatch(r"timestamps/2-Timestamp-[\w-]+\.tst", n) for n in names)
    assert any(n.startswith("pki/pdf/Francois-Rousseau-") and n.endswith(".pem") for n in names)
    assert sum(1 for n in names if n.startswith("pki/pdf/crl-")) >= 2
    assert "pki/autres-racines.pem" not in names


def test_the_final_pdf_is_the_highest_version(bundle, pdfs):
    files = _files(bundle)
    assert files["final.pdf"] == files["versions/v3-sealed.pdf"] == pdfs[2]


def test_entries_are_sorted_under_one_folder_with_a_fixed_date(bundle):
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and all(n.startswith("preuves-demande-3/") for n in names)
    assert {i.date_time for i in infos} == {evidence.ZIP_DATE}
    assert {i.external_attr >> 16 for i in infos} == {0o644}


def test_the_same_inputs_give_the_same_zip_and_only_the_manifest_token_changes(inputs, stamper):
    caching = CachingStamper(stamper)
    assert evidence.build_bundle(inputs, caching) == evidence.build_bundle(inputs, caching)
    one, two = _files(evidence.build_bundle(inputs, stamper)), _files(evidence.build_bundle(inputs, stamper))
    assert [n for n in one if one[n] != two[n]] == ["MANIFEST.sha256.tsr"]


def test_each_event_line_is_its_canonical_json_and_its_hash_recomputes(bundle, chain):
    lines = _files(bundle)["audit/events.jsonl"].decode("utf-8").splitlines()
    assert len(lines) == 3
    for line, event in zip(lines, (chain[0], chain[1], chain[3])):
        data = json.loads(line)
        assert audit.canonical_json(data).decode("utf-8") == line
        recorded = data.pop("hash")
        assert recorded == event.hash and data["prev_hash"] == event.prev_hash
        assert hashlib.sha256(audit.canonical_json(data)).hexdigest() == recorded
        assert audit.Event(**{k: v for k, v in data.items() if k != "v"}, hash=recorded).expected_hash() == recorded
        # What LISEZMOI.txt tells the auditor to run gives the same bytes as the canonical JSON.
        plain = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert plain == audit.canonical_json(data)


def test_the_readme_hash_check_passes_and_catches_an_edited_event(bundle, tmp_path):
    files = _files(bundle)
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "events.jsonl").write_bytes(files["audit/events.jsonl"])
    command = next(c for c in _commands(files) if c.startswith("python3 -c "))
    code = command[len("python3 -c '"):-1]
    ok = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "3 événements ; empreintes fausses : aucune ; liens rompus : aucun" in ok.stdout
    edited = files["audit/events.jsonl"].replace(b'"actor":"system"', b'"actor":"mallory"')
    (tmp_path / "audit" / "events.jsonl").write_bytes(edited)
    caught = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert caught.returncode == 1 and "empreintes fausses : [4]" in caught.stdout


def test_the_pdf_timestamps_are_extracted_with_what_they_timestamp(bundle):
    files = _files(bundle)
    signature = audit.anchor_imprint(files["timestamps/1-signature_manager.tst"])
    assert signature.hashed_message == hashlib.sha256(files["timestamps/1-signature_manager.signature"]).digest()
    (command,) = [c for c in _commands(files) if c.startswith("( head")]
    first, start, length = map(int, re.match(r"\( head -c (\d+) final\.pdf; tail -c \+(\d+) final\.pdf \| head -c (\d+) \)",
                                             command).groups())
    pdf = files["final.pdf"]
    covered = pdf[:first] + pdf[start - 1:start - 1 + length]
    name = re.search(r"-in (timestamps/\S+\.tst)", command).group(1)
    assert audit.anchor_imprint(files[name]).hashed_message == hashlib.sha256(covered).digest()


def test_anchors_are_bare_tokens_on_a_head_of_the_bundle(bundle, chain, inputs, stamper):
    files = _files(bundle)
    (described,) = json.loads(files["audit/anchors.json"])
    assert described["sequence"] == 4 and described["head_hash"] == chain[3].hash and described["event_in_bundle"]
    assert audit.check_anchor(audit.ChainAnchor(4, chain[3].hash, files[described["token"]]))
    # A stored TimeStampResp is written as its token; an anchor past the bundle's events is said to be.
    response = tsp.TimeStampResp({"status": {"status": "granted"},
                                  "time_stamp_token": tsp.TimeStampResp.load(files["MANIFEST.sha256.tsr"])["time_stamp_token"]})
    from dataclasses import replace
    other = replace(inputs, events=inputs.events[:2], anchors=(audit.ChainAnchor(3, chain[2].hash, response.dump()),))
    out = _files(evidence.build_bundle(other, stamper))
    (described,) = json.loads(out["audit/anchors.json"])
    assert not described["event_in_bundle"] and out[described["token"]].startswith(b"\x30")
    assert audit.anchor_imprint(out[described["token"]]).serial_number
    assert "il porte sur un autre sujet" in out["LISEZMOI.txt"].decode()


def test_every_file_named_in_a_readme_command_is_in_the_bundle(bundle):
    files = _files(bundle)
    commands = _commands(files)
    assert any(c.startswith("sha256sum -c MANIFEST.sha256") for c in commands)
    assert any(c.startswith("openssl ts -verify -in MANIFEST.sha256.tsr -data MANIFEST.sha256") for c in commands)
    assert any(c.startswith("pdfsig -nssdir sql:nss final.pdf") for c in commands)
    assert any(c.startswith("parcours verify final.pdf") for c in commands)
    for command in commands:
        if command.startswith("python3 -c"):
            continue
        for word in re.findall(r"[\w./-]+\.(?:pdf|pem|crl|tst|tsr|signature|sha256|jsonl)\b", command):
            assert word in files, f"{word} (in « {command} ») is not in the bundle"


def test_impossible_inputs_are_refused(inputs):
    from dataclasses import replace

    with pytest.raises(evidence.EvidenceError):
        replace(inputs, versions=())
    with pytest.raises(evidence.EvidenceError):
        replace(inputs, versions=((1, "generated", T0, b"%PDF-1"), (1, "signed", T0, b"%PDF-2")))
    with pytest.raises(evidence.EvidenceError):
        replace(inputs, versions=((1, "generated", T0, b"not a pdf"),))
    with pytest.raises(evidence.EvidenceError):
        replace(inputs, events=tuple(reversed(inputs.events)))
    with pytest.raises(evidence.EvidenceError):
        replace(inputs, root_pem=b"")


def test_a_token_for_another_digest_is_refused(inputs, stamper):
    class Wrong:
        def timestamp(self, digest: bytes) -> bytes:
            return asyncio.run(stamper.async_timestamp(hashlib.sha256(b"autre").digest(), "sha256")).dump()

    class Down:
        def timestamp(self, digest: bytes) -> bytes:
            raise ConnectionError("TSA injoignable")

    with pytest.raises(TimestampError, match="another digest"):
        evidence.build_bundle(inputs, Wrong())
    with pytest.raises(TimestampError, match="TSA injoignable"):
        evidence.build_bundle(inputs, Down())
