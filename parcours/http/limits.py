"""Rate limits (flask-limiter, in the process's memory), one table for the whole application: sign-in and
reset requests per client address; one-time codes per signing link and per address. Past a limit the
answer is 429 (a page says so in French, the API in problem+json)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _link() -> str:
    return "lien:" + str((request.view_args or {}).get("token", ""))


BY_ADDRESS, BY_LINK = get_remote_address, _link
CODE_SENDS = [("1 per minute;10 per hour", BY_LINK, "code-e-mails-per-link"),
              ("30 per hour", BY_ADDRESS, "code-e-mails-per-address")]
"""A code e-mail a minute for a link, ten an hour, whether asked from the page or the API (one count);
wrong codes are also capped in all by the service (signatures.MAX_WRONG_CODES), which then locks the link."""
LIMITS: dict[str, list[tuple[str, Callable[[], str], str | None]]] = {
    "account.login_submit": [("10 per minute", BY_ADDRESS, None)],
    "account.forgotten_submit": [("5 per minute", BY_ADDRESS, None)],
    "signatures.signer_code": CODE_SENDS,
    "signer.code": CODE_SENDS,
    "signatures.signer_check_code": [("10 per minute", BY_LINK, None), ("60 per hour", BY_ADDRESS, None)],
}
"""Endpoint -> (limit, what it counts by, the count's name when several endpoints share it)."""


def init_app(app: Flask) -> None:
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    for endpoint, limits in LIMITS.items():
        view = app.view_functions[endpoint]
        for limit, key, shared in limits:
            decorate = limiter.shared_limit(limit, scope=shared, key_func=key) if shared else \
                limiter.limit(limit, key_func=key)
            view = decorate(view)
        app.view_functions[endpoint] = view
