"""Background jobs: rows in the jobs table, claimed with a lease, run by an in-process thread pool.

Whatever runs a job only hears "run job N": it first claims the row with a conditional UPDATE, so a
duplicate run does nothing. The lease is short and renewed by a heartbeat while the job runs, so a
killed process's job is taken up again seconds later, by this process after a restart or by another
sharing the database (no process can tell at start-up whether another one is dead). The
same claim serves a distributed queue: with a broker (parcours.jobs.distributed), a transaction's due
jobs are told to it after commit (dispatch_after_commit) and a Celery worker claims the ids a message
names (claim_ids) instead of this local pool.

A kind registered with `batch=N` (webhook deliveries) is run up to N due jobs at a time: its lane
claims them in one conditional UPDATE and hands them to one call of the handler, which completes each
job in the transaction that finishes it. Such a lane claims one batch every `linger` seconds at most:
jobs arriving one by one (one per API request) gather into batches instead of costing a claim and a
result transaction each, and a backlog is worked through a batch after the other, several at once
only when batches last longer than `linger` (a slow receiver). A lane that found nothing looks again
after IDLE_PAUSE when woken, or at the tick.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, event, insert, inspect, or_, select, update
from sqlalchemy.orm import Session

from parcours.db import Database
from parcours.models import Job, utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], None]
"""Called with the service container (parcours.app.Services) and the claimed job (a list of claimed jobs
for a kind registered with `batch`)."""
HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 5

IDLE_PAUSE = 0.05
"""Seconds a lane whose last claim found fewer due jobs than it had free threads waits before looking
again when woken (the tick still applies): a wake per event written must not cost a query per lane."""

_JOBS = Job.__table__
# Statements run for every claim, job or batch of jobs: Core, built once.
_DUE = or_((_JOBS.c.status == "queued") & (_JOBS.c.run_at <= bindparam("now")),
           (_JOBS.c.status == "running") & (_JOBS.c.lease_until < bindparam("now")))
"""Waiting and due, or running under a lease that ran out (its runner died)."""
_CLAIM = update(_JOBS).where(_JOBS.c.id.in_(bindparam("jobs", expanding=True)), _DUE).values(
    status="running", lease_until=bindparam("until"), attempts=_JOBS.c.attempts + 1).returning(
    _JOBS.c.id, _JOBS.c.kind, _JOBS.c.payload, _JOBS.c.attempts)
_RENEW = update(_JOBS).where(_JOBS.c.id == bindparam("job"), _JOBS.c.status == "running",
                             _JOBS.c.attempts == bindparam("claimed")).values(lease_until=bindparam("until"))
_COMPLETE = update(_JOBS).where(_JOBS.c.id.in_(bindparam("jobs", expanding=True)), _JOBS.c.status == "running") \
    .values(status="done", lease_until=None)


@functools.lru_cache(maxsize=8)
def autocommit(db: Database) -> Engine:
    """The database's engine without transactions of its own: each statement commits alone (a read, or
    a conditional UPDATE), sparing the BEGIN and COMMIT round trips of a one-statement transaction."""
    return db.engine.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(frozen=True)
class Batching:
    """How a kind's jobs are gathered: up to `size` per handler call, one claim every `linger` seconds
    at most."""

    size: int
    linger: float


BATCHES: dict[str, Batching] = {}


def handler(kind: str, *, batch: int = 0, linger: float = 0.0) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`; with `batch`, it takes a list of up to `batch` jobs."""
    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        if batch:
            BATCHES[kind] = Batching(batch, linger)
        else:
            BATCHES.pop(kind, None)
        return function
    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any], run_at: dt.datetime | None = None) -> Job:
    """Add a job in the caller's transaction: it exists only if the change that asks for it commits."""
    job = Job(kind=kind, payload=payload, run_at=run_at or utcnow())
    session.add(job)
    if _DISPATCHERS and _due(run_at):
        _announce(session, [job])  # a later job is the sweep's, once due
    return job


def enqueue_many(session: Session, kind: str, payloads: list[dict[str, Any]], run_at: dt.datetime | None = None) -> None:
    """Add jobs in the caller's transaction in one statement (their ids are not needed, unless a queue
    is told after commit)."""
    if payloads:
        now = utcnow()
        rows = [{"kind": kind, "payload": payload, "status": "queued", "run_at": run_at or now, "attempts": 0,
                 "created_at": now} for payload in payloads]
        if _DISPATCHERS and session.get_bind() in _DISPATCHERS and _due(run_at):
            ids = session.connection().execute(insert(_JOBS).returning(_JOBS.c.id, sort_by_parameter_order=True),
                                               rows).scalars().all()
            _announce(session, [(job_id, kind) for job_id in ids])
        else:
            session.connection().execute(insert(_JOBS), rows)


