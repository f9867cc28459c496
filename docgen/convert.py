"""DOCX to PDF with LibreOffice: a pool of persistent soffice workers driven over UNO, with timeouts and restarts.

Exceptions raised by this module (UNO and subprocess errors are translated here)::

    ConversionError            the document could not be converted (bad input, LibreOffice failure, pool closed)
    ├── ConversionTimeout      the conversion took longer than its timeout; the worker was killed and restarted
    └── ConverterUnavailable   LibreOffice or its Python bridge (uno) is missing, or soffice would not start

Two ways to convert:

* :class:`ConverterPool`: a few long-lived ``soffice.bin`` processes (one per core by default), each with
  its own profile directory, listening on a private UNO pipe. A conversion loads the DOCX from memory
  (hidden, macros never run, links never updated), stores it with ``writer_pdf_Export`` into memory and
  closes it: about 100 ms per 2-page document and worker (2 workers on 2 cores: 20 documents/s) instead
  of about 1.2 s for a fresh process. PDF/A-2b by default; Word bookmarks can become PDF named
  destinations (see :func:`pdf_destination_name` for the names LibreOffice gives them).
* :func:`convert_once`: one ``soffice --headless --convert-to pdf`` process per document, with its own
  temporary profile. Slow; kept as the simple baseline and for one-off use.

Failure handling in the pool:

* timeout: a watchdog kills the worker's whole process group; the call raises :class:`ConversionTimeout`
  and is *not* retried (a document that hangs LibreOffice would hang it again); the worker restarts in
  the background while other jobs go on;
* crash (soffice dies during the job): the worker restarts and the job is retried once (``crash_retries``)
  on the next free worker; if it crashes again the call raises :class:`ConversionError`;
* death while idle is noticed (UNO bridge disposal, process exit) and the worker is restarted before its
  next job;
* recycling: a worker is restarted after ``max_conversions_per_worker`` conversions to bound memory;
* ``close()``, the context manager, garbage collection of the pool and interpreter exit (atexit) kill every
  soffice process group and remove the profiles. A Python process killed by a signal cannot clean up:
  its soffice processes are then left running.

A pool belongs to the process that created it: create it after fork() (in each Celery or gunicorn worker
process), never before; a forked child refuses to use it and does not kill its parent's workers at exit.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ConversionError",
    "ConversionTimeout",
    "ConverterUnavailable",
    "ConverterPool",
    "PoolStats",
    "WorkerStats",
    "convert_once",
    "pdf_destination_name",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "install the Debian packages libreoffice-writer-nogui and python3-uno"

# SelectPdfVersion values of writer_pdf_Export: 0 is plain PDF (1.6 in LibreOffice 7.4), 2 is PDF/A-2b.
_PDF_VERSION_PLAIN = 0
_PDF_VERSION_PDFA2B = 2
# No window, no start centre, no document recovery, no lock files: a converter, not an office suite.
_QUIET_FLAGS = ("--headless", "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck")
# soffice.bin exits with this code when it wants to be started again (first start on a new profile).
_EXIT_RESTART = 81


class ConversionError(Exception):
    """A DOCX document could not be converted to PDF."""


class ConversionTimeout(ConversionError):
    """A conversion took longer than its timeout; the LibreOffice process was killed."""


class ConverterUnavailable(ConversionError):
    """LibreOffice or its Python bridge is missing, or a soffice process could not be started."""


# --------------------------------------------------------------------------------------------------------
# Locating LibreOffice and the uno module


def _find_soffice(soffice: str | None) -> Path:
    """The soffice launcher script (``/usr/bin/soffice`` resolved), or ConverterUnavailable."""
    found = shutil.which(soffice or "soffice")
    if found is None:
        raise ConverterUnavailable(f"LibreOffice (soffice) was not found: {INSTALL_HINT}")
    return Path(os.path.realpath(found))


def _find_soffice_bin(soffice: str | None) -> Path:
    """The soffice.bin next to the launcher: started directly so that its process is our child."""
    launcher = _find_soffice(soffice)
    binary = launcher if launcher.name == "soffice.bin" else launcher.with_name("soffice.bin")
    if not os.access(binary, os.X_OK):
        raise ConverterUnavailable(f"LibreOffice's soffice.bin was not found next to {launcher}: {INSTALL_HINT}")
    return binary


_uno_lock = threading.Lock()
_uno_api: _UnoApi | None = None


class _UnoApi:
    """The few UNO names this module needs, imported once (pyuno must be imported lazily)."""

    def __init__(self) -> None:
        import uno  # noqa: PLC0415
        import unohelper  # noqa: PLC0415
        from com.sun.star.beans import PropertyValue  # noqa: PLC0415
        from com.sun.star.io import XOutputStream  # noqa: PLC0415
        from com.sun.star.lang import XEventListener  # noqa: PLC0415

        self.uno = uno
        self.PropertyValue = PropertyValue
        self.UnoException: type[Exception] = uno.getClass("com.sun.star.uno.Exception")
        self.DisposedException: type[Exception] = uno.getClass("com.sun.star.lang.DisposedException")
        self.local_context = uno.getComponentContext()

        class OutputStream(unohelper.Base, XOutputStream):  # type: ignore[misc]
            """An XOutputStream that LibreOffice writes the PDF into, kept in memory."""

            def __init__(self) -> None:
                self.chunks: list[bytes] = []

            def writeBytes(self, data: Any) -> None:  # noqa: N802 (UNO name)
                self.chunks.append(data.value)

            def flush(self) -> None:
                pass

            def closeOutput(self) -> None:  # noqa: N802
                pass

        class DisposalListener(unohelper.Base, XEventListener):  # type: ignore[misc]
            """Calls back when a UNO bridge goes away (the soffice process died or was killed)."""

            def __init__(self, callback: Any) -> None:
                self.callback = callback

            def disposing(self, event: Any) -> None:
                self.callback()

        self.OutputStream = OutputStream
        self.DisposalListener = DisposalListener

    def props(self, **values: Any) -> tuple[Any, ...]:
        return tuple(self.PropertyValue(Name=name, Value=value) for name, value in values.items())

    def typed_props(self, **values: Any) -> Any:
        """A sequence of PropertyValue typed as such (FilterData must not arrive as a sequence of any)."""
        return self.uno.Any("[]com.sun.star.beans.PropertyValue", self.props(**values))


def _uno() -> _UnoApi:
    global _uno_api
    with _uno_lock:
        if _uno_api is None:
            try:
                _uno_api = _UnoApi()
            except ImportError as exc:
                raise ConverterUnavailable(
                    f"the LibreOffice Python bridge (uno) cannot be imported ({exc}): {INSTALL_HINT}; "
                    "a virtual environment must be created from /usr/bin/python3 with --system-site-packages"
                ) from exc
        return _uno_api


# pyuno (LibreOffice 7.4) sometimes fails to find a method on a UNO proxy (AttributeError) when two threads
# use UNO types for the first time in the process at the same moment: seen at the parallel start of two
# workers (bridge.addEventListener) and at their first concurrent conversions (XInitialization.initialize).
# So the first worker of the process connects and runs one small conversion under this lock before any
# other thread talks UNO (the other workers' soffice processes start meanwhile); lookups are also retried.
_first_use_lock = threading.Lock()
_first_use_done = False


# --------------------------------------------------------------------------------------------------------
# Helpers


_MINIMAL_DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    '<w:p><w:bookmarkStart w:id="0" w:name="warmup"/><w:r><w:t>Échauffement</w:t></w:r>'
    '<w:bookmarkEnd w:id="0"/></w:p></w:body></w:document>'
)


def _minimal_docx() -> bytes:
    """A one-paragraph DOCX built by hand, for the warm-up conversion."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr("word/document.xml", _MINIMAL_DOCUMENT_XML)
    return buffer.getvalue()


