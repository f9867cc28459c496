"""The `parcours` command: generate one document or a batch, inspect a template, run the demo."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from docgen.batch import BatchGenerator, BatchItem, DocumentResult
from docgen.dataset import ContextError, DataImportError, Dataset, load_dataset, load_dataset_dir
from docgen.convert import ConversionError, ConverterPool
from docgen.render import DocxRenderer, RenderError, inspect_template
from docgen.values import CampaignValues, load_values

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
SAMPLES_DIR = ROOT / "samples"
SHIPPED = ("convocation", "trame", "compte_rendu", "etat_des_lieux")


class UserError(click.ClickException):
    """An error the user can fix; printed without a traceback, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Erreur : {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Parcours : documents de l'entretien de parcours professionnel."""


# --- shared options ------------------------------------------------------------------------------

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
                        "les blocs « societe » et « courrier » (exemple : samples/campagne.json)")
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
        path = TEMPLATES_DIR / f"{name.removesuffix('.docx')}.docx"
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


# --- generate ------------------------------------------------------------------------------------

@main.command()
@click.argument("template")
@click.option("--data", "data", required=True, type=click.Path(exists=True, path_type=Path),
              help="Dossier (employees, absences, formations) ou fichier de salariés (CSV, XLSX, JSON).")
@click.option("--matricule", required=True, help="Matricule du salarié.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier à écrire : .pdf (PDF/A-2b) ou .docx.")
@interview_options
def generate(template: str, data: Path, matricule: str, out: Path, values_file: Path | None, fuseau: str,
             **given: Any) -> None:
    """Génère le document d'un salarié."""
    values = read_values(values_file, fuseau, **given)
    dataset = read_dataset(data, can_skip=False)
    source, name = resolve_template(template)
    renderer = make_renderer(source, name, fuseau)
    try:
        docx = renderer.render(values.context(dataset, matricule), matricule)
    except (ContextError, RenderError) as exc:
        raise UserError(str(exc)) from None
    if out.suffix.lower() == ".docx":
        result = docx
    else:
        with open_pool(1) as pool:
            try:
                result = pool.convert(docx)
            except ConversionError as exc:
                raise UserError(f"conversion en PDF impossible : {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(result)
    click.echo(f"Écrit : {out}")


# --- batch ---------------------------------------------------------------------------------------

@dataclass
class BatchSummary:
    generated: int
    failed: int
    seconds: float
    manifest: Path

    @property
    def per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0


def run_batch(template: bytes, template_name: str, dataset: Dataset, values: CampaignValues, out: Path,
              matricules: list[str] | None = None, workers: int | None = None, fuseau: str = "Europe/Paris",
              pool: ConverterPool | None = None, progress: bool = False) -> BatchSummary:
    """Generate one PDF per employee into `out`, with manifest.csv; used by `batch` and `demo`."""
    renderer = make_renderer(template, template_name, fuseau)
    wanted = matricules or sorted(dataset.employees)
    stem = _safe(Path(template_name).stem)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failures: list[DocumentResult] = []
    rows = []
    items, context_failures = _items(dataset, values, wanted)
    own_pool = pool is None
    pool = pool or open_pool(workers)
    try:
        results = BatchGenerator(renderer, pool).run(items)
        with click.progressbar(length=len(wanted), label=f"{stem} ", file=None if progress else io.StringIO(),
                               show_pos=True) as bar:
            for result in [*context_failures, *results]:
                if result.ok:
                    name = f"{stem}-{_safe(result.key)}.pdf"
                    (out / name).write_bytes(result.pdf)
                    rows.append([result.key, name, result.sha256, result.pages, ""])
                else:
                    failures.append(result)
                    rows.append([result.key, "", "", "", result.error])
                bar.update(1)
    finally:
        if own_pool:
            pool.close()
    seconds = time.perf_counter() - started
    rows.sort(key=lambda row: wanted.index(row[0]) if row[0] in wanted else len(wanted))
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["matricule", "fichier", "sha256", "pages", "erreur"])
        writer.writerows(rows)
    for failure in failures:
        click.echo(f"Échec {failure.key} : {failure.error}", err=True)
    return BatchSummary(len(rows) - len(failures), len(failures), seconds, manifest)


def _items(dataset: Dataset, values: CampaignValues, wanted: list[str]) -> tuple[list[BatchItem], list[DocumentResult]]:
    """Contexts are built up front: an employee whose values are wrong fails alone, with the reason."""
    items, failures = [], []
    for matricule in wanted:
        try:
            items.append(BatchItem(matricule, values.context(dataset, matricule)))
        except ContextError as exc:
            failures.append(DocumentResult(matricule, error=f"salarié {matricule} : {exc}"))
    return items, failures


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "document"


