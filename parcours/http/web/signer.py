"""The signing page (server-rendered HTML, in French, under the organisation's name): the document's pages as
images and the PDF itself, the employee's comments, consent, « Signer » and « Refuser de signer » (confirmed
on a second page); and the employee's download link to his copy. The link token is the credential; the work
is done by parcours.service.signatures and parcours.service.copies, the same as the JSON API."""

from __future__ import annotations

import datetime as dt
import hmac
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request, url_for
from werkzeug.exceptions import TooManyRequests

from docgen import formatting
from parcours.errors import DomainError
from parcours.http import auth
from parcours.http.current import services
from parcours.http.problems import status_of
from parcours.service import copies, signatures

bp = Blueprint("signer", __name__, template_folder="pages")
ROLE_LABELS = {"manager": "responsable de l'entretien", "salarie": "salarié(e)"}
PAGE_DPI = 110


@bp.after_request
def _no_store(response: Response) -> Response:
    # The link is the credential and the document is personal: no cache keeps a page (images set their own).
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def form_token(link: str) -> str:
    """The anti-forgery token of a link's forms: tied to the link (itself the credential), so a page of
    one link cannot post for another, and a site without the link cannot make one."""
    return auth.csrf_token(f"signer:{link}")


@bp.context_processor
def _form_token_in_pages() -> dict[str, str]:
    link = (request.view_args or {}).get("token")
    return {"csrf_token": form_token(link)} if link else {}


@bp.before_request
def _check_form() -> tuple[str, int] | None:
    """Every form post of these pages: its Origin this site's (the page's no-referrer policy makes the
    browser send « null », then the token alone decides), and the link's token from the page."""
    if request.method != "POST":
        return None
    origin = request.headers.get("Origin") or ""
    foreign = origin not in ("", "null") and urlsplit(origin).netloc != request.host
    sent = request.form.get(auth.CSRF_FIELD, "")
    if foreign or not hmac.compare_digest(sent, form_token((request.view_args or {}).get("token", ""))):
        return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                               heading="Requête refusée",
                               message="Ce formulaire ne vient pas de la page de signature de ce lien : "
                                       "rouvrez le lien reçu par e-mail et recommencez."), 403
    return None


@bp.errorhandler(TooManyRequests)
def _too_many(_exc: TooManyRequests) -> tuple[str, int]:
    return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                           heading="Trop de demandes", message="Un code vient déjà d'être envoyé : patientez une "
                           "minute, puis rechargez la page."), 429


def _client() -> dict[str, Any]:
    return {"ip": request.remote_addr, "user_agent": request.headers.get("User-Agent")}


def _page(token: str, view: dict[str, Any], *, error: str | None = None, status: int = 200,
          comments: str | None = None, notice: str | None = None) -> tuple[str, int]:
    signer, document = view["signer"], view["document"]
    expires = dt.datetime.fromisoformat(view["signature_request"]["expires_at"])
    html = render_template(
        "signer/page.html", company=services().settings.organisation or "Parcours", title=document["name"],
        signer_name=signer["name"], role_label=ROLE_LABELS.get(signer["role"], signer["role"]),
        expires=formatting.date(expires.astimezone(ZoneInfo(services().settings.timezone)).date()),
        error=error or notice,
        pages=[url_for("signer.page_image", token=token, number=n) for n in range(1, document["pages"] + 1)],
        pdf=url_for("signer.pdf", token=token), page_count=document["pages"],
        comments_field=view["comments_allowed"], comments=comments,
        code_required=view["signature_request"]["require_code"] and not signer["code_verified"],
        masked_email="votre adresse e-mail", consent_text=view["consent_text"],
        action=url_for("signer.submit", token=token), code_action=url_for("signer.code", token=token),
        refuse_action=url_for("signer.refuse", token=token))
    return html, status


