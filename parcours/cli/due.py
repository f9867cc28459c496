"""`parcours due`: who is due for which interview before a date, by the legal calendar, from a data folder,
with the abondement correctif of each état des lieux; as text, CSV or JSON."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from docgen import csvsafe, formatting
from docgen.calendar import Headcount, due_before
from docgen.dataset import Dataset
from docgen.values import ValuesError, parse_date
from parcours.cli.common import SAMPLES_DIR, UserError, read_dataset, settings


@click.command()
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
    try:
        limit = parse_date(before, "--before")
        today = parse_date(on, "--le") if on else settings().today()  # PARCOURS_TIMEZONE, as the service
        headcount = Headcount(effectif, parse_date(measured, "--effectif-mesure-le") if measured else None,
                              years_at_threshold)
    except (ValuesError, ValueError) as exc:
        raise UserError(str(exc)) from None
    # Seen from --le, what the files record later had not happened yet: the service reads its history so too.
    dataset = read_dataset(data, skip_invalid).as_known_on(today)
    failures: dict[str, str] = {}  # an employee the calendar cannot compute is named, the others listed
    try:
        found = due_before(dataset, before=limit, on=today, headcount=headcount, period_years=periode,
                           pre_reform_agreement=pre_reform, failures=failures)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rows = []
    for item in found:
        employee = dataset.employees[item.matricule]
        rows.append({"matricule": item.matricule, "nom": employee.nom, "prenom": employee.prenom,
                     **{k: v for k, v in item.as_dict().items() if k != "matricule"}})
    if as_json or format_ == "json":
        click.echo(json.dumps({"avant": limit.isoformat(), "au": today.isoformat(), "effectif": effectif,
                               "entretiens": rows, "erreurs": [{"matricule": m, "raison": r}
                                                               for m, r in sorted(failures.items())]},
                              ensure_ascii=False, indent=1))
    elif format_ == "csv":
        _due_csv(rows)
    else:
        _due_text(dataset, found, limit, today, effectif)
    for matricule, reason in sorted(failures.items()):
        click.echo(f"Erreur : salarié {matricule} non calculé : {reason}", err=True)
    if failures:
        sys.exit(1)


def _due_csv(rows: list[dict[str, Any]]) -> None:
    columns = ["matricule", "nom", "prenom", "type", "libelle", "due_from", "deadline", "overdue", "planned_on",
               "rule", "reason", "abondement", "abondement_montant", "abondement_versement_avant",
               "entretiens_prevus", "entretiens_realises", "abondement_motif"]
    buffer = io.StringIO()
    writer = csvsafe.dict_writer(buffer, columns, lineterminator="\n")
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
