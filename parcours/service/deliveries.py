"""Webhook deliveries: the job that attempts the outbox's messages (parcours.service.webhooks writes them).

The job runner hands up to BATCH_JOBS due delivery jobs at once to `run_deliveries`, which attempts their
messages through the `webhooks` engine, several at a time per endpoint over keep-alive connections, and
writes the results in few transactions, each closing the jobs it finishes; a failed message's next
attempt is a job of its own with its `run_at` from the retry schedule: the job runner's own retries (for
a crash or a database error) never replace the schedule. Delivery is at least once: a crash between the
receiver's answer and the commit of the attempt sends the message again, with the same webhook-id.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
import time
from collections import deque
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from parcours.container import Services
from parcours.jobs.runner import autocommit, complete, enqueue, handler
from parcours.models import Job, WebhookAttempt, WebhookEndpoint, WebhookMessage, utcnow
from parcours.service import webhooks
from parcours.service.webhooks import KIND, DeliveryPolicy, allow_list, signing_secrets
from webhooks.delivery import ConnectionPool, DeliveryResult, deliver
from webhooks.signing import webhook_headers

log = logging.getLogger(__name__)
BATCH_JOBS = 50
"""Due delivery jobs a runner thread claims at once and runs in one call (events written one per
transaction, a document generated through the API say, make a job each)."""
LINGER = 0.1
"""Seconds between two claims of delivery jobs while they come fewer than BATCH_JOBS at a time: they
gather into batches instead of costing transactions each (an event alone is claimed at once)."""

_MESSAGES, _ENDPOINTS, _ATTEMPTS = WebhookMessage.__table__, WebhookEndpoint.__table__, WebhookAttempt.__table__

_LOAD = select(_MESSAGES.c.id, _MESSAGES.c.status, _MESSAGES.c.sequence, _MESSAGES.c.body, _MESSAGES.c.public_id,
               _MESSAGES.c.attempts, _MESSAGES.c.round_attempts, _MESSAGES.c.endpoint_id,
               _ENDPOINTS.c.url, _ENDPOINTS.c.enabled, _ENDPOINTS.c.deleted_at, _ENDPOINTS.c.secret,
               _ENDPOINTS.c.previous_secret, _ENDPOINTS.c.previous_secret_until).join_from(
    _MESSAGES, _ENDPOINTS, _ENDPOINTS.c.id == _MESSAGES.c.endpoint_id).where(
    _MESSAGES.c.id.in_(bindparam("messages", expanding=True)))
_ENDPOINT_STATE = select(_ENDPOINTS.c.id, _ENDPOINTS.c.enabled, _ENDPOINTS.c.deleted_at).where(
    _ENDPOINTS.c.id.in_(bindparam("endpoints", expanding=True)))
_STILL_DUE = (_MESSAGES.c.id == bindparam("message")) & (_MESSAGES.c.sequence == bindparam("expected")) & \
    (_MESSAGES.c.status == "pending")
_DELIVERED = update(_MESSAGES).where(
    _MESSAGES.c.id.in_(bindparam("messages", expanding=True)), _MESSAGES.c.sequence == bindparam("expected"),
    _MESSAGES.c.status == "pending").values(
    status="delivered", delivered_at=bindparam("at"), next_attempt_at=None, last_error=None,
    last_status=bindparam("code"), attempts=_MESSAGES.c.attempts + 1, round_attempts=_MESSAGES.c.round_attempts + 1)
"""Messages delivered, those of one sequence number and status code at a time (most often all of them)."""
_POSTPONED = update(_MESSAGES).where(_STILL_DUE).values(next_attempt_at=bindparam("at"))
_CLOSED = update(_MESSAGES).where(_STILL_DUE).values(status="failed", next_attempt_at=None,
                                                     last_error=bindparam("reason"))
_CLOSED_REASONS = {"deleted": "point de réception supprimé", "disabled": "point de réception désactivé",
                   "gone": "point de réception désactivé"}
CONNECTIONS = ConnectionPool()
"""Keep-alive connections to receivers, shared by the delivery threads."""


@handler(KIND, batch=BATCH_JOBS, linger=LINGER)
def run_deliveries(services: Services, jobs: list[Job]) -> None:
    """Attempts for the messages of up to BATCH_JOBS due jobs, their results written by groups.

    Each endpoint's messages go over keep-alive connections, a first one alone: when it gets no answer
    or a 5xx, the endpoint's other messages wait for the next step of the schedule in a new job,
    without counting an attempt (a receiver that is down does not hold threads for the timeout of
    every message). Otherwise the others follow, several at a time for a slow receiver (as many as
    webhooks.POLICY.pace calls for at its latency, webhooks.POLICY.concurrency at most). The results are written at the
    end and at least every RECORD_EVERY seconds, each group in one transaction that also closes the
    jobs it finishes: a crash sends again only the messages whose result was not written yet.
    """
    _Run(services, jobs, webhooks.POLICY).run()  # read at each run: tests replace it


@dataclass
class _Work:
    """A message to attempt, as loaded, and the job that carries it."""

    message_id: int
    sequence: int
    job: Job
    row: Any


class _Endpoint:
    """An endpoint's share of a run: its messages not yet sent, and why it stopped taking them."""

    def __init__(self, row: Any, concurrency: int) -> None:
        self.id, self.url = row.endpoint_id, row.url
        self.keys = signing_secrets(row)
        self.slots = _slots(self.id, concurrency)
        self.queue: deque[_Work] = deque()
        self.stopped: str | None = None
        """down (no answer or a 5xx), gone (410), disabled, deleted; abandoned when the run fails."""
        self.lock = threading.Lock()


