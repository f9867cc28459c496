"""Webhooks in the service: the event catalogue, emit() into the outbox, endpoints and messages.

`emit(session, type, data)` writes one message per matching endpoint, and a "webhook_delivery" job per
endpoint for the transaction's messages, in the caller's transaction: the event exists if and only if
the change that caused it commits (a transactional outbox). The jobs are run by
parcours.service.deliveries; a failed message's next attempt is a job of its own with its `run_at` from
the retry schedule. Delivery is at least once; messages are not ordered.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from parcours.errors import Conflict, Invalid, NotFound
from parcours.jobs.runner import enqueue, enqueue_many
from parcours.models import Batch, WebhookAttempt, WebhookEndpoint, WebhookMessage, utcnow
from parcours.service import templates
from webhooks.errors import UnsafeURL
from webhooks.schedule import DEFAULT_SCHEDULE, RetrySchedule
from webhooks.signing import generate_secret
from webhooks.ssrf import AllowList, check_url

log = logging.getLogger(__name__)
KIND = "webhook_delivery"
JOB_SIZE = 100
"""First attempts of one endpoint's messages emitted in one transaction share a job, up to this many."""
API_ROOT = "/api/v1"
"""Links in payloads are paths under the service's base URL, which the receiver knows."""

EVENT_TYPES: dict[str, str] = {
    "document.generated": "Un document a été généré à l'unité (les documents d'un lot : voir batch.completed)",
    "batch.completed": "Un lot est terminé : au moins un document a été produit (les échecs sont comptés)",
    "batch.failed": "Un lot est terminé sans aucun document produit",
    "signature_request.sent": "Une demande de signature a été envoyée au signataire",
    "signature_request.viewed": "Le signataire a ouvert le document à signer",
    "signature_request.signed": "Un signataire a signé",
    "signature_request.completed": "Toutes les signatures de la demande sont recueillies",
    "signature_request.refused": "Un signataire a refusé de signer",
    "signature_request.expired": "La demande de signature a expiré sans être complétée",
    "campaign.created": "Une campagne est créée : ses entretiens sont planifiés, leurs convocations en préparation",
    "interview.planned": "Un entretien est planifié dans une campagne (à planifier tant que sa convocation n'est pas envoyée)",
    "interview.rescheduled": "Un entretien est déplacé : une nouvelle version de sa convocation part",
    "interview.cancelled": "Un entretien est annulé, avec sa raison",
    "convocation.sent": "Le serveur de messagerie a accepté la convocation (ou son annulation) du salarié",
    "convocation.acknowledged": "Le salarié a confirmé avoir reçu sa convocation",
    "convocation.bounced": "Le serveur de messagerie a refusé un message de convocation (il sera réessayé)",
    "document.delivered": ("Le document signé, ou la version portant le refus, est envoyé au salarié, au "
                           "responsable de l'entretien et aux RH ; l'entretien est tenu"),
}
"""Every event the service may send; emit() refuses any other name."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are made; tests replace the module's POLICY with a faster one."""

    timeout: float = 15.0
    """Seconds one attempt may take, connection to answer."""
    schedule: RetrySchedule = DEFAULT_SCHEDULE
    """Delay before each attempt; after the last one fails the message is marked failed."""
    keep_attempts: int = 20
    """Attempts kept per message (the oldest go): a receiver failing for days cannot fill the disk."""
    excerpt_bytes: int = 1024
    """Start of each response body kept with its attempt."""
    rotation_overlap: dt.timedelta = dt.timedelta(hours=24)
    """How long the previous secret keeps signing after a rotation."""
    concurrency: int = 8
    """Attempts in flight at once to one endpoint from this process, at most, each over its own keep-alive
    connection."""
    pace: float = 250.0
    """Deliveries per second to one endpoint the attempts in flight aim at, given the latency of a run's
    first attempt: a receiver answering in 1 ms gets one at a time (more would only take processor time
    from the API), one answering in 30 ms or more gets `concurrency`."""


POLICY = DeliveryPolicy()


# --- emitting -----------------------------------------------------------------------------------------

_MESSAGES, _ENDPOINTS, _ATTEMPTS = WebhookMessage.__table__, WebhookEndpoint.__table__, WebhookAttempt.__table__
# emit() runs in the API's transactions, and the delivery jobs often: their statements are Core, built once.
_SUBSCRIBED = select(_ENDPOINTS.c.id, _ENDPOINTS.c.event_types).where(
    _ENDPOINTS.c.enabled.is_(True), _ENDPOINTS.c.deleted_at.is_(None)).order_by(_ENDPOINTS.c.id)
