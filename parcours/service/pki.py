"""The instance's signing authority: created on first use (or by `parcours init`) under <instance>/pki,
loaded once per process, its CRLs renewed when older than a day.

The keys are encrypted with the passphrase PARCOURS_PKI_PASSPHRASE. When it is empty (development),
one is generated into <instance>/pki/passphrase (mode 0600) and a warning says production must set it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from parcours.settings import Settings
from signing import pades, pki
from signing.pki import Authority

log = logging.getLogger(__name__)
CRL_MAX_AGE = dt.timedelta(days=1)
API_PATHS = {"root": "/api/v1/pki/root.pem", "crl": "/api/v1/pki/crl", "root_crl": "/api/v1/pki/root.crl"}

_lock = threading.Lock()
_cache: dict[Path, Authority] = {}


def folder(settings: Settings) -> Path:
    return (settings.instance_dir / "pki").resolve()


def passphrase(settings: Settings) -> bytes:
    """The setting, else the generated development passphrase (created once, mode 0600)."""
    if settings.pki_passphrase:
        return settings.pki_passphrase.encode()
    path = folder(settings) / "passphrase"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    log.warning("PARCOURS_PKI_PASSPHRASE is empty: a passphrase was generated into %s. "
                "Production must set PARCOURS_PKI_PASSPHRASE (and keep it apart from the keys).", path)
    return value.encode()


def _create(settings: Settings, target: Path, secret: bytes) -> None:
    """Create the authority in a temporary folder, then rename it: two processes never mix their files."""
    base = settings.public_url.rstrip("/")
    authority = pki.create_authority(settings.organisation, secret, crl_url=base + API_PATHS["crl"],
                                     root_crl_url=base + API_PATHS["root_crl"])
    target.parent.mkdir(parents=True, exist_ok=True)  # a set PARCOURS_PKI_PASSPHRASE made no folder before
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".authority-"))
    try:
        authority.save(staging)
        try:
            os.rename(staging, target)
        except OSError:  # another process made it first: theirs is kept
            shutil.rmtree(staging, ignore_errors=True)
            return
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("signing authority of %s created in %s", settings.organisation, target)


def authority(settings: Settings) -> Authority:
    """The instance's authority, loaded once per process; CRLs renewed (and saved) when older than a day."""
    root = folder(settings)
    with _lock:
        current = _cache.get(root)
        if current is None:
            secret = passphrase(settings)
            target = root / "authority"
            if not (target / "authority.json").exists():
                _create(settings, target, secret)
            current = Authority.load(target, secret)
        if _crl_age(current.ca_crl) > CRL_MAX_AGE or _crl_age(current.root_crl) > CRL_MAX_AGE:
            current = current.with_crls(ca_crl=pki.crl(current), root_crl=pki.root_crl(current))
            current.save(root / "authority")
        _cache[root] = current
        return current


def _crl_age(der: bytes) -> dt.timedelta:
    last = x509.load_der_x509_crl(der).last_update_utc
    return dt.datetime.now(dt.timezone.utc) - last


def forget() -> None:
    """Drop the loaded authorities (tests)."""
    with _lock:
        _cache.clear()


def init(settings: Settings) -> Path:
    """Create the authority now if needed (`parcours init`); its folder."""
    authority(settings)
    return folder(settings) / "authority"


def timestamper(settings: Settings):
    """The external TSA of `tsa_url`, else the instance's own."""
    return pki.timestamper(settings.tsa_url or None, authority(settings))


def validation(settings: Settings) -> pades.ValidationInputs:
    current = authority(settings)
    return pades.ValidationInputs((current.root_certificate,), crls=current.crls)


def root_pem(settings: Settings) -> bytes:
    return authority(settings).root_certificate.public_bytes(serialization.Encoding.PEM)


def seal_credentials(settings: Settings) -> pki.SignerCredentials | None:
    """The organisation's seal (setting seal_pkcs12), or None when the instance has none."""
    if settings.seal_pkcs12 is None:
        return None
    return pki.load_pkcs12(Path(settings.seal_pkcs12).read_bytes(), settings.seal_passphrase.encode() or None)


def seal_validation(settings: Settings, credentials: pki.SignerCredentials) -> pades.ValidationInputs:
    """The seal's chain is checked like the signers' (hard-fail): against the instance's root and the
    chain shipped in the PKCS#12 file; an outside CA's revocation data is fetched from its URLs."""
    own = validation(settings)
    chain = tuple(credentials.chain)
    outside = bool(chain) and chain[-1] != own.trust_roots[0]
    return pades.ValidationInputs(own.trust_roots + (chain[-1:] if outside else ()), crls=own.crls,
                                  other_certs=chain, allow_fetching=outside)
