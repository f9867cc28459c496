"""The service's settings: one frozen object, the only reader of PARCOURS_* environment variables."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A setting is unknown or malformed; raised at start-up, naming the variable."""


@dataclass(frozen=True)
class Settings:
    """Defaults work on a laptop: everything lives under the instance folder."""

    instance_dir: Path = Path("instance")
    """Folder for the SQLite database, the blobs and the outbox; created on first start."""
    database_url: str = ""
    """SQLAlchemy URL; SQLite in the instance folder when empty (postgresql+psycopg://… for PostgreSQL)."""
    blob_dir: Path | None = None
    """Where immutable blobs are kept; <instance>/blobs when empty."""
    blob_store: str = ""
    """Blob backend: empty, the folder (PARCOURS_BLOB_DIR); "database", a table of the database; s3://bucket/prefix."""
    s3_endpoint_url: str = ""
    """The S3 API of a non-AWS provider (MinIO, Scaleway, OVHcloud…); keys from AWS_ACCESS_KEY_ID and the like."""
    max_upload_bytes: int = 10 * 1024 * 1024
    """Largest accepted request body (413 beyond)."""
    workers: int = 0
    """LibreOffice processes for documents and batches; one per core when 0."""
    conversion_timeout: float = 120.0
    """Seconds one conversion may take before its LibreOffice process is killed."""
    batch_processes: bool = True
    """Batches' rendering, merging and splitting in worker processes (one per LibreOffice worker) when this
    process runs the jobs, rather than in the job threads, which share one interpreter lock (the GIL).
    Off: in the job threads, for about 75 MiB less in all (two workers)."""
    timezone: str = "Europe/Paris"
    """The employer's time zone, for dates and times printed in documents."""
    run_jobs: bool = True
    """Run background jobs (batches) inside the service; off for a process that only answers HTTP."""
    broker_url: str = ""
    """Celery broker (redis://host:6379/0, amqp://… for RabbitMQ): jobs go to `parcours worker` processes and
    `parcours serve` only answers HTTP; empty: each service process runs the jobs itself."""
    worker_max_tasks: int = 200
    """Tasks a worker process runs before it is replaced, with its LibreOffice (bounds memory)."""
    job_sweep_seconds: float = 2.0
    """How often each worker dispatches again the due jobs nobody runs (a lost message, a dead worker)."""
    page_size: int = 100
    """Default page size of listings (at most 1000)."""
    webhook_allowed_hosts: str = ""
    """Comma-separated hosts, addresses and networks (CIDR) webhooks may reach although they are loopback,
    private or link-local, e.g. "127.0.0.1, 10.20.0.0/16, sirh.interne"; empty: public addresses only."""
    headcount: int = 0
    """The company's headcount, for the abondement correctif (50 and more); 0 when not told."""
    epp_period_years: int = 4
    """Years between two periodic interviews: 4 by law, shorter when a company or branch agreement says so."""
    public_url: str = "http://127.0.0.1:8000"
    """The service's address as signers reach it: links in e-mails, CRL addresses in certificates."""
    organisation: str = "Parcours"
    """The organisation named in the instance's certificates (created once: changing it later changes nothing)."""
    pki_passphrase: str = ""
    """Protects the instance's signing keys (<instance>/pki). Empty: generated into <instance>/pki/passphrase
    (development only; production must set it)."""
    seal_pkcs12: Path | None = None
    """The organisation's own signing key and certificate chain (PKCS#12 file): when set, it seals
    each completed compte rendu after the last signer, before the final document timestamp."""
    seal_passphrase: str = ""
    """The passphrase of the PKCS#12 file."""
    tsa_url: str = ""
    """An external RFC 3161 time-stamping authority; empty: the instance's own."""
    trust_roots: Path | None = None
    """A PEM file of further root certificates whose signatures verifications accept, besides the
    instance's own root (e.g. the CA of the organisation's seal, or a qualified CA)."""
    smtp_url: str = ""
    """smtp://host:port (or smtps://, with user:password@ if needed); empty: e-mails go to <instance>/outbox."""
    mail_from: str = "parcours@localhost"
    """The address e-mails come from; the organisation's name is written before it (« Atelier Lumière »)."""
    session_idle_minutes: int = 30
    """A signed-in browser without a request for this long must sign in again."""
    session_hours: int = 12
    """A session ends this long after the login, however busy."""
    login_attempts: int = 5
    """Wrong passwords in a row that lock an account for `login_lockout_minutes`."""
    login_lockout_minutes: int = 15
    """How long a locked account refuses every password, the right one included."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only: set it in production (public_url in https)."""
    oidc_issuer: str = ""
    """Single sign-on: the OpenID provider's issuer URL (its /.well-known/openid-configuration is read)."""
    oidc_client_id: str = ""
    """Single sign-on: this service's client id at the provider (its redirect URI: <public_url>/connexion/sso/retour)."""
    oidc_client_secret: str = ""
    """Single sign-on: the client secret."""
    oidc_signup: bool = False
    """A first single sign-on login of an unknown address creates its account, with no role until an admin
    grants one; off: only existing accounts sign in."""

    def today(self) -> dt.date:
        """Today in the service's time zone: the date its documents and records are stamped with."""
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"PARCOURS_TIMEZONE: unknown time zone {self.timezone!r}") from None
        for name in ("max_upload_bytes", "page_size", "session_idle_minutes", "session_hours", "login_attempts",
                     "login_lockout_minutes"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"PARCOURS_{name.upper()}: must be positive")
        if not 1 <= self.epp_period_years <= 4:
            raise SettingsError("PARCOURS_EPP_PERIOD_YEARS: an agreement may shorten the 4-year period, never lengthen it")
        if self.headcount < 0:
            raise SettingsError("PARCOURS_HEADCOUNT: must not be negative")
        if self.blob_store not in ("", "database") and not self.blob_store.startswith("s3://"):
            raise SettingsError("PARCOURS_BLOB_STORE: empty (folder), \"database\" or s3://bucket/prefix")
        if self.worker_max_tasks <= 0 or self.job_sweep_seconds <= 0:
            raise SettingsError("PARCOURS_WORKER_MAX_TASKS and PARCOURS_JOB_SWEEP_SECONDS must be positive")
        if self.workers < 0 or self.conversion_timeout <= 0:
            raise SettingsError("PARCOURS_WORKERS must be >= 0 and PARCOURS_CONVERSION_TIMEOUT > 0")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.instance_dir / 'parcours.sqlite3').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.instance_dir / "blobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read PARCOURS_* variables; an unknown PARCOURS_ variable is an error (a typo would be silent)."""
        environ = os.environ if environ is None else environ
        known = {f"PARCOURS_{f.name.upper()}": f for f in fields(cls)}
        values: dict[str, Any] = {}
        for variable, raw in environ.items():
            if not variable.startswith("PARCOURS_"):
                continue
            if variable not in known:
                raise SettingsError(f"{variable}: unknown setting (known: {', '.join(sorted(known))})")
            spec = known[variable]
            values[spec.name] = _parse(variable, raw, spec.type)
        values.update(overrides)
        return cls(**values)


def _parse(variable: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind.startswith("Path"):
            return Path(raw) if raw else None
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
    except ValueError:
        raise SettingsError(f"{variable}: {raw!r} is not a valid {kind}") from None
    return raw
