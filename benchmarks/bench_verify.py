"""Benchmark verifying a signed compte rendu (manager, employee, B-LTA document timestamp), as an auditor does.

Targets: the median of `signing.validate.validate` at most 1.1 times the baseline's, and under 100 ms on the
project's machines. Baseline, in the same invocation: `signing.pades.verify`, pyHanko's plain per-signature
check (no AdES process, no report), on the same file; the ratio is what compares runs on a busy machine.

    .venv/bin/python benchmarks/bench_verify.py --runs 30 [--pdf sealed.pdf --root root.pem]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402

from bench_signing import compte_rendu  # noqa: E402
from signing import pades, pki  # noqa: E402
from signing.validate import TrustInputs, validate  # noqa: E402

TARGET = 0.100
RATIO_TARGET = 1.1
logging.disable(logging.WARNING)  # pyHanko logs each check it could not improve


def signed_compte_rendu() -> tuple[bytes, TrustInputs]:
    authority = pki.create_authority("Atelier Lumière", b"bench", crl_url="http://127.0.0.1:9/crl")
    inputs = pades.ValidationInputs((authority.root_certificate,), crls=authority.crls)
    stamper = pki.LocalTimeStamper(authority)
    pdf = pades.prepare(compte_rendu())
    for field, name, role, certify, locks, fill in (
            ("signature_manager", "François Rousseau", "Chef d’atelier", True, ["signature_manager"], None),
            ("signature_salarie", "Moussa N’Diaye", "Salarié", False, ["signature_salarie", "commentaires_salarie"],
             {"commentaires_salarie": "D’accord avec ce compte rendu."})):
        credentials = pki.issue_signer_certificate(authority, name=name, email="x@atelier.example", role=role)
        pdf = pades.sign(pdf, field=field, credentials=credentials, timestamper=stamper, validation=inputs,
                         appearance=pades.Appearance(name, role), certify=certify, lock_fields=locks, fill=fill)
    return pades.seal(pdf, stamper, inputs), TrustInputs((authority.root_certificate,), crls=authority.crls)


def timed(runs: int, *fns) -> list[list[float]]:
    """Each function `runs` times, interleaved (one of each per round), so that the load of a shared machine
    weighs on all of them alike; after one warm-up call of each."""
    for fn in fns:
        fn()  # warm: imports, caches
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, series in zip(fns, times):
            start = time.perf_counter()
            fn()
            series.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pdf", type=Path, help="a signed PDF (else one is made: needs LibreOffice)")
    parser.add_argument("--root", type=Path, help="its root certificate (PEM), with --pdf")
    args = parser.parse_args()
    if args.pdf:
        pdf = args.pdf.read_bytes()
        trust = TrustInputs(tuple(x509.load_pem_x509_certificates(args.root.read_bytes())))
    else:
        pdf, trust = signed_compte_rendu()
    report = validate(pdf, trust)
    print(f"file: {len(pdf)} bytes, {len(report.signatures)} signatures and timestamps, verdict {report.indication}")
    baseline, full = timed(args.runs, lambda: pades.verify(pdf, trust.trust_roots), lambda: validate(pdf, trust))
    for name, times in (("baseline pades.verify", baseline), ("validate (AdES report)", full)):
        ordered = sorted(times)
        print(f"{name:24} median {statistics.median(times) * 1000:6.1f} ms   "
              f"p90 {ordered[int(len(ordered) * 0.9) - 1] * 1000:6.1f} ms   ({args.runs} runs)")
    median = statistics.median(full)
    ratio = median / statistics.median(baseline)
    print(f"ratio validate / baseline: {ratio:.2f} (target <= {RATIO_TARGET}: {'met' if ratio <= RATIO_TARGET else 'NOT met'})")
    print(f"median validate: {median * 1000:.1f} ms (target < {TARGET * 1000:.0f} ms: "
          f"{'met' if median < TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
