"""/api/v1/documents (being written)."""

from flask import Blueprint

bp = Blueprint("documents", __name__)
OPENAPI: dict = {"paths": {}, "schemas": {}}
