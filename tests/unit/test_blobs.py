"""The blob store: named by sha256, written once, never rewritten, read back intact."""

import hashlib
import os
import stat

import pytest

from parcours.blobs import BlobNotFound, BlobStore


def test_a_blob_is_stored_under_its_sha256_and_read_back(tmp_path):
    store = BlobStore(tmp_path)
    data = "Compte rendu de Léa Dupont".encode()
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data and store.exists(digest)
    path = tmp_path / digest[:2] / digest[2:4] / digest
    assert not stat.S_IMODE(os.stat(path).st_mode) & 0o222  # read-only on disk


def test_storing_the_same_bytes_again_does_not_rewrite_the_file(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"version 1")
    path = tmp_path / digest[:2] / digest[2:4] / digest
    before = os.stat(path).st_mtime_ns
    assert store.put(b"version 1") == digest
    assert os.stat(path).st_mtime_ns == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".incoming-")]


def test_unknown_or_malformed_names_are_not_found(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.get("0" * 64)
    with pytest.raises(BlobNotFound):
        store.get("../../etc/passwd")
    assert not store.exists("not-a-digest")
