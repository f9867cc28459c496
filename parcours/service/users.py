"""People: accounts with roles, invitations and password resets by one-time link, password logins with a
lockout, sessions with an idle and an absolute end, and a manager's team.

Passwords are hashed with Argon2id (argon2-cffi's defaults, rehashed when they change). A login that
fails says the same thing whether the account exists, is locked or the password is wrong; after
`login_attempts` wrong passwords in a row the account refuses every password for
`login_lockout_minutes` (the right one included), and a success resets the count. Session and link
tokens are random, given out once and kept as their sha256 (tokens.hash_token).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parcours.container import Services
from parcours.errors import Conflict, Gone, Invalid, NotFound
from parcours.models import ApiToken, Employee, User, UserLink, UserSession, utcnow
from parcours.service import audit, mail, tokens
from parcours.service.audit import Actor
from parcours.service.tokens import hash_token
from parcours.settings import Settings

ROLES = tokens.ROLES
ROLE_LABELS = {"hr": "ressources humaines", "manager": "manager", "auditor": "auditeur", "admin": "administrateur"}
PASSWORD_MIN = 12
INVITATION_VALID = dt.timedelta(days=7)
RESET_VALID = dt.timedelta(hours=1)
SEEN_EVERY = dt.timedelta(seconds=60)
"""A session's last_seen_at is written at most this often: not a write per request."""
LOGIN_FAILED = ("Connexion impossible : adresse e-mail ou mot de passe incorrect. Après plusieurs essais "
                "manqués, le compte est bloqué quelques minutes.")
PASSWORD_PAGE = "/mot-de-passe/"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class SignedIn:
    """A live session: its user, and the session's row."""

    user: User
    session: UserSession

    def actor(self) -> Actor:
        return actor_of(self.user, self.session.method)


def actor_of(user: User, method: str, token_id: int | None = None, roles: Iterable[str] | None = None) -> Actor:
    return Actor(f"{user.name} <{user.email}>", method, user_id=user.id, name=user.name,
                 roles=tuple(user.roles if roles is None else roles), token_id=token_id)


# --- accounts ---------------------------------------------------------------------------------------

def check_roles(raw: Any, field: str = "roles") -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise Invalid("Valeurs invalides", errors=[{"field": field, "reason": f"une liste parmi : {', '.join(ROLES)}"}])
    unknown = sorted(set(raw) - set(ROLES))
    if unknown:
        raise Invalid("Valeurs invalides", errors=[{"field": field, "value": u, "reason": f"rôle inconnu (rôles : "
                                                    f"{', '.join(ROLES)})"} for u in unknown])
    return [role for role in ROLES if role in raw]


def create_user(session: Session, *, email: Any, name: Any, roles: Any, matricule: Any = None,
                by: Actor) -> User:
    """A new account, active, without a password until its invitation is used."""
    errors = []
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        errors.append({"field": "email", "reason": "adresse e-mail invalide"})
    if not isinstance(name, str) or not name.strip() or len(name) > 300:
        errors.append({"field": "name", "reason": "nom et prénom obligatoires (300 caractères au plus)"})
    if matricule is not None and (not isinstance(matricule, str) or not matricule.strip()):
        errors.append({"field": "matricule", "reason": "matricule du salarié (texte)"})
    if errors:
        raise Invalid("Valeurs invalides", errors=errors)
    roles = check_roles(roles)
    if "manager" in roles and matricule is None:
        raise Invalid("Valeurs invalides", errors=[{"field": "matricule", "reason": "un manager est relié à sa "
                                                    "fiche salarié : son équipe est qui dépend de lui"}])
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("Compte existant", f"Un compte existe déjà pour {email}.",
                       errors=[{"field": "email", "reason": "adresse déjà utilisée"}])
    user = User(email=email, name=name.strip(), roles=roles, matricule=matricule.strip() if matricule else None,
                active=True, failed_logins=0, created_by=by.label)
    session.add(user)
    session.flush()
    audit.record(session, "user.created", subject_type="user", subject_id=user.id, actor=by,
                 data={"email": email, "roles": roles, "matricule": user.matricule})
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Compte introuvable", f"Aucun compte n'a l'identifiant {user_id}.")
    return user


def update_user(session: Session, user: User, *, by: Actor, roles: Any = None, active: Any = None,
                name: Any = None) -> User:
    """Change roles, name or state; a deactivated account's sessions and tokens stop at once."""
    changes: dict[str, Any] = {}
    if roles is not None:
        user.roles = changes["roles"] = check_roles(roles)
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise Invalid("Valeurs invalides", errors=[{"field": "name", "reason": "nom et prénom obligatoires"}])
        user.name = changes["name"] = name.strip()
    if active is not None:
        if not isinstance(active, bool):
            raise Invalid("Valeurs invalides", errors=[{"field": "active", "reason": "vrai ou faux"}])
        user.active = changes["active"] = active
        if not active:
            end_sessions(session, user.id)
    if changes:
        audit.record(session, "user.updated", subject_type="user", subject_id=user.id, actor=by, data=changes)
    return user


