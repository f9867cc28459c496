"""End-to-end benchmark: N convocations (synthetic employees) rendered, converted and written as PDFs.

Four ways, in one invocation, on the shipped convocation template:
  baseline     render + one `soffice --headless --convert-to pdf` process per document (timed on a sample
               of --baseline-docs documents, then extrapolated: it is about one second per document);
  pool         render + one conversion per document on the persistent LibreOffice pool;
  sections     the batch engine's sectioned path: letters merged by chunks, one section each, converted
               once, split (docgen.batch, one_section=False, threads);
  one-section  the batch engine's fast path: letters merged with page breaks in one section, split, their
               footer lines stamped, Python's part in worker processes (docgen.batch, RenderProcesses started
               once and kept from batch to batch, as the service keeps them; their start is timed apart);
               also timed with the Python part in threads, to show what the processes bring, and in the
               sectioned path's chunks of 40, to show what its longer chunks bring.

    .venv/bin/python benchmarks/bench_batch.py            # 1000 convocations
    .venv/bin/python benchmarks/bench_batch.py --docs 200 --pool-docs 100
    .venv/bin/python benchmarks/bench_batch.py --rounds 3   # the last two alternated three times, medians
    .venv/bin/python benchmarks/bench_batch.py --template old.docx   # e.g. a template before slimming

Prints documents per second, the ratios, where the batch's time goes, the peak memory of each mode
(this process, its worker processes and its LibreOffice processes) and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docgen.batch import SECTIONS_PER_CHUNK, BatchGenerator, BatchItem, RenderProcesses  # noqa: E402
from docgen.dataset import Dataset, Employee  # noqa: E402
from docgen.convert import ConverterPool, convert_once  # noqa: E402
from docgen.render import DocxRenderer  # noqa: E402
from docgen.values import load_values  # noqa: E402
from parcours import resources  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIRST_NAMES = ["Élodie", "Julien", "Moussa", "Ana", "François", "Chloé", "Théo", "Inès", "Hugo", "Léa", "Zoé"]
LAST_NAMES = ["Martin", "Lefèvre-Dubois", "N'Diaye", "Da Silva", "Rousseau", "Bénard", "Girard", "Moreau", "Nguyễn"]
JOBS = [("Technicien de maintenance", "Maintenance"), ("Comptable", "Finance"), ("Chargée de paie", "Ressources humaines"),
        ("Commercial", "Ventes"), ("Développeur", "Informatique"), ("Magasinier", "Logistique")]


def synthetic_dataset(count: int, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    manager = Employee("M0000", "Mme", "Fontaine", "Camille", "camille.fontaine@example.fr", dt.date(1976, 10, 10),
                       dt.date(2009, 5, 4), "Directrice des opérations", "Direction", "Lyon", None, None)
    employees = {manager.matricule: manager}
    for i in range(1, count + 1):
        job, service = rng.choice(JOBS)
        hired = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(0, 11000))
        employees[f"S{i:05d}"] = Employee(
            f"S{i:05d}", rng.choice(["M.", "Mme"]), rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES),
            f"salarie{i}@example.fr", dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 14000)), hired,
            job, service, rng.choice(["Lyon", "Villeurbanne", "Paris"]), "M0000", None)
    return Dataset(employees=employees, absences={}, trainings={})


class PeakMemory:
    """Samples the resident memory of this process and its children (LibreOffice) every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _tree_rss(os.getpid()))


