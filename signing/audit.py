"""The audit chain: append-only events linked by sha256 over canonical JSON, verified, anchored by timestamps.

Pure engine: plain data in, plain data out; no database, no Flask, no other engine.

Canonical JSON (a strict subset of RFC 8785, JCS)
    Objects with their keys sorted by UTF-16 code units (as JCS sorts), no insignificant whitespace,
    strings escaped as ECMAScript's JSON.stringify does (`"`, `\\`, \\b \\f \\n \\r \\t and other control
    characters as lowercase \\u00xx; everything else literal), encoded as UTF-8. Floats are refused,
    not normalised: the number formatting of JCS is a classic source of disagreement between
    implementations, and an amount or a duration can always be written as an integer (cents, seconds)
    or a string. Integers must lie within ±(2**53 − 1) so that every JCS implementation reads them
    exactly. Keys must be strings; values are None, bool, int, str, list/tuple or dict. On this subset
    the output is byte for byte what RFC 8785 gives.

The link
    hash = sha256(canonical({"v": 1, "sequence", "time", "type", "subject_type", "subject_id", "actor",
    "ip", "user_agent", "data", "prev_hash"})), lowercase hex. The first event's prev_hash is GENESIS
    (64 zeros). `time` is ISO 8601 UTC with microseconds and a Z (`format_time`).

The anchor
    The head event's hash is itself the sha256 of its canonical JSON, so it is used directly as the
    RFC 3161 message imprint (SHA-256): `anchor_digest(head_hash)` is those 32 bytes. An auditor holding
    the exported events and the token recomputes the head and compares it with the token's imprint.
    `anchor_imprint` parses the token (a TimeStampResp or a bare TimeStampToken, DER) and checks the
    imprint; checking the TSA's signature over the token and its certificate path is left to the
    signature validation module (signing/validate.py), which validates timestamps anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _encode_string
from typing import Any, Protocol

GENESIS = "0" * 64
"""The prev_hash of the first event of a chain."""
FORMAT_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """A value that canonical JSON refuses (a float, a non-string key, an unknown type)."""


class AnchorError(ValueError):
    """A timestamp token that cannot be read, or whose imprint is not the expected head hash."""


# --- canonical JSON --------------------------------------------------------------------------------

def _string(text: str) -> str:
    # The standard library's encoder (C-accelerated) escapes exactly what JCS escapes: `"`, `\\`, the
    # short forms \b \f \n \r \t and other control characters as lowercase \u00xx; nothing else.
    return _encode_string(text)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _canonical(value: Any, path: str) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} outside ±(2**53 − 1); write it as a string")
        return str(int(value))
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in audit data ({value!r}); use an integer or a string")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object keys must be strings, not {key!r}")
        # UTF-16 order differs from code point order only above U+FFFF: ASCII keys (nearly all) sort as they are.
        keys = sorted(value) if all(key.isascii() for key in value) else sorted(value, key=_utf16_key)
        return "{" + ",".join(f"{_string(k)}:{_canonical(value[k], f'{path}.{k}')}" for k in keys) + "}"
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON value (see the module docstring); CanonicalJSONError otherwise."""
    try:
        return _canonical(value, "$").encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise CanonicalJSONError(f"text that is not valid Unicode: {exc}") from None


# --- events ----------------------------------------------------------------------------------------

def format_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds: 2027-01-12T13:30:00.000000Z. A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload(prev_hash: str, sequence: int, type: str, time: dt.datetime | str, subject_type: str | None,
            subject_id: str | None, actor: str | None, data: Mapping[str, Any], ip: str | None = None,
            user_agent: str | None = None) -> dict[str, Any]:
    """The object that is hashed: every field of an event but its own hash."""
    return {"v": FORMAT_VERSION, "sequence": sequence, "time": time if isinstance(time, str) else format_time(time),
            "type": type, "subject_type": subject_type, "subject_id": subject_id, "actor": actor, "ip": ip,
            "user_agent": user_agent, "data": dict(data), "prev_hash": prev_hash}


def link(prev_hash: str, sequence: int, type: str, time: dt.datetime | str, subject_type: str | None,
         subject_id: str | None, actor: str | None, data: Mapping[str, Any], ip: str | None = None,
         user_agent: str | None = None) -> str:
    """The hash of an event: sha256 hex of the canonical JSON of all its fields, prev_hash and sequence included."""
    body = payload(prev_hash, sequence, type, time, subject_type, subject_id, actor, data, ip, user_agent)
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class Event:
    """One link of the chain, as stored."""

    sequence: int
    """1, 2, 3… with no gap: a missing number is a deleted event."""
    time: str
    """ISO 8601 UTC (`format_time`)."""
    type: str
    """document.generated, signature_request.created, email.sent, link.opened, code.checked, signed, refused…"""
    subject_type: str | None
    """What the event is about: document, signature_request, batch…"""
    subject_id: str | None
    actor: str | None
    """Who did it: a token label, a signer's email, "system"."""
    data: Mapping[str, Any]
    prev_hash: str
    hash: str
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def new(cls, prev: Event | None, type: str, time: dt.datetime, *, subject_type: str | None = None,
            subject_id: str | None = None, actor: str | None = None, data: Mapping[str, Any] | None = None,
            ip: str | None = None, user_agent: str | None = None) -> Event:
        """The event that follows `prev` (None: the first of the chain), with its hash computed."""
        sequence, prev_hash = (1, GENESIS) if prev is None else (prev.sequence + 1, prev.hash)
        data = dict(data or {})
        stamp = format_time(time)
        digest = link(prev_hash, sequence, type, stamp, subject_type, subject_id, actor, data, ip, user_agent)
        return cls(sequence, stamp, type, subject_type, subject_id, actor, data, prev_hash, digest, ip, user_agent)

    def expected_hash(self) -> str:
        return link(self.prev_hash, self.sequence, self.type, self.time, self.subject_type, self.subject_id,
                    self.actor, self.data, self.ip, self.user_agent)


