"""/api/v1/employees: import employee files (upsert by matricule), list them page by page, show one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, request

from docgen.dataset import ABSENCE_LABELS, ROLES
from parcours.http import auth
from parcours.http.api._common import whole_number
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Employee
from parcours.service import employees as service
from parcours.service import users

bp = Blueprint("employees", __name__)

WRITERS = ("hr",)
READERS = ("hr", "auditor")
_TRUE, _FALSE = ("1", "true", "yes", "oui", "on"), ("", "0", "false", "no", "non", "off")
_FIELDS = ("matricule", "civilite", "nom", "prenom", "email", "date_naissance", "date_entree", "poste",
           "service", "site", "manager_matricule", "date_dernier_entretien")


def _summary(employee: Employee) -> dict[str, Any]:
    body = {}
    for name in _FIELDS:
        value = getattr(employee, name)
        body[name] = value.isoformat() if hasattr(value, "isoformat") else value
    body["updated_at"] = employee.updated_at.isoformat() if employee.updated_at else None
    return body


def _detail(employee: Employee) -> dict[str, Any]:
    absences = [{**a, "libelle": ABSENCE_LABELS.get(a["motif"], a["motif"])} for a in employee.absences]
    return {**_summary(employee), "absences": absences, "formations": list(employee.formations)}


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise Problem(422, "Paramètre invalide", errors=[{"field": name, "value": raw, "reason": "true ou false"}])
    return raw in _TRUE


@bp.post("/employees/import")
@require(*WRITERS)
def import_files():
    skip_invalid = _flag("skip_invalid")
    uploads = {role: request.files[role] for role in ROLES if role in request.files}
    if "employees" not in uploads:
        raise Problem(422, "Fichier des salariés manquant", errors=[{
            "field": "employees", "reason": "fichier obligatoire (CSV, XLSX ou JSON, champ multipart « employees »)"}])
    sources = {role: upload.read() for role, upload in uploads.items()}
    # The file name chooses the format and names the file in errors; the role stands in when there is none.
    names = {role: Path(upload.filename or "").name or role for role, upload in uploads.items()}
    session = db_session()
    report = service.import_files(session, sources, names, skip_invalid=skip_invalid)
    session.commit()
    return {"created": report.created, "updated": report.updated,
            "skipped": [{"file": e.file, "row": e.row, "field": e.column, "value": e.value, "reason": e.reason}
                        for e in report.skipped]}


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return min(services().settings.page_size, service.MAX_PAGE)
    limit = whole_number(raw, 1, service.MAX_PAGE)
    if limit is None:
        raise Problem(422, "Paramètre invalide", errors=[
            {"field": "limit", "value": raw, "reason": f"nombre entier de 1 à {service.MAX_PAGE}"}])
    return limit


CURSOR_LENGTH = 50
"""The longest matricule the employees' table holds."""


def _team() -> frozenset[str] | None:
    """A manager (without hr or auditor) sees the employees who report to them, directly or down the chain."""
    caller = auth.caller()
    if caller is None or {"hr", "auditor"} & set(caller.roles) or "manager" not in caller.roles:
        return None
    return frozenset(users.team(db_session(), caller.matricule)) if caller.matricule else frozenset()


@bp.get("/employees")
@require(*READERS, "manager")
def list_employees():
    limit = _limit()
    after = request.args.get("cursor") or None  # any matricule is a place in the order
    if after is not None and len(after) > CURSOR_LENGTH:
        raise Problem(422, "Paramètre invalide", errors=[
            {"field": "cursor", "reason": f"{CURSOR_LENGTH} caractères au plus : reprenez « next_cursor » d'une page"}])
    where = service.EmployeeFilter(service=request.args.get("service") or None, site=request.args.get("site") or None,
                                   manager=request.args.get("manager") or None, q=request.args.get("q") or None,
                                   within=_team())
    rows, next_cursor = service.list_employees(db_session(), where, limit, after)
    return {"items": [_summary(e) for e in rows], "next_cursor": next_cursor}


@bp.get("/employees/<matricule:matricule>")
@require(*READERS, "manager")
def show(matricule: str):
    team = _team()
    employee = service.get_employee(db_session(), matricule) if team is None or matricule in team else None
    if employee is None:  # another team's employee is not found, not forbidden: a manager learns nothing of them
        raise Problem(404, "Salarié introuvable", f"Aucun salarié n'a le matricule « {matricule} ».")
    return _detail(employee)


# --- OpenAPI ---------------------------------------------------------------------------------

