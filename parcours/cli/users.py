"""`parcours users create | list | invite | disable`: accounts, from the command line (the first admin's too)."""

from __future__ import annotations

import getpass

import click

from parcours.cli.common import UserError, services

ROLE_CHOICES = ("hr", "manager", "auditor", "admin")


def _cli_actor():
    from parcours.service.audit import Actor  # here: `parcours --help` need not load the services

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "inconnu"
    return Actor(f"cli:{user}", "cli")


def _by_email(session, email: str):
    from sqlalchemy import select

    from parcours.models import User

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise UserError(f"aucun compte n'a l'adresse {email}")
    return user


@click.group()
def users() -> None:
    """Comptes : créer, inviter, lister, désactiver."""


@users.command("create")
@click.option("--email", required=True, help="Adresse e-mail : l'identifiant de connexion.")
@click.option("--nom", "name", required=True, help="Prénom et nom, tels que la piste d'audit les montrera.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLE_CHOICES), help="Rôle (option répétable).")
@click.option("--matricule", help="Pour un manager : son matricule (son équipe est qui dépend de lui).")
def users_create(email: str, name: str, roles: tuple[str, ...], matricule: str | None) -> None:
    """Crée un compte et envoie son invitation (un lien pour choisir le mot de passe, valable 7 jours)."""
    from parcours.errors import DomainError
    from parcours.service import users as accounts

    actor = _cli_actor()
    with services() as container:
        try:
            with container.db.session() as session:
                user = accounts.create_user(session, email=email, name=name, roles=list(roles), matricule=matricule,
                                            by=actor)
                user_id = user.id
            link = accounts.invite(container, user_id, by=actor)
        except DomainError as exc:
            reasons = "; ".join(f"{e.get('field')} : {e.get('reason')}" for e in exc.errors or ())
            raise UserError(f"{exc.detail or exc.title}{' (' + reasons + ')' if reasons else ''}") from None
    click.echo(f"Compte n° {user_id} créé pour {name} <{email.strip().lower()}> ({', '.join(roles) or 'sans rôle'}).")
    click.echo(f"Invitation envoyée ; le lien pour choisir le mot de passe (7 jours, une fois) : {link}")


@users.command("invite")
@click.argument("email")
def users_invite(email: str) -> None:
    """Envoie une nouvelle invitation (le lien précédent reste valable jusqu'à son échéance)."""
    from parcours.service import users as accounts

    with services() as container:
        with container.db.session() as session:
            user_id = _by_email(session, email).id
        link = accounts.invite(container, user_id, by=_cli_actor())
    click.echo(f"Invitation envoyée à {email} : {link}")


@users.command("list")
def users_list() -> None:
    """Les comptes, avec leurs rôles et leur dernière connexion."""
    from sqlalchemy import select

    from parcours.models import User

    with services() as container, container.db.session() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            state = "actif" if user.active else "désactivé"
            last = f"dernière connexion le {user.last_login_at:%d/%m/%Y}" if user.last_login_at else "jamais connecté"
            click.echo(f"{user.id:4}  {user.email:40} {user.name:30} {','.join(user.roles) or '-':22} {state}, {last}")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Désactive un compte : ses sessions et ses jetons cessent aussitôt."""
    from parcours.service import users as accounts

    with services() as container, container.db.session() as session:
        accounts.update_user(session, _by_email(session, email), by=_cli_actor(), active=False)
    click.echo(f"Compte {email} désactivé.")
