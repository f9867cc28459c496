"""Blobs in a table of the service's database: one system to back up (PostgreSQL, or SQLite on a laptop).

The table is the blob store's own, created on first use beside the migrated schema: blobs are not
rows of the domain, and a deployment that keeps them in a folder or a bucket has no such table."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Column, DateTime, Engine, Integer, LargeBinary, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError

from parcours.blobs import BlobNotFound, valid_digest

_METADATA = MetaData()
BLOBS = Table("blob_contents", _METADATA,
              Column("sha256", String(64), primary_key=True),
              Column("size", Integer, nullable=False),
              Column("data", LargeBinary, nullable=False),
              Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()))


class DatabaseBlobStore:
    """A row per blob, keyed by its sha256; inserted once, never updated (a second put of the same
    bytes finds the row and writes nothing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _METADATA.create_all(engine, checkfirst=True)

    def put_all(self, blobs: Sequence[bytes]) -> list[str]:
        return [self.put(data) for data in blobs]

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        try:
            with self.engine.begin() as connection:
                connection.execute(BLOBS.insert().values(sha256=digest, size=len(data), data=data))
        except IntegrityError:
            pass  # another process stored the same bytes first
        return digest

    def get(self, digest: str) -> bytes:
        if not valid_digest(digest):
            raise BlobNotFound(digest)
        with self.engine.connect() as connection:
            data = connection.execute(select(BLOBS.c.data).where(BLOBS.c.sha256 == digest)).scalar()
        if data is None:
            raise BlobNotFound(digest)
        return bytes(data)

    def exists(self, digest: str) -> bool:
        if not valid_digest(digest):
            return False
        with self.engine.connect() as connection:
            return connection.execute(select(BLOBS.c.size).where(BLOBS.c.sha256 == digest)).first() is not None
