"""`parcours generate | batch | inspect | demo`: documents from a template and employee data, without the service."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from docgen import csvsafe
from docgen.batch import PROCESSES_PAY_FROM, BatchGenerator, BatchItem, DocumentResult
from docgen.context import ContextError
from docgen.convert import ConversionError, ConverterPool
from docgen.dataset import Dataset
from docgen.render import RenderError, inspect_template
from docgen.values import CampaignValues
from parcours.cli.common import (
    SAMPLES_DIR,
    SHIPPED,
    UserError,
    interview_options,
    make_renderer,
    open_pool,
    read_dataset,
    read_values,
    resolve_template,
)

# --- generate ------------------------------------------------------------------------------------

@click.command()
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
        # A long batch renders, merges and splits in worker processes of its own, beside LibreOffice and out of
        # this process's interpreter lock; a short one in threads (starting the processes would cost more).
        processes = pool.size if len(items) >= PROCESSES_PAY_FROM else 0
        results = BatchGenerator(renderer, pool, processes=processes).run(items)
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
    position: dict[str, int] = {}
    for index, matricule in enumerate(wanted):
        position.setdefault(matricule, index)
    rows.sort(key=lambda row: position.get(row[0], len(wanted)))
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csvsafe.writer(handle, **csvsafe.FRENCH)
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


@click.command()
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

@click.command()
@click.argument("template")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def inspect(template: str, as_json: bool) -> None:
    """Liste les variables d'un modèle et toutes ses erreurs."""
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

@click.command()
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
