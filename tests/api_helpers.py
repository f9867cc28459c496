"""Helpers for API tests."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parcours import resources

SAMPLES = resources.SAMPLES
POSTGRES_ADMIN_URL = os.environ.get("PARCOURS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""A PostgreSQL database the tests may create throwaway databases from (127.0.0.1:5432 unless set)."""


class SharedPool:
    """The session's LibreOffice pool lent to one app: closing the app must not close it. `pool` may be None
    for a test whose documents never reach conversion."""

    closed = False

    def __init__(self, pool) -> None:
        self.pool = pool

    @property
    def size(self) -> int:
        return self.pool.size

    def convert(self, docx: bytes, **options) -> bytes:
        return self.pool.convert(docx, **options)

    def close(self) -> None:
        pass


def lend_pool(app, pool) -> None:
    """Make `app` convert with the session's `pool` (before any job asks for a converter)."""
    app.extensions["parcours"]._converter = SharedPool(pool)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def postgres_database():
    """Create a throwaway PostgreSQL database; return (url, drop) or skip the test, saying why."""
    import pytest
    import sqlalchemy

    name = f"parcours_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}: {exc})")

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database for a test: ``"sqlite"`` a file in `folder`, ``"postgresql"`` a
    throwaway database (``postgres_database``, dropped after; skipped when no server answers)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'parcours.sqlite3'}"
        return
    url, drop = postgres_database()
    try:
        yield url
    finally:
        drop()
