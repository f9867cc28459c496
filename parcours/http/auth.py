"""API tokens and roles: tokens are random, shown once, stored as sha256; every endpoint names its roles."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.models import ApiToken, utcnow
from parcours.problems import Problem

ROLES = ("hr", "auditor", "admin")
TOKEN_PREFIX = "prc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, role: str, label: str) -> tuple[str, ApiToken]:
    """Return the token (to show once) and its stored record."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if not label.strip():
        raise ValueError("a token needs a label saying who or what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(label=label.strip(), role=role, token_hash=hash_token(token), prefix=token[:10])
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


def authenticate(session: Session, header: str | None) -> ApiToken:
    if not header or not header.startswith("Bearer "):
        raise Problem(401, "Authentification requise",
                      "Envoyez un jeton d'API dans l'en-tête « Authorization: Bearer … ».")
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(header[7:].strip())))
    if record is None or record.revoked_at is not None:
        raise Problem(401, "Jeton invalide", "Ce jeton est inconnu ou a été révoqué.")
    return record


def require(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the request must carry a valid token of one of `roles`."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            from parcours.app import services

            token = authenticate(services().session(), request.headers.get("Authorization"))
            if token.role not in roles:
                raise Problem(403, "Accès refusé",
                              f"Le rôle « {token.role} » ne permet pas cette action (rôles admis : {', '.join(roles)}).")
            g.token = token
            return view(*args, **kwargs)

        checked.roles = roles  # read by the OpenAPI test: every route declares its roles
        return checked

    return decorate
