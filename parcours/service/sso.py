"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (RFC 7636), a state and a
nonce, the ID token checked with the provider's keys (joserfc, Authlib's JOSE library), the person found by e-mail.

`start` gives the provider's address to send the browser to and what must come back (`Pending`: state,
nonce, PKCE verifier, the page to return to), which the HTTP layer keeps in a signed, short-lived cookie;
`finish` checks what came back and opens a session. Each refusal is an `Invalid` whose French says why:
a state that does not match (a forged or replayed answer), a nonce that does not match (an ID token made
for another login), a code the provider no longer accepts (expired or used), an address without an account.
With `oidc_signup`, a first login creates the account, with no role until an admin grants one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from parcours.errors import Invalid, Unavailable
from parcours.models import User, utcnow
from parcours.service import audit, users
from parcours.service.audit import Actor
from parcours.settings import Settings

CALLBACK = "/connexion/sso/retour"
TIMEOUT = 10
SCOPES = "openid email profile"


@dataclass(frozen=True)
class Pending:
    """What the provider's answer must match, kept by the browser in a signed cookie for a few minutes."""

    state: str
    nonce: str
    verifier: str
    next_page: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK


@functools.lru_cache(maxsize=4)
def _metadata(issuer: str) -> dict[str, Any]:
    try:
        response = requests.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise Unavailable("Authentification unique indisponible",
                          f"Le fournisseur d'identité {issuer} ne répond pas ({type(exc).__name__}).") from None


def start(settings: Settings, next_page: str) -> tuple[str, Pending]:
    """The provider's authorization address for this login, and what its answer must match."""
    meta = _metadata(settings.oidc_issuer)
    pending = Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_page)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": settings.oidc_client_id, "redirect_uri": redirect_uri(settings),
             "scope": SCOPES, "state": pending.state, "nonce": pending.nonce, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    return f"{meta['authorization_endpoint']}?{urlencode(query)}", pending


def finish(session: Session, settings: Settings, pending: Pending, answer: dict[str, str], *,
           ip: str | None = None, user_agent: str | None = None) -> tuple[str, users.SignedIn]:
    """Check the provider's answer, exchange its code, check the ID token, open a session."""
    if not secrets.compare_digest(answer.get("state", ""), pending.state):
        raise Invalid("Connexion refusée", "La réponse du fournisseur d'identité ne correspond pas à cette "
                                           "connexion (état différent) : recommencez depuis la page de connexion.")
    if answer.get("error"):
        raise Invalid("Connexion refusée", f"Le fournisseur d'identité a refusé la connexion ({answer['error']}).")
    claims = _id_token_claims(settings, answer.get("code", ""), pending)
    address = str(claims.get("email") or "").strip().lower()
    if not address or claims.get("email_verified") is False:
        raise Invalid("Connexion refusée", "Le fournisseur d'identité ne donne pas d'adresse e-mail vérifiée.")
    user = session.scalar(select(User).where(User.email == address))
    if user is None and settings.oidc_signup:
        user = users.create_user(session, email=address, name=str(claims.get("name") or address), roles=[],
                                 by=Actor("authentification unique", "sso"))
    if user is None or not user.active:
        audit.record(session, "login.failed", subject_type="user", subject_id=user.id if user else None,
                     actor=address, ip=ip, user_agent=user_agent, data={"reason": "sso_no_account"})
        session.commit()
        raise Invalid("Connexion refusée", f"Aucun compte Parcours actif n'a l'adresse {address} : demandez à un "
                                           "administrateur de vous en ouvrir un.")
    user.last_login_at = utcnow()
    return users.open_session(session, settings, user, "sso", ip=ip, user_agent=user_agent)


def _id_token_claims(settings: Settings, code: str, pending: Pending) -> dict[str, Any]:
    meta = _metadata(settings.oidc_issuer)
    try:
        response = requests.post(meta["token_endpoint"], timeout=TIMEOUT,
                                 auth=(settings.oidc_client_id, settings.oidc_client_secret),
                                 data={"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": redirect_uri(settings), "code_verifier": pending.verifier})
    except requests.RequestException as exc:
        raise Unavailable("Authentification unique indisponible",
                          f"Le fournisseur d'identité ne répond pas ({type(exc).__name__}).") from None
    if response.status_code != 200:
        error = response.json().get("error", "") if response.headers.get("Content-Type", "").startswith(
            "application/json") else ""
        raise Invalid("Connexion refusée", "Le code de connexion a expiré ou a déjà servi : recommencez depuis la "
                                           f"page de connexion ({error or response.status_code}).")
    try:
        keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=TIMEOUT).json())
        token = jwt.decode(response.json()["id_token"], keys)
        jwt.JWTClaimsRegistry(now=int(time.time()), leeway=60, iss={"essential": True, "value": meta["issuer"]},
                              aud={"essential": True, "value": settings.oidc_client_id},
                              exp={"essential": True}).validate(token.claims)
    except (JoseError, KeyError, ValueError, requests.RequestException):
        raise Invalid("Connexion refusée", "Le jeton d'identité du fournisseur n'est pas valide.") from None
    if not secrets.compare_digest(str(token.claims.get("nonce", "")), pending.nonce):
        raise Invalid("Connexion refusée", "Le jeton d'identité du fournisseur ne correspond pas à cette connexion "
                                           "(nonce).")
    return dict(token.claims)
