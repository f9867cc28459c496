"""The Flask application: create_app(settings) builds the service container and wires the parts."""

from __future__ import annotations

import atexit

from flask import Flask

from parcours import http
from parcours.container import Services
from parcours.jobs import handlers
from parcours.service import templates
from parcours.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    services = Services.open(settings)
    templates.seed_shipped(services.db, services.blobs)
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    http.init_app(app, services)
    if settings.broker_url:
        from parcours.jobs import distributed  # Celery only where a broker is set

        distributed.attach(services)  # jobs go to `parcours worker`; this process only answers HTTP
    elif settings.run_jobs:
        handlers.start(services)
    atexit.register(services.close)
    return app
