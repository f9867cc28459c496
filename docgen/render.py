"""Renders DOCX templates with docxtpl inside a sandboxed Jinja environment, and inspects them.

Templates may be uploaded by users, so they are untrusted code: Jinja runs sandboxed and immutable,
every value is XML-escaped, and a missing value stops the rendering with the field's name instead of
leaving a blank in a letter.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import jinja2
from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsmap
from docx.oxml.parser import element_class_lookup
from lxml import etree
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import nodes
from jinja2.sandbox import SecurityError

from docgen.formatting import FILTERS
from docgen.package import PackageLimits, UnsafePackage, check_docx
from docgen.paragraph_styles import name_paragraph_formats
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

    def __init__(self, template: bytes, pristine: Document, patched: dict[str, str],
                 prepared: _Prepared | None = None, *, letter: bool = False) -> None:
        super().__init__(io.BytesIO(template))
        self._pristine, self._patched = pristine, patched
        self._prepared = prepared or _Prepared.of(pristine)
        self._letter = letter

    def init_docx(self, reload: bool = True) -> None:
        if not self.docx or (self.is_rendered and reload):
            # Parts the rendering never writes are shared with the pristine copy, not copied.
            self.docx = copy.deepcopy(self._pristine, dict(self._prepared.shared))
            self.is_rendered = False

    def get_xml(self) -> str:
        # Called before the body is replaced: the pristine body, serialised once.
        return self._prepared.letter_body if self._letter else self._prepared.body

    def get_headers_footers(self, uri: str):
        for rel_key in self._prepared.headers_footers.get(uri, ()):
            rel = self.docx._part.rels[rel_key]
            shared = rel.target_part
            # docxtpl replaces the part once rendered; meanwhile an image rendered into it (a logo) must be
            # added to this letter's own part and package, not to the template's shared part.
            own = type(shared)(shared.partname, shared.content_type, shared._element, self.docx._part.package)
            for rid, inner in shared.rels.items():
                own.load_rel(inner.reltype, inner._target, rid, inner.is_external)
            rel._target = own
            yield rel_key, own

    def get_part_xml(self, part) -> str:
        xml = self._prepared.part_xml.get(part.partname)
        if xml is None:  # not a shared part (never so for the template's own headers and footers)
            xml = super().get_part_xml(part)
        return xml

    def patch_xml(self, src_xml: str) -> str:
        patched = self._patched.get(src_xml)
        if patched is None:
            patched = self._patched[src_xml] = super().patch_xml(src_xml)
        return patched

    def resolve_listing(self, xml: str) -> str:
        # It only rewrites tabs, line and page breaks inside text: without any, the XML stays as it is.
        if not _LISTING_CHARS.search(xml):
            return xml
        return super().resolve_listing(xml)

    def render_properties(self, context, jinja_env=None) -> None:
        if self._prepared.templated_properties:
            super().render_properties(context, jinja_env)

    def render_footnotes(self, context, jinja_env=None) -> None:
        if self._prepared.footnotes:
            super().render_footnotes(context, jinja_env)


_LISTING_CHARS = re.compile("[\t\a\n\f]")
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")  # those docxtpl renders
_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
# Parts that neither docxtpl nor the batch's merges write into: every letter shares the template's.
# Headers and footers are among them because docxtpl replaces them with new parts when rendering.
_SHARED = ("styles+xml", "settings+xml", "webSettings+xml", "fontTable+xml", "theme+xml", "header+xml",
           "footer+xml", "extended-properties+xml", "customXmlProperties+xml", "application/xml")


@dataclass(frozen=True)
class _Prepared:
    """What every rendering of one template reads from the pristine copy, computed once."""

    body: str
    shared: dict[int, Any]
    headers_footers: dict[str, tuple[str, ...]]
    part_xml: dict[str, str]
    templated_properties: bool
    footnotes: bool
    letter_body: str  # the body for a merge's letters: its paragraph formatting named (docgen.paragraph_styles)
    letter_styles: tuple[Any, ...]  # the styles it names, for the merge's own styles part

    @classmethod
    def of(cls, pristine: Document) -> _Prepared:
        parts = list(pristine.part.package.iter_parts())
        shared = {id(part): part for part in parts
                  if part.content_type.endswith(_SHARED) or part.content_type.startswith("image/")}
        # So are the relationships to them, but for headers' and footers' (their target is replaced).
        for source in (pristine.part.package, *parts):
            for rel in source.rels.values():
                if not rel.is_external and id(rel.target_part) in shared and rel.reltype not in (
                        DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
                    shared[id(rel)] = rel
        headers_footers, part_xml = {}, {}
        for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
            keys = []
            for rel_key, rel in pristine.part.rels.items():
                if rel.reltype == uri and not rel.is_external and rel.target_part.blob:
                    keys.append(rel_key)
                    part = rel.target_part
                    part_xml[part.partname] = etree.tostring(parse_xml(part.blob), encoding="unicode")
            headers_footers[uri] = tuple(keys)
        properties = pristine.core_properties
        templated = any("{" in (getattr(properties, name) or "") or (getattr(properties, name) or "").endswith("\n")
                        for name in _PROPERTIES)
        if not templated:
            # What docxtpl's rendering would write (the same text, empty elements made): done once here.
            for name in _PROPERTIES:
                setattr(properties, name, getattr(properties, name))
        body = etree.tostring(pristine.element.body, encoding="unicode")
        letter_body, letter_styles = body, []
        if any(rel.reltype == RT.STYLES and not rel.is_external for rel in pristine.part.rels.values()):
            named, letter_styles = name_paragraph_formats(pristine.element.body, pristine.styles.element)
            if letter_styles:
                letter_body = etree.tostring(named, encoding="unicode")
        return cls(body, shared, headers_footers, part_xml, templated,
                   any(part.content_type == _FOOTNOTES for part in parts), letter_body, tuple(letter_styles))


class Letter:
    """A letter rendered for a merge (DocxRenderer.render_letter): read where docgen.letters and docgen.merge
    read a python-docx document, `element.body` and `part.rels[rId].target_part.element`, the template's
    relationships with this letter's own rendered headers and footers in place of the template's."""

    def __init__(self, body: Any, rels: Mapping[str, Any], rendered: Mapping[str, Any],
                 styles: Sequence[Any] = ()) -> None:
        self.element = SimpleNamespace(body=body)
        self.paragraph_styles = styles  # those its body refers to, for the merge's styles part
        self.part = SimpleNamespace(rels={
            key: SimpleNamespace(reltype=rel.reltype, is_external=rel.is_external, rId=rel.rId,
                                 target_part=SimpleNamespace(partname=rel.target_part.partname, element=rendered[key]))
            if key in rendered else rel for key, rel in rels.items()})


# docxtpl's parser (errors recovered, blanks kept) giving python-docx's element classes, which the merge uses.
_DOCX_CLASSES = etree.XMLParser(recover=True, resolve_entities=False)
_DOCX_CLASSES.set_element_class_lookup(element_class_lookup)


def _body(doc: DocxTemplate, xml: str) -> Any:
    """The rendered body XML parsed as docxtpl's render parses it, with python-docx's classes."""
    if "<w:tbl" in xml:  # docxtpl mends the tables whose cells a loop made, with plain lxml: parsed again
        body = etree.fromstring(etree.tostring(doc.fix_tables(xml)), _DOCX_CLASSES)
    else:
        body = etree.fromstring(xml, _DOCX_CLASSES)
    # docxtpl's fix_docpr_ids: drawings numbered from 1001 in each document (lxml's own xpath: python-docx's
    # elements override it without namespaces).
    for number, drawing in enumerate(etree._Element.xpath(body, "//wp:docPr", namespaces=nsmap), start=1001):
        drawing.attrib["id"] = str(number)
    return body


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
        self._prepared: _Prepared | None = None
        self._patched: dict[str, str] = {}

    def render(self, context: Mapping[str, Any], matricule: str | None = None) -> bytes:
        """Return the rendered DOCX; raise RenderError naming what is wrong."""
        out = io.BytesIO()
        self.render_document(context, matricule).save(out)
        return out.getvalue()

    def render_document(self, context: Mapping[str, Any], matricule: str | None = None) -> Document:
        """Like render, but return the python-docx document (a batch merges them unsaved)."""
        pristine, prepared = self._loaded()
        doc = _PreparedTemplate(self.template, pristine, self._patched, prepared)
        with self._reported(matricule):
            doc.render(self._prepare(doc, context), self.env, autoescape=True)
        return doc.docx

    def render_letter(self, context: Mapping[str, Any], matricule: str | None = None) -> Document | Letter:
        """For a one-section merge's letters after the first (docgen.merge.merge_letters): a Letter, its body,
        headers and footers rendered as render_document renders them, without a document of its own to copy
        and fill (its paragraphs go into the first letter's). A letter that would add a part of its own (a
        logo) or render footnotes gets a document (render_document)."""
        pristine, prepared = self._loaded()
        if prepared.footnotes or _logo_of(context) is not None:
            return self.render_document(context, matricule)
        doc = _PreparedTemplate(self.template, pristine, self._patched, prepared, letter=True)
        doc.docx = pristine  # read, not copied: what is rendered below goes into this letter's own elements
        doc.render_init()
        self.env.autoescape = True
        with self._reported(matricule):
            data = self._prepare(doc, context)
            body = _body(doc, doc.build_xml(data, self.env))
            rendered = {}
            for rel_key in (*prepared.headers_footers.get(doc.HEADER_URI, ()),
                            *prepared.headers_footers.get(doc.FOOTER_URI, ())):
                part = pristine.part.rels[rel_key].target_part
                xml = doc.render_xml_part(doc.patch_xml(doc.get_part_xml(part)), part, data, self.env)
                rendered[rel_key] = parse_xml(xml.encode(doc.get_headers_footers_encoding(xml)))
        return Letter(body, pristine.part.rels, rendered, prepared.letter_styles)

    def _loaded(self) -> tuple[Document, _Prepared]:
        if self._pristine is None:
            pristine = DocxTemplate(io.BytesIO(self.template)).get_docx()
            self._prepared = _Prepared.of(pristine)
            self._pristine = pristine
        return self._pristine, self._prepared

    @contextlib.contextmanager
    def _reported(self, matricule: str | None) -> Iterator[None]:
        """What goes wrong while rendering, as a RenderError naming the field, limit or line."""
        try:
            with self.env.bounded():
                try:
                    yield
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
            raise RenderError(f"erreur de syntaxe : {_french_syntax(exc.message or '')}", template=self.name,
                              matricule=matricule,
                              excerpt=_excerpt(exc)) from None
        except (TypeError, ValueError, jinja2.TemplateError) as exc:
            raise RenderError(f"valeur invalide : {exc}", template=self.name, matricule=matricule,
                              excerpt=_excerpt(exc)) from None

    def _prepare(self, doc: DocxTemplate, context: Mapping[str, Any]) -> Record:
        data = dict(context)
        logo = _logo_of(context)
        if logo is not None:
            data["societe"] = {**data["societe"], "logo": _logo(doc, logo)}
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


def _logo_of(context: Mapping[str, Any]) -> Any:
    """The company's logo, if the context has one: rendered, it adds an image to the letter's package."""
    company = context.get("societe")
    return company.get("logo") if isinstance(company, Mapping) else None


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
    """List the variables a template uses and every problem it has, in French, without rendering it.

    Syntax errors are all collected (after each, its paragraph is set aside and the part read again);
    then what would fail at every rendering: unknown filters and tests, private attributes (refused
    by the sandbox), and docxtpl's `{{r …}}` / `{{p …}}` / `{{tr …}}` / `{{tc …}}` value tags, which want
    objects Parcours never gives and would leave text outside any run.
    """
    try:
        check_docx(template)
    except UnsafePackage as exc:
        return Inspection(problems=[TemplateProblem(str(exc), "")])
    env = TemplateEnvironment()
    variables: set[str] = set()
    problems: list[TemplateProblem] = []
    for text, source in _template_sources(template):
        problems += _value_tags(text)
        tree = _parse_all(env, source, problems)
        if tree is not None:
            problems += _unusable(env, tree, source)
            variables |= set(_paths(tree, set(env.globals)))
    unknown = []
    if known_fields is not None:
        unknown = sorted(v for v in variables if v not in known_fields)
    return Inspection(sorted(variables), problems, unknown)


def _template_sources(template: bytes) -> Iterator[tuple[str, str]]:
    """For the body, headers and footers: their text, and their source as docxtpl feeds it to Jinja
    (one paragraph per line)."""
    doc = DocxTemplate(io.BytesIO(template))
    doc.init_docx()
    parts = [doc.docx._element.body]
    for uri in (doc.HEADER_URI, doc.FOOTER_URI):
        parts += [part.element for _, part in doc.get_headers_footers(uri)]
    for element in parts:
        raw = doc.xml_to_string(element)
        text = re.sub(r"<[^>]+>", "", re.sub(r"<w:p([ >])", r"\n<w:p\1", raw))
        xml = doc.patch_xml(raw)
        yield text, re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


_VALUE_TAG = re.compile(r"\{\{(r|p|tr|tc)\s")


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


def _value_tags(text: str) -> list[TemplateProblem]:
    problems = []
    for line in text.splitlines():
        for found in _VALUE_TAG.finditer(line):
            problems.append(TemplateProblem(
                f"la balise « {{{{{found.group(1)} … }}}} » (texte enrichi de docxtpl) n'est pas prise en charge : "
                "écrivez « {{ … }} »", " ".join(line.split())[:200]))
    return problems


def _parse_all(env: TemplateEnvironment, source: str, problems: list[TemplateProblem]) -> nodes.Template | None:
    """The part's tree (its faulty paragraphs set aside), each syntax error added to `problems`."""
    lines = source.splitlines()
    seen: set[int] = set()
    for _ in range(50):
        try:
            return env.parse("\n".join(lines))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(TemplateProblem(f"erreur de syntaxe : {_french_syntax(exc.message or '')}",
                                            _excerpt(exc, source) or ""))
            if not exc.lineno or exc.lineno in seen or exc.lineno > len(lines):
                return None
            seen.add(exc.lineno)
            # Set the faulty paragraph's tags aside and read on, to report the next error too.
            lines[exc.lineno - 1] = re.sub(r"\{[{%#].*?([}%#]\}|$)|[}%#]\}", "", lines[exc.lineno - 1])
    return None