def _ended(problem: DomainError) -> tuple[str, int]:
    """A link that cannot be used: the reason in a sentence, with the problem's status."""
    return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                           heading=problem.title, message=problem.detail or problem.title), status_of(problem)


@bp.get("/signer/<token>")
def show(token: str):
    try:
        return _page(token, signatures.open_link(services(), token, **_client()))
    except DomainError as problem:
        return _ended(problem)


@bp.get("/signer/<token>/pages/<int:number>.png")
def page_image(token: str, number: int):
    try:
        pdf, _ = signatures.document_pdf(services(), token)
    except DomainError:
        abort(404)
    with tempfile.TemporaryDirectory(prefix="parcours-page-") as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        done = subprocess.run(["pdftoppm", "-png", "-r", str(PAGE_DPI), "-f", str(number), "-l", str(number),
                               "-singlefile", str(source), str(Path(folder) / "page")],
                              capture_output=True, timeout=30)
        image = Path(folder) / "page.png"
        if done.returncode != 0 or not image.exists():
            abort(404)
        return Response(image.read_bytes(), mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.get("/signer/<token>/document.pdf")
def pdf(token: str):
    """The PDF itself, for phones and screen readers (the page images are its pictures)."""
    try:
        content, name = signatures.document_pdf(services(), token)
    except DomainError as problem:
        return _ended(problem)
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"})


@bp.get("/copie/<token>")
def copy(token: str):
    """The employee's personal link to his signed copy (90 days)."""
    try:
        content, name = copies.open_copy(services(), token, **_client())
    except DomainError as problem:
        return _ended(problem)
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.post("/signer/<token>")
def submit(token: str):
    comments = request.form.get("commentaires")
    try:
        result = signatures.sign(services(), token, consent=request.form.get("consent") == "oui",
                                 comments=comments, code=request.form.get("code") or None, **_client())
    except DomainError as problem:
        if status_of(problem) in (404, 410):
            return _ended(problem)
        try:
            view = signatures.open_link(services(), token, **_client())
        except DomainError as ended:
            return _ended(ended)
        return _page(token, view, error=problem.detail or problem.title, status=status_of(problem), comments=comments)
    message = ("Le document est maintenant signé par chacun ; la version finale, horodatée, est conservée et "
               "chacun en reçoit un exemplaire par e-mail." if result["status"] == "completed" else
               "Votre signature est enregistrée. La personne suivante va recevoir son lien de signature.")
    return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                           heading="Merci, votre signature est enregistrée", message=message)


@bp.post("/signer/<token>/code")
def code(token: str):
    try:
        sent = signatures.send_code(services(), token, **_client())
        view = signatures.open_link(services(), token, **_client())
    except DomainError as problem:
        return _ended(problem)
    return _page(token, view, notice=f"Un code vous a été envoyé à {sent['sent_to']} ; il est valable 10 minutes.",
                 comments=request.form.get("commentaires"))


@bp.post("/signer/<token>/refuse")
def refuse(token: str):
    """First the confirmation (refusing is final), then, confirmed, the refusal written into the document."""
    reason = request.form.get("raison") or None
    try:
        if request.form.get("confirmer") != "oui":
            view = signatures.open_link(services(), token, **_client())
            return render_template("signer/confirm_refusal.html", company=services().settings.organisation or "Parcours",
                                   title=view["document"]["name"], reason=reason or "",
                                   action=url_for("signer.refuse", token=token),
                                   back=url_for("signer.show", token=token))
        signatures.refuse(services(), token, reason=reason, **_client())
    except DomainError as problem:
        return _ended(problem)
    return render_template("signer/done.html", company=services().settings.organisation or "Parcours",
                           heading="Votre refus est enregistré",
                           message="Vous avez refusé de signer ce document. Ce refus ne constitue pas une faute. "
                                   "Il est écrit sur le document, avec sa date et son motif, dans une version "
                                   "horodatée que vous recevez par e-mail, comme le service RH et la personne qui a "
                                   "conduit l'entretien.")