_DATE = {"type": "string", "format": "date"}
_OPTIONAL_DATE = {"type": ["string", "null"], "format": "date"}
_FILE = {"type": "string", "format": "binary"}
_QUERY = [
    {"name": "service", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Service exact"},
    {"name": "site", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Site exact"},
    {"name": "manager", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Matricule du responsable"},
    {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Texte cherché dans le nom ou le prénom, sans tenir compte de la casse"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": service.MAX_PAGE},
     "description": "Taille de la page (réglage page_size par défaut)"},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "maxLength": CURSOR_LENGTH},
     "description": "Curseur de pagination : la valeur `next_cursor` de la page précédente, soit le matricule du "
                    "dernier salarié reçu, la liste étant triée par matricule ; absent pour la première page. "
                    "`next_cursor` vaut null sur la dernière page."},
]

_SCHEMAS = {
    "Employee": {"type": "object", "required": list(_FIELDS), "properties": {
        "matricule": {"type": "string"}, "civilite": {"type": "string", "enum": ["M.", "Mme"]},
        "nom": {"type": "string"}, "prenom": {"type": "string"}, "email": {"type": "string"},
        "date_naissance": _DATE, "date_entree": _DATE, "poste": {"type": "string"}, "service": {"type": "string"},
        "site": {"type": "string"}, "manager_matricule": {"type": ["string", "null"]},
        "date_dernier_entretien": _OPTIONAL_DATE,
        "updated_at": {"type": ["string", "null"], "format": "date-time"}}},
    "EmployeeDetail": {"allOf": [{"$ref": "#/components/schemas/Employee"}, {
        "type": "object", "required": ["absences", "formations"], "properties": {
            "absences": {"type": "array", "items": {"type": "object", "properties": {
                "motif": {"type": "string", "enum": list(ABSENCE_LABELS)}, "libelle": {"type": "string"},
                "date_debut": _DATE, "date_fin": _DATE}}},
            "formations": {"type": "array", "items": {"type": "object", "properties": {
                "intitule": {"type": "string"}, "date_fin": _DATE, "certifiante": {"type": "boolean"},
                "obligatoire": {"type": "boolean"}}}}}}]},
    "ImportRowError": {"type": "object", "properties": {
        "file": {"type": "string"},
        "row": {"type": ["integer", "null"], "description": "Ligne comme Excel la montre (en-tête = 1)"},
        "field": {"type": ["string", "null"]}, "value": {"type": ["string", "null"]}, "reason": {"type": "string"}}},
    "EmployeeImport": {"type": "object", "required": ["created", "updated", "skipped"], "properties": {
        "created": {"type": "array", "items": {"type": "string"}},
        "updated": {"type": "array", "items": {"type": "string"}},
        "skipped": {"type": "array", "items": {"$ref": "#/components/schemas/ImportRowError"}}}},
}

_PAGE = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Employee"}},
    "next_cursor": {"type": ["string", "null"]}}}

OPENAPI = {
    "schemas": _SCHEMAS,
    "paths": {
        "/employees/import": {
            "post": {
                "summary": "Importer des salariés, leurs absences et formations (hr)", "tags": ["employees"],
                "description": "CSV (virgule ou point-virgule ; UTF-8, avec ou sans BOM, ou Windows-1252), XLSX "
                               "ou JSON, colonnes de samples/*.csv. Mise à jour par matricule. Un responsable peut "
                               "être un salarié déjà enregistré, absent du fichier. Une erreur (422, chaque ligne "
                               "et colonne nommée) n'importe rien, sauf avec `skip_invalid=true` qui importe les "
                               "bonnes lignes et liste les autres dans `skipped`.",
                "parameters": [{"name": "skip_invalid", "in": "query", "required": False,
                                "schema": {"type": "boolean", "default": False}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["employees"], "properties": {
                        "employees": _FILE, "absences": _FILE, "formations": _FILE}}}}},
                "responses": {"200": {"description": "Matricules créés et mis à jour, lignes écartées",
                                      "content": {"application/json": {"schema": {
                                          "$ref": "#/components/schemas/EmployeeImport"}}}}}},
        },
        "/employees": {
            "get": {"summary": "Salariés par matricule, page par page (hr, auditor)", "tags": ["employees"],
                    "parameters": _QUERY,
                    "responses": {"200": {"description": "Une page ; `next_cursor` est null à la dernière",
                                          "content": {"application/json": {"schema": _PAGE}}}}},
        },
        "/employees/{matricule}": {
            "get": {"summary": "Un salarié avec ses absences et formations (hr, auditor)", "tags": ["employees"],
                    "parameters": [{"name": "matricule", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Le salarié", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/EmployeeDetail"}}}}}},
        },
    },
}