def _check_docx(docx: bytes) -> bytes:
    """Refuse what is plainly not a DOCX before LibreOffice sees it (it would guess another format)."""
    data = bytes(docx)
    if not data:
        raise ConversionError("the input is empty, not a DOCX document")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise ConversionError(f"the input is not a DOCX document (not a valid ZIP archive: {exc})") from exc
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise ConversionError("the input is not a DOCX document (no word/document.xml in the archive)")
    return data


# Settings every profile starts with. A hidden document still gets Writer's idle jobs, and these two spent
# a tenth of LibreOffice's time per letter collecting words for autocompletion and checking spelling
# that nobody will ever see.
_PROFILE_SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    + "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>false</value></prop></item>'
        for path, name in (
            ("/org.openoffice.Office.Writer/AutoFunction/Completion", "Enable"),
            ("/org.openoffice.Office.Writer/AutoFunction/Completion", "CollectWords"),
            ("/org.openoffice.Office.Linguistic/SpellChecking", "IsSpellAuto"),
        )
    )
    + "</oor:items>"
)


def _new_profile(profile: Path) -> Path:
    """A profile folder holding only our settings; soffice fills in the rest at its first start."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
    return profile


def _pdf_filter_data(pdfa: bool, bookmarks_as_destinations: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"SelectPdfVersion": _PDF_VERSION_PDFA2B if pdfa else _PDF_VERSION_PLAIN}
    if bookmarks_as_destinations:
        data["ExportBookmarksToPDFDestination"] = True
    return data


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _listening_pipes(pid: int) -> list[str]:
    """The /tmp/OSL_PIPE_* unix sockets a process listens on (LibreOffice leaves them behind when killed)."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        paths = []
        with open("/proc/net/unix", encoding="ascii", errors="replace") as table:
            next(table)
            for line in table:
                fields = line.split()
                if len(fields) >= 8 and fields[6] in inodes and "/OSL_PIPE_" in fields[7]:
                    paths.append(fields[7])
        return paths
    except OSError:  # not Linux, or the process is gone
        return []


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return text[-limit:]


