"""Renders untrusted templates in a child process with CPU-time, memory and wall-clock limits.

The bounded sandbox (docgen.sandbox) stops what it can see; this is the wall behind it, for what a
single document costs where it matters (an upload's trial render, a preview): a child process with
RLIMIT_AS and RLIMIT_CPU, killed past its wall-clock time and started again on the next call. Batches
do not pay for it: they render in the bounded sandbox only, with templates checked here at upload.

Protocol (stdin/stdout of the child): the parent sends a length-prefixed pickle (the parent is the
trusted side); the child answers a status byte and a length-prefixed payload — the DOCX, or the
RenderError's fields as JSON — never a pickle, so a child gone wrong cannot run code in the parent.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docgen.render import RenderError, RenderLimits

_HEADER = struct.Struct(">cQ")
_LENGTH = struct.Struct(">Q")


@dataclass(frozen=True)
class ProcessLimits:
    """What the child may spend on one document."""

    cpu_seconds: int = 5
    """CPU time for one document (RLIMIT_CPU, raised by this much before each document)."""
    memory_bytes: int = 1 << 30
    """Address space of the child (RLIMIT_AS)."""
    wall_seconds: float = 15.0
    """Time the parent waits for one answer before killing the child."""


class IsolatedRenderer:
    """One warm child process, one document at a time (callers queue on a lock)."""

    def __init__(self, limits: ProcessLimits = ProcessLimits(), render_limits: RenderLimits = RenderLimits()) -> None:
        self.limits, self.render_limits = limits, render_limits
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def render(self, template: bytes, name: str, context: Mapping[str, Any], matricule: str | None = None,
               *, timezone: str = "Europe/Paris") -> bytes:
        """The rendered DOCX, or RenderError (with `limit` set when the child went past a limit)."""
        request = pickle.dumps((template, name, dict(context), matricule, timezone, self.render_limits))
        with self._lock:
            child = self._start()
            try:
                child.stdin.write(_LENGTH.pack(len(request)) + request)  # type: ignore[union-attr]
                child.stdin.flush()  # type: ignore[union-attr]
                status, payload = self._answer(child)
            except TimeoutError:
                self._stop()
                raise RenderError(f"limite dépassée : le remplissage a duré plus de "
                                  f"{self.limits.wall_seconds:g} s", template=name, matricule=matricule,
                                  limit=True) from None
            except (EOFError, OSError):
                self._stop()
                raise RenderError("limite dépassée : le remplissage a demandé trop de temps de calcul ou de "
                                  "mémoire", template=name, matricule=matricule, limit=True) from None
        if status == b"D":
            return payload
        raise RenderError(**json.loads(payload))

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._pid != os.getpid():  # a forked copy (a worker's pool process) must not share the parent's pipes
            self._child, self._pid, self._lock = None, os.getpid(), threading.Lock()
        if self._child is None or self._child.poll() is not None:
            root = str(Path(__file__).resolve().parents[1])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
            self._child = subprocess.Popen(
                [sys.executable, "-m", "docgen.isolation", str(self.limits.memory_bytes), str(self.limits.cpu_seconds)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        return self._child

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.kill()
        if child is not None:
            child.wait()
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()

    def _answer(self, child: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + self.limits.wall_seconds
        fd = child.stdout.fileno()  # type: ignore[union-attr]

        def read(count: int) -> bytes:
            chunks, missing = [], count
            while missing:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
                chunk = os.read(fd, min(missing, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                missing -= len(chunk)
            return b"".join(chunks)

        status, length = _HEADER.unpack(read(_HEADER.size))
        return status, read(length)


def _serve(memory_bytes: int, cpu_seconds: int) -> None:
    """The child's loop: one request in, one answer out, until stdin closes."""
    import resource

    from docgen.render import DocxRenderer

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answers
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        header = requests.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return
        template, name, context, matricule, timezone, limits = pickle.loads(requests.read(_LENGTH.unpack(header)[0]))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (soft if cpu_hard == resource.RLIM_INFINITY else min(soft, cpu_hard),
                                                 cpu_hard))
        try:
            status, payload = b"D", DocxRenderer(template, name, timezone=timezone,
                                                  render_limits=limits).render(context, matricule)
        except RenderError as exc:
            status, payload = b"E", _fields(exc)
        except MemoryError:
            status, payload = b"E", _fields(RenderError("limite dépassée : le remplissage demande trop de mémoire",
                                                        template=name, matricule=matricule, limit=True))
        answers.write(_HEADER.pack(status, len(payload)) + payload)
        answers.flush()


def _fields(exc: RenderError) -> bytes:
    return json.dumps({"reason": exc.reason, "template": exc.template, "matricule": exc.matricule,
                       "field": exc.field, "excerpt": exc.excerpt, "limit": exc.limit}).encode()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
