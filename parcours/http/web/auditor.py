"""The auditor's page: drop a PDF, read the verification report in the browser, take the PDF report away.

The page holds no data: its script sends the file to POST /api/v1/verifications with the auditor's API
token (typed once, kept in the tab's sessionStorage), so roles are enforced by the API as everywhere.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from parcours.http.current import services

bp = Blueprint("auditor", __name__, template_folder="pages")


@bp.get("/auditeur/verifier")
def verify_page():
    return render_template("auditor/verify.html", company=services().settings.organisation)
