"""The bounded Jinja sandbox: ranges, powers, repetitions, loops, calls, output and time capped per document."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True)
class RenderLimits:
    """What one document's rendering may spend; generous for letters, far below a denial of service."""

    seconds: float = 3.0
    """Wall-clock time for one document (all its parts)."""
    steps: int = 200_000
    """Loop iterations, calls and output pieces for one document."""
    output: int = 20_000_000
    """Characters of XML one document may produce."""
    range: int = 10_000
    """Items of one `range()`."""
    size: int = 1_000_000
    """Characters or items one operation (`*`, `%`, `center`, `replace`, `join`…) may make."""
    power_bits: int = 20_000
    """Bits of the result of `a ** b` on integers (about 6 000 digits)."""


class TemplateLimit(Exception):
    """A template went past one of its limits; `str()` is a French sentence."""


def _n(value: int | float) -> str:
    return f"{value:,}".replace(",", "\u202f")


class _Budget:
    __slots__ = ("deadline", "steps", "output", "source")

    def __init__(self, limits: RenderLimits) -> None:
        self.deadline = time.monotonic() + limits.seconds
        self.steps = 0
        self.output = 0
        self.source: str | None = None


_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox whose every costly operation is counted against a per-document budget.

    Every `for` loop's iterable is wrapped (the compiled tree is rewritten), every call and every piece
    of output ticks the budget; the operators and filters that can make a huge value from a small
    template (`*`, `**`, `%`, `center`, `replace`…) check the size they would make before making it.
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, limits: RenderLimits = RenderLimits(), **options: Any) -> None:
        super().__init__(**options)
        self.limits = limits
        self._local = threading.local()
        self.globals["range"] = self._range
        self.globals.pop("lipsum", None)
        self.filters["_borne"] = self._bounded_iter
        for name in ("center", "indent", "replace", "join", "format", "wordwrap", "truncate"):
            self.filters[name] = self._checked_filter(name, self.filters[name])

    # --- the budget -----------------------------------------------------------------------------

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """One document's budget (nested calls share the outer one)."""
        if getattr(self._local, "budget", None) is not None:
            yield
            return
        self._local.budget = _Budget(self.limits)
        try:
            yield
        finally:
            self._local.budget = None

    def _budget(self) -> _Budget | None:
        return getattr(self._local, "budget", None)

    @property
    def current_source(self) -> str | None:
        """The source of the part being rendered (to quote the line of an error)."""
        budget = self._budget()
        return budget.source if budget else None

    def tick(self, steps: int = 1) -> None:
        budget = self._budget()
        if budget is None:
            return
        budget.steps += steps
        if budget.steps > self.limits.steps:
            raise TemplateLimit(f"le modèle fait plus de {_n(self.limits.steps)} tours de boucle ou appels "
                                "pour un seul document")
        if budget.steps & 1023 == 0 and time.monotonic() > budget.deadline:
            raise TemplateLimit(f"le remplissage d'un document dépasse {_n(self.limits.seconds)} s")

    def _check_size(self, size: int, what: str) -> None:
        if size > self.limits.size:
            raise TemplateLimit(f"{what} produirait une valeur trop grande ({_n(size)} éléments, "
                                f"au plus {_n(self.limits.size)})")

    # --- the hooks Jinja calls ------------------------------------------------------------------

    def _generate(self, source: nodes.Template, name, filename, defer_init=False):  # noqa: ANN001
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_borne", [], [], None, None, lineno=loop.iter.lineno)
        return super()._generate(source, name, filename, defer_init)

    def note_source(self, source: Any) -> None:
        """Remember the part being rendered, to quote the line of an error."""
        budget = self._budget()
        if budget is not None and isinstance(source, str):
            budget.source = source

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        with self.bounded():
            budget = self._budget()
            out = []
            for piece in pieces:
                budget.output += len(piece)
                if budget.output > self.limits.output:
                    raise TemplateLimit(f"le document produit dépasse {_n(self.limits.output)} caractères")
                self.tick()
                out.append(piece)
            return "".join(out)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        __self.tick()
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        name = getattr(target, "__name__", "")
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str) and name in ("ljust", "rjust", "center", "zfill", "expandtabs"):
            width = args[0] if args else next(iter(kwargs.values()), 0)
            if isinstance(width, int):
                __self._check_size(width * (8 if name == "expandtabs" else 1), f"« {name} »")
        elif isinstance(owner, str) and name == "replace" and len(args) >= 2:
            __self._check_replace(owner, args[0], args[1])
        elif isinstance(owner, str) and name == "join" and args:
            __self._check_join(owner, args[0])
        elif isinstance(owner, str) and name in ("format", "format_map"):
            __self._check_format_spec(owner)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:  # noqa: ANN001
        self.tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            bits = max(abs(left).bit_length(), 1) * right
            if abs(left) > 1 and bits > self.limits.power_bits:
                raise TemplateLimit(f"la puissance {_n(left)} ** {_n(right)} est un nombre trop grand")
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
                    self._check_size(_size(seq) * max(count, 0), "la répétition « * »")
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left)
        try:
            return super().call_binop(context, operator, left, right)
        except OverflowError:
            raise TemplateLimit(f"l'opération « {operator} » donne un nombre trop grand") from None

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > self.limits.range:
            raise TemplateLimit(f"range() limité à {_n(self.limits.range)} éléments "
                                f"(demandé : {_n(len(numbers))})")
        return numbers

    def _bounded_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    # --- size checks of the operations that amplify -----------------------------------------------

    def _check_replace(self, text: Any, old: Any, new: Any) -> None:
        if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
            count = text.count(old) if old else len(text) + 1
            self._check_size(len(text) + count * max(len(new) - len(old), 0), "« replace »")

    def _check_join(self, separator: Any, items: Any) -> None:
        if isinstance(items, (list, tuple)):
            self._check_size(_size(items) + len(str(separator)) * len(items), "« join »")

    def _check_percent(self, template: str) -> None:
        for width, precision in _FORMAT_WIDTH.findall(template):
            for number in (width, precision):
                if number:
                    self._check_size(self.limits.size + 1 if number == "*" else int(number), "le format « % »")

    def _check_format_spec(self, template: str) -> None:
        for number in _BRACE_WIDTH.findall(template):
            if int(number) > self.limits.size:
                self._check_size(int(number), "« format »")

    def _checked_filter(self, name: str, builtin: Any) -> Any:
        def checked(*args: Any, **kwargs: Any) -> Any:
            values = [a for a in args if not isinstance(a, (jinja2.runtime.Context, jinja2.Environment,
                                                            jinja2.nodes.EvalContext))]
            value = values[0] if values else None
            rest = values[1:]
            if name in ("center", "indent") and isinstance(value, str):
                width = rest[0] if rest else kwargs.get("width", 0)
                size = width if isinstance(width, int) else len(str(width))
                if name == "indent":
                    size *= value.count("\n") + 1
                self._check_size(len(value) + size, f"le filtre « {name} »")
            elif name == "replace" and len(rest) >= 2:
                self._check_replace(str(value), rest[0], rest[1])
            elif name == "join" and isinstance(value, (list, tuple)):
                self._check_join(rest[0] if rest else kwargs.get("d", ""), value)
            elif name == "format" and isinstance(value, str):
                self._check_percent(value)
            elif name in ("wordwrap", "truncate") and isinstance(value, str):
                self._check_size(len(value), f"le filtre « {name} »")
            return builtin(*args, **kwargs)

        for attribute in ("jinja_pass_arg",):
            if hasattr(builtin, attribute):
                setattr(checked, attribute, getattr(builtin, attribute))
        checked.__name__ = getattr(builtin, "__name__", name)
        return checked


def _size(value: Any) -> int:
    """Characters or items a value holds, one level deep (enough to price a repetition or a join)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(len(v) if isinstance(v, (str, bytes, list, tuple)) else 1 for v in value)
    return 1
