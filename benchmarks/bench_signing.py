"""Benchmark signing one compte rendu end to end: prepare, manager (certify) and employee (approve)
with fresh one-time certificates, then the B-LTA document timestamp. Target: < 1 s of CPU in all.

    .venv/bin/python benchmarks/bench_signing.py --runs 20 [--pdf /tmp/cr.pdf]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signing import pades, pki  # noqa: E402
from parcours import resources  # noqa: E402

TARGET_CPU = 1.0


def compte_rendu() -> bytes:
    from docgen.dataset import load_dataset_dir
    from docgen.convert import convert_once
    from docgen.render import DocxRenderer
    from docgen.values import load_values

    dataset = load_dataset_dir(resources.SAMPLES).dataset
    values = load_values(resources.SAMPLES / "campagne.json")
    renderer = DocxRenderer((resources.DOCUMENTS / "compte_rendu.docx").read_bytes(), "compte_rendu.docx")
    return convert_once(renderer.render(values.context(dataset, "E0003"), "E0003"))


class Clock:
    def __init__(self):
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def run(self, step, fn, *args, **kwargs):
        c, w = time.process_time(), time.perf_counter()
        result = fn(*args, **kwargs)
        self.cpu[step] = time.process_time() - c
        self.wall[step] = time.perf_counter() - w
        return result


def one_run(pdf: bytes, authority, stamper, validation) -> Clock:
    clock = Clock()
    prepared = clock.run("prepare", pades.prepare, pdf)

    def manager(doc):
        creds = pki.issue_signer_certificate(authority, name="François Rousseau", email="f@atelier.fr", role="Chef d’atelier")
        return pades.sign(doc, field="signature_manager", credentials=creds, timestamper=stamper, validation=validation,
                          appearance=pades.Appearance("M. François Rousseau", "Chef d’atelier"), certify=True,
                          lock_fields=["signature_manager"])

    def employee(doc):
        creds = pki.issue_signer_certificate(authority, name="Moussa N’Diaye", email="m@atelier.fr", role="Salarié")
        return pades.sign(doc, field="signature_salarie", credentials=creds, timestamper=stamper, validation=validation,
                          appearance=pades.Appearance("M. Moussa N’Diaye", "Salarié"),
                          lock_fields=["signature_salarie", "commentaires_salarie"],
                          fill={"commentaires_salarie": "Je suis d’accord avec ce compte rendu."})

    first = clock.run("manager (certify, B-LT)", manager, prepared)
    second = clock.run("employee (fill + approve, B-LT)", employee, first)
    clock.run("seal (document timestamp, B-LTA)", pades.seal, second, stamper, validation)
    return clock


def main() -> int:
    import logging

    logging.getLogger("pyhanko").setLevel(logging.ERROR)  # "fetching is not allowed": on purpose
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pdf", type=Path, help="a compte rendu PDF (generated with LibreOffice otherwise)")
    args = parser.parse_args()
    pdf = args.pdf.read_bytes() if args.pdf else compte_rendu()
    authority = pki.create_authority("Atelier Lumière", b"bench", crl_url="http://127.0.0.1/pki/crl")
    stamper = pki.LocalTimeStamper(authority)
    validation = pades.ValidationInputs((authority.root_certificate,), crls=authority.crls)

    cold = one_run(pdf, authority, stamper, validation)  # font subset cache, imports
    runs = [one_run(pdf, authority, stamper, validation) for _ in range(args.runs)]
    print(f"compte rendu: {len(pdf)} bytes; {args.runs} warm runs (cold first run: "
          f"{sum(cold.cpu.values()):.3f} s CPU, {sum(cold.wall.values()):.3f} s wall)")
    print(f"{'step':36} {'CPU ms':>8} {'wall ms':>8}")
    for step in runs[0].cpu:
        cpu = statistics.median(r.cpu[step] for r in runs) * 1000
        wall = statistics.median(r.wall[step] for r in runs) * 1000
        print(f"{step:36} {cpu:8.1f} {wall:8.1f}")
    total_cpu = statistics.median(sum(r.cpu.values()) for r in runs)
    total_wall = statistics.median(sum(r.wall.values()) for r in runs)
    print(f"{'total (median)':36} {total_cpu * 1000:8.1f} {total_wall * 1000:8.1f}")
    verdict = "OK" if total_cpu < TARGET_CPU else "OVER TARGET"
    print(f"target: < {TARGET_CPU:.1f} s CPU for the whole: {verdict}")
    return 0 if total_cpu < TARGET_CPU else 1


if __name__ == "__main__":
    raise SystemExit(main())
