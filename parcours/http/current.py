"""What a request works with: the application's service container and the request's database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from parcours.container import Services

EXTENSION = "parcours"


def services() -> Services:
    return current_app.extensions[EXTENSION]


def db_session() -> Session:
    """The request's database session, closed (and rolled back if not committed) at teardown."""
    if "db_session" not in g:
        g.db_session = services().db.new_session()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
