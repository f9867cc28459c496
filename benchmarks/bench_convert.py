"""Benchmark DOCX to PDF: one soffice process per document (convert_once) against the worker pool.

    .venv/bin/python benchmarks/bench_convert.py --docs 100 --workers 2
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docx
import pypdf
from docx.enum.text import WD_BREAK

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docgen.convert import ConverterPool, convert_once  # noqa: E402

BASELINE_LIMIT = 20


def two_page_convocation() -> bytes:
    """A two-page convocation-like DOCX with French text."""
    document = docx.Document()
    document.add_heading("Convocation à l'entretien de parcours professionnel", level=1)
    document.add_paragraph("Madame Élodie Lefèvre-Dubois, vous êtes convoquée le 1er mars 2027 à 14 h 30.")
    for number in range(8):
        document.add_paragraph(
            f"Article {number + 1}. L'entretien porte sur vos perspectives d'évolution professionnelle, "
            "notamment en termes de qualifications et d'emploi, et sur les formations suivies. " * 2
        )
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("Trame de l'entretien", level=2)
    for number in range(8):
        document.add_paragraph(f"Question {number + 1} : ______________________________________________")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100, help="documents to convert (default 100)")
    parser.add_argument("--workers", type=int, default=None, help="pool workers (default: one per core)")
    parser.add_argument("--plain", action="store_true", help="plain PDF instead of PDF/A-2b")
    args = parser.parse_args()
    workers = args.workers or os.cpu_count() or 1
    pdfa = not args.plain
    source = two_page_convocation()

    baseline_count = min(args.docs, BASELINE_LIMIT)
    started = time.perf_counter()
    sample = b""
    for _ in range(baseline_count):
        sample = convert_once(source, pdfa=pdfa)
    baseline_seconds = time.perf_counter() - started
    baseline_rate = baseline_count / baseline_seconds
    pages = len(pypdf.PdfReader(io.BytesIO(sample)).pages)

    started = time.perf_counter()
    with ConverterPool(workers=workers, pdfa=pdfa) as pool:
        startup_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as threads:
            results = list(threads.map(lambda _: pool.convert(source), range(args.docs)))
        pool_seconds = time.perf_counter() - started
        stats = pool.stats()
    pool_rate = args.docs / pool_seconds
    assert all(result.startswith(b"%PDF-") for result in results)

    kind = "PDF/A-2b" if pdfa else "plain PDF"
    print(f"{args.docs} documents of {pages} pages, {kind}, {os.cpu_count()} cores")
    extrapolated = args.docs / baseline_rate
    note = (
        f" (timed {baseline_count} documents; {args.docs} extrapolated to {extrapolated:.1f} s)"
        if baseline_count < args.docs
        else ""
    )
    print(
        f"(a) convert_once, one soffice per document: {baseline_rate:6.2f} documents/s, "
        f"{1000 / baseline_rate:.0f} ms each{note}"
    )
    print(
        f"(b) ConverterPool, {workers} workers:           {pool_rate:6.2f} documents/s, "
        f"{args.docs} in {pool_seconds:.2f} s (+ {startup_seconds:.2f} s pool start-up, "
        f"{stats.conversions} conversions, {stats.restarts} restarts)"
    )
    print(f"ratio pool / convert_once: {pool_rate / baseline_rate:.1f}x")


if __name__ == "__main__":
    main()
