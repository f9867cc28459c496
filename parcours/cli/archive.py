"""`parcours archive refresh`: renew the archive timestamps of signed documents before they expire."""

from __future__ import annotations

import datetime as dt
import re

import click

from docgen import formatting
from parcours.cli.common import services

# The service's modules are imported inside the commands: `parcours --help` need not load them.

YEAR = 365


class Window(click.ParamType):
    """A delay in days: 90, 90j or 90d, 2a or 2y (a year counts 365 days)."""

    name = "délai"
    UNITS = {"": 1, "j": 1, "d": 1, "a": YEAR, "y": YEAR}

    def convert(self, value, param, ctx) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        match = re.fullmatch(r"\s*(\d{1,5})\s*([jdya]?)\s*", str(value).lower())
        if match is None:
            self.fail(f"« {value} » n'est pas un délai : par exemple 90 (jours), 90j, 2a (ans) ; ou 90d, 2y", param, ctx)
        return dt.timedelta(days=int(match[1]) * self.UNITS[match[2]])


REASONS = {
    "TimestampError": "l'autorité d'horodatage n'a pas répondu correctement",
    "RevocationUnavailable": "le statut de révocation de l'horodatage précédent est introuvable",
    "CertificateRevoked": "un certificat de l'horodatage précédent est révoqué",
    "CertificateInvalid": "la chaîne de l'horodatage précédent n'est plus valide (certificat expiré ?)",
    "PdfError": "le PDF ne peut pas être lu",
}


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count < 2 else many}"


@click.group()
def archive() -> None:
    """Archivage : renouveler les horodatages des documents signés avant leur expiration."""


@archive.command("refresh")
@click.option("--within", "within", type=Window(), default="365", show_default=True,
              help="Renouveler les horodatages dont le certificat d'horodatage expire dans ce délai : "
                   "90 (jours), 90j, 2a (ans) ; aussi 90d, 2y.")
@click.option("--dry-run", "dry_run", is_flag=True, help="Lister les documents à renouveler sans rien modifier.")
def archive_refresh(within: dt.timedelta, dry_run: bool) -> None:
    """Renouvelle les horodatages d'archive qui expirent bientôt.

    Chaque document signé dont le dernier horodatage expire dans le délai reçoit une nouvelle
    version (« timestamped ») : le PDF scellé, les listes de révocation à jour de
    l'horodatage précédent et un horodatage qui couvre le tout.
    Code de sortie 1 si un document n'a pas pu être renouvelé.
    """
    from zoneinfo import ZoneInfo

    from parcours.service import archive as archiving

    with services() as container:
        zone = ZoneInfo(container.settings.timezone)
        report = archiving.refresh(container, within=within, dry_run=dry_run)

    def day(moment: dt.datetime) -> str:
        """« 6 décembre 2027 », the day in the employer's time zone, as in the documents."""
        return formatting.date(moment.astimezone(zone).date())

    for item in report.renewals:
        what = (f"horodatage expirant le {day(item.expiring.expires)}" if item.expiring
                else "aucun horodatage de document")
        head = f"Document n° {item.document_id} ({item.matricule}, demande n° {item.request_id}) : {what}"
        if item.version is None:
            click.echo(f"{head}, à renouveler (version {item.previous_version}).")
        else:
            until = f" (valable jusqu'au {day(item.renewed.expires)})" if item.renewed else ""
            click.echo(f"{head}, renouvelé : version {item.version}{until}.")
    for failure in report.failures:
        reason = REASONS.get(type(failure.error).__name__, "erreur de signature")
        click.echo(f"Document n° {failure.document_id} (demande n° {failure.request_id}) : non renouvelé, "
                   f"{reason} ({failure.error}).", err=True)
    checked = _plural(report.checked, "document signé vérifié", "documents signés vérifiés")
    deadline = f"expiration avant le {day(report.deadline)}"
    if dry_run:
        click.echo(f"{_plural(len(report.renewals), 'document', 'documents')} à renouveler sur {checked} "
                   f"({deadline}) ; rien n'a été modifié (--dry-run).")
    else:
        click.echo(f"{_plural(len(report.renewals), 'document renouvelé', 'documents renouvelés')} sur {checked} "
                   f"({deadline}).")
    if report.still_due:
        again = _plural(len(report.still_due), "nouvel horodatage expire lui aussi",
                        "nouveaux horodatages expirent eux aussi")
        click.echo(f"Attention : {again} avant le {day(report.deadline)} : le certificat de l'autorité d'horodatage est à "
                   "renouveler (ou réglez PARCOURS_TSA_URL).", err=True)
    if report.failures:
        raise SystemExit(1)