_SLOTS: dict[tuple[int, int], threading.Semaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(endpoint_id: int, concurrency: int) -> threading.Semaphore:
    """The endpoint's attempts in flight, shared by the runs under way in this process."""
    with _SLOTS_LOCK:
        slots = _SLOTS.get((endpoint_id, concurrency))
        if slots is None:
            slots = _SLOTS[endpoint_id, concurrency] = threading.Semaphore(concurrency)
        return slots


_END = object()
RECORD_EVERY = 0.25
"""Seconds a result may wait to be written with the next ones (all are written when the run ends): a
crash sends again at most the attempts of that long."""
_SENDERS = threading.local()
SENDER_THREADS = 32
"""Sending threads per job thread; a run with more endpoints than that makes the others wait their turn."""


def _senders() -> ThreadPoolExecutor:
    """The calling job thread's sending threads, kept for its next runs: starting threads for every
    run would cost more than the attempts of a small batch."""
    pool = getattr(_SENDERS, "pool", None)
    if pool is None:
        pool = _SENDERS.pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="webhook-send")
    return pool


class _Crash:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Run:
    """One call of the delivery handler."""

    def __init__(self, services: Services, jobs: list[Job], policy: DeliveryPolicy) -> None:
        self.db, self.jobs, self.policy = services.db, jobs, policy
        self.allow = allow_list(services.settings.webhook_allowed_hosts)
        self.left = {job.id: len(job.payload["messages"]) for job in jobs}
        """Messages of each job whose fate is not written yet."""
        self.finished = [job for job in jobs if not self.left[job.id]]
        """Jobs to close in the next transaction."""
        self.closing: list[tuple[_Work, str]] = []
        self.endpoints: dict[int, _Endpoint] = {}
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.started = 0
        self.pumps: list[futures.Future] = []
        self.executor: ThreadPoolExecutor | None = None

    def settle(self, job: Job) -> None:
        self.left[job.id] -= 1
        if not self.left[job.id]:
            self.finished.append(job)

    def run(self) -> None:
        self._load()
        total = sum(len(endpoint.queue) for endpoint in self.endpoints.values())
        if total <= 1:  # the usual case when events come one by one and slowly: no thread to start
            for endpoint in self.endpoints.values():
                self._pump(endpoint, lead=False)
            group = self._take()
            self._raise_crash(group)
            self._commit(group, final=True)
            return
        self.executor, ended, waiting, since = _senders(), 0, [], 0.0
        try:
            for endpoint in self.endpoints.values():
                if endpoint.queue:
                    self._start(endpoint, lead=True)
            while True:
                timeout = max(0.0, since + RECORD_EVERY - time.monotonic()) if waiting else None
                group = self._take(block=True, timeout=timeout)
                ended += sum(1 for item in group if item is _END)
                self._raise_crash(group)
                if group and not waiting:
                    since = time.monotonic()
                waiting += group
                with self.lock:
                    final = ended == self.started
                if final or time.monotonic() - since >= RECORD_EVERY:
                    self._commit(waiting, final)
                    waiting = []
                if final:
                    return
        except BaseException:
            for endpoint in self.endpoints.values():
                with endpoint.lock:
                    endpoint.stopped = "abandoned"  # the threads end after their attempt in progress
            with self.lock:
                pumps = list(self.pumps)
            futures.wait(pumps)
            raise

    def _load(self) -> None:
        pairs = [(message_id, sequence, job) for job in self.jobs for message_id, sequence in job.payload["messages"]]
        with autocommit(self.db).connect() as connection:
            rows = {row.id: row for row in connection.execute(_LOAD, {"messages": sorted({p[0] for p in pairs})})}
        seen = set()
        for message_id, sequence, job in pairs:
            row = rows.get(message_id)
            if row is None or row.status != "pending" or row.sequence != sequence or (message_id, sequence) in seen:
                self.settle(job)  # delivered or redelivered meanwhile: nothing to do for this job
                continue
            seen.add((message_id, sequence))
            work = _Work(message_id, sequence, job, row)
            if row.deleted_at is not None or not row.enabled:
                self.closing.append((work, _CLOSED_REASONS["deleted" if row.deleted_at else "disabled"]))
                continue
            endpoint = self.endpoints.get(row.endpoint_id)
            if endpoint is None:
                endpoint = self.endpoints[row.endpoint_id] = _Endpoint(row, self.policy.concurrency)
            endpoint.queue.append(work)

    def _start(self, endpoint: _Endpoint, lead: bool) -> None:
        assert self.executor is not None
        with self.lock:
            self.started += 1
            self.pumps.append(self.executor.submit(self._pump, endpoint, lead))

    def _pump(self, endpoint: _Endpoint, lead: bool) -> None:
        """Send the endpoint's messages one after the other until none is left or it stops taking them;
        the first thread alone sends the first message, then calls the others. Each result is handed
        over as it comes, the last one with the thread's end (so that both go in one transaction)."""
        ended = False
        try:
            while True:
                with endpoint.lock:
                    if endpoint.stopped or not endpoint.queue:
                        return
                    work = endpoint.queue.popleft()
                with endpoint.slots:
                    result = self._send(endpoint, work)
                with endpoint.lock:
                    if result.gone:
                        endpoint.stopped = "gone"
                    elif result.unreachable and endpoint.stopped is None:
                        endpoint.stopped = "down"
                    helpers = 0 if endpoint.stopped or not lead else min(
                        self.policy.concurrency, len(endpoint.queue) + 1,
                        math.ceil(result.latency_ms / 1000 * self.policy.pace)) - 1
                    ended = bool(endpoint.stopped) or not endpoint.queue
                self.results.put([(work, result), _END] if ended else [(work, result)])
                if ended:
                    return
                for _ in range(helpers):
                    self._start(endpoint, lead=False)
                lead = False
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread, which fails the run
            self.results.put([_Crash(exc)])
        finally:
            if not ended:
                self.results.put([_END])

    def _send(self, endpoint: _Endpoint, work: _Work) -> DeliveryResult:
        body = work.row.body.encode("utf-8")
        headers = webhook_headers(endpoint.keys, work.row.public_id, int(time.time()), body)
        return deliver(endpoint.url, body, headers, timeout=self.policy.timeout, allow=self.allow,
                       excerpt_bytes=self.policy.excerpt_bytes, pool=CONNECTIONS)

    @staticmethod
    def _raise_crash(group: list[Any]) -> None:
        """A sending thread failed (a bug, an interruption): the run fails, its jobs are tried again."""
        crash = next((item for item in group if isinstance(item, _Crash)), None)
        if crash is not None:
            raise crash.error

    def _take(self, block: bool = False, timeout: float | None = None) -> list[Any]:
        """What the sending threads have handed over (when `block`, waiting for something up to `timeout`)."""
        found = []
        if block:
            try:
                found = list(self.results.get(timeout=timeout))
            except queue.Empty:
                return found
        while True:
            try:
                found += self.results.get_nowait()
            except queue.Empty:
                return found

    def _commit(self, group: list[Any], final: bool) -> None:
        """The group's attempts and their messages' new state, the messages the run will not send (at
        the end), and the jobs thereby finished: one transaction."""
        outcomes = [item for item in group if isinstance(item, tuple)]
        closing, self.closing = self.closing, []
        deferred: list[_Work] = []
        if final:
            for endpoint in self.endpoints.values():
                for work in endpoint.queue:
                    reason = _CLOSED_REASONS.get(endpoint.stopped or "")
                    if reason:
                        closing.append((work, reason))
                    else:
                        deferred.append(work)
                endpoint.queue.clear()
        for work, _ in closing:
            self.settle(work.job)
        for work in deferred:
            self.settle(work.job)
        for work, _ in outcomes:
            self.settle(work.job)
        if not (outcomes or closing or deferred or self.finished):
            return
        finished, self.finished = self.finished, []
        policy, now = self.policy, utcnow()
        with self.db.session() as session:
            connection = session.connection()
            if outcomes:
                connection.execute(insert(_ATTEMPTS), [{
                    "message_id": work.message_id, "number": work.row.attempts + 1, "attempted_at": now,
                    "status_code": result.status, "latency_ms": result.latency_ms,
                    "response_excerpt": result.excerpt[:policy.excerpt_bytes],
                    "error": result.error and result.error[:500]} for work, result in outcomes])
                for work, _ in outcomes:
                    if work.row.attempts + 1 > policy.keep_attempts:
                        _prune(connection, work.message_id, policy.keep_attempts)
                delivered: dict[tuple[int, int], list[int]] = {}
                for work, result in outcomes:
                    if result.ok:
                        delivered.setdefault((work.sequence, result.status), []).append(work.message_id)
                for (sequence, code), ids in delivered.items():
                    connection.execute(_DELIVERED, {"messages": ids, "expected": sequence, "at": now, "code": code})
                for work, result in outcomes:
                    if not result.ok:
                        _failed_attempt(session, work, result, policy, now)
            if closing:
                connection.execute(_CLOSED, [{"message": work.message_id, "expected": work.sequence, "reason": reason}
                                             for work, reason in closing])
            if deferred:
                # Not attempted: the receiver is down. They wait for the schedule's second step, uncounted.
                at = now + dt.timedelta(seconds=policy.schedule.delay(2) or 0.0)
                connection.execute(_POSTPONED, [{"message": work.message_id, "expected": work.sequence, "at": at}
                                                for work in deferred])
                for first in range(0, len(deferred), webhooks.JOB_SIZE):
                    enqueue(session, KIND, {"messages": [[work.message_id, work.sequence]
                                                         for work in deferred[first:first + webhooks.JOB_SIZE]]}, run_at=at)
            if not final and self.endpoints:
                # Disabled or deleted while the run goes on: the rest of its messages are not sent.
                for row in connection.execute(_ENDPOINT_STATE, {"endpoints": list(self.endpoints)}):
                    if row.deleted_at is not None or not row.enabled:
                        endpoint = self.endpoints[row.id]
                        with endpoint.lock:
                            endpoint.stopped = endpoint.stopped or ("deleted" if row.deleted_at else "disabled")
            complete(session, *finished)


