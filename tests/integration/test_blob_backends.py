"""Every blob backend against a real server: the folder, a table of SQLite and of PostgreSQL, and an S3
bucket served over HTTP by moto's server mode (an S3 emulator from PyPI, moto[server]: the real boto3
client and S3 protocol, not AWS itself). Same contract for all: named by sha256, stored once, never
rewritten, read back intact, unknown or malformed names not found."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from api_helpers import database
from cluster import free_port, wait_for_port
from parcours.blobs import BlobNotFound, BlobStore
from parcours.blobs_db import BLOBS, DatabaseBlobStore
from parcours.blobs_s3 import BlobStoreError, S3BlobStore
from parcours.container import Services, open_blobs
from parcours.db import Database
from parcours.settings import Settings, SettingsError

S3_KEYS = {"AWS_ACCESS_KEY_ID": "parcours", "AWS_SECRET_ACCESS_KEY": "parcours-secret",
           "AWS_DEFAULT_REGION": "eu-west-3"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 server on a port of its own, and a bucket in it."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def s3_keys(monkeypatch):
    for name, value in S3_KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["folder", "sqlite", "postgresql", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        yield BlobStore(tmp_path / "blobs")
        return
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_server")
        request.getfixturevalue("s3_keys")
        bucket = f"parcours-{os.urandom(4).hex()}"
        store = S3BlobStore(bucket, "instance-a/blobs", endpoint)
        store.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        yield store
        return
    with database(request.param, tmp_path) as url:
        db = Database(url)
        yield DatabaseBlobStore(db.engine)
        db.dispose()


def test_a_blob_is_named_by_its_sha256_stored_once_and_read_back(store):
    data = "Convocation de Léa Dupont".encode() * 1000
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data and store.exists(digest)
    assert store.put(data) == digest  # the same bytes again: nothing rewritten
    assert store.get(digest) == data


def test_blobs_stored_together_are_named_in_order_each_stored_once(store):
    known = store.put(b"PDF of E0002")
    blobs = [b"PDF of E0003", b"PDF of E0002", os.urandom(40_000), b"PDF of E0003"]
    digests = store.put_all(blobs)
    assert digests == [hashlib.sha256(data).hexdigest() for data in blobs] and digests[1] == known
    assert [store.get(digest) for digest in digests] == blobs and store.put_all([]) == []


@pytest.mark.parametrize("sync", ["syncfs", "fsync each"])
def test_a_group_is_made_durable_by_syncfs_on_linux_or_else_an_fsync_each(tmp_path, monkeypatch, sync):
    import parcours.blobs as folder

    calls = []
    if sync == "fsync each":  # where the C library has no syncfs
        monkeypatch.setattr(folder, "_syncfs", None)
        fsync = os.fsync
        monkeypatch.setattr(folder.os, "fsync", lambda fd: calls.append(os.readlink(f"/proc/self/fd/{fd}")) or fsync(fd))
    else:
        assert folder._syncfs is not None  # Linux's C library has it
        syncfs = folder._syncfs
        monkeypatch.setattr(folder, "_syncfs", lambda fd: calls.append(os.readlink(f"/proc/self/fd/{fd}")) or syncfs(fd))
    store = BlobStore(tmp_path / "blobs")
    digests = store.put_all([b"PDF of E0002", b"PDF of E0003", b"PDF of E0002"])
    if sync == "syncfs":  # once for the data, once for the names, whatever the group's size
        assert len(calls) == 2
    else:  # each new file's data, then every folder from the names up to the store's own, made here
        root = (tmp_path / "blobs").resolve()
        folders = {root} | {root / d[:2] for d in digests} | {root / d[:2] / d[2:4] for d in digests}
        assert len(calls) == 2 + len(folders) and {Path(path) for path in calls[2:]} == folders
    assert [store.get(digest) for digest in digests] == [b"PDF of E0002", b"PDF of E0003", b"PDF of E0002"]
    assert not [path for path in (tmp_path / "blobs").rglob(".incoming-*")]


def test_a_syncfs_refused_by_a_sandbox_falls_back_to_fsync(tmp_path, monkeypatch):
    import ctypes
    import errno
    import parcours.blobs as folder

    def refused(fd):
        ctypes.set_errno(errno.ENOSYS)
        return -1

    monkeypatch.setattr(folder, "_syncfs", refused)
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"PDF of E0002")
    assert store.get(digest) == b"PDF of E0002" and folder._syncfs is None


def test_a_group_that_cannot_be_written_leaves_no_file_behind(tmp_path, monkeypatch):
    store = BlobStore(tmp_path / "blobs")
    import parcours.blobs as folder

    def full_disk(paths):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder, "_durable", full_disk)
    with pytest.raises(OSError, match="No space"):
        store.put_all([b"PDF of E0002", b"PDF of E0003"])
    assert [path for path in (tmp_path / "blobs").rglob("*") if path.is_file()] == []
    assert not store.exists(hashlib.sha256(b"PDF of E0002").hexdigest())


def test_unknown_and_malformed_names_are_not_found(store):
    with pytest.raises(BlobNotFound):
        store.get("0" * 64)
    with pytest.raises(BlobNotFound):
        store.get("../../etc/passwd")
    assert not store.exists("0" * 64) and not store.exists("not-a-digest")


def test_many_threads_storing_the_same_bytes_leave_one_blob(store):
    data = os.urandom(50_000)
    digests, errors = [], []

    def put() -> None:
        try:
            digests.append(store.put(data))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and set(digests) == {hashlib.sha256(data).hexdigest()}
    assert store.get(digests[0]) == data


def test_s3_objects_are_never_overwritten_and_a_changed_object_is_refused(s3_server, s3_keys):
    store = S3BlobStore(f"parcours-{os.urandom(4).hex()}", "", s3_server)
    store.client.create_bucket(Bucket=store.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    digest = store.put(b"original")
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    # Another writer's conditional PUT on the same name is refused by the server.
    with pytest.raises(Exception, match="PreconditionFailed|412"):
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"forged", IfNoneMatch="*")
    assert store.get(digest) == b"original"
    # Changed behind the store's back (an unconditional PUT): reading it says so instead of serving it.
    store.client.put_object(Bucket=store.bucket, Key=key, Body=b"forged")
    with pytest.raises(BlobStoreError, match="ne correspond plus"):
        store.get(digest)


def test_the_setting_chooses_the_backend(tmp_path, s3_server, s3_keys):
    with pytest.raises(SettingsError, match="PARCOURS_BLOB_STORE"):
        Settings(blob_store="ftp://elsewhere")
    db = Database(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    assert isinstance(open_blobs(Settings(instance_dir=tmp_path), db), BlobStore)
    assert isinstance(open_blobs(Settings(instance_dir=tmp_path, blob_store="database"), db), DatabaseBlobStore)
    s3 = open_blobs(Settings(instance_dir=tmp_path, blob_store="s3://bucket-name/some/prefix",
                             s3_endpoint_url=s3_server), db)
    assert isinstance(s3, S3BlobStore) and (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket-name", "some/prefix", s3_server)
    db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_services_keep_templates_in_the_database_store_when_told(kind, tmp_path):
    from sqlalchemy import func, select

    from parcours.service import templates

    with database(kind, tmp_path) as url:
        services = Services.open(Settings(instance_dir=tmp_path / "instance", database_url=url,
                                          blob_store="database", run_jobs=False))
        try:
            templates.seed_shipped(services.db, services.blobs)
            with services.db.engine.connect() as connection:
                assert connection.execute(select(func.count()).select_from(BLOBS)).scalar() >= 4
            assert not (tmp_path / "instance" / "blobs").exists()
        finally:
            services.close()