def pdf_destination_name(bookmark: str) -> str:
    """The name LibreOffice gives the PDF named destination of a Writer bookmark (bookmarks_as_destinations).

    LibreOffice 7.4 keeps ASCII letters, digits and ``-`` and writes any other character as two hex digits
    without the ``#`` of PDF name escapes: ``emp_E0001`` becomes ``emp5FE0001`` (so ``emp5FE0001`` is
    ambiguous). Non-ASCII characters come out garbled, so they are refused. pypdf lists the name with a
    leading slash: ``reader.named_destinations["/" + pdf_destination_name("emp_E0001")]``.
    Bookmark names made of ASCII letters and digits only (``empE0001``) are left unchanged.
    """
    parts = []
    for char in bookmark:
        if not char.isascii():
            raise ValueError(f"LibreOffice cannot export the non-ASCII bookmark name {bookmark!r} as a destination")
        parts.append(char if char.isalnum() or char == "-" else f"{ord(char):02X}")
    return "".join(parts)


# --------------------------------------------------------------------------------------------------------
# Workers


class _WorkerCrashed(Exception):
    """Internal: the worker's soffice died during a job (the job may be retried)."""


@dataclass(frozen=True)
class WorkerStats:
    """One worker of a pool, as seen at one moment."""

    index: int
    pid: int | None
    """The soffice.bin process id, or None while the worker is not running."""
    busy: bool
    conversions_since_start: int
    """Conversions since this soffice process started (recycled at max_conversions_per_worker)."""
    conversions: int
    """Conversions done by this worker slot over the pool's life."""
    restarts: int


@dataclass(frozen=True)
class PoolStats:
    """Counters of a pool, for a progress display or a health page."""

    workers: int
    busy: int
    """Workers running a conversion now."""
    conversions: int
    """Successful conversions."""
    failures: int
    """Calls that raised ConversionError (timeouts included)."""
    timeouts: int
    crashes: int
    """soffice processes that died during a job (each was restarted; the job may have been retried)."""
    restarts: int
    """soffice restarts for any reason: timeout, crash, death while idle, recycling."""
    recycles: int
    """Restarts because a worker reached max_conversions_per_worker."""
    per_worker: tuple[WorkerStats, ...]


