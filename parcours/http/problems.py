"""Errors as RFC 9457 application/problem+json: one table maps the domain errors (parcours.errors) and the
engines' errors to HTTP; `Problem` is the HTTP layer's own (bad request, authentication, role)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from docgen.convert import ConversionError
from docgen.dataset import ContextError, DataImportError
from docgen.package import UnsafePackage
from docgen.render import RenderError
from parcours import errors
from parcours.blobs import BlobNotFound
from parcours.errors import DomainError
from parcours.service.verifications import TrustRootsError
from signing.validate import UnreadablePdf

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


class Problem(DomainError):
    """Raised by the HTTP layer for an answer its status says (400, 401, 403 for a role…)."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 errors: list[dict[str, Any]] | None = None, **extensions: Any) -> None:
        super().__init__(title, detail, errors=errors, **extensions)
        self.status = status


STATUS: dict[type[DomainError], int] = {
    errors.Invalid: 422, errors.NotFound: 404, errors.Conflict: 409, errors.Gone: 410, errors.Forbidden: 403,
    errors.TooManyAttempts: 429, errors.Unavailable: 503,
}
"""The status of each domain error; the title, detail, errors and extensions are the error's own."""


def _row_errors(exc: DataImportError) -> list[dict[str, Any]]:
    return [{"file": e.file, "row": e.row, "field": e.column, "value": e.value, "reason": e.reason}
            for e in exc.errors]


# (exception type, status, title, extra fields). The first matching line wins: specific ones first.
TABLE: list[tuple[type[BaseException], int, str, Callable[[Any], dict[str, Any]]]] = [
    (DataImportError, 422, "Données invalides : rien n'a été importé", lambda e: {"errors": _row_errors(e)}),
    (UnsafePackage, 422, "Fichier refusé", lambda e: {}),
    (RenderError, 422, "Le modèle ne peut pas être rempli",
     lambda e: {"errors": [{"field": e.field, "template": e.template, "matricule": e.matricule,
                            "reason": e.reason, "excerpt": e.excerpt}]}),
    (ContextError, 422, "Valeurs invalides", lambda e: {}),
    (ConversionError, 503, "Conversion en PDF impossible", lambda e: {}),
    (BlobNotFound, 404, "Fichier introuvable", lambda e: {}),
    (UnreadablePdf, 422, "Fichier illisible", lambda e: {"errors": [{"field": "file", "reason": str(e)}]}),
    (TrustRootsError, 503, "Configuration invalide", lambda e: {}),
]


# French titles for the HTTP errors Flask raises by itself.
HTTP_TEXTS = {
    400: ("Requête mal formée", "La requête ne peut pas être lue."),
    404: ("Introuvable", "Aucune ressource à cette adresse."),
    405: ("Méthode non permise", "Cette adresse n'accepte pas cette méthode HTTP (voir l'en-tête Allow)."),
    413: ("Fichier trop volumineux", "La requête dépasse la taille maximale acceptée ({limit} octets)."),
    415: ("Type de contenu non pris en charge", "Envoyez du JSON ou un formulaire multipart."),
    429: ("Trop de requêtes", "Trop de tentatives depuis cette adresse : patientez avant de réessayer."),
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error (a Problem carries its own)."""
    if isinstance(exc, Problem):
        return exc.status
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)


def problem_response(status: int, title: str, detail: str | None = None, **fields: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in fields.items() if v is not None})
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _problem(exc: DomainError) -> Response:
        return problem_response(status_of(exc), exc.title, exc.detail, errors=exc.errors, **exc.extensions)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        title, detail = HTTP_TEXTS.get(status, (exc.name, exc.description))
        if status == 413:
            detail = detail.format(limit=app.config.get("MAX_CONTENT_LENGTH"))
        response = problem_response(status, title, detail)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _domain(exc: Exception) -> Response:
        for kind, status, title, extra in TABLE:
            if isinstance(exc, kind):
                return problem_response(status, title, str(exc), **extra(exc))
        log.exception("unexpected error")
        return problem_response(500, "Erreur interne", "Une erreur inattendue s'est produite ; elle a été journalisée.")