# --- verification ----------------------------------------------------------------------------------

BREAK_REASONS = {
    "hash": "le contenu de l'événement ne correspond plus à son empreinte (modifié)",
    "prev_hash": "l'empreinte précédente enregistrée ne correspond pas à l'événement précédent",
    "gap": "numéro de séquence manquant (événement supprimé)",
    "order": "numéro de séquence en double ou en arrière",
    "unreadable": "l'événement ne peut pas être relu en JSON canonique",
    "anchor": "l'horodatage de la tête ne correspond pas à cet événement",
    "anchor_token": "le jeton d'horodatage ne porte pas sur l'empreinte de cet événement",
    "truncated": "la chaîne s'arrête avant un événement horodaté (fin de chaîne supprimée)",
}


@dataclass(frozen=True)
class ChainReport:
    """The result of `verify`: data, not an exception."""

    ok: bool
    count: int
    """Events read (up to and including the first broken one)."""
    head_hash: str
    """The hash of the last event read that was intact (GENESIS for an empty chain)."""
    head_sequence: int = 0
    broken_sequence: int | None = None
    """The sequence of the first broken link (for a gap: the first missing number)."""
    reason: str | None = None
    """A key of BREAK_REASONS."""
    detail: str | None = None
    anchors_checked: int = 0

    @property
    def message(self) -> str:
        """A sentence in French for the operator or the auditor."""
        if self.ok:
            return f"chaîne intacte : {self.count} événements, tête {self.head_hash}"
        text = f"chaîne rompue à l'événement n° {self.broken_sequence} : {BREAK_REASONS.get(self.reason or '', self.reason)}"
        return f"{text} ({self.detail})" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "count": self.count, "head_hash": self.head_hash, "head_sequence": self.head_sequence,
                "broken_sequence": self.broken_sequence, "reason": self.reason, "detail": self.detail,
                "anchors_checked": self.anchors_checked, "message": self.message}


@dataclass
class ChainVerifier:
    """Checks events one at a time, so that millions can be streamed; `report()` at the end.

    Anchors (sequence -> the anchors taken at that sequence) are checked as the chain passes them:
    their head hash must be the event's hash and, with `check_tokens`, their token's imprint that
    hash. An anchor beyond the last event means the end of the chain was cut off. The caller may add
    anchors to `anchors` while feeding, as long as they come before the events they cover.
    """

    anchors: dict[int, list[ChainAnchor]] = field(default_factory=dict)
    check_tokens: bool = True
    prev_hash: str = GENESIS
    next_sequence: int = 1
    count: int = 0
    anchors_checked: int = 0
    _broken: ChainReport | None = None

    def add_anchors(self, anchors: Iterable[ChainAnchor]) -> None:
        for anchor in anchors:
            self.anchors.setdefault(anchor.sequence, []).append(anchor)

    @property
    def broken(self) -> bool:
        return self._broken is not None

    def _break(self, sequence: int, reason: str, detail: str | None = None) -> None:
        self._broken = ChainReport(False, self.count, self.prev_hash, self.next_sequence - 1, sequence, reason, detail,
                                   self.anchors_checked)

    def feed(self, event: Event) -> bool:
        """Check the next event; False once the chain is broken (later events are not looked at)."""
        if self._broken is not None:
            return False
        self.count += 1
        if event.sequence < self.next_sequence:
            self._break(event.sequence, "order", f"attendu n° {self.next_sequence}")
            return False
        if event.sequence > self.next_sequence:
            self._break(self.next_sequence, "gap", f"n° {self.next_sequence} attendu, n° {event.sequence} trouvé")
            return False
        if event.prev_hash != self.prev_hash:
            self._break(event.sequence, "prev_hash", f"attendu {self.prev_hash}, enregistré {event.prev_hash}")
            return False
        try:
            expected = event.expected_hash()
        except CanonicalJSONError as exc:
            self._break(event.sequence, "unreadable", str(exc))
            return False
        if expected != event.hash:
            self._break(event.sequence, "hash", f"recalculée {expected}, enregistrée {event.hash}")
            return False
        for anchor in self.anchors.pop(event.sequence, ()):  # passed anchors are dropped: memory stays flat
            if anchor.head_hash != event.hash:
                self._break(event.sequence, "anchor", f"horodaté {anchor.head_hash}, chaîne {event.hash}")
                return False
            if self.check_tokens:
                try:
                    check_anchor(anchor)
                except AnchorError as exc:
                    self._break(event.sequence, "anchor_token", str(exc))
                    return False
            self.anchors_checked += 1
        self.prev_hash, self.next_sequence = event.hash, event.sequence + 1
        return True

    def report(self) -> ChainReport:
        if self._broken is not None:
            return self._broken
        beyond = [s for s in self.anchors if s >= self.next_sequence]
        if beyond:
            first = min(beyond)
            return ChainReport(False, self.count, self.prev_hash, self.next_sequence - 1, self.next_sequence, "truncated",
                               f"un horodatage couvre l'événement n° {first}", self.anchors_checked)
        return ChainReport(True, self.count, self.prev_hash, self.next_sequence - 1, anchors_checked=self.anchors_checked)