# --- telling a queue, after commit, which jobs are waiting ---------------------------------------------

Dispatch = Callable[[list[tuple[int, str]]], None]
"""Told (job id, kind) of the due jobs a transaction wrote, once it has committed."""
_DISPATCHERS: weakref.WeakKeyDictionary[Engine, Dispatch] = weakref.WeakKeyDictionary()
_ANNOUNCED = "parcours.jobs.announced"


def dispatch_after_commit(db: Database, dispatch: Dispatch | None) -> None:
    """Have `dispatch` told the due jobs each committed transaction on `db` wrote (None: no longer).
    The job rows are the truth: a dispatch that fails or is lost is made good by the sweep."""
    if dispatch is None:
        _DISPATCHERS.pop(db.engine, None)
    else:
        _DISPATCHERS[db.engine] = dispatch


def _due(run_at: dt.datetime | None) -> bool:
    if run_at is None:
        return True
    return (run_at if run_at.tzinfo else run_at.replace(tzinfo=dt.timezone.utc)) <= utcnow()


def _announce(session: Session, jobs: list[Any]) -> None:
    if session.get_bind() in _DISPATCHERS:
        session.info.setdefault(_ANNOUNCED, []).extend(jobs)


@event.listens_for(Session, "after_commit")
def _tell_after_commit(session: Session) -> None:
    announced = session.info.pop(_ANNOUNCED, None)
    if not announced:
        return
    dispatch = _DISPATCHERS.get(session.get_bind())
    if dispatch is None:
        return
    jobs = []
    for job in announced:
        if isinstance(job, tuple):
            jobs.append(job)
        else:
            identity = inspect(job).identity
            if identity is not None:
                jobs.append((identity[0], job.kind))
    try:
        dispatch(jobs)
    except Exception:  # noqa: BLE001 - the commit stands; the sweep dispatches them later
        log.warning("jobs %s written but not dispatched: the sweep will", [job_id for job_id, _ in jobs],
                    exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_ANNOUNCED, None)


def complete(session: Session, *jobs: Job) -> None:
    """Mark jobs done in the handler's own transaction, saving the runner a write of its own."""
    if not jobs:
        return
    session.connection().execute(_COMPLETE, {"jobs": [job.id for job in jobs]})

    def done(_session: Session) -> None:
        for job in jobs:
            job.status = "done"  # the runner's copy (detached): no second write for it, no more heartbeat

    event.listen(session, "after_commit", done, once=True)


@dataclass
class _Lane:
    """Threads for some kinds of job: None means every kind that has no lane of its own."""

    kinds: frozenset[str] | None
    pool: ThreadPoolExecutor
    free: threading.Semaphore
    resume_at: float = 0.0
    """No claim before this (time.monotonic()): due jobs gather meanwhile."""
    recheck: bool = False
    """Look again as soon as the pause ends (woken during it, or a batch gathering); else at the tick."""
    backlog: bool = False
    """The last claim of a batched kind took a full batch: more are waiting."""

    def batching(self) -> Batching | None:
        if self.kinds is None or len(self.kinds) != 1:
            return None
        return BATCHES.get(next(iter(self.kinds)))


