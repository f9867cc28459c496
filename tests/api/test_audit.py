"""The audit trail in the service: appended in the caller's transaction, never forked, never changed, checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from asn1crypto import cms, tsp
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from api_helpers import bearer
from parcours.http.api import PREFIX
from parcours.models import AuditAnchor, AuditEvent
from parcours.cli import main
from parcours.db import Database
from parcours.models import ApiToken, TemplateVersion
from parcours.service import audit, documents

T0 = dt.datetime(2027, 1, 12, 13, 30, tzinfo=dt.timezone.utc)


class FakeTimeStamper:
    """Returns an unsigned, deterministic RFC 3161 token with the right imprint."""

    def __init__(self) -> None:
        self.digests: list[bytes] = []

    def timestamp(self, digest: bytes) -> bytes:
        self.digests.append(digest)
        info = tsp.TSTInfo({"version": "v1", "policy": "1.2.3.4", "serial_number": len(self.digests), "gen_time": T0,
                            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}})
        signed = cms.SignedData({"version": "v3", "digest_algorithms": [], "signer_infos": [],
                                 "encap_content_info": {"content_type": "tst_info", "content": info}})
        return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


@pytest.fixture
def db(app) -> Database:
    return app.extensions["parcours"].db


def _append(db: Database, n: int, subject_id: str = "1", type_: str = "link.opened") -> None:
    with db.session() as session:
        for i in range(n):
            audit.record(session, type_, subject_type="signature_request", subject_id=subject_id,
                         actor="signer@example.com", data={"i": i}, ip="192.0.2.1", user_agent="Firefox")


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent))


def _bypass_triggers(db: Database, statement: str) -> None:
    """What only someone with the database's owner rights can do: change a row behind the triggers."""
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            connection.exec_driver_sql(statement)
            connection.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
            connection.exec_driver_sql(statement)


# --- recording --------------------------------------------------------------------------------------

def test_events_are_chained_in_order_and_the_chain_verifies(db):
    _append(db, 3)
    with db.session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.sequence)))
        report = audit.verify(session, batch_size=2)
    assert [r.sequence for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64 and rows[1].prev_hash == rows[0].hash
    assert report.ok and report.count == 3 and report.head_hash == rows[-1].hash


def test_events_appended_together_follow_the_head_and_chain_as_one_by_one(db):
    _append(db, 1)
    with db.session() as session:
        appended = audit.record_all(session, [
            audit.Entry("link.opened", "signature_request", i, "signer@example.com", {"i": i}) for i in (7, 8, 9)])
    _append(db, 1)
    with db.session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.sequence)))
        report = audit.verify(session, batch_size=2)
    assert [r.sequence for r in rows] == [1, 2, 3, 4, 5] and [row["sequence"] for row in appended] == [2, 3, 4]
    assert [r.subject_id for r in rows[1:4]] == ["7", "8", "9"]
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:]))
    assert report.ok and report.count == 5


def test_an_event_recorded_in_a_rolled_back_transaction_leaves_nothing(db):
    with pytest.raises(RuntimeError):
        with db.session() as session:
            audit.record(session, "email.sent", subject_type="signature_request", subject_id=1, actor="system", data={})
            raise RuntimeError("the caller's work failed")
    assert _count(db) == 0
    _append(db, 1)
    with db.session() as session:
        assert session.scalar(select(AuditEvent.sequence)) == 1


def test_floats_are_refused_before_anything_is_written(db):
    with pytest.raises(ValueError, match="float"):
        with db.session() as session:
            audit.record(session, "signed", subject_type="document", subject_id=1, actor="x", data={"amount": 1.5})
    assert _count(db) == 0


