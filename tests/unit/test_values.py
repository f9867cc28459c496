"""Campaign values from JSON: parsing, per-employee changes, and errors that name the key."""

import dataclasses
import datetime as dt
import json
import types
from pathlib import Path

import pytest

from docgen.dataset import load_dataset_dir
from docgen.values import ValuesError, load_values, parse_interview, parse_time
from parcours import resources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset():
    return load_dataset_dir(resources.SAMPLES).dataset


def campaign(**changes):
    data = json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def test_common_values_and_per_employee_changes(dataset):
    values = load_values(campaign())
    common = values.context(dataset, "E0003")
    assert common["entretien"]["heure"] == dt.time(14, 30) and common["entretien"]["type"] == "periodique"
    assert common["entretien"]["interlocuteur"]["nom"] == "Rousseau"  # the manager by default
    changed = values.context(dataset, "E0021")
    assert changed["entretien"]["heure"] == dt.time(10, 0) and changed["entretien"]["type"] == "reprise"
    assert changed["entretien"]["reprise"]["libelle"] == "congé sabbatique"
    director = values.context(dataset, "E0001")  # no manager: the campaign names E0002
    assert director["entretien"]["interlocuteur"]["nom"] == "Lefèvre-Dubois"


def test_command_line_overrides_win_over_the_file(dataset):
    values = load_values(campaign(), overrides={"entretien": {"heure": "8 h 45", "lieu": "Salle B"}})
    context = values.context(dataset, "E0003")
    assert context["entretien"]["heure"] == dt.time(8, 45) and context["entretien"]["lieu"] == "Salle B"


@pytest.mark.parametrize("moment, day, hour", [
    ("2027-03-28T00:30:00Z", dt.date(2027, 3, 28), dt.time(1, 30)),   # still winter time in Paris
    ("2027-03-28T01:30:00Z", dt.date(2027, 3, 28), dt.time(3, 30)),   # summer time has started
    ("2027-10-30T22:30:00Z", dt.date(2027, 10, 31), dt.time(0, 30)),  # the next day in Paris
])
def test_a_start_with_an_offset_is_put_in_the_employers_time_zone(moment, day, hour):
    interview = parse_interview({"debut": moment, "lieu": "Lyon"})
    assert (interview.date, interview.heure) == (day, hour)


def test_compte_rendu_dates_are_parsed(dataset):
    context = load_values(campaign()).context(dataset, "E0003")
    assert context["compte_rendu"]["actions"][0]["echeance"] == dt.date(2027, 6, 30)
    assert context["compte_rendu"]["remise"]["date"] == dt.date(2027, 1, 19)


def test_common_values_parsed_once_give_independent_contexts(dataset, monkeypatch):
    """A batch's employees without values of their own share the common values' parse: their contexts
    must still not share what a renderer or a caller may change, and must follow the dataset and the day."""
    values = load_values(campaign(courrier={"ville": "Lyon", "signataire": {"nom": "A", "fonction": "B"}}))
    first, second = values.context(dataset, "E0003"), values.context(dataset, "E0004")
    first["compte_rendu"]["actions"][0]["action"] = "changé"
    first["compte_rendu"]["remise"]["mode"] = "changé"
    first["entretien"]["interlocuteur"]["nom"] = "changé"
    again = values.context(dataset, "E0003")
    assert second["compte_rendu"]["actions"][0]["action"] == again["compte_rendu"]["actions"][0]["action"] != "changé"
    assert again["compte_rendu"]["remise"]["mode"] != "changé" and again["entretien"]["interlocuteur"]["nom"] != "changé"
    assert values.context(dataset, "E0021")["entretien"]["type"] == "reprise"  # its own values still win

    # Another dataset: the interlocuteur named by matricule is looked up in it, not in the first one.
    named = load_values(campaign(entretien={"date": "2027-02-03", "heure": "10:00", "lieu": "x",
                                            "interlocuteur": "E0002"}))
    assert named.context(dataset, "E0003")["entretien"]["interlocuteur"]["nom"] == "Lefèvre-Dubois"
    other = dataclasses.replace(dataset, employees={
        **dataset.employees, "E0002": dataclasses.replace(dataset.employees["E0002"], nom="Autre")})
    assert named.context(other, "E0003")["entretien"]["interlocuteur"]["nom"] == "Autre"

    # An undated letter is dated the day it is written, also by values parsed the day before.
    today = values.context(dataset, "E0003")["courrier"]["date"]

    class Tomorrow(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + dt.timedelta(days=1)

    monkeypatch.setattr("docgen.values.dt", types.SimpleNamespace(**{**vars(dt), "datetime": Tomorrow}))
    assert values.context(dataset, "E0003")["courrier"]["date"] == today + dt.timedelta(days=1)


@pytest.mark.parametrize("changes, message", [
    ({"entretien": {"date": "2027-02-30", "heure": "10:00", "lieu": "x"}}, "entretien.date"),
    ({"entretien": {"date": "2027-02-03", "heure": "midi", "lieu": "x"}}, "entretien.heure"),
    ({"entretien": {"debut": "2027-02-03T10:00:00", "lieu": "x"}}, "fuseau"),
    ({"entretien": {"date": "2027-02-03", "heure": "10:00", "lieu": "x", "interlocuteur": "E9999"}}, "E9999"),
    ({"inconnu": 1}, "clés inconnues : inconnu"),
    ({"salaries": ["E0003"]}, "salaries"),
])
def test_bad_values_are_refused_with_the_key(dataset, changes, message):
    with pytest.raises((ValuesError, LookupError, ValueError), match=message):
        load_values(campaign(**changes)).context(dataset, "E0003")


def test_invalid_json_is_refused():
    with pytest.raises(ValuesError, match="JSON invalide"):
        load_values(b"{not json")


def test_times_in_french_writing_are_accepted():
    assert parse_time("14 h 30", "heure") == dt.time(14, 30)
    assert parse_time("9h", "heure") == dt.time(9, 0)
