"""The JSON API under /api/v1: one module per resource, each with its blueprint `bp` and its part of the
OpenAPI document `OPENAPI`; their shared helpers are in _common.py. A new resource is named once, below."""

from __future__ import annotations

import re
from collections.abc import Iterator

from flask import Flask, request

from parcours.http.problems import Problem

from parcours.http.api import (
    audit,
    batches,
    campaigns,
    documents,
    due,
    employees,
    evidence,
    history,
    interview_reports,
    interviews,
    openapi,
    pki,
    signatures,
    templates,
    tokens,
    users,
    verifications,
    webhooks,
)

PREFIX = "/api/v1"
RESOURCES = (templates, employees, documents, batches, campaigns, interviews, interview_reports, due, tokens, users,
             webhooks, audit, signatures, pki, history, verifications, evidence)


def init_app(app: Flask) -> None:
    for module in RESOURCES:
        app.register_blueprint(module.bp, url_prefix=PREFIX)
    app.register_blueprint(openapi.blueprint(RESOURCES), url_prefix=PREFIX)
    documented = openapi.query_parameters(RESOURCES)

    @app.before_request
    def refuse_unknown_query_parameters() -> None:
        """A misspelt filter (`?statut=`) would otherwise be ignored and the whole list returned: as for the
        fields of a JSON body, a query parameter the description does not name is refused, with the known ones."""
        rule = request.url_rule
        if rule is None or not rule.rule.startswith(PREFIX):
            return
        known = documented.get((request.method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len(PREFIX):])))
        if known is None:
            return
        unknown = sorted(set(request.args) - known)
        if unknown:
            expected = f"paramètres : {', '.join(sorted(known))}" if known else "cette adresse n'en prend aucun"
            raise Problem(422, "Paramètres inconnus", errors=[
                {"field": name, "reason": f"paramètre inconnu ({expected})"} for name in unknown])

    @app.before_request
    def refuse_malformed_texts() -> None:
        """A form part without a name is malformed; U+0000 has no place in any text the API takes, and PostgreSQL
        cannot store it: both refused before any route reads them."""
        if not request.path.startswith(PREFIX + "/"):
            return
        if None in request.form or None in request.files:
            raise Problem(400, "Formulaire mal formé", "Une partie du formulaire n'a pas de nom "
                                                        "(Content-Disposition: form-data; name=\"…\").")
        fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
        if request.is_json:
            fields += _texts(request.get_json(silent=True), "")
        named = [name for name, value in fields if "\x00" in name + value]
        if named:
            raise Problem(422, "Caractère nul refusé", "Le caractère nul (U+0000) n'est accepté dans aucun texte.",
                          errors=[{"field": name.replace("\x00", "\\0"), "reason": "contient le caractère nul (U+0000)"}
                                  for name in named])


def _texts(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(field path, text) for every key and string of a JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            place = f"{path}.{key}" if path else str(key)
            yield place, str(key)
            yield from _texts(item, place)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]")