@pytest.mark.parametrize("write_first", [False, True])
def test_concurrent_appends_never_fork_the_chain(db, write_first):
    """Threads append at once, some after a write of their own (the lock is then already held on SQLite)."""
    threads_count, per_thread = 8, 5
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with db.session() as session:
                    if write_first and k % 2:
                        session.add(ApiToken(label=f"t{k}-{i}", role="hr", token_hash=f"{k}-{i}", prefix="prc_"))
                        session.flush()
                    audit.record(session, "code.checked", subject_type="signature_request", subject_id=str(k),
                                 actor="signer", data={"thread": k, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with db.session() as session:
        report = audit.verify(session, batch_size=7)
        sequences = list(session.scalars(select(AuditEvent.sequence).order_by(AuditEvent.sequence)))
    assert report.ok, report.message
    assert report.count == threads_count * per_thread
    assert sequences == list(range(1, threads_count * per_thread + 1))


def _template_version(db: Database) -> TemplateVersion:
    with db.session() as session:
        return session.scalar(select(TemplateVersion).order_by(TemplateVersion.id).limit(1))


def test_a_generated_document_leaves_an_event_with_its_sha256(app, db):
    blobs = app.extensions["parcours"].blobs
    version = _template_version(db)
    pdf, docx = b"%PDF-1.7 fake", b"PK fake docx"
    with db.session() as session:
        row = documents.store(session, blobs, version.id, documents.NewVersion("E0003", pdf, 1, {}, docx),
                              created_by="SIRH")
        document_id = row.document_id
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.type == "document.generated"))
    assert event.subject_type == "document" and event.subject_id == str(document_id)
    assert event.actor == "SIRH"
    assert event.data["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.data["docx_sha256"] == hashlib.sha256(docx).hexdigest()
    assert event.data["matricule"] == "E0003" and event.data["template_version_id"] == version.id
    assert event.data["version"] == 1 and event.data["batch_id"] is None


def test_a_document_that_is_not_kept_leaves_no_event(app, db):
    blobs = app.extensions["parcours"].blobs
    version = _template_version(db)
    session = db.new_session()
    try:
        documents.store(session, blobs, version.id, documents.NewVersion("E0003", b"%PDF", 1, {}), created_by="lot",
                        batch_id=None)
        session.rollback()  # what a batch does when the item was cancelled meanwhile
    finally:
        session.close()
    assert _count(db) == 0


# --- append-only --------------------------------------------------------------------------------------

def test_the_database_refuses_to_update_or_delete_an_event(db):
    _append(db, 2)
    for statement in (update(AuditEvent).where(AuditEvent.sequence == 1).values(actor="mallory"),
                      delete(AuditEvent).where(AuditEvent.sequence == 2),
                      delete(AuditEvent)):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.session() as session:
                session.execute(statement)
    assert _count(db) == 2


def test_the_database_refuses_to_update_or_delete_an_anchor(db):
    _append(db, 1)
    with db.session() as session:
        audit.anchor(session, FakeTimeStamper())
    for statement in (update(AuditAnchor).values(head_hash="0" * 64), delete(AuditAnchor)):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.session() as session:
                session.execute(statement)


def _cli(settings, *args: str):
    env = {"PARCOURS_DATABASE_URL": settings.database_url, "PARCOURS_INSTANCE_DIR": str(settings.instance_dir)}
    return CliRunner().invoke(main, ["audit", *args], env=env)


def test_audit_verify_says_the_chain_is_intact(settings, db):
    _append(db, 4)
    result = _cli(settings, "verify")
    assert result.exit_code == 0, result.output
    assert "chaîne intacte : 4 événements, tête " in result.output


def test_an_edited_audit_row_is_caught_by_parcours_audit_verify(settings, db):
    _append(db, 5)
    _bypass_triggers(db, "UPDATE audit_events SET actor = 'mallory' WHERE sequence = 3")
    result = _cli(settings, "verify")
    assert result.exit_code == 1
    assert "chaîne rompue à l'événement n° 3" in result.output and "modifié" in result.output


def test_a_deleted_audit_row_is_caught_as_a_gap(settings, db):
    _append(db, 5)
    _bypass_triggers(db, "DELETE FROM audit_events WHERE sequence = 2")
    result = _cli(settings, "verify")
    assert result.exit_code == 1 and "n° 2" in result.output and "supprimé" in result.output


def test_a_rewritten_history_is_caught_by_its_anchor(db):
    _append(db, 3)
    with db.session() as session:
        audit.anchor(session, FakeTimeStamper())
    # The operator deletes everything and writes a new, self-consistent chain of the same length.
    _bypass_triggers(db, "DELETE FROM audit_events")
    _append(db, 3, subject_id="forged")
    with db.session() as session:
        report = audit.verify(session)
    assert not report.ok and report.reason == "anchor" and report.broken_sequence == 3


def test_a_chain_cut_after_its_anchor_is_reported(db):
    _append(db, 3)
    with db.session() as session:
        audit.anchor(session, FakeTimeStamper())
    _bypass_triggers(db, "DELETE FROM audit_events WHERE sequence = 3")
    with db.session() as session:
        report = audit.verify(session)
    assert not report.ok and report.reason == "truncated" and report.broken_sequence == 3


# --- anchoring ----------------------------------------------------------------------------------------

def test_the_head_is_anchored_with_a_token_over_its_hash(db):
    assert audit.anchor(db.new_session(), FakeTimeStamper()) is None  # an empty chain: nothing to anchor
    _append(db, 3)
    stamper = FakeTimeStamper()
    with db.session() as session:
        row = audit.anchor(session, stamper)
        head = session.scalar(select(AuditEvent.hash).where(AuditEvent.sequence == 3))
    assert row.sequence == 3 and row.head_hash == head and stamper.digests == [bytes.fromhex(head)]
    _append(db, 2)
    with db.session() as session:
        report = audit.verify(session, batch_size=2)
    assert report.ok and report.count == 5 and report.anchors_checked == 1


def test_anchor_if_due_anchors_at_most_daily_and_only_new_events(db):
    stamper = FakeTimeStamper()
    _append(db, 1)
    with db.session() as session:
        assert audit.anchor_if_due(session, stamper) is not None
    _append(db, 1)
    with db.session() as session:  # the last anchor is younger than a day
        assert audit.anchor_if_due(session, stamper) is None
    with db.session() as session:
        assert audit.anchor_if_due(session, stamper, max_age=dt.timedelta(0)) is not None
    with db.session() as session:  # nothing new since: no anchor
        assert audit.anchor_if_due(session, stamper, max_age=dt.timedelta(0)) is None


def test_the_head_is_anchored_by_the_signing_engines_local_tsa(db):
    pki = pytest.importorskip("signing.pki")
    authority = pki.create_authority("Parcours test", b"passphrase")
    _append(db, 2)
    with db.session() as session:
        row = audit.anchor(session, pki.timestamper(None, authority))
    with db.session() as session:
        report = audit.verify(session)
    assert report.ok and report.anchors_checked == 1 and row.sequence == 2
    assert row.created_at.year >= 2026


# --- API ----------------------------------------------------------------------------------------------

def test_auditors_and_hr_page_through_events_filtered_by_subject(client, tokens, db):
    _append(db, 3, subject_id="7")
    _append(db, 2, subject_id="8")
    for role in ("auditor", "hr"):
        first = client.get(f"{PREFIX}/audit/events?limit=2", headers=bearer(tokens[role]))
        assert first.status_code == 200, first.json
        assert [e["sequence"] for e in first.json["items"]] == [1, 2]
        second = client.get(f"{PREFIX}/audit/events?limit=2&cursor={first.json['next_cursor']}",
                            headers=bearer(tokens[role]))
        assert [e["sequence"] for e in second.json["items"]] == [3, 4]
    about = client.get(f"{PREFIX}/audit/events?subject_type=signature_request&subject_id=8",
                       headers=bearer(tokens["auditor"])).json
    assert [e["sequence"] for e in about["items"]] == [4, 5] and about["next_cursor"] is None
    event = about["items"][0]
    assert event["ip"] == "192.0.2.1" and event["user_agent"] == "Firefox" and event["data"] == {"i": 0}
    assert event["time"].endswith("+00:00") and len(event["hash"]) == 64


def test_the_verify_endpoint_gives_the_report(client, tokens, db):
    _append(db, 3)
    report = client.get(f"{PREFIX}/audit/verify", headers=bearer(tokens["auditor"])).json
    assert report["ok"] and report["count"] == 3 and report["message"].startswith("chaîne intacte")
    _bypass_triggers(db, "UPDATE audit_events SET data = '{\"i\": 9}' WHERE sequence = 2")
    report = client.get(f"{PREFIX}/audit/verify", headers=bearer(tokens["hr"])).json
    assert not report["ok"] and report["broken_sequence"] == 2 and report["reason"] == "hash"


def test_the_audit_api_is_for_auditors_and_hr_only(client, tokens):
    for path in ("/audit/events", "/audit/verify"):
        assert client.get(f"{PREFIX}{path}").status_code == 401
        assert client.get(f"{PREFIX}{path}", headers=bearer(tokens["admin"])).status_code == 403


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "cursor=abc", "cursor=-1"])
def test_bad_paging_parameters_are_422_naming_the_field(client, tokens, query):
    response = client.get(f"{PREFIX}/audit/events?{query}", headers=bearer(tokens["auditor"]))
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == query.split("=")[0]


