"""Benchmark importing employees from CSV: linear in the number of rows, chains of unknown managers included.

Three generated files, imported with `docgen.dataset.load_dataset` (skip_invalid, as the service does):
1 000 employees (the baseline), 100 000 employees, and 2 500 employees forming a chain whose head names an
unknown manager (every row is then left out, one after the other). Each is printed in seconds and as a ratio
of its time per row to the baseline's, measured in the same invocation: a linear import keeps the ratio near 1.
Target: 100 000 rows under 10 s on the project's machines.

    .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--chain 2500] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docgen.dataset import load_dataset  # noqa: E402

TARGET = 10.0
HEADER = ("matricule,civilite,nom,prenom,email,date_naissance,date_entree,poste,service,site,"
          "manager_matricule,date_dernier_entretien")


def employees_csv(rows: int, *, chain: bool = False) -> bytes:
    """`rows` employees; a tree of teams of 10 by default, or one chain whose head's manager is unknown."""
    lines = [HEADER]
    for index in range(rows):
        if chain:
            manager = "INCONNU" if index == 0 else f"E{index - 1:06d}"
        else:
            manager = "" if index == 0 else f"E{(index - 1) // 10:06d}"
        lines.append(f"E{index:06d},{'Mme' if index % 2 else 'M.'},Nom{index},Prénom{index},"
                     f"p{index}@example.fr,1980-0{index % 9 + 1}-1{index % 10},2015-03-02,Technicien,"
                     f"Atelier,Lyon,{manager},2024-0{index % 9 + 1}-15")
    return ("\n".join(lines) + "\n").encode()


def timed(data: bytes, runs: int) -> tuple[float, int, int]:
    """Median seconds over `runs` imports; the employees kept and the rows refused by the last one."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = load_dataset(data, names={"employees": "employees.csv"}, skip_invalid=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(result.dataset.employees), len(result.errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=2_500)
    parser.add_argument("--runs", type=int, default=3, help="runs of each file (the median is shown)")
    args = parser.parse_args()

    cases = [("baseline", 1_000, False, args.runs), ("large", args.rows, False, max(1, args.runs // 3)),
             ("chain of unknown managers", args.chain, True, args.runs)]
    timed(employees_csv(100), 1)  # warm: imports, caches
    baseline_per_row = None
    slowest = 0.0
    print(f"{'file':<28}{'rows':>9}{'kept':>9}{'refused':>9}{'seconds':>10}{'per row (µs)':>14}{'ratio':>8}")
    for name, rows, chain, runs in cases:
        data = employees_csv(rows, chain=chain)
        seconds, kept, refused = timed(data, runs)
        per_row = seconds / rows
        baseline_per_row = baseline_per_row or per_row
        ratio = per_row / baseline_per_row
        if name == "large":
            slowest = seconds
        print(f"{name:<28}{rows:>9}{kept:>9}{refused:>9}{seconds:>10.3f}{per_row * 1e6:>14.1f}{ratio:>8.2f}")
    verdict = "OK" if slowest < TARGET else "TOO SLOW"
    print(f"\n{args.rows} rows in {slowest:.2f} s (target under {TARGET:.0f} s): {verdict}")
    print("ratio: time per row against the 1 000-row baseline in this run; near 1 means linear")
    return 0 if slowest < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
