"""One HTTP delivery: POST the signed body to a checked address, with a total timeout and no redirects.

The connection goes to an address `check_url` has just approved (the URL's host is still sent as
Host and as the TLS server name), so DNS rebinding cannot redirect it. A 3xx answer is a failure
like any other non-2xx: redirects are never followed. The whole attempt, from connecting to reading
the start of the answer, is bounded by `timeout`: a watchdog cuts the socket of a receiver that
trickles bytes to stay under the per-read timeout.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from webhooks.errors import UnsafeURL
from webhooks.ssrf import AllowList, Resolver, Target, check_url, system_resolver

USER_AGENT = "Parcours-Webhooks/1"


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt gave: an HTTP status, or an error before any status."""

    status: int | None
    """The receiver's HTTP status; None when none came (refused URL, connection, timeout, TLS)."""
    latency_ms: int
    """From the start of the attempt to the status line (or to the failure)."""
    excerpt: str = ""
    """The start of the response body (at most `excerpt_bytes`), decoded as UTF-8 with replacements."""
    error: str | None = None
    """Why no status came, or None."""
    address: str | None = None
    """The address connected to."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks for no more deliveries."""
        return self.status == 410


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address, sending the URL's host as Host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; the certificate is checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


_TLS: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
    return _TLS


def _connection(target: Target, address: str, timeout: float,
                tls: ssl.SSLContext | None) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, address, timeout, tls or _tls_context())
    return _PinnedHTTPConnection(target.host, target.port, address, timeout)


def _cut(connection: http.client.HTTPConnection) -> None:
    """Watchdog: unblock a read in progress once the deadline has passed."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response: {type(exc).__name__} {exc}".strip()
    return f"{type(exc).__name__}: {exc}"


def deliver(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 15.0,
            allow: AllowList = AllowList(), excerpt_bytes: int = 1024, resolve: Resolver = system_resolver,
            tls: ssl.SSLContext | None = None) -> DeliveryResult:
    """POST `body` (JSON) with `headers` to `url`; never raises for what the network or receiver does."""
    start = time.monotonic()
    deadline = start + timeout

    def elapsed() -> int:
        return int((time.monotonic() - start) * 1000)

    try:
        target = check_url(url, allow, resolve)
    except UnsafeURL as exc:
        return DeliveryResult(None, elapsed(), error=f"refused: {exc.reason}")
    sent = {"content-type": "application/json", "user-agent": USER_AGENT, "connection": "close", **headers}
    error = "timeout"
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = _connection(target, address, remaining, tls)
        watchdog = threading.Timer(remaining, _cut, (connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                connection.connect()
            except OSError as exc:
                error = _describe(exc)
                continue  # nothing was sent: the next address may answer
            try:
                connection.request("POST", target.path, body=body, headers=sent)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                late = time.monotonic() >= deadline
                return DeliveryResult(None, elapsed(), error="timeout" if late else _describe(exc), address=address)
            latency = elapsed()
            excerpt = b""
            try:
                while len(excerpt) < excerpt_bytes:
                    chunk = response.read1(excerpt_bytes - len(excerpt))
                    if not chunk:
                        break
                    excerpt += chunk
            except (OSError, http.client.HTTPException):
                pass  # the status is what counts; the body is only kept as a hint
            return DeliveryResult(response.status, latency, excerpt[:excerpt_bytes].decode("utf-8", "replace"),
                                  address=address)
        finally:
            watchdog.cancel()
            connection.close()
    return DeliveryResult(None, elapsed(), error=error)
