"""Batches: created at once with each employee's data, made by background chunk jobs, cancelled, zipped."""

import csv
import dataclasses
import hashlib
import io
import json
import time
import zipfile

import pytest
from sqlalchemy import func, select, update

from api_helpers import SAMPLES, SharedPool, bearer, lend_pool
from docx_factory import make_docx
from docgen import batch as engine
from docgen.batch import LETTERS_PER_CHUNK, chunk_sizes
from parcours.app import create_app
from parcours.service.tokens import create_token
from parcours.jobs.runner import MAX_ATTEMPTS, JobRunner
from parcours.models import Batch, BatchItem, Document, Employee, Job, TemplateVersion
from parcours.service import batches as service
from test_documents_api import CAMPAIGN, PROBLEM, add_template, ensure_convocation

SAMPLE_COUNT = 25


@pytest.fixture
def employees(app):
    from docgen.dataset import load_dataset_dir
    from parcours.service.employees import upsert_dataset

    ensure_convocation(app)
    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)


@pytest.fixture
def running(settings, pool):
    """An app whose job runner is on (run_jobs=True), with the session's LibreOffice pool and its tokens."""
    application = create_app(dataclasses.replace(settings, run_jobs=True))
    lend_pool(application, pool)  # before any job asks for a converter
    container = application.extensions["parcours"]
    ensure_convocation(application)
    with container.db.session() as session:
        from docgen.dataset import load_dataset_dir
        from parcours.service.employees import upsert_dataset

        upsert_dataset(session, load_dataset_dir(SAMPLES).dataset)
        hr, _ = create_token(session, "hr", "test hr")
        auditor, _ = create_token(session, "auditor", "test auditor")
    yield application, application.test_client(), {"hr": hr, "auditor": auditor}
    container.close()


def start(client, token, key=None, **body):
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/v1/batches", json={"template": "convocation", "values": CAMPAIGN, **body}, headers=headers)


def wait(client, token, batch_id, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(token)).json
        if batch["status"] in service.FINISHED:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} not finished after {timeout} s: {batch}")


def run_jobs_here(app) -> int:
    """Run every due job in this thread (for apps whose runner is off); returns how many ran."""
    container = app.extensions["parcours"]
    runner, ran = JobRunner(container.db, container, 1), 0
    while (job_id := runner.claim()) is not None:
        runner.run(job_id)
        ran += 1
    return ran


def read_zip(data: bytes) -> tuple[dict[str, bytes], list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: archive.read(name) for name in archive.namelist()}
    manifest = list(csv.DictReader(io.StringIO(files.pop("manifest.csv").decode("utf-8-sig")), delimiter=";"))
    return files, manifest


def documents_per_matricule(app, batch_id) -> dict[str, int]:
    with app.extensions["parcours"].db.session() as session:
        return dict(session.execute(select(Document.matricule, func.count()).where(Document.batch_id == batch_id)
                                    .group_by(Document.matricule)).all())


