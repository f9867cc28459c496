"""Every job handler, registered by importing the modules that define them: a process that imports
this module (the service, a worker) can run every kind of job. A new kind of job is a function under
`@handler("kind")` in its service module, and that module's name in the import below."""

from __future__ import annotations

from parcours.container import Services
from parcours.jobs.runner import JobRunner
from parcours.service import audit, batches, campaigns, convocations, deliveries, signatures, webhooks  # noqa: F401 - they register their handlers

LANES = {webhooks.KIND: 8, convocations.MAIL_JOB: 4, campaigns.DISPATCH_JOB: 1}
"""Threads of a kind's own, beside the shared ones: webhook deliveries and e-mails mostly wait on the network,
and a campaign's e-mails must not wait behind the chunks of its batches (jobs are taken in the order of run_at)."""
QUEUES = {batches.KIND: "batches", webhooks.KIND: "deliveries", signatures.REMINDER_JOB: "mail",
          signatures.EXPIRY_JOB: "mail", audit.ANCHOR_JOB: "anchors", convocations.MAIL_JOB: "mail",
          campaigns.DISPATCH_JOB: "mail"}
"""The broker queue of each kind when jobs go to `parcours worker` processes (others: "batches")."""


def start(services: Services) -> JobRunner:
    """Run the jobs in this process: the daily anchor planned, the runner started with every handler."""
    with services.db.session() as session:
        audit.schedule_daily_anchor(session)  # "at least daily": even the operator cannot rewrite history unseen
    # Twice as many threads as LibreOffice workers: while one chunk is being converted, another's Python part
    # (render, merge, split, record) runs, so LibreOffice does not wait for it (benchmarks/bench_api_batch.py).
    services.jobs = JobRunner(services.db, services, services.workers * 2, lanes=LANES)
    services.jobs.start()
    return services.jobs

