"""Many documents from one template, fast: render, merge by groups, convert once, split.

LibreOffice spends its time per document opened, not per page. So a chunk of rendered documents
that share their headers and footers is merged into one DOCX, converted in one go by a pool worker,
and the PDF is cut back per document at the named destinations the merge placed. Chunks run in
parallel on the pool's workers while the next ones render.

« Page X sur Y » needs care: X restarts per section, but Y (NUMPAGES) counts the whole merged file,
and LibreOffice 7.4 ignores SECTIONPAGES. So Y is written as a number: guessed from the documents
already converted, checked against the split, and documents whose length differs go round again with
their true length. Anything that cannot be merged is converted on its own.
"""

from __future__ import annotations

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
from docx.opc.constants import RELATIONSHIP_TYPE as RT
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
        # Page counts seen so far per header/footer signature: the most common one is the next guess.
        self._lengths: dict[str, Counter[int]] = defaultdict(Counter)
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
                pending.append(executor.submit(self._chunk, chunk))
                if len(pending) > self.converter.size:
                    yield from pending.pop(0).result()
            for future in pending:
                yield from future.result()

    # --- one chunk -----------------------------------------------------------------------------

    def _chunk(self, chunk: Sequence[BatchItem]) -> list[DocumentResult]:
        results = {item.key: DocumentResult(item.key) for item in chunk}
        rendered: list[tuple[BatchItem, Document, str]] = []
        started = time.perf_counter()
        for item in chunk:
            try:
                doc = self.renderer.render_document(item.context, item.key)
            except RenderError as exc:
                results[item.key].error = str(exc)
                continue
            rendered.append((item, doc, _signature(doc)))
        self.stats.add(render_seconds=time.perf_counter() - started)
        groups: dict[str, list[BatchItem]] = defaultdict(list)
        for item, _doc, signature in rendered:
            groups[signature].append(item)
        for signature, members in groups.items():
            self._group(signature, members, [d for i, d, s in rendered if s == signature], results)
        return [results[item.key] for item in chunk]

    def _group(self, signature: str, items: list[BatchItem], docs: list[Document],
               results: dict[str, DocumentResult]) -> None:
        if len(items) <= 1:
            for item, doc in zip(items, docs):
                self._single(item, doc, results)
            return
        guess = self._guess(signature)
        if guess is None and uses_numpages(docs[0]):
            # Learn the length from one document on its own, where NUMPAGES is right.
            guess = self._single(items[0], docs[0], results)
            if guess is None:
                self._group(signature, items[1:], docs[1:], results)
                return
            items, docs = items[1:], docs[1:]
            if len(items) == 1:
                self._single(items[0], docs[0], results)
                return
        elif guess is not None and not uses_numpages(docs[0]):
            guess = None
        self._merged(signature, items, docs, guess, results, rounds_left=2)

    def _merged(self, signature: str, items: list[BatchItem], docs: list[Document], pages: int | None,
                results: dict[str, DocumentResult], rounds_left: int) -> None:
        try:
            t0 = time.perf_counter()
            merged = merge_documents(docs, after_merge=(lambda d: freeze_numpages(d, pages)) if pages else None)
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
        self._learn(signature, [len(r) for r in ranges])
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
                self._merged(signature, retry, redone, true_pages, results, rounds_left - 1)
            else:
                for item, doc in zip(retry, redone):
                    self._single(item, doc, results)

    def _guess(self, signature: str) -> int | None:
        with self._lock:
            seen = self._lengths[signature].most_common(1)
        return seen[0][0] if seen else None

    def _learn(self, signature: str, lengths: Iterable[int]) -> None:
        with self._lock:
            self._lengths[signature].update(lengths)

    def _single(self, item: BatchItem, doc: Document, results: dict[str, DocumentResult]) -> int | None:
        started = time.perf_counter()
        try:
            pdf = self.converter.convert(_to_bytes(doc))
        except ConversionError as exc:
            results[item.key].error = f"conversion en PDF impossible : {exc}"
            return None
        self.stats.add(single_conversions=1, convert_seconds=time.perf_counter() - started)
        pages = _page_count(pdf)
        self._learn(_signature(doc), [pages])
        results[item.key].pdf, results[item.key].pages = pdf, pages
        return pages


def _signature(doc: Document) -> str:
    """Documents may share a merged file only if their headers and footers are identical."""
    digest = hashlib.sha256()
    for rel in sorted(doc.part.rels.values(), key=lambda r: r.rId):
        if rel.reltype in (RT.HEADER, RT.FOOTER):
            digest.update(rel.rId.encode())
            digest.update(rel.target_part.blob)
    return digest.hexdigest()


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

