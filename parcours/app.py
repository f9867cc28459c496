"""The Flask application: create_app(settings) wires settings, database, blobs, converter and jobs."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.orm import Session

from docgen.convert import ConverterPool
from parcours import problems
from parcours.blobs import BlobStore
from parcours.db import Database
from parcours.jobs import JobRunner
from parcours.settings import Settings

# Webhook deliveries mostly wait on the network: threads of their own, more than the cores.
JOB_LANES = {"webhook_delivery": 8}
SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class IsoJSONProvider(DefaultJSONProvider):
    """JSON answers in UTF-8 with keys in their order, and dates in ISO 8601 (Flask's default is
    the HTTP date format, which no API client expects)."""

    ensure_ascii = False
    sort_keys = False

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, (dt.date, dt.time)):
            return value.isoformat()
        return DefaultJSONProvider.default(value)


@dataclass
class Services:
    """What the endpoints and jobs use; one per application."""

    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobRunner | None = None
    _converter: ConverterPool | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def workers(self) -> int:
        return self.settings.workers or os.cpu_count() or 1

    def converter(self) -> ConverterPool:
        """The LibreOffice pool, started on first use (it takes a second or two)."""
        with self._lock:
            if self._converter is None or self._converter.closed:
                self._converter = ConverterPool(workers=self.workers, timeout=self.settings.conversion_timeout)
            return self._converter

    def session(self) -> Session:
        """The request's database session (closed, and rolled back if not committed, at teardown)."""
        if "db_session" not in g:
            g.db_session = self.db.new_session()
        return g.db_session

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.stop()
        if self._converter is not None:
            self._converter.close()
        self.db.dispose()


def services() -> Services:
    return current_app.extensions["parcours"]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json = IsoJSONProvider(app)

    db = Database(settings.resolved_database_url)
    db.upgrade()
    container = Services(settings, db, BlobStore(settings.resolved_blob_dir))
    app.extensions["parcours"] = container

    problems.init_app(app)
    from parcours.api import register_api

    register_api(app)
    from parcours.web.auditor import bp as auditor_pages
    from parcours.web.signer import bp as signer_pages

    app.register_blueprint(signer_pages)
    app.register_blueprint(auditor_pages)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    with app.app_context():
        from parcours.api.templates import seed_shipped_templates

        seed_shipped_templates(container, SHIPPED_TEMPLATES)
    if settings.run_jobs:
        from parcours.service.audit import schedule_daily_anchor

        with db.session() as session:
            schedule_daily_anchor(session)  # "at least daily": even the operator cannot rewrite history unseen
        container.jobs = JobRunner(db, container, container.workers, lanes=JOB_LANES)
        container.jobs.start()
    atexit.register(container.close)
    return app
