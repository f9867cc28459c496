"""Files shipped inside the package, found with importlib.resources wherever it is installed (a wheel too):

    documents/   the employee document templates seeded into the service (convocation, trame, compte rendu,
                 état des lieux), their sample context and the guide for people who edit them in Word
    reports/     the service's own documents: the verification report (DOCX for the PDF, HTML for the page)
    samples/     sample employees, absences, trainings and campaign values, for the demo and the tests

They are built by scripts/build_templates.py (the DOCX) and kept as plain files: a package installed as
a folder, as pip does, gives them real paths, which LibreOffice and the data import need.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def path(*parts: str) -> Path:
    """A shipped file or folder."""
    return Path(str(resources.files(__name__).joinpath(*parts)))


DOCUMENTS = path("documents")
REPORTS = path("reports")
SAMPLES = path("samples")


def shipped_documents() -> dict[str, Path]:
    """The employee document templates shipped with the service, by name (convocation, trame…)."""
    return {file.stem: file for file in sorted(DOCUMENTS.glob("*.docx"))}
