"""What the commands share: the error a user can fix, settings and database, the service container,
and the reading of templates, employee data and interview values."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from docgen.context import ContextError
from docgen.convert import ConversionError, ConverterPool
from docgen.dataset import DataImportError, Dataset, load_dataset, load_dataset_dir
from docgen.render import DocxRenderer, RenderError
from docgen.values import CampaignValues, load_values
from parcours import resources
from parcours.settings import Settings, SettingsError

if TYPE_CHECKING:
    from parcours.container import Services
    from parcours.db import Database

SAMPLES_DIR = resources.SAMPLES
SHIPPED = ("convocation", "trame", "compte_rendu", "etat_des_lieux")
"""The shipped templates, in the order of an interview (and of the demo)."""


class UserError(click.ClickException):
    """An error the user can fix; printed without a traceback, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Erreur : {self.message}", err=True)


def settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def unreachable(exc: Exception, current: Settings) -> UserError:
    """A database that cannot be opened, said in a sentence: where, and why (its password hidden)."""
    from sqlalchemy.engine import make_url

    try:
        where = make_url(current.resolved_database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not even parse is said as it is
        where = "PARCOURS_DATABASE_URL"
    from sqlalchemy.exc import ArgumentError

    if isinstance(exc, ArgumentError):
        return UserError("PARCOURS_DATABASE_URL n'est pas une adresse de base de données (par exemple "
                         "postgresql+psycopg://utilisateur@hôte/base, ou vide pour SQLite dans le dossier d'instance)")
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return UserError(f"la base de données {where} ne s'ouvre pas : {reason}")


def open_services(current: Settings) -> Services:
    """Services.open, or an error the user can fix when the database cannot be opened."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from parcours.container import Services  # here, not above: `parcours --help` need not load SQLAlchemy

    try:
        return Services.open(current)
    except (OperationalError, ArgumentError) as exc:
        raise unreachable(exc, current) from None


@contextlib.contextmanager
def services() -> Iterator[Services]:
    """The service container of this command (the migrated database, the blobs; no job runner)."""
    container = open_services(settings())
    try:
        yield container
    finally:
        container.close()


@contextlib.contextmanager
def database() -> Iterator[Database]:
    """The instance's database, brought to the latest migration."""
    with services() as container:
        yield container.db


def interview_options(command):
    """The values of the interview, given on the command line or in a JSON file (--valeurs)."""
    options = [
        click.option("--valeurs", "values_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Fichier JSON : societe, courrier, entretien, compte_rendu, etat_des_lieux, salaries."),
        click.option("--type", "type_", help="Type d'entretien : premier, periodique, etat_des_lieux, reprise, "
                                             "mi_carriere, avant_60, fin_mandat."),
        click.option("--date", "date_", help="Date de l'entretien (AAAA-MM-JJ ou JJ/MM/AAAA)."),
        click.option("--heure", help="Heure de l'entretien (14:30)."),
        click.option("--duree", type=int, help="Durée en minutes."),
        click.option("--lieu", help="Lieu de l'entretien."),
        click.option("--visio", help="Lien de visioconférence."),
        click.option("--interlocuteur", help="Matricule de la personne qui mène l'entretien (le manager par défaut)."),
        click.option("--fuseau", default="Europe/Paris", show_default=True, help="Fuseau horaire de l'employeur."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def read_values(values_file: Path | None, fuseau: str, **given: Any) -> CampaignValues:
    names = {"type_": "type", "date_": "date", "heure": "heure", "duree": "duree", "lieu": "lieu",
             "visio": "lien_visio", "interlocuteur": "interlocuteur"}
    entretien = {names[k]: v for k, v in given.items() if k in names and v is not None}
    source = values_file if values_file is not None else {}
    try:
        values = load_values(source, timezone=fuseau, overrides={"entretien": entretien} if entretien else None)
    except ContextError as exc:
        raise UserError(str(exc)) from None
    if "societe" not in values.common:
        raise UserError("la société et le signataire des courriers manquent : donnez un fichier --valeurs avec "
                        f"les blocs « societe » et « courrier » (exemple : {SAMPLES_DIR / 'campagne.json'})")
    return values


def read_dataset(path: Path, skip_invalid: bool = False, *, can_skip: bool = True) -> Dataset:
    """The data of --data; `can_skip` when the command has the option --ignorer-invalides."""
    try:
        result = load_dataset_dir(path, skip_invalid=skip_invalid) if path.is_dir() else (
            load_dataset(path, skip_invalid=skip_invalid))
    except DataImportError as exc:
        hint = "Corrigez ces lignes, ou relancez avec --ignorer-invalides." if can_skip else "Corrigez ces lignes."
        raise UserError(f"données invalides, rien n'a été importé :\n{exc}\n{hint}") from None
    except ContextError as exc:
        raise UserError(str(exc)) from None
    for error in result.errors:
        click.echo(f"Ligne ignorée : {error}", err=True)
    return result.dataset


def resolve_template(name: str) -> tuple[bytes, str]:
    """A path to a DOCX, or the name of a shipped template."""
    path = Path(name)
    if not path.exists() and name.removesuffix(".docx") in SHIPPED:
        path = resources.shipped_documents()[name.removesuffix(".docx")]
    if not path.is_file():
        raise UserError(f"modèle introuvable : « {name} » (un fichier .docx, ou : {', '.join(SHIPPED)})")
    return path.read_bytes(), path.name


def make_renderer(template: bytes, name: str, fuseau: str) -> DocxRenderer:
    try:
        return DocxRenderer(template, name, timezone=fuseau)
    except RenderError as exc:
        raise UserError(str(exc)) from None


def open_pool(workers: int | None) -> ConverterPool:
    try:
        return ConverterPool(workers=workers)
    except ConversionError as exc:
        raise UserError(f"LibreOffice ne démarre pas : {exc}") from None
