"""Jobs dispatched through Celery to `parcours worker` processes; the jobs table stays the truth.

A transaction that writes due jobs tells the broker after it commits: "run jobs [ids]" on the queue of
their kind (runner.dispatch_after_commit; batches, deliveries, mail, anchors). A worker process claims
them with the runner's lease (a duplicate message, or one for a job already done, claims nothing), runs
the handler, renews the lease meanwhile, completes them. Messages are acknowledged late, one prefetched
per process, requeued if the process running them dies, and a process is replaced with its LibreOffice
after PARCOURS_WORKER_MAX_TASKS tasks. Delays never live in the broker: a job due later (a retry, a
reminder) is the sweep's.

The sweep runs in each worker's main process every PARCOURS_JOB_SWEEP_SECONDS: it reads the due jobs
and those whose lease ran out (their runner died) and dispatches again those that nothing else will run:
all of them when their queue holds no waiting message (a broker restart lost them, or a message was
never sent), the ones due for more than STALE seconds otherwise; never one it sent less than QUIET
seconds ago. A job may so be dispatched twice; it runs once to completion, as the claim decides.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue
from sqlalchemy import select

from parcours.container import Services, keep_for_good
from parcours.db import Database
from parcours.jobs import handlers
from parcours.jobs.runner import _DUE, _JOBS, BATCHES, JobRunner, autocommit, dispatch_after_commit
from parcours.models import utcnow
from parcours.settings import Settings

log = logging.getLogger(__name__)
TASK = "parcours.run_jobs"
QUEUE_NAMES = ("batches", "deliveries", "mail", "anchors")
QUIET = 20.0
"""Seconds during which the sweep does not send again a job it sent (its message may be on its way)."""
STALE = 300.0
"""Seconds a job may wait due behind other messages of its queue before the sweep sends it anyway."""
SWEEP_LIMIT = 5000


def queue_of(kind: str) -> str:
    return handlers.QUEUES.get(kind, "batches")


def make_celery(settings: Settings) -> Celery:
    """The Celery application of the settings' broker, with the one task that runs jobs."""
    app = Celery("parcours", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged once the job ran...
        task_reject_on_worker_lost=True,  # ...and given back to the broker if the process running it dies
        worker_prefetch_multiplier=1,  # a long chunk does not hold messages another process could run
        worker_max_tasks_per_child=settings.worker_max_tasks,
        task_ignore_result=True,
        task_default_queue="batches",
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for its broker to come back
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )
    app.parcours_settings = settings

    @app.task(name=TASK, bind=True, ignore_result=True, shared=False)
    def run_jobs(task: Any, job_ids: list[int]) -> int:
        """Claim the jobs (those still due), run them, complete them; the number run."""
        runner = _child_runner(task.app.parcours_settings)
        jobs = runner.claim_ids(job_ids)
        if jobs:
            runner.run_claimed(jobs)
        return len(jobs)

    return app


class Dispatcher:
    """Sends "run jobs [ids]": a message per job, or per batch of a batched kind (webhook deliveries)."""

    PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

    def __init__(self, app: Celery) -> None:
        self.app = app

    def __call__(self, jobs: Iterable[tuple[int, str]]) -> None:
        by_kind: dict[str, list[int]] = {}
        for job_id, kind in jobs:
            by_kind.setdefault(kind, []).append(job_id)
        if not by_kind:
            return
        with self.app.producer_or_acquire() as producer:
            for kind, ids in by_kind.items():
                size = BATCHES[kind].size if kind in BATCHES else 1
                for start in range(0, len(ids), size):
                    # The first failure stops the sending: the sweep sends the rest once the broker is back.
                    self.app.send_task(TASK, args=[ids[start:start + size]], queue=queue_of(kind),
                                       producer=producer, retry=True, retry_policy=self.PUBLISH_RETRY)


def attach(services: Services) -> Dispatcher:
    """Jobs written through these services are dispatched to the broker after commit."""
    dispatcher = Dispatcher(make_celery(services.settings))
    dispatch_after_commit(services.db, dispatcher)
    return dispatcher


# --- the worker process (a Celery pool process) ---------------------------------------------------------

_child: dict[str, Any] = {}
_child_lock = threading.Lock()


