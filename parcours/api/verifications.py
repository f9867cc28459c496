"""/api/v1 (placeholder while it is being written)."""

from flask import Blueprint

bp = Blueprint("verifications", __name__)
OPENAPI: dict = {"schemas": {}, "paths": {}}