@pytest.mark.libreoffice
def test_a_batch_makes_one_document_per_employee_and_reports_the_failed_ones(running):
    app, client, tokens = running
    # E0001 has no manager: this template cannot be filled for them (fails in the job);
    # E0010's hour is wrong (fails at creation). The others finish.
    add_template(app, "avec_manager", make_docx("{{ salarie.prenom }} {{ salarie.nom }}, responsable : {{ manager.nom }}"))
    values = {**CAMPAIGN, "salaries": {**CAMPAIGN["salaries"], "E0010": {"entretien": {"heure": "99:00"}}}}
    started = time.perf_counter()
    response = start(client, tokens["hr"], template="avec_manager", values=values)
    assert response.status_code == 202, response.json
    batch = response.json
    assert batch["total"] == SAMPLE_COUNT and batch["failed"] == 1 and batch["created_by"] == "test hr"
    assert response.headers["Location"].endswith(f"/api/v1/batches/{batch['id']}")

    batch = wait(client, tokens["auditor"], batch["id"])
    assert batch["status"] == "partially_completed"
    assert (batch["done"], batch["failed"], batch["cancelled"], batch["pending"]) == (SAMPLE_COUNT - 2, 2, 0, 0)
    assert batch["documents_per_second"] > 0 and batch["finished_at"] and batch["estimated_end"] is None
    print(f"\n{batch['done']} documents through the API in {time.perf_counter() - started:.1f} s")

    failed = client.get(batch["links"]["failed_items"], headers=bearer(tokens["auditor"])).json["items"]
    reasons = {item["matricule"]: item["error"] for item in failed}
    assert set(reasons) == {"E0001", "E0010"}
    assert "manager" in reasons["E0001"] and "entretien.heure" in reasons["E0010"]
    assert all(item["document_id"] is None and item["status"] == "failed" for item in failed)
    assert documents_per_matricule(app, batch["id"]) == {m: 1 for m in (f"E{i:04d}" for i in range(2, 26)) if m != "E0010"}

    archive = client.get(batch["links"]["zip"], headers=bearer(tokens["auditor"]))
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    files, manifest = read_zip(archive.data)
    assert len(files) == SAMPLE_COUNT - 2 and all(data.startswith(b"%PDF") for data in files.values())
    assert [row["matricule"] for row in manifest] == [f"E{i:04d}" for i in range(1, 26)]
    for row in manifest:
        if row["fichier"]:
            assert hashlib.sha256(files[row["fichier"]]).hexdigest() == row["sha256"] and int(row["pages"]) >= 1
            assert row["erreur"] == ""
        else:
            assert row["matricule"] in reasons and row["erreur"] == reasons[row["matricule"]]


@pytest.mark.libreoffice
def test_uploaded_employees_are_used_for_that_batch_only(running):
    app, client, tokens = running
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(Employee).where(Employee.matricule == "E0003").values(nom="Ancien-Nom"))
    files = {role: (io.BytesIO((SAMPLES / f"{role}.csv").read_bytes()), f"{role}.csv")
             for role in ("employees", "absences", "formations")}
    response = client.post("/api/v1/batches", headers=bearer(tokens["hr"]), content_type="multipart/form-data", data={
        "template": "convocation", "values": json.dumps(CAMPAIGN), "matricules": json.dumps(["E0003", "E0004"]), **files})
    assert response.status_code == 202, response.json
    batch = wait(client, tokens["hr"], response.json["id"])
    assert batch["status"] == "completed" and batch["done"] == 2
    with app.extensions["parcours"].db.session() as session:
        assert session.get(Employee, "E0003").nom == "Ancien-Nom"  # the database is left as it was
        item = session.scalar(select(BatchItem).where(BatchItem.batch_id == batch["id"], BatchItem.matricule == "E0003"))
        assert item.snapshot["salarie"]["nom"] != "Ancien-Nom"


@pytest.mark.libreoffice
def test_a_chunk_run_again_after_a_crash_makes_no_second_document(app, client, tokens, employees, pool):
    lend_pool(app, pool)
    batch_id = start(client, tokens["hr"], matricules=["E0002", "E0003", "E0004", "E0005", "E0006"]).json["id"]
    assert run_jobs_here(app) == 1
    container = app.extensions["parcours"]
    with container.db.session() as session:
        # As if the process had died after the work but before marking the job done.
        session.execute(update(Job).values(status="queued", run_at=func.now()))
    assert run_jobs_here(app) == 1
    assert documents_per_matricule(app, batch_id) == {"E0002": 1, "E0003": 1, "E0004": 1, "E0005": 1, "E0006": 1}
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json
    assert (batch["status"], batch["done"], batch["failed"]) == ("completed", 5, 0)
    listed = client.get(f"/api/v1/documents?batch={batch_id}", headers=bearer(tokens["auditor"])).json["items"]
    assert len(listed) == 5 and all(d["latest_version"]["docx_sha256"] is None for d in listed)


@pytest.mark.libreoffice
def test_a_chunks_results_are_recorded_together_in_one_transaction(app, client, tokens, employees, pool, monkeypatch):
    """They all arrive at once, when the chunk's PDF is split: one lock and one commit for them, not one per 25."""
    from docgen.dataset import Dataset, load_dataset_dir
    from parcours.service.employees import upsert_dataset

    sample = load_dataset_dir(SAMPLES).dataset.employees["E0003"]
    clones = {f"C{i:04d}": dataclasses.replace(sample, matricule=f"C{i:04d}") for i in range(40)}
    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, Dataset(clones))
    lend_pool(app, pool)
    monkeypatch.setattr(service, "chunk_sizes", lambda count, workers, largest: [count])  # one chunk of 40
    groups, record = [], service._record

    def counted(db, blobs, batch_id, group, *args):
        groups.append(len(group))
        return record(db, blobs, batch_id, group, *args)

    monkeypatch.setattr(service, "_record", counted)
    batch_id = start(client, tokens["hr"], matricules=sorted(clones)).json["id"]
    assert run_jobs_here(app) == 1
    assert groups == [40]
    assert client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json["done"] == 40


