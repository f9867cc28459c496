"""People, not tokens: an account from its invitation to its logout, the lockout, the reset link, sessions
that end, CSRF on what a cookie changes, a manager's team, and audit events that name the person."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest
from api_helpers import bearer
from sqlalchemy import select, update

from parcours.http.auth import SESSION_COOKIE, csrf_token
from parcours.models import AuditEvent, User, UserLink, UserSession, utcnow

PASSWORD = "un mot de passe long"
HOST = "http://localhost"


def read_mail(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _services(app):
    return app.extensions["parcours"]


def invite(client, tokens, email_address="camille.martin@atelier.fr", roles=("hr",), **extra):
    response = client.post("/api/v1/users", json={"email": email_address, "name": "Camille Martin",
                                                  "roles": list(roles), **extra}, headers=bearer(tokens["admin"]))
    assert response.status_code == 201, response.json
    return response.json


def link_token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def set_password(client, url: str, password: str = PASSWORD):
    path = "/mot-de-passe/" + link_token(url)
    return client.post(path, data={"password": password, "confirmation": password}, headers={"Origin": HOST})


def login(client, address="camille.martin@atelier.fr", password=PASSWORD):
    return client.post("/connexion", data={"email": address, "password": password}, headers={"Origin": HOST})


def signed_in_user(app, address="camille.martin@atelier.fr", roles=("hr",), **extra):
    """A user who has set a password, and a client signed in as them."""
    client = app.test_client()
    with _services(app).db.session() as session:
        from parcours.service import users
        from parcours.service.audit import Actor

        user = users.create_user(session, email=address, name="Camille Martin", roles=list(roles), by=Actor("test", "cli"),
                                 **extra)
        user_id = user.id
    url = users.invite(_services(app), user_id, by=Actor("test", "cli"))
    assert set_password(client, url).status_code == 303
    assert login(client, address).status_code == 303
    return client, user_id


def test_an_invitation_leads_to_a_password_a_login_a_session_and_a_logout(app, client, tokens):
    created = invite(client, tokens)
    assert created["password_set"] is False and created["roles"] == ["hr"]
    outbox = list((_services(app).settings.instance_dir / "outbox").glob("*.eml"))
    message = email.message_from_bytes(policy=email.policy.default, s=outbox[0].read_bytes())
    assert message["To"] == "camille.martin@atelier.fr" and "Votre accès à Parcours" in message["Subject"]
    assert created["invitation_url"] in message.get_payload(decode=True).decode()

    page = client.get("/mot-de-passe/" + link_token(created["invitation_url"]))
    assert page.status_code == 200 and "Choisir votre mot de passe" in page.get_data(as_text=True)
    too_short = set_password(client, created["invitation_url"], "court")
    assert too_short.status_code == 422 and "12 caractères au moins" in too_short.get_data(as_text=True)
    assert set_password(client, created["invitation_url"]).status_code == 303
    again = client.get("/mot-de-passe/" + link_token(created["invitation_url"]))
    assert again.status_code == 410 and "déjà servi" in again.get_data(as_text=True)  # one use only

    response = login(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/")  # HR lands on the dashboard; the account page greets them
    assert home.status_code == 303 and home.headers["Location"] == "/tableau-de-bord"
    account = client.get("/compte")
    assert account.status_code == 200 and "Bonjour Camille Martin" in account.get_data(as_text=True)
    me = client.get("/api/v1/me").json  # the API answers the session too
    assert me["email"] == "camille.martin@atelier.fr" and me["authenticated_by"] == "password"

    token = client.get_cookie(SESSION_COOKIE).value
    out = client.post("/deconnexion", data={"csrf_token": csrf_token(token)}, headers={"Origin": HOST})
    assert out.status_code == 303 and "message=deconnecte" in out.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401
    client.set_cookie(SESSION_COOKIE, token)  # the old cookie, kept by an attacker, opens nothing
    assert client.get("/api/v1/me").status_code == 401


def test_a_session_ends_when_idle_too_long_and_at_its_absolute_end(app):
    client, user_id = signed_in_user(app)
    assert client.get("/api/v1/me").status_code == 200
    db = _services(app).db
    idle = _services(app).settings.session_idle_minutes
    with db.session() as session:
        session.execute(update(UserSession).where(UserSession.user_id == user_id).values(
            last_seen_at=utcnow() - dt.timedelta(minutes=idle, seconds=1)))
    assert client.get("/api/v1/me").status_code == 401
    client, user_id = signed_in_user(app, "autre@atelier.fr")
    with db.session() as session:
        session.execute(update(UserSession).where(UserSession.user_id == user_id).values(
            expires_at=utcnow() - dt.timedelta(seconds=1)))  # busy all along, yet past its absolute end
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/").status_code == 302  # the page sends back to the login


def test_wrong_passwords_lock_the_account_then_the_lock_ends(app):
    client, user_id = signed_in_user(app)
    attempts = _services(app).settings.login_attempts
    fresh = app.test_client()
    for _ in range(attempts):
        refused = login(fresh, password="pas le bon mot de passe")
        assert refused.status_code == 401
    text = refused.get_data(as_text=True)
    assert "adresse e-mail ou mot de passe incorrect" in text
    locked = login(fresh)  # the right password, during the lock
    assert locked.status_code == 401 and locked.get_data(as_text=True).count("incorrect") == text.count("incorrect")
    unknown = login(fresh, "personne@atelier.fr")  # the same words for an address that has no account
    assert unknown.status_code == 401 and "adresse e-mail ou mot de passe incorrect" in unknown.get_data(as_text=True)
    with _services(app).db.session() as session:
        user = session.get(User, user_id)
        assert user.locked_until is not None
        user.locked_until = utcnow() - dt.timedelta(seconds=1)  # the window has passed
        reasons = [e.data["reason"] for e in session.scalars(
            select(AuditEvent).where(AuditEvent.type == "login.failed").order_by(AuditEvent.sequence))]
    assert reasons == ["wrong_password"] * (attempts - 1) + ["locked_now", "locked", "unknown_or_inactive"]
    assert login(fresh).status_code == 303


def test_a_reset_link_works_once_and_expires(app):
    client, user_id = signed_in_user(app)
    anonymous = app.test_client()
    outbox = _services(app).settings.instance_dir / "outbox"
    before = set(outbox.glob("*.eml"))
    page = anonymous.post("/mot-de-passe-oublie", data={"email": "Camille.Martin@atelier.fr"}, headers={"Origin": HOST})
    nobody = anonymous.post("/mot-de-passe-oublie", data={"email": "personne@atelier.fr"}, headers={"Origin": HOST})
    assert page.get_data(as_text=True).count("Si un compte existe") == 1
    assert nobody.get_data(as_text=True).count("Si un compte existe") == 1  # nothing tells them apart
    [sent] = set(outbox.glob("*.eml")) - before  # one message: to the account that exists
    body = read_mail(sent).get_payload(decode=True).decode()
    url = re.search(r"http\S+/mot-de-passe/\S+", body).group(0)
    assert set_password(anonymous, url, "un tout nouveau mot de passe").status_code == 303
    assert client.get("/api/v1/me").status_code == 401  # a new password ends the open sessions
    assert set_password(anonymous, url, "encore un autre mot de passe").status_code == 410
    assert login(anonymous, password="un tout nouveau mot de passe").status_code == 303
    # An expired link: asked again, then an hour and a second later.
    anonymous.post("/mot-de-passe-oublie", data={"email": "camille.martin@atelier.fr"}, headers={"Origin": HOST})
    with _services(app).db.session() as session:
        session.execute(update(UserLink).where(UserLink.used_at.is_(None)).values(
            expires_at=utcnow() - dt.timedelta(seconds=1)))
    latest = max(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    url = re.search(r"http\S+/mot-de-passe/\S+", read_mail(latest)
                    .get_payload(decode=True).decode()).group(0)
    expired = anonymous.get("/mot-de-passe/" + link_token(url))
    assert expired.status_code == 410 and "expiré" in expired.get_data(as_text=True)


def test_what_a_cookie_changes_needs_the_csrf_token_and_the_same_origin(app, employees):
    client, _ = signed_in_user(app, roles=("hr", "admin"))
    body = {"email": "nouveau@atelier.fr", "name": "Nouveau Venu", "roles": ["auditor"]}
    assert client.post("/api/v1/users", json=body).status_code == 403  # no token: a forged form would look so
    token = csrf_token(client.get_cookie(SESSION_COOKIE).value)
    foreign = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token, "Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "autre site" in foreign.json["detail"]
    made = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token, "Origin": HOST})
    assert made.status_code == 201
    assert client.get("/api/v1/employees?limit=1").status_code == 200  # reading needs no token
    forged_login = app.test_client().post("/connexion", data={"email": "x@y.fr", "password": "z" * 12},
                                          headers={"Origin": "http://evil.example"})
    assert forged_login.status_code == 403


def test_a_manager_reads_their_team_and_nothing_of_another_team(app, tokens, employees):
    from parcours.service import users

    with _services(app).db.session() as session:
        expected = users.team(session, "E0004")
    assert expected  # the samples give E0004 a team
    client, _ = signed_in_user(app, "manager@atelier.fr", roles=("manager",), matricule="E0004")
    listed = {e["matricule"] for e in client.get("/api/v1/employees?limit=1000").json["items"]}
    assert listed == expected
    member = sorted(expected)[0]
    assert client.get(f"/api/v1/employees/{member}").status_code == 200
    everyone = {e["matricule"] for e in app.test_client().get(
        "/api/v1/employees?limit=1000", headers=bearer(tokens["hr"])).json["items"]}
    stranger = sorted(everyone - expected - {"E0004"})[0]
    hidden = client.get(f"/api/v1/employees/{stranger}")
    assert hidden.status_code == 404 and hidden.json["title"] == "Salarié introuvable"  # not 403: it says nothing
    assert client.post("/api/v1/employees/import", headers={
        "X-CSRF-Token": csrf_token(client.get_cookie(SESSION_COOKIE).value)}).status_code == 403


def test_a_personal_token_acts_as_its_person_and_dies_with_the_account(app, tokens):
    client, user_id = signed_in_user(app, roles=("hr", "auditor"))
    csrf = {"X-CSRF-Token": csrf_token(client.get_cookie(SESSION_COOKIE).value), "Origin": HOST}
    refused = client.post("/api/v1/me/tokens", json={"label": "mon script", "role": "admin"}, headers=csrf)
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "role"
    made = client.post("/api/v1/me/tokens", json={"label": "mon script", "role": "auditor"}, headers=csrf)
    assert made.status_code == 201 and made.json["user_id"] == user_id
    api = app.test_client()
    me = api.get("/api/v1/me", headers=bearer(made.json["token"])).json
    assert me["email"] == "camille.martin@atelier.fr" and me["roles_now"] == ["auditor"]
    assert api.get("/api/v1/employees", headers=bearer(made.json["token"])).status_code == 200
    listed = {t["id"]: t for t in api.get("/api/v1/tokens", headers=bearer(tokens["admin"])).json["items"]}
    assert listed[made.json["id"]]["last_used_at"] is not None
    assert api.patch(f"/api/v1/users/{user_id}", json={"active": False}, headers=bearer(tokens["admin"])).status_code == 200
    assert api.get("/api/v1/me", headers=bearer(made.json["token"])).status_code == 401
    assert client.get("/api/v1/me").status_code == 401  # and the sessions ended


@pytest.mark.parametrize("bad, field", [({"email": "pas une adresse", "name": "X", "roles": []}, "email"),
                                        ({"email": "a@b.fr", "name": "X", "roles": ["chef"]}, "roles"),
                                        ({"email": "a@b.fr", "name": "X", "roles": ["manager"]}, "matricule")])
def test_a_wrong_account_is_refused_naming_the_field(client, tokens, bad, field):
    response = client.post("/api/v1/users", json=bad, headers=bearer(tokens["admin"]))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == field


def test_the_same_address_twice_is_a_conflict(client, tokens):
    invite(client, tokens)
    again = client.post("/api/v1/users", json={"email": "CAMILLE.MARTIN@atelier.fr", "name": "Homonyme", "roles": []},
                        headers=bearer(tokens["admin"]))
    assert again.status_code == 409


def test_the_demo_makes_its_tokens_and_account_once_per_instance(app, capsys):
    from parcours.cli.service import _prepare_demo
    from parcours.models import ApiToken

    _prepare_demo(app, "http://127.0.0.1:8000")
    first = capsys.readouterr().out
    _prepare_demo(app, "http://127.0.0.1:8000")
    second = capsys.readouterr().out
    printed = [line for line in first.splitlines() if line.startswith(("Jeton", "Compte", "Essayez"))]
    assert len(printed) == 6 and all(line in second for line in printed)  # the same, not new ones
    with _services(app).db.session() as session:
        assert session.query(ApiToken).count() == 3
    hr_token = re.search(r"hr\s*: (prc_\S+)", first).group(1)
    client = app.test_client()
    assert client.get("/api/v1/employees", headers=bearer(hr_token)).status_code == 200
    password = re.search(r"mot de passe (\S+)", first).group(1)
    assert login(client, "demo@parcours.local", password).status_code == 303
    manager = app.test_client()  # the manager's demo account opens on their team's interviews
    assert login(manager, "manager@parcours.local", password).status_code == 303
    assert "Mon équipe" in manager.get("/mes-entretiens").get_data(as_text=True)


def test_every_answer_carries_the_security_headers_and_pages_are_not_cached(client, tokens):
    for path, headers in (("/connexion", {}), ("/auditeur/verifier", {}), ("/signer/inconnu", {}),
                          ("/api/v1/employees", bearer(tokens["hr"])), ("/api/v1/inconnu", {})):
        response = client.get(path, headers=headers)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy, path
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/v1/employees", headers=bearer(tokens["hr"])).headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/signer/inconnu").headers["Cache-Control"] == "no-store"
    assert client.get("/connexion").headers["Cache-Control"] == "no-store"
    assert client.get("/auditeur/verifier").headers["Referrer-Policy"] == "same-origin"


def test_no_page_carries_an_inline_script():
    from parcours.http.web import account

    pages = Path(account.__file__).parent / "pages"
    for page in pages.rglob("*.html"):
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.read_text()), page