def tree_cpu_seconds() -> tuple[float, float]:
    """CPU seconds used by Python (this process and its finished worker processes, which are its
    children) and by LibreOffice (its live soffice processes): on a machine shared with others, the
    figures that load skews least."""
    times = os.times()
    python = times.user + times.system + times.children_user + times.children_system
    libreoffice = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants(os.getpid()):
        try:
            name, fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        seconds = (int(fields.split()[11]) + int(fields.split()[12])) / tick  # utime, stime
        if "soffice" in name:
            libreoffice += seconds
        else:
            python += seconds
    return python, libreoffice


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def _tree_rss(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry.name), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000, help="convocations for the batch engine (default 1000)")
    parser.add_argument("--pool-docs", type=int, default=200, help="documents for the pool-only run (default 200)")
    parser.add_argument("--baseline-docs", type=int, default=10, help="documents timed for the baseline (default 10)")
    parser.add_argument("--workers", type=int, default=None, help="LibreOffice processes (default: one per core)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="letters per chunk (default: the engine's, 160 on the one-section path, 40 sectioned)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the one-section path runs, alternately in chunks of 40 and in its own")
    parser.add_argument("--template", type=Path, default=resources.DOCUMENTS / "convocation.docx",
                        help="the DOCX template (default: the shipped convocation)")
    args = parser.parse_args()

    dataset = synthetic_dataset(args.docs)
    values = load_values(resources.SAMPLES / "campagne.json")
    values = type(values)(values.common, {}, values.timezone)
    renderer = DocxRenderer(args.template.read_bytes(), args.template.name)
    matricules = [m for m in dataset.employees if m != "M0000"]
    started = time.perf_counter()
    items = [BatchItem(m, values.context(dataset, m)) for m in matricules]
    context_seconds = time.perf_counter() - started
    out = Path(tempfile.mkdtemp(prefix="parcours-bench-"))
    print(f"{len(items)} synthetic convocations; contexts built in {context_seconds:.2f} s; output in {out}")

    # Baseline: a fresh soffice per document.
    started = time.perf_counter()
    for item in items[: args.baseline_docs]:
        (out / f"baseline-{item.key}.pdf").write_bytes(convert_once(renderer.render(item.context, item.key)))
    baseline_rate = args.baseline_docs / (time.perf_counter() - started)
    print(f"baseline  {baseline_rate:6.2f} documents/s  (one soffice per document, {args.baseline_docs} timed)")

    with ConverterPool(workers=args.workers) as pool, RenderProcesses(pool.size) as kept:
        # Pool only: one conversion per document, as many threads as workers.
        from concurrent.futures import ThreadPoolExecutor

        sample = items[: args.pool_docs]

        def one(item: BatchItem) -> None:
            (out / f"pool-{item.key}.pdf").write_bytes(pool.convert(renderer.render(item.context, item.key)))

        with PeakMemory() as memory:
            started = time.perf_counter()
            with ThreadPoolExecutor(pool.size) as executor:
                list(executor.map(one, sample))
            pool_rate = len(sample) / (time.perf_counter() - started)
        print(f"pool      {pool_rate:6.2f} documents/s  ({len(sample)} documents, {pool.size} workers, "
              f"peak {memory.peak / 2**20:.0f} MiB, load {_load()})  x{pool_rate / baseline_rate:.1f} baseline")

        # The worker processes are started once, as the service starts them (a spawned interpreter importing
        # docgen, then the template parsed): timed apart, with a first small batch.
        started = time.perf_counter()
        list(BatchGenerator(renderer, pool, processes=kept).run(items[: 4 * pool.size]))
        print(f"worker processes: {kept.size} started with a first batch of {4 * pool.size} letters in "
              f"{time.perf_counter() - started:.1f} s, then kept for every batch below")

        # Today's path (one section per letter, threads), then the new one (one section, processes).
        rates: dict[str, list[float]] = defaultdict(list)
        # The last two alternate, round after round, so that the machine's other work weighs on both alike.
        modes = [("sections", {"one_section": False}), ("one-section threads", {"one_section": True})]
        processes = {"one_section": True, "processes": kept}
        modes += [("one-section by 40", {**processes, "chunk_size": SECTIONS_PER_CHUNK}),
                  ("one-section", processes)] * args.rounds
        for label, options in modes:
            generator = BatchGenerator(renderer, pool, **{"chunk_size": args.chunk_size, **options})
            with PeakMemory() as memory:
                started, cpu = time.perf_counter(), tree_cpu_seconds()
                pages = failed = 0
                for result in generator.run(items):
                    if result.ok:
                        (out / f"{label.replace(' ', '-')}-{result.key}.pdf").write_bytes(result.pdf)
                        pages += result.pages
                    else:
                        failed += 1
                elapsed = time.perf_counter() - started
            cpu = [after - before for after, before in zip(tree_cpu_seconds(), cpu)]
            rate = len(items) / elapsed
            rates[label].append(rate)
            print(f"{label:<19} {rate:6.2f} documents/s  ({len(items)} documents, {pages} pages, {failed} failed, "
                  f"{elapsed:.1f} s, peak {memory.peak / 2**20:.0f} MiB, load {_load()})  "
                  f"x{rate / baseline_rate:.1f} baseline, x{rate / pool_rate:.1f} pool"
                  + (f", x{rate / rates['sections'][0]:.2f} sections" if label != "sections" else ""))
            s = generator.stats
            print(f"    CPU per document: Python {cpu[0] * 1000 / len(items):.1f} ms, LibreOffice "
                  f"{cpu[1] * 1000 / len(items):.1f} ms; {os.cpu_count()} idle cores would make at most "
                  f"{os.cpu_count() * len(items) / sum(cpu):.0f} documents/s")
            print(f"    {generator.path}")
            n = len(items)
            print(f"    time per document (wall ms, summed over threads and processes, so load inflates it): "
                  f"render {s.render_seconds * 1000 / n:.2f}, merge {s.merge_seconds * 1000 / n:.2f}, "
                  f"LibreOffice {s.convert_seconds * 1000 / n:.2f}, split {s.split_seconds * 1000 / n:.2f}, "
                  f"split and stamp {s.stamp_seconds * 1000 / n:.2f}; "
                  f"{s.one_section_conversions} one-section conversions for {s.documents_one_section} documents, "
                  f"{s.merged_conversions} sectioned for {s.documents_merged}, {s.single_conversions} single, "
                  f"{s.documents_retried} redone for their page count")


    best, by_40 = statistics.median(rates["one-section"]), statistics.median(rates["one-section by 40"])
    if args.rounds > 1:
        print(f"medians of {args.rounds} alternated rounds: one-section {best:.2f}, by 40 {by_40:.2f} documents/s")
    print(f"goal for the one-section path: at least 200 documents/s on 2 idle cores, never below 150; "
          f"here x{best / rates['sections'][0]:.2f} the sectioned path, x{best / by_40:.2f} its own chunks of 40, "
          f"load {_load()}")


def _load() -> str:
    """The 1-minute load average: other work on the machine changes every figure."""
    return os.getloadavg()[0].__format__(".2f")


if __name__ == "__main__":
    main()
