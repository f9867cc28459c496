"""Immutable, content-addressed blob store: files named by their sha256, never rewritten.

Three backends, chosen by PARCOURS_BLOB_STORE (container.open_blobs): this folder (local, or a shared mount that
gives an atomic rename within a folder and honours fsync, e.g. NFSv4 with sync; not an object-storage
FUSE mount), a table of the service's database (blobs_db), an S3 bucket (blobs_s3). All name a blob
by its sha256, store it once and never change it."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path


_syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None) if sys.platform == "linux" else None


def _durable(paths: Iterable[Path | str]) -> None:
    """Files or folders written to disk. On Linux, one syncfs of their filesystem (they share the store's):
    one journal commit for a batch's group of PDFs instead of two fsyncs each, which cost three times the
    CPU. Elsewhere, an fsync each."""
    global _syncfs
    paths = list(paths)
    if not paths:
        return
    if _syncfs is not None:
        descriptor = os.open(paths[0], os.O_RDONLY)
        try:
            if _syncfs(descriptor) == 0:
                return
            error = ctypes.get_errno()
        finally:
            os.close(descriptor)
        if error not in (errno.ENOSYS, errno.EPERM, errno.EACCES):
            raise OSError(error, os.strerror(error), str(paths[0]))
        _syncfs = None  # refused (a sandbox's seccomp filter, say): an fsync each from now on
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _incoming(path: Path, data: bytes) -> str:
    """`data` in a new read-only temporary file beside `path` (its folder made if need be); the file's name."""
    for _ in range(2):
        try:
            descriptor, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
            break
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
    else:  # pragma: no cover - the folder vanished again
        raise FileNotFoundError(2, "No such file or directory", str(path.parent))
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o444)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


class BlobNotFound(LookupError):
    """No blob has this sha256."""


def valid_digest(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


class BlobStore:
    """Local folder backend: <root>/ab/cd/abcd…; written to a temporary file, made durable, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        if not valid_digest(digest):
            raise BlobNotFound(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its sha256."""
        return self.put_all([data])[0]

    def put_all(self, blobs: Sequence[bytes]) -> list[str]:
        """Store each (once) and return their sha256, all durable on return: each written to a temporary file,
        made durable, renamed, the names made durable."""
        digests, paths, incoming = [], [], {}
        try:
            for data in blobs:
                digest = hashlib.sha256(data).hexdigest()
                path = self._path(digest)
                digests.append(digest)
                paths.append(path)
                if digest not in incoming and not path.exists():  # same name, same bytes: never rewritten
                    incoming[digest] = (_incoming(path, data), path)
            _durable([tmp for tmp, _ in incoming.values()])
            for tmp, path in incoming.values():
                os.replace(tmp, path)
        except BaseException:
            for tmp, _ in incoming.values():
                Path(tmp).unlink(missing_ok=True)
            raise
        # The renames themselves survive a crash; so do names found already there (another writer may not have
        # made its own rename durable yet), and the folders above them, which this call or another may have just
        # made (with syncfs, one call makes all of it durable).
        _durable({folder for path in paths for folder in (path.parent, path.parent.parent)} | {self.root})
        return digests

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

