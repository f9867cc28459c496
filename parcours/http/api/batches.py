"""/api/v1/batches: one document per employee, made in the background; progress, items, cancel, ZIP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, g, request, send_file, url_for
from sqlalchemy import select

from docgen.dataset import load_dataset
from parcours.http.api._common import (
    READERS,
    TemplateNames,
    iso,
    json_body,
    json_response,
    listing,
    one_of,
    page,
    page_of,
    page_parameters,
)
from parcours.http.auth import require
from parcours.http.current import db_session, services
from parcours.http.problems import Problem
from parcours.models import Batch, BatchItem
from parcours.service import batches

BATCH_STATUSES = ("pending", "running", "completed", "partially_completed", "failed", "cancelled")
ITEM_STATUSES = ("pending", "done", "failed", "cancelled")
bp = Blueprint("batches", __name__)
UPLOADS = ("employees", "absences", "formations")
JSON_FIELDS = ("template", "template_version", "matricules", "values")


def _batch(batch: Batch, counts: dict[str, int], names: TemplateNames) -> dict[str, Any]:
    progress = batches.progress(batch, counts)
    links = {"self": url_for("batches.show", batch_id=batch.id),
             "items": url_for("batches.items", batch_id=batch.id),
             "failed_items": url_for("batches.items", batch_id=batch.id, status="failed"),
             "documents": url_for("documents.index", batch=batch.id),
             "zip": url_for("batches.archive", batch_id=batch.id),
             "cancel": url_for("batches.cancel", batch_id=batch.id),
             "retry": url_for("batches.retry", batch_id=batch.id)}
    return {
        "id": batch.id, "status": batch.status, "template": names(batch.template_version_id),
        "total": batch.total, "done": batch.done, "failed": batch.failed, "cancelled": progress.cancelled,
        "pending": progress.pending,
        "documents_per_second": round(progress.per_second, 2) if progress.per_second is not None else None,
        "estimated_end": iso(progress.estimated_end),
        "created_by": batch.created_by, "created_at": iso(batch.created_at),
        "started_at": iso(batch.started_at), "finished_at": iso(batch.finished_at), "links": links,
    }


def batch_view(batch: Batch) -> dict[str, Any]:
    """A batch as the API shows it, with its progress."""
    session = db_session()
    view = _batch(batch, batches.item_counts(session, [batch.id])[batch.id], TemplateNames(session))
    view["incident"] = batches.incident(session, batch)
    return view


def _request() -> tuple[dict[str, Any], Any, str]:
    """(fields, uploaded dataset or None, request hash) from a JSON or a multipart request."""
    if request.mimetype == "multipart/form-data":
        form = request.form
        unknown = sorted((set(form) - {"template", "template_version", "matricules", "values"}) | (set(request.files) - set(UPLOADS)))
        if unknown:
            raise Problem(422, "Valeurs invalides", errors=[{"field": key, "reason": "champ inconnu"} for key in unknown])
        if "employees" not in request.files:
            raise Problem(422, "Valeurs invalides", errors=[{"field": "employees", "reason": "fichier des salariés obligatoire"}])
        fields: dict[str, Any] = {"template": form.get("template")}
        for key in ("template_version", "matricules", "values"):
            if form.get(key):
                fields[key] = _json_field(key, form[key])
        files = {role: request.files[role] for role in UPLOADS if role in request.files}
        contents = {role: f.read() for role, f in files.items()}
        uploaded = load_dataset(*(contents.get(role) for role in UPLOADS),
                                names={role: f.filename or role for role, f in files.items()}).dataset
        digest = hashlib.sha256(_canonical(fields).encode())
        for role in UPLOADS:
            digest.update(f"|{role}:".encode() + hashlib.sha256(contents.get(role, b"")).hexdigest().encode())
        return fields, uploaded, digest.hexdigest()
    fields = json_body(*JSON_FIELDS)
    return fields, None, hashlib.sha256(_canonical(fields).encode()).hexdigest()


def _json_field(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Problem(422, "Valeurs invalides", errors=[{"field": key, "reason": f"JSON invalide : {exc.msg}"}]) from None


def _canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _get(batch_id: int) -> Batch:
    return batches.get_batch(db_session(), batch_id)


@bp.post("/batches")
@require("hr")
def create():
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > 200:
        raise Problem(422, "Valeurs invalides", errors=[{"field": "Idempotency-Key", "reason": "200 caractères au plus"}])
    fields, uploaded, request_hash = _request()
    session = db_session()
    batch, created = batches.create_batch(
        services(), session, template=fields.get("template"), template_version=fields.get("template_version"),
        matricules=fields.get("matricules"), raw_values=fields.get("values"), uploaded=uploaded,
        created_by=g.actor.label, idempotency_key=key, request_hash=request_hash)
    if created and services().jobs is not None:
        services().jobs.wake()
    headers = {"Location": url_for("batches.show", batch_id=batch.id)}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return batch_view(batch), 202 if created else 200, headers


@bp.get("/batches")
@require(*READERS)
def index():
    limit, cursor = page()
    session = db_session()
    query = select(Batch).order_by(Batch.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(Batch.id < cursor)  # newest first
    status = one_of("status", BATCH_STATUSES)
    if status:
        query = query.where(Batch.status == status)
    rows = list(session.scalars(query))
    counts, names = batches.item_counts(session, [b.id for b in rows[:limit]]), TemplateNames(session)
    return listing([_batch(b, counts[b.id], names) for b in rows[:limit]], rows, limit, "batches.index")


@bp.get("/batches/<int:batch_id>")
@require(*READERS)
def show(batch_id: int):
    return batch_view(_get(batch_id))


@bp.get("/batches/<int:batch_id>/items")
@require(*READERS)
def items(batch_id: int):
    batch = _get(batch_id)
    limit, cursor = page()
    query = select(BatchItem.id, BatchItem.position, BatchItem.matricule, BatchItem.status, BatchItem.error,
                   BatchItem.document_id).where(BatchItem.batch_id == batch.id).order_by(BatchItem.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(BatchItem.id > cursor)
    status = one_of("status", ITEM_STATUSES)
    if status:
        query = query.where(BatchItem.status == status)
    rows = db_session().execute(query).all()
    answer = [{"matricule": r.matricule, "position": r.position, "status": r.status, "error": r.error,
               "document_id": r.document_id,
               "links": {"document": url_for("documents.show", document_id=r.document_id) if r.document_id else None}}
              for r in rows[:limit]]
    return listing(answer, rows, limit, "batches.items", batch_id=batch.id)


@bp.post("/batches/<int:batch_id>/cancel")
@require("hr")
def cancel(batch_id: int):
    return batch_view(batches.cancel(db_session(), _get(batch_id)))


@bp.post("/batches/<int:batch_id>/retry")
@require("hr")
def retry(batch_id: int):
    """The failed items of an ended batch made again (after a storage outage, say)."""
    session = db_session()
    batches.retry_failed(services(), session, _get(batch_id))
    session.commit()
    if services().jobs is not None:
        services().jobs.wake()
    return batch_view(_get(batch_id)), 202


@bp.get("/batches/<int:batch_id>/zip")
@require(*READERS)
def archive(batch_id: int):
    batch = _get(batch_id)
    if batch.status not in batches.FINISHED:
        raise Problem(409, "Lot en cours", f"Le lot {batch.id} n'est pas terminé ({batch.done} sur {batch.total}) : "
                      "l'archive sera prête à la fin.")
    session = db_session()
    name = TemplateNames(session)(batch.template_version_id)["name"]
    handle = batches.write_zip(session, services().blobs, batch)
    return send_file(handle, mimetype="application/zip", as_attachment=True, download_name=f"lot-{batch.id}-{name}.zip")


# --- OpenAPI -----------------------------------------------------------------------------------------

_BATCH = {"type": "object", "required": ["id", "status", "total", "done", "failed", "cancelled"], "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": list(BATCH_STATUSES),
               "description": "partially_completed : terminé avec des éléments en échec (à relancer avec /retry)"},
    "template": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "integer"}}},
    "total": {"type": "integer"}, "done": {"type": "integer"}, "failed": {"type": "integer"},
    "cancelled": {"type": "integer"}, "pending": {"type": "integer"},
    "documents_per_second": {"type": ["number", "null"]},
    "estimated_end": {"type": ["string", "null"], "format": "date-time"},
    "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "started_at": {"type": ["string", "null"], "format": "date-time"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "incident": {"type": ["string", "null"], "description": "Ce qui fait attendre un lot en cours (stockage "
                 "indisponible…) tant que cela dure ; seulement sur un lot seul, pas dans les listes"},
    "links": {"type": "object", "additionalProperties": {"type": "string"}}}}
_ITEM = {"type": "object", "required": ["matricule", "status"], "properties": {
    "matricule": {"type": "string"}, "position": {"type": "integer"},
    "status": {"type": "string", "enum": ["pending", "done", "failed", "cancelled"]},
    "error": {"type": ["string", "null"]}, "document_id": {"type": ["integer", "null"]},
    "links": {"type": "object", "properties": {"document": {"type": ["string", "null"]}}}}}
_BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}



_ONE = {"$ref": "#/components/schemas/Batch"}
OPENAPI = {
    "schemas": {"Batch": _BATCH, "BatchItem": _ITEM},
    "paths": {
        "/batches": {
            "post": {
                "summary": "Lancer un lot : un document par salarié (rôle hr)", "tags": ["batches"],
                "description": "Les salariés de la base (tous, ou `matricules`) ; ou, en multipart, ceux d'un fichier "
                               "envoyé, utilisés pour ce lot seulement (la base n'est pas modifiée). Avec l'en-tête "
                               "Idempotency-Key, une requête répétée rend le même lot (200).",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["template", "values"],
                                                    "additionalProperties": False, "properties": {
                        "template": {"type": "string"}, "template_version": {"type": "integer", "minimum": 1},
                        "matricules": {"type": "array", "items": {"type": "string"}},
                        "values": {"allOf": [{"$ref": "#/components/schemas/CampaignValues"}, {
                            "type": "object", "properties": {"salaries": {"type": "object"}}}]}}}},
                    "multipart/form-data": {"schema": {"type": "object", "required": ["template", "values", "employees"],
                                                       "properties": {
                        "template": {"type": "string"}, "template_version": {"type": "string", "description": "entier"},
                        "matricules": {"type": "string", "description": "liste JSON"},
                        "values": {"type": "string", "description": "objet JSON des valeurs"},
                        "employees": {"type": "string", "format": "binary"},
                        "absences": {"type": "string", "format": "binary"},
                        "formations": {"type": "string", "format": "binary"}}}}}},
                "responses": {
                    "202": json_response(_ONE, "Le lot, créé ; les documents se font en arrière-plan",
                                 headers={"Location": {"schema": {"type": "string"}}}),
                    "200": json_response(_ONE, "Le lot déjà créé avec cette clé d'idempotence",
                                 headers={"Idempotent-Replayed": {"schema": {"type": "string"}}})}},
            "get": {"summary": "Les lots, du plus récent au plus ancien", "tags": ["batches"],
                    "parameters": [{"name": "status", "in": "query", "schema": _BATCH["properties"]["status"]},
                                   *page_parameters()],
                    "responses": {"200": json_response(page_of("Batch"), "Une page de lots")}},
        },
        "/batches/{batch_id}": {
            "get": {"summary": "Un lot : avancement, vitesse, fin estimée", "tags": ["batches"], "parameters": [_BATCH_ID],
                    "responses": {"200": json_response(_ONE, "Le lot")}},
        },
        "/batches/{batch_id}/items": {
            "get": {"summary": "Les salariés d'un lot, leur document ou leur erreur", "tags": ["batches"],
                    "parameters": [_BATCH_ID, {"name": "status", "in": "query", "schema": _ITEM["properties"]["status"]},
                                   *page_parameters()],
                    "responses": {"200": json_response(page_of("BatchItem"), "Une page d'éléments, dans l'ordre du lot")}},
        },
        "/batches/{batch_id}/cancel": {
            "post": {"summary": "Annuler un lot (rôle hr) : les documents pas encore faits ne le seront pas",
                     "tags": ["batches"], "parameters": [_BATCH_ID],
                     "responses": {"200": json_response(_ONE, "Le lot annulé"),
                                   "409": {"description": "Lot déjà terminé", "content": _PROBLEM}}},
        },
        "/batches/{batch_id}/retry": {
            "post": {"summary": "Relancer les éléments en échec d'un lot terminé (rôle hr), par exemple après une "
                                "panne du stockage ; les échecs dus aux données des salariés restent",
                     "tags": ["batches"], "parameters": [_BATCH_ID],
                     "responses": {"202": json_response(_ONE, "Le lot, de nouveau en cours"),
                                   "409": {"description": "Lot en cours, sans échec, ou échecs dus aux données",
                                           "content": _PROBLEM}}},
        },
        "/batches/{batch_id}/zip": {
            "get": {"summary": "Les PDF du lot et manifest.csv (matricule, fichier, sha256, pages, erreur)",
                    "tags": ["batches"], "parameters": [_BATCH_ID],
                    "responses": {"200": {"description": "Archive ZIP", "content": {
                        "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                        "409": {"description": "Lot pas encore terminé", "content": _PROBLEM}}},
        },
    },
}