def verify(events: Iterable[Event], anchors: Iterable[ChainAnchor] = (), *, check_tokens: bool = True) -> ChainReport:
    """Recompute the chain from its first event; the report names the first broken link and why."""
    verifier = ChainVerifier(check_tokens=check_tokens)
    verifier.add_anchors(anchors)
    for event in events:
        if not verifier.feed(event):
            break
    return verifier.report()


# --- anchoring -------------------------------------------------------------------------------------

class TimeStamper(Protocol):
    """Anything that gets an RFC 3161 token for a SHA-256 digest (a TSA client, the internal TSA, a fake)."""

    def timestamp(self, digest: bytes) -> bytes:
        """The DER TimeStampResp or TimeStampToken whose message imprint is SHA-256 `digest`."""
        ...


def request_token(timestamper: Any, digest: bytes) -> bytes:
    """A DER token (or response) for a SHA-256 digest, from a `TimeStamper` or a pyHanko TimeStamper."""
    if hasattr(timestamper, "timestamp"):
        token = timestamper.timestamp(digest)
    elif hasattr(timestamper, "async_timestamp"):  # pyHanko's TimeStamper (signing.pki.LocalTimeStamper…)
        import asyncio

        token = asyncio.run(timestamper.async_timestamp(digest, "sha256"))
    else:
        raise TypeError(f"{type(timestamper).__name__} cannot timestamp")
    return token if isinstance(token, bytes) else token.dump()


@dataclass(frozen=True)
class ChainAnchor:
    """The head of the chain at `sequence`, timestamped by a TSA."""

    sequence: int
    head_hash: str
    token: bytes
    """RFC 3161 TimeStampResp or TimeStampToken, DER."""
    time: dt.datetime | None = None
    """The token's genTime."""


def anchor_digest(head_hash: str) -> bytes:
    """The 32 bytes to timestamp (SHA-256 imprint) for a head hash: the hash itself, decoded."""
    digest = bytes.fromhex(head_hash)
    if len(digest) != 32:
        raise ValueError("a head hash is 64 hex digits (sha256)")
    return digest


@dataclass(frozen=True)
class Imprint:
    """What a token says it timestamped."""

    hash_algorithm: str
    hashed_message: bytes
    gen_time: dt.datetime
    serial_number: int


def anchor_imprint(token: bytes) -> Imprint:
    """Read the TSTInfo of a TimeStampResp or TimeStampToken (DER). The TSA's signature is NOT checked here."""
    from asn1crypto import cms, tsp

    try:
        content_info: Any = None
        try:
            response = tsp.TimeStampResp.load(token)
            status = response["status"]["status"].native
            if status not in ("granted", "granted_with_mods"):
                raise AnchorError(f"the TSA refused the request ({status})")
            content_info = response["time_stamp_token"]
        except AnchorError:
            raise
        except Exception:  # noqa: BLE001 - not a response: try a bare token
            content_info = cms.ContentInfo.load(token)
        if content_info["content_type"].native != "signed_data":
            raise AnchorError("the token is not CMS SignedData")
        encap = content_info["content"]["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise AnchorError("the token does not hold a TSTInfo")
        info = encap["content"].parsed
        imprint = info["message_imprint"]
        return Imprint(imprint["hash_algorithm"]["algorithm"].native, imprint["hashed_message"].native,
                       info["gen_time"].native, info["serial_number"].native)
    except AnchorError:
        raise
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises ValueError, TypeError, KeyError…
        raise AnchorError(f"unreadable timestamp token: {type(exc).__name__}: {exc}") from None


def check_anchor(anchor: ChainAnchor) -> Imprint:
    """The anchor's token timestamps its head hash (SHA-256 imprint); AnchorError otherwise."""
    imprint = anchor_imprint(anchor.token)
    if imprint.hash_algorithm != "sha256":
        raise AnchorError(f"imprint algorithm {imprint.hash_algorithm}, sha256 expected")
    if imprint.hashed_message != anchor_digest(anchor.head_hash):
        raise AnchorError(f"the token timestamps {imprint.hashed_message.hex()}, not the head {anchor.head_hash}")
    return imprint
