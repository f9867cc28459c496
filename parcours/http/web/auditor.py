"""The auditor's page: drop a PDF, read the verification report in the browser, take the PDF report away.

The page holds no data: its script sends the file to POST /api/v1/verifications with the session of a
signed-in auditor (its cookie and CSRF token), or else an API token typed once per tab, so roles are
enforced by the API as everywhere.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from parcours.http import auth
from parcours.http.current import services

bp = Blueprint("auditor", __name__, template_folder="pages", static_folder="static", static_url_path="/static/auditeur")


@bp.after_request
def _origin(response):
    response.headers.setdefault("Referrer-Policy", "same-origin")  # its script's POST carries the Origin
    return response


@bp.get("/auditeur/verifier")
def verify_page():
    found = auth.caller() if "Authorization" not in request.headers else None
    signed_in = found.signed_in if found is not None else None
    return render_template("auditor/verify.html", company=services().settings.organisation,
                           signed_in=found.actor.label if signed_in else None,
                           csrf=auth.csrf_token(auth.session_cookie() or "") if signed_in else None)
