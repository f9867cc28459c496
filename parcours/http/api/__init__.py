"""The JSON API under /api/v1: one module per resource, each with its blueprint `bp` and its part of the
OpenAPI document `OPENAPI`; their shared helpers are in _common.py. A new resource is named once, below."""

from __future__ import annotations

from flask import Flask

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
