"""Helpers of the browser tests: a person with a password, signing in through the login page."""

from __future__ import annotations

from parcours.service import users
from parcours.service.audit import Actor

PASSWORD = "une phrase de passe solide"


def person(app, email: str, name: str, roles: list[str], matricule: str | None = None) -> tuple[str, str]:
    """A user who can sign in: (e-mail, password)."""
    with app.extensions["parcours"].db.session() as session:
        user = users.create_user(session, email=email, name=name, roles=roles, matricule=matricule,
                                 by=Actor("test", "cli"))
        user.password_hash = users.hash_password(PASSWORD)
    return email, PASSWORD


def sign_in(page, base: str, email: str, password: str = PASSWORD, path: str = "/") -> None:
    """Open `path` signed out (it leads to the login page), sign in, and come back to it."""
    page.goto(base + path)
    page.wait_for_url("**/connexion**")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
