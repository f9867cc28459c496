"""One HTTP delivery: POST the signed body to a checked address, with a total timeout and no redirects.

The connection goes to an address `check_url` has just approved (the URL's host is still sent as
Host and as the TLS server name), so DNS rebinding cannot redirect it. A 3xx answer is a failure
like any other non-2xx: redirects are never followed. The whole attempt, from connecting to reading
the start of the answer, is bounded by `timeout`: a watchdog cuts the socket of a receiver that
trickles bytes to stay under the per-read timeout.

With a `ConnectionPool`, a connection that carried an attempt and was answered in full is kept open
(HTTP/1.1 keep-alive) for the next attempt to the same receiver at the same address: the URL is still
checked and resolved at every attempt, and an idle connection is reused only if its address is among
those just approved. Without one, every attempt opens and closes its own connection.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from webhooks.errors import UnsafeURL
from webhooks.ssrf import AllowList, Resolver, Target, check_url, system_resolver

USER_AGENT = "Parcours-Webhooks/1"
DRAIN_BYTES = 64 * 1024
"""An answer longer than this is not read to its end: its connection is closed rather than kept."""


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

    @property
    def unreachable(self) -> bool:
        """No answer, or a 5xx: the receiver is down or overloaded, not refusing this message."""
        return self.status is None or self.status >= 500


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
    """Unblock a read in progress once the deadline has passed."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Watch:
    __slots__ = ("connection", "cancelled", "fired")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection, self.cancelled, self.fired = connection, False, False


class _Watchdog:
    """One thread cuts the connections of attempts past their deadline (a timer thread per attempt
    would cost a thread start each)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._sleeping_until = math.inf

    def watch(self, deadline: float, connection: http.client.HTTPConnection) -> _Watch:
        watch = _Watch(connection)
        with self._condition:
            while self._heap and self._heap[0][2].cancelled:  # attempts over: most of the time, all the older ones
                heapq.heappop(self._heap)
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhook-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._sleeping_until:
                self._condition.notify()  # rarely: attempts share one timeout, so deadlines come in order
        return watch

    def cancel(self, watch: _Watch) -> bool:
        """Stop watching; False when the deadline passed first and the connection was cut."""
        with self._condition:
            watch.cancelled = True
            return not watch.fired

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._sleeping_until = math.inf
                        self._condition.wait()
                        continue
                    deadline, _, watch = self._heap[0]
                    delay = deadline - time.monotonic()
                    if delay <= 0:
                        heapq.heappop(self._heap)
                        watch.fired = True
                        break
                    self._sleeping_until = deadline
                    self._condition.wait(delay)
            _cut(watch.connection)


_WATCHDOG = _Watchdog()

PoolKey = tuple[str, str, int, str, int]


class ConnectionPool:
    """Idle keep-alive connections, by scheme, host, port, address and TLS context; thread-safe.

    A connection is lent to one attempt at a time; one idle for more than `idle_seconds` (receivers
    close theirs after a few seconds), or that the receiver has closed, is not lent again."""

    def __init__(self, per_receiver: int = 16, idle_seconds: float = 4.0) -> None:
        self.per_receiver, self.idle_seconds = per_receiver, idle_seconds
        self._idle: dict[PoolKey, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def take(self, key: PoolKey) -> http.client.HTTPConnection | None:
        now, stale, found = time.monotonic(), [], None
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                since, connection = idle.pop()
                if now - since < self.idle_seconds and _quiet(connection):
                    found = connection
                    break
                stale.append(connection)
        for connection in stale:
            connection.close()
        return found

    def give(self, key: PoolKey, connection: http.client.HTTPConnection) -> None:
        now, stale = time.monotonic(), [connection]
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.per_receiver:
                idle.append((now, connection))
                stale = []
            if now - self._swept > self.idle_seconds:  # receivers no longer called keep no sockets open
                self._swept = now
                for other in list(self._idle):
                    kept = [(since, c) for since, c in self._idle[other] if now - since < self.idle_seconds]
                    stale += [c for since, c in self._idle[other] if now - since >= self.idle_seconds]
                    if kept:
                        self._idle[other] = kept
                    else:
                        del self._idle[other]
        for connection in stale:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for _, connection in connections:
                connection.close()


def _quiet(connection: http.client.HTTPConnection) -> bool:
    """An idle connection has nothing to read: anything there (its end, mostly) means it is done."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


