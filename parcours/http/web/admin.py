"""Administration: people and their roles (invitations), API tokens (shown once), webhook endpoints and their
deliveries; the same service functions as /api/v1/users, /tokens and /webhooks."""

from __future__ import annotations

from flask import Blueprint, g, request, url_for
from sqlalchemy import select

from parcours.http.current import db_session, services
from parcours.http.web import frame
from parcours.http.web.frame import page, render
from parcours.models import ApiToken, User, WebhookEndpoint, WebhookMessage
from parcours.service import tokens, users
from parcours.service import webhooks as hooks

bp = Blueprint("admin", __name__, template_folder="pages")
MESSAGE_LABELS = {"pending": "en attente", "delivered": "remise", "failed": "en échec",
                  "retrying": "nouvel essai prévu"}


def _page(**extra):
    session = db_session()
    return render("staff/admin.html", people=list(session.scalars(select(User).order_by(User.id))),
                  tokens=list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc()).limit(200))),
                  endpoints=list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
                                                 .order_by(WebhookEndpoint.id))),
                  role_labels=users.ROLE_LABELS, event_types=hooks.EVENT_TYPES, problem=extra.pop("problem", None),
                  **extra)


@bp.get("/administration")
@page("admin")
def index():
    return _page()


def _shown_error(exc: Exception):
    found = frame.describe(exc)
    if found is None:
        raise exc
    db_session().rollback()
    return _page(problem=found[1]), found[0]


@bp.post("/administration/personnes")
@page("admin")
def create_person():
    session = db_session()
    try:
        user = users.create_user(session, email=request.form.get("email"), name=request.form.get("name"),
                                 roles=request.form.getlist("roles"), matricule=request.form.get("matricule") or None,
                                 by=g.actor)
        session.commit()
    except Exception as exc:  # noqa: BLE001 - a domain error is shown above the forms
        return _shown_error(exc)
    link = users.invite(services(), user.id, by=g.actor)
    return _page(secret={"title": f"Invitation de {user.name}", "value": link,
                         "text": "Le lien a été envoyé par courriel ; le voici aussi, valable une fois :"})


@bp.post("/administration/personnes/<int:user_id>")
@page("admin")
def change_person(user_id: int):
    session = db_session()
    try:
        user = users.get_user(session, user_id)
        users.update_user(session, user, by=g.actor, roles=request.form.getlist("roles"),
                          active=request.form.get("active") == "1")
        session.commit()
    except Exception as exc:  # noqa: BLE001
        return _shown_error(exc)
    return frame.done(url_for("admin.index"), f"Compte de {user.name} mis à jour.")


@bp.post("/administration/jetons")
@page("admin")
def create_token():
    role, label = request.form.get("role"), (request.form.get("label") or "").strip()
    errors = []
    if role not in users.ROLES:
        errors.append({"field": "role", "reason": f"un des rôles {', '.join(users.ROLES)}"})
    if not label:
        errors.append({"field": "label", "reason": "texte obligatoire (qui ou quoi utilise ce jeton)"})
    if errors:
        return _shown_error(frame.Problem(422, "Valeurs invalides", errors=errors))
    session = db_session()
    token, record = tokens.create_token(session, role, label)
    session.commit()
    return _page(secret={"title": f"Jeton « {record.label} »", "value": token,
                         "text": "Copiez-le maintenant : il ne sera plus jamais affiché."})


@bp.post("/administration/jetons/<int:token_id>/revoquer")
@page("admin")
def revoke_token(token_id: int):
    session = db_session()
    try:
        record = tokens.revoke_token(session, token_id)
    except LookupError:
        raise frame.Problem(404, "Jeton introuvable", f"Aucun jeton n’a l’identifiant {token_id}.") from None
    session.commit()
    return frame.done(url_for("admin.index"), f"Jeton « {record.label} » révoqué.")


@bp.post("/administration/webhooks")
@page("admin")
def create_endpoint():
    session = db_session()
    try:
        url = hooks.check_endpoint_url(request.form.get("url"), services().settings.webhook_allowed_hosts)
        kinds = hooks.check_event_types(request.form.getlist("event_types") or None)
        description = hooks.check_description(request.form.get("description") or "")
        endpoint, secret = hooks.create_endpoint(session, url=url, event_types=kinds, description=description,
                                                 created_by=g.actor.label)
        session.commit()
    except Exception as exc:  # noqa: BLE001
        return _shown_error(exc)
    return _page(secret={"title": f"Point de réception n° {endpoint.id}", "value": secret,
                         "text": "Secret de signature des messages (Standard Webhooks) : copiez-le maintenant, "
                                 "il ne sera plus affiché."})


@bp.post("/administration/webhooks/<int:endpoint_id>/etat")
@page("admin")
def toggle_endpoint(endpoint_id: int):
    session = db_session()
    endpoint = hooks.get_endpoint(session, endpoint_id)
    hooks.set_enabled(endpoint, request.form.get("enabled") == "1", g.actor.label)
    session.commit()
    return frame.done(url_for("admin.index"), f"Point de réception n° {endpoint_id} "
                                              f"{'activé' if endpoint.enabled else 'désactivé'}.")


@bp.get("/administration/webhooks/<int:endpoint_id>")
@page("admin")
def endpoint_messages(endpoint_id: int):
    session = db_session()
    endpoint = hooks.get_endpoint(session, endpoint_id)
    rows = list(session.scalars(select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
                                .order_by(WebhookMessage.id.desc()).limit(100)))
    return render("staff/deliveries.html", endpoint=endpoint, rows=rows, labels=MESSAGE_LABELS)


@bp.post("/administration/webhooks/messages/<message_id>/renvoyer")
@page("admin")
def redeliver(message_id: str):
    session = db_session()
    message = hooks.redeliver(session, message_id)
    session.commit()
    return frame.done(url_for("admin.endpoint_messages", endpoint_id=message.endpoint_id),
                      "Message remis en file d’envoi.")
