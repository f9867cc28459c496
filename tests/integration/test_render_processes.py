"""RenderProcesses kept by their owner across batches (as the service keeps them): the chunks' Python part
runs there and gives the same letters, the processes survive a killed sibling and leave with their owner."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from docgen.batch import BatchGenerator, RenderProcesses, _render_and_merge, _split_and_stamp
from docgen.render import DocxRenderer
from parcours import resources
from test_batch_one_section import pdftotext_pages, sample_campaign
from test_convert import wait_until

pytestmark = pytest.mark.libreoffice

ROOT = Path(__file__).resolve().parents[2]


def render_processes_of(pid: int) -> list[int]:
    """The spawned Python children of `pid` (LibreOffice's processes are not)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            if b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def generator(name: str, pool, processes=0) -> BatchGenerator:
    return BatchGenerator(DocxRenderer((resources.DOCUMENTS / name).read_bytes(), name), pool, chunk_size=6,
                          processes=processes)


def test_run_chunk_uses_the_owners_processes_for_every_template_and_they_stay_until_closed(pool):
    items = sample_campaign()[:12]
    with RenderProcesses(2) as processes:
        for name in ("convocation.docx", "compte_rendu.docx"):
            shared = generator(name, pool, processes)
            in_processes = shared.run_chunk(items[:6]) + shared.run_chunk(items[6:])
            in_thread = generator(name, pool).run_chunk(items[6:])
            # The first chunk's first letter measured the footer here; the rest was rendered, merged and split there.
            assert shared.stats.documents_one_section >= 10, shared.stats
            for a, b in zip(in_processes[6:], in_thread):
                assert a.key == b.key and a.ok and b.ok, (a.error, b.error)
                assert pdftotext_pages(a.pdf) == pdftotext_pages(b.pdf)
        assert 1 <= len(render_processes_of(os.getpid())) <= 2  # started as chunks came
    assert wait_until(lambda: not render_processes_of(os.getpid()), 10)


def test_a_killed_render_process_costs_no_letter_and_is_replaced(pool):
    items = sample_campaign()[:18]
    with RenderProcesses(2) as processes:
        shared = generator("convocation.docx", pool, processes)
        assert all(result.ok for result in shared.run_chunk(items[:6]))  # measures the footer, here
        assert all(result.ok for result in shared.run_chunk(items[6:12]))  # in a worker process
        killed = render_processes_of(os.getpid())
        assert killed
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        # The chunk that meets the broken pool is done in this thread; the next one has new processes.
        for chunk in (items[12:15], items[15:18]):
            results = shared.run_chunk(chunk)
            assert [r.key for r in results] == [i.key for i in chunk] and all(r.ok for r in results)
        assert wait_until(lambda: render_processes_of(os.getpid()) and not set(render_processes_of(os.getpid())) & set(killed), 10)


OWNER = """
import signal, time
from docgen.batch import RenderProcesses, _template_spec, _warm
from docgen.render import DocxRenderer
from parcours import resources
signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))  # the owner decides when to stop
processes = RenderProcesses(2)
renderer = DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx")
for future in [processes.submit(_warm, _template_spec(renderer)) for _ in range(2)]:
    future.result()
for future in [processes.submit(time.sleep, 0.5) for _ in range(2)]:  # both processes up, not just one
    future.result()
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_render_processes_ignore_ctrl_c_and_leave_when_their_owner_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)

    def alive(pids: list[int]) -> list[int]:
        return [pid for pid in pids if Path(f"/proc/{pid}").exists()
                and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]

    try:
        assert owner.stdout.readline() == b"ready\n"
        children = render_processes_of(owner.pid)
        assert len(children) == 2
        os.killpg(owner.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group gets it
        assert owner.stdout.readline() == b"interrupted\n"
        time.sleep(1)
        assert alive(children) == children  # the owner stops them, when it is ready to
        owner.kill()
        owner.wait(timeout=30)
        # Killed, the owner closed nothing: its processes see it gone and follow within a second.
        assert wait_until(lambda: not alive(children), 10), alive(children)
        assert b"Traceback" not in owner.stderr.read()
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
            owner.wait()


def test_chunks_in_flight_wait_for_the_first_letters_calibration_instead_of_rendering_here(pool):
    items = sample_campaign()[:24]  # four chunks of 6, all in flight at once in run()
    shared = generator("convocation.docx", pool, processes=2)
    rendered_here = []
    render = shared.renderer.render_document
    shared.renderer.render_document = lambda context, key: rendered_here.append(key) or render(context, key)
    results = list(shared.run(items))
    assert len(results) == 24 and all(result.ok for result in results)
    # One chunk (the first to ask) measured the footer here with its first letter; the rest of it and the three
    # others waited, then went to the processes.
    assert len(rendered_here) == 1 and rendered_here[0] in [item.key for item in items[::6]], rendered_here


class _DyingProcesses(RenderProcesses):
    """Whose process dies under every task of the kind given, as a process killed mid-task does."""

    def __init__(self, size: int, dies_under) -> None:
        super().__init__(size)
        self.dies_under, self.died = dies_under, 0

    def submit(self, function, *args):
        if function is not self.dies_under:
            return super().submit(function, *args)
        self.died += 1
        future = Future()
        future.set_exception(BrokenProcessPool("a process in the process pool was terminated abruptly"))
        return future


@pytest.mark.parametrize("task", [_render_and_merge, _split_and_stamp], ids=["render", "split"])
def test_a_process_dying_under_a_chunk_loses_none_of_its_letters(pool, task):
    items = sample_campaign()[:12]
    with _DyingProcesses(2, task) as processes:
        shared = generator("convocation.docx", pool, processes)
        results = shared.run_chunk(items[:6]) + shared.run_chunk(items[6:])
    assert processes.died == 2  # each chunk met a dying process (the first after measuring with its first letter)
    assert [r.key for r in results] == [i.key for i in items] and all(r.ok for r in results)
    assert all(f"Page 1 sur {r.pages}" in pdftotext_pages(r.pdf)[0] for r in results)
