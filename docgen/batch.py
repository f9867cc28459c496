"""Many documents from one template, fast: render, merge by chunks, convert once, split.

LibreOffice spends its time per document opened, not per page. So a chunk of rendered documents is
merged into one DOCX, converted in one go by a pool worker, and the PDF is cut back per document at
the named destinations the merge placed. Chunks run in parallel on the pool's workers.

« Page X sur Y » needs care: X restarts per section, but Y (NUMPAGES) counts the whole merged file,
and LibreOffice 7.4 ignores SECTIONPAGES. So Y is written as a number: guessed from the documents
already converted, checked against the split, and documents whose length differs go round again with
their true length. Anything that cannot be merged is converted on its own.

That is the sectioned path. Most templates take a faster one (docgen.letters): the letters merged with
page breaks in a single section, which LibreOffice lays out about a third faster, and the footer lines
that vary per letter (« Page X sur Y », the employee's name) drawn on each split PDF at the place
LibreOffice gave them in the batch's first letter, converted alone. `BatchGenerator.path` says which
path the template got and why; letters that do not fit the plan (a longer footer line, another
header) take the sectioned path.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import io
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from docx import Document as open_docx
from docx.document import Document
from pypdf import PdfReader

from docgen.convert import ConversionError
from docgen.letters import (
    PAGE, PAGES, Calibration, Verdict, assess, blank_footer_lines, calibrate, fill, footer_lines, shared_key, stampable,
)
from docgen.merge import MergeNotPossible, merge_documents, merge_letters
from docgen.numpages import freeze_numpages, uses_numpages
from docgen.render import DocxRenderer, Letter, RenderError
from docgen.split import SplitError, extract_all, page_ranges
from docgen.stamp import Stamp, StampError


# Letters per chunk, that is per LibreOffice conversion. Opening a document costs LibreOffice some 50 ms
# whatever its length, so one-section chunks are long (1000 convocations, LibreOffice's CPU per letter:
# 7.9 to 8.8 ms in chunks of 40, 7.4 to 7.9 in chunks of 125). Section breaks cost more as they add up:
# sectioned chunks stay short, and so do the sectioned conversions of a long chunk's letters that do not fit.
LETTERS_PER_CHUNK = 160
SECTIONS_PER_CHUNK = 40
_SMALLEST_CHUNK = 4
PROCESSES_PAY_FROM = 250
"""Letters from which a batch that starts its own worker processes is faster for them: starting them costs about half a
second (2 cores, 2 workers, 7 December 2026: 150 letters 1.27 s in threads, 1.41 with processes; 300 letters 2.45
against 2.22; 1000 letters 7.34 against 6.26)."""
_T = TypeVar("_T")


def chunk_sizes(count: int, workers: int, largest: int) -> list[int]:
    """How to cut `count` items into chunks of at most `largest`: as few as that allows, in a multiple of
    `workers` so that the LibreOffice workers get equal shares and none ends alone, sizes differing by
    one at most; a small batch is spread over the workers but in chunks of 4 or more."""
    if count <= 0:
        return []
    workers = max(1, workers)
    chunks = workers * -(-count // (workers * max(1, largest)))
    chunks = max(1, min(chunks, count // _SMALLEST_CHUNK))
    base, extra = divmod(count, chunks)
    return [base + 1] * extra + [base] * (chunks - extra)


def cut(items: Sequence[_T], sizes: Iterable[int]) -> list[list[_T]]:
    """`items` in consecutive chunks of the given sizes."""
    chunks, start = [], 0
    for size in sizes:
        chunks.append(list(items[start:start + size]))
        start += size
    return chunks


def letters_per_chunk(one_section: bool) -> int:
    """Letters per chunk on a template's path: long chunks if its letters can share one section."""
    return LETTERS_PER_CHUNK if one_section else SECTIONS_PER_CHUNK


class Converter(Protocol):
    """What the batch needs of a converter pool (docgen.convert.ConverterPool)."""

    @property
    def size(self) -> int: ...

    def convert(self, docx: bytes, **options: Any) -> bytes: ...


