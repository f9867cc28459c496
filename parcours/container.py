"""The service container: settings, database, blobs, the LibreOffice pool and the job runner of one
process, built from the settings alone. No Flask: a worker or a command uses it as the HTTP layer does."""

from __future__ import annotations

import gc
import os
import threading
from dataclasses import dataclass, field

from docgen.batch import RenderProcesses
from docgen.convert import ConverterPool
from parcours.blobs import BlobStore
from parcours.db import Database
from parcours.jobs.runner import JobRunner, dispatch_after_commit
from parcours.settings import Settings


@dataclass
class Services:
    """What the services and jobs use; one per process (one per application under Flask)."""

    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobRunner | None = None
    _converter: ConverterPool | None = field(default=None, repr=False)
    _render_processes: RenderProcesses | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """The instance folder made, the schema brought to the latest migration, the blob store ready."""
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        db.upgrade()
        return cls(settings, db, open_blobs(settings, db))

    @property
    def workers(self) -> int:
        return self.settings.workers or os.cpu_count() or 1

    def converter(self) -> ConverterPool:
        """The LibreOffice pool, started on first use (it takes a second or two)."""
        with self._lock:
            if self._converter is None or self._converter.closed:
                self._converter = ConverterPool(workers=self.workers, timeout=self.settings.conversion_timeout)
            return self._converter

    def render_processes(self) -> RenderProcesses | None:
        """Worker processes for the batches' Python part, when this process's job threads run batches side by
        side (the embedded runner; a Celery worker's processes run one chunk each) and the settings allow."""
        if self.jobs is None or not self.settings.batch_processes:
            return None
        with self._lock:
            if self._closed:
                return None  # stopping: what is left of a chunk runs in its thread
            if self._render_processes is None:
                self._render_processes = RenderProcesses(self.workers)
            return self._render_processes

    def close(self) -> None:
        """Stop the jobs (the running ones end), close LibreOffice (its processes and profiles go), the
        database; once (a signal's stop and the exit may both call it)."""
        if self._closed:
            return
        self._closed = True
        dispatch_after_commit(self.db, None)
        if self.jobs is not None:
            self.jobs.stop()
        if self._converter is not None:
            self._converter.close()
        if self._render_processes is not None:
            self._render_processes.close()
        self.db.dispose()


def open_blobs(settings: Settings, db: Database) -> BlobStore:
    """The store PARCOURS_BLOB_STORE names: the folder when empty, "database", or s3://bucket/prefix."""
    if settings.blob_store == "database":
        from parcours.blobs_db import DatabaseBlobStore

        return DatabaseBlobStore(db.engine)  # type: ignore[return-value]
    if settings.blob_store.startswith("s3://"):
        from parcours.blobs_s3 import S3BlobStore

        return S3BlobStore.from_url(settings.blob_store, settings.s3_endpoint_url)  # type: ignore[return-value]
    return BlobStore(settings.resolved_blob_dir)


def keep_for_good() -> None:
    """For a long-running process once started: what it holds now (modules, the application, its services) is
    kept out of the collector's full passes. Each of them went through these 220 000 objects again, 0.1 to 0.2 s
    holding the GIL, about once per batch of 1000 letters; they now scan only what came after."""
    gc.collect()  # what is garbage now is freed, not frozen with the rest
    gc.freeze()
