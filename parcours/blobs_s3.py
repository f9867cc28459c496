"""Blobs in an S3 bucket (AWS, MinIO, Scaleway, OVHcloud…) through boto3: objects named
<prefix>/ab/cd/<sha256>, written once with a conditional PUT (If-None-Match: *), never overwritten.

Credentials and region come from boto3's usual sources (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, ~/.aws); the endpoint of a non-AWS provider from PARCOURS_S3_ENDPOINT_URL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from parcours.blobs import BlobNotFound, valid_digest


class BlobStoreError(RuntimeError):
    """The object store refused or failed a request (credentials, bucket, network)."""


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str = "", client: Any = None) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        self._client, self._lock = client, threading.Lock()

    @classmethod
    def from_url(cls, url: str, endpoint_url: str = "") -> S3BlobStore:
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"PARCOURS_BLOB_STORE: {url!r} does not name a bucket (s3://bucket/prefix)")
        return cls(parts.netloc, parts.path, endpoint_url)

    @property
    def client(self) -> Any:
        """One boto3 client per store (clients are thread-safe), made on first use: after a fork, in the
        process that uses it."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url,
                    config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32))
            return self._client

    def _key(self, digest: str) -> str:
        name = f"{digest[:2]}/{digest[2:4]}/{digest}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def put_all(self, blobs: Sequence[bytes]) -> list[str]:
        return [self.put(data) for data in blobs]

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data, IfNoneMatch="*",
                                   ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
                                   ContentType="application/octet-stream")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise BlobStoreError(f"stockage S3 : écriture de {digest} refusée ({code})") from exc
            # Stored by another process first: same name, same bytes.
        return digest

    def get(self, digest: str) -> bytes:
        if not valid_digest(digest):
            raise BlobNotFound(digest)
        from botocore.exceptions import ClientError

        try:
            data = self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFound(digest) from None
            raise BlobStoreError(f"stockage S3 : lecture de {digest} impossible") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobStoreError(f"stockage S3 : le contenu de {digest} ne correspond plus à son empreinte")
        return data

    def exists(self, digest: str) -> bool:
        if not valid_digest(digest):
            return False
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise BlobStoreError(f"stockage S3 : {digest} inaccessible") from exc


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()
