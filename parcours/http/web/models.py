"""Modèles: the DOCX templates with their versions, an upload that says what the inspection found (unknown
variables, syntax errors with their excerpt), a PDF preview filled with sample data."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, g, request

from parcours.http.current import db_session, services
from parcours.http.web import frame
from parcours.http.web.frame import page, render
from parcours.service import templates

bp = Blueprint("models", __name__, template_folder="pages")


@bp.get("/modeles")
@page("hr", "auditor")
def index():
    return render("staff/models.html", rows=templates.list_templates(db_session()), problem=None, name="")


@bp.post("/modeles")
@page("hr")
def upload():
    name = (request.form.get("name") or "").strip()
    upload_file = request.files.get("file")
    errors = []
    if upload_file is None or not upload_file.filename:
        errors.append({"field": "file", "reason": "choisissez un fichier .docx"})
    if not name:
        errors.append({"field": "name", "reason": "nom obligatoire (lettres sans accents, chiffres, « _ » et « - »)"})
    try:
        if errors:
            raise frame.Problem(422, "Valeurs invalides", errors=errors)
        new = templates.add_version(db_session(), services().blobs, name, upload_file.read(),
                                    Path(upload_file.filename).name[:255], created_by=g.actor.label)
    except Exception as exc:  # noqa: BLE001 - shown beside the form when problems.py knows it
        found = frame.describe(exc)
        if found is None:
            raise
        return render("staff/models.html", rows=templates.list_templates(db_session()), problem=found[1],
                      name=name), found[0]
    return render("staff/model.html", template=new.version.template, warnings=new.warnings,
                  added=new.version.number), 201


@bp.get("/modeles/<name>")
@page("hr", "auditor")
def show(name: str):
    try:
        template = templates.get_template(db_session(), name)
    except templates.TemplateNotFound as exc:
        raise frame.Problem(404, "Modèle introuvable", str(exc)) from None
    return render("staff/model.html", template=template, warnings=[], added=None)
