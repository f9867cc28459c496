"""/api/v1/campaigns: plan a campaign from the legal calendar, follow it, export it; move or cancel an interview."""

from __future__ import annotations

import csv
from typing import Any

from flask import Blueprint, Response, g, request, url_for
from sqlalchemy import select

from docgen.dataset import decode_text
from parcours.http.api import due as due_api
from parcours.http.api._common import READERS, iso, json_body, json_response, listing, page, page_of, page_parameters
from parcours.http.api.interviews import interview_view, period
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Campaign
from parcours.service import campaigns, convocations, exports

bp = Blueprint("campaigns", __name__)
FIELDS = ("name", "period", "on", "population", "templates", "trame", "values", "planning", "creneaux")


def campaign_view(campaign: Campaign, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": campaign.id, "name": campaign.name,
        "period": {"debut": campaign.period_start.isoformat(), "fin": campaign.period_end.isoformat()},
        "on": campaign.reference_date.isoformat(), "population": campaign.population,
        "templates": campaign.settings.get("templates"), "trame": campaign.settings.get("trame"),
        "counts": counts, "total": sum(counts.values()),
        "created_by": campaign.created_by, "created_at": iso(campaign.created_at),
        "links": {"self": url_for("campaigns.show", campaign_id=campaign.id),
                  "interviews": url_for("interviews.list_interviews", campaign=campaign.id),
                  "tracking": url_for("campaigns.tracking", campaign_id=campaign.id),
                  "export_csv": url_for("campaigns.export", campaign_id=campaign.id, format="csv"),
                  "export_xlsx": url_for("campaigns.export", campaign_id=campaign.id, format="xlsx"),
                  "paper": url_for("campaigns.paper", campaign_id=campaign.id),
                  "batches": [url_for("batches.show", batch_id=b) for b in campaign.batch_ids]},
    }


def _multipart() -> tuple[dict[str, Any], dict[str, int] | None, list[str] | None]:
    """`request` (the JSON fields as text), `planning` (CSV) and `population` (CSV of matricules) files."""
    body = due_api.multipart()
    unknown = sorted(set(body) - set(FIELDS)) + sorted(set(request.files) - {"planning", "population"})
    if unknown:
        raise Problem(422, "Valeurs invalides", errors=[{"field": k, "reason": "champ inconnu"} for k in unknown])
    rows = population = None
    if "planning" in request.files:
        rows = {matricule: entry.pop("_row") for matricule, entry in body["planning"].items()}
    upload = request.files.get("population")
    if upload is not None:
        population = _matricules(upload.read(), upload.filename or "population.csv")
    return body, rows, population


def _matricules(data: bytes, filename: str) -> list[str]:
    """A list of matricules: one per line, under a « matricule » header (other columns ignored)."""
    lines = decode_text(data).splitlines()
    if not lines:
        raise Problem(422, "Liste vide", errors=[{"file": filename, "reason": "le fichier est vide"}])
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    if "matricule" not in header:
        raise Problem(422, "Liste invalide", errors=[{"file": filename, "row": 1, "field": "matricule",
                                                     "reason": "colonne obligatoire absente"}])
    column = header.index("matricule")
    return [row[column].strip() for row in reader if len(row) > column and row[column].strip()]


@bp.post("/campaigns")
@require("hr")
def create():
    if request.mimetype == "multipart/form-data":
        body, rows, population = _multipart()
    else:
        body, rows, population = json_body(*FIELDS), None, None
    campaign = campaigns.create(services(), db_session(), body, planning_rows=rows, uploaded_population=population,
                                by=g.actor)
    if services().jobs is not None:
        services().jobs.wake()
    session = db_session()
    return campaign_view(campaign, campaigns.counts(session, [campaign.id])[campaign.id]), 201, \
        {"Location": url_for("campaigns.show", campaign_id=campaign.id)}


@bp.get("/campaigns")
@require(*READERS)
def index():
    limit, cursor = page()
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(Campaign.id < cursor)
    session = db_session()
    rows = list(session.scalars(query))
    counts = campaigns.counts(session, [c.id for c in rows[:limit]])
    return listing([campaign_view(c, counts[c.id]) for c in rows[:limit]], rows, limit, "campaigns.index")


@bp.get("/campaigns/<int:campaign_id>")
@require(*READERS)
def show(campaign_id: int):
    session = db_session()
    campaign = campaigns.get(session, campaign_id)
    return campaign_view(campaign, campaigns.counts(session, [campaign.id])[campaign.id])


