"""The batch engine against its peers on the same DOCX files, in one invocation (`make bench-peers`).

    .venv/bin/python benchmarks/bench_peers.py --peers out/peers          # 1000 convocations
    .venv/bin/python benchmarks/bench_peers.py --peers out/peers --docs 300

The N convocations of bench_batch.py's synthetic dataset are rendered to DOCX files once; then
  Carbone      3.8.2 (npm), factories = 2, converts those files (carbone.convert);
  unoserver    3.7 (PyPI), 2 servers, one client thread each, converts the same files;
  Parcours     the batch engine (docgen.batch, the one-section path, worker processes) makes the same
               letters from the template and the contexts, render included.
Each tool's start-up (LibreOffice launched, factories or servers ready) is left out of its time; the
peers are installed by `make bench-peers` in a folder of their own (--peers), never in the project's
dependencies. A peer that cannot run here (LibreOffice not found, no registry) is said so, and the others
still run. Prints documents per second, the engine's ratio to each peer, the peak memory of each (its
process tree) and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_batch import PeakMemory, _tree_rss, synthetic_dataset  # noqa: E402
from docgen.batch import BatchGenerator, BatchItem, RenderProcesses  # noqa: E402
from docgen.convert import ConverterPool  # noqa: E402
from docgen.render import DocxRenderer  # noqa: E402
from docgen.values import load_values  # noqa: E402
from parcours import resources  # noqa: E402

# Carbone looks for soffice.bin on PATH and takes the first python3 there for its UNO bridge: Debian's
# LibreOffice keeps soffice.bin in its program folder, and only /usr/bin/python3 has python3-uno.
LIBREOFFICE_PROGRAM = "/usr/lib/libreoffice/program"


def run_peer(command: list[str], env: dict[str, str] | None = None, timeout: float = 1800) -> dict | str:
    """The peer's JSON line, with the peak memory of its process tree; or why it could not run."""
    peak = 0
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    except OSError as exc:
        return f"could not run here: {exc}"
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max(peak, _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return f"could not run here: no answer after {timeout:.0f} s"
    finally:
        stop.set()
        sampler.join()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        said = [line.strip() for line in (stderr or stdout).splitlines() if line.strip()]
        why = [line for line in said if "rror" in line or "cannot" in line][:2] or said[-3:]
        return f"could not run here (exit {process.returncode}): {' | '.join(why) or 'no output'}"
    result = json.loads(lines[-1])
    result["peak"] = peak
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--peers", type=Path, default=ROOT / "out" / "peers",
                        help="where make bench-peers installed Carbone (node_modules) and unoserver (venv)")
    parser.add_argument("--factories", type=int, default=2, help="Carbone factories (default 2)")
    parser.add_argument("--servers", type=int, default=2, help="unoserver servers (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="the engine's LibreOffice workers (default 2)")
    args = parser.parse_args()

    dataset = synthetic_dataset(args.docs)
    values = load_values(resources.SAMPLES / "campagne.json")
    values = type(values)(values.common, {}, values.timezone)
    template = resources.DOCUMENTS / "convocation.docx"
    renderer = DocxRenderer(template.read_bytes(), template.name)
    items = [BatchItem(m, values.context(dataset, m)) for m in dataset.employees if m != "M0000"]
    folder = Path(tempfile.mkdtemp(prefix="parcours-peers-"))
    for item in items:
        (folder / f"{item.key}.docx").write_bytes(renderer.render(item.context, item.key))
    print(f"{len(items)} convocations rendered to DOCX in {folder} (the peers convert them; the engine renders "
          f"its own); load {_load()}")

    rates: dict[str, float] = {}
    node = shutil.which("node")
    carbone = args.peers / "node_modules" / "carbone"
    if node is None or not carbone.is_dir():
        why = "node is missing" if node is None else f"Carbone is not installed in {carbone}"
        print(f"Carbone    not measured: {why} (make bench-peers installs it from the npm registry)")
    else:
        env = {**os.environ, "NODE_PATH": str(args.peers / "node_modules"),
               "PATH": f"{LIBREOFFICE_PROGRAM}:/usr/bin:{os.environ.get('PATH', '')}"}
        result = run_peer([node, str(ROOT / "benchmarks" / "peers" / "carbone_convert.js"), str(folder),
                                      str(args.factories)], env)
        rates["Carbone"] = _report("Carbone", result, f"factories = {args.factories}")

    python = args.peers / "venv" / "bin" / "python"
    if not python.exists():
        print(f"unoserver  not measured: unoserver is not installed in {python.parent.parent} "
              "(make bench-peers installs it from PyPI)")
    else:
        result = run_peer([str(python), str(ROOT / "benchmarks" / "peers" / "unoserver_convert.py"),
                                        str(folder), str(args.servers)])
        rates["unoserver"] = _report("unoserver", result, f"{args.servers} servers, {args.servers} client threads")

    with PeakMemory() as memory:
        with ConverterPool(workers=args.workers) as pool:
            # The same warm-up as the peers': LibreOffice started, the pool's first conversions done.
            # Its worker processes started too, as the service keeps them from batch to batch.
            with RenderProcesses(pool.size) as processes:
                list(BatchGenerator(renderer, pool, processes=processes).run(items[:4 * args.workers]))
                generator = BatchGenerator(renderer, pool, processes=processes)
                started = time.perf_counter()
                made = sum(1 for result in generator.run(items) if result.ok)
                seconds = time.perf_counter() - started
    engine = len(items) / seconds
    print(f"Parcours   {engine:6.2f} documents/s  ({made} of {len(items)} made, {seconds:.1f} s, render included, "
          f"{args.workers} LibreOffice workers, {pool.size} worker processes, peak {memory.peak / 2**20:.0f} MiB, "
          f"load {_load()})")
    print(f"    {generator.path}")
    for name, rate in rates.items():
        if rate:
            print(f"Parcours / {name} = x{engine / rate:.1f}" + (" (target: at least x5)" if name == "Carbone" else ""))
    shutil.rmtree(folder, ignore_errors=True)


def _report(name: str, result: dict | str, how: str) -> float:
    if isinstance(result, str):
        print(f"{name:<10} {result}")
        return 0.0
    rate = result["documents"] / result["seconds"]
    print(f"{name:<10} {rate:6.2f} documents/s  ({result['documents']} documents, {result['failed']} failed, "
          f"{result['seconds']:.1f} s, start-up {result['startup']:.1f} s apart, {how}, "
          f"peak {result['peak'] / 2**20:.0f} MiB, load {_load()})")
    return rate if not result["failed"] else rate * (result["documents"] - result["failed"]) / result["documents"]


def _load() -> str:
    return os.getloadavg()[0].__format__(".2f")


if __name__ == "__main__":
    main()