def test_the_audit_api_has_no_write_route(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{PREFIX}/audit"):
            assert rule.methods - {"GET", "HEAD", "OPTIONS"} == set()


def _batch(db: Database, version_id: int, statuses: dict[str, str]) -> tuple[int, list[int]]:
    """A batch of the given items (matricule: status), its results not recorded yet: (batch id, item ids)."""
    from parcours.models import Batch, BatchItem

    with db.session() as session:
        batch = Batch(template_version_id=version_id, total=len(statuses), created_by="SIRH")
        session.add(batch)
        session.flush()
        items = [BatchItem(batch=batch, position=i, matricule=matricule, status=status)
                 for i, (matricule, status) in enumerate(statuses.items())]
        session.add_all(items)
        session.flush()
        return batch.id, [item.id for item in items]


def test_a_batch_document_leaves_an_event_naming_its_batch(app, db):
    from docgen.batch import DocumentResult
    from parcours.service import batches

    version = _template_version(db)
    batch_id, (item_id,) = _batch(db, version.id, {"E0004": "pending"})
    pdf = b"%PDF-1.7 batch"
    assert batches._record(db, app.extensions["parcours"].blobs, batch_id,
                           [(item_id, DocumentResult("E0004", pdf, 1), {})], version.id, "SIRH")
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.type == "document.generated"))
    assert event.data["batch_id"] == batch_id and event.data["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.data["docx_sha256"] is None and event.actor == "SIRH"


def test_a_group_of_batch_results_records_only_the_items_still_pending(app, db):
    from docgen.batch import DocumentResult
    from parcours.models import Batch, BatchItem, Document
    from parcours.service import batches

    version = _template_version(db)
    batch_id, ids = _batch(db, version.id, {"E0002": "pending", "E0003": "cancelled", "E0004": "pending",
                                            "E0005": "pending"})
    results = [DocumentResult("E0002", b"%PDF-1.7 two", 1), DocumentResult("E0003", b"%PDF-1.7 three", 1),
               DocumentResult("E0004", error="entretien.date : valeur manquante"), DocumentResult("E0005", b"%PDF five", 2)]
    assert not batches._record(db, app.extensions["parcours"].blobs, batch_id,
                               [(i, r, {"m": r.key}) for i, r in zip(ids, results)], version.id, "SIRH")
    with db.session() as session:
        recorded = {item.matricule: (item.status, item.document_id is not None, item.error)
                    for item in session.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id))}
        batch = session.get(Batch, batch_id)
        made = sorted(session.scalars(select(Document.matricule).where(Document.batch_id == batch_id)))
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.type == "document.generated")
                                      .order_by(AuditEvent.sequence)))
        report = audit.verify(session)
    assert recorded == {"E0002": ("done", True, None), "E0003": ("cancelled", False, None),
                        "E0004": ("failed", False, "entretien.date : valeur manquante"), "E0005": ("done", True, None)}
    assert (batch.done, batch.failed) == (2, 1) and made == ["E0002", "E0005"]
    assert [e.data["matricule"] for e in events] == ["E0002", "E0005"] and report.ok