TIMEOUT = "délai dépassé"


def _describe(exc: BaseException) -> str:
    """What went wrong, in French for the people who read the attempts (the system's own words kept after)."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, ssl.SSLError):
        return f"erreur TLS : {exc.reason or exc}"
    if isinstance(exc, http.client.HTTPException):
        return f"réponse HTTP invalide : {type(exc).__name__} {exc}".strip()
    return f"erreur réseau : {type(exc).__name__}: {exc}"


def _drain(response: http.client.HTTPResponse, read: int) -> bool:
    """Read the rest of a short answer (`read` bytes of it read already) so that its connection can carry
    the next attempt."""
    if response.will_close or (response.length is not None and read + response.length > DRAIN_BYTES):
        return False
    while not response.isclosed() and read <= DRAIN_BYTES:
        chunk = response.read(DRAIN_BYTES + 1 - read)
        if not chunk:
            break
        read += len(chunk)
    return response.isclosed() and read <= DRAIN_BYTES


def deliver(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 15.0,
            allow: AllowList = AllowList(), excerpt_bytes: int = 1024, resolve: Resolver = system_resolver,
            tls: ssl.SSLContext | None = None, pool: ConnectionPool | None = None) -> DeliveryResult:
    """POST `body` (JSON) with `headers` to `url`; never raises for what the network or receiver does."""
    start = time.monotonic()
    deadline = start + timeout

    def elapsed() -> int:
        return int((time.monotonic() - start) * 1000)

    try:
        target = check_url(url, allow, resolve)
    except UnsafeURL as exc:
        return DeliveryResult(None, elapsed(), error=f"URL refusée : {exc.reason}")
    sent = {"content-type": "application/json", "user-agent": USER_AGENT,
            **({} if pool is not None else {"connection": "close"}), **headers}
    error = TIMEOUT
    for address in target.addresses:
        key: PoolKey = (target.scheme, target.host, target.port, address, id(tls))
        reuse = pool is not None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return DeliveryResult(None, elapsed(), error=error)
            connection = pool.take(key) if reuse and pool is not None else None
            reused = connection is not None
            if connection is None:
                connection = _connection(target, address, remaining, tls)
            watch = _WATCHDOG.watch(deadline, connection)
            keep = False
            try:
                if reused:
                    connection.sock.settimeout(remaining)
                else:
                    try:
                        connection.connect()
                    except OSError as exc:
                        error = _describe(exc)
                        break  # nothing was sent: the next address may answer
                try:
                    connection.request("POST", target.path, body=body, headers=sent)
                    response = connection.getresponse()
                except (OSError, http.client.HTTPException) as exc:
                    late = time.monotonic() >= deadline
                    if reused and not late and isinstance(exc, (ConnectionError, http.client.ImproperConnectionState)):
                        reuse = False  # the receiver had closed the idle connection: once more, on a new one
                        continue
                    return DeliveryResult(None, elapsed(), error=TIMEOUT if late else _describe(exc), address=address)
                latency = elapsed()
                excerpt = b""
                try:
                    while len(excerpt) < excerpt_bytes:
                        chunk = response.read1(excerpt_bytes - len(excerpt))
                        if not chunk:
                            break
                        excerpt += chunk
                    keep = pool is not None and _drain(response, len(excerpt))
                except (OSError, http.client.HTTPException):
                    pass  # the status is what counts; the body is only kept as a hint
                return DeliveryResult(response.status, latency, excerpt[:excerpt_bytes].decode("utf-8", "replace"),
                                      address=address)
            finally:
                if _WATCHDOG.cancel(watch) and keep and pool is not None:
                    pool.give(key, connection)
                else:
                    connection.close()
    return DeliveryResult(None, elapsed(), error=error)
