"""The seam the scale-out needs: a plain Python process, with no Flask application, opens the services,
creates a batch and runs its chunk jobs against a real database and LibreOffice."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from api_helpers import database

WORKER = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    from docgen.dataset import load_dataset_dir
    from parcours import resources
    from parcours.container import Services
    from parcours.jobs import handlers  # noqa: F401 - every kind of job registered, as a worker would
    from parcours.jobs.runner import JobRunner
    from parcours.models import Batch, Document
    from parcours.service import batches, employees, templates
    from parcours.settings import Settings

    services = Services.open(Settings(instance_dir=Path(sys.argv[1]), database_url=sys.argv[2], workers=1))
    templates.seed_shipped(services.db, services.blobs)
    with services.db.session() as session:
        employees.upsert_dataset(session, load_dataset_dir(resources.SAMPLES).dataset)
    values = json.loads((resources.SAMPLES / "campagne.json").read_text(encoding="utf-8"))
    with services.db.session() as session:
        batch, _ = batches.create_batch(
            services, session, template="convocation", template_version=None, matricules=["E0002", "E0003"],
            raw_values=values, uploaded=None, created_by="worker", idempotency_key=None, request_hash="-")
        batch_id = batch.id
    runner, kinds = JobRunner(services.db, services, 1), []
    while (job_id := runner.claim()) is not None:
        runner.run(job_id)
        kinds.append(job_id)
    with services.db.session() as session:
        done = session.get(Batch, batch_id)
        pdfs = [services.blobs.get(d.versions[-1].pdf_sha256)[:5].decode()
                for d in session.query(Document).filter_by(batch_id=batch_id)]
        result = {"status": done.status, "done": done.done, "jobs": len(kinds), "pdfs": pdfs,
                  "flask": sorted(k for k in sys.modules if k.split(".")[0] in ("flask", "werkzeug"))}
    services.close()
    print(json.dumps(result))
""")


@pytest.mark.libreoffice
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_plain_process_runs_a_batch_chunk_job_without_flask(kind, tmp_path):
    with database(kind, tmp_path) as url:
        done = subprocess.run([sys.executable, "-W", "ignore", "-c", WORKER, str(tmp_path / "instance"), url],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": "completed", "done": 2, "jobs": 1, "pdfs": ["%PDF-", "%PDF-"], "flask": []}
