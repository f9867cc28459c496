"""API tokens: random, shown once, stored as their sha256; each carries one role."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.models import ApiToken, utcnow

ROLES = ("hr", "manager", "auditor", "admin")
"""The roles of people and tokens: RH, manager (their team only), auditor, administrator."""
TOKEN_PREFIX = "prc_"


def hash_token(token: str) -> str:
    """The sha256 kept in place of a secret given out once (API tokens, signing links, codes)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, role: str, label: str, user_id: int | None = None) -> tuple[str, ApiToken]:
    """Return the token (to show once) and its stored record; with `user_id`, a personal token acting as
    that user (with `role` only), else a service account named by `label`."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if not label.strip():
        raise ValueError("a token needs a label saying who or what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(label=label.strip(), role=role, token_hash=hash_token(token), prefix=token[:10],
                      user_id=user_id)
    session.add(record)
    session.flush()
    return token, record


def revoke_token(session: Session, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise LookupError(f"no token {token_id}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live record of a presented token, or None (unknown or revoked)."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return record if record is not None and record.revoked_at is None else None