def _child_runner(settings: Settings) -> JobRunner:
    """This pool process's services (one LibreOffice of its own) and runner, opened on its first task."""
    with _child_lock:
        runner = _child.get("runner")
        if runner is None or _child.get("pid") != os.getpid():
            services = Services.open(dataclasses.replace(settings, workers=1))
            attach(services)  # what its jobs write (a finished batch's webhooks) is dispatched too
            runner = JobRunner(services.db, services, 1)
            _child.update(services=services, runner=runner, pid=os.getpid())
            keep_for_good()
        return runner


def _close_child(**_: Any) -> None:
    services = _child.pop("services", None)
    _child.pop("runner", None)
    if services is not None:
        services.close()


# --- the sweep -----------------------------------------------------------------------------------------

class Sweeper:
    """Dispatches again the due jobs no message will run (see the module's text)."""

    def __init__(self, db: Database, app: Celery, every: float) -> None:
        self.db, self.app, self.every = db, app, every
        self.dispatch = Dispatcher(app)
        self._sent: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the database or the broker is away: next time
                log.warning("job sweep failed", exc_info=True)

    def waiting(self) -> dict[str, int]:
        """Messages waiting in each queue (not those a worker holds); 0 when the broker cannot tell."""
        counts = {}
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            for name in QUEUE_NAMES:
                channel = connection.channel()
                try:
                    counts[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # noqa: BLE001 - an unknown queue holds nothing
                    counts[name] = 0
                finally:
                    try:
                        channel.close()
                    except Exception:  # noqa: BLE001
                        pass
        return counts

    def sweep(self) -> list[int]:
        """One pass; the ids dispatched."""
        now = utcnow()
        with autocommit(self.db).connect() as connection:
            rows = connection.execute(select(_JOBS.c.id, _JOBS.c.kind, _JOBS.c.status, _JOBS.c.run_at)
                                      .where(_DUE).order_by(_JOBS.c.run_at, _JOBS.c.id).limit(SWEEP_LIMIT),
                                      {"now": now}).all()
        clock = time.monotonic()
        self._sent = {job_id: at for job_id, at in self._sent.items() if clock - at < STALE}
        rows = [row for row in rows if clock - self._sent.get(row.id, -STALE) >= QUIET]
        if not rows:
            return []
        waiting = self.waiting()
        chosen = []
        for row in rows:
            run_at = row.run_at if row.run_at.tzinfo else row.run_at.replace(tzinfo=dt.timezone.utc)
            # Behind other messages, a job is sent again only when it has waited STALE seconds, and then
            # once per STALE: a queue nobody serves (a misconfiguration) grows slowly, not every sweep.
            stale = (now - run_at).total_seconds() > STALE and row.id not in self._sent
            if row.status == "running" or not waiting.get(queue_of(row.kind)) or stale:
                chosen.append((row.id, row.kind))
        if chosen:
            self.dispatch(chosen)
            for job_id, _ in chosen:
                self._sent[job_id] = clock
            log.info("sweep: %d jobs dispatched again", len(chosen))
        return [job_id for job_id, _ in chosen]


# --- `parcours worker` ----------------------------------------------------------------------------------

def run_worker(settings: Settings, queues: list[str], concurrency: int, loglevel: str = "info") -> None:
    """A Celery worker on `queues` with `concurrency` pool processes, and the sweep in its main process."""
    from parcours.service import audit

    app = make_celery(settings)
    db = Database(settings.resolved_database_url)
    db.upgrade()
    with db.session() as session:
        audit.schedule_daily_anchor(session)  # "at least daily", as the embedded runner does
    db.dispose()  # no connection of the main process is inherited by the pool processes
    sweeper = Sweeper(db, app, settings.job_sweep_seconds)

    def ready(**_: Any) -> None:
        sweeper.start()

    def shutdown(**_: Any) -> None:
        sweeper.stop()

    def child_init(**_: Any) -> None:
        db.engine.dispose(close=False)  # the sweep's connections are the main process's, not this child's

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutdown.connect(shutdown, weak=False)
    signals.worker_process_init.connect(child_init, weak=False)
    signals.worker_process_shutdown.connect(_close_child, weak=False)
    app.worker_main(["worker", "--queues", ",".join(queues), "--concurrency", str(concurrency),
                     "--loglevel", loglevel, "--hostname", f"parcours-{os.getpid()}@%h", "--pool", "prefork",
                     "--without-gossip", "--without-mingle"])
