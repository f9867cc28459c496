"""Batches: one document per employee, made in the background by "batch_chunk" jobs of up to 160 items.

Creation builds every employee's context at once (a wrong value fails that employee alone) and
enqueues the chunks in the same transaction. A chunk job records its results in one transaction
(RECORDED_TOGETHER), which takes only the items still pending, so a job run twice, after a crash or a
lost lease, never makes a second document. Chunk jobs hold a short lease renewed by a heartbeat:
when a process dies, its chunks are taken up again by any runner within the job runner's lease (parcours.jobs).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import re
import tempfile
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from docgen import csvsafe
from docgen.batch import (LETTERS_PER_CHUNK, BatchGenerator, DocumentResult, RenderProcesses, chunk_sizes, cut,
                          letters_per_chunk)
from docgen.batch import BatchItem as EngineItem
from docgen.dataset import ContextError, Dataset
from docgen.letters import assess
from parcours import snapshot
from parcours.container import Services
from parcours.db import Database
from parcours.errors import Conflict, Invalid, NotFound
from parcours.jobs.runner import MAX_ATTEMPTS, enqueue, handler
from parcours.models import Batch, BatchItem, DocumentVersion, Job, TemplateVersion, utcnow
from parcours.service import audit, documents, templates, webhooks

log = logging.getLogger(__name__)
KIND = "batch_chunk"
PARTIAL = "partially_completed"
"""Ended with documents made and items failed; its failed items can be retried (retry_failed)."""
FINISHED = ("completed", PARTIAL, "failed", "cancelled")
# Items are inserted and recorded through the tables, not the ORM: no objects to synchronise, and a fraction
# of the CPU (once a document).
_BATCHES, _ITEMS = Batch.__table__, BatchItem.__table__


@dataclass(frozen=True)
class Progress:
    """A batch's counters and speed, for its JSON view."""

    cancelled: int
    pending: int
    per_second: float | None
    estimated_end: dt.datetime | None


# --- creation --------------------------------------------------------------------------------------

def create_batch(services: Services, session: Session, *, template: Any, template_version: Any, matricules: Any,
                 raw_values: Any, uploaded: Dataset | None, created_by: str, idempotency_key: str | None,
                 request_hash: str) -> tuple[Batch, bool]:
    """Create the batch, its items and its chunk jobs, and commit; (batch, False) when the key was seen."""
    if idempotency_key:
        existing = same_request(session, idempotency_key, request_hash, created_by)
        if existing is not None:
            return existing, False
    version, wanted, values, dataset = _prepare(services, session, template, template_version, matricules, raw_values,
                                                uploaded)
    try:
        batch = _insert(session, version.id, _chunking(services, version), wanted, values, dataset,
                        idempotency_key, request_hash, created_by)
        session.commit()
    except IntegrityError:
        # Another request with the same key inserted first (PostgreSQL and SQLite both say so at the insert,
        # once the other transaction commits): answer as for a retry.
        session.rollback()
        existing = same_request(session, idempotency_key, request_hash, created_by) if idempotency_key else None
        if existing is None:
            raise Conflict("Lot en cours de création", "Une autre requête avec la même clé d'idempotence est en "
                           "cours : réessayez dans un instant.") from None
        return existing, False
    return batch, True


def add_batch(services: Services, session: Session, *, template: Any, matricules: list[str], raw_values: Any,
              created_by: str, chunks: list[dict[str, Any]] | None = None) -> Batch:
    """A batch, its items and its chunk jobs in the caller's transaction, not committed (a campaign adds
    its interviews and convocations in the same one). Given a list `chunks`, the chunk jobs' payloads are
    put there for the caller to enqueue (a campaign interleaves its convocations' and trames')."""
    version, wanted, values, dataset = _prepare(services, session, template, None, matricules, raw_values, None)
    return _insert(session, version.id, _chunking(services, version), wanted, values, dataset, None, None,
                   created_by, chunks)


