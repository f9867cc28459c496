"""LibreOffice as it comes against the pool's lean workers, on the batch engine's own chunks, in one invocation.

    .venv/bin/python benchmarks/bench_libreoffice.py              # 1000 convocations, the engine's chunks, 5 rounds
    .venv/bin/python benchmarks/bench_libreoffice.py --chunk-size 40 --rounds 3

The engine renders and merges 1000 synthetic convocations into one-section chunks (kept as DOCX), then two
one-worker pools convert the same chunks, round after round and alternately, so that whatever else the
machine does weighs on both alike:
  as it comes   a profile of LibreOffice's defaults and the hidden frame left as LibreOffice makes it;
  lean          the pool as shipped: Writer's idle chores off (autocompletion, online spelling) and no
                menu, toolbar or status bar on the hidden frame (docgen.convert).
Prints LibreOffice's CPU time and the wall time per letter for each, and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import synthetic_dataset  # noqa: E402
from docgen import convert  # noqa: E402
from docgen.batch import BatchGenerator, BatchItem  # noqa: E402
from docgen.convert import ConverterPool  # noqa: E402
from docgen.render import DocxRenderer  # noqa: E402
from docgen.values import load_values  # noqa: E402
from parcours import resources  # noqa: E402


class Keeper:
    """A converter that keeps every DOCX the engine sends to LibreOffice."""

    def __init__(self, pool: ConverterPool) -> None:
        self.pool, self.kept = pool, []

    @property
    def size(self) -> int:
        return self.pool.size

    def convert(self, docx: bytes, **options: Any) -> bytes:
        self.kept.append((docx, options))
        return self.pool.convert(docx, **options)


@contextlib.contextmanager
def as_it_comes() -> Iterator[None]:
    """The pool's two settings undone while in this block: a bare profile, the frame left furnished."""
    new_profile, unfurnish = convert._new_profile, convert._without_window_furniture
    convert._new_profile = lambda profile: profile
    convert._without_window_furniture = lambda document: None
    try:
        yield
    finally:
        convert._new_profile, convert._without_window_furniture = new_profile, unfurnish


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=None, help="letters per chunk (default: the engine's, 160)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    dataset = synthetic_dataset(args.docs)
    values = load_values(resources.SAMPLES / "campagne.json")
    values = type(values)(values.common, {}, values.timezone)
    renderer = DocxRenderer((resources.DOCUMENTS / "convocation.docx").read_bytes(), "convocation.docx")
    items = [BatchItem(m, values.context(dataset, m)) for m in dataset.employees if m != "M0000"]

    with ConverterPool(workers=1) as lean:
        with as_it_comes():
            plain = ConverterPool(workers=1)
        try:
            keeper = Keeper(lean)
            made = sum(1 for result in BatchGenerator(renderer, keeper, chunk_size=args.chunk_size,
                                                      one_section=True).run(items) if result.ok)
            # The first conversion is one letter alone, which measures the footer; the chunks hold the others.
            chunks, letters = keeper.kept[1:], made - 1
            print(f"{made} convocations in {len(keeper.kept)} conversions; timing the {len(chunks)} chunks "
                  f"({letters} letters) per round, {args.rounds} rounds, load {_load()}")
            totals = {"as it comes": [0.0, 0.0], "lean": [0.0, 0.0]}
            for number in range(1, args.rounds + 1):
                line = []
                for label, pool in (("as it comes", plain), ("lean", lean)):
                    with as_it_comes() if pool is plain else contextlib.nullcontext():
                        pid = pool.worker_pids()[0]
                        cpu, started = cpu_seconds(pid), time.perf_counter()
                        for docx, options in chunks:
                            pool.convert(docx, **options)
                        wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
                    totals[label][0] += cpu
                    totals[label][1] += wall
                    line.append(f"{label} {cpu * 1000 / letters:5.2f} ms CPU, {wall * 1000 / letters:5.2f} ms wall")
                print(f"round {number}: " + "; ".join(line) + " per letter")
        finally:
            plain.close()
    (plain_cpu, plain_wall), (lean_cpu, lean_wall) = totals["as it comes"], totals["lean"]
    print(f"lean / as it comes: CPU x{lean_cpu / plain_cpu:.2f}, wall x{lean_wall / plain_wall:.2f} "
          f"(LibreOffice per letter: {plain_cpu * 1000 / letters / args.rounds:.2f} -> "
          f"{lean_cpu * 1000 / letters / args.rounds:.2f} ms CPU), load {_load()}")


def _load() -> str:
    return os.getloadavg()[0].__format__(".2f")


if __name__ == "__main__":
    main()
