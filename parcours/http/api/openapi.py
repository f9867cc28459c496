"""/api/v1/openapi.json: the OpenAPI 3.1 document, assembled from each resource module's part."""

from __future__ import annotations

import importlib

from flask import Blueprint

bp = Blueprint("openapi", __name__)
RESOURCES = ("templates", "employees", "documents", "batches", "interviews", "due", "tokens", "webhooks", "audit", "signatures", "pki", "history", "verifications", "evidence")
ERRORS = {
    "400": "Requête mal formée", "401": "Jeton absent ou invalide", "403": "Rôle insuffisant",
    "404": "Introuvable", "413": "Fichier trop volumineux", "422": "Données invalides",
}


def document() -> dict:
    paths: dict = {}
    schemas: dict = {
        "Problem": {"type": "object", "description": "RFC 9457 application/problem+json", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}}},
    }
    for name in RESOURCES:
        part = importlib.import_module(f"parcours.api.{name}").OPENAPI
        paths.update(part.get("paths", {}))
        schemas.update(part.get("schemas", {}))
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in paths.values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERRORS.items():
                operation["responses"].setdefault(status, {"description": description, "content": problem})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Parcours API", "version": "1",
                 "description": "Documents de l'entretien de parcours professionnel. Erreurs : RFC 9457."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    return document()
