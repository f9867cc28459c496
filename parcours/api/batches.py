"""/api/v1/batches (being written)."""

from flask import Blueprint

bp = Blueprint("batches", __name__)
OPENAPI: dict = {"paths": {}, "schemas": {}}