@dataclass(frozen=True)
class BatchItem:
    """One document to make: an identifier (the matricule) and its template context."""

    key: str
    context: Mapping[str, Any]


@dataclass
class DocumentResult:
    """The PDF of one item, or why there is none."""

    key: str
    pdf: bytes | None = None
    pages: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.pdf is not None

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.pdf).hexdigest() if self.pdf is not None else None


@dataclass
class BatchStats:
    """Where the documents went: merged conversions, single ones, and second rounds."""

    merged_conversions: int = 0
    single_conversions: int = 0
    documents_merged: int = 0
    documents_retried: int = 0
    # The fast path: letters merged in one section, their varying footer lines stamped.
    one_section_conversions: int = 0
    documents_one_section: int = 0
    # Seconds spent per stage, summed over the worker threads.
    render_seconds: float = 0.0
    merge_seconds: float = 0.0
    convert_seconds: float = 0.0
    split_seconds: float = 0.0
    stamp_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class BatchGenerator:
    """Turns BatchItems into DocumentResults with one template and a converter pool."""

    def __init__(self, renderer: DocxRenderer, converter: Converter, *, chunk_size: int | None = None,
                 one_section: bool = True, processes: int | RenderProcesses = 0) -> None:
        """`chunk_size`: letters per chunk; by default as the template's path wants (letters_per_chunk).
        `one_section=False` keeps every letter on the sectioned path (to compare, or to be safe).
        `processes`: one-section chunks are rendered, merged, split and stamped in worker processes,
        beside LibreOffice and out of this process's GIL. A number: `run` starts that many and stops
        them at its end. RenderProcesses kept by the caller (a service, across batches): `run` and
        `run_chunk` both use them."""
        self.renderer, self.converter, self._chunk_size = renderer, converter, chunk_size
        self.one_section, self.processes = one_section, processes
        self.stats = BatchStats()
        self._verdict: Verdict | None = None
        self._calibration: Calibration | None = None
        self._calibration_problem: str | None = None
        self._measuring: threading.Event | None = None
        self._plan_lock = threading.Lock()
        # Page counts seen so far: the most common one is the next guess for « sur Y ».
        self._lengths: Counter[int] = Counter()
        self._lock = threading.Lock()

    def run(self, items: Iterable[BatchItem]) -> Iterator[DocumentResult]:
        """Yield one result per item, in the items' order."""
        if isinstance(items, Sequence):
            chunks: Iterable[list[BatchItem]] = cut(items, chunk_sizes(len(items), self.converter.size,
                                                                       self.chunk_size))
        else:
            chunks = _chunked(items, self.chunk_size)
        processes, own = self._processes(), False
        if isinstance(processes, int):
            processes, own = RenderProcesses(processes), True
        run_chunk = self._run_chunk_here if processes is None else functools.partial(self._run_chunk_in, processes)
        # With worker processes, more chunks are in flight than LibreOffice workers, so that one is
        # always merged and waiting for LibreOffice while others are rendered or split.
        in_flight = max(1, self.converter.size) + (processes.size if processes is not None else 0)
        try:
            if processes is not None:
                # Start them now (imports, the template parsed) while the first chunk measures the footer.
                processes.warm(_template_spec(self.renderer))
            with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="batch") as executor:
                # Bounded look-ahead: the workers stay busy, and memory holds a few chunks at most.
                pending = []
                for chunk in chunks:
                    pending.append(executor.submit(run_chunk, chunk))
                    if len(pending) > in_flight:
                        yield from pending.pop(0).result()
                for future in pending:
                    yield from future.result()
        finally:
            if own and processes is not None:
                processes.close()

    @property
    def chunk_size(self) -> int:
        """Letters per chunk: as given, else as the template's path wants."""
        if self._chunk_size:
            return self._chunk_size
        return letters_per_chunk(self.one_section and self.verdict.one_section)

    def _await_calibration(self) -> tuple[Calibration | None, threading.Event | None]:
        """(the calibration, or the event to set once this chunk has measured it). The chunk measuring it
        converts a letter alone; the others wait for it rather than render in this process too, and one of
        them measures next if that letter failed. No calibration when the footer cannot be stamped."""
        while True:
            with self._lock:
                if self._calibration is not None or self._calibration_problem is not None:
                    return self._calibration, None
                if self._measuring is None:
                    self._measuring = threading.Event()
                    return None, self._measuring
                measuring = self._measuring
            measuring.wait()

    def _processes(self) -> int | RenderProcesses | None:
        """The worker processes this template's chunks may use: none on the sectioned path."""
        if not self.processes or not (self.one_section and self.verdict.one_section):
            return None
        return self.processes

    def _run_chunk_in(self, processes: RenderProcesses, chunk: Sequence[BatchItem]) -> list[DocumentResult]:
        """A one-section chunk rendered, merged, split and stamped in worker processes; this thread
        only waits for LibreOffice. The first chunk's first letter is made here, alone: it measures the
        footer the others need."""
        if not chunk:
            return []
        calibration, measuring = self._await_calibration()
        if measuring is not None:
            return [self._measure(chunk[0], measuring)] + self._run_chunk_in(processes, chunk[1:])
        if calibration is None:  # the footer cannot be stamped: the sectioned path
            return self._run_chunk_here(chunk)
        results = {item.key: DocumentResult(item.key) for item in chunk}
        spec = _template_spec(self.renderer)
        try:
            merged, errors, rendered, seconds = processes.submit(
                _render_and_merge, spec, self.verdict, calibration, list(chunk)).result()
        except BrokenProcessPool:  # a process was killed (out of memory?): this chunk is done here instead
            return self._run_chunk_here(chunk)
        self.stats.add(render_seconds=seconds[0], merge_seconds=seconds[1])
        for key, error in errors.items():
            results[key].error = error
        by_key = {item.key: item for item in chunk}
        rest = [by_key[key] for key in rendered]
        if merged is not None:
            chosen = [rest[i] for i in merged.chosen]

            def finish(pdf: bytes, lines: Sequence[Sequence[str]], calibration: Calibration) -> list[tuple[bytes, int]]:
                try:
                    return processes.submit(_split_and_stamp, pdf, lines, calibration).result()
                except BrokenProcessPool:  # the conversion is not lost: split here
                    return _split_and_stamp(pdf, lines, calibration)

            if self._convert_and_stamp(merged, chosen, calibration, results, finish):
                done = {item.key for item in chosen}
                rest = [item for item in rest if item.key not in done]
        if rest:
            for result in self._run_chunk_here(rest):
                results[result.key] = result
        return [results[item.key] for item in chunk]

    @property
    def verdict(self) -> Verdict:
        """Whether the template can take the one-section path, from its structure alone."""
        if self._verdict is None:
            self._verdict = assess(open_docx(io.BytesIO(self.renderer.template)))
        return self._verdict

    @property
    def path(self) -> str:
        """The path this batch's letters take, and why (French, for logs and the benchmark)."""
        if not self.one_section:
            return "sections : chemin en sections demandé"
        verdict = self.verdict
        if not verdict.one_section:
            return f"sections : {verdict.reason}"
        if self._calibration_problem:
            return f"sections : {self._calibration_problem}"
        return f"une section : {verdict.reason}"

    # --- one chunk -----------------------------------------------------------------------------

    def run_chunk(self, chunk: Sequence[BatchItem]) -> list[DocumentResult]:
        """One chunk, for callers that spread chunks over threads themselves (the service's background
        jobs): its Python part in the RenderProcesses given, if any, else in this thread."""
        processes = self._processes()
        if isinstance(processes, RenderProcesses):
            return self._run_chunk_in(processes, chunk)
        return self._run_chunk_here(chunk)

    def _run_chunk_here(self, chunk: Sequence[BatchItem]) -> list[DocumentResult]:
        results = {item.key: DocumentResult(item.key) for item in chunk}
        items: list[BatchItem] = []
        docs: list[Document | Letter] = []
        # Once the footer is measured, the letters after the first need no document of their own: those
        # that the one-section merge leaves out get one before the sectioned path (_as_documents).
        light = self.one_section and self._calibration is not None
        started = time.perf_counter()
        for item in chunk:
            try:
                render = self.renderer.render_letter if light and docs else self.renderer.render_document
                docs.append(render(item.context, item.key))
            except RenderError as exc:
                results[item.key].error = str(exc)
                continue
            items.append(item)
        self.stats.add(render_seconds=time.perf_counter() - started)
        if len(items) <= 1:
            for item, doc in zip(items, docs):
                self._single(item, doc, results)
            return [results[item.key] for item in chunk]
        if self.one_section:
            calibration = self._calibrated(items, docs, results)
            if calibration is not None and len(items) > 1:
                items, docs = self._one_section(items, docs, calibration, results)
        if not items:
            return [results[item.key] for item in chunk]
        counted = uses_numpages(docs[0])
        guess = self._guess() if counted else None
        while counted and guess is None and items:
            # Learn the length from one document on its own, where NUMPAGES is right.
            guess = self._single(items[0], docs[0], results)
            items, docs = items[1:], docs[1:]
        for first in range(0, len(items), SECTIONS_PER_CHUNK):
            some, their_docs = items[first:first + SECTIONS_PER_CHUNK], docs[first:first + SECTIONS_PER_CHUNK]
            if len(some) == 1:
                self._single(some[0], their_docs[0], results)
            else:
                self._merged(some, their_docs, guess, results, rounds_left=2)
        # python-docx documents are reference cycles holding large lxml trees that the collector,
        # counting Python objects only, would let pile up to gigabytes over a long batch.
        del docs
        gc.collect()
        return [results[item.key] for item in chunk]

    def _calibrated(self, items: list[BatchItem], docs: list[Document],
                    results: dict[str, DocumentResult]) -> Calibration | None:
        """The first chunk converts its first letter alone and measures its footer lines there;
        the letter is then done (taken off `items` and `docs`)."""
        with self._plan_lock:
            if self._calibration is not None or self._calibration_problem is not None:
                return self._calibration
            verdict = self.verdict
            if not verdict.one_section:
                self._calibration_problem = verdict.reason
                return None
            item, doc = items[0], docs[0]
            lines = footer_lines(doc, verdict)
            if self._single(item, doc, results) is None:
                self._measured()
                return None  # that letter failed alone: the next chunk tries again
            items.pop(0)
            docs.pop(0)
            try:
                if lines is None:
                    raise StampError("le pied de page rendu ne suit pas le modèle")
                self._calibration = calibrate(doc, verdict, results[item.key].pdf or b"")
            except StampError as exc:
                self._calibration_problem = f"lignes du pied de page impossibles à reporter ({exc})"
            self._measured()
            return self._calibration

    def _measure(self, item: BatchItem, measuring: threading.Event) -> DocumentResult:
        """Convert this letter alone and measure its footer lines (_calibrated); the chunks waiting for
        the measure go on whatever happens (without it, the next one measures with its own letter)."""
        results = {item.key: DocumentResult(item.key)}
        try:
            doc = self.renderer.render_document(item.context, item.key)
            items = [item]
            self._calibrated(items, [doc], results)
            if items and results[item.key].error is None:  # not taken: another chunk measured meanwhile
                self._single(item, doc, results)
        except RenderError as exc:
            results[item.key].error = str(exc)
        finally:
            self._measured(measuring)
        return results[item.key]

    def _measured(self, measuring: threading.Event | None = None) -> None:
        """The chunks waiting for the calibration go on (with it, or one measuring again if the letter
        failed): those waiting for `measuring`, else for the measure under way."""
        with self._lock:
            if measuring is None:
                measuring = self._measuring
            if self._measuring is measuring:
                self._measuring = None
        if measuring is not None:
            measuring.set()

    def _one_section(self, items: list[BatchItem], docs: list[Document], calibration: Calibration,
                     results: dict[str, DocumentResult]) -> tuple[list[BatchItem], list[Document]]:
        """Merge the letters that share headers and have stampable footer lines in one section;
        return the others, for the sectioned path."""
        started = time.perf_counter()
        merged = _choose_and_merge(self.verdict, calibration, docs,
                                   lambda index: self.renderer.render_document(items[index].context, items[index].key))
        if merged is None:
            return self._as_documents(items, docs, results)
        t1 = time.perf_counter()
        self.stats.add(merge_seconds=t1 - started)
        chosen = [items[i] for i in merged.chosen]
        rest = [i for i in range(len(items)) if i not in set(merged.chosen)]
        done = self._convert_and_stamp(merged, chosen, calibration, results)
        if not done:
            # The merged letters are consumed: render them again for the sectioned path.
            return self._as_documents(chosen + [items[i] for i in rest],
                                      [None] * len(chosen) + [docs[i] for i in rest], results)
        return self._as_documents([items[i] for i in rest], [docs[i] for i in rest], results)

    def _as_documents(self, items: list[BatchItem], docs: list[Document | Letter | None],
                      results: dict[str, DocumentResult]) -> tuple[list[BatchItem], list[Document]]:
        """The letters for the sectioned path, each a document: those rendered without one (or consumed by a
        merge, None) are rendered again."""
        kept_items, kept_docs = [], []
        for item, doc in zip(items, docs):
            if not isinstance(doc, Document):
                try:
                    doc = self.renderer.render_document(item.context, item.key)
                except RenderError as exc:  # rendered a moment ago, but it may meet its time limit this time
                    results[item.key].error = str(exc)
                    continue
            kept_items.append(item)
            kept_docs.append(doc)
        return kept_items, kept_docs

    def _convert_and_stamp(self, merged: _Merged, chosen: list[BatchItem], calibration: Calibration,
                           results: dict[str, DocumentResult],
                           finish: Callable[..., list[tuple[bytes, int]]] | None = None) -> bool:
        """Convert a one-section merge, split and stamp it (in `finish`, maybe another process)."""
        started = time.perf_counter()
        try:
            pdf = self.converter.convert(merged.docx, bookmarks_as_destinations=True)
            converted = time.perf_counter()
            pdfs = (finish or _split_and_stamp)(pdf, merged.lines, calibration)
        except (SplitError, ConversionError, StampError):
            return False
        for item, (document, pages) in zip(chosen, pdfs):
            results[item.key].pdf, results[item.key].pages = document, pages
        self._learn(pages for _, pages in pdfs)
        self.stats.add(one_section_conversions=1, documents_one_section=len(chosen),
                       convert_seconds=converted - started, stamp_seconds=time.perf_counter() - converted)
        return True

    def _merged(self, items: list[BatchItem], docs: list[Document], pages: int | None,
                results: dict[str, DocumentResult], rounds_left: int) -> None:
        try:
            t0 = time.perf_counter()
            if pages is not None:
                for doc in docs:
                    freeze_numpages(doc, pages)
            merged = merge_documents(docs)
            t1 = time.perf_counter()
            pdf = self.converter.convert(merged, bookmarks_as_destinations=True)
            t2 = time.perf_counter()
            reader, ranges = page_ranges(pdf, len(items))
            self.stats.add(merge_seconds=t1 - t0, convert_seconds=t2 - t1, split_seconds=time.perf_counter() - t2)
        except (MergeNotPossible, SplitError, ConversionError):
            # One by one instead: a document that breaks LibreOffice then fails alone.
            for item in items:
                self._single(item, self.renderer.render_document(item.context, item.key), results)
            return
        self.stats.add(merged_conversions=1, documents_merged=len(items))
        self._learn(len(r) for r in ranges)
        wrong_length: dict[int, list[BatchItem]] = defaultdict(list)
        started = time.perf_counter()
        right: list[tuple[BatchItem, range]] = []
        for item, pages_of_item in zip(items, ranges):
            if pages is not None and len(pages_of_item) != pages:
                wrong_length[len(pages_of_item)].append(item)
            else:
                right.append((item, pages_of_item))
        for (item, pages_of_item), document in zip(right, extract_all(reader, [r for _, r in right])):
            results[item.key].pdf = document
            results[item.key].pages = len(pages_of_item)
        self.stats.add(split_seconds=time.perf_counter() - started)
        for true_pages, retry in wrong_length.items():
            self.stats.add(documents_retried=len(retry))
            redone = [self.renderer.render_document(i.context, i.key) for i in retry]
            if rounds_left > 0 and len(retry) > 1:
                self._merged(retry, redone, true_pages, results, rounds_left - 1)
            else:
                for item, doc in zip(retry, redone):
                    self._single(item, doc, results)

    def _guess(self) -> int | None:
        with self._lock:
            seen = self._lengths.most_common(1)
        return seen[0][0] if seen else None

    def _learn(self, lengths: Iterable[int]) -> None:
        with self._lock:
            self._lengths.update(lengths)

    def _single(self, item: BatchItem, doc: Document, results: dict[str, DocumentResult]) -> int | None:
        started = time.perf_counter()
        try:
            pdf = self.converter.convert(_to_bytes(doc))
        except ConversionError as exc:
            results[item.key].error = f"conversion en PDF impossible : {exc}"
            return None
        self.stats.add(single_conversions=1, convert_seconds=time.perf_counter() - started)
        pages = _page_count(pdf)
        self._learn([pages])
        results[item.key].pdf, results[item.key].pages = pdf, pages
        return pages


