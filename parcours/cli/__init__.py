"""The `parcours` command: one module per group of commands, their shared helpers in common.py.

A new command is a click command in the module of its concern (or a new module), added to `main` below."""

from __future__ import annotations

import warnings

import click

from parcours.cli import archive, audit, documents, due, evidence, service, users, verify

# pyHanko imports cryptography's DSA, which warns at every command: nothing a user can act on.
warnings.filterwarnings("ignore", message="DSA is deprecated")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Parcours : documents de l'entretien de parcours professionnel."""


for command in (documents.generate, documents.batch, documents.inspect, documents.demo, service.init,
                service.serve, service.tokens, due.due, audit.audit, verify.verify, archive.archive,
                evidence.evidence, users.users):
    main.add_command(command)

from parcours.cli import worker  # noqa: E402 - `parcours worker`, Celery's side of the jobs

main.add_command(worker.worker)