@bp.get("/campaigns/<int:campaign_id>/tracking")
@require(*READERS)
def tracking(campaign_id: int):
    session = db_session()
    return campaigns.tracking(session, campaigns.get(session, campaign_id), services().settings.today())


def _format() -> str:
    value = request.args.get("format", "csv")
    if value not in ("csv", "xlsx"):
        raise Problem(422, "Paramètres invalides", errors=[{"field": "format", "value": value, "reason": "csv ou xlsx"}])
    return value


def _file(table: exports.Table, stem: str, kind: str) -> Response:
    if kind == "xlsx":
        body, mimetype = exports.xlsx(table), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, mimetype = exports.csv_bytes(table), "text/csv; charset=utf-8"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{kind}"'})


@bp.get("/campaigns/<int:campaign_id>/export")
@require(*READERS)
def export(campaign_id: int):
    session = db_session()
    campaign = campaigns.get(session, campaign_id)
    return _file(exports.campaign(session, campaign, services().settings.timezone), f"campagne-{campaign.id}",
                 _format())


@bp.get("/campaigns/<int:campaign_id>/paper.pdf")
@require("hr")
def paper(campaign_id: int):
    session = db_session()
    campaign = campaigns.get(session, campaign_id)
    ids = exports.interview_ids(session, campaign.id)
    pdf = convocations.paper_letters(services(), session, ids)
    if pdf is None:
        raise Problem(404, "Aucun courrier à imprimer", "Tous les salariés de la campagne ont une adresse e-mail : "
                      "leurs convocations partent par e-mail.")
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="courriers-campagne-{campaign.id}.pdf"'})


@bp.post("/interviews/<int:interview_id>/move")
@require("hr")
def move(interview_id: int):
    body = json_body("date", "heure", "lieu", "lien_visio")
    interview = campaigns.move(services(), db_session(), interview_id, body, by=g.actor)
    if services().jobs is not None:
        services().jobs.wake()
    return interview_view(interview, detail=True)


@bp.post("/interviews/<int:interview_id>/cancel")
@require("hr")
def cancel(interview_id: int):
    body = json_body("reason")
    interview = campaigns.cancel(services(), db_session(), interview_id, body.get("reason"), by=g.actor)
    if services().jobs is not None:
        services().jobs.wake()
    return interview_view(interview, detail=True)


@bp.get("/interviews/export")
@require(*READERS)
def interviews_export():
    start, end = period(required=True)
    return _file(exports.held(db_session(), start, end), f"entretiens-{start.isoformat()}-{end.isoformat()}", _format())


# --- OpenAPI -----------------------------------------------------------------------------------------

_ID = {"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_INTERVIEW_ID = {"name": "interview_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "xlsx"]}}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_CAMPAIGN = {"type": "object", "required": ["id", "name", "counts"], "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"},
    "period": {"type": "object", "properties": {"debut": {"type": "string", "format": "date"},
                                                "fin": {"type": "string", "format": "date"}}},
    "on": {"type": "string", "format": "date"}, "population": {"type": "object"},
    "templates": {"type": ["object", "null"]}, "trame": {"type": ["string", "null"]},
    "counts": _COUNTS, "total": {"type": "integer"}, "created_by": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "links": {"type": "object"}}}
_BODY = {"type": "object", "required": ["name", "period"], "properties": {
    "name": {"type": "string", "maxLength": 200},
    "period": {"type": "object", "required": ["debut", "fin"], "properties": {
        "debut": {"type": "string", "format": "date"}, "fin": {"type": "string", "format": "date"}}},
    "on": {"type": "string", "format": "date", "description": "Date de lecture du calendrier légal (aujourd'hui)"},
    "population": {"type": "object", "description": "Vide : tout le monde ; sinon des listes",
                   "properties": {k: {"type": "array", "items": {"type": "string"}} for k in campaigns.POPULATION_KEYS}},
    "templates": {"type": "object", "description": "Modèle de convocation par type d'entretien ; « * » pour les autres",
                  "additionalProperties": {"type": "string"}},
    "trame": {"type": "string", "description": "Modèle de la trame jointe (« trame »)"},
    "values": {"type": "object", "description": "Comme pour POST /batches (societe, courrier, salaries…)"},
    "planning": {"type": "object", "description": "{matricule: {date, heure, lieu, lien_visio}}"},
    "creneaux": {"type": "object", "description": "{debut, heures: [\"09:00\"…], jours: [0…4], lieu, lien_visio}"}}}