@pytest.mark.libreoffice
def test_a_storage_outage_ends_the_batch_partially_completed_without_paths_and_its_failed_items_are_retried(
        app, client, tokens, employees, pool, monkeypatch):
    lend_pool(app, pool)
    wanted = ["E0002", "E0003", "E0004", "E0005", "E0006"]
    batch_id = start(client, tokens["hr"], matricules=wanted).json["id"]
    blobs = app.extensions["parcours"].blobs
    put_all, stored = blobs.put_all, []

    def put_then_outage(datas):
        for data in datas:
            if data not in stored and len(stored) >= 2:  # the folder went read-only after two blobs
                raise PermissionError(1, "Operation not permitted", "/srv/parcours/instance/blobs/76/69")
            put_all([data])
            stored.append(data)
        return put_all(datas)

    monkeypatch.setattr(blobs, "put_all", put_then_outage)
    run_jobs_here(app)  # a first attempt: the batch says what it waits for while the outage lasts
    waiting = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json
    assert waiting["status"] == "running" and waiting["done"] == 2
    assert waiting["incident"] == "nouvel essai prévu (1 sur 5) : le stockage des documents était indisponible"
    with app.extensions["parcours"].db.session() as session:  # the chunk's last attempt, now
        session.execute(update(Job).values(attempts=MAX_ATTEMPTS - 1, run_at=func.now()))
    run_jobs_here(app)
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json
    assert (batch["status"], batch["done"], batch["failed"], batch["incident"]) == ("partially_completed", 2, 3, None)
    failed = client.get(batch["links"]["failed_items"], headers=bearer(tokens["hr"])).json["items"]
    assert len(failed) == 3 and all(i["error"].startswith("le stockage des documents était indisponible")
                                    and "/srv" not in i["error"] and "Errno" not in i["error"] for i in failed)

    monkeypatch.setattr(blobs, "put_all", put_all)  # the storage is back
    retried = client.post(batch["links"]["retry"], headers=bearer(tokens["hr"]))
    assert retried.status_code == 202 and retried.json["status"] == "running"
    assert (retried.json["failed"], retried.json["pending"]) == (0, 3)
    assert run_jobs_here(app) == 1
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json
    assert (batch["status"], batch["done"], batch["failed"]) == ("completed", 5, 0)
    assert documents_per_matricule(app, batch_id) == {m: 1 for m in wanted}
    again = client.post(batch["links"]["retry"], headers=bearer(tokens["hr"]))
    assert again.status_code == 409 and again.content_type == PROBLEM


def test_failures_from_the_employees_data_are_not_retried(client, tokens, employees):
    values = {**CAMPAIGN, "salaries": {**CAMPAIGN["salaries"], "E0010": {"entretien": {"heure": "99:00"}}}}
    batch = start(client, tokens["hr"], matricules=["E0010"], values=values).json
    assert batch["status"] == "failed"
    refused = client.post(f"/api/v1/batches/{batch['id']}/retry", headers=bearer(tokens["hr"]))
    assert refused.status_code == 409 and "données des salariés" in refused.json["detail"]
    assert client.post(f"/api/v1/batches/{batch['id']}/retry", headers=bearer(tokens["auditor"])).status_code == 403


