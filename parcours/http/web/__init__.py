"""The pages, server-rendered in French: one blueprint per area, its templates in pages/<area>/."""

from __future__ import annotations

from flask import Flask

from parcours.http.web import account, acknowledge, auditor, signer

BLUEPRINTS = (account.bp, signer.bp, auditor.bp, acknowledge.bp)


def init_app(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
