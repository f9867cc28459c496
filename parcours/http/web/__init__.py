"""The pages, server-rendered in French: one blueprint per area, its templates in pages/<area>/."""

from __future__ import annotations

from flask import Flask

from parcours.http.web import (account, acknowledge, admin, auditor, campaigns, dashboard, frame, models, people,
                               reports, signature_requests, signer, team, trail)

BLUEPRINTS = (frame.bp, account.bp, signer.bp, auditor.bp, acknowledge.bp, dashboard.bp, people.bp, campaigns.bp,
              reports.bp, signature_requests.bp, models.bp, trail.bp, admin.bp, team.bp)


def init_app(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
