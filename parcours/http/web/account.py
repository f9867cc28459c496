"""The account pages: sign in, sign out (here or everywhere), choose a password from an invitation or a
reset link, ask for a reset, and the home page of a signed-in person.

Sign-in and reset requests are rate limited per address (parcours.http.limits), on top of the account
lockout of parcours.service.users; both say the same thing whether the account exists.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests

from parcours.errors import DomainError, Invalid
from parcours.http import auth
from parcours.http.current import db_session, services
from parcours.http.web import frame
from parcours.http.problems import status_of
from parcours.service import pki as instance_pki
from parcours.service import sso, users

bp = Blueprint("account", __name__, template_folder="pages")
SSO_COOKIE, SSO_WAIT = "parcours_sso", 600
"""What the provider's answer must match, signed, for ten minutes (the time to sign in at the provider)."""
FORGOTTEN_SENT = ("Si un compte existe à cette adresse, un message vient de lui être envoyé avec un lien valable "
                  "une heure. Pensez à regarder dans les indésirables.")


@bp.after_request
def _private(response):
    # Pages about one person's account: never kept by a cache; their forms need the Origin (see layout.html).
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _client() -> dict[str, str | None]:
    return {"ip": request.remote_addr, "user_agent": request.headers.get("User-Agent")}


def _company() -> str:
    return services().settings.organisation or "Parcours"


def _next_page(raw: str | None) -> str:
    """Only a path of this service: an absolute or protocol-relative address would send the person elsewhere."""
    safe = raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw
    return raw if safe else url_for("account.home")


@bp.errorhandler(TooManyRequests)
def _too_many(_exc: TooManyRequests):
    page = "account/forgotten.html" if request.endpoint == "account.forgotten_submit" else "account/login.html"
    return render_template(page, company=_company(), email="", next_page=url_for("account.home"), notice=None,
                           error="Trop de tentatives depuis cette adresse : patientez une minute avant de réessayer."), 429


@bp.get("/")
def home():
    """Signed out: the login page. Signed in: the first page of their menu (HR's dashboard, a manager's
    interviews), or the account page for someone with no role yet."""
    found = auth.caller()
    if found is None or found.signed_in is None:
        return redirect(url_for("account.login_page", suite=request.full_path.rstrip("?")))
    landing = frame.first_page(tuple(found.roles)) if set(found.roles) & {"hr", "manager"} else None
    return redirect(landing, 303) if landing else account_page()


@bp.get("/compte")
def account_page():
    found = auth.caller()
    if found is None or found.signed_in is None:
        return redirect(url_for("account.login_page", suite=request.full_path.rstrip("?")))
    roles = ", ".join(users.ROLE_LABELS[r] for r in found.roles)
    return frame.render("account/home.html", name=found.signed_in.user.name, roles=roles,
                        can_verify=bool({"auditor", "hr"} & set(found.roles)))


@bp.get("/connexion")
def login_page():
    notice = {"deconnecte": "Vous êtes déconnecté.", "mot-de-passe": "Votre mot de passe est enregistré : "
              "connectez-vous."}.get(request.args.get("message", ""))
    return render_template("account/login.html", company=_company(), email="", notice=notice, error=None,
                           next_page=_next_page(request.args.get("suite")), sso=sso.enabled(services().settings))


@bp.post("/connexion")
def login_submit():
    auth.check_origin()
    email, next_page = request.form.get("email", ""), _next_page(request.form.get("suite"))
    session = db_session()
    try:
        token, _ = users.login(session, services().settings, email, request.form.get("password"), **_client())
    except Invalid as exc:
        return render_template("account/login.html", company=_company(), email=email, next_page=next_page,
                               notice=None, error=exc.detail, sso=sso.enabled(services().settings)), 401
    session.commit()
    return auth.set_session_cookie(redirect(next_page, 303), token)


