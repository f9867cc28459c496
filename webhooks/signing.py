"""Standard Webhooks signatures: HMAC-SHA256 of "id.timestamp.body", base64, "v1," prefixed.

The sender signs with every secret still valid (several during a rotation), separated by spaces;
the receiver accepts the delivery if any signature matches one of its secrets and the timestamp is
within a tolerance (replay protection). Secrets are `whsec_` followed by base64 of random bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as _random
import time
from collections.abc import Iterable, Mapping
from typing import Any

from webhooks.errors import VerificationError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 5 * 60
"""Seconds a receiver accepts between the webhook-timestamp and its own clock, both ways."""


def generate_secret(size: int = 24) -> str:
    """A new signing secret, `whsec_` + base64 of `size` random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(size)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise ValueError("a webhook secret is base64, optionally prefixed with whsec_") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One signature, `v1,<base64 HMAC-SHA256 of msg_id.timestamp.body>`."""
    payload = body.encode() if isinstance(body, str) else body
    digest = hmac.new(_key(secret), f"{msg_id}.{int(timestamp)}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The webhook-signature header: one signature per secret, separated by spaces."""
    signatures = [sign(secret, msg_id, timestamp, body) for secret in secrets]
    if not signatures:
        raise ValueError("at least one secret is needed to sign")
    return " ".join(signatures)


def webhook_headers(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": signature_header(secrets, msg_id, timestamp, body)}


def verify(body: bytes | str, headers: Mapping[str, str], secrets: str | Iterable[str], *,
           tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> Any:
    """Check a received delivery and return its parsed JSON body; raise VerificationError otherwise.

    `headers` may be any mapping (its keys are compared case-insensitively); `secrets` is one secret
    or several (a receiver rotating its own copy). A timestamp further than `tolerance` seconds from
    `now` is refused, so a captured delivery cannot be replayed later.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id, stamp, signatures = (lowered.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not signatures:
        raise VerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise VerificationError(f"webhook-timestamp is not a number: {stamp!r}") from None
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise VerificationError("webhook-timestamp too old")
    if timestamp > now + tolerance:
        raise VerificationError("webhook-timestamp too far in the future")
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    offered = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    for secret in candidates:
        expected = sign(secret, msg_id, timestamp, body)[3:]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return json.loads(body)
    raise VerificationError("no matching signature")