# --- one-time links: invitation, reset ----------------------------------------------------------------

def _new_link(session: Session, user: User, purpose: str) -> tuple[str, UserLink]:
    token = secrets.token_urlsafe(32)
    valid = INVITATION_VALID if purpose == "invitation" else RESET_VALID
    link = UserLink(token_hash=hash_token(token), user_id=user.id, purpose=purpose, expires_at=utcnow() + valid)
    session.add(link)
    session.flush()
    return token, link


def link_address(settings: Settings, token: str) -> str:
    return settings.public_url.rstrip("/") + PASSWORD_PAGE + token


def _mail_link(settings: Settings, name: str, email: str, purpose: str, token: str, expires_at: dt.datetime) -> None:
    """Sent after the commit that made the link: a link never goes out for a rolled-back change."""
    subject, body = mail.account_link(name=name, purpose=purpose, link=link_address(settings, token),
                                      expires_at=expires_at, timezone=settings.timezone,
                                      organisation=settings.organisation)
    mail.send(settings, email, subject, body)


def invite(services: Services, user_id: int, *, by: Actor) -> str:
    """E-mail a link to choose a first password (valid 7 days, once); return the link (the CLI prints it)."""
    with services.db.session() as session:
        user = get_user(session, user_id)
        token, link = _new_link(session, user, "invitation")
        audit.record(session, "user.invited", subject_type="user", subject_id=user.id, actor=by,
                     data={"email": user.email, "expires_at": link.expires_at.isoformat()})
        name, email, expires = user.name, user.email, link.expires_at
    try:
        _mail_link(services.settings, name, email, "invitation", token, expires)
    except mail.MailError:
        pass  # the link exists and works: an admin can hand it over another way (the CLI prints it)
    return link_address(services.settings, token)


def request_reset(services: Services, email: Any, *, ip: str | None = None, user_agent: str | None = None) -> None:
    """Mail a reset link (valid 1 hour, once) if an active account has this address; say nothing either way."""
    if not isinstance(email, str):
        return
    with services.db.session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower(), User.active.is_(True)))
        if user is None:
            return
        token, link = _new_link(session, user, "reset")
        audit.record(session, "user.reset_requested", subject_type="user", subject_id=user.id,
                     actor=actor_of(user, "link"), ip=ip, user_agent=user_agent)
        name, address, expires = user.name, user.email, link.expires_at
    try:
        _mail_link(services.settings, name, address, "reset", token, expires)
    except mail.MailError:
        pass  # the person asks again; nothing tells an anonymous caller whether the account exists


def link_user(session: Session, token: str) -> tuple[User, UserLink]:
    """The account a one-time link opens; Gone when used or expired, NotFound when unknown."""
    link = session.scalar(select(UserLink).where(UserLink.token_hash == hash_token(token)))
    if link is None:
        raise NotFound("Lien inconnu", "Ce lien n'existe pas : demandez-en un nouveau.")
    if link.used_at is not None:
        raise Gone("Lien déjà utilisé", "Ce lien a déjà servi : demandez-en un nouveau.")
    if link.expires_at <= utcnow():
        raise Gone("Lien expiré", "Ce lien a expiré : demandez-en un nouveau.")
    user = session.get(User, link.user_id)
    if user is None or not user.active:
        raise Gone("Compte désactivé", "Ce compte a été désactivé.")
    return user, link


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(password: Any, user: User | None = None) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise Invalid("Mot de passe trop court", errors=[{"field": "password",
                                                          "reason": f"{PASSWORD_MIN} caractères au moins"}])
    if len(password) > 1000:
        raise Invalid("Mot de passe trop long", errors=[{"field": "password", "reason": "1 000 caractères au plus"}])
    if user is not None and password.strip().lower() in (user.email, user.name.lower()):
        raise Invalid("Mot de passe trop simple", errors=[{"field": "password",
                                                          "reason": "ni votre adresse ni votre nom"}])
    return password


def set_password(session: Session, token: str, password: Any, *, ip: str | None = None,
                 user_agent: str | None = None) -> User:
    """Use a one-time link: the password is set, the link spent, every open session ended."""
    user, link = link_user(session, token)
    user.password_hash = hash_password(check_password(password, user))
    user.failed_logins, user.locked_until = 0, None
    link.used_at = utcnow()
    end_sessions(session, user.id)
    audit.record(session, "user.password_set", subject_type="user", subject_id=user.id,
                 actor=actor_of(user, "link"), ip=ip, user_agent=user_agent, data={"by": link.purpose})
    return user