def _unusable(env: TemplateEnvironment, tree: nodes.Template, source: str) -> list[TemplateProblem]:
    """What parses but would fail at every rendering."""
    lines = source.splitlines()
    problems = []

    def at(node: nodes.Node) -> str:
        line = lines[node.lineno - 1] if 0 < node.lineno <= len(lines) else ""
        return " ".join(re.sub(r"<[^>]+>", "", line).split())[:200]

    for node in tree.find_all((nodes.Filter, nodes.Test, nodes.Getattr)):
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            problems.append(TemplateProblem(f"filtre inconnu « {node.name} »", at(node)))
        elif isinstance(node, nodes.Test) and node.name not in env.tests:
            problems.append(TemplateProblem(f"test inconnu « {node.name} »", at(node)))
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append(TemplateProblem(f"instruction interdite : l'attribut « {node.attr} » n'est pas "
                                            "accessible", at(node)))
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            problems.append(TemplateProblem(f"instruction interdite : l'attribut « {node.arg.value} » n'est pas "
                                            "accessible", at(node)))
    return problems


def _quoted(names: str) -> str:
    """`'elif' or 'else' or 'endif'` as « elif », « else » ou « endif »."""
    words = [f"« {w} »" for w in re.findall(r"'([^']*)'", names)]
    return ", ".join(words[:-1]) + f" ou {words[-1]}" if len(words) > 1 else "".join(words)


