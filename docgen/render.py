"""Renders DOCX templates with docxtpl inside a sandboxed Jinja environment, and inspects them.

Templates may be uploaded by users, so they are untrusted code: Jinja runs sandboxed and immutable,
every value is XML-escaped, and a missing value stops the rendering with the field's name instead of
leaving a blank in a letter.
"""

from __future__ import annotations

import copy
import functools
import io
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from docx.document import Document
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import nodes
from jinja2.sandbox import SecurityError

from docgen.formatting import FILTERS
from docgen.package import PackageLimits, UnsafePackage, check_docx
from docgen.sandbox import BoundedEnvironment, RenderLimits, TemplateLimit

__all__ = ["DocxRenderer", "Inspection", "RenderError", "RenderLimits", "TemplateEnvironment",
           "TemplateProblem", "inspect_template", "render_docx"]

LOGO_HEIGHT = Mm(15)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class RenderError(Exception):
    """A template could not be rendered for an employee; `str()` is a French sentence for users."""

    def __init__(self, reason: str, *, template: str, matricule: str | None = None,
                 field: str | None = None, excerpt: str | None = None, limit: bool = False) -> None:
        self.reason, self.template, self.matricule = reason, template, matricule
        self.field, self.excerpt, self.limit = field, excerpt, limit
        where = f"modèle « {template} »" + (f", salarié {matricule}" if matricule else "")
        message = f"{where} : {reason}"
        if excerpt:
            message += f" (près de : « {excerpt} »)"
        super().__init__(message)


class MissingField(jinja2.UndefinedError):
    """Raised by MissingValue; its message is the dotted path of the missing field."""


class Record(dict):
    """A dict that knows where it sits in the context, so a missing key can be named in full."""

    __slots__ = ("path",)

    def __init__(self, items: Mapping[str, Any], path: str) -> None:
        super().__init__(items)
        self.path = path


class MissingValue(jinja2.StrictUndefined):
    """Strict undefined that may still be tested: `{% if x %}` is false, `{{ x }}` is an error."""

    __slots__ = ()

    def __init__(self, hint=None, obj=jinja2.utils.missing, name=None, exc=MissingField) -> None:
        # The sandbox's refusals stay refusals; anything else missing names its field.
        super().__init__(hint, obj, name, SecurityError if exc is SecurityError else MissingField)

    def __bool__(self) -> bool:
        return False

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        parent = getattr(self._undefined_obj, "path", None)
        return f"{parent}.{self._undefined_name}" if parent else str(self._undefined_name)


