"""`parcours evidence REQUEST_ID --out FILE.zip`: the evidence bundle of a completed signature request."""

from __future__ import annotations

from pathlib import Path

import click

# parcours.cli registers this command at its end: import the service lazily, inside the command.


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

    from parcours.app import Services
    from parcours.blobs import BlobStore
    from parcours.cli import UserError, _database, _settings
    from parcours.problems import Problem
    from parcours.service import evidence as service

    settings = _settings()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "inconnu"
    with _database() as db:
        services = Services(settings, db, BlobStore(settings.resolved_blob_dir))
        try:
            bundle = service.download(services, request_id, actor=f"cli:{user}", role="cli",
                                      with_report_pdf=not without_pdf)
        except Problem as exc:
            raise UserError(exc.detail or exc.title) from None
        finally:
            services.close()
    target = out or Path(bundle.filename)
    target.write_bytes(bundle.data)
    click.echo(f"Dossier de preuves écrit : {target} ({len(bundle.data)} octets, sha256 {bundle.sha256}) ; "
               f"téléchargement enregistré (événement d'audit n° {bundle.event_sequence}).")
