"""CSV that is safe to open in a spreadsheet: a cell Excel or LibreOffice would run as a formula is written as text.

A cell starting with « = », « + », « - », « @ », a tab or a carriage return gets a leading apostrophe, as OWASP
advises against CSV injection (https://owasp.org/www-community/attacks/CSV_Injection): « =HYPERLINK(…) » in an
employee's name is shown, never run. Every CSV the product writes goes through `writer` or `dict_writer`.
Only text is changed: numbers, dates and empty cells are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

BOM = "\ufeff"
FRENCH = {"delimiter": ";", "lineterminator": "\r\n"}
"""The dialect French Excel opens as columns: « ; » between cells (the comma is the decimal mark), CRLF, and
the file starting with a BOM (`BOM`) so that it reads UTF-8. Every CSV Parcours writes for people uses it."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (or, for tab and CR, hide the one that follows)."""


def cell(value: Any) -> Any:
    """The value, with a leading apostrophe when it is text that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    """Each cell of a row made safe."""
    return [cell(value) for value in values]


class _Writer:
    """csv.writer's writerow and writerows, each cell made safe."""

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)


class _DictWriter(csv.DictWriter):
    """csv.DictWriter, each cell of each row made safe (the header is the program's own)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)


def writer(handle: IO[str], **options: Any) -> _Writer:
    """Like csv.writer(handle, **options), with every cell made safe."""
    return _Writer(handle, **options)


def dict_writer(handle: IO[str], fieldnames: Iterable[str], **options: Any) -> _DictWriter:
    """Like csv.DictWriter(handle, fieldnames, **options), with every cell made safe."""
    return _DictWriter(handle, list(fieldnames), **options)
