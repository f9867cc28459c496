"""A campaign from creation to every e-mail accepted by the SMTP server, against the batch engine alone, in one run.

    .venv/bin/python benchmarks/bench_campaign.py                 # 2 000 synthetic employees
    .venv/bin/python benchmarks/bench_campaign.py --employees 300

Starts an SMTP server (aiosmtpd, in this process, counting what it accepts) and the real service (waitress,
SQLite, its own instance folder) in a subprocess; imports N synthetic employees (all due for an interview),
warms LibreOffice up with a small batch, then times POST /campaigns until the SMTP server has accepted every
message (the employee's, with the convocation, the trame and the invitation; the interviewer's invitation).
The baseline is docgen's BatchGenerator alone, in this process, making the same convocations and trames with
as many LibreOffice workers. Prints documents per second for both and the ratio: sending must not halve the
batch engine's rate (target: at least 0.50).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aiosmtpd.controller import Controller  # noqa: E402
from bench_api_batch import call, free_port, run_batch, seeded_instance, serve  # noqa: E402

from docgen.batch import BatchGenerator, BatchItem  # noqa: E402
from docgen.convert import ConverterPool  # noqa: E402
from docgen.render import DocxRenderer  # noqa: E402
from docgen.values import load_values  # noqa: E402
from parcours import resources  # noqa: E402
from parcours.service import due  # noqa: E402

HOURS = ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "14:00", "14:30", "15:00", "15:30", "16:00"]


class Counter:
    """An SMTP handler that counts the messages it accepts and the bytes they weigh."""

    def __init__(self) -> None:
        self.messages = self.bytes = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.content)
        return "250 OK"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    folder, instance, dataset, token, common = seeded_instance("parcours-campaign-bench-", args.employees)
    sample_interview = common.pop("entretien")  # a campaign's come from the calendar and the slots
    matricules = [m for m in dataset.employees if m != "M0000"]

    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    server, base = serve(instance, args.workers, folder / "server.log",
                         PARCOURS_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", PARCOURS_MAIL_FROM="rh@example.fr",
                         PARCOURS_ORGANISATION="Atelier Lumière")
    try:
        run_batch(base, token, matricules[:10], {**common, "entretien": sample_interview})
        body = {"name": "Banc d'essai", "population": {"managers": ["M0000"]}, "period": {"debut": "2027-01-04", "fin": "2027-12-31"}, "values": common,
                "creneaux": {"debut": "2027-01-11", "heures": HOURS, "lieu": "Salle 1"}}
        started = time.perf_counter()
        campaign = call(f"{base}/campaigns", token, body)
        created = time.perf_counter() - started
        expected = 2 * campaign["total"]  # the employee's message and the interviewer's invitation
        last, stalled = 0, time.perf_counter()
        while counter.messages < expected:
            time.sleep(0.2)
            if counter.messages != last:
                last, stalled = counter.messages, time.perf_counter()
            elif time.perf_counter() - stalled > 600:
                raise SystemExit(f"no message for 10 minutes: {counter.messages}/{expected}; see {folder / 'server.log'}")
        seconds = time.perf_counter() - started
        documents = 2 * campaign["total"]
        campaign_rate = documents / seconds
        print(f"campaign {campaign_rate:6.2f} documents/s  ({campaign['total']} employees: {documents} PDFs made, "
              f"{counter.messages} e-mails accepted, {counter.bytes / 1e6:.0f} MB; {seconds:.1f} s from POST to the "
              f"last e-mail, of which {created:.1f} s for the POST itself; {args.workers} workers)")
    finally:
        children = _children(server.pid)  # its LibreOffice processes would outlive it
        server.terminate()
        server.wait(timeout=30)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        smtp.stop()

    values = load_values({**common, "entretien": sample_interview})
    items = [BatchItem(m, values.context(dataset, m)) for m in matricules]
    engine_documents, engine_seconds = 0, 0.0
    with ConverterPool(workers=args.workers) as pool:
        for name in (due.DEFAULT_TEMPLATE, "trame"):
            renderer = DocxRenderer((resources.DOCUMENTS / f"{name}.docx").read_bytes(), f"{name}.docx")
            generator = BatchGenerator(renderer, pool)
            list(generator.run(items[:10]))  # the same warm-up
            started = time.perf_counter()
            engine_documents += sum(1 for result in generator.run(items) if result.ok)
            engine_seconds += time.perf_counter() - started
    engine_rate = engine_documents / engine_seconds
    print(f"engine   {engine_rate:6.2f} documents/s  ({engine_documents} convocations and trames, no database, "
          "no e-mail)")
    print(f"campaign / engine = {campaign_rate / engine_rate:.2f} (target: at least 0.50)")


if __name__ == "__main__":
    main()
