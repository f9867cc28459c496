"""/api/v1/openapi.json: the OpenAPI 3.1 document, assembled from each resource module's part."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from flask import Blueprint

from parcours.http.api._common import MAX_ID

ERRORS = {
    "400": "Requête mal formée", "401": "Jeton absent ou invalide", "403": "Rôle insuffisant",
    "404": "Introuvable", "413": "Fichier trop volumineux", "422": "Données invalides",
}


def document(resources: Sequence[ModuleType]) -> dict[str, Any]:
    """The whole description, from each resource module's OPENAPI (paths and schemas)."""
    paths: dict = {}
    schemas: dict = {
        "Problem": {"type": "object", "description": "RFC 9457 application/problem+json", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}}},
    }
    for module in resources:
        part = module.OPENAPI
        paths.update(part.get("paths", {}))
        schemas.update(part.get("schemas", {}))
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in paths.values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", ()):
                if parameter.get("schema", {}).get("type") == "integer":
                    # Ids start at 1 and end with PostgreSQL's integer (a route answers 404 to the others); the
                    # other whole numbers (limit, effectif) say their bounds.
                    parameter["schema"] = {"minimum": 1, "maximum": MAX_ID, **parameter["schema"]}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if isinstance(body, dict) and body.get("type") == "object" and "properties" in body:
                # Every JSON body goes through _common.json_body, which refuses a field it does not name.
                body.setdefault("additionalProperties", False)
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


def query_parameters(resources: Sequence[ModuleType]) -> dict[tuple[str, str], frozenset[str]]:
    """{(METHOD, path as the document writes it): the query parameters it names}."""
    named = {}
    for path, operations in document(resources)["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict):
                named[method.upper(), path] = frozenset(
                    p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query")
    return named


def blueprint(resources: Sequence[ModuleType]) -> Blueprint:
    """/openapi.json, describing `resources`."""
    bp = Blueprint("openapi", __name__)

    @bp.get("/openapi.json")
    def openapi_json() -> dict[str, Any]:
        return document(resources)

    return bp
