"""`parcours worker`: a Celery worker that runs the background jobs (batches, webhooks, e-mails, anchors)."""

from __future__ import annotations

import os

import click

from parcours.cli.common import UserError, settings

QUEUES = ("batches", "deliveries", "mail", "anchors")


@click.command()
@click.option("--queues", "-Q", default=",".join(QUEUES), show_default=True,
              help="Files de tâches servies, séparées par des virgules.")
@click.option("--concurrency", "-c", default=0, type=int,
              help="Processus de travail, un LibreOffice chacun (PARCOURS_WORKERS, ou un par cœur, si 0).")
@click.option("--loglevel", default="info", show_default=True)
def worker(queues: str, concurrency: int, loglevel: str) -> None:
    """Lance un worker : exécute les tâches de fond que « parcours serve » confie au courtier."""
    current = settings()
    if not current.broker_url:
        raise UserError("PARCOURS_BROKER_URL n'est pas défini : sans courtier, « parcours serve » exécute lui-même "
                        "les tâches de fond (exemple : PARCOURS_BROKER_URL=redis://127.0.0.1:6379/0)")
    wanted = [name.strip() for name in queues.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in QUEUES]
    if unknown or not wanted:
        raise UserError(f"file inconnue : {', '.join(unknown) or '(aucune)'} (files : {', '.join(QUEUES)})")
    if concurrency < 0:
        raise UserError("--concurrency doit être positif")
    from parcours.jobs import distributed

    distributed.run_worker(current, wanted, concurrency or current.workers or os.cpu_count() or 1, loglevel)