def _prepare(services: Services, session: Session, template: Any, template_version: Any, matricules: Any,
             raw_values: Any, uploaded: Dataset | None) -> tuple[TemplateVersion, list[str], Any, Dataset]:
    """The template version, the employees, their values and data, each checked (422 naming what is wrong)."""
    version = documents.find_template_version(session, template, template_version)
    values = documents.parse_values(raw_values, services.settings.timezone, per_employee=True)
    wanted = _matricules(matricules)
    if uploaded is not None:
        dataset = uploaded
    else:
        dataset = documents.employee_dataset(session, wanted, values)
    documents.check_common(values, dataset)
    if wanted is None:
        # Managers loaded only as managers are not part of "everyone" when a list was given.
        wanted = sorted(dataset.employees)
    unknown = [m for m in wanted if m not in dataset.employees]
    if unknown:
        raise Invalid("Salariés introuvables", f"Matricules inconnus : {', '.join(unknown[:50])}.",
                      errors=[{"field": "matricules", "reason": "salarié inconnu", "value": m} for m in unknown[:100]])
    if not wanted:
        raise Invalid("Aucun salarié", "Le lot ne contiendrait aucun document : importez d'abord des salariés.",
                      errors=[{"field": "matricules", "reason": "aucun salarié"}])
    return version, wanted, values, dataset


@dataclass(frozen=True)
class _Chunking:
    """How a template version's items are cut into chunk jobs: long chunks if its letters can share one
    section, in a multiple of the LibreOffice workers (docgen.batch.chunk_sizes)."""

    size: int
    workers: int

    def cut(self, ids: list[int]) -> list[list[int]]:
        return cut(ids, chunk_sizes(len(ids), self.workers, self.size))


def _chunking(services: Services, version: TemplateVersion) -> _Chunking:
    """The version's path as its inspection found it at upload (no template to fetch); for a version
    inspected before paths were, as its template says."""
    one_section = ((version.inspection or {}).get("batch_path") or {}).get("one_section")
    if one_section is None:
        renderer = documents.renderer_for(services.blobs, version, services.settings.timezone)
        one_section = assess(renderer.template).one_section
    return _Chunking(letters_per_chunk(one_section), services.workers)


def _insert(session: Session, version_id: int, chunking: _Chunking, wanted: list[str], values: Any, dataset: Dataset,
            idempotency_key: str | None, request_hash: str | None, created_by: str,
            chunks: list[dict[str, Any]] | None = None) -> Batch:
    """The batch, its items (each context built now: an employee whose values are wrong fails alone) and
    its chunk jobs, in the caller's transaction."""
    batch = Batch(template_version_id=version_id, status="pending", total=len(wanted), done=0, failed=0,
                  idempotency_key=idempotency_key or None, request_hash=request_hash, created_by=created_by)
    session.add(batch)
    session.flush()
    ready, failed = [], []
    for position, matricule in enumerate(wanted):
        try:
            context = values.context(dataset, matricule)
        except ContextError as exc:
            failed.append(dict(batch_id=batch.id, position=position, matricule=matricule, status="failed",
                               error=f"salarié {matricule} : {exc}"))
            continue
        ready.append(dict(batch_id=batch.id, position=position, matricule=matricule, status="pending",
                          snapshot=snapshot.dump(context)))
    # Into the table rather than through the ORM: a thousand items' flush was a tenth
    # of the CPU a batch cost the service, spent before its first chunk could start.
    pending = session.execute(insert(_ITEMS).returning(_ITEMS.c.id, sort_by_parameter_order=True),
                              ready).scalars().all() if ready else []
    if failed:  # without a snapshot: SQL NULL, which retry_failed leaves out (None would store JSON null)
        session.execute(insert(_ITEMS), failed)
    batch.failed = len(failed)
    if not pending:
        batch.status, batch.finished_at = "failed", utcnow()
        webhooks.batch_finished(session, batch.id)
    for chunk in chunking.cut(pending):
        payload = {"batch_id": batch.id, "items": chunk}
        if chunks is None:
            enqueue(session, KIND, payload)
        else:
            chunks.append(payload)
    return batch


