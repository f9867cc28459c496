"""Everything Flask: JSON and errors, the API (api/), the pages (web/), authentication (auth.py).

A new page is a view in the blueprint of its area under web/ (its template in web/pages/<area>/); a new
API resource is a module under api/ with its `bp` and `OPENAPI`, named once in api.RESOURCES."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, IntegerConverter

from parcours.container import Services
from parcours.http import api, current, limits, problems, web
from parcours.http.api._common import MAX_ID


class IsoJSONProvider(DefaultJSONProvider):
    """JSON answers in UTF-8 with keys in their order, and dates in ISO 8601 (Flask's default is
    the HTTP date format, which no API client expects)."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:  # JSON nested thousands deep: a bad request (400), not a crash
            raise ValueError("JSON trop imbriqué") from None

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, (dt.date, dt.time)):
            return value.isoformat()
        return DefaultJSONProvider.default(value)


CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-src 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
"""No inline script (a reflected or stored script cannot run); inline styles only (the pages and the
verification report carry their CSS); nothing from elsewhere; never framed by another site."""


def security_headers(response: Response) -> Response:
    """On every answer: the pages' policy, no framing, no sniffing, no referrer unless a page asks for one."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    return response


class IdConverter(IntegerConverter):
    """`<int:…>` in a route: an id beyond what a table holds is not found (404), never sent to the database.
    (A converter's refusal would make Werkzeug try the other routes and answer 405 for `PATCH /users/9…9`.)"""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number


class MatriculeConverter(BaseConverter):
    """`<matricule:…>`: any path segment but « import », which names the import (so that `Allow` on
    /api/v1/employees/import says POST only, not GET)."""

    regex = r"(?!import(?:/|$))[^/]+"


def init_app(app: Flask, services: Services) -> None:
    app.extensions[current.EXTENSION] = services
    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.url_map.converters["matricule"] = MatriculeConverter
    app.config["MAX_CONTENT_LENGTH"] = services.settings.max_upload_bytes
    app.json = IsoJSONProvider(app)
    app.teardown_appcontext(current.close_db_session)
    app.after_request(security_headers)
    problems.init_app(app)
    api.init_app(app)
    web.init_app(app)
    limits.init_app(app)