_TABLE = {"text/csv": {"schema": {"type": "string"}},
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}
OPENAPI = {
    "schemas": {"Campaign": _CAMPAIGN},
    "paths": {
        "/campaigns": {
            "post": {"summary": "Créer une campagne : entretiens dus, créneaux, convocations envoyées (rôle hr)",
                     "tags": ["campaigns"],
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _BODY},
                         "multipart/form-data": {"schema": {"type": "object", "properties": {
                             "request": {"type": "string", "description": "Les champs JSON, en texte"},
                             "planning": {"type": "string", "format": "binary",
                                          "description": "CSV : matricule, date, heure, lieu ou lien_visio"},
                             "population": {"type": "string", "format": "binary",
                                            "description": "CSV avec une colonne matricule"}}}}}},
                     "responses": {"201": json_response({"$ref": "#/components/schemas/Campaign"}, "La campagne"),
                                   "422": {"description": "Rien n'est créé ; chaque erreur nomme la ligne et le champ",
                                           "content": _PROBLEM}}},
            "get": {"summary": "Les campagnes, de la plus récente à la plus ancienne", "tags": ["campaigns"],
                    "parameters": page_parameters(),
                    "responses": {"200": json_response(page_of("Campaign"), "Une page de campagnes")}},
        },
        "/campaigns/{campaign_id}": {"get": {
            "summary": "Une campagne et ses entretiens comptés par état", "tags": ["campaigns"], "parameters": [_ID],
            "responses": {"200": json_response({"$ref": "#/components/schemas/Campaign"}, "La campagne")}}},
        "/campaigns/{campaign_id}/tracking": {"get": {
            "summary": "Suivi : par état, par service, par responsable, les retards d'abord", "tags": ["campaigns"],
            "parameters": [_ID], "responses": {"200": json_response({"type": "object", "properties": {
                "by_status": _COUNTS, "by_service": {"type": "array", "items": {"type": "object"}},
                "by_manager": {"type": "array", "items": {"type": "object"}}}}, "Le suivi")}}},
        "/campaigns/{campaign_id}/export": {"get": {
            "summary": "Export de la campagne (CSV « ; » UTF-8 avec BOM, ou XLSX)", "tags": ["campaigns"],
            "parameters": [_ID, _FORMAT], "responses": {"200": {"description": "Le tableau", "content": _TABLE}}}},
        "/campaigns/{campaign_id}/paper.pdf": {"get": {
            "summary": "Les courriers à imprimer (salariés sans adresse e-mail), un PDF", "tags": ["campaigns"],
            "parameters": [_ID], "responses": {
                "200": {"description": "PDF", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}},
                "404": {"description": "Aucun courrier à imprimer", "content": _PROBLEM}}}},
        "/interviews/{interview_id}/move": {"post": {
            "summary": "Déplacer un entretien : nouvelle convocation et invitation mise à jour (rôle hr)",
            "tags": ["interviews"], "parameters": [_INTERVIEW_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["date"], "properties": {
                    "date": {"type": "string", "format": "date"}, "heure": {"type": "string"},
                    "lieu": {"type": ["string", "null"]}, "lien_visio": {"type": ["string", "null"]}}}}}},
            "responses": {"200": json_response({"$ref": "#/components/schemas/Interview"}, "L'entretien"),
                          "409": {"description": "Entretien clos", "content": _PROBLEM}}}},
        "/interviews/{interview_id}/cancel": {"post": {
            "summary": "Annuler un entretien avec sa raison ; l'invitation est annulée (rôle hr)",
            "tags": ["interviews"], "parameters": [_INTERVIEW_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"], "properties": {
                    "reason": {"type": "string", "pattern": "\\S", "description": "La raison, obligatoire"}}}}}},
            "responses": {"200": json_response({"$ref": "#/components/schemas/Interview"}, "L'entretien"),
                          "409": {"description": "Entretien clos", "content": _PROBLEM}}}},
        "/interviews/export": {"get": {
            "summary": "Les entretiens tenus sur une période (pour le CSE, l'inspection du travail)",
            "tags": ["interviews"], "parameters": [
                {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
                _FORMAT], "responses": {"200": {"description": "Le tableau", "content": _TABLE}}}},
    },
}