_JINJA_PHRASES = [
    (r"Encountered unknown tag '([^']+)'\.", lambda m: f"balise inconnue « {m[1]} »."),
    (r"Unexpected end of template\.", lambda m: "fin du modèle atteinte alors qu'un bloc est encore ouvert."),
    (r"unexpected end of template, expected '([^']+)'\.?", lambda m: f"fin du modèle inattendue, « {m[1]} » attendu."),
    (r"Jinja was looking for the following tags: (.+?)\.(?= |$)", lambda m: f"Balises attendues : {_quoted(m[1])}."),
    (r"The innermost block that needs to be closed is '([^']+)'\.", lambda m: f"Le bloc « {m[1]} » n'est pas fermé."),
    (r"expected token '([^']+)', got '([^']+)'", lambda m: f"« {m[2]} » inattendu, « {m[1]} » attendu"),
    (r"expected token '([^']+)'", lambda m: f"« {m[1]} » attendu"),
    (r"unexpected char '(.+?)' at \d+", lambda m: f"caractère « {m[1]} » inattendu"),
    (r"unexpected '([^']+)'", lambda m: f"« {m[1]} » inattendu"),
    (r"tag name expected", lambda m: "nom de balise attendu après « {% »"),
    (r"Block '([^']+)' defined twice", lambda m: f"bloc « {m[1]} » défini deux fois"),
]


