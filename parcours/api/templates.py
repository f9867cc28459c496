"""/api/v1/templates (being written)."""

from pathlib import Path

from flask import Blueprint

bp = Blueprint("templates", __name__)
OPENAPI: dict = {"paths": {}, "schemas": {}}


def seed_shipped_templates(services, folder: Path) -> None:
    """Create the shipped templates as version 1 when the database has none of that name."""
