"""How a batch is cut into chunks (docgen.batch.chunk_sizes): long chunks for the one-section path, short ones
for sectioned templates, in a multiple of the LibreOffice workers so that none ends alone."""

import io

import pytest
from docx import Document

from docgen.batch import LETTERS_PER_CHUNK, SECTIONS_PER_CHUNK, BatchGenerator, chunk_sizes, cut
from docgen.render import DocxRenderer
from parcours import resources


@pytest.mark.parametrize(("count", "workers", "largest", "sizes"), [
    (1000, 2, 160, [125] * 8),  # 7 chunks of 160 would leave one worker the last alone
    (800, 2, 160, [134, 134, 133, 133, 133, 133]),
    (320, 2, 160, [160, 160]),
    (321, 2, 160, [81, 80, 80, 80]),
    (25, 2, 160, [13, 12]),  # a small batch is spread over the workers…
    (9, 4, 160, [5, 4]),  # …in chunks of 4 letters or more
    (3, 2, 160, [3]),
    (0, 2, 160, []),
])
def test_chunks_are_as_long_as_allowed_and_shared_evenly_by_the_workers(count, workers, largest, sizes):
    made = chunk_sizes(count, workers, largest)
    assert made == sizes
    assert sum(made) == count and all(size <= largest for size in made)
    assert not made or max(made) - min(made) <= 1


def test_sectioned_batches_keep_chunks_of_40_and_none_is_longer():
    sizes = chunk_sizes(1000, 2, SECTIONS_PER_CHUNK)
    assert len(sizes) == 26 and set(sizes) == {38, 39} and sum(sizes) == 1000


def test_cut_keeps_the_order_and_every_item():
    items = list(range(23))
    chunks = cut(items, chunk_sizes(len(items), 2, 5))
    assert [item for chunk in chunks for item in chunk] == items and [len(c) for c in chunks] == [5, 5, 5, 4, 4]


def test_the_shipped_templates_take_long_chunks_and_a_sectioned_one_short_ones():
    def chunk_size(template: bytes) -> int:
        return BatchGenerator(DocxRenderer(template, "modèle.docx"), converter=None).chunk_size

    for name in ("convocation.docx", "compte_rendu.docx"):
        assert chunk_size((resources.DOCUMENTS / name).read_bytes()) == LETTERS_PER_CHUNK
    doc = Document(io.BytesIO((resources.DOCUMENTS / "convocation.docx").read_bytes()))
    doc.sections[0].different_first_page_header_footer = True  # a different first page: sectioned
    out = io.BytesIO()
    doc.save(out)
    assert chunk_size(out.getvalue()) == SECTIONS_PER_CHUNK
