"""French formatting filters: dates, times, amounts, civilités."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from docgen import formatting
from docgen.formatting import (
    FILTERS,
    civilite_longue,
    date,
    date_courte,
    date_longue,
    euros,
    heure,
    nombre,
    oui_non,
)

NNBSP = "\u202f"
NBSP = "\u00a0"
UTC = dt.timezone.utc


def test_the_first_of_the_month_gets_an_ordinal():
    assert date(dt.date(2027, 3, 1)) == "1er mars 2027"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2027, 1, 12), "12 janvier 2027"),
        (dt.date(2027, 8, 2), "2 août 2027"),
        (dt.date(2027, 12, 31), "31 décembre 2027"),
        (dt.date(2027, 2, 11), "11 février 2027"),
    ],
)
def test_other_days_are_plain_numbers_with_a_lowercase_month(day, expected):
    assert date(day) == expected


def test_long_date_starts_with_the_lowercase_weekday():
    assert date_longue(dt.date(2027, 3, 1)) == "lundi 1er mars 2027"
    assert date_longue(dt.date(2027, 1, 12)) == "mardi 12 janvier 2027"


def test_short_date_pads_day_and_month():
    assert date_courte(dt.date(2027, 3, 1)) == "01/03/2027"
    assert date_courte(dt.date(1998, 11, 25)) == "25/11/1998"


@pytest.mark.parametrize("name", ["date", "date_longue", "date_courte"])
@pytest.mark.parametrize("value", ["2027-03-01", dt.datetime(2027, 3, 1, 9, 0), 20270301, None])
def test_date_filters_refuse_anything_but_a_date(name, value):
    with pytest.raises(TypeError, match="datetime.date"):
        FILTERS[name](value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.time(14, 30), "14 h 30"),
        (dt.time(9, 0), "9 h"),
        (dt.time(9, 5), "9 h 05"),
        (dt.time(0, 0), "0 h"),
        (dt.time(0, 15), "0 h 15"),
        (dt.time(23, 59, 59), "23 h 59"),
    ],
)
def test_times_are_written_with_h(value, expected):
    assert heure(value) == expected


def test_a_naive_datetime_is_taken_as_local_time():
    assert heure(dt.datetime(2027, 7, 1, 14, 30)) == "14 h 30"


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Spring forward on 28 March 2027 at 01:00 UTC: 02:00 CET becomes 03:00 CEST.
        (dt.datetime(2027, 3, 28, 0, 30, tzinfo=UTC), "1 h 30"),
        (dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "3 h 30"),
        # Fall back on 31 October 2027 at 01:00 UTC: 03:00 CEST becomes 02:00 CET.
        (dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "2 h 30"),
        (dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC), "2 h 30"),
        (dt.datetime(2027, 10, 31, 2, 0, tzinfo=UTC), "3 h"),
    ],
)
def test_an_aware_datetime_is_put_in_paris_time_across_summer_time_changes(utc, expected):
    assert heure(utc) == expected


def test_the_time_zone_is_a_parameter():
    noon_utc = dt.datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
    assert heure(noon_utc, tz="America/Martinique") == "8 h"
    assert heure(noon_utc, tz=ZoneInfo("Indian/Reunion")) == "16 h"


@pytest.mark.parametrize("value", ["14:30", dt.date(2027, 3, 1), 14.5])
def test_heure_refuses_anything_but_a_time_or_datetime(value):
    with pytest.raises(TypeError, match="datetime.time"):
        heure(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3000, f"3{NNBSP}000{NBSP}€"),
        (3000.0, f"3{NNBSP}000{NBSP}€"),
        (Decimal("1234.5"), f"1{NNBSP}234,50{NBSP}€"),
        (1234.5, f"1{NNBSP}234,50{NBSP}€"),
        (0, f"0{NBSP}€"),
        (12.3, f"12,30{NBSP}€"),
        (999.999, f"1{NNBSP}000{NBSP}€"),
        (1234567, f"1{NNBSP}234{NNBSP}567{NBSP}€"),
    ],
)
def test_amounts_in_euros_use_french_spacing_and_cents_only_when_needed(value, expected):
    assert euros(value) == expected


def test_thousands_are_separated_by_a_narrow_no_break_space_only():
    text = euros(3000)
    assert "\u202f" in text and " " not in text
    assert text.endswith("\u00a0€")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, f"1{NNBSP}234,5"),
        (1234, f"1{NNBSP}234"),
        (Decimal("0.25"), "0,25"),
        (12, "12"),
    ],
)
def test_numbers_use_a_decimal_comma(value, expected):
    assert nombre(value) == expected


@pytest.mark.parametrize("name", ["euros", "nombre"])
@pytest.mark.parametrize("value", ["3000", True, None])
def test_number_filters_refuse_text_booleans_and_none(name, value):
    with pytest.raises(TypeError, match="nombre"):
        FILTERS[name](value)


def test_number_filters_refuse_nan():
    with pytest.raises(ValueError):
        euros(float("nan"))


def test_civilite_longue_spells_out_the_title():
    assert civilite_longue("M.") == "Monsieur"
    assert civilite_longue("Mme") == "Madame"


@pytest.mark.parametrize("value", ["Mlle", "M", "mme", "", "Dr"])
def test_civilite_longue_rejects_other_values_and_names_them(value):
    with pytest.raises(ValueError, match=f"« {value} »"):
        civilite_longue(value)


def test_civilite_longue_rejects_a_non_text():
    with pytest.raises(TypeError, match="str"):
        civilite_longue(None)


def test_oui_non():
    assert oui_non(True) == "oui"
    assert oui_non(False) == "non"
    with pytest.raises(TypeError, match="bool"):
        oui_non("oui")
    with pytest.raises(TypeError):
        oui_non(1)


def test_filters_are_exported_under_the_schema_names():
    assert set(FILTERS) == {
        "date", "date_longue", "date_courte", "heure", "euros", "nombre", "civilite_longue", "oui_non",
        "de", "en_lettres", "article",
    }
    assert FILTERS["date"] is formatting.date


@pytest.mark.parametrize(("word", "text", "expected"), [
    ("de", "arrêt longue maladie", "d’arrêt longue maladie"),
    ("de", "Arthur Lefebvre", "d’Arthur Lefebvre"),
    ("de", "Élodie", "d’Élodie"),
    ("de", "congé de maternité", "de congé de maternité"),
    ("de", "Hugo", "de Hugo"),  # a mute h is not guessed
    ("jusque", "au 3 mars", "jusqu’au 3 mars"),
    ("que", "il", "qu’il"),
])
def test_elisions(word, text, expected):
    assert formatting.elide(word, text) == expected


def test_numbers_up_to_ten_in_words_and_legal_references():
    assert formatting.en_lettres(4) == "quatre" and formatting.en_lettres(12) == "12"
    assert formatting.article("L6315-1") == "L. 6315-1 du code du travail"
    assert formatting.article("R6323-3") == "R. 6323-3 du code du travail"
