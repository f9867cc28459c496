"""`parcours evidence REQUEST_ID --out FILE.zip`: the evidence bundle of a completed signature request."""

from __future__ import annotations

from pathlib import Path

import click

from parcours.cli.common import UserError, services

# The service's modules are imported inside the commands: `parcours --help` need not load them.


@click.command("evidence")
@click.argument("request_id", type=int)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier ZIP à écrire (par défaut preuves-demande-<id>.zip dans le dossier courant).")
@click.option("--sans-rapport-pdf", "without_pdf", is_flag=True,
              help="Ne pas produire le rapport PDF (évite de démarrer LibreOffice).")
def evidence(request_id: int, out: Path | None, without_pdf: bool) -> None:
    """Écrit le dossier de preuves d'une demande de signature terminée ; le téléchargement est enregistré
    dans la piste d'audit (événement evidence.downloaded)."""
    import getpass

    from parcours.errors import DomainError
    from parcours.service import evidence as service

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "inconnu"
    with services() as container:
        try:
            bundle = service.download(container, request_id, actor=f"cli:{user}", role="cli",
                                      with_report_pdf=not without_pdf)
        except DomainError as exc:
            raise UserError(exc.detail or exc.title) from None
    target = out or Path(bundle.filename)
    target.write_bytes(bundle.data)
    click.echo(f"Dossier de preuves écrit : {target} ({len(bundle.data)} octets, sha256 {bundle.sha256}) ; "
               f"téléchargement enregistré (événement d'audit n° {bundle.event_sequence}).")
