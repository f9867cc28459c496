"""The JSON API under /api/v1: one blueprint per resource, each with its part of the OpenAPI document."""

from __future__ import annotations

import importlib

from flask import Flask

PREFIX = "/api/v1"
MODULES = ("templates", "employees", "documents", "batches", "interviews", "due", "tokens", "webhooks", "audit", "signatures", "pki", "history", "verifications", "evidence", "openapi")


def register_api(app: Flask) -> None:
    for name in MODULES:
        module = importlib.import_module(f"parcours.api.{name}")
        app.register_blueprint(module.bp, url_prefix=PREFIX)
