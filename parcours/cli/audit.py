"""`parcours audit verify | anchor`: check the audit chain, timestamp its head."""

from __future__ import annotations

import click

from parcours.cli.common import UserError, database, settings

# The service's modules are imported inside the commands: `parcours --help` need not load them.


@click.group()
def audit() -> None:
    """Piste d'audit : vérifier la chaîne, horodater sa tête."""


@audit.command("verify")
@click.option("--sans-jetons", "skip_tokens", is_flag=True,
              help="Ne pas relire les jetons d'horodatage (seulement les empreintes de tête).")
def audit_verify(skip_tokens: bool) -> None:
    """Recalcule toute la chaîne ; nomme le premier maillon rompu (code de sortie 1)."""
    from parcours.service import audit as trail

    with database() as db, db.session() as session:
        report = trail.verify(session, check_tokens=not skip_tokens)
    if report.ok:
        anchors = f" (horodatages vérifiés : {report.anchors_checked})" if report.anchors_checked else ""
        click.echo(report.message + anchors)
        return
    click.echo(report.message, err=True)
    click.echo(f"{report.count} événements lus ; dernier maillon intact : n° {report.head_sequence}, "
               f"tête {report.head_hash}", err=True)
    raise SystemExit(1)


def _timestamper():
    """The TSA of setting `tsa_url` when given, else the instance's own (its internal authority)."""
    from parcours.service import pki as instance_pki

    return instance_pki.timestamper(settings())


@audit.command("anchor")
@click.option("--si-du", "if_due", is_flag=True,
              help="Seulement si des événements ont suivi le dernier horodatage et qu'il a plus d'un jour "
                   "(pour un lancement régulier, cron ou minuteur systemd).")
def audit_anchor(if_due: bool) -> None:
    """Horodate maintenant la tête de la chaîne."""
    from parcours.service import audit as trail
    from signing.audit import AnchorError

    timestamper = _timestamper()
    with database() as db, db.session() as session:
        try:
            row = trail.anchor_if_due(session, timestamper) if if_due else trail.anchor(session, timestamper)
        except AnchorError as exc:
            raise UserError(f"horodatage refusé : {exc}") from None
    if row is None:
        click.echo("Rien à horodater (chaîne vide, ou tête déjà horodatée depuis moins d'un jour)." if if_due
                   else "La chaîne est vide : rien à horodater.")
        return
    click.echo(f"Tête horodatée : événement n° {row.sequence}, {row.head_hash} ({row.created_at:%d/%m/%Y %H:%M:%S} UTC)")
