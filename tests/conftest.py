import sys
from pathlib import Path

# Test helpers (tests/docx_factory.py) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

import pytest


@pytest.fixture(scope="session")
def pool():
    """One LibreOffice pool for the whole run: starting soffice costs seconds."""
    from docgen.convert import ConverterPool, ConverterUnavailable

    try:
        converter = ConverterPool(workers=2, timeout=120)
    except ConverterUnavailable as exc:
        pytest.skip(f"LibreOffice is not available: {exc}")
    yield converter
    converter.close()
