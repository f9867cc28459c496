"""Font subsets for the footer lines stamped on batch PDFs (docgen.stamp)."""

import pytest

from docgen.stamp import FontFile, StampError, system_font


@pytest.fixture(scope="module")
def carlito_path() -> str:
    try:
        return system_font("Carlito").path
    except StampError:
        pytest.skip("Carlito is not installed")


def test_a_subset_is_reused_while_it_covers_the_characters_and_grows_when_it_does_not(carlito_path):
    font = FontFile(carlito_path)  # a fresh one: system_font's is shared with other tests
    first = font.embed_covering("Page 1 sur 2 Martin")
    assert font.embed_covering("Page 2 sur 1 Martin") is first
    grown = font.embed_covering("Page 1 sur 2 Zoé")
    assert grown is not first
    assert grown.covers("Martin Zoé Page sur 12")
    assert font.embed_covering("Zoé Martin") is grown


def test_a_subset_holds_only_what_it_was_asked_for_at_first(carlito_path):
    subset = FontFile(carlito_path).embed_covering("abc")
    assert subset.covers("cab") and not subset.covers("d")


@pytest.mark.parametrize("engine", ["docgen.stamp", "signing.pades"])
def test_fonttools_unicode_blocks_are_built_at_import_not_by_racing_threads(engine):
    """fontTools fills its table of Unicode blocks on the first subset, without a lock; a batch's threads
    subsetting at once once read it half-made (IndexError). The engines that subset fonts build it at import."""
    import subprocess
    import sys

    probe = (f"import {engine}\n"
             "from fontTools.ttLib.tables import O_S_2f_2 as os2\n"  # private names: what the bug was about
             "assert len(os2._unicodeStarts) > 100 and len(os2._unicodeValues) == len(os2._unicodeStarts) + 1\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