@dataclass
class _Merged:
    """Letters merged in one section: the DOCX, which of the given letters it holds, their footer lines."""

    docx: bytes
    chosen: list[int]
    lines: list[list[str]]


def _choose_and_merge(verdict: Verdict, calibration: Calibration, docs: Sequence[Document | Letter],
                      document: Callable[[int], Document] | None = None) -> _Merged | None:
    """Merge, with page breaks in one section, the letters whose headers match the first one's and
    whose varying footer lines can be stamped; None if fewer than two can. Consumes those letters.
    The first one merged receives the others: if it is a Letter, `document(index)` renders it as a document."""
    chosen: list[int] = []
    lines_of: list[list[str]] = []
    common = None
    for index, doc in enumerate(docs):
        lines = footer_lines(doc, verdict)
        if lines is None or not stampable(calibration, lines):
            continue
        key = shared_key(doc, verdict)
        if common is None:
            common = key
        if key == common:
            chosen.append(index)
            lines_of.append(lines)
    if len(chosen) < 2:
        return None
    letters = [docs[i] for i in chosen]
    if not isinstance(letters[0], Document):
        try:
            letters[0] = document(chosen[0]) if document is not None else None
        except RenderError:  # rendered a moment ago, but it may meet its time limit this time
            letters[0] = None
        if letters[0] is None:
            return None
    blank_footer_lines(letters[0], verdict)
    try:
        return _Merged(merge_letters(letters), chosen, lines_of)
    except MergeNotPossible:
        return None


