"""Signed PDFs broken the ways pyHanko's test data `pdf/coverage-anomalies` breaks them, and worse,
generated from a real signed file (that data cannot be fetched here):

- ``one_byterange``: /ByteRange with a single range (pyHanko's one-byterange.pdf);
- ``weird_byterange``: three ranges (weird-byterange.pdf);
- ``tail_uncovered``: the second range stops short of the end of its revision (tail-uncovered.pdf);
- ``gap_too_big``: the hole between the ranges is wider than /Contents (signature-gap-too-big.pdf);
- and ranges past the end of the file, negative, not numbers, or not an array; /ByteRange or /Contents
  missing; /Contents replaced by bytes that are no CMS structure; the signature dictionary's /Type wrong.

Each rewrites the signature dictionary in place (same length, padded with spaces), so the cross-reference
offsets stay right and only the anomaly is left for the validator to meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_RANGE = re.compile(rb"/ByteRange\s*\[([^\]]*)\]")


def _last_range(pdf: bytes) -> re.Match:
    matches = list(_RANGE.finditer(pdf))
    if not matches:
        raise ValueError("no /ByteRange in the file")
    return matches[0]  # the first signature: every later revision depends on it


def _with_range(pdf: bytes, text: bytes) -> bytes:
    match = _last_range(pdf)
    old = match.group(0)
    new = text.ljust(len(old))
    if len(new) > len(old):
        raise ValueError(f"{text!r} does not fit in {old!r}")
    return pdf[:match.start()] + new + pdf[match.end():]


def _numbers(pdf: bytes) -> list[int]:
    return [int(n) for n in _last_range(pdf).group(1).split()]


def one_byterange(pdf: bytes) -> bytes:
    a, b, c, d = _numbers(pdf)
    return _with_range(pdf, b"/ByteRange [%d %d]" % (a, b))


def weird_byterange(pdf: bytes) -> bytes:
    return _with_range(pdf, b"/ByteRange [0 9 9 9 9 9]")


def tail_uncovered(pdf: bytes) -> bytes:
    a, b, c, d = _numbers(pdf)
    return _with_range(pdf, b"/ByteRange [%d %d %d %d]" % (a, b, c, d - 100))


def gap_too_big(pdf: bytes) -> bytes:
    a, b, c, d = _numbers(pdf)
    return _with_range(pdf, b"/ByteRange [%d %d %d %d]" % (a, b - 10, c + 10, d - 10))


def range_past_the_end(pdf: bytes) -> bytes:
    return _with_range(pdf, b"/ByteRange [0 99999999 0 1]")


def negative_range(pdf: bytes) -> bytes:
    return _with_range(pdf, b"/ByteRange [0 -9 9 9]")


def range_not_numbers(pdf: bytes) -> bytes:
    return _with_range(pdf, b"/ByteRange [/a (b) 1.5]")


def range_not_an_array(pdf: bytes) -> bytes:
    match = _last_range(pdf)
    return pdf[:match.start()] + b"/ByteRange 12".ljust(len(match.group(0))) + pdf[match.end():]


def range_missing(pdf: bytes) -> bytes:
    match = _last_range(pdf)
    return pdf[:match.start()] + b"/Foo 0".ljust(len(match.group(0))) + pdf[match.end():]


def contents_not_cms(pdf: bytes) -> bytes:
    a, b, c, d = _numbers(pdf)
    start, end = b, c  # the hole: "<hex...>"
    hole = pdf[start:end]
    garbage = b"<" + (b"30820102" + b"A5" * ((len(hole) - 10) // 2))[: len(hole) - 2] + b">"
    return pdf[:start] + garbage.ljust(len(hole), b"0") + pdf[end:]


def contents_empty(pdf: bytes) -> bytes:
    a, b, c, d = _numbers(pdf)
    hole = pdf[b:c]
    return pdf[:b] + (b"<>" + b" " * (len(hole) - 2)) + pdf[c:]


ANOMALIES: dict[str, Callable[[bytes], bytes]] = {
    "one-byterange": one_byterange, "weird-byterange": weird_byterange, "tail-uncovered": tail_uncovered,
    "signature-gap-too-big": gap_too_big, "range-past-the-end": range_past_the_end,
    "negative-range": negative_range, "range-not-numbers": range_not_numbers,
    "range-not-an-array": range_not_an_array, "range-missing": range_missing,
    "contents-not-cms": contents_not_cms, "contents-empty": contents_empty,
}
"""Name (pyHanko's file name where there is one) -> from a signed file to the anomaly."""