class _Worker:
    """One soffice.bin process with its own profile, its UNO bridge and the watchdog of its current job."""

    def __init__(self, index: int, binary: Path, startup_timeout: float) -> None:
        self.index = index
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._lock = threading.Lock()  # guards the fields below against the watchdog and close()
        self._closed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None
        self._pipes: list[str] = []
        self._job: object | None = None
        self._killed_by_watchdog = False
        # Touched only by the thread that holds the worker (or by the disposal callback: one boolean).
        self._bridge: Any = None
        self._desktop: Any = None
        self._remote_smgr: Any = None
        self._remote_ctx: Any = None
        self._bridge_disposed = False
        self._expected_stop = False
        self.conversions_since_start = 0
        self.conversions = 0
        self.restarts = 0

    # -- state ---------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> bool:
        return self._job is not None

    def healthy(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None and not self._bridge_disposed and self._desktop is not None

    def stats(self) -> WorkerStats:
        return WorkerStats(self.index, self.pid, self.busy, self.conversions_since_start, self.conversions, self.restarts)

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start soffice.bin and connect to it; raise ConverterUnavailable past the startup deadline."""
        api = _uno()
        deadline = time.monotonic() + self._startup_timeout
        with self._lock:
            if self._closed:
                raise ConversionError("the converter pool is closed")
            self._run_dir = Path(tempfile.mkdtemp(prefix=f"parcours-soffice-{self.index}-"))
        run_dir = self._run_dir
        pipe_name = f"parcours_{os.getpid()}_{self.index}_{run_dir.name.rsplit('-', 1)[-1]}"
        log_path = run_dir / "soffice.log"
        command = [
            str(self._binary),
            f"-env:UserInstallation={_new_profile(run_dir / 'profile').as_uri()}",
            *_QUIET_FLAGS,
            "--nofirststartwizard",
            f"--accept=pipe,name={pipe_name};urp;StarOffice.ComponentContext",
        ]
        while True:  # soffice.bin exits with 81 once after creating a new profile, and must be started again
            with self._lock:
                if self._closed:
                    raise ConversionError("the converter pool is closed")
                with open(log_path, "ab") as log_file:
                    self._proc = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        cwd=run_dir,
                        start_new_session=True,  # its own process group: killpg reaches its children too
                    )
                proc = self._proc
            # The watchdog also covers the UNO handshake, which blocks if soffice accepts but never answers.
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _kill_group, args=(proc.pid,))
            watchdog.daemon = True
            watchdog.start()
            try:
                connected = self._connect(api, proc, pipe_name, deadline)
            finally:
                watchdog.cancel()
            if connected:
                break
            if proc.returncode == _EXIT_RESTART and time.monotonic() < deadline:
                continue
            self._kill_and_clean()
            if time.monotonic() >= deadline:
                problem = f"did not accept connections within {self._startup_timeout:g} s"
            elif proc.returncode is None or proc.returncode == -signal.SIGKILL:
                problem = "accepted a connection but did not answer over UNO"
            else:
                problem = f"exited with code {proc.returncode} while starting"
            raise ConverterUnavailable(
                f"LibreOffice worker {self.index} {problem}; soffice output: {_tail(log_path) or '(none)'}"
            )
        self._pipes = _listening_pipes(proc.pid)
        self.conversions_since_start = 0
        log.debug("LibreOffice worker %d started (pid %d)", self.index, proc.pid)

    def _connect(self, api: _UnoApi, proc: subprocess.Popen[bytes], pipe_name: str, deadline: float) -> bool:
        global _first_use_done
        if _first_use_done:
            return self._connect_and_handshake(api, proc, pipe_name, deadline)
        with _first_use_lock:  # see _first_use_lock
            if not self._connect_and_handshake(api, proc, pipe_name, deadline):
                return False
            if not _first_use_done:
                try:
                    self._convert_over_uno(api, _minimal_docx(), _pdf_filter_data(True, True))
                except (api.UnoException, ConversionError) as exc:
                    log.warning("warm-up conversion on LibreOffice worker %d failed: %s", self.index, exc)
                    return False
                _first_use_done = True
            return True

    def _connect_and_handshake(
        self, api: _UnoApi, proc: subprocess.Popen[bytes], pipe_name: str, deadline: float
    ) -> bool:
        smgr = api.local_context.ServiceManager
        while True:
            if proc.poll() is not None:
                return False
            try:
                connector = _method(smgr, "createInstanceWithContext")(
                    "com.sun.star.connection.Connector", api.local_context
                )
                connection = _method(connector, "connect")(f"pipe,name={pipe_name}")
                break
            except (api.UnoException, ConversionError):  # NoConnectException until soffice listens
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
        return self._handshake(api, connection)

    def _handshake(self, api: _UnoApi, connection: Any) -> bool:
        smgr = api.local_context.ServiceManager
        try:
            factory = _method(smgr, "createInstanceWithContext")("com.sun.star.bridge.BridgeFactory", api.local_context)
            bridge = _method(factory, "createBridge")("", "urp", connection, None)
            self._bridge_disposed = False
            self._expected_stop = False
            _method(bridge, "addEventListener")(api.DisposalListener(self._on_bridge_disposed))
            remote_ctx = _method(bridge, "getInstance")("StarOffice.ComponentContext")
            remote_smgr = _method(remote_ctx, "getServiceManager")()
            desktop = _method(remote_smgr, "createInstanceWithContext")("com.sun.star.frame.Desktop", remote_ctx)
        except (api.UnoException, ConversionError):
            return False
        self._bridge, self._remote_ctx, self._remote_smgr, self._desktop = bridge, remote_ctx, remote_smgr, desktop
        return True

    def _on_bridge_disposed(self) -> None:
        # Runs on a UNO bridge thread: set a flag, take no lock.
        self._bridge_disposed = True
        if not self._expected_stop and not self._closed:
            log.warning("LibreOffice worker %d lost its connection (soffice died?); it will be restarted", self.index)

    def _kill_and_clean(self) -> None:
        """Kill the process group, reap soffice.bin, drop the bridge, remove the pipes and the profile."""
        self._expected_stop = True
        with self._lock:
            proc, run_dir, pipes = self._proc, self._run_dir, self._pipes
            self._proc, self._run_dir, self._pipes = None, None, []
        if proc is not None:
            _kill_group(proc.pid)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
                log.error("LibreOffice worker %d (pid %d) did not die after SIGKILL", self.index, proc.pid)
        bridge = self._bridge
        self._bridge = self._desktop = self._remote_smgr = self._remote_ctx = None
        if bridge is not None:
            try:
                bridge.dispose()
            except Exception:  # noqa: BLE001 - a bridge to a dead process may complain; nothing to do
                pass
        for pipe in pipes:
            try:
                os.unlink(pipe)
            except OSError:
                pass
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)

    def restart(self) -> None:
        self._kill_and_clean()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        """Kill this worker for good (close(), atexit, garbage collection). Safe from any thread."""
        with self._lock:
            self._closed = True
        self._kill_and_clean()

    # -- jobs ----------------------------------------------------------------------------------------

    def _watchdog_fired(self, job: object) -> None:
        with self._lock:
            if self._job is not job or self._proc is None:
                return
            self._killed_by_watchdog = True
            pid = self._proc.pid
        log.warning("LibreOffice worker %d exceeded its timeout; killing process group %d", self.index, pid)
        _kill_group(pid)

    def convert(self, docx: bytes, filter_data: dict[str, Any], timeout: float) -> tuple[bytes | None, bool]:
        """Convert on this worker: (pdf, needs_restart). Raises ConversionError, or _WorkerCrashed."""
        api = _uno()
        job = object()
        with self._lock:
            self._job = job
            self._killed_by_watchdog = False
        watchdog = threading.Timer(timeout, self._watchdog_fired, args=(job,))
        watchdog.daemon = True
        watchdog.start()
        pdf: bytes | None = None
        error: Exception | None = None
        try:
            pdf = self._convert_over_uno(api, docx, filter_data)
        except api.UnoException as exc:
            error = exc
        except ConversionError as exc:
            error = exc
        finally:
            with self._lock:
                self._job = None
                killed = self._killed_by_watchdog
            watchdog.cancel()
        # A DisposedException means the connection is gone, even if the process has not exited yet.
        alive = self.healthy() and not isinstance(error, api.DisposedException)
        if pdf is not None:
            self.conversions_since_start += 1
            self.conversions += 1
            return pdf, killed or not alive
        if killed:
            raise ConversionTimeout(
                f"the conversion took longer than {timeout:g} s; LibreOffice worker {self.index} was killed"
            ) from error
        if not alive:
            raise _WorkerCrashed(f"LibreOffice worker {self.index} died during the conversion ({error})") from error
        if isinstance(error, ConversionError):
            raise error
        raise ConversionError(f"LibreOffice could not convert the document: {_uno_message(error)}") from error

    def _convert_over_uno(self, api: _UnoApi, docx: bytes, filter_data: dict[str, Any]) -> bytes:
        remote_ctx, remote_smgr, desktop = self._remote_ctx, self._remote_smgr, self._desktop
        if desktop is None:
            raise ConversionError(f"LibreOffice worker {self.index} is not running")
        stream = _method(remote_smgr, "createInstanceWithArgumentsAndContext")(
            "com.sun.star.io.SequenceInputStream", (api.uno.ByteSequence(docx),), remote_ctx
        )
        document = _method(desktop, "loadComponentFromURL")(
            "private:stream",
            "_blank",
            0,
            api.props(
                InputStream=stream,
                FilterName="MS Word 2007 XML",
                Hidden=True,
                ReadOnly=True,
                MacroExecutionMode=0,  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
                UpdateDocMode=0,  # com.sun.star.document.UpdateDocMode.NO_UPDATE: no external links
            ),
        )
        if document is None:
            raise ConversionError("LibreOffice could not read the input as a DOCX document (damaged or not a DOCX)")
        try:
            _without_window_furniture(document)
            output = api.OutputStream()
            arguments = api.props(
                FilterName="writer_pdf_Export",
                FilterData=api.typed_props(**filter_data),
                OutputStream=output,
            )
            _method(document, "storeToURL")("private:stream", arguments)
            return b"".join(output.chunks)
        finally:
            try:
                _method(document, "close")(True)
            except (api.UnoException, ConversionError):
                try:
                    _method(document, "dispose")()
                except (api.UnoException, ConversionError):
                    pass


def _without_window_furniture(document: Any) -> None:
    """Take the layout manager off a loaded document's hidden frame. Otherwise it builds a menu bar, a
    toolbar and a status bar during the export, and the status bar's word count has Writer count every
    word of the document again: about a sixth of LibreOffice's time on a chunk of letters."""
    controller = _method(document, "getCurrentController")()
    if controller is not None:
        _method(_method(controller, "getFrame")(), "setPropertyValue")("LayoutManager", None)


def _method(proxy: Any, name: str) -> Any:
    """A method of a UNO proxy, looked up again if pyuno transiently fails to find it.

    With several threads using pyuno at once, looking up a method on a fresh proxy of a remote object
    raises AttributeError about once in a thousand conversions (LibreOffice 7.4); looking it up again
    works. The lookup does not call the method, so retrying it is safe.
    """
    for attempt in range(5):
        try:
            return getattr(proxy, name)
        except AttributeError:
            log.debug("pyuno did not find %s on a UNO proxy (attempt %d); looking again", name, attempt + 1)
            time.sleep(0.01 * (attempt + 1))
    raise ConversionError(f"the UNO bridge does not expose {name}() on this LibreOffice object")


def _uno_message(error: Exception | None) -> str:
    message = getattr(error, "Message", None) or str(error)
    return f"{type(error).__name__}: {message}" if error is not None else "unknown error"


def _stop_all(workers: list[_Worker], owner_pid: int) -> None:
    if os.getpid() != owner_pid:  # a forked child must not kill its parent's soffice processes
        return
    for worker in workers:
        worker.stop()


# --------------------------------------------------------------------------------------------------------
# The pool


class ConverterPool:
    """A pool of persistent LibreOffice processes converting DOCX to PDF; thread-safe.

    ``convert()`` waits for a free worker, so as many threads as there are workers convert in parallel.
    The workers are started (in parallel) by the constructor, which returns once all accept conversions.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 60.0,
        pdfa: bool = True,
        max_conversions_per_worker: int = 500,
        *,
        startup_timeout: float = 30.0,
        crash_retries: int = 1,
        soffice: str | None = None,
    ) -> None:
        """Start the workers and wait until each accepts conversions.

        workers: number of soffice processes; one per core by default.
        timeout: seconds one conversion may take (waiting for a free worker not counted).
        pdfa: PDF/A-2b by default; a plain PDF when False. ``convert(pdfa=...)`` overrides it.
        max_conversions_per_worker: a worker's soffice is restarted after this many conversions.
        startup_timeout: seconds a soffice may take to accept connections.
        crash_retries: how many times a job whose soffice died is tried again on a fresh worker.
        soffice: the soffice program (name on PATH or path); ``soffice`` by default.
        """
        count = workers if workers is not None else (os.cpu_count() or 1)
        if count < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0 or startup_timeout <= 0:
            raise ValueError("timeout and startup_timeout must be positive")
        if max_conversions_per_worker < 1:
            raise ValueError("max_conversions_per_worker must be at least 1")
        if crash_retries < 0:
            raise ValueError("crash_retries must not be negative")
        _uno()  # ConverterUnavailable now rather than at the first conversion
        binary = _find_soffice_bin(soffice)
        self.timeout = timeout
        self.pdfa = pdfa
        self.max_conversions_per_worker = max_conversions_per_worker
        self.crash_retries = crash_retries
        self._workers = [_Worker(index, binary, startup_timeout) for index in range(count)]
        self._idle: collections.deque[_Worker] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._counts = collections.Counter[str]()
        # Kills the workers when close() is called, when the pool is garbage collected, or at exit.
        self._owner_pid = os.getpid()
        self._finalizer = weakref.finalize(self, _stop_all, self._workers, self._owner_pid)
        errors: list[BaseException] = []

        def start(worker: _Worker) -> None:
            try:
                worker.start()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(worker,), daemon=True) for worker in self._workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.close()
            raise errors[0]
        self._idle.extend(self._workers)

    # -- public API ----------------------------------------------------------------------------------

    def convert(
        self,
        docx: bytes,
        *,
        pdfa: bool | None = None,
        bookmarks_as_destinations: bool = False,
        timeout: float | None = None,
    ) -> bytes:
        """Convert one DOCX document to PDF bytes.

        pdfa: PDF/A-2b (True) or plain PDF (False); the pool's setting by default.
        bookmarks_as_destinations: export Word bookmarks (w:bookmarkStart) as PDF named destinations.
        timeout: seconds for this conversion; the pool's timeout by default.
        Raises ConversionError (bad input, LibreOffice failure), ConversionTimeout, ConverterUnavailable.
        """
        data = _check_docx(docx)
        filter_data = _pdf_filter_data(self.pdfa if pdfa is None else pdfa, bookmarks_as_destinations)
        limit = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            worker = self._acquire()
            needs_restart = False
            try:
                if not worker.healthy():
                    self._revive(worker)
                pdf, needs_restart = worker.convert(data, filter_data, limit)
                assert pdf is not None
            except _WorkerCrashed as exc:
                needs_restart = True
                self._count("crashes")
                if attempt < self.crash_retries:
                    attempt += 1
                    log.warning("%s; retrying the job on a fresh worker", exc)
                    continue
                self._count("failures")
                raise ConversionError(f"{exc}; gave up after {attempt + 1} attempts") from None
            except ConversionTimeout:
                needs_restart = True
                self._count("timeouts")
                self._count("failures")
                raise
            except ConversionError:
                # A worker that could not be started is left stopped: the next job starts it again.
                needs_restart = worker.pid is not None and not worker.healthy()
                self._count("failures")
                raise
            finally:
                self._release(worker, needs_restart)
            self._count("conversions")
            return pdf

    @property
    def size(self) -> int:
        """How many conversions can run at once."""
        return len(self._workers)

    def stats(self) -> PoolStats:
        with self._cond:
            counts = dict(self._counts)
        per_worker = tuple(worker.stats() for worker in self._workers)
        return PoolStats(
            workers=len(self._workers),
            busy=sum(1 for worker in per_worker if worker.busy),
            conversions=counts.get("conversions", 0),
            failures=counts.get("failures", 0),
            timeouts=counts.get("timeouts", 0),
            crashes=counts.get("crashes", 0),
            restarts=sum(worker.restarts for worker in per_worker),
            recycles=counts.get("recycles", 0),
            per_worker=per_worker,
        )

    def worker_pids(self) -> list[int | None]:
        """The soffice.bin process id of each worker (None while one is not running)."""
        return [worker.pid for worker in self._workers]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Kill every soffice of the pool and remove their profiles; pending and later calls fail."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._finalizer()

    def __enter__(self) -> ConverterPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._cond:
            self._counts[name] += 1

    def _acquire(self) -> _Worker:
        if os.getpid() != self._owner_pid:
            raise ConversionError("a ConverterPool cannot be used across fork(): create it in the process that uses it")
        with self._cond:
            while not self._idle and not self._closed:
                self._cond.wait()
            if self._closed:
                raise ConversionError("the converter pool is closed")
            return self._idle.popleft()  # FIFO: successive jobs rotate over the workers

    def _revive(self, worker: _Worker) -> None:
        """Start again a worker whose soffice died while idle or whose earlier restart failed."""
        if worker.pid is not None or worker.restarts or worker.conversions:
            log.warning("LibreOffice worker %d is not running; restarting it", worker.index)
        worker.restart()

    def _release(self, worker: _Worker, needs_restart: bool) -> None:
        if needs_restart or worker.conversions_since_start >= self.max_conversions_per_worker:
            if not needs_restart:
                self._count("recycles")
            # Restart in the background so the caller gets its result (or error) at once.
            threading.Thread(
                target=self._restart_then_release, args=(worker,), name=f"soffice-restart-{worker.index}", daemon=True
            ).start()
            return
        self._put_back(worker)

    def _restart_then_release(self, worker: _Worker) -> None:
        try:
            worker.restart()
        except ConversionError as exc:  # left stopped: the next job on it tries again and reports the error
            if not worker.closed:
                log.error("could not restart LibreOffice worker %d: %s", worker.index, exc)
        self._put_back(worker)

    def _put_back(self, worker: _Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop()


# --------------------------------------------------------------------------------------------------------
# One process per document


def convert_once(
    docx: bytes,
    pdfa: bool = True,
    timeout: float = 120,
    *,
    bookmarks_as_destinations: bool = False,
    soffice: str | None = None,
) -> bytes:
    """Convert one DOCX with its own ``soffice --headless --convert-to pdf`` process and temporary profile.

    About 1 s per document (LibreOffice's start-up); use a ConverterPool for more than a few documents.
    """
    data = _check_docx(docx)
    launcher = _find_soffice(soffice)
    options = _pdf_filter_data(pdfa, bookmarks_as_destinations)
    json_options = ",".join(
        f'"{name}":{{"type":"{"boolean" if isinstance(value, bool) else "long"}","value":"{str(value).lower()}"}}'
        for name, value in options.items()
    )
    with tempfile.TemporaryDirectory(prefix="parcours-convert-") as tmp:
        folder = Path(tmp)
        source = folder / "document.docx"
        source.write_bytes(data)
        outdir = folder / "out"
        command = [
            str(launcher),
            f"-env:UserInstallation={_new_profile(folder / 'profile').as_uri()}",
            *_QUIET_FLAGS,
            "--convert-to",
            f"pdf:writer_pdf_Export:{{{json_options}}}",
            "--outdir",
            str(outdir),
            str(source),
        ]
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=folder,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConverterUnavailable(f"could not run {launcher}: {exc}; {INSTALL_HINT}") from exc
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise ConversionTimeout(f"soffice --convert-to took longer than {timeout:g} s and was killed") from None
        finally:
            _kill_group(proc.pid)  # children that outlived soffice (gpg helpers), if any
        target = outdir / "document.pdf"
        if proc.returncode != 0 or not target.exists():
            message = output.decode("utf-8", errors="replace").strip()[-2000:]
            raise ConversionError(
                f"soffice --convert-to failed (exit code {proc.returncode}): {message or 'no output'}"
            )
        return target.read_bytes()
