"""/api/v1/employees/due and /api/v1/batches/due: who must be convoked, by when and why, and the
convocations for them in one request."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, g, request

from docgen.calendar import DueInterview
from docgen.dataset import Dataset
from docgen.values import ValuesError, parse_date
from parcours.http.api._common import json_body, whole_number
from parcours.http.api.batches import batch_view
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.service import due

bp = Blueprint("due", __name__)


def _date(raw: Any, field: str, default: dt.date | None = None) -> dt.date:
    if raw is None or (raw == "" and default is None):
        if default is None:
            raise Problem(422, "Valeurs invalides", errors=[{"field": field, "reason": "date obligatoire (AAAA-MM-JJ)"}])
        return default
    try:
        return parse_date(raw, field)
    except ValuesError as exc:
        raise Problem(422, "Valeurs invalides", errors=[{"field": field, "reason": str(exc)}]) from None


def _headcount() -> int:
    raw = request.args.get("effectif")
    if raw is None:
        return services().settings.headcount
    headcount = whole_number(raw, 0, 10_000_000)
    if headcount is None:
        raise Problem(422, "Valeurs invalides", errors=[{"field": "effectif", "reason": "nombre entier de salariés"}])
    return headcount


def view(item: DueInterview, dataset: Dataset) -> dict[str, Any]:
    employee = dataset.employees.get(item.matricule)
    return {
        "matricule": item.matricule,
        "nom": employee.nom if employee else None, "prenom": employee.prenom if employee else None,
        "service": employee.service if employee else None,
        "type": item.type, "libelle": item.libelle, "due_from": item.due_from.isoformat(),
        "deadline": item.deadline.isoformat(), "overdue": item.overdue,
        "planned_on": item.planned_on.isoformat() if item.planned_on else None,
        "rule": item.rule, "reason": item.reason,
        "abondement": item.abondement,  # its dates come out as ISO (parcours.app's JSON provider)
    }


@bp.get("/employees/due")
@require("hr", "auditor")
def due_employees():
    on = _date(request.args.get("on"), "on", services().settings.today())
    before = _date(request.args.get("before"), "before")
    settings = services().settings
    failures: dict[str, str] = {}
    dataset, found = due.due_list(db_session(), before=before, on=on, headcount=_headcount(),
                                  period_years=settings.epp_period_years, failures=failures)
    return {"before": before.isoformat(), "on": on.isoformat(), "items": [view(d, dataset) for d in found],
            "errors": [{"matricule": m, "reason": reason} for m, reason in sorted(failures.items())]}


@bp.get("/employees/<matricule:matricule>/due")
@require("hr", "auditor")
def due_employee(matricule: str):
    on = _date(request.args.get("on"), "on", services().settings.today())
    session = db_session()
    found = due.for_employee(session, matricule, on=on, headcount=_headcount(),
                             period_years=services().settings.epp_period_years)
    dataset = due.dataset_for(session, [matricule])
    return {"matricule": matricule, "on": on.isoformat(), "items": [view(d, dataset) for d in found]}


@bp.post("/batches/due")
@require("hr")
def batches_for_due():
    if request.files:
        body = multipart()
    else:
        body = json_body("before", "on", "values", "templates", "planning", "creneaux")
    before = _date(body.get("before"), "before")
    on = _date(body.get("on"), "on", services().settings.today())
    values, templates = body.get("values") or {}, body.get("templates") or {}
    planning, rule = body.get("planning"), body.get("creneaux")
    for field, value in (("values", values), ("templates", templates), ("planning", planning or {}), ("creneaux", rule or {})):
        if not isinstance(value, dict):
            raise Problem(422, "Valeurs invalides", errors=[{"field": field, "reason": "objet JSON attendu"}])
    made = due.create_batches(services(), db_session(), before=before, on=on, values=values,
                              templates=templates, planning=planning, rule=rule, created_by=g.actor.label,
                              idempotency_key=request.headers.get("Idempotency-Key", "").strip() or None)
    if services().jobs is not None:
        services().jobs.wake()
    return {"batches": [batch_view(b) for b in made]}, 202


def multipart() -> dict[str, Any]:
    """A multipart request: the JSON fields in `request`, the planning as a CSV file `planning` (each entry
    with its line in `_row`). Also read by /campaigns."""
    try:
        body = json.loads(request.form.get("request") or "{}")
    except json.JSONDecodeError as exc:
        raise Problem(422, "Valeurs invalides", errors=[{"field": "request", "reason": f"JSON invalide ({exc})"}]) from None
    if not isinstance(body, dict):
        raise Problem(422, "Valeurs invalides", errors=[{"field": "request", "reason": "objet JSON attendu"}])
    upload = request.files.get("planning")
    if upload is not None:
        body["planning"] = due.planning_from_csv(upload.read(), upload.filename or "planning.csv")
    return body


_DUE = {"type": "object", "properties": {
    "matricule": {"type": "string"}, "nom": {"type": ["string", "null"]}, "prenom": {"type": ["string", "null"]},
    "service": {"type": ["string", "null"]}, "type": {"type": "string"}, "libelle": {"type": "string"},
    "due_from": {"type": "string", "format": "date"}, "deadline": {"type": "string", "format": "date"},
    "overdue": {"type": "boolean"}, "planned_on": {"type": ["string", "null"], "format": "date"},
    "rule": {"type": "string"}, "reason": {"type": "string"},
    "abondement": {"type": ["object", "null"]}}}
_JSON = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
_LIST = {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/DueInterview"}}}}
_ERRORS = {"type": "array", "description": "Les salariés dont les entretiens n'ont pas pu être calculés, et pourquoi "
                                         "(leurs données sont à corriger) ; les autres sont dans `items`.",
           "items": {"type": "object", "required": ["matricule", "reason"], "additionalProperties": False,
                     "properties": {"matricule": {"type": "string"}, "reason": {"type": "string"}}}}
_DUE_LIST = {"type": "object", "required": ["before", "on", "items", "errors"], "properties": {
    "before": {"type": "string", "format": "date"}, "on": {"type": "string", "format": "date"},
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/DueInterview"}}, "errors": _ERRORS}}
_ON = {"name": "on", "in": "query", "description": "Date de référence (aujourd'hui par défaut)",
       "schema": {"type": "string", "format": "date"}}
_HEADCOUNT = {"name": "effectif", "in": "query", "description": "Effectif de l'entreprise (réglage par défaut)",
              "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000}}

OPENAPI = {
    "schemas": {"DueInterview": _DUE},
    "paths": {
        "/employees/due": {"get": {
            "summary": "Qui convoquer avant une date, pour quel entretien, et pourquoi", "tags": ["calendar"],
            "parameters": [{"name": "before", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
                           _ON, _HEADCOUNT],
            "responses": {"200": {"description": "Les entretiens dus, en retard compris",
                                  "content": _JSON(_DUE_LIST)}}}},
        "/employees/{matricule}/due": {"get": {
            "summary": "Les prochains entretiens d'un salarié", "tags": ["calendar"],
            "parameters": [{"name": "matricule", "in": "path", "required": True, "schema": {"type": "string"}}, _ON, _HEADCOUNT],
            "responses": {"200": {"description": "Les entretiens dus", "content": _JSON(_LIST)}}}},
        "/batches/due": {"post": {
            "summary": "Les convocations de tous ceux qui sont dus avant une date", "tags": ["calendar"],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                "request": {"type": "string", "description": "Les champs JSON ci-dessous, en texte"},
                "planning": {"type": "string", "format": "binary",
                             "description": "CSV : matricule, date, heure, lieu ou lien_visio"}}}},
                **_JSON({"type": "object", "required": ["before", "values"], "properties": {
                "before": {"type": "string", "format": "date"}, "on": {"type": "string", "format": "date"},
                "values": {"type": "object", "description": "Comme pour POST /batches (societe, courrier, entretien…)"},
                "templates": {"type": "object", "description": "Modèle par type d'entretien ; « * » pour les autres",
                              "additionalProperties": {"type": "string"}},
                "planning": {"type": "object", "description": "{matricule: {date, heure, lieu, lien_visio}}"},
                "creneaux": {"type": "object", "description": "{debut, heures: [\"09:00\"…], jours: [0…4], lieu}"}}})}},
            "responses": {"202": {"description": "Un lot par modèle", "content": _JSON({"type": "object", "properties": {
                "batches": {"type": "array", "items": {"$ref": "#/components/schemas/Batch"}}}})}}}},
    },
}
