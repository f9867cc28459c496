"""`parcours due`: who is due for which interview before a date, by the legal calendar, from a data folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from docgen.calendar import PastInterview, due_before
from docgen.values import ValuesError, parse_date
from parcours.cli.common import SAMPLES_DIR, UserError, read_dataset


@click.command()
@click.option("--before", "before", required=True, help="Date limite (AAAA-MM-JJ) : les entretiens dus avant.")
@click.option("--data", "data", default=SAMPLES_DIR, type=click.Path(exists=True, path_type=Path),
              show_default=True, help="Dossier (employees, absences, formations) ou fichier de salariés.")
@click.option("--le", "on", help="Date de référence (aujourd'hui par défaut).")
@click.option("--effectif", type=int, default=0, help="Effectif de l'entreprise (abondement correctif à partir de 50).")
@click.option("--periode", type=int, default=4, show_default=True, help="Années entre deux entretiens (accord : moins de 4).")
def due(before: str, data: Path, on: str | None, effectif: int, periode: int) -> None:
    """Liste les entretiens dus avant une date : qui, quel entretien, pour quand, pourquoi."""
    try:
        limit = parse_date(before, "--before")
        today = parse_date(on, "--le") if on else dt.date.today()
    except ValuesError as exc:
        raise UserError(str(exc)) from None
    dataset = read_dataset(data)
    history = {m: [PastInterview(e.date_dernier_entretien, "periodique", "held")] if e.date_dernier_entretien else []
               for m, e in dataset.employees.items()}
    try:
        found = due_before(dataset, history, before=limit, on=today, headcount=effectif, period_years=periode)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not found:
        click.echo(f"Aucun entretien n'est dû avant le {limit:%d/%m/%Y}.")
        return
    click.echo(f"{len(found)} entretiens dus avant le {limit:%d/%m/%Y} (au {today:%d/%m/%Y}) :")
    click.echo(f"{'matricule':10} {'salarié':28} {'entretien':48} {'échéance':10}  ")
    for item in found:
        employee = dataset.employees[item.matricule]
        name = f"{employee.prenom} {employee.nom}"[:28]
        late = "  EN RETARD" if item.overdue else ""
        click.echo(f"{item.matricule:10} {name:28} {item.libelle[:48]:48} {item.deadline:%d/%m/%Y}{late}")
        click.echo(f"{'':10} {item.rule} : {item.reason}")
