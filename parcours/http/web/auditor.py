"""The verification page: drop a PDF, read the verification report in the browser, take the PDF report away.

Behind the sign-in (auditors and HR): the page holds no data, its script sends the file to
POST /api/v1/verifications with the person's session (its cookie and CSRF token), so roles are enforced by
the API as everywhere. Tools and scripts use the API with a token.
"""

from __future__ import annotations

from flask import Blueprint

from parcours.http.web.frame import page, render

bp = Blueprint("auditor", __name__, template_folder="pages", static_folder="static", static_url_path="/static/auditeur")


@bp.after_request
def _origin(response):
    response.headers.setdefault("Referrer-Policy", "same-origin")  # its script's POST carries the Origin
    return response


@bp.get("/auditeur/verifier")
@page("auditor", "hr")
def verify_page():
    return render("auditor/verify.html")