def _sso_cookie() -> URLSafeTimedSerializer:
    # Keyed by the instance's own secret (its PKI passphrase, hashed for this use only).
    key = hashlib.sha256(b"parcours-sso:" + instance_pki.passphrase(services().settings)).hexdigest()
    return URLSafeTimedSerializer(key, salt="sso")


def _login_error(error: str, status: int):
    return render_template("account/login.html", company=_company(), email="", next_page=url_for("account.home"),
                           notice=None, error=error, sso=sso.enabled(services().settings)), status


@bp.get("/connexion/sso")
def sso_start():
    settings = services().settings
    if not sso.enabled(settings):
        return _login_error("L'authentification unique n'est pas configurée sur ce service.", 404)
    try:
        address, pending = sso.start(settings, _next_page(request.args.get("suite")))
    except DomainError as exc:
        return _login_error(exc.detail or exc.title, 503)
    response = redirect(address, 302)
    response.set_cookie(SSO_COOKIE, _sso_cookie().dumps(pending.to_dict()), max_age=SSO_WAIT, httponly=True,
                        secure=settings.secure_cookies, samesite="Lax", path=sso.CALLBACK)
    return response


@bp.get(sso.CALLBACK)
def sso_finish():
    try:
        pending = sso.Pending(**_sso_cookie().loads(request.cookies.get(SSO_COOKIE, ""), max_age=SSO_WAIT))
    except (BadSignature, TypeError):
        return _login_error("Cette connexion a expiré ou ne vient pas de ce navigateur : recommencez.", 400)
    session = db_session()
    try:
        token, _ = sso.finish(session, services().settings, pending, dict(request.args), **_client())
    except DomainError as exc:
        return _login_error(exc.detail or exc.title, 401 if status_of(exc) == 422 else status_of(exc))
    session.commit()
    response = auth.set_session_cookie(redirect(pending.next_page, 303), token)
    response.delete_cookie(SSO_COOKIE, path=sso.CALLBACK)
    return response


@bp.post("/deconnexion")
def logout():
    found = auth.caller()
    if found is not None and found.signed_in is not None:
        auth.check_csrf()
        session = db_session()
        users.logout(session, found.signed_in, everywhere=request.form.get("partout") == "1", **_client())
        session.commit()
    return auth.clear_session_cookie(redirect(url_for("account.login_page", message="deconnecte"), 303))


def _password_page(token: str, error: str | None = None, status: int = 200):
    try:
        user, link = users.link_user(db_session(), token)
    except DomainError as exc:
        return render_template("signer/done.html", company=_company(), heading=exc.title, message=exc.detail), \
            status_of(exc)
    heading = "Choisir votre mot de passe" if link.purpose == "invitation" else "Choisir un nouveau mot de passe"
    return render_template("account/password.html", company=_company(), heading=heading, name=user.name,
                           email=user.email, minimum=users.PASSWORD_MIN, error=error), status


@bp.get("/mot-de-passe/<token>")
def password_page(token: str):
    return _password_page(token)


@bp.post("/mot-de-passe/<token>")
def password_submit(token: str):
    auth.check_origin()
    password = request.form.get("password", "")
    if password != request.form.get("confirmation", ""):
        return _password_page(token, "Les deux mots de passe ne sont pas identiques.", 422)
    session = db_session()
    try:
        users.set_password(session, token, password, **_client())
    except Invalid as exc:
        reasons = "; ".join(e["reason"] for e in exc.errors or ()) or exc.detail
        return _password_page(token, f"{exc.title} : {reasons}.", 422)
    except DomainError:
        return _password_page(token)
    session.commit()
    return redirect(url_for("account.login_page", message="mot-de-passe"), 303)


@bp.get("/mot-de-passe-oublie")
def forgotten_page():
    return render_template("account/forgotten.html", company=_company(), notice=None)


@bp.post("/mot-de-passe-oublie")
def forgotten_submit():
    auth.check_origin()
    users.request_reset(services(), request.form.get("email"), **_client())
    return render_template("account/forgotten.html", company=_company(), notice=FORGOTTEN_SENT)