def wrap(value: Any, path: str = "") -> Any:
    """Turn nested dicts into Records (and drop None values, which count as missing)."""
    if isinstance(value, Mapping):
        return Record(
            {k: wrap(v, f"{path}.{k}" if path else str(k)) for k, v in value.items() if v is not None},
            path,
        )
    if isinstance(value, (list, tuple)):
        return [wrap(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        # Line breaks stay (docxtpl turns them into w:br); other control characters, which
        # spreadsheets and copy-paste bring and XML forbids, go.
        return _CONTROL.sub("", value.replace("\r\n", "\n"))
    return value


class TemplateEnvironment(BoundedEnvironment):
    """The bounded sandbox with French filters; compiled templates are cached by source, because a
    batch renders the same XML thousands of times and compiling costs more than rendering."""

    def __init__(self, timezone: str = "Europe/Paris", limits: RenderLimits = RenderLimits()) -> None:
        super().__init__(limits, undefined=MissingValue, autoescape=True, auto_reload=False)
        self.filters.update({name: _strict(f) for name, f in FILTERS.items()})
        self.filters["heure"] = _strict(functools.partial(FILTERS["heure"], tz=timezone))
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 (Jinja's name)
        self.note_source(source)
        if globals or template_class or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        template = self._compiled.get(source)
        if template is None:
            if len(self._compiled) > 64:
                self._compiled.clear()
            template = self._compiled[source] = super().from_string(source)
        return template


class _PreparedTemplate(DocxTemplate):
    """docxtpl minus the work that is the same for every document of a batch: the template is
    parsed once and copied, and its XML clean-up (patch_xml) is done once per part."""

    def __init__(self, template: bytes, pristine: Document, patched: dict[str, str]) -> None:
        super().__init__(io.BytesIO(template))
        self._pristine, self._patched = pristine, patched

    def init_docx(self, reload: bool = True) -> None:
        if not self.docx or (self.is_rendered and reload):
            self.docx = copy.deepcopy(self._pristine)
            self.is_rendered = False

    def patch_xml(self, src_xml: str) -> str:
        patched = self._patched.get(src_xml)
        if patched is None:
            patched = self._patched[src_xml] = super().patch_xml(src_xml)
        return patched


def _strict(formatter: Callable[..., str]) -> Callable[..., str]:
    """A formatter given a missing value reports the missing field, not a type error."""

    @functools.wraps(formatter)
    def checked(value: Any, *args: Any, **kwargs: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return formatter(value, *args, **kwargs)

    return checked


class DocxRenderer:
    """One checked template, rendered for many employees."""

    def __init__(self, template: bytes, name: str, *, timezone: str = "Europe/Paris",
                 limits: PackageLimits = PackageLimits(), render_limits: RenderLimits = RenderLimits()) -> None:
        try:
            check_docx(template, limits)
        except UnsafePackage as exc:
            raise RenderError(str(exc), template=name) from None
        self.template, self.name = template, name
        self.env = TemplateEnvironment(timezone, render_limits)
        self._pristine: Document | None = None
        self._patched: dict[str, str] = {}

    def render(self, context: Mapping[str, Any], matricule: str | None = None) -> bytes:
        """Return the rendered DOCX; raise RenderError naming what is wrong."""
        out = io.BytesIO()
        self.render_document(context, matricule).save(out)
        return out.getvalue()

    def render_document(self, context: Mapping[str, Any], matricule: str | None = None) -> Document:
        """Like render, but return the python-docx document (a batch merges them unsaved)."""
        if self._pristine is None:
            self._pristine = DocxTemplate(io.BytesIO(self.template)).get_docx()
        doc = _PreparedTemplate(self.template, self._pristine, self._patched)
        try:
            with self.env.bounded():
                try:
                    doc.render(self._prepare(doc, context), self.env, autoescape=True)
                except (TemplateLimit, RecursionError, OverflowError, MemoryError) as exc:
                    raise RenderError(_limit_reason(exc), template=self.name, matricule=matricule,
                                      excerpt=_line_of(exc, self.env.current_source), limit=True) from None
        except MissingField as exc:
            raise RenderError(f"la valeur « {exc} » est manquante", template=self.name,
                              matricule=matricule, field=str(exc)) from None
        except SecurityError as exc:
            raise RenderError(f"instruction interdite dans le modèle ({_security_reason(exc)})",
                              template=self.name, matricule=matricule) from None
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"erreur de syntaxe : {exc.message}", template=self.name, matricule=matricule,
                              excerpt=_excerpt(exc)) from None
        except (TypeError, ValueError, jinja2.TemplateError) as exc:
            raise RenderError(f"valeur invalide : {exc}", template=self.name, matricule=matricule,
                              excerpt=_excerpt(exc)) from None
        return doc.docx

    def _prepare(self, doc: DocxTemplate, context: Mapping[str, Any]) -> Record:
        data = dict(context)
        company = data.get("societe")
        if isinstance(company, Mapping) and company.get("logo") is not None:
            data["societe"] = {**company, "logo": _logo(doc, company["logo"])}
        return wrap(data)


def _limit_reason(exc: BaseException) -> str:
    if isinstance(exc, TemplateLimit):
        return f"limite dépassée : {exc}"
    if isinstance(exc, RecursionError):
        return "limite dépassée : appels imbriqués trop profonds (une macro qui s'appelle sans fin ?)"
    if isinstance(exc, MemoryError):
        return "limite dépassée : le remplissage demande trop de mémoire"
    return "limite dépassée : un calcul donne un nombre trop grand"


def _security_reason(exc: SecurityError) -> str:
    """Jinja's English refusal, said in French with the name it refused."""
    text = str(exc)
    found = re.search(r"attribute '([^']+)'", text)
    if found:
        return f"l'attribut « {found.group(1)} » n'est pas accessible"
    if "not safely callable" in text:
        return "cet appel n'est pas permis"
    if "modif" in text or "unsafe" in text:
        return "un modèle ne peut pas modifier les données"
    return "opération non permise"


def _line_of(exc: BaseException, source: str | None) -> str | None:
    """The paragraph of the template where a runtime error happened (Jinja puts template lines in tracebacks)."""
    lineno = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<template>":
            lineno = line
    if lineno is None or source is None:
        return None
    lines = source.splitlines()
    if not 0 < lineno <= len(lines):
        return None
    text = " ".join(re.sub(r"<[^>]+>", "", lines[lineno - 1]).split())
    return text[:200] or None


def _logo(doc: DocxTemplate, logo: Any) -> Any:
    if isinstance(logo, InlineImage):
        return logo
    source = io.BytesIO(logo) if isinstance(logo, (bytes, bytearray)) else str(logo)
    return InlineImage(doc, source, height=LOGO_HEIGHT)


def render_docx(template: bytes, context: Mapping[str, Any], *, template_name: str,
                matricule: str | None = None, timezone: str = "Europe/Paris") -> bytes:
    """Render one document; for many documents keep a DocxRenderer."""
    return DocxRenderer(template, template_name, timezone=timezone).render(context, matricule)


# --- Inspection -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TemplateProblem:
    """A syntax error in a template, with the document text around it."""

    message: str
    excerpt: str


@dataclass(frozen=True)
class Inspection:
    """What a template uses and what is wrong with it."""

    variables: list[str] = field(default_factory=list)
    """Dotted paths, `[]` for list items: `salarie.nom`, `salarie.formations[].intitule`."""
    problems: list[TemplateProblem] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Variables that the known fields do not contain: usually a typo."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unknown


def inspect_template(template: bytes, name: str, known_fields: set[str] | None = None) -> Inspection:
    """List the variables a template uses and its syntax errors, without rendering it."""
    try:
        check_docx(template)
    except UnsafePackage as exc:
        return Inspection(problems=[TemplateProblem(str(exc), "")])
    env = TemplateEnvironment()
    variables: set[str] = set()
    problems = []
    for source in _template_sources(template):
        try:
            variables |= set(_paths(env.parse(source)))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(TemplateProblem(f"erreur de syntaxe : {exc.message}", _excerpt(exc, source)))
    unknown = []
    if known_fields is not None:
        unknown = sorted(v for v in variables if v not in known_fields)
    return Inspection(sorted(variables), problems, unknown)


def _template_sources(template: bytes) -> Iterator[str]:
    """The body, headers and footers as docxtpl feeds them to Jinja (one paragraph per line)."""
    doc = DocxTemplate(io.BytesIO(template))
    doc.init_docx()
    parts = [doc.docx._element.body]
    for uri in (doc.HEADER_URI, doc.FOOTER_URI):
        parts += [part.element for _, part in doc.get_headers_footers(uri)]
    for element in parts:
        xml = doc.patch_xml(doc.xml_to_string(element))
        yield re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def _excerpt(exc: Exception, source: str | None = None) -> str | None:
    """The document text around a Jinja error: docxtpl puts a paragraph on each line."""
    lines = getattr(exc, "docx_context", None)
    if lines is None and source is not None and getattr(exc, "lineno", None):
        start = max(exc.lineno - 2, 0)
        lines = [re.sub(r"<[^>]+>", "", line) for line in source.splitlines()[start:exc.lineno + 1]]
    if lines is None:
        return None
    text = " ".join(" ".join(lines).split())
    return text[:200] or None


def _paths(tree: nodes.Template) -> Iterator[str]:
    """Dotted paths of the context values a template reads; loop variables map to their list."""

    def path_of(node: nodes.Node, scope: dict[str, str]) -> str | None:
        if isinstance(node, nodes.Name):
            return scope.get(node.name, node.name)
        if isinstance(node, nodes.Getattr):
            base = path_of(node.node, scope)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            base = path_of(node.node, scope)
            return f"{base}.{node.arg.value}" if base and isinstance(node.arg.value, str) else base
        return None

    def walk(node: nodes.Node, scope: dict[str, str]) -> Iterator[str]:
        if isinstance(node, nodes.For):
            yield from walk(node.iter, scope)
            inner = dict(scope)
            source = path_of(node.iter, scope)
            for target in node.target.find_all(nodes.Name) if not isinstance(node.target, nodes.Name) else [node.target]:
                inner[target.name] = f"{source}[]" if source else target.name
            inner["loop"] = ""
            for child in [*node.body, *node.else_]:
                yield from walk(child, inner)
            if node.test is not None:
                yield from walk(node.test, inner)
            return
        if isinstance(node, nodes.Assign):
            yield from walk(node.node, scope)
            for target in node.target.find_all(nodes.Name):
                scope[target.name] = ""
            return
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            path = path_of(node, scope)
            if path:
                yield path
                return
        for child in node.iter_child_nodes():
            yield from walk(child, scope)

    seen: set[str] = set()
    for path in walk(tree, {}):
        # Keep the deepest paths only: `salarie.nom` implies `salarie`.
        seen.add(path)
    for path in seen:
        if not any(other != path and other.startswith((path + ".", path + "[")) for other in seen):
            yield path