def _french_syntax(message: str) -> str:
    """Jinja's usual syntax messages in French (an unusual one keeps Jinja's words)."""
    text = message
    for english, french in (("end of print statement", "}}"), ("end of statement block", "%}"),
                            ("end of template", "fin du modèle"), ("name", "nom")):
        text = text.replace(f"'{english}'", f"'{french}'")
    for pattern, replacement in _JINJA_PHRASES:
        text = re.sub(pattern, replacement, text)
    return text.strip()


def _paths(tree: nodes.Template, builtins: set[str] = frozenset()) -> Iterator[str]:  # type: ignore[assignment]
    """Dotted paths of the context values a template reads; loop variables map to their list, names the
    template makes (set, macro parameters, unpacked loop variables) and Jinja's own (range…) are not data."""

    def path_of(node: nodes.Node, scope: dict[str, str]) -> str | None:
        if isinstance(node, nodes.Name):
            if node.name not in scope and node.name in builtins:
                return None
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
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = f"{source}[]" if source else ""
            else:  # `for a, b in …`: the items are pairs, their parts are the template's own names
                for target in node.target.find_all(nodes.Name):
                    inner[target.name] = ""
            inner["loop"] = ""
            for child in [*node.body, *node.else_]:
                yield from walk(child, inner)
            if node.test is not None:
                yield from walk(node.test, inner)
            return
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            for default in node.defaults:
                yield from walk(default, scope)
            if isinstance(node, nodes.CallBlock):
                yield from walk(node.call, scope)
            inner = {**scope, "caller": "", "varargs": "", "kwargs": ""}
            inner.update({arg.name: "" for arg in node.args})
            if isinstance(node, nodes.Macro):
                scope[node.name] = ""
            for child in node.body:
                yield from walk(child, inner)
            return
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            # `salarie.nom.upper()`, `x.items()`: the value is read, the method is not a field.
            base = path_of(node.node.node, scope)
            if base:
                yield base
            else:
                yield from walk(node.node.node, scope)
            for child in [*node.args, *node.kwargs, *filter(None, [node.dyn_args, node.dyn_kwargs])]:
                yield from walk(child, scope)
            return
        if isinstance(node, (nodes.Assign, nodes.AssignBlock, nodes.With)):
            if isinstance(node, nodes.With):
                values = node.values
            else:
                values = [node.node] if isinstance(node, nodes.Assign) else node.body
            for value in values:
                yield from walk(value, scope)
            inner = dict(scope) if isinstance(node, nodes.With) else scope
            for target in (node.targets if isinstance(node, nodes.With) else [node.target]):
                for name in target.find_all(nodes.Name):
                    inner[name.name] = ""
                if isinstance(target, nodes.Name):
                    inner[target.name] = ""
            if isinstance(node, nodes.With):
                for child in node.body:
                    yield from walk(child, inner)
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
