"""Who acts: users (people with roles), their sessions and one-time links, and API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parcours.models.base import Base, utcnow


class User(Base):
    """A person who signs in: HR, a manager, an auditor, an administrator (roles combine)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Lower case: the login, and how single sign-on finds the user."""
    name: Mapped[str] = mapped_column(String(300))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    """Some of hr, manager, auditor, admin; none until an admin grants one (single sign-on's first login)."""
    matricule: Mapped[str | None] = mapped_column(String(50))
    """A manager's own employee record: their team is who reports to it, directly or down the chain."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """Argon2id; None until the invitation's link is used (or for single sign-on only)."""
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]


class UserSession(Base):
    """A signed-in browser: the cookie's token is kept as its sha256, with an idle and an absolute end."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(30))
    """password or sso: how the person proved who they are."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    """The absolute end; the idle end is last_seen_at plus the idle delay."""
    ended_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))


class UserLink(Base):
    """A one-time link sent by e-mail: an invitation (set a first password) or a password reset."""

    __tablename__ = "user_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    """invitation or reset."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """An API token: only its sha256 is kept; the token itself is shown once at creation. A user's
    personal token acts as that user; one without a user is a named service account."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