def test_audit_anchor_without_an_external_tsa_uses_the_instances_own(settings, db):
    from parcours.service import pki as instance_pki

    instance_pki.forget()
    _append(db, 1)
    result = _cli(settings, "anchor")
    assert result.exit_code == 0 and "événement n° 1" in result.output, result.output
    verified = _cli(settings, "verify")
    assert verified.exit_code == 0 and "horodatages vérifiés : 1" in verified.output


def test_audit_anchor_timestamps_the_head_then_verify_checks_it(settings, db, monkeypatch):
    from parcours.cli import audit as cli_audit

    monkeypatch.setattr(cli_audit, "_timestamper", FakeTimeStamper)
    assert "vide" in _cli(settings, "anchor").output
    _append(db, 2)
    result = _cli(settings, "anchor")
    assert result.exit_code == 0 and "événement n° 2" in result.output, result.output
    assert "Rien à horodater" in _cli(settings, "anchor", "--si-du").output
    verified = _cli(settings, "verify")
    assert verified.exit_code == 0 and "horodatages vérifiés : 1" in verified.output


def test_the_chain_is_anchored_daily_by_a_job_that_plans_the_next(app, tmp_path):
    from sqlalchemy import select, update

    from parcours.models import AuditAnchor
    from parcours.jobs.runner import JobRunner
    from parcours.models import Job, utcnow
    from parcours.service import audit as service, pki as instance_pki

    instance_pki.forget()
    services = app.extensions["parcours"]
    with services.db.session() as session:
        service.schedule_daily_anchor(session)
        service.schedule_daily_anchor(session)  # a second start-up adds no second job
        service.record(session, "document.generated", subject_type="document", subject_id=1, actor="test",
                       data={"pdf_sha256": "0" * 64})
    with services.db.session() as session:
        assert len(session.scalars(select(Job).where(Job.kind == service.ANCHOR_JOB)).all()) == 1
    runner = JobRunner(services.db, services, workers=1)
    runner.run(runner.claim(frozenset({service.ANCHOR_JOB})))
    with services.db.session() as session:
        anchors = session.scalars(select(AuditAnchor)).all()
        jobs = session.scalars(select(Job).where(Job.kind == service.ANCHOR_JOB).order_by(Job.id)).all()
        assert len(anchors) == 1
        assert [j.status for j in jobs] == ["done", "queued"]
        tomorrow = jobs[1].run_at if jobs[1].run_at.tzinfo else jobs[1].run_at.replace(tzinfo=utcnow().tzinfo)
        assert tomorrow > utcnow() + dt.timedelta(hours=23)
        session.execute(update(Job).where(Job.id == jobs[1].id).values(run_at=utcnow()))
    runner.run(runner.claim(frozenset({service.ANCHOR_JOB})))  # nothing new since: no second anchor
    with services.db.session() as session:
        assert len(session.scalars(select(AuditAnchor)).all()) == 1
