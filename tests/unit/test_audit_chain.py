"""The audit chain engine: canonical JSON, linking, every kind of break found at the right event, anchors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from asn1crypto import cms, tsp

from signing import audit
from signing.audit import GENESIS, AnchorError, CanonicalJSONError, ChainAnchor, Event

T0 = dt.datetime(2027, 1, 12, 13, 30, tzinfo=dt.timezone.utc)


def fake_token(digest: bytes, *, algorithm: str = "sha256", response: bool = False, status: str = "granted") -> bytes:
    """An unsigned but well-formed RFC 3161 token (or TimeStampResp) for `digest`: deterministic."""
    info = tsp.TSTInfo({"version": "v1", "policy": "1.2.3.4", "serial_number": 7, "gen_time": T0,
                        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}})
    signed = cms.SignedData({"version": "v3", "digest_algorithms": [], "signer_infos": [],
                             "encap_content_info": {"content_type": "tst_info", "content": info}})
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    if response:
        return tsp.TimeStampResp({"status": {"status": status}, "time_stamp_token": token}).dump()
    return token.dump()


def make_chain(n: int) -> list[Event]:
    events: list[Event] = []
    for i in range(n):
        events.append(Event.new(events[-1] if events else None, "document.generated", T0 + dt.timedelta(seconds=i),
                                subject_type="document", subject_id=str(i + 1), actor="rh@example.com",
                                data={"pdf_sha256": hashlib.sha256(str(i).encode()).hexdigest(), "version": 1}))
    return events


# --- canonical JSON ---------------------------------------------------------------------------------

def test_canonical_json_sorts_keys_and_drops_whitespace():
    assert audit.canonical_json({"b": 1, "a": [True, None, "x"], "c": {"z": 0, "y": -3}}) == \
        b'{"a":[true,null,"x"],"b":1,"c":{"y":-3,"z":0}}'


def test_canonical_json_writes_utf8_and_escapes_like_jcs():
    assert audit.canonical_json({"nom": "Élodie « Fourvière »"}) == '{"nom":"Élodie « Fourvière »"}'.encode()
    assert audit.canonical_json("a\"b\\c\n\t\x01\x7f\u2028") == b'"a\\"b\\\\c\\n\\t\\u0001\x7f\xe2\x80\xa8"'


def test_canonical_json_sorts_keys_by_utf16_code_units_as_rfc_8785_does():
    # U+1F600 is D83D DE00 in UTF-16, before U+FB01 (ﬁ); code point order would say the opposite.
    assert audit.canonical_json({"\ufb01": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb01":1}'.encode()


def test_canonical_json_is_what_json_dumps_gives_on_simple_data():
    value = {"z": [1, 2, {"b": "é", "a": None}], "a": "x"}
    assert audit.canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False).encode()


@pytest.mark.parametrize("value", [1.5, {"a": 0.1}, [float("nan")], {1: "x"}, 2**53, b"bytes", {"t": T0}])
def test_canonical_json_refuses_floats_big_integers_and_non_json_values(value):
    with pytest.raises(CanonicalJSONError):
        audit.canonical_json(value)


def test_canonical_json_refuses_lone_surrogates():
    with pytest.raises(CanonicalJSONError):
        audit.canonical_json("\ud800")


# --- linking ----------------------------------------------------------------------------------------

def test_the_first_event_follows_genesis_and_each_next_one_its_predecessor():
    events = make_chain(3)
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash


def test_the_hash_is_sha256_of_the_canonical_json_of_every_field():
    event = make_chain(1)[0]
    body = {"v": 1, "sequence": 1, "time": "2027-01-12T13:30:00.000000Z", "type": "document.generated",
            "subject_type": "document", "subject_id": "1", "actor": "rh@example.com", "ip": None,
            "user_agent": None, "data": dict(event.data), "prev_hash": GENESIS}
    assert event.hash == hashlib.sha256(audit.canonical_json(body)).hexdigest()


@pytest.mark.parametrize("change", [
    {"sequence": 2}, {"type": "signed"}, {"time": "2027-01-12T13:30:00.000001Z"}, {"subject_id": "9"},
    {"subject_type": "batch"}, {"actor": "x"}, {"ip": "10.0.0.1"}, {"user_agent": "curl"},
    {"data": {"version": 2}}, {"prev_hash": "f" * 64}])
def test_every_field_is_covered_by_the_hash(change):
    event = make_chain(1)[0]
    fields = {"prev_hash": event.prev_hash, "sequence": event.sequence, "type": event.type, "time": event.time,
              "subject_type": event.subject_type, "subject_id": event.subject_id, "actor": event.actor,
              "data": event.data, "ip": event.ip, "user_agent": event.user_agent}
    assert audit.link(**{**fields, **change}) != event.hash


def test_time_is_written_in_utc_whatever_the_zone_given():
    paris = dt.timezone(dt.timedelta(hours=1))
    assert audit.format_time(dt.datetime(2027, 1, 12, 14, 30, tzinfo=paris)) == "2027-01-12T13:30:00.000000Z"
    assert audit.format_time(dt.datetime(2027, 1, 12, 13, 30)) == "2027-01-12T13:30:00.000000Z"


# --- verification -----------------------------------------------------------------------------------

def test_an_intact_chain_verifies_with_its_count_and_head():
    events = make_chain(5)
    report = audit.verify(events)
    assert report.ok and report.count == 5 and report.head_hash == events[-1].hash and report.head_sequence == 5
    assert report.message == f"chaîne intacte : 5 événements, tête {events[-1].hash}"


def test_an_empty_chain_is_intact():
    report = audit.verify([])
    assert report.ok and report.count == 0 and report.head_hash == GENESIS


def test_an_edited_event_breaks_the_chain_at_that_event():
    events = make_chain(5)
    events[2] = dataclasses.replace(events[2], data={**events[2].data, "pdf_sha256": "0" * 64})
    report = audit.verify(events)
    assert not report.ok and report.broken_sequence == 3 and report.reason == "hash"
    assert report.head_sequence == 2 and report.head_hash == events[1].hash
    assert "n° 3" in report.message


def test_an_edited_event_whose_hash_was_recomputed_breaks_the_next_link():
    events = make_chain(5)
    forged = Event.new(events[1], "document.generated", T0, data={"forged": True})
    events[2] = forged
    report = audit.verify(events)
    assert not report.ok and report.broken_sequence == 4 and report.reason == "prev_hash"


def test_a_deleted_event_is_a_gap_named_by_the_missing_number():
    events = make_chain(5)
    del events[1]
    report = audit.verify(events)
    assert not report.ok and report.broken_sequence == 2 and report.reason == "gap"


def test_a_duplicated_or_reordered_event_is_out_of_order():
    events = make_chain(4)
    report = audit.verify([events[0], events[1], events[1], events[2]])
    assert not report.ok and report.broken_sequence == 2 and report.reason == "order"
    report = audit.verify([events[0], events[2], events[1]])
    assert not report.ok and report.reason == "gap" and report.broken_sequence == 2


def test_a_chain_not_starting_at_genesis_is_broken_at_its_first_event():
    events = make_chain(3)
    report = audit.verify([dataclasses.replace(events[0], prev_hash="a" * 64)])
    assert not report.ok and report.broken_sequence == 1 and report.reason == "prev_hash"


def test_an_event_with_a_float_is_unreadable_not_a_crash():
    events = make_chain(2)
    events[1] = dataclasses.replace(events[1], data={"x": 1.5})
    report = audit.verify(events)
    assert not report.ok and report.reason == "unreadable" and report.broken_sequence == 2


def test_verify_reads_a_stream_and_stops_at_the_first_break():
    events = make_chain(4)
    events[1] = dataclasses.replace(events[1], actor="mallory")
    seen = []

    def stream():
        for event in events:
            seen.append(event.sequence)
            yield event

    assert audit.verify(stream()).broken_sequence == 2
    assert seen == [1, 2]


# --- anchors ----------------------------------------------------------------------------------------

def test_the_anchor_digest_is_the_head_hash_itself():
    head = make_chain(2)[-1].hash
    assert audit.anchor_digest(head) == bytes.fromhex(head)
    with pytest.raises(ValueError):
        audit.anchor_digest("abcd")


def test_an_anchor_token_is_checked_against_the_head_hash():
    head = make_chain(2)[-1]
    for token in (fake_token(bytes.fromhex(head.hash)), fake_token(bytes.fromhex(head.hash), response=True)):
        imprint = audit.check_anchor(ChainAnchor(2, head.hash, token))
        assert imprint.gen_time == T0 and imprint.hash_algorithm == "sha256"
    with pytest.raises(AnchorError, match="not the head"):
        audit.check_anchor(ChainAnchor(2, head.hash, fake_token(b"\x00" * 32)))
    with pytest.raises(AnchorError, match="sha256 expected"):
        audit.check_anchor(ChainAnchor(2, head.hash, fake_token(bytes.fromhex(head.hash), algorithm="sha512")))
    with pytest.raises(AnchorError, match="refused"):
        audit.check_anchor(ChainAnchor(2, head.hash, fake_token(b"", response=True, status="rejection")))
    with pytest.raises(AnchorError, match="unreadable"):
        audit.check_anchor(ChainAnchor(2, head.hash, b"not DER"))


def _anchor(event: Event) -> ChainAnchor:
    return ChainAnchor(event.sequence, event.hash, fake_token(bytes.fromhex(event.hash)))


def test_verify_checks_the_anchors_it_passes():
    events = make_chain(4)
    report = audit.verify(events, [_anchor(events[1]), _anchor(events[3])])
    assert report.ok and report.anchors_checked == 2


def test_an_anchor_on_another_hash_breaks_the_chain_at_its_sequence():
    events = make_chain(4)
    other = make_chain(3)
    wrong = ChainAnchor(3, "e" * 64, fake_token(bytes.fromhex("e" * 64)))
    assert audit.verify(events, [wrong]).reason == "anchor"
    bad_token = ChainAnchor(3, events[2].hash, fake_token(bytes.fromhex(other[0].hash)))
    report = audit.verify(events, [bad_token])
    assert report.reason == "anchor_token" and report.broken_sequence == 3
    assert audit.verify(events, [bad_token], check_tokens=False).ok


def test_a_rewritten_history_is_caught_by_an_earlier_anchor():
    events = make_chain(4)
    anchor = _anchor(events[3])
    rewritten = make_chain(2)
    rewritten += [Event.new(rewritten[-1], "document.generated", T0, data={"rewritten": True})]
    rewritten += [Event.new(rewritten[-1], "document.generated", T0, data={"rewritten": True})]
    report = audit.verify(rewritten, [anchor])
    assert not report.ok and report.reason == "anchor" and report.broken_sequence == 4


def test_a_chain_cut_after_an_anchor_is_reported_truncated():
    events = make_chain(4)
    report = audit.verify(events[:2], [_anchor(events[3])])
    assert not report.ok and report.reason == "truncated" and report.broken_sequence == 3