@pytest.mark.libreoffice
def test_cancelling_a_running_batch_stops_it_and_keeps_what_was_made(app, client, tokens, employees, pool, monkeypatch):
    lend_pool(app, pool)
    batch_id = start(client, tokens["hr"]).json["id"]
    record = service._record

    def record_then_cancel(*args, **kwargs):
        recorded = record(*args, **kwargs)
        if client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json["status"] == "running":
            assert client.post(f"/api/v1/batches/{batch_id}/cancel", headers=bearer(tokens["hr"])).status_code == 200
        return recorded

    monkeypatch.setattr(service, "_record", record_then_cancel)
    monkeypatch.setattr(service, "RECORDED_TOGETHER", 4)  # a chunk's results are recorded four at a time
    run_jobs_here(app)
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["auditor"])).json
    assert batch["status"] == "cancelled"
    assert batch["done"] == 4 and batch["cancelled"] == SAMPLE_COUNT - 4 and batch["pending"] == 0
    assert sum(documents_per_matricule(app, batch_id).values()) == 4
    files, manifest = read_zip(client.get(f"/api/v1/batches/{batch_id}/zip", headers=bearer(tokens["hr"])).data)
    assert len(files) == 4 and sum(row["erreur"] == "lot annulé" for row in manifest) == SAMPLE_COUNT - 4


@pytest.mark.parametrize("inspected", ["at upload", "before batch paths"])
def test_a_batch_is_cut_into_chunk_jobs_as_long_as_its_templates_path_allows(app, client, tokens, employees,
                                                                            inspected, monkeypatch):
    # Shorter chunks than the engine's, so that 25 letters cut differently on the two paths (two workers: 7, 6, 6, 6 on the
    # convocation's one section, 5, 4, 4, 4, 4, 4 on the other).
    monkeypatch.setattr(engine, "LETTERS_PER_CHUNK", 12)
    monkeypatch.setattr(engine, "SECTIONS_PER_CHUNK", 5)
    container = app.extensions["parcours"]
    if inspected == "before batch paths":  # the version's inspection says nothing: its template does
        with container.db.session() as session:
            for version in session.scalars(select(TemplateVersion)):
                version.inspection = {key: value for key, value in version.inspection.items() if key != "batch_path"}
            session.commit()
    batch = start(client, tokens["hr"]).json
    with container.db.session() as session:
        jobs = [job.payload["items"] for job in session.scalars(select(Job).where(Job.kind == "batch_chunk"))]
    assert sorted(len(items) for items in jobs) == sorted(chunk_sizes(SAMPLE_COUNT, container.workers, 12))
    assert sum(len(items) for items in jobs) == batch["total"]


def test_a_batch_cancelled_before_its_jobs_run_makes_nothing(app, client, tokens, employees):
    app.extensions["parcours"]._converter = SharedPool(None)  # never asked: nothing is left to convert
    batch = start(client, tokens["hr"]).json
    assert batch["status"] == "pending" and batch["pending"] == SAMPLE_COUNT
    cancelled = client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=bearer(tokens["hr"]))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancelled"] == SAMPLE_COUNT
    assert client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=bearer(tokens["hr"])).status_code == 200
    # Its chunk jobs run and find nothing pending.
    assert run_jobs_here(app) == len(chunk_sizes(SAMPLE_COUNT, app.extensions["parcours"].workers, LETTERS_PER_CHUNK))
    assert documents_per_matricule(app, batch["id"]) == {}
    assert client.get(f"/api/v1/batches/{batch['id']}", headers=bearer(tokens["hr"])).json["status"] == "cancelled"


def test_a_repeated_creation_with_the_same_idempotency_key_returns_the_same_batch(app, client, tokens, employees):
    first = start(client, tokens["hr"], key="campagne-2027-01", matricules=["E0002", "E0003"])
    again = start(client, tokens["hr"], key="campagne-2027-01", matricules=["E0002", "E0003"])
    assert first.status_code == 202 and again.status_code == 200
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = start(client, tokens["hr"], key="campagne-2027-01", matricules=["E0004"])
    assert other.status_code == 422 and other.mimetype == PROBLEM and other.json["batch_id"] == first.json["id"]
    without_key = start(client, tokens["hr"], matricules=["E0002", "E0003"])
    assert without_key.status_code == 202 and without_key.json["id"] != first.json["id"]
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count(Batch.id))) == 2
        assert session.scalar(select(func.count(Job.id))) == 2  # one chunk each: the replay enqueued nothing