def _split_and_stamp(pdf: bytes, lines: Sequence[Sequence[str]], calibration: Calibration) -> list[tuple[bytes, int]]:
    """One PDF per letter of a one-section merge, each page stamped with its footer lines."""
    reader, ranges = page_ranges(pdf, len(lines))
    font = None
    if calibration.font is not None:
        chars = set("".join("".join(letter) for letter in lines)) - {PAGE, PAGES}
        font = calibration.font.embed_covering(chars | set("0123456789"))
    stamps = [[[Stamp(fill(line, number, len(pages)), placement)
                for line, placement in zip(letter, calibration.placements)]
               for number in range(1, len(pages) + 1)]
              for letter, pages in zip(lines, ranges)]
    documents = extract_all(reader, ranges, stamps=stamps, font=font)
    return [(document, len(pages)) for document, pages in zip(documents, ranges)]


# --- worker processes ----------------------------------------------------------------------------

class RenderProcesses:
    """Worker processes for the Python part of one-section chunks, shared by every batch and template
    of their owner. Spawned, not forked: the owner may have threads (a web server, the job runner).
    They ignore Ctrl-C (the owner stops them) and leave when the owner dies, even killed; a pool
    broken by a killed process is replaced at the next chunk."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            if self._closed:
                raise RuntimeError("RenderProcesses closed")
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_watch_owner, initargs=(os.getpid(),))
            try:
                return self._executor.submit(function, *args)
            except BrokenProcessPool:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
        return self.submit(function, *args)

    def warm(self, spec: _TemplateSpec) -> None:
        """Start every process now, each making the template's renderer, without waiting for them."""
        for _ in range(self.size):
            self.submit(_warm, spec)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RenderProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _watch_owner(owner: int) -> None:
    """In a worker process, first thing: Ctrl-C is for the owner, and the owner's death is ours."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == owner:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


@dataclass(frozen=True)
class _TemplateSpec:
    """What a worker process needs to make its own DocxRenderer."""

    template: bytes
    name: str
    timezone: str


_renderers: dict[_TemplateSpec, DocxRenderer] = {}
_RENDERERS_KEPT = 4
"""Templates a worker process keeps parsed: a service's batches of different templates alternate."""


