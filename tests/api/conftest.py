"""The service under test, on SQLite and on PostgreSQL (127.0.0.1:5432, database created per run).

PostgreSQL tests are skipped, saying why, when no server answers; set PARCOURS_TEST_POSTGRES_URL to
use another server (a URL to a database the tests may create databases from).
"""

from __future__ import annotations

import pytest

from api_helpers import database
from parcours.app import create_app
from parcours.service.tokens import create_token
from parcours.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    with database(request.param, tmp_path) as url:
        yield url


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
    from signing_flow import store_employees

    store_employees(app)
