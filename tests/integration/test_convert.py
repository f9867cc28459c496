"""DOCX to PDF with real LibreOffice processes: the worker pool, its failures and the one-process baseline."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docx
import pypdf
import pytest
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

import docgen.convert as convert_module
from docgen.convert import (
    ConversionError,
    ConversionTimeout,
    ConverterPool,
    ConverterUnavailable,
    convert_once,
    pdf_destination_name,
)

_MISSING = [
    what
    for what, present in (
        ("LibreOffice (soffice: apt-get install libreoffice-writer-nogui)", shutil.which("soffice") is not None),
        ("the uno module (apt-get install python3-uno; venv with --system-site-packages)",
         importlib.util.find_spec("uno") is not None),
    )
    if not present
]

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(bool(_MISSING), reason="needs " + " and ".join(_MISSING)),
]

FRENCH_TEXT = "« Élodie Lefèvre-Dubois, 14 h 30 »"


# ---------------------------------------------------------------------------------------------------------
# Inputs and helpers


def make_docx(*paragraphs: str, bookmarks: dict[int, str] | None = None, page_breaks: bool = False) -> bytes:
    """A DOCX with one paragraph per string; bookmarks maps a paragraph index to a Word bookmark name."""
    document = docx.Document()
    for index, text in enumerate(paragraphs):
        if page_breaks and index:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        paragraph = document.add_paragraph(text)
        name = (bookmarks or {}).get(index)
        if name is not None:
            start = OxmlElement("w:bookmarkStart")
            start.set(qn("w:id"), str(index))
            start.set(qn("w:name"), name)
            end = OxmlElement("w:bookmarkEnd")
            end.set(qn("w:id"), str(index))
            paragraph._p.insert(0, start)
            paragraph._p.append(end)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdfa_part(pdf: bytes) -> str | None:
    """The pdfaid:part declared in the PDF's XMP metadata, or None."""
    xmp = pypdf.PdfReader(io.BytesIO(pdf)).xmp_metadata
    if xmp is None:
        return None
    raw = xmp.stream.get_data().decode("utf-8", errors="replace")
    found = re.search(r"pdfaid:part(?:>|=\")\s*(\d)", raw)
    return found.group(1) if found else None