class JobRunner:
    """Claims due jobs and runs them on `workers` threads; `wake()` after enqueueing, and the job is
    claimed at once (within IDLE_PAUSE, or its kind's `linger`, of the lane's previous claim).

    `lanes` gives some kinds threads of their own: waiting on a slow web receiver must neither
    queue behind document batches nor hold the threads that convert them."""

    def __init__(self, db: Database, context: Any, workers: int, lease: dt.timedelta = dt.timedelta(seconds=20),
                 tick: float = 1.0, lanes: Mapping[str, int] | None = None) -> None:
        self.db, self.context, self.workers, self.lease, self.tick = db, context, workers, lease, tick
        lanes = dict(lanes or {})
        self._dedicated = frozenset(lanes)
        self._lanes = [_Lane(None, ThreadPoolExecutor(workers, thread_name_prefix="job"), threading.Semaphore(workers))]
        self._lanes += [_Lane(frozenset({kind}), ThreadPoolExecutor(count, thread_name_prefix=f"job-{kind}"),
                              threading.Semaphore(count)) for kind, count in lanes.items()]
        self._candidates: dict[frozenset[str] | None, Any] = {}
        self._running: dict[int, Job] = {}
        """Jobs running in this runner, whose leases the heartbeat renews."""
        self._submitted: dict[int, Job] = {}
        """Jobs claimed and handed to a thread that has not started them yet (given back by stop())."""
        self._beating = threading.Lock()
        self._beater: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for lane in self._lanes:
            lane.pool.shutdown(wait=True, cancel_futures=True)
        self._give_back()

    def _give_back(self) -> None:
        """Jobs claimed but never started (their thread's turn was cancelled): queued again at once,
        their lease and attempt returned, rather than waiting for the lease to run out."""
        with self._beating:
            jobs, self._submitted = list(self._submitted.values()), {}
        if not jobs:
            return
        try:
            with self.db.session() as session:
                for job in jobs:
                    session.execute(update(Job).where(Job.id == job.id, Job.status == "running",
                                                      Job.attempts == job.attempts)
                                    .values(status="queued", lease_until=None, attempts=job.attempts - 1))
        except Exception:  # noqa: BLE001 - their leases will run out instead
            log.warning("jobs %s: not given back at stop", [job.id for job in jobs], exc_info=True)

    def _loop(self) -> None:
        woken = True
        while not self._stop.is_set():
            wait = self.tick
            try:
                for lane in self._lanes:
                    pause = lane.resume_at - time.monotonic()
                    if pause > 0:
                        # Paused: a wake meanwhile is served when the pause ends, as is a batch gathering.
                        lane.recheck = lane.recheck or woken
                        if lane.recheck:
                            wait = min(wait, pause)
                        continue
                    lane.recheck = False
                    free = 0
                    while lane.free.acquire(blocking=False):
                        free += 1
                    groups = self._claim_groups(lane, free) if free else []
                    for _ in range(free - len(groups)):
                        lane.free.release()
                    for group in groups:
                        with self._beating:
                            self._submitted.update((job.id, job) for job in group)
                        lane.pool.submit(self._run_and_release, lane, group)
                    if lane.recheck:
                        wait = min(wait, max(lane.resume_at - time.monotonic(), 0.0))
            except Exception:  # noqa: BLE001 - the dispatcher must survive a database hiccup
                log.exception("job dispatcher")
            woken = self._wake.wait(wait)
            self._wake.clear()

    def _claim_groups(self, lane: _Lane, free: int) -> list[list[Job]]:
        """What the lane's free threads run: a job each, or for a batched kind up to `size` jobs each."""
        batching = lane.batching()
        if batching is None:
            # One claim takes a job for every free thread of the lane.
            claimed = self._claim(lane.kinds, free)
            if len(claimed) < free:
                lane.resume_at = time.monotonic() + IDLE_PAUSE
            return [[job] for job in claimed]
        # One batch per `linger` at most: jobs arriving one by one gather meanwhile. A full batch means a
        # backlog: the next one is claimed as soon as this one is over, or after `linger` if it lasts
        # longer (a slow receiver), so that batches run side by side only when they wait.
        claimed = self._claim(lane.kinds, batching.size)
        lane.resume_at = time.monotonic() + (batching.linger if claimed else IDLE_PAUSE)
        lane.recheck, lane.backlog = bool(claimed), len(claimed) == batching.size
        return [claimed] if claimed else []

    def _run_and_release(self, lane: _Lane, jobs: list[Job]) -> None:
        with self._beating:
            for job in jobs:
                self._submitted.pop(job.id, None)
        try:
            self._run_jobs(jobs)
        finally:
            if lane.backlog:
                lane.resume_at = 0.0
            lane.free.release()
            self._wake.set()

    @contextlib.contextmanager
    def _heartbeat(self, jobs: list[Job]) -> Iterator[None]:
        """Keep the jobs' leases renewed while they run: one thread renews those of every job running
        here, every fifth of the lease (a thread per job would cost a thread start each)."""
        with self._beating:
            for job in jobs:
                self._running[job.id] = job
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, name="job-leases", daemon=True)
                self._beater.start()
        try:
            yield
        finally:
            with self._beating:
                for job in jobs:
                    self._running.pop(job.id, None)

    def _beat(self) -> None:
        while True:
            time.sleep(self.lease.total_seconds() / 5)
            with self._beating:
                if not self._running:
                    self._beater = None
                    return
                # Completed jobs are left out; one taken over by another runner (attempts moved on) is not renewed.
                running = [job for job in self._running.values() if job.status == "running"]
            if not running:
                continue
            until = utcnow() + self.lease
            try:
                with self.db.session() as session:
                    session.connection().execute(_RENEW, [
                        {"job": job.id, "claimed": job.attempts, "until": until} for job in running])
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("jobs %s: leases not renewed", [job.id for job in running], exc_info=True)

    def claim(self, kinds: frozenset[str] | None = None) -> int | None:
        """Take one due job of `kinds` (None: those without a lane of their own); None when there is
        none, or another process took it first."""
        claimed = self.claim_many(kinds, 1)
        return claimed[0] if claimed else None

    def claim_many(self, kinds: frozenset[str] | None, limit: int) -> list[int]:
        """Take up to `limit` due jobs at once; those another process took first are not returned (the
        conditional UPDATE leaves them alone)."""
        return [job.id for job in self._claim(kinds, limit)]

    def _claim(self, kinds: frozenset[str] | None, limit: int) -> list[Job]:
        """The claimed jobs, as the claim's UPDATE returns them. Outside a transaction: the oldest due
        jobs are read, then one conditional UPDATE (atomic alone) takes those still due."""
        candidates_of = self._candidates.get(kinds)
        if candidates_of is None:
            query = select(_JOBS.c.id).where(_DUE)
            if kinds is not None:
                query = query.where(_JOBS.c.kind.in_(sorted(kinds)))
            elif self._dedicated:
                query = query.where(_JOBS.c.kind.not_in(sorted(self._dedicated)))
            candidates_of = self._candidates[kinds] = query.order_by(_JOBS.c.run_at, _JOBS.c.id).limit(
                bindparam("limit"))
        now = utcnow()
        with autocommit(self.db).connect() as connection:
            candidates = connection.execute(candidates_of, {"now": now, "limit": limit}).scalars().all()
            if not candidates:
                return []
            rows = connection.execute(_CLAIM, {"jobs": candidates, "now": now, "until": now + self.lease}).all()
        return sorted((Job(id=row.id, kind=row.kind, payload=row.payload, attempts=row.attempts, status="running")
                       for row in rows), key=lambda job: job.id)

    def claim_ids(self, job_ids: list[int]) -> list[Job]:
        """Take these jobs if they are due (a queue's message names them); those not due (done, or
        running under a live lease elsewhere) are left alone: a duplicate message does nothing."""
        now = utcnow()
        with autocommit(self.db).connect() as connection:
            rows = connection.execute(_CLAIM, {"jobs": list(job_ids), "now": now, "until": now + self.lease}).all()
        return sorted((Job(id=row.id, kind=row.kind, payload=row.payload, attempts=row.attempts, status="running")
                       for row in rows), key=lambda job: job.id)

    def run_claimed(self, jobs: list[Job]) -> None:
        """Run jobs this runner claimed (claim_ids), their leases renewed meanwhile."""
        self._run_jobs(jobs)

    def run(self, job_id: int) -> None:
        """Run a claimed job; on failure it is retried later, up to MAX_ATTEMPTS."""
        self.run_many([job_id])

    def run_many(self, job_ids: list[int]) -> None:
        """Run claimed jobs: one handler call each, or one call for all those of a batched kind."""
        with self.db.session() as session:
            jobs = [job for job in session.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id))
                    if job.status == "running"]
            session.expunge_all()
        self._run_jobs(jobs)

    def _run_jobs(self, jobs: list[Job]) -> None:
        by_kind: dict[str, list[Job]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            if kind in BATCHES:
                self._run_group(group, lambda kind=kind, group=group: HANDLERS[kind](self.context, group))
            else:
                for job in group:
                    self._run_group([job], lambda job=job: HANDLERS[job.kind](self.context, job))

    def _run_group(self, jobs: list[Job], call: Callable[[], None]) -> None:
        try:
            with self._heartbeat(jobs):
                call()
        except Exception as exc:  # noqa: BLE001 - recorded on the jobs
            log.warning("jobs %s (%s) failed: %s", [job.id for job in jobs], jobs[0].kind, exc)
            error = traceback.format_exc()[-4000:]
            with self.db.session() as session:
                for job in jobs:
                    if job.status != "running":
                        continue  # completed by the handler before the failure
                    final = job.attempts >= MAX_ATTEMPTS
                    session.execute(update(Job).where(Job.id == job.id, Job.status == "running").values(
                        status="failed" if final else "queued", lease_until=None, last_error=error,
                        run_at=utcnow() + dt.timedelta(seconds=5 * 2 ** job.attempts)))
            return
        unfinished = [job.id for job in jobs if job.status == "running"]
        if unfinished:
            # A handler may have closed its jobs in its own last transaction (complete()): no second write.
            with self.db.session() as session:
                session.execute(update(Job).where(Job.id.in_(unfinished), Job.status == "running")
                                .values(status="done", lease_until=None))
