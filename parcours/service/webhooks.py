"""Webhooks in the service: the event catalogue, emit() into the outbox, the delivery job, endpoints.

`emit(session, type, data)` writes one message per matching endpoint and one "webhook_delivery" job
per message in the caller's transaction: the event exists if and only if the change that caused it
commits (a transactional outbox). The job makes one attempt through the `webhooks` engine and, on
failure, enqueues the next attempt itself with its `run_at` from the retry schedule, then finishes:
the job runner's own retries (for a crash or a database error) never replace the schedule. Delivery
is at least once: a crash between the receiver's answer and the commit of the attempt sends the
message again, with the same webhook-id. Messages are not ordered.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from parcours.jobs import complete, enqueue, handler
from parcours.models import Batch, Job, Template, TemplateVersion, utcnow
from parcours.problems import Problem
from parcours.webhook_models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from webhooks.delivery import DeliveryResult, deliver
from webhooks.errors import UnsafeURL
from webhooks.schedule import DEFAULT_SCHEDULE, RetrySchedule
from webhooks.signing import generate_secret, webhook_headers
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


POLICY = DeliveryPolicy()


# --- emitting -----------------------------------------------------------------------------------------

def emit(session: Session, type: str, data: dict[str, Any], *, when: dt.datetime | None = None) -> list[WebhookMessage]:
    """Put the event in the outbox for every enabled endpoint that wants it, in the caller's transaction.

    Nothing is written when no endpoint wants it. `data` carries ids and links, not personal data.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r} (known: {', '.join(EVENT_TYPES)})")
    endpoints = session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.enabled.is_(True), WebhookEndpoint.deleted_at.is_(None))).all()
    wanted = [e for e in endpoints if e.event_types is None or type in e.event_types]
    if not wanted:
        return []
    when = when or utcnow()
    body = json.dumps({"type": type, "timestamp": _iso(when), "data": data}, ensure_ascii=False,
                      separators=(",", ":"))
    messages = [WebhookMessage(public_id=new_message_id(), endpoint_id=endpoint.id, event_type=type, body=body,
                               status="pending", sequence=1, round_attempts=0, attempts=0, next_attempt_at=when,
                               created_at=when)
                for endpoint in wanted]
    session.add_all(messages)
    session.flush()
    _enqueue_first_attempts(session, messages, when)
    session.info["webhooks_emitted"] = True  # the API wakes the job runner after the request
    return messages


def _enqueue_first_attempts(session: Session, messages: list[WebhookMessage], when: dt.datetime) -> None:
    """One job per endpoint and transaction, up to JOB_SIZE messages: a transaction that emits a thousand
    events (a campaign's signature requests, say) makes a few jobs, not a thousand."""
    transaction = session.get_transaction()
    owner, open_jobs = session.info.get("webhook_jobs", (None, {}))
    if owner is not transaction:
        open_jobs = {}
        session.info["webhook_jobs"] = (transaction, open_jobs)
    for message in messages:
        job = open_jobs.get(message.endpoint_id)
        if job is not None and len(job.payload["messages"]) < JOB_SIZE:
            job.payload = {"messages": [*job.payload["messages"], [message.id, 1]]}  # assigned: tracked
        else:
            open_jobs[message.endpoint_id] = enqueue(session, KIND, {"messages": [[message.id, 1]]}, run_at=when)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def document_generated(session: Session, document_id: int, version: int, matricule: str,
                       template_version_id: int) -> None:
    """document.generated for a document made alone (a batch's documents are announced by the batch)."""
    name, number = _template(session, template_version_id)
    emit(session, "document.generated", {
        "document_id": document_id, "version": version, "matricule": matricule,
        "template": {"name": name, "version": number},
        "links": {"document": f"{API_ROOT}/documents/{document_id}",
                  "pdf": f"{API_ROOT}/documents/{document_id}/versions/{version}/pdf"}})


def batch_finished(session: Session, batch_id: int) -> None:
    """batch.completed or batch.failed, in the transaction that gives the batch its final status."""
    session.flush()
    batch = session.get(Batch, batch_id, populate_existing=True)  # counters were changed by UPDATE statements
    if batch is None or batch.status not in ("completed", "failed"):
        return
    name, number = _template(session, batch.template_version_id)
    emit(session, f"batch.{batch.status}", {
        "batch_id": batch.id, "status": batch.status, "template": {"name": name, "version": number},
        "total": batch.total, "done": batch.done, "failed": batch.failed,
        "links": {"batch": f"{API_ROOT}/batches/{batch.id}", "items": f"{API_ROOT}/batches/{batch.id}/items",
                  "failed_items": f"{API_ROOT}/batches/{batch.id}/items?status=failed",
                  "zip": f"{API_ROOT}/batches/{batch.id}/zip"}})