def live_processes_in_group(pgid: int) -> list[int]:
    """Processes (not zombies) whose process group is pgid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(int(entry))
    return found


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture(scope="module")
def pool() -> Iterator[ConverterPool]:
    with ConverterPool(workers=2, timeout=30) as shared:
        yield shared


@pytest.fixture
def solo_pool() -> Iterator[ConverterPool]:
    """One worker, a short timeout: the job of each fault test lands on a known process."""
    with ConverterPool(workers=1, timeout=3) as single:
        yield single


# ---------------------------------------------------------------------------------------------------------
# What comes out


def test_a_docx_becomes_a_pdf_a_2b_with_its_french_text(pool: ConverterPool) -> None:
    pdf = pool.convert(make_docx("Convocation à l'entretien", FRENCH_TEXT))

    assert pdf.startswith(b"%PDF-")
    assert FRENCH_TEXT in pdf_text(pdf)
    assert pdfa_part(pdf) == "2"


def test_pdfa_false_gives_a_plain_pdf_without_pdfa_metadata(pool: ConverterPool) -> None:
    pdf = pool.convert(make_docx(FRENCH_TEXT), pdfa=False)

    assert FRENCH_TEXT in pdf_text(pdf)
    assert pdfa_part(pdf) is None


def test_word_bookmarks_become_named_destinations_on_their_pages(pool: ConverterPool) -> None:
    names = ["emp_E0001", "emp_E0002", "empE0003"]
    source = make_docx("Employé 1", "Employé 2", "Employé 3", bookmarks=dict(enumerate(names)), page_breaks=True)

    reader = pypdf.PdfReader(io.BytesIO(pool.convert(source, bookmarks_as_destinations=True)))
    pages = {name: reader.get_destination_page_number(dest) for name, dest in reader.named_destinations.items()}

    # LibreOffice writes "_" as "5F" (no "#"): emp_E0001 -> emp5FE0001; letters and digits stay as they are.
    assert pages == {"/emp5FE0001": 0, "/emp5FE0002": 1, "/empE0003": 2}
    assert {"/" + pdf_destination_name(name) for name in names} == set(pages)
    plain = pypdf.PdfReader(io.BytesIO(pool.convert(source)))
    assert plain.named_destinations == {}


def test_workers_start_with_writers_idle_chores_turned_off(pool: ConverterPool) -> None:
    """Word collection for autocompletion and online spelling cost LibreOffice time on every letter."""
    worker = pool._workers[0]
    api = convert_module._uno()
    provider = worker._remote_smgr.createInstanceWithContext(
        "com.sun.star.configuration.ConfigurationProvider", worker._remote_ctx)

    def setting(path: str, name: str) -> bool:
        node = provider.createInstanceWithArguments(
            "com.sun.star.configuration.ConfigurationAccess", api.props(nodepath=path))
        return node.getByName(name)

    assert setting("/org.openoffice.Office.Writer/AutoFunction/Completion", "CollectWords") is False
    assert setting("/org.openoffice.Office.Writer/AutoFunction/Completion", "Enable") is False
    assert setting("/org.openoffice.Office.Linguistic/SpellChecking", "IsSpellAuto") is False
    # What a profile of LibreOffice's own defaults says, so that the three checks above can fail.
    assert setting("/org.openoffice.Office.Writer/AutoFunction/Completion", "MinWordLen") == 8


def test_a_converted_document_gets_no_menu_toolbar_or_status_bar(pool: ConverterPool) -> None:
    """Left alone, the hidden frame builds them during the export, and the status bar counts every word."""
    worker = pool._workers[0]
    api = convert_module._uno()

    def frame_after_export(furnished: bool) -> object:
        stream = worker._remote_smgr.createInstanceWithArgumentsAndContext(
            "com.sun.star.io.SequenceInputStream", (api.uno.ByteSequence(make_docx(FRENCH_TEXT)),),
            worker._remote_ctx)
        document = worker._desktop.loadComponentFromURL(
            "private:stream", "_blank", 0, api.props(InputStream=stream, Hidden=True, ReadOnly=True))
        try:
            if not furnished:
                convert_module._without_window_furniture(document)
            output = api.OutputStream()
            document.storeToURL("private:stream", api.props(FilterName="writer_pdf_Export", OutputStream=output))
            assert b"".join(output.chunks).startswith(b"%PDF-")
            manager = document.getCurrentController().getFrame().LayoutManager
            if manager is None:
                return None
            # LibreOffice's main loop builds them when it is idle: during a long export, or just after.
            wait_until(lambda: bool(manager.getElements()), seconds=5)
            return sorted(element.ResourceURL for element in manager.getElements())
        finally:
            document.close(True)

    assert "private:resource/statusbar/statusbar" in frame_after_export(furnished=True)
    assert frame_after_export(furnished=False) is None


def test_garbage_input_raises_a_conversion_error(pool: ConverterPool) -> None:
    with pytest.raises(ConversionError, match="not a DOCX"):
        pool.convert(b"%PDF-1.7 this is not a Word document")
    with pytest.raises(ConversionError, match="not a DOCX"):
        pool.convert(b"")


def test_a_zip_with_a_broken_document_xml_raises_a_conversion_error(pool: ConverterPool) -> None:
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(make_docx("x")))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            target.writestr(item, b"<w:document garbage" if item.filename == "word/document.xml" else source.read(item))

    with pytest.raises(ConversionError, match="could not read"):
        pool.convert(broken.getvalue())
    assert FRENCH_TEXT in pdf_text(pool.convert(make_docx(FRENCH_TEXT)))  # the worker is still fine


# ---------------------------------------------------------------------------------------------------------
# Concurrency


def test_two_threads_convert_at_once_on_different_workers(pool: ConverterPool) -> None:
    pids = pool.worker_pids()
    before = [worker.conversions for worker in pool.stats().per_worker]
    results: dict[str, bytes] = {}
    # Both workers are frozen, so each job stays in flight until both have started.
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        threads = [
            threading.Thread(target=lambda name=name: results.__setitem__(name, pool.convert(make_docx(name))))
            for name in ("Premier document", "Second document")
        ]
        for thread in threads:
            thread.start()
        both_busy = wait_until(lambda: pool.stats().busy == 2)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    for thread in threads:
        thread.join(30)

    assert both_busy
    assert "Premier document" in pdf_text(results["Premier document"])
    assert "Second document" in pdf_text(results["Second document"])
    after = [worker.conversions for worker in pool.stats().per_worker]
    assert [a - b for a, b in zip(after, before)] == [1, 1]


# ---------------------------------------------------------------------------------------------------------
# Failures and restarts


def test_a_hung_worker_times_out_is_restarted_and_the_next_conversion_succeeds(solo_pool: ConverterPool) -> None:
    (hung,) = solo_pool.worker_pids()
    os.kill(hung, signal.SIGSTOP)

    started = time.monotonic()
    with pytest.raises(ConversionTimeout):
        solo_pool.convert(make_docx("bloqué"))
    assert time.monotonic() - started < 3 + 2

    assert FRENCH_TEXT in pdf_text(solo_pool.convert(make_docx(FRENCH_TEXT)))
    stats = solo_pool.stats()
    assert (stats.timeouts, stats.restarts, stats.conversions) == (1, 1, 1)
    assert solo_pool.worker_pids() != [hung]
    assert live_processes_in_group(hung) == []


def test_a_worker_killed_mid_job_is_restarted_and_the_job_retried(solo_pool: ConverterPool) -> None:
    (victim,) = solo_pool.worker_pids()
    os.kill(victim, signal.SIGSTOP)  # hold the job inside soffice, then kill it there
    threading.Timer(0.5, os.kill, args=(victim, signal.SIGKILL)).start()

    pdf = solo_pool.convert(make_docx(FRENCH_TEXT))

    assert FRENCH_TEXT in pdf_text(pdf)
    stats = solo_pool.stats()
    assert (stats.crashes, stats.restarts, stats.failures) == (1, 1, 0)
    assert solo_pool.convert(make_docx("suivant"))


def test_without_retries_a_job_whose_worker_is_killed_fails_alone() -> None:
    with ConverterPool(workers=1, timeout=10, crash_retries=0) as single:
        (victim,) = single.worker_pids()
        os.kill(victim, signal.SIGSTOP)
        threading.Timer(0.5, os.kill, args=(victim, signal.SIGKILL)).start()

        with pytest.raises(ConversionError, match="died") as raised:
            single.convert(make_docx("perdu"))
        assert not isinstance(raised.value, ConversionTimeout)

        assert "retrouvé" in pdf_text(single.convert(make_docx("retrouvé")))
        assert single.stats().crashes == 1


def test_a_worker_that_dies_while_idle_is_restarted_before_its_next_job(solo_pool: ConverterPool) -> None:
    (victim,) = solo_pool.worker_pids()
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: solo_pool.worker_pids() == [None])

    assert FRENCH_TEXT in pdf_text(solo_pool.convert(make_docx(FRENCH_TEXT)))
    assert solo_pool.stats().restarts == 1


def test_workers_are_recycled_after_max_conversions() -> None:
    with ConverterPool(workers=1, max_conversions_per_worker=2) as recycled:
        (first,) = recycled.worker_pids()
        for _ in range(3):
            recycled.convert(make_docx("encore"))

        stats = recycled.stats()
        assert (stats.conversions, stats.recycles, stats.restarts) == (3, 1, 1)
        assert recycled.worker_pids() != [first]


# ---------------------------------------------------------------------------------------------------------
# Shutting down


def test_close_leaves_no_soffice_process_or_profile_behind() -> None:
    closing = ConverterPool(workers=2)
    closing.convert(make_docx("dernier"))
    groups = closing.worker_pids()
    profiles = [arg for pid in groups for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if arg.startswith(b"-env:UserInstallation=file://")]
    assert len(profiles) == 2

    closing.close()

    assert all(live_processes_in_group(pgid) == [] for pgid in groups)
    assert not any(Path(p[len(b"-env:UserInstallation=file://"):].decode()).parent.exists() for p in profiles)
    with pytest.raises(ConversionError, match="closed"):
        closing.convert(make_docx("trop tard"))


def test_soffice_is_stopped_when_python_exits_without_close(tmp_path: Path) -> None:
    script = tmp_path / "forgetful.py"
    script.write_text(textwrap.dedent("""
        from docgen.convert import ConverterPool
        pool = ConverterPool(workers=1)
        print(pool.worker_pids()[0], flush=True)
    """))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=root)

    assert done.returncode == 0, done.stderr
    assert live_processes_in_group(int(done.stdout.strip())) == []


# ---------------------------------------------------------------------------------------------------------
# One process per document


def test_convert_once_gives_a_pdf_a_or_a_plain_pdf() -> None:
    source = make_docx(FRENCH_TEXT)

    pdfa = convert_once(source)
    plain = convert_once(source, pdfa=False)

    assert FRENCH_TEXT in pdf_text(pdfa) and FRENCH_TEXT in pdf_text(plain)
    assert (pdfa_part(pdfa), pdfa_part(plain)) == ("2", None)
    with pytest.raises(ConversionError, match="not a DOCX"):
        convert_once(b"garbage")


def test_convert_once_past_its_timeout_raises_conversion_timeout() -> None:
    with pytest.raises(ConversionTimeout):
        convert_once(make_docx("lent"), timeout=0.2)


def test_a_missing_libreoffice_is_reported_with_what_to_install() -> None:
    with pytest.raises(ConverterUnavailable, match="libreoffice-writer-nogui and python3-uno"):
        ConverterPool(workers=1, soffice="/nonexistent/soffice")
    with pytest.raises(ConverterUnavailable, match="libreoffice-writer-nogui"):
        convert_once(make_docx("x"), soffice="/nonexistent/soffice")