def _failed_attempt(session: Session, work: _Work, result: DeliveryResult, policy: DeliveryPolicy,
                    now: dt.datetime) -> None:
    """A message's state after an attempt that failed, and its next attempt's job if one is due."""
    connection = session.connection()
    error = result.error or f"HTTP {result.status}"
    changes: dict[str, Any] = {"attempts": _MESSAGES.c.attempts + 1, "round_attempts": _MESSAGES.c.round_attempts + 1,
                               "last_status": result.status, "last_error": error[:500]}
    follow_up = None
    if result.gone:
        changes.update(status="failed", next_attempt_at=None,
                       last_error="410 Gone : le destinataire ne veut plus de messages ; point de réception désactivé")
        connection.execute(update(_ENDPOINTS).where(_ENDPOINTS.c.id == work.row.endpoint_id).values(
            enabled=False, disabled_reason=f"le destinataire a répondu 410 Gone le {now:%Y-%m-%d %H:%M:%S} UTC"))
    else:
        delay = policy.schedule.delay(work.row.round_attempts + 2)
        if delay is None:
            changes.update(status="failed", next_attempt_at=None)
        else:
            follow_up = now + dt.timedelta(seconds=delay)
            changes.update(sequence=work.sequence + 1, next_attempt_at=follow_up)
    # Guarded: a redelivery (or a duplicate run) that came first makes this run's view stale.
    current = connection.execute(update(_MESSAGES).where(_STILL_DUE).values(**changes),
                                 {"message": work.message_id, "expected": work.sequence}).rowcount
    if current == 1 and follow_up is not None:
        enqueue(session, KIND, {"messages": [[work.message_id, work.sequence + 1]]}, run_at=follow_up)


def _prune(connection: Any, message_id: int, keep: int) -> None:
    """Drop all but the `keep` most recent attempts of a message (the one just added counts)."""
    newest = connection.execute(select(_ATTEMPTS.c.id).where(_ATTEMPTS.c.message_id == message_id)
                                .order_by(_ATTEMPTS.c.id.desc()).limit(keep)).scalars().all()
    if len(newest) == keep:
        connection.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.message_id == message_id, _ATTEMPTS.c.id < newest[-1]))
