"""French formatting of dates, times, amounts and civilités for documents (the templates' filters)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "fr_FR"
DEFAULT_TIMEZONE = "Europe/Paris"
NNBSP = "\u202f"  # narrow no-break space: between thousands
NBSP = "\u00a0"  # no-break space: before the euro sign

CIVILITES = {"M.": "Monsieur", "Mme": "Madame"}

Number = int | float | Decimal


def _type_error(filter_name: str, expected: str, value: object) -> TypeError:
    return TypeError(
        f"Le filtre « {filter_name} » attend {expected}, "
        f"pas {type(value).__name__} ({value!r})"
    )


def _require_date(filter_name: str, value: object) -> dt.date:
    # A datetime is a date subclass, but its day depends on a time zone: refuse it.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _type_error(filter_name, "une date (datetime.date)", value)
    return value


def _require_number(filter_name: str, value: object) -> Number:
    # bool is an int subclass: True|euros printing « 1 € » would hide a template bug.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _type_error(filter_name, "un nombre (int, float ou Decimal)", value)
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        raise ValueError(f"Le filtre « {filter_name} » ne peut pas afficher {value!r}")
    return value


def _day_month_year(value: dt.date) -> str:
    # Babel's long format gives « 1 mars 2027 »; French letters want « 1er mars 2027 ».
    day = "1er" if value.day == 1 else str(value.day)
    month = format_date(value, "MMMM", locale=LOCALE).lower()
    return f"{day} {month} {value.year}"


def date(value: dt.date) -> str:
    """« 1er mars 2027 », « 12 janvier 2027 »."""
    return _day_month_year(_require_date("date", value))


def date_longue(value: dt.date) -> str:
    """« lundi 1er mars 2027 »."""
    value = _require_date("date_longue", value)
    weekday = format_date(value, "EEEE", locale=LOCALE).lower()
    return f"{weekday} {_day_month_year(value)}"


def date_courte(value: dt.date) -> str:
    """« 01/03/2027 », for tables."""
    value = _require_date("date_courte", value)
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _local_time(value: dt.time | dt.datetime, tz: str | dt.tzinfo) -> dt.time:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            zone = ZoneInfo(tz) if isinstance(tz, str) else tz
            value = value.astimezone(zone)
        # A naive datetime is already the employer's local time.
        return value.time()
    if isinstance(value, dt.time):
        return value
    raise _type_error("heure", "une heure (datetime.time ou datetime.datetime)", value)


def heure(value: dt.time | dt.datetime, tz: str | dt.tzinfo = DEFAULT_TIMEZONE) -> str:
    """« 14 h 30 », « 9 h », « 0 h »; an aware datetime is first put in the time zone `tz`."""
    local = _local_time(value, tz)
    if local.minute == 0:
        return f"{local.hour} h"
    return f"{local.hour} h {local.minute:02d}"


def _group_thousands(text: str) -> str:
    # Babel uses U+202F for fr today; older CLDR data used U+00A0 or a space.
    return text.replace(NBSP, NNBSP).replace(" ", NNBSP)


def euros(value: Number) -> str:
    """« 3 000 € », « 1 234,50 € »: cents only when the amount is not whole."""
    amount = Decimal(str(_require_number("euros", value))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    pattern = "#,##0" if amount == amount.to_integral_value() else "#,##0.00"
    text = format_decimal(amount, format=pattern, locale=LOCALE)
    return f"{_group_thousands(text)}{NBSP}€"


def nombre(value: Number) -> str:
    """« 1 234,5 »: decimal comma, narrow no-break space between thousands."""
    value = _require_number("nombre", value)
    return _group_thousands(format_decimal(value, locale=LOCALE))


def civilite_longue(value: str) -> str:
    """« M. » -> « Monsieur », « Mme » -> « Madame »."""
    if not isinstance(value, str):
        raise _type_error("civilite_longue", "un texte (str)", value)
    try:
        return CIVILITES[value]
    except KeyError:
        raise ValueError(
            f"Civilité inconnue : « {value} » (valeurs possibles : « M. » ou « Mme »)"
        ) from None


_VOWELS = tuple("aeiouyàâäéèêëîïôöùûüœæAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")
_NUMBERS = {1: "un", 2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six", 7: "sept", 8: "huit",
            9: "neuf", 10: "dix"}


def elide(word: str, text: str) -> str:
    """« de » + « arrêt » -> « d’arrêt », « que » + « il » -> « qu’il »; « de » + « Léa » -> « de Léa ».

    For « de », « le », « la », « que », « jusque », « ne », « se » before a word starting with a vowel
    (a mute h is not guessed: « de Hugo » stays as written)."""
    if not isinstance(text, str) or not isinstance(word, str):
        raise _type_error("elide", "deux textes (str)", text)
    if text.startswith(_VOWELS) and word.lower() in ("de", "le", "la", "que", "jusque", "ne", "se", "je"):
        return f"{word[:-1]}’{text}"
    return f"{word} {text}"


def de(text: str) -> str:
    """« de Léa », « d’Arthur », « d’arrêt longue maladie »."""
    return elide("de", text)


def en_lettres(value: int) -> str:
    """Numbers up to ten in words, as in running text (« tous les quatre ans »); larger ones in figures."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error("en_lettres", "un entier (int)", value)
    return _NUMBERS.get(value, str(value))


def article(number: str, code: str = "code du travail") -> str:
    """« L6315-1 » -> « L. 6315-1 du code du travail » (a point and a space after the letter)."""
    if not isinstance(number, str):
        raise _type_error("article", "un numéro d’article (str)", number)
    letter, digits = number[:1], number[1:].lstrip(". ")
    shown = f"{letter}. {digits}" if letter in "LRD" and digits[:1].isdigit() else number
    return f"{shown} du {code}" if code else shown


def oui_non(value: bool) -> str:
    """« oui » / « non »."""
    if not isinstance(value, bool):
        raise _type_error("oui_non", "un booléen (bool)", value)
    return "oui" if value else "non"


FILTERS: dict[str, Callable[..., str]] = {
    "date": date,
    "date_longue": date_longue,
    "date_courte": date_courte,
    "heure": heure,
    "euros": euros,
    "nombre": nombre,
    "civilite_longue": civilite_longue,
    "oui_non": oui_non,
    "de": de,
    "en_lettres": en_lettres,
    "article": article,
}
