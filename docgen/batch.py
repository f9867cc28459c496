"""Many documents from one template, fast: render, merge by chunks, convert once, split.

LibreOffice spends its time per document opened, not per page. So a chunk of rendered documents is
merged into one DOCX, converted in one go by a pool worker, and the PDF is cut back per document at
the named destinations the merge placed. Chunks run in parallel on the pool's workers.

« Page X sur Y » needs care: X restarts per section, but Y (NUMPAGES) counts the whole merged file,
and LibreOffice 7.4 ignores SECTIONPAGES. So Y is written as a number: guessed from the documents
already converted, checked against the split, and documents whose length differs go round again with
their true length. Anything that cannot be merged is converted on its own.
"""

from __future__ import annotations

import gc
import hashlib
import io
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from docx.document import Document
from pypdf import PdfReader

from docgen.convert import ConversionError
from docgen.merge import MergeNotPossible, merge_documents
from docgen.numpages import freeze_numpages, uses_numpages
from docgen.render import DocxRenderer, RenderError
from docgen.split import SplitError, extract, page_ranges


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
    # Seconds spent per stage, summed over the worker threads.
    render_seconds: float = 0.0
    merge_seconds: float = 0.0
    convert_seconds: float = 0.0
    split_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class BatchGenerator:
    """Turns BatchItems into DocumentResults with one template and a converter pool."""

    def __init__(self, renderer: DocxRenderer, converter: Converter, *, chunk_size: int = 40) -> None:
        self.renderer, self.converter, self.chunk_size = renderer, converter, chunk_size
        self.stats = BatchStats()
        # Page counts seen so far: the most common one is the next guess for « sur Y ».
        self._lengths: Counter[int] = Counter()
        self._lock = threading.Lock()

    def run(self, items: Iterable[BatchItem]) -> Iterator[DocumentResult]:
        """Yield one result per item, in the items' order."""
        size = self.chunk_size
        if isinstance(items, Sequence):
            # A small batch is spread over every worker rather than left in one chunk.
            size = max(4, min(size, -(-len(items) // max(1, self.converter.size))))
        chunks = _chunked(items, size)
        with ThreadPoolExecutor(max_workers=max(1, self.converter.size),
                                thread_name_prefix="batch") as executor:
            # Bounded look-ahead: the workers stay busy, and memory holds a few chunks at most.
            pending = []
            for chunk in chunks:
                pending.append(executor.submit(self.run_chunk, chunk))
                if len(pending) > self.converter.size:
                    yield from pending.pop(0).result()
            for future in pending:
                yield from future.result()

    # --- one chunk -----------------------------------------------------------------------------

    def run_chunk(self, chunk: Sequence[BatchItem]) -> list[DocumentResult]:
        """One chunk, in this thread: for callers that spread chunks over workers themselves
        (the service's background jobs)."""
        results = {item.key: DocumentResult(item.key) for item in chunk}
        items: list[BatchItem] = []
        docs: list[Document] = []
        started = time.perf_counter()
        for item in chunk:
            try:
                docs.append(self.renderer.render_document(item.context, item.key))
            except RenderError as exc:
                results[item.key].error = str(exc)
                continue
            items.append(item)
        self.stats.add(render_seconds=time.perf_counter() - started)
        if len(items) <= 1:
            for item, doc in zip(items, docs):
                self._single(item, doc, results)
            return [results[item.key] for item in chunk]
        counted = uses_numpages(docs[0])
        guess = self._guess() if counted else None
        while counted and guess is None and items:
            # Learn the length from one document on its own, where NUMPAGES is right.
            guess = self._single(items[0], docs[0], results)
            items, docs = items[1:], docs[1:]
        if len(items) == 1:
            self._single(items[0], docs[0], results)
        elif items:
            self._merged(items, docs, guess, results, rounds_left=2)
        # python-docx documents are reference cycles holding large lxml trees that the collector,
        # counting Python objects only, would let pile up to gigabytes over a long batch.
        del docs
        gc.collect()
        return [results[item.key] for item in chunk]

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
        for item, pages_of_item in zip(items, ranges):
            if pages is not None and len(pages_of_item) != pages:
                wrong_length[len(pages_of_item)].append(item)
                continue
            results[item.key].pdf = extract(reader, pages_of_item)
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

