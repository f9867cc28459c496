"""Immutable, content-addressed blob store: files named by their sha256, never rewritten.

Three backends, chosen by PARCOURS_BLOB_STORE (container.open_blobs): this folder (local, or a shared mount that
gives an atomic rename within a folder and honours fsync, e.g. NFSv4 with sync; not an object-storage
FUSE mount), a table of the service's database (blobs_db), an S3 bucket (blobs_s3). All name a blob
by its sha256, store it once and never change it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BlobNotFound(LookupError):
    """No blob has this sha256."""


def valid_digest(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


class BlobStore:
    """Local folder backend: <root>/ab/cd/abcd…; written to a temporary file, fsynced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        if not valid_digest(digest):
            raise BlobNotFound(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest  # same name, same bytes: never rewritten
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            os.chmod(path, 0o444)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def exists(self, digest: str) -> bool:
        try:
            return self._path(digest).exists()
        except BlobNotFound:
            return False