_WRITE = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)


@dataclass(frozen=True)
class Emitted:
    """A message emit() wrote to the outbox."""

    id: int
    public_id: str
    endpoint_id: int


@dataclass
class _Outbox:
    """What emit() wrote in the transaction under way: its delivery jobs are written at its commit."""

    transaction: Any
    endpoints: list[Any]
    """The enabled endpoints and the events they want, read at the transaction's first event."""
    messages: dict[int, list[int]]
    """Message ids by endpoint."""
    when: dt.datetime


def emit(session: Session, type: str, data: dict[str, Any], *, when: dt.datetime | None = None) -> list[Emitted]:
    """Put the event in the outbox for every enabled endpoint that wants it, in the caller's transaction.

    Nothing is written when no endpoint wants it. `data` carries ids and links, not personal data.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r} (known: {', '.join(EVENT_TYPES)})")
    outbox = _outbox(session, when)
    wanted = [endpoint_id for endpoint_id, event_types in outbox.endpoints
              if event_types is None or type in event_types]
    if not wanted:
        return []
    when = when or utcnow()
    body = json.dumps({"type": type, "timestamp": _iso(when), "data": data}, ensure_ascii=False,
                      separators=(",", ":"))
    rows = [{"public_id": new_message_id(), "endpoint_id": endpoint_id, "event_type": type, "body": body,
             "status": "pending", "sequence": 1, "round_attempts": 0, "attempts": 0, "next_attempt_at": when,
             "created_at": when} for endpoint_id in wanted]
    ids = session.connection().execute(_WRITE, rows).scalars().all()
    for row, message_id in zip(rows, ids):
        outbox.messages.setdefault(row["endpoint_id"], []).append(message_id)
    session.info["webhooks_emitted"] = True  # the API wakes the job runner after the request
    return [Emitted(message_id, row["public_id"], row["endpoint_id"]) for row, message_id in zip(rows, ids)]


def _outbox(session: Session, when: dt.datetime | None) -> _Outbox:
    transaction = session.get_transaction()
    outbox = session.info.get("webhook_outbox")
    if outbox is None or outbox.transaction is not transaction or transaction is None:
        endpoints = [tuple(row) for row in session.execute(_SUBSCRIBED)]  # (flushes the session first)
        outbox = session.info["webhook_outbox"] = _Outbox(session.get_transaction(), endpoints, {},
                                                          when or utcnow())
        if not event.contains(session, "before_commit", _enqueue_first_attempts):
            event.listen(session, "before_commit", _enqueue_first_attempts)
    return outbox


def _enqueue_first_attempts(session: Session) -> None:
    """At the commit of a transaction that emitted events: a job per endpoint for their first attempts,
    up to JOB_SIZE messages each: a transaction that emits a thousand events (a campaign's signature
    requests, say) makes a few jobs, not a thousand."""
    outbox = session.info.pop("webhook_outbox", None)
    if outbox is None or outbox.transaction is not session.get_transaction() or not outbox.messages:
        return
    enqueue_many(session, KIND, [{"messages": [[message_id, 1] for message_id in ids[first:first + JOB_SIZE]]}
                                 for ids in outbox.messages.values() for first in range(0, len(ids), JOB_SIZE)],
                 run_at=outbox.when)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def document_generated(session: Session, document_id: int, version: int, matricule: str,
                       template_version_id: int) -> None:
    """document.generated for a document made alone (a batch's documents are announced by the batch)."""
    name, number = templates.name_and_number(session, template_version_id)
    emit(session, "document.generated", {
        "document_id": document_id, "version": version, "matricule": matricule,
        "template": {"name": name, "version": number},
        "links": {"document": f"{API_ROOT}/documents/{document_id}",
                  "pdf": f"{API_ROOT}/documents/{document_id}/versions/{version}/pdf"}})


def batch_finished(session: Session, batch_id: int) -> None:
    """batch.completed (partially completed too: its status says so) or batch.failed, in the transaction
    that gives the batch its final status."""
    session.flush()
    batch = session.get(Batch, batch_id, populate_existing=True)  # counters were changed by UPDATE statements
    if batch is None or batch.status not in ("completed", "partially_completed", "failed"):
        return
    name, number = templates.name_and_number(session, batch.template_version_id)
    emit(session, "batch.failed" if batch.status == "failed" else "batch.completed", {
        "batch_id": batch.id, "status": batch.status, "template": {"name": name, "version": number},
        "total": batch.total, "done": batch.done, "failed": batch.failed,
        "links": {"batch": f"{API_ROOT}/batches/{batch.id}", "items": f"{API_ROOT}/batches/{batch.id}/items",
                  "failed_items": f"{API_ROOT}/batches/{batch.id}/items?status=failed",
                  "zip": f"{API_ROOT}/batches/{batch.id}/zip"}})


# --- delivering (the job itself: parcours.service.deliveries) -----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def allow_list(text: str) -> AllowList:
    return AllowList.parse(text)


def signing_secrets(endpoint: Any, now: dt.datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its overlap after a rotation lasts (of an endpoint,
    or a row with its secret, previous_secret and previous_secret_until)."""
    now = now or utcnow()
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        found.append(endpoint.previous_secret)
    return found


def redeliver(session: Session, public_id: str) -> WebhookMessage:
    """Send a delivered or failed message again, with a new round of the schedule (same webhook-id)."""
    message = get_message(session, public_id)
    endpoint = session.get(WebhookEndpoint, message.endpoint_id)
    if message.status == "pending":
        raise Conflict("Message en cours d'envoi",
                       f"Le message {public_id} attend déjà un nouvel essai : inutile de le relancer.")
    if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
        raise Conflict("Point de réception désactivé",
                       "Réactivez d'abord le point de réception (PATCH … {\"enabled\": true}).")
    now = utcnow()
    message.status, message.round_attempts, message.next_attempt_at = "pending", 0, now
    message.sequence += 1
    enqueue(session, KIND, {"messages": [[message.id, message.sequence]]}, run_at=now)
    session.info["webhooks_emitted"] = True
    return message


def get_message(session: Session, public_id: str) -> WebhookMessage:
    message = session.scalar(select(WebhookMessage).where(WebhookMessage.public_id == public_id))
    if message is None:
        raise NotFound("Message introuvable", f"Aucun message n'a l'identifiant {public_id}.")
    return message


# --- endpoints ------------------------------------------------------------------------------------------

def check_endpoint_url(url: Any, allowed: str) -> str:
    """The URL if the SSRF guard accepts it now (it checks again at every delivery); 422 otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid("url", "adresse http(s) obligatoire")
    url = url.strip()
    if len(url) > 2000:
        raise _invalid("url", "2000 caractères au plus")
    try:
        check_url(url, allow_list(allowed))
    except UnsafeURL as exc:
        raise _invalid("url", f"URL refusée : {exc.reason}", url) from None
    return url


def check_event_types(raw: Any) -> list[str] | None:
    """None (every event) or a non-empty list of known names without duplicates; 422 otherwise."""
    if raw is None or raw == "*":
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise _invalid("event_types", "une liste de types d'événements, ou null pour tous")
    unknown = [name for name in raw if name not in EVENT_TYPES]
    if unknown:
        raise Invalid("Valeurs invalides", errors=[
            {"field": "event_types", "value": name, "reason": f"type inconnu (types : {', '.join(EVENT_TYPES)})"}
            for name in unknown])
    return list(dict.fromkeys(raw))


def check_description(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > 500:
        raise _invalid("description", "texte de 500 caractères au plus")
    return raw.strip()


def _invalid(field: str, reason: str, value: Any = None) -> Invalid:
    error = {"field": field, "reason": reason}
    if value is not None:
        error["value"] = value
    return Invalid("Valeurs invalides", errors=[error])


def create_endpoint(session: Session, *, url: str, event_types: list[str] | None, description: str,
                    created_by: str) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret, to show once."""
    secret = generate_secret()
    endpoint = WebhookEndpoint(url=url, event_types=event_types, description=description, enabled=True,
                               secret=secret, created_by=created_by)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound("Point de réception introuvable", f"Aucun point de réception n'a l'identifiant {endpoint_id}.")
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, by: str) -> None:
    if enabled and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = True, None
    elif not enabled and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = False, f"désactivé par {by}"


def rotate_secret(endpoint: WebhookEndpoint, overlap: dt.timedelta | None = None) -> str:
    """A new secret; the current one keeps signing alongside it for `overlap` (24 h). Returns the new one."""
    secret = generate_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + (overlap if overlap is not None else POLICY.rotation_overlap)
    endpoint.secret = secret
    return secret


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Gone from the API; its row, messages and attempts stay as a record. Pending messages fail."""
    now = utcnow()
    endpoint.deleted_at, endpoint.enabled, endpoint.disabled_reason = now, False, "supprimé"
    session.execute(update(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id,
                                                 WebhookMessage.status == "pending")
                    .values(status="failed", next_attempt_at=None, last_error="point de réception supprimé"))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

