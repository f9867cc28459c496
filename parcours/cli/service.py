"""`parcours init | serve | tokens`: the instance, the HTTP service and its API tokens.

The service's modules are imported inside the commands: `parcours --help` and the document commands
need not load SQLAlchemy, Flask and pyHanko."""

from __future__ import annotations

import signal

import click

from parcours.cli.common import SAMPLES_DIR, UserError, database, open_services, read_dataset, settings, unreachable
from parcours.settings import Settings


@click.command()
def init() -> None:
    """Crée le dossier d'instance, la base de données et les modèles livrés."""
    from parcours.service import pki as instance_pki
    from parcours.service import templates

    current = settings()
    services = open_services(current)
    try:
        templates.seed_shipped(services.db, services.blobs)
    finally:
        services.close()
    click.echo(f"Autorité de signature : {instance_pki.init(current)}")
    click.echo(f"Instance prête : {current.instance_dir.resolve()} (base : {current.resolved_database_url})")


@click.group()
def tokens() -> None:
    """Jetons d'API : créer, lister, révoquer."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["hr", "auditor", "admin"]))
@click.option("--label", required=True, help="Qui ou quoi utilise ce jeton.")
def tokens_create(role: str, label: str) -> None:
    """Crée un jeton ; il n'est affiché qu'une fois."""
    from parcours.service.tokens import create_token

    with database() as db, db.session() as session:
        token, record = create_token(session, role, label)
    click.echo(f"Jeton n° {record.id} ({role}, « {label} ») : {token}")
    click.echo("Conservez-le : il ne sera plus affiché.")


@tokens.command("list")
def tokens_list() -> None:
    from sqlalchemy import select

    from parcours.models import ApiToken

    with database() as db, db.session() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = f"révoqué le {t.revoked_at:%d/%m/%Y}" if t.revoked_at else "actif"
            click.echo(f"{t.id:4}  {t.role:8} {t.prefix}…  {t.label}  ({state})")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    from parcours.service.tokens import revoke_token

    with database() as db, db.session() as session:
        try:
            revoke_token(session, token_id)
        except LookupError:
            raise UserError(f"aucun jeton n'a l'identifiant {token_id}") from None
    click.echo(f"Jeton n° {token_id} révoqué.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Importe les salariés d'exemple et affiche des jetons de démonstration.")
def serve(host: str, port: int, threads: int, demo: bool) -> None:
    """Lance le service HTTP (waitress)."""
    import waitress
    from sqlalchemy.exc import ArgumentError, OperationalError

    from parcours.app import create_app
    from parcours.container import keep_for_good

    current = settings()
    if demo:
        current = demo_settings(current)
    try:
        app = create_app(current)
    except (OperationalError, ArgumentError) as exc:
        raise unreachable(exc, current) from None
    if demo:
        _prepare_demo(app, f"http://{host}:{port}")
    click.echo(f"Parcours écoute sur http://{host}:{port}/ (pages, connexion) et http://{host}:{port}/api/v1 "
               "(description : /api/v1/openapi.json)")
    server = waitress.create_server(app, host=host, port=port, threads=threads)
    keep_for_good()
    # SIGTERM as SIGINT: waitress stops taking requests and lets the running ones end; then the jobs
    # running here end (those claimed but not started are given back), LibreOffice and its profiles go.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        click.echo("Arrêt : fin des requêtes et des tâches en cours, fermeture de LibreOffice…")
        server.close()
        from parcours.service.templates import ISOLATED

        ISOLATED.close()
        app.extensions["parcours"].close()
        click.echo("Parcours arrêté.")


def demo_settings(current: Settings) -> Settings:
    """The demo speaks for the sample campaign's employer (« Atelier Lumière ») unless PARCOURS_ORGANISATION says
    otherwise: pages, e-mails and the instance's certificates carry its name."""
    import dataclasses
    import json

    if current.organisation != Settings.organisation:
        return current
    campaign = json.loads((SAMPLES_DIR / "campagne.json").read_text(encoding="utf-8"))
    return dataclasses.replace(current, organisation=campaign["societe"]["nom"])


DEMO_ACCESS = "demo-acces.txt"
"""In the instance folder: the demo's tokens and account, made at the first demo start, shown at the others."""


def _prepare_demo(app, base_url: str) -> None:
    """Sample employees, a token per role and an account for HR and admin, made once per instance."""
    import os
    import secrets

    from sqlalchemy import func, select

    from parcours.http.current import EXTENSION
    from parcours.models import Employee
    from parcours.service import users
    from parcours.service.audit import Actor
    from parcours.service.employees import upsert_dataset
    from parcours.service.tokens import create_token

    services = app.extensions[EXTENSION]
    access = services.settings.instance_dir / DEMO_ACCESS
    with services.db.session() as session:
        if not session.scalar(select(func.count()).select_from(Employee)):
            upsert_dataset(session, read_dataset(SAMPLES_DIR))
            click.echo(f"Salariés d'exemple importés depuis {SAMPLES_DIR}")
    if not access.exists():
        password = secrets.token_urlsafe(12)
        with services.db.session() as session:
            made = {role: create_token(session, role, f"démo {role}")[0] for role in ("hr", "auditor", "admin")}
            user = users.create_user(session, email="demo@parcours.local", name="Démo RH", roles=["hr", "admin"],
                                     by=Actor("démo", "cli"))
            user.password_hash = users.hash_password(password)
            # A manager of the sample data (E0001 leads the company): « Mes entretiens » shows their team.
            manager = users.create_user(session, email="manager@parcours.local", name="Julien Martin (démo)",
                                        roles=["manager"], matricule="E0001", by=Actor("démo", "cli"))
            manager.password_hash = users.hash_password(password)
        lines = [f"Jeton de démonstration {role:8}: {token}" for role, token in made.items()]
        lines += [f"Compte de démonstration : demo@parcours.local, mot de passe {password} ({base_url}/connexion)",
                  "Compte de démonstration (manager) : manager@parcours.local, même mot de passe",
                  f"Essayez : curl -H 'Authorization: Bearer {made['hr']}' {base_url}/api/v1/employees"]
        access.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(access, 0o600)
    click.echo(access.read_text(encoding="utf-8").rstrip())
    click.echo(f"(créés au premier démarrage de cette instance ; conservés dans {access})")