def test_batches_are_listed_newest_first_and_items_a_page_at_a_time(app, client, tokens, employees):
    ids = [start(client, tokens["hr"], matricules=[f"E{i:04d}" for i in range(2, 8)]).json["id"] for _ in range(3)]
    page = client.get("/api/v1/batches?limit=2", headers=bearer(tokens["auditor"])).json
    assert [b["id"] for b in page["items"]] == ids[::-1][:2]
    rest = client.get(page["links"]["next"], headers=bearer(tokens["auditor"])).json
    assert [b["id"] for b in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    seen, url = [], f"/api/v1/batches/{ids[0]}/items?limit=4"
    while url:
        answer = client.get(url, headers=bearer(tokens["hr"])).json
        seen += [item["matricule"] for item in answer["items"]]
        url = answer["links"]["next"]
    assert seen == [f"E{i:04d}" for i in range(2, 8)]
    assert client.get(f"/api/v1/batches/{ids[0]}/items?status=done", headers=bearer(tokens["hr"])).json["items"] == []


def test_a_batch_where_every_employee_fails_is_failed_at_once_and_cannot_be_cancelled(client, tokens, employees):
    values = {**CAMPAIGN, "entretien": {**CAMPAIGN["entretien"], "date": "1990-01-01"}}  # before every hiring date
    response = start(client, tokens["hr"], values=values, matricules=["E0002", "E0003"])
    assert response.status_code == 202
    assert (response.json["status"], response.json["failed"]) == ("failed", 2)
    refused = client.post(f"/api/v1/batches/{response.json['id']}/cancel", headers=bearer(tokens["hr"]))
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    files, manifest = read_zip(client.get(response.json["links"]["zip"], headers=bearer(tokens["hr"])).data)
    assert files == {} and all(row["erreur"] for row in manifest)


def test_the_zip_manifest_neutralises_a_formula_in_a_matricule(app, client, tokens, employees):
    from docgen.dataset import load_dataset
    from parcours.service.employees import upsert_dataset

    hyperlink = '=HYPERLINK("http://evil.example","Voir")'  # a matricule has 50 characters at most
    text = (SAMPLES / "employees.csv").read_text(encoding="utf-8")
    text = text.replace("\nE0009,", "\n\"" + hyperlink.replace('"', '""') + "\",", 1)
    with app.extensions["parcours"].db.session() as session:
        upsert_dataset(session, load_dataset(text.encode(), names={"employees": "employees.csv"}).dataset)
    values = {**CAMPAIGN, "entretien": {**CAMPAIGN["entretien"], "date": "1990-01-01"}}  # every employee fails
    response = start(client, tokens["hr"], values=values, matricules=[hyperlink, "E0002"])
    assert response.status_code == 202, response.json

    files, manifest = read_zip(client.get(response.json["links"]["zip"], headers=bearer(tokens["hr"])).data)
    assert [row["matricule"] for row in manifest] == ["'" + hyperlink, "E0002"]
    assert files == {} and not any(cell.startswith(("=", "+", "-", "@")) for row in manifest for cell in row.values())


def test_a_job_that_keeps_failing_fails_its_items_at_the_last_attempt(app, client, tokens, employees, monkeypatch):
    app.extensions["parcours"]._converter = SharedPool(None)

    class Broken:
        def __init__(self, *args, **kwargs):
            pass

        def run_chunk(self, items):
            raise RuntimeError("disque plein")

    monkeypatch.setattr(service, "BatchGenerator", Broken)
    batch_id = start(client, tokens["hr"], matricules=["E0002", "E0003"]).json["id"]
    with app.extensions["parcours"].db.session() as session:
        session.execute(update(Job).values(attempts=MAX_ATTEMPTS - 1))
    run_jobs_here(app)
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=bearer(tokens["hr"])).json
    assert (batch["status"], batch["failed"]) == ("failed", 2)
    items = client.get(f"/api/v1/batches/{batch_id}/items?status=failed", headers=bearer(tokens["hr"])).json["items"]
    assert all("disque plein" in item["error"] for item in items)


def test_the_archive_of_an_unfinished_batch_is_409(client, tokens, employees):
    batch = start(client, tokens["hr"], matricules=["E0002"]).json
    response = client.get(batch["links"]["zip"], headers=bearer(tokens["auditor"]))
    assert response.status_code == 409 and response.mimetype == PROBLEM


