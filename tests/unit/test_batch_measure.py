"""The footer's measure in a batch with worker processes (docgen.batch): one chunk measures with its first
letter converted alone, the others wait for it; a converter that makes blank pages stands in for LibreOffice
(the measure itself is tested with LibreOffice in tests/integration/test_render_processes.py)."""

import io
import threading

from pypdf import PdfWriter

from docgen.batch import BatchGenerator, BatchItem
from docgen.letters import Calibration
from docgen.render import DocxRenderer
from parcours import resources
from test_merge_letters import contexts


class BlankPages:
    size = 1

    def __init__(self) -> None:
        self.converted = 0

    def convert(self, docx: bytes, **options) -> bytes:
        self.converted += 1
        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()


def generator() -> BatchGenerator:
    name = "convocation.docx"
    return BatchGenerator(DocxRenderer((resources.DOCUMENTS / name).read_bytes(), name), BlankPages())


def test_a_letter_meant_to_measure_is_still_made_when_another_chunk_measured_first():
    shared = generator()
    _, measuring = shared._await_calibration()
    assert measuring is not None
    shared._calibration = Calibration((), None)  # meanwhile, as a chunk on the sectioned path may have done
    key, context = contexts(1)[0]
    result = shared._measure(BatchItem(key, context), measuring)
    assert result.ok and result.pages == 1 and shared.converter.converted == 1
    assert measuring.is_set()


def test_when_the_measuring_letter_fails_a_waiting_chunk_measures_next_instead_of_working_alone():
    shared = generator()
    _, first = shared._await_calibration()
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(shared._await_calibration()))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and not answers  # it waits for the measure
    shared._measured(first)  # the letter failed: no calibration
    waiting.join(5)
    calibration, measuring = answers[0]
    assert calibration is None and measuring is not None and measuring is not first
    assert shared._measuring is measuring
