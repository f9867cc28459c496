"""Salariés and Échéances: search and page through the employees, import files (row errors in a table, nothing
written until clean, or only the valid rows), an employee's timeline and what is due, the due list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Blueprint, g, request, url_for
from sqlalchemy import select

from docgen import formatting
from docgen.calendar import ABONDEMENT_CORRECTIF
from docgen.dataset import ABSENCE_LABELS, INTERVIEW_LABELS, ROLES, DataImportError
from parcours.http.current import db_session, services
from parcours.http.web import frame
from parcours.http.web.dashboard import due_now
from parcours.http.web.frame import page, render
from parcours.models import Employee
from parcours.service import due as due_service
from parcours.service import employees, interviews, overview

bp = Blueprint("people", __name__, template_folder="pages")
PAGE = 50
FILE_LABELS = {"employees": "Salariés (obligatoire)", "absences": "Absences", "formations": "Formations",
               "entretiens": "Entretiens passés"}
STATUS_LABELS = interviews.LABELS


def _choices(column) -> list[str]:
    return [v for v in db_session().scalars(select(column).distinct().order_by(column)) if v]


@bp.get("/salaries")
@page("hr", "auditor")
def index():
    where = employees.EmployeeFilter(service=request.args.get("service") or None, site=request.args.get("site") or None,
                                     q=request.args.get("q") or None)
    cursor = request.args.get("suite") or None
    rows, next_cursor = employees.list_employees(db_session(), where, PAGE, cursor)
    args = {k: v for k, v in request.args.items() if v and k != "suite"}
    return render("staff/employees.html", rows=rows, filters=args, services=_choices(Employee.service),
                  sites=_choices(Employee.site), file_labels=FILE_LABELS,
                  next_url=url_for("people.index", **args, suite=next_cursor) if next_cursor else None,
                  first_url=url_for("people.index", **args) if cursor else None)


@bp.get("/salaries/importer")
@page("hr")
def import_page():
    return render("staff/import.html", file_labels=FILE_LABELS, report=None, problem=None)


@bp.post("/salaries/importer")
@page("hr")
def import_submit():
    uploads = {role: request.files[role] for role in ROLES if request.files.get(role) and request.files[role].filename}
    if "employees" not in uploads:
        problem = {"title": "Fichier des salariés manquant", "detail": None, "errors": [
            {"field": "employees", "reason": "choisissez le fichier des salariés (CSV ou XLSX)"}]}
        return render("staff/import.html", file_labels=FILE_LABELS, report=None, problem=problem), 422
    sources = {role: upload.read() for role, upload in uploads.items()}
    names = {role: Path(upload.filename).name for role, upload in uploads.items()}
    skip_invalid = request.form.get("lignes_valides") == "1"
    session = db_session()
    try:
        report = employees.import_files(session, sources, names, skip_invalid=skip_invalid)
    except DataImportError as exc:
        _, shown = frame.describe(exc)
        plural = "s" if len(shown["errors"]) > 1 else ""
        shown["detail"] = (f"{len(shown['errors'])} erreur{plural}, détaillée{plural} ci-dessous : corrigez le "
                           "fichier, ou cochez « Importer les lignes valides et écarter les autres ».")
        return render("staff/import.html", file_labels=FILE_LABELS, report=None, problem=shown), 422
    session.commit()
    overview.warm_due_list(services(), services().settings.today())  # the dashboard and the due list read it next
    text = f"Import terminé : {len(report.created)} salarié(s) créé(s), {len(report.updated)} mis à jour"
    if report.skipped:
        text += f", {len(report.skipped)} ligne(s) écartée(s)"
    if not report.skipped:
        return frame.done(url_for("people.index"), text + ".")
    skipped = [{"file": e.file, "row": e.row, "field": e.column, "value": e.value, "reason": e.reason}
               for e in report.skipped]
    return render("staff/import.html", file_labels=FILE_LABELS, report={"text": text + ".", "skipped": skipped},
                  problem=None)


@bp.get("/salaries/<matricule>")
@page("hr", "auditor")
def show(matricule: str):
    session = db_session()
    employee = employees.get_employee(session, matricule)
    if employee is None:
        return frame.problem_page(frame.Problem(404, "Salarié introuvable",
                                                f"Aucun salarié n’a le matricule « {matricule} »."))
    settings = services().settings
    due_items = due_service.for_employee(session, matricule, on=settings.today(), headcount=settings.headcount,
                                         period_years=settings.epp_period_years)
    manager = employees.get_employee(session, employee.manager_matricule) if employee.manager_matricule else None
    return render("staff/employee.html", e=employee, manager=manager, due=due_items,
                  events=overview.timeline(session, employee),
                  interview_labels=INTERVIEW_LABELS, status_labels=STATUS_LABELS, absence_labels=ABSENCE_LABELS)


@bp.get("/echeances")
@page("hr", "auditor")
def due():
    today = services().settings.today()
    raw = request.args.get("avant") or ""
    try:
        before = dt.date.fromisoformat(raw) if raw else today + dt.timedelta(days=180)
    except ValueError:
        return frame.problem_page(frame.Problem(422, "Valeurs invalides", errors=[
            {"field": "avant", "value": raw, "reason": "une date (AAAA-MM-JJ)"}]))
    dataset, found, failures = due_now(today, before)
    kind, service_name = request.args.get("type"), request.args.get("service")
    late_only = request.args.get("retard") == "1"
    rows = [d for d in sorted(found, key=lambda d: (d.deadline, d.matricule))
            if (not kind or d.type == kind) and (not late_only or d.overdue)
            and (not service_name or getattr(dataset.employees.get(d.matricule), "service", None) == service_name)]
    number = max(1, int(request.args.get("page") or 1)) if (request.args.get("page") or "1").isdigit() else 1
    shown = rows[(number - 1) * PAGE: number * PAGE]
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render("staff/due.html", failures=failures, rows=shown, total=len(rows), dataset=dataset, before=before, filters=args,
                  types=INTERVIEW_LABELS, services=_choices(Employee.service), page_number=number,
                  amount=formatting.euros(ABONDEMENT_CORRECTIF), can_create="hr" in g.roles,
                  next_url=url_for("people.due", **args, page=number + 1) if number * PAGE < len(rows) else None,
                  first_url=url_for("people.due", **args) if number > 1 else None)