@pytest.mark.parametrize("body, field", [
    ({"template": "inconnu"}, "template"),
    ({"values": {**CAMPAIGN, "entretien": {**CAMPAIGN["entretien"], "date": "demain"}}}, "values.entretien.date"),
    ({"values": {**CAMPAIGN, "entretien": {"date": "2027-01-12"}}}, "values.entretien.heure"),
    ({"values": {**CAMPAIGN, "salaries": ["E0001"]}}, "values.salaries"),
    ({"matricules": ["E0002", "E9999"]}, "matricules"),
    ({"matricules": ["E0002", "E0002"]}, "matricules"),
    ({"matricules": []}, "matricules"),
    ({"matricules": "E0002"}, "matricules"),
    ({"priorite": 1}, "priorite"),
])
def test_wrong_requests_are_422_naming_the_field(client, tokens, employees, body, field):
    response = start(client, tokens["hr"], **body)
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM and field in [e["field"] for e in response.json["errors"]]


def test_an_uploaded_file_with_errors_is_422_with_its_rows(client, tokens, employees):
    bad = b"matricule,civilite,nom\nE1,M.,Durand\n"
    response = client.post("/api/v1/batches", headers=bearer(tokens["hr"]), content_type="multipart/form-data", data={
        "template": "convocation", "values": json.dumps(CAMPAIGN), "employees": (io.BytesIO(bad), "salaries.csv")})
    assert response.status_code == 422 and response.json["errors"][0]["file"] == "salaries.csv"
    missing = client.post("/api/v1/batches", headers=bearer(tokens["hr"]), content_type="multipart/form-data",
                          data={"template": "convocation", "values": json.dumps(CAMPAIGN)})
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "employees"
    broken = client.post("/api/v1/batches", headers=bearer(tokens["hr"]), content_type="multipart/form-data", data={
        "template": "convocation", "values": "{pas du json", "employees": (io.BytesIO(bad), "salaries.csv")})
    assert broken.status_code == 422 and broken.json["errors"][0]["field"] == "values"


@pytest.mark.parametrize("method, path, role, status", [
    ("post", "/api/v1/batches", None, 401),
    ("post", "/api/v1/batches", "auditor", 403),
    ("post", "/api/v1/batches", "admin", 403),
    ("get", "/api/v1/batches", None, 401),
    ("get", "/api/v1/batches", "admin", 403),
    ("get", "/api/v1/batches/1", "admin", 403),
    ("get", "/api/v1/batches/1/items", None, 401),
    ("post", "/api/v1/batches/1/cancel", "auditor", 403),
    ("get", "/api/v1/batches/1/zip", "admin", 403),
    ("get", "/api/v1/batches/999", "hr", 404),
    ("get", "/api/v1/batches/999/items", "auditor", 404),
    ("post", "/api/v1/batches/999/cancel", "hr", 404),
    ("get", "/api/v1/batches/999/zip", "auditor", 404),
    ("get", "/api/v1/batches?limit=0", "hr", 422),
    ("get", "/api/v1/batches?cursor=abc", "hr", 422),
])
def test_refusals_are_problems(client, tokens, method, path, role, status):
    response = getattr(client, method)(path, json={}, headers=bearer(tokens[role]) if role else {})
    assert response.status_code == status and response.mimetype == PROBLEM


def test_items_with_an_unknown_status_are_422(client, tokens, employees):
    batch = start(client, tokens["hr"], matricules=["E0002"]).json
    response = client.get(f"/api/v1/batches/{batch['id']}/items?status=perdu", headers=bearer(tokens["hr"]))
    assert response.status_code == 422 and response.mimetype == PROBLEM


def test_the_same_idempotency_key_at_the_same_moment_makes_one_batch_and_no_error(app, tokens, employees):
    import threading

    answers, barrier = [], threading.Barrier(6)

    def create():
        client = app.test_client()
        barrier.wait()
        answers.append(start(client, tokens["hr"], key="campagne-simultanee", matricules=["E0002", "E0003"]))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(a.status_code for a in answers)
    assert len(answers) == 6 and 500 not in statuses and set(statuses) <= {200, 202, 409}, statuses
    assert statuses.count(202) == 1
    made = {a.json["id"] for a in answers if a.status_code in (200, 202)}
    assert len(made) == 1
    with app.extensions["parcours"].db.session() as session:
        assert session.scalar(select(func.count(Batch.id))) == 1