def _template(session: Session, version_id: int) -> tuple[str, int]:
    name, number = session.execute(select(Template.name, TemplateVersion.number).join(TemplateVersion.template)
                                   .where(TemplateVersion.id == version_id)).one()
    return name, number


# --- delivering -----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def allow_list(text: str) -> AllowList:
    return AllowList.parse(text)


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its overlap after a rotation lasts."""
    now = now or utcnow()
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        found.append(endpoint.previous_secret)
    return found


_MESSAGES, _ENDPOINTS, _ATTEMPTS = WebhookMessage.__table__, WebhookEndpoint.__table__, WebhookAttempt.__table__
# The delivery job runs often: its statements are Core, built once (the ORM would cost more than the HTTP).
_LOAD = select(_MESSAGES.c.status, _MESSAGES.c.sequence, _MESSAGES.c.body, _MESSAGES.c.public_id,
               _MESSAGES.c.attempts, _MESSAGES.c.round_attempts, _MESSAGES.c.endpoint_id,
               _ENDPOINTS.c.url, _ENDPOINTS.c.enabled, _ENDPOINTS.c.deleted_at, _ENDPOINTS.c.secret,
               _ENDPOINTS.c.previous_secret, _ENDPOINTS.c.previous_secret_until).join_from(
    _MESSAGES, _ENDPOINTS, _ENDPOINTS.c.id == _MESSAGES.c.endpoint_id).where(_MESSAGES.c.id == bindparam("message"))
_STILL_DUE = (_MESSAGES.c.id == bindparam("message")) & (_MESSAGES.c.sequence == bindparam("expected")) & \
    (_MESSAGES.c.status == "pending")


@handler(KIND)
def run_delivery(services: Any, job: Job) -> None:
    """Attempts for the job's messages (one endpoint's); a failed one's next attempt is a job of its own.

    When an attempt gets no answer or a 5xx, the job's remaining messages wait for the next step of
    the schedule in a new job, without counting an attempt: a receiver that is down does not hold a
    job thread for the timeout of every message.
    """
    pairs = job.payload["messages"]
    for position, (message_id, sequence) in enumerate(pairs):
        # The last attempt closes the job in its own transaction: one write less per delivery.
        result = _attempt(services, message_id, sequence, job if position == len(pairs) - 1 else None)
        rest = pairs[position + 1:]
        if rest and result is not None and not result.ok and (result.status is None or result.status >= 500):
            delay = POLICY.schedule.delay(2) or 0.0
            with services.db.session() as session:
                enqueue(session, KIND, {"messages": rest}, run_at=utcnow() + dt.timedelta(seconds=delay))
            return


def _attempt(services: Any, message_id: int, sequence: int, last_of: Job | None = None) -> DeliveryResult | None:
    """One attempt for one message, recorded; None when there was nothing to do (a stale job)."""
    policy = POLICY
    with services.db.engine.begin() as connection:
        row = connection.execute(_LOAD, {"message": message_id}).one_or_none()
        if row is None or row.status != "pending" or row.sequence != sequence:
            return None  # delivered or redelivered meanwhile: this job is stale
        if not row.enabled or row.deleted_at is not None:
            connection.execute(update(_MESSAGES).where(_STILL_DUE).values(
                status="failed", next_attempt_at=None,
                last_error="point de réception supprimé" if row.deleted_at else "point de réception désactivé"),
                {"message": message_id, "expected": sequence})
            return None
    keys = [row.secret]
    if row.previous_secret and row.previous_secret_until and row.previous_secret_until > utcnow():
        keys.append(row.previous_secret)
    # No transaction is open while the receiver answers (up to the timeout).
    body = row.body.encode("utf-8")
    headers = webhook_headers(keys, row.public_id, int(time.time()), body)
    result = deliver(row.url, body, headers, timeout=policy.timeout,
                     allow=allow_list(services.settings.webhook_allowed_hosts), excerpt_bytes=policy.excerpt_bytes)
    _record(services.db, message_id, sequence, row, result, policy, last_of)
    return result


def _record(db: Any, message_id: int, sequence: int, before: Any, result: DeliveryResult,
            policy: DeliveryPolicy, last_of: Job | None = None) -> None:
    """The attempt, the message's new state and, if due, the next attempt's job: one transaction."""
    now = utcnow()
    number = before.attempts + 1
    error = result.error or (None if result.ok else f"HTTP {result.status}")
    changes: dict[str, Any] = {"attempts": _MESSAGES.c.attempts + 1, "round_attempts": _MESSAGES.c.round_attempts + 1,
                               "last_status": result.status, "last_error": error and error[:500]}
    follow_up = None
    if result.ok:
        changes.update(status="delivered", delivered_at=now, next_attempt_at=None, last_error=None)
    elif result.gone:
        changes.update(status="failed", next_attempt_at=None,
                       last_error="410 Gone : le destinataire ne veut plus de messages ; point de réception désactivé")
    else:
        delay = policy.schedule.delay(before.round_attempts + 2)
        if delay is None:
            changes.update(status="failed", next_attempt_at=None)
        else:
            follow_up = now + dt.timedelta(seconds=delay)
            changes.update(sequence=sequence + 1, next_attempt_at=follow_up)
    with db.session() as session:
        connection = session.connection()
        connection.execute(insert(_ATTEMPTS).values(
            message_id=message_id, number=number, attempted_at=now, status_code=result.status,
            latency_ms=result.latency_ms, response_excerpt=result.excerpt[:policy.excerpt_bytes],
            error=result.error and result.error[:500]))
        if number > policy.keep_attempts:
            _prune(connection, message_id, policy.keep_attempts)
        if result.gone:
            connection.execute(update(_ENDPOINTS).where(_ENDPOINTS.c.id == before.endpoint_id).values(
                enabled=False, disabled_reason=f"le destinataire a répondu 410 Gone le {now:%Y-%m-%d %H:%M:%S} UTC"))
        # Guarded: a redelivery (or a duplicate run) that came first makes this job's view stale.
        current = connection.execute(update(_MESSAGES).where(_STILL_DUE).values(**changes),
                                     {"message": message_id, "expected": sequence}).rowcount
        if current == 1 and follow_up is not None:
            enqueue(session, KIND, {"messages": [[message_id, sequence + 1]]}, run_at=follow_up)
        if last_of is not None:
            complete(session, last_of)


def _prune(connection: Any, message_id: int, keep: int) -> None:
    """Drop all but the `keep` most recent attempts of a message (the one just added counts)."""
    newest = connection.execute(select(_ATTEMPTS.c.id).where(_ATTEMPTS.c.message_id == message_id)
                                .order_by(_ATTEMPTS.c.id.desc()).limit(keep)).scalars().all()
    if len(newest) == keep:
        connection.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.message_id == message_id, _ATTEMPTS.c.id < newest[-1]))


def redeliver(session: Session, public_id: str) -> WebhookMessage:
    """Send a delivered or failed message again, with a new round of the schedule (same webhook-id)."""
    message = get_message(session, public_id)
    endpoint = session.get(WebhookEndpoint, message.endpoint_id)
    if message.status == "pending":
        raise Problem(409, "Message en cours d'envoi",
                      f"Le message {public_id} attend déjà un nouvel essai : inutile de le relancer.")
    if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
        raise Problem(409, "Point de réception désactivé",
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
        raise Problem(404, "Message introuvable", f"Aucun message n'a l'identifiant {public_id}.")
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
        raise _invalid("url", f"adresse refusée : {exc.reason}", url) from None
    return url


def check_event_types(raw: Any) -> list[str] | None:
    """None (every event) or a non-empty list of known names without duplicates; 422 otherwise."""
    if raw is None or raw == "*":
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise _invalid("event_types", "une liste de types d'événements, ou null pour tous")
    unknown = [name for name in raw if name not in EVENT_TYPES]
    if unknown:
        raise Problem(422, "Valeurs invalides", errors=[
            {"field": "event_types", "value": name, "reason": f"type inconnu (types : {', '.join(EVENT_TYPES)})"}
            for name in unknown])
    return list(dict.fromkeys(raw))


def check_description(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > 500:
        raise _invalid("description", "texte de 500 caractères au plus")
    return raw.strip()


def _invalid(field: str, reason: str, value: Any = None) -> Problem:
    error = {"field": field, "reason": reason}
    if value is not None:
        error["value"] = value
    return Problem(422, "Valeurs invalides", errors=[error])


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
        raise Problem(404, "Point de réception introuvable", f"Aucun point de réception n'a l'identifiant {endpoint_id}.")
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

