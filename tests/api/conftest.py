"""The service under test, on SQLite and on PostgreSQL (127.0.0.1:5432, database created per run).

PostgreSQL tests are skipped, saying why, when no server answers; set PARCOURS_TEST_POSTGRES_URL to
use another server (a URL to a database the tests may create databases from).
"""

from __future__ import annotations

import os
import uuid
import pytest

from parcours.app import create_app
from parcours.auth import create_token
from parcours.settings import Settings

ADMIN_URL = os.environ.get("PARCOURS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_database():
    """Create a throwaway database; return (url, drop) or skip with the reason."""
    import sqlalchemy

    name = f"parcours_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL} ({type(exc).__name__}: {exc})")

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parcours.sqlite3'}"
        return
    url, drop = _postgres_database()
    yield url
    drop()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(instance_dir=tmp_path / "instance", database_url=database_url, run_jobs=False, workers=2)


@pytest.fixture
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["parcours"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tokens(app) -> dict[str, str]:
    """A token per role: {"hr": "prc_…", "auditor": …, "admin": …}."""
    made = {}
    with app.extensions["parcours"].db.session() as session:
        for role in ("hr", "auditor", "admin"):
            made[role], _ = create_token(session, role, f"test {role}")
    return made



@pytest.fixture
def employees(app):
    """The 25 sample employees, with their absences and trainings, in the database."""
    from api_helpers import SAMPLES
    from docgen.context import load_dataset_dir
    from parcours.service.employees import upsert_dataset

    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)
