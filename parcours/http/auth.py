"""Who is calling: the bearer token of each request, and the roles every endpoint names."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request
from sqlalchemy.orm import Session

from parcours.http.current import db_session
from parcours.http.problems import Problem
from parcours.models import ApiToken
from parcours.service.tokens import ROLES, find_token


def authenticate(session: Session, header: str | None) -> ApiToken:
    if not header or not header.startswith("Bearer "):
        raise Problem(401, "Authentification requise",
                      "Envoyez un jeton d'API dans l'en-tête « Authorization: Bearer … ».")
    record = find_token(session, header[7:].strip())
    if record is None:
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
            token = authenticate(db_session(), request.headers.get("Authorization"))
            if token.role not in roles:
                raise Problem(403, "Accès refusé",
                              f"Le rôle « {token.role} » ne permet pas cette action (rôles admis : {', '.join(roles)}).")
            g.token = token
            return view(*args, **kwargs)

        checked.roles = roles  # read by the OpenAPI test: every route declares its roles
        return checked

    return decorate