@main.command()
@click.argument("template")
@click.option("--data", "data", required=True, type=click.Path(exists=True, path_type=Path),
              help="Dossier (employees, absences, formations) ou fichier de salariés (CSV, XLSX, JSON).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dossier de sortie.")
@click.option("--matricule", "matricules", multiple=True, help="Seulement ces salariés (option répétable).")
@click.option("--workers", type=int, help="Processus LibreOffice (un par cœur par défaut).")
@click.option("--ignorer-invalides", "skip_invalid", is_flag=True, help="Importer les lignes valides malgré les erreurs.")
@interview_options
def batch(template: str, data: Path, out: Path, matricules: tuple[str, ...], workers: int | None, skip_invalid: bool,
          values_file: Path | None, fuseau: str, **given: Any) -> None:
    """Génère un PDF par salarié et un manifeste (matricule, fichier, sha256, pages)."""
    values = read_values(values_file, fuseau, **given)
    dataset = read_dataset(data, skip_invalid)
    unknown = [m for m in matricules if m not in dataset.employees]
    if unknown:
        raise UserError(f"matricules inconnus : {', '.join(unknown)}")
    source, name = resolve_template(template)
    summary = run_batch(source, name, dataset, values, out, list(matricules) or None, workers, fuseau,
                        progress=sys.stderr.isatty())
    click.echo(f"{summary.generated} documents générés, {summary.failed} en échec, en {summary.seconds:.1f} s "
               f"({summary.per_second:.1f} documents/s). Manifeste : {summary.manifest}")
    if summary.failed:
        sys.exit(1)


# --- inspect -------------------------------------------------------------------------------------

