"""Who is calling: a bearer token (API) or a session cookie (pages, and the API from those pages), the
roles every endpoint names, and CSRF checks on what a cookie is allowed to change.

A cookie rides along with any request the browser makes, a forged one included: a request authenticated
by the session cookie that changes something (POST, PUT, PATCH, DELETE) must carry the session's CSRF
token (form field `csrf_token` or header `X-CSRF-Token`), and its Origin, when the browser sends one,
must be this service's. The token is an HMAC of the session's own secret: nothing to store.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, request
from sqlalchemy.orm import Session

from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import ApiToken, User, utcnow
from parcours.service import users
from parcours.service.audit import Actor
from parcours.service.tokens import find_token

ROLES = users.ROLES
SESSION_COOKIE = "parcours_session"
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_SEEN_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request: who (for the audit trail) and with which roles."""

    actor: Actor
    roles: tuple[str, ...]
    signed_in: users.SignedIn | None = None
    """Set for a session cookie; None for a bearer token."""
    token: ApiToken | None = None
    user: User | None = None
    """The person, signed in or through a personal token; None for a service account."""

    @property
    def matricule(self) -> str | None:
        return self.user.matricule if self.user else None


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"parcours-csrf", hashlib.sha256).hexdigest()


def session_cookie() -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def caller() -> Caller | None:
    """The request's caller, once per request: the bearer token wins over the cookie."""
    if "caller" not in g:
        g.caller = _bearer(db_session(), request.headers.get("Authorization")) \
            if "Authorization" in request.headers else _cookie(db_session())
    return g.caller


def _bearer(session: Session, header: str | None) -> Caller:
    if not header or not header.startswith("Bearer "):
        raise Problem(401, "Authentification requise",
                      "Envoyez un jeton d'API dans l'en-tête « Authorization: Bearer … ».")
    token = find_token(session, header[7:].strip())
    actor = users.token_actor(session, token) if token is not None else None
    if token is None or actor is None:
        raise Problem(401, "Jeton invalide", "Ce jeton est inconnu, a été révoqué, ou son compte est désactivé.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_SEEN_EVERY:
        token.last_used_at = now
        session.commit()
    owner = session.get(User, token.user_id) if token.user_id is not None else None
    return Caller(actor, (token.role,), token=token, user=owner)


def _cookie(session: Session) -> Caller | None:
    signed_in = users.current(session, services().settings, session_cookie())
    if signed_in is None:
        return None
    return Caller(signed_in.actor(), tuple(signed_in.user.roles), signed_in=signed_in, user=signed_in.user)


def authenticate() -> Caller:
    found = caller()
    if found is None:
        raise Problem(401, "Authentification requise",
                      "Connectez-vous, ou envoyez un jeton d'API dans l'en-tête « Authorization: Bearer … ».")
    return found


def check_csrf() -> None:
    """For a cookie-authenticated change: the same origin, and the session's CSRF token."""
    check_origin()
    cookie = session_cookie() or ""
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not cookie or not hmac.compare_digest(sent, csrf_token(cookie)):
        raise Problem(403, "Requête refusée", "Le jeton anti-falsification (CSRF) manque ou ne correspond pas : "
                                              "rechargez la page et recommencez.")


def check_origin() -> None:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin and urlsplit(origin).netloc != request.host:
        raise Problem(403, "Origine refusée", "Cette requête vient d'un autre site : elle est refusée.")


def require(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the caller must hold one of `roles` (a token: its role; a person: any of theirs)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            found = authenticate()
            if not set(found.roles) & set(roles):
                held = ", ".join(found.roles) or "aucun"
                raise Problem(403, "Accès refusé", f"Vos rôles ({held}) ne permettent pas cette action "
                                                   f"(rôles admis : {', '.join(roles)}).")
            if found.signed_in is not None and request.method not in SAFE_METHODS:
                check_csrf()
            g.actor = found.actor
            return view(*args, **kwargs)

        checked.roles = roles  # read by the OpenAPI and role matrix tests: every route declares its roles
        return checked

    return decorate


def set_session_cookie(response: Response, token: str) -> Response:
    settings = services().settings
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True,
                        secure=settings.secure_cookies, samesite="Lax", path="/")
    return response


def clear_session_cookie(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax",
                           secure=services().settings.secure_cookies)
    return response
