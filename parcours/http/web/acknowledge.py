"""The acknowledgement page: « J'ai bien reçu ma convocation », one click, by the personal link of the e-mail.
The link token is the credential; a GET only shows the page (mail scanners open links), the button records."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request, url_for

from docgen import formatting
from parcours.errors import DomainError
from parcours.http.current import services
from parcours.http.problems import status_of
from parcours.service import convocations

bp = Blueprint("acknowledge", __name__, template_folder="pages")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _render(token: str, view: dict, *, status: int = 200, just_done: bool = False) -> tuple[str, int]:
    moment = view["acknowledged_at"]
    when = None
    if moment is not None:
        local = moment.astimezone(ZoneInfo(services().settings.timezone))
        when = f"{formatting.date(local.date())} à {formatting.heure(local.time())}"
    return render_template("acknowledge/page.html", company=services().settings.organisation or "Parcours",
                           view=view, acknowledged=when, just_done=just_done,
                           action=url_for("acknowledge.submit", token=token)), status


def _failure(exc: DomainError) -> tuple[str, int]:
    return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                           heading=exc.title, message=exc.detail), status_of(exc)


@bp.get("/convocation/<token>")
def show(token: str):
    try:
        return _render(token, convocations.acknowledgement(services(), token))
    except DomainError as exc:
        return _failure(exc)


@bp.post("/convocation/<token>")
def submit(token: str):
    try:
        view = convocations.acknowledge(services(), token, ip=request.remote_addr,
                                        user_agent=request.headers.get("User-Agent"))
    except DomainError as exc:
        return _failure(exc)
    return _render(token, view, just_done=True)