@main.command()
@click.argument("template")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def inspect(template: str, as_json: bool) -> None:
    """Liste les variables d'un modèle et ses erreurs de syntaxe."""
    source, name = resolve_template(template)
    from parcours.service.templates import known_fields

    inspection = inspect_template(source, name, set(known_fields()))
    if as_json:
        click.echo(json.dumps({"variables": inspection.variables, "inconnues": inspection.unknown,
                               "erreurs": [{"message": p.message, "contexte": p.excerpt} for p in inspection.problems]},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"Modèle {name} : {len(inspection.variables)} variables")
        for variable in inspection.variables:
            flag = "  ← inconnue (faute de frappe ?)" if variable in inspection.unknown else ""
            click.echo(f"  {variable}{flag}")
        for problem in inspection.problems:
            click.echo(f"Erreur : {problem.message}\n  près de : « {problem.excerpt} »")
    if not inspection.ok:
        sys.exit(1)


# --- demo ----------------------------------------------------------------------------------------

@main.command()
@click.option("--out", default=Path("out/demo"), type=click.Path(file_okay=False, path_type=Path),
              show_default=True, help="Dossier de sortie.")
def demo(out: Path) -> None:
    """Génère les quatre documents pour les salariés d'exemple (samples/)."""
    dataset = read_dataset(SAMPLES_DIR)
    click.echo(f"{len(dataset.employees)} salariés d'exemple chargés depuis {SAMPLES_DIR}")
    with open_pool(None) as pool:
        for template in SHIPPED:
            values = read_values(SAMPLES_DIR / "campagne.json", "Europe/Paris")
            if template == "etat_des_lieux":
                # The 8-year review for everyone, to show the document (the legal calendar decides who is due).
                values = _with_type(values, "etat_des_lieux")
            source, name = resolve_template(template)
            summary = run_batch(source, name, dataset, values, out / template, pool=pool,
                                progress=sys.stderr.isatty())
            click.echo(f"  {template:15} {summary.generated:3} PDF, {summary.failed} en échec, "
                       f"{summary.per_second:5.1f} documents/s -> {out / template}")
    click.echo(f"Ouvrez les PDF dans {out}/ ; chaque dossier a son manifest.csv.")


def _with_type(values: CampaignValues, type_: str) -> CampaignValues:
    """The same campaign with one interview type for everyone."""
    common = {**values.common, "entretien": {**values.common.get("entretien", {}), "type": type_}}
    per_employee = {m: {**v, "entretien": {k: x for k, x in v.get("entretien", {}).items() if k != "type"}}
                    for m, v in values.per_employee.items()}
    return CampaignValues(common, per_employee, values.timezone)


# --- the service -----------------------------------------------------------------------------------

def _settings():
    from parcours.settings import Settings, SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


@main.command()
def init() -> None:
    """Crée le dossier d'instance, la base de données et les modèles livrés."""
    from parcours.app import create_app

    settings = _settings()
    app = create_app(dataclasses.replace(settings, run_jobs=False))
    app.extensions["parcours"].close()
    from parcours.service import pki as instance_pki

    click.echo(f"Autorité de signature : {instance_pki.init(settings)}")
    click.echo(f"Instance prête : {settings.instance_dir.resolve()} (base : {settings.resolved_database_url})")


@main.group()
def tokens() -> None:
    """Jetons d'API : créer, lister, révoquer."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["hr", "auditor", "admin"]))
@click.option("--label", required=True, help="Qui ou quoi utilise ce jeton.")
def tokens_create(role: str, label: str) -> None:
    """Crée un jeton ; il n'est affiché qu'une fois."""
    from parcours.auth import create_token

    with _database() as db, db.session() as session:
        token, record = create_token(session, role, label)
    click.echo(f"Jeton n° {record.id} ({role}, « {label} ») : {token}")
    click.echo("Conservez-le : il ne sera plus affiché.")


@tokens.command("list")
def tokens_list() -> None:
    from sqlalchemy import select

    from parcours.models import ApiToken

    with _database() as db, db.session() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = f"révoqué le {t.revoked_at:%d/%m/%Y}" if t.revoked_at else "actif"
            click.echo(f"{t.id:4}  {t.role:8} {t.prefix}…  {t.label}  ({state})")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    from parcours.auth import revoke_token

    with _database() as db, db.session() as session:
        try:
            revoke_token(session, token_id)
        except LookupError:
            raise UserError(f"aucun jeton n'a l'identifiant {token_id}") from None
    click.echo(f"Jeton n° {token_id} révoqué.")


@contextlib.contextmanager
def _database():
    from parcours.db import Database

    settings = _settings()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Importe les salariés d'exemple et affiche des jetons de démonstration.")
def serve(host: str, port: int, threads: int, demo: bool) -> None:
    """Lance le service HTTP (waitress)."""
    import waitress

    from parcours.app import create_app

    app = create_app(_settings())
    if demo:
        _prepare_demo(app, f"http://{host}:{port}")
    click.echo(f"Parcours écoute sur http://{host}:{port}/api/v1 (description : /api/v1/openapi.json)")
    waitress.serve(app, host=host, port=port, threads=threads)


def _prepare_demo(app, base_url: str) -> None:
    from sqlalchemy import func, select

    from parcours.auth import create_token
    from parcours.models import Employee
    from parcours.service.employees import upsert_dataset

    services = app.extensions["parcours"]
    with services.db.session() as session:
        if not session.scalar(select(func.count()).select_from(Employee)):
            upsert_dataset(session, read_dataset(SAMPLES_DIR))
            click.echo(f"Salariés d'exemple importés depuis {SAMPLES_DIR}")
        made = {role: create_token(session, role, "démo")[0] for role in ("hr", "auditor", "admin")}
    for role, token in made.items():
        click.echo(f"Jeton de démonstration {role:8}: {token}")
    click.echo(f"Essayez : curl -H 'Authorization: Bearer {made['hr']}' {base_url}/api/v1/employees")


# --- the legal calendar ----------------------------------------------------------------------------

@main.command()
@click.option("--before", "before", required=True, help="Date limite (AAAA-MM-JJ) : les entretiens dus avant.")
@click.option("--data", "data", default=SAMPLES_DIR, type=click.Path(exists=True, path_type=Path),
              show_default=True, help="Dossier (employees, absences, formations, entretiens) ou fichier de salariés.")
@click.option("--le", "on", help="Date de référence (aujourd'hui par défaut).")
@click.option("--effectif", type=int, default=0, show_default=True,
              help="Effectif annuel de l'entreprise au sens de l'article L. 130-1 du code de la sécurité sociale "
                   "(abondement correctif à partir de 50).")
@click.option("--effectif-mesure-le", "measured", help="Date à laquelle l'effectif a été mesuré (AAAA-MM-JJ).")
@click.option("--effectif-annees", "years_at_threshold", type=int,
              help="Années civiles consécutives à 50 salariés ou plus (le seuil compte à partir de cinq).")
@click.option("--periode", type=int, default=4, show_default=True, help="Années entre deux entretiens (accord : moins de 4).")
@click.option("--accord-anterieur", "pre_reform", is_flag=True,
              help="La périodicité vient d'un accord conclu avant la loi du 24 octobre 2025 (appliqué jusqu'au 30/09/2026).")
@click.option("--format", "format_", type=click.Choice(["texte", "csv", "json"]), default="texte", show_default=True,
              help="Texte lisible, CSV (une ligne par entretien) ou JSON.")
@click.option("--json", "as_json", is_flag=True, help="Comme --format json.")
@click.option("--ignorer-invalides", "skip_invalid", is_flag=True, help="Importer les lignes valides malgré les erreurs.")
def due(before: str, data: Path, on: str | None, effectif: int, measured: str | None, years_at_threshold: int | None,
        periode: int, pre_reform: bool, format_: str, as_json: bool, skip_invalid: bool) -> None:
    """Liste les entretiens dus avant une date : qui, quel entretien, pour quand, pourquoi, et l'abondement
    correctif de chaque état des lieux."""
    from docgen.calendar import Headcount, due_before
    from docgen.values import ValuesError, parse_date

    try:
        limit = parse_date(before, "--before")
        today = parse_date(on, "--le") if on else dt.date.today()
        headcount = Headcount(effectif, parse_date(measured, "--effectif-mesure-le") if measured else None,
                              years_at_threshold)
    except (ValuesError, ValueError) as exc:
        raise UserError(str(exc)) from None
    dataset = read_dataset(data, skip_invalid)
    try:
        found = due_before(dataset, before=limit, on=today, headcount=headcount, period_years=periode,
                           pre_reform_agreement=pre_reform)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rows = []
    for item in found:
        employee = dataset.employees[item.matricule]
        rows.append({"matricule": item.matricule, "nom": employee.nom, "prenom": employee.prenom,
                     **{k: v for k, v in item.as_dict().items() if k != "matricule"}})
    if as_json or format_ == "json":
        click.echo(json.dumps({"avant": limit.isoformat(), "au": today.isoformat(), "effectif": effectif,
                               "entretiens": rows}, ensure_ascii=False, indent=1))
    elif format_ == "csv":
        _due_csv(rows)
    else:
        _due_text(dataset, found, limit, today, effectif)


def _due_csv(rows: list[dict[str, Any]]) -> None:
    columns = ["matricule", "nom", "prenom", "type", "libelle", "due_from", "deadline", "overdue", "planned_on",
               "rule", "reason", "abondement", "abondement_montant", "abondement_versement_avant",
               "entretiens_prevus", "entretiens_realises", "abondement_motif"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        review = row.get("abondement") or {}
        writer.writerow({
            **{k: row.get(k) for k in columns[:11]},
            "overdue": "oui" if row["overdue"] else "non",
            "abondement": (("dû" if review.get("applicable") else "non dû")
                           + (" (provisoire)" if review.get("provisoire") else "")) if review else "",
            "abondement_montant": review.get("montant", "") if review.get("applicable") else "",
            "abondement_versement_avant": review.get("versement_avant", ""),
            "entretiens_prevus": review.get("entretiens_prevus", ""),
            "entretiens_realises": review.get("entretiens_realises", ""),
            "abondement_motif": review.get("motif", ""),
        })
    click.echo(buffer.getvalue(), nl=False)


def _due_text(dataset: Dataset, found: list[Any], limit: dt.date, today: dt.date, effectif: int) -> None:
    import textwrap

    from docgen import formatting

    if not found:
        click.echo(f"Aucun entretien n'est dû avant le {formatting.date(limit)}.")
        return
    width = 100
    count = len(found)
    click.echo(f"{count} entretien{'s' if count > 1 else ''} {'dus' if count > 1 else 'dû'} avant le "
               f"{formatting.date(limit)} (au {formatting.date(today)}, effectif : {effectif}) :")

    def wrap(label: str, text: str) -> None:
        click.echo(textwrap.fill(text, width, initial_indent=f"    {label}", subsequent_indent="      "))

    for item in found:
        employee = dataset.employees[item.matricule]
        late = " — EN RETARD" if item.overdue else ""
        click.echo("")
        click.echo(f"{item.matricule}  {employee.prenom} {employee.nom}")
        wrap("", f"{item.libelle[:1].upper()}{item.libelle[1:]} : au plus tard le "
                 f"{formatting.date(item.deadline)}{late}")
        wrap("Source : ", item.rule)
        wrap("Pourquoi : ", item.reason)
        if item.abondement is not None:
            review = item.abondement
            verdict = (f"dû, {formatting.euros(review['montant'])}" if review["applicable"] else "non dû")
            if review["provisoire"]:
                verdict += " en l’état (évaluation provisoire)"
            counts = f"{review['entretiens_realises']} réalisé(s) pour {review['entretiens_prevus']} prévu(s)"
            wrap("Abondement correctif : ", f"{verdict} ({counts}). {review['motif']}")


from parcours.cli_audit import audit; main.add_command(audit)  # noqa: E402,E702
from parcours.cli_verify import verify; main.add_command(verify)  # noqa: E402,E702
from parcours.cli_archive import archive; main.add_command(archive)  # noqa: E402,E702
from parcours.cli_evidence import evidence; main.add_command(evidence)  # noqa: E402,E702