# --- login, sessions ----------------------------------------------------------------------------------

def login(session: Session, settings: Settings, email: Any, password: Any, *, ip: str | None = None,
          user_agent: str | None = None) -> tuple[str, SignedIn]:
    """Check the password and open a session; (cookie token, session). Invalid with one message for an
    unknown address, a wrong password, a locked or deactivated account; a failure is committed (the count
    and its audit event stay) before it is raised."""
    now = utcnow()
    address = email.strip().lower()[:320] if isinstance(email, str) else ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    if user is None or not user.active or user.password_hash is None or not isinstance(password, str):
        _hash_anyway(password)  # the same time whether the account exists or not
        _refuse(session, user, address, "unknown_or_inactive", ip, user_agent)
    if user.locked_until is not None and user.locked_until > now:
        _hash_anyway(password)
        _refuse(session, user, address, "locked", ip, user_agent)
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        reason = "wrong_password"
        if user.failed_logins >= settings.login_attempts:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins, reason = 0, "locked_now"
        _refuse(session, user, address, reason, ip, user_agent)
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return open_session(session, settings, user, "password", ip=ip, user_agent=user_agent)


def _refuse(session: Session, user: User | None, address: str, reason: str, ip: str | None,
            user_agent: str | None) -> None:
    audit.record(session, "login.failed", subject_type="user", subject_id=user.id if user else None,
                 actor=address or None, ip=ip, user_agent=user_agent, data={"reason": reason})
    session.commit()
    raise Invalid("Connexion impossible", LOGIN_FAILED)


def _hash_anyway(password: Any) -> None:
    _HASHER.hash(password if isinstance(password, str) else "-")


def open_session(session: Session, settings: Settings, user: User, method: str, *, ip: str | None = None,
                 user_agent: str | None = None) -> tuple[str, SignedIn]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(token_hash=hash_token(token), user_id=user.id, method=method, created_at=now, last_seen_at=now,
                      expires_at=now + dt.timedelta(hours=settings.session_hours), ip=ip,
                      user_agent=(user_agent or "")[:500] or None)
    session.add(row)
    session.flush()
    signed_in = SignedIn(user, row)
    audit.record(session, "login.succeeded", subject_type="user", subject_id=user.id, actor=signed_in.actor(),
                 ip=ip, user_agent=user_agent)
    return token, signed_in


def current(session: Session, settings: Settings, token: str | None) -> SignedIn | None:
    """The live session of a cookie's token, its last use noted; None when unknown, ended, idle too long,
    past its absolute end, or its account deactivated."""
    if not token:
        return None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now \
            or row.last_seen_at + dt.timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
        session.commit()
    return SignedIn(user, row)


def logout(session: Session, signed_in: SignedIn, *, everywhere: bool = False, ip: str | None = None,
           user_agent: str | None = None) -> int:
    """End this session (or all of the user's); the number ended."""
    if everywhere:
        ended = end_sessions(session, signed_in.user.id)
    else:
        signed_in.session.ended_at, ended = utcnow(), 1
    audit.record(session, "logout", subject_type="user", subject_id=signed_in.user.id, actor=signed_in.actor(),
                 ip=ip, user_agent=user_agent, data={"sessions": ended, "everywhere": everywhere})
    return ended


def end_sessions(session: Session, user_id: int) -> int:
    return session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                           .values(ended_at=utcnow())).rowcount


# --- tokens and teams -----------------------------------------------------------------------------------

def token_actor(session: Session, token: ApiToken) -> Actor | None:
    """Who a token acts as: its user (None when that user is deactivated), or the service account it names."""
    if token.user_id is None:
        return Actor(token.label, "token", roles=(token.role,), token_id=token.id)
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    return actor_of(user, "token", token_id=token.id, roles=(token.role,))


def team(session: Session, matricule: str) -> set[str]:
    """The matricules of who reports to `matricule`, directly or down the chain (the manager excluded)."""
    reports: dict[str, list[str]] = {}
    for employee, manager in session.execute(select(Employee.matricule, Employee.manager_matricule)):
        if manager:
            reports.setdefault(manager, []).append(employee)
    found: set[str] = set()
    waiting = list(reports.get(matricule, ()))
    while waiting:
        member = waiting.pop()
        if member not in found and member != matricule:
            found.add(member)
            waiting.extend(reports.get(member, ()))
    return found
