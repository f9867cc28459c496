"""/api/v1/employees (being written)."""

from flask import Blueprint

bp = Blueprint("employees", __name__)
OPENAPI: dict = {"paths": {}, "schemas": {}}
