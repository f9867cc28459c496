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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def _due(now: dt.datetime):
    return or_((Job.status == "queued") & (Job.run_at <= now),
               (Job.status == "running") & (Job.lease_until < now))


class JobRunner:
    """Claims due jobs and runs them on `workers` threads; `wake()` after enqueueing for no delay."""

    def __init__(self, db: Database, context: Any, workers: int, lease: dt.timedelta = dt.timedelta(seconds=20),
                 tick: float = 1.0) -> None:
        self.db, self.context, self.workers, self.lease, self.tick = db, context, workers, lease, tick
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="job")
        self._free = threading.Semaphore(workers)
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
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self._free.acquire(blocking=False):
                    job_id = self.claim()
                    if job_id is None:
                        self._free.release()
                        break
                    self._pool.submit(self._run_and_release, job_id)
            except Exception:  # noqa: BLE001 - the dispatcher must survive a database hiccup
                log.exception("job dispatcher")
            self._wake.wait(self.tick)
            self._wake.clear()

    def _run_and_release(self, job_id: int) -> None:
        try:
            self.run(job_id)
        finally:
            self._free.release()
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

    def claim(self) -> int | None:
        """Take one due job; None when there is none (or another process took it first)."""
        with self.db.session() as session:
            now = utcnow()
            candidate = session.scalar(select(Job.id).where(_due(now)).order_by(Job.run_at, Job.id).limit(1))
            if candidate is None:
                return None
            claimed = session.execute(
                update(Job).where(Job.id == candidate, _due(now))
                .values(status="running", lease_until=now + self.lease, attempts=Job.attempts + 1)
            ).rowcount
            return candidate if claimed == 1 else None

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
            session.execute(update(Job).where(Job.id == job.id).values(status="done", lease_until=None))