def _renderer_for(spec: _TemplateSpec) -> DocxRenderer:
    renderer = _renderers.pop(spec, None)
    if renderer is None:
        if len(_renderers) >= _RENDERERS_KEPT:
            del _renderers[next(iter(_renderers))]
        renderer = DocxRenderer(spec.template, spec.name, timezone=spec.timezone)
    _renderers[spec] = renderer  # last used, last in the dict
    return renderer


def _warm(spec: _TemplateSpec) -> None:
    _renderer_for(spec)  # the renderer stays in the process: nothing to send back


def _render_and_merge(spec: _TemplateSpec, verdict: Verdict, calibration: Calibration, items: list[BatchItem]
                      ) -> tuple[_Merged | None, dict[str, str], list[str], tuple[float, float]]:
    """In a worker process: render a chunk and merge what can share one section. Returns the merge,
    the render errors by key, the keys rendered (the merge's `chosen` indexes them) and the seconds
    spent rendering and merging."""
    renderer = _renderer_for(spec)
    started = time.perf_counter()
    errors, rendered, docs = {}, [], []
    for item in items:
        try:
            # The first letter receives the others' paragraphs: only it needs a document of its own.
            render = renderer.render_letter if docs else renderer.render_document
            docs.append(render(item.context, item.key))
        except RenderError as exc:
            errors[item.key] = str(exc)
            continue
        rendered.append(item)
    rendered_at = time.perf_counter()

    def document(index: int) -> Document:
        return renderer.render_document(rendered[index].context, rendered[index].key)

    merged = _choose_and_merge(verdict, calibration, docs, document) if len(docs) > 1 else None
    del docs
    gc.collect()
    if not gc.get_freeze_count():
        # What survives the first chunk is this worker's for good (modules, the template, compiled Jinja):
        # kept out of the next collections, which then scan one chunk's objects instead of everything.
        gc.freeze()
    return merged, errors, [item.key for item in rendered], (rendered_at - started, time.perf_counter() - rendered_at)


def _template_spec(renderer: DocxRenderer) -> _TemplateSpec:
    # DocxRenderer keeps its time zone only in its `heure` filter (a partial under the strict wrapper).
    heure = renderer.env.filters.get("heure")
    keywords = getattr(getattr(heure, "__wrapped__", None), "keywords", {})
    return _TemplateSpec(renderer.template, renderer.name, keywords.get("tz", "Europe/Paris"))


def _to_bytes(doc: Document) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _chunked(items: Iterable[BatchItem], size: int) -> Iterator[list[BatchItem]]:
    chunk: list[BatchItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