def same_request(session: Session, key: str, request_hash: str, created_by: str) -> Batch | None:
    """The batch made earlier with this key, if the request is the same; 422 if it differs."""
    existing = session.scalar(select(Batch).where(Batch.idempotency_key == key))
    if existing is None:
        return None
    if existing.request_hash != request_hash or existing.created_by != created_by:
        raise Invalid("Clé d'idempotence déjà utilisée",
                      "Cette clé Idempotency-Key a servi à une autre requête : choisissez une nouvelle clé.",
                      batch_id=existing.id)
    return existing


def _matricules(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(m, str) and m.strip() for m in raw):
        raise Invalid("Valeurs invalides", errors=[{"field": "matricules", "reason": "une liste de matricules est attendue"}])
    duplicates = sorted(m for m, n in Counter(raw).items() if n > 1)
    if duplicates:
        raise Invalid("Valeurs invalides", errors=[{"field": "matricules", "reason": "matricule en double", "value": m}
                                                       for m in duplicates[:100]])
    return list(raw)


# --- reading -----------------------------------------------------------------------------------------

def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound("Lot introuvable", f"Aucun lot n'a l'identifiant {batch_id}.")
    return batch


def item_counts(session: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """{batch id: {item status: count}} in one query."""
    counts: dict[int, dict[str, int]] = {batch_id: {} for batch_id in batch_ids}
    for batch_id, status, count in session.execute(
            select(BatchItem.batch_id, BatchItem.status, func.count()).where(BatchItem.batch_id.in_(batch_ids))
            .group_by(BatchItem.batch_id, BatchItem.status)):
        counts[batch_id][status] = count
    return counts


def progress(batch: Batch, counts: dict[str, int], now: dt.datetime | None = None) -> Progress:
    """Speed since the first chunk started, and when the rest should be done at that speed."""
    now = now or utcnow()
    rate = estimated = None
    if batch.started_at is not None:
        seconds = ((batch.finished_at or now) - batch.started_at).total_seconds()
        if seconds > 0 and batch.done:
            rate = batch.done / seconds
    pending = counts.get("pending", 0)
    if rate and pending and batch.status == "running":
        estimated = now + dt.timedelta(seconds=pending / rate)
    return Progress(counts.get("cancelled", 0), pending, rate, estimated)


def cancel(session: Session, batch: Batch) -> Batch:
    """Stop a batch: its pending items become cancelled (a chunk running now skips them)."""
    if batch.status in FINISHED and batch.status != "cancelled":
        raise Conflict("Lot terminé", f"Le lot {batch.id} est déjà terminé ({batch.status}) : rien à annuler.")
    if batch.status == "pending" or batch.status == "running":
        # The chain's lock first, as a chunk recording its results takes it before locking their items: on
        # PostgreSQL the two would otherwise lock the same rows in different orders and deadlock.
        audit.lock_chain(session)
        session.execute(update(BatchItem).where(BatchItem.batch_id == batch.id, BatchItem.status == "pending")
                        .values(status="cancelled", error="lot annulé"))
        batch.status = "cancelled"
        batch.finished_at = utcnow()
    session.commit()
    return batch


def write_zip(session: Session, blobs: Any, batch: Batch) -> IO[bytes]:
    """Every PDF of the batch and manifest.csv, in a temporary file (a batch may hold thousands)."""
    name, _ = templates.name_and_number(session, batch.template_version_id)
    stem = _safe(name)
    out = tempfile.TemporaryFile()
    manifest = io.StringIO()
    manifest.write(csvsafe.BOM)
    writer = csvsafe.writer(manifest, **csvsafe.FRENCH)
    writer.writerow(["matricule", "fichier", "sha256", "pages", "erreur"])
    rows = session.execute(
        select(BatchItem.matricule, BatchItem.status, BatchItem.error, DocumentVersion.pdf_sha256, DocumentVersion.pages)
        .outerjoin(DocumentVersion, (DocumentVersion.document_id == BatchItem.document_id) & (DocumentVersion.number == 1))
        .where(BatchItem.batch_id == batch.id).order_by(BatchItem.position)
        .execution_options(yield_per=500))
    # PDFs are compressed already: stored as they are, the archive is quick to make.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for matricule, status, error, sha, pages in rows:
            if sha is None:
                writer.writerow([matricule, "", "", "", error or _UNFINISHED.get(status, status)])
                continue
            filename = f"{stem}-{_safe(matricule)}.pdf"
            with archive.open(filename, "w", force_zip64=False) as entry:
                entry.write(blobs.get(sha))
            writer.writerow([matricule, filename, sha, pages, ""])
        archive.writestr("manifest.csv", manifest.getvalue().encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    out.seek(0)
    return out


_UNFINISHED = {"pending": "en attente", "cancelled": "lot annulé"}


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "document"


# --- the chunk job -----------------------------------------------------------------------------------

@handler(KIND)
def run_chunk(services: Services, job: Job) -> None:
    """Generate the pending items of one chunk and record its results (RECORDED_TOGETHER at a time)."""
    db: Database = services.db
    batch_id, item_ids = job.payload["batch_id"], job.payload["items"]
    try:
        _run_chunk(services, db, batch_id, item_ids)
    except Exception as exc:
        if job.attempts >= MAX_ATTEMPTS:
            # The job will not be tried again: its items must not wait for ever. What they say is for
            # API clients: no internal path (the log has the details); the batch can be retried.
            _fail_pending(db, batch_id, item_ids, public_reason(exc, job.attempts))
            _finish_if_done(db, batch_id)
        else:
            _note_incident(db, item_ids, exc, job.attempts)
        raise


def _note_incident(db: Database, item_ids: list[int], exc: BaseException, attempts: int) -> None:
    """While a chunk waits for its next attempt, its pending items say why (the batch shows it)."""
    what = public_reason(exc, attempts).split(" après ")[0]
    try:
        with db.session() as session:
            session.execute(update(BatchItem).where(BatchItem.id.in_(item_ids), BatchItem.status == "pending")
                            .values(error=f"nouvel essai prévu ({attempts} sur {MAX_ATTEMPTS}) : {what}"))
    except Exception:  # noqa: BLE001 - the database may be what is down; the job is retried anyway
        log.warning("batch items %s: incident not recorded", item_ids, exc_info=True)


def incident(session: Session, batch: Batch) -> str | None:
    """What keeps a running batch waiting (a storage outage, say), while it lasts."""
    if batch.status not in ("pending", "running"):
        return None
    return session.scalar(select(BatchItem.error).where(
        BatchItem.batch_id == batch.id, BatchItem.status == "pending", BatchItem.error.is_not(None)).limit(1))


def public_reason(exc: BaseException, attempts: int) -> str:
    """Why a chunk's items failed, in French and without the server's paths or internals."""
    if isinstance(exc, OSError):
        what = "le stockage des documents était indisponible"
    else:
        what = "erreur interne : " + (re.sub(r"(?<![\w.])(/[\w.@~+-]+)+/?", "…", str(exc)) or type(exc).__name__)
    return f"{what} après {attempts} essais : relancez les éléments en échec (POST /batches/{{id}}/retry)"


def retry_failed(services: Services, session: Session, batch: Batch) -> int:
    """Put an ended batch's failed items back to work (those with their data: the others failed on
    the data itself, which a retry would not change); returns how many. Enqueues their chunk jobs in
    the caller's transaction."""
    if batch.status not in (PARTIAL, "failed"):
        state = "en cours" if batch.status in ("pending", "running") else batch.status
        raise Conflict("Rien à relancer", f"Le lot {batch.id} est {_STATUS_FR.get(state, state)} : seuls les "
                                          "éléments en échec d'un lot terminé se relancent.")
    ids = list(session.scalars(select(BatchItem.id).where(
        BatchItem.batch_id == batch.id, BatchItem.status == "failed", BatchItem.snapshot.is_not(None))
        .order_by(BatchItem.position)))
    if not ids:
        raise Conflict("Rien à relancer", f"Les échecs du lot {batch.id} viennent des données des salariés : "
                                          "corrigez-les puis créez un nouveau lot.")
    session.execute(update(BatchItem).where(BatchItem.id.in_(ids)).values(status="pending", error=None))
    session.execute(update(Batch).where(Batch.id == batch.id).values(
        status="running", failed=Batch.failed - len(ids), finished_at=None))
    for chunk in _chunking(services, session.get(TemplateVersion, batch.template_version_id)).cut(ids):
        enqueue(session, KIND, {"batch_id": batch.id, "items": chunk})
    return len(ids)


_STATUS_FR = {"en cours": "en cours", "completed": "terminé sans échec", "cancelled": "annulé"}


def _run_chunk(services: Services, db: Database, batch_id: int, item_ids: list[int]) -> None:
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            return
        if batch.status == "cancelled":
            _cancel_pending(session, batch_id, item_ids)
            items = []
        else:
            session.execute(update(Batch).where(Batch.id == batch_id, Batch.status == "pending")
                            .values(status="running", started_at=utcnow()))
            items = session.execute(select(BatchItem.id, BatchItem.matricule, BatchItem.snapshot).where(
                BatchItem.id.in_(item_ids), BatchItem.status == "pending").order_by(BatchItem.position)).all()
        version = session.get(TemplateVersion, batch.template_version_id)
        created_by = batch.created_by
        renderer = documents.renderer_for(services.blobs, version, services.settings.timezone) if items else None
        version_id = version.id
    if items:
        ids = {matricule: item_id for item_id, matricule, _ in items}
        snapshots = {matricule: data for _, matricule, data in items}
        generator = _generator(renderer, services.converter(), services.render_processes())
        # The job is the chunk: the runner's threads already keep every LibreOffice worker busy.
        results = generator.run_chunk([EngineItem(matricule, snapshot.load(data)) for _, matricule, data in items])
        for start in range(0, len(results), RECORDED_TOGETHER):
            group = [(ids[result.key], result, snapshots[result.key])
                     for result in results[start:start + RECORDED_TOGETHER]]
            recorded = _record(db, services.blobs, batch_id, group, version_id, created_by)
            if not recorded and _status(db, batch_id) == "cancelled":
                break
    _finish_if_done(db, batch_id)


_generators: dict[tuple[int, int, int], BatchGenerator] = {}
_generators_lock = threading.Lock()


def _generator(renderer: Any, converter: Any, processes: RenderProcesses | None) -> BatchGenerator:
    """One generator per template, pool and worker processes, shared by the chunks: the page count « sur Y »
    and the footer's place it learnt from the first chunk spare the next ones a conversion of their own."""
    key = (id(renderer), id(converter), id(processes))
    with _generators_lock:
        generator = _generators.get(key)
        if generator is None or generator.renderer is not renderer or generator.converter is not converter \
                or (generator.processes or None) is not processes:
            if len(_generators) >= 16:
                _generators.clear()
            generator = _generators[key] = BatchGenerator(renderer, converter, processes=processes or 0)
        return generator


RECORDED_TOGETHER = LETTERS_PER_CHUNK
"""A chunk's results are recorded in one transaction: they all arrive at once, when its PDF is split. One lock, one
commit and one pair of syncfs per chunk, not per 25 letters: the record's CPU fell by a quarter (1000 letters: 0.25
against 0.33 s), and the chain's lock is held about 10 ms (15 at most). Tests lower it to cancel between two groups."""

_ITEM_RECORDED = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(
    status=bindparam("new_status"), document_id=bindparam("new_document"), error=bindparam("new_error"))


def _record(db: Database, blobs: Any, batch_id: int, group: list[tuple[int, DocumentResult, dict[str, Any]]],
            version_id: int, created_by: str) -> bool:
    """Results of a chunk (item id, result, snapshot) in one transaction, each with its item's status; only those
    whose item is still pending (not made before, not cancelled): False if some were not. A storage outage
    records the results before the first PDF it kept from being stored, then is raised."""
    made = {item_id: documents.NewVersion(result.key, result.pdf, result.pages, data)
            for item_id, result, data in group if result.ok}
    shas, outage = _put_blobs(blobs, list(made.values()))
    if outage is not None:  # only what comes before the first PDF not stored
        lost = list(made)[len(shas)]
        group = list(itertools.takewhile(lambda entry: entry[0] != lost, group))
    sha_of = dict(zip(made, shas))
    session = db.new_session()
    try:
        # The audit chain's lock first, as every append takes it, then the items still pending, locked until commit.
        audit.lock_chain(session)
        pending = set(session.scalars(select(_ITEMS.c.id).where(
            _ITEMS.c.id.in_([item_id for item_id, _, _ in group]), _ITEMS.c.status == "pending").with_for_update()))
        still = [(item_id, result) for item_id, result, _ in group if item_id in pending]
        stored_ids = [item_id for item_id, result in still if result.ok]
        stored = documents.insert_all(session, version_id, [made[item_id] for item_id in stored_ids],
                                      [sha_of[item_id] for item_id in stored_ids], created_by=created_by,
                                      batch_id=batch_id)
        document_of = {item_id: row.document_id for item_id, row in zip(stored_ids, stored)}
        if still:
            session.execute(_ITEM_RECORDED, [
                dict(item_id=item_id, new_status="done" if result.ok else "failed",
                     new_document=document_of.get(item_id), new_error=result.error) for item_id, result in still])
            session.execute(update(_BATCHES).where(_BATCHES.c.id == batch_id).values(
                done=_BATCHES.c.done + len(stored), failed=_BATCHES.c.failed + len(still) - len(stored)))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    if outage is not None:
        raise outage
    return len(still) == len(group)


def _put_blobs(blobs: Any, news: list[Any]) -> tuple[list[tuple[str, str | None]], Exception | None]:
    """The PDFs stored together; during a storage outage, those that could be stored one by one before it, and the
    outage."""
    try:
        return documents.put_blobs(blobs, news), None
    except Exception as exc:  # noqa: BLE001 - any store's outage (S3 and database ones raise their own errors)
        shas: list[tuple[str, str | None]] = []
        for new in news:
            try:
                shas += documents.put_blobs(blobs, [new])
            except Exception:  # noqa: BLE001 - the same outage: raised once what came before is recorded
                return shas, exc
        return shas, None


def _status(db: Database, batch_id: int) -> str | None:
    with db.session() as session:
        return session.scalar(select(Batch.status).where(Batch.id == batch_id))


def _cancel_pending(session: Session, batch_id: int, item_ids: list[int]) -> None:
    session.execute(update(BatchItem).where(BatchItem.id.in_(item_ids), BatchItem.status == "pending")
                    .values(status="cancelled", error="lot annulé"))


def _fail_pending(db: Database, batch_id: int, item_ids: list[int], error: str) -> None:
    with db.session() as session:
        failed = session.execute(update(BatchItem).where(BatchItem.id.in_(item_ids), BatchItem.status == "pending")
                                 .values(status="failed", error=error)).rowcount
        session.execute(update(Batch).where(Batch.id == batch_id).values(failed=Batch.failed + failed))


def _finish_if_done(db: Database, batch_id: int) -> None:
    """When no item is pending any more: completed, partially completed if some items failed, or
    failed if not one document was made."""
    with db.session() as session:
        left = session.scalar(select(func.count()).select_from(BatchItem).where(
            BatchItem.batch_id == batch_id, BatchItem.status == "pending"))
        if left:
            return
        done, failed = session.execute(select(Batch.done, Batch.failed).where(Batch.id == batch_id)).one()
        status = "failed" if not done else PARTIAL if failed else "completed"
        finished = session.execute(update(Batch).where(Batch.id == batch_id, Batch.status.in_(("pending", "running")))
                                   .values(status=status, finished_at=utcnow())).rowcount
        if finished:
            webhooks.batch_finished(session, batch_id)
