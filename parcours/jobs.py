"""Background jobs: rows in the jobs table, claimed with a lease, run by an in-process thread pool.

Whatever runs a job only hears "run job N": it first claims the row with a conditional UPDATE, so a
duplicate run does nothing. The lease is short and renewed by a heartbeat while the job runs, so a
killed process's job is taken up again seconds later, by this process after a restart or by another
sharing the database (no process can tell at start-up whether another one is dead). The
same claim works for a distributed queue (Celery, say) that would call `run(job_id)` instead of the
local pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from parcours.db import Database
from parcours.models import Job, utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Any, Job], None]
"""Called with the service container (parcours.app.Services) and the claimed job."""
HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 5


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""
    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function
    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any], run_at: dt.datetime | None = None) -> Job:
    """Add a job in the caller's transaction: it exists only if the change that asks for it commits."""
    job = Job(kind=kind, payload=payload, run_at=run_at or utcnow())
    session.add(job)
    return job


def complete(session: Session, job: Job) -> None:
    """Mark a job done in the handler's own transaction, saving the runner a write of its own."""
    session.execute(update(Job).where(Job.id == job.id, Job.status == "running")
                    .values(status="done", lease_until=None))


def _due(now: dt.datetime):
    return or_((Job.status == "queued") & (Job.run_at <= now),
               (Job.status == "running") & (Job.lease_until < now))


@dataclass
class _Lane:
    """Threads for some kinds of job: None means every kind that has no lane of its own."""

    kinds: frozenset[str] | None
    pool: ThreadPoolExecutor
    free: threading.Semaphore


class JobRunner:
    """Claims due jobs and runs them on `workers` threads; `wake()` after enqueueing for no delay.

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

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for lane in self._lanes:
                    free = 0
                    while lane.free.acquire(blocking=False):
                        free += 1
                    # One transaction claims a job for every free thread of the lane.
                    claimed = self.claim_many(lane.kinds, free) if free else []
                    for _ in range(free - len(claimed)):
                        lane.free.release()
                    for job_id in claimed:
                        lane.pool.submit(self._run_and_release, lane, job_id)
            except Exception:  # noqa: BLE001 - the dispatcher must survive a database hiccup
                log.exception("job dispatcher")
            self._wake.wait(self.tick)
            self._wake.clear()

    def _run_and_release(self, lane: _Lane, job_id: int) -> None:
        try:
            self.run(job_id)
        finally:
            lane.free.release()
            self._wake.set()

    @contextlib.contextmanager
    def _heartbeat(self, job: Job) -> Iterator[None]:
        """Renew the job's lease every fifth of it while the job runs."""
        stop = threading.Event()

        def renew() -> bool:
            try:
                with self.db.session() as session:
                    return session.execute(update(Job).where(
                        Job.id == job.id, Job.status == "running", Job.attempts == job.attempts)
                        .values(lease_until=utcnow() + self.lease)).rowcount == 1
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("job %s: lease not renewed", job.id, exc_info=True)
                return True

        def beat() -> None:
            while not stop.wait(self.lease.total_seconds() / 5):
                if not renew():
                    return  # taken over by another runner, whose own heartbeat holds the lease now

        thread = threading.Thread(target=beat, name=f"lease-{job.id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def claim(self, kinds: frozenset[str] | None = None) -> int | None:
        """Take one due job of `kinds` (None: those without a lane of their own); None when there is
        none, or another process took it first."""
        claimed = self.claim_many(kinds, 1)
        return claimed[0] if claimed else None

    def claim_many(self, kinds: frozenset[str] | None, limit: int) -> list[int]:
        """Take up to `limit` due jobs in one transaction; those another process took first are not
        returned (the conditional UPDATE leaves them alone)."""
        with self.db.session() as session:
            now = utcnow()
            query = select(Job.id).where(_due(now))
            if kinds is not None:
                query = query.where(Job.kind.in_(kinds))
            elif self._dedicated:
                query = query.where(Job.kind.not_in(self._dedicated))
            candidates = list(session.scalars(query.order_by(Job.run_at, Job.id).limit(limit)))
            if not candidates:
                return []
            claimed = session.scalars(
                update(Job).where(Job.id.in_(candidates), _due(now))
                .values(status="running", lease_until=now + self.lease, attempts=Job.attempts + 1)
                .returning(Job.id)
            ).all()
            return sorted(claimed)

    def run(self, job_id: int) -> None:
        """Run a claimed job; on failure it is retried later, up to MAX_ATTEMPTS."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "running":
                return
            session.expunge(job)
        try:
            with self._heartbeat(job):
                HANDLERS[job.kind](self.context, job)
        except Exception as exc:  # noqa: BLE001 - recorded on the job
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            with self.db.session() as session:
                final = job.attempts >= MAX_ATTEMPTS
                session.execute(update(Job).where(Job.id == job.id).values(
                    status="failed" if final else "queued", lease_until=None, last_error=traceback.format_exc()[-4000:],
                    run_at=utcnow() + dt.timedelta(seconds=5 * 2 ** job.attempts)))
            return
        with self.db.session() as session:
            # A handler may have closed its job in its own last transaction (complete()): no second write.
            session.execute(update(Job).where(Job.id == job.id, Job.status == "running")
                            .values(status="done", lease_until=None))
