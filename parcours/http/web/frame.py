"""The frame of the staff pages: who may open a page, the navigation by role, flash messages, errors in French."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from docgen import formatting
from parcours.errors import DomainError
from parcours.http import auth
from parcours.http.current import services
from parcours.http.problems import HTTP_TEXTS, TABLE, Problem, status_of

bp = Blueprint("frame", __name__, template_folder="pages", static_folder="static", static_url_path="/static/parcours")
FLASH_COOKIE = "parcours_message"


@dataclass(frozen=True)
class Entry:
    endpoint: str
    label: str
    roles: tuple[str, ...]


NAV = (
    Entry("dashboard.index", "Tableau de bord", ("hr", "auditor")),
    Entry("people.index", "Salariés", ("hr", "auditor")),
    Entry("people.due", "Échéances", ("hr", "auditor")),
    Entry("campaign_pages.index", "Campagnes", ("hr",)),
    Entry("campaign_pages.interviews", "Entretiens", ("hr", "auditor")),
    Entry("signature_pages.index", "Signatures", ("hr", "auditor")),
    Entry("models.index", "Modèles", ("hr", "auditor")),
    Entry("audit_pages.index", "Audit", ("hr", "auditor")),
    Entry("admin.index", "Administration", ("admin",)),
    Entry("team.index", "Mes entretiens", ("manager",)),
)
"""The menu: each entry is shown to the roles that may open it (the page itself checks them again)."""


def first_page(roles: tuple[str, ...]) -> str | None:
    """Where a signed-in person lands: the first entry of the menu they may open."""
    return next((url_for(e.endpoint) for e in NAV if set(e.roles) & set(roles)), None)


def page(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator of a staff page: signed in (else to the login page and back), one of `roles`, CSRF on a change;
    a domain error the view lets through is shown in the frame, in French, with its status."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            found = auth.caller() if "Authorization" not in request.headers else None
            if found is None or found.signed_in is None:
                return redirect(url_for("account.login_page", suite=request.full_path.rstrip("?")))
            g.actor, g.roles = found.actor, tuple(found.roles)
            g.caller_user_id = found.signed_in.user.id
            if not set(found.roles) & set(roles):
                return problem_page(Problem(403, "Accès refusé", "Vos rôles ne permettent pas d’ouvrir cette page."))
            try:
                if request.method not in auth.SAFE_METHODS:
                    auth.check_csrf()
                return view(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the ones problems.py knows are shown; others go on to it
                if describe(exc) is None:
                    raise
                return problem_page(exc)

        checked.roles = roles
        return checked

    return decorate


def describe(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """The status and what the pages show of an error (its French title, detail and `errors` rows), as the API
    would say it in problem+json (problems.TABLE); None for an error problems.py does not know."""
    if isinstance(exc, DomainError):
        return status_of(exc), {"title": exc.title, "detail": exc.detail, "errors": list(exc.errors or ())}
    if isinstance(exc, HTTPException) and exc.code in HTTP_TEXTS:  # a file over the size limit (413), say
        title, detail = HTTP_TEXTS[exc.code]
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return exc.code, {"title": title, "detail": detail.format(limit=limit), "errors": []}
    for kind, status, title, extra in TABLE:
        if isinstance(exc, kind):
            return status, {"title": title, "detail": str(exc) or None, "errors": list(extra(exc).get("errors") or ())}
    return None


def problem_page(exc: BaseException) -> tuple[str, int]:
    status, shown = describe(exc) or (500, {"title": "Erreur interne", "detail": None, "errors": []})
    return render("staff/problem.html", problem=shown), status


def render(page_template: str, **context: Any) -> str:
    found = auth.caller()
    roles = tuple(found.roles) if found else ()
    active = request.endpoint or ""
    allowed = [e for e in NAV if set(e.roles) & set(roles)]
    current = next((e for e in allowed if e.endpoint == active), None) or \
        next((e for e in allowed if e.endpoint.split(".")[0] == active.split(".")[0]), None)
    menu = [{"url": url_for(e.endpoint), "label": e.label, "current": e is current} for e in allowed]
    return render_template(page_template, company=services().settings.organisation or "Parcours", menu=menu,
                           person=found.signed_in.user.name if found and found.signed_in else None,
                           csrf=auth.csrf_token(auth.session_cookie() or ""), message=_take_message(), **context)


def _signer() -> URLSafeSerializer:
    # Keyed by the session's own CSRF secret: a message set for one session means nothing in another.
    return URLSafeSerializer(auth.csrf_token(auth.session_cookie() or ""), salt="message")


def done(url: str, message: str, kind: str = "ok") -> Response:
    """Redirect after a change (303), carrying a one-time message for the next page."""
    response = redirect(url, 303)
    response.set_cookie(FLASH_COOKIE, _signer().dumps([kind, message]), max_age=120, httponly=True,
                        secure=services().settings.secure_cookies, samesite="Lax", path="/")
    return response


def _take_message() -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    g.message_read = True
    try:
        kind, text = _signer().loads(raw)
    except (BadSignature, ValueError, TypeError):
        return None
    return {"kind": kind, "text": text}


@bp.after_app_request
def _forget_message(response: Response) -> Response:
    if g.get("message_read"):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# --- French formatting for the templates -------------------------------------------------------------

@bp.app_template_filter("jour")
def _jour(value: dt.date | dt.datetime | str | None) -> str:
    """« 1er mars 2027 »; an ISO text is read first; nothing for None."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    return formatting.date(value)


@bp.app_template_filter("moment")
def _moment(value: dt.datetime | str | None) -> str:
    """« 6 décembre 2026 à 14 h 30 », in the organisation's time zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    local = _local(value)
    return f"{formatting.date(local.date())} à {formatting.heure(local.time())}"


@bp.app_template_filter("heure")
def _heure(value: dt.time | None) -> str:
    """« 14 h 30 »."""
    return formatting.heure(value) if value is not None else "—"


@bp.app_template_filter("nombre")
def _nombre(value: int) -> str:
    return formatting.nombre(value)


def _local(value: dt.datetime) -> dt.datetime:
    zone = ZoneInfo(services().settings.timezone)
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(zone)
