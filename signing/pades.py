"""PAdES signatures of the compte rendu with pyHanko: fields at the anchors, certification then
approval signatures (B-LT, hard-fail revocation), the comments field, the final B-LTA timestamp.

Flow: ``prepare`` (every field, in one incremental update) → ``sign`` (manager, certify=True) →
``sign`` (employee, fill={comments}) → ``seal``. ``verify`` gives a small report per signature.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from fontTools.ttLib.tables.O_S_2f_2 import intersectUnicodeRanges
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as HankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle
from pyhanko.sign import fields as hfields
from pyhanko.sign import signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from .errors import (
    AnchorNotFound,
    CertificateInvalid,
    CertificateRevoked,
    FieldError,
    PdfError,
    RevocationUnavailable,
    SigningError,
    TimestampError,
)
from .pki import SignerCredentials

__all__ = [
    "FieldKind",
    "FieldSpec",
    "Appearance",
    "ValidationInputs",
    "SignatureReport",
    "COMPTE_RENDU_FIELDS",
    "ETAT_DES_LIEUX_FIELDS",
    "fill",
    "field_names",
    "REMISE_FIELD",
    "SEAL_FIELD",
    "prepare",
    "sign",
    "seal",
    "verify",
    "format_signing_time",
]

CM = 72 / 2.54
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CARLITO = "/usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf"
"""The documents' font (Calibri in the templates, Carlito, metric-compatible, where LibreOffice renders them)."""
TEXT_SIZES = (11, 10, 9)
"""Sizes tried in turn for a filled text field: the documents' body size (10,5 pt) or more first, never below
9 pt (pyHanko writes whole points)."""
PARIS = ZoneInfo("Europe/Paris")
MD = "sha256"


class FieldKind(enum.Enum):
    SIGNATURE = "signature"
    TEXT = "text"


@dataclass(frozen=True)
class FieldSpec:
    """A form field placed at an anchor of the PDF."""

    name: str
    """The field's name (/T), e.g. ``signature_manager``."""
    anchor: str | None
    """The anchor text in the PDF, e.g. ``[[SIG_MANAGER]]``; the field's top-left corner goes there.
    None for an invisible signature field (an organisation's seal)."""
    kind: FieldKind = FieldKind.SIGNATURE
    width: float = 7 * CM
    """Width in points."""
    height: float = 3 * CM
    """Height in points."""
    label: str | None = None
    """Readable name (/TU), in French."""
    locks: tuple[str, ...] = ()
    """Signature fields only: the fields its signature will lock (FieldMDP INCLUDE). The lock must
    be written when the field is created: adding it in a later revision is an illegal change."""
    optional: bool = False
    """Created only when its anchor is in the PDF (a template that leaves it out still signs); the locks
    then name only the fields that exist."""

    def __post_init__(self):
        if self.locks and self.kind is not FieldKind.SIGNATURE:
            raise ValueError(f"field {self.name}: only a signature field can lock fields")
        if not self.name or "." in self.name:
            raise ValueError(f"a field name must be non-empty and without dots: {self.name!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"field {self.name}: width and height must be positive")
        if self.anchor is None and self.kind is not FieldKind.SIGNATURE:
            raise ValueError(f"field {self.name}: only a signature field may be invisible (no anchor)")


SEAL_FIELD = FieldSpec("cachet_organisation", None, label="Cachet de l'organisation", locks=("cachet_organisation",))
"""The organisation's own seal after the last signer: invisible, created with the others."""

COMMENTS_HEIGHT = 10.8 * CM
"""The comments box of the templates is 11 cm high (scripts/build_templates.py, COMMENTS_BOX_CM): room for
2 000 characters at the document's body size."""
COMMENTS_FIELD = FieldSpec(
    "commentaires_salarie",
    "[[CHAMP_COMMENTAIRES]]",
    FieldKind.TEXT,
    width=16.6 * CM,
    height=COMMENTS_HEIGHT,
    label="Commentaires du salarié",
)

REMISE_FIELD = FieldSpec(
    "date_remise",
    "[[CHAMP_REMISE]]",
    FieldKind.TEXT,
    width=10.6 * CM,
    height=0.75 * CM,
    label="Date de remise de la copie au salarié",
    optional=True,
)
"""Filled by the employee's signature with its day, the day the signed copy is e-mailed to him."""

COMPTE_RENDU_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "signature_manager", "[[SIG_MANAGER]]", label="Signature du responsable", locks=("signature_manager",)
    ),
    FieldSpec(
        "signature_salarie",
        "[[SIG_SALARIE]]",
        label="Signature du salarié",
        locks=("signature_salarie", "commentaires_salarie", "date_remise"),
    ),
    COMMENTS_FIELD,
    REMISE_FIELD,
)
"""The fields of parcours/resources/documents/compte_rendu.docx (see SCHEMA.md there)."""

ETAT_DES_LIEUX_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "signature_manager", "[[SIG_MANAGER]]", label="Signature pour l'employeur", locks=("signature_manager",)
    ),
    COMPTE_RENDU_FIELDS[1],
    COMMENTS_FIELD,
    REMISE_FIELD,
)
"""The fields of etat_des_lieux.docx: the employer's representative, then the employee (same anchors)."""


@dataclass(frozen=True)
class Appearance:
    """What the visible signature shows (French, for the reader)."""

    name: str
    role: str
    font_file: str = DEJAVU
    """An embedded TrueType font keeps the file PDF/A."""
    font_size: int = 9
    time_zone: str = "Europe/Paris"


@dataclass(frozen=True)
class ValidationInputs:
    """What the signer's chain is checked against, without any network access."""

    trust_roots: tuple[cx509.Certificate, ...]
    crls: tuple[bytes, ...] = ()
    """DER CRLs known to be current (issuing CA's and root's)."""
    ocsps: tuple[bytes, ...] = ()
    other_certs: tuple[cx509.Certificate, ...] = ()
    """Intermediates that may be needed to build the chains (e.g. the TSA's)."""
    allow_fetching: bool = False
    """Fetch CRLs/OCSP from the URLs in the certificates (off: the instance publishes its own)."""

    def __post_init__(self):
        if not self.trust_roots:
            raise ValueError("ValidationInputs needs at least one trust root")

    def context(self, moment: dt.datetime | None = None) -> ValidationContext:
        """A fresh hard-fail validation context (a context holds state: one per operation)."""
        return ValidationContext(
            trust_roots=[_asn1(c) for c in self.trust_roots],
            other_certs=[_asn1(c) for c in self.other_certs],
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            allow_fetching=self.allow_fetching,
            revocation_mode="hard-fail",
            moment=moment,
        )


@dataclass(frozen=True)
class SignatureReport:
    """A minimal, data-shaped view of one signature (or document timestamp) of a PDF."""

    field: str
    kind: str
    """``signature`` or ``document_timestamp``."""
    signer: str | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str | None
    """pyHanko's SignatureCoverageLevel name, e.g. ENTIRE_REVISION / ENTIRE_FILE."""
    modification_level: str | None
    """pyHanko's ModificationLevel name of the later revisions (NONE, LTA_UPDATES, FORM_FILLING...)."""
    docmdp_ok: bool | None
    certification: bool
    timestamp: dt.datetime | None
    """The time proven by the signature's timestamp token (or the document timestamp's time)."""
    timestamp_valid: bool | None
    bottom_line: bool
    summary: str


# ---------------------------------------------------------------------------------------------
# helpers


def _asn1(cert) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def format_signing_time(moment: dt.datetime, time_zone: str = "Europe/Paris") -> str:
    """« le 12 janvier 2027 à 14 h 30 » (« 1er » for the first day, « 9 h » on the hour)."""
    local = moment.astimezone(ZoneInfo(time_zone))
    day = "1er" if local.day == 1 else str(local.day)
    hour = f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"
    return f"le {day} {_MONTHS[local.month - 1]} {local.year} à {hour}"


# fontTools builds its table of Unicode blocks on its first subset (pyHanko subsets each signature's font), without
# a lock: a thread subsetting meanwhile could read it half-made. Built here, at import.
intersectUnicodeRanges(())

_FONT_RANGES = [*range(0x20, 0x250), *range(0x2000, 0x2070), 0x20AC, 0x2122, 0x2212, 0xFFFD]


@functools.lru_cache(maxsize=4)
def _usable_font(path: str) -> str:
    """A Latin subset of the font rescaled to 1000 units per em, cached on disk.

    pyHanko 0.38 writes glyph widths (/W) and TJ adjustments in the font's own units, which is only
    right for fonts with 1000 units per em; DejaVu Sans has 2048, so its glyphs were spread out.
    The subset also makes each signature load a small font instead of 750 kB.
    """
    with _FONT_LOCK:  # one at a time: each writes the same file (named by the process) before renaming it
        return _make_usable_font(path)


_FONT_LOCK = threading.Lock()


def _make_usable_font(path: str) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    source = Path(path)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "parcours-signing-fonts" / f"{source.stem}-{digest}-1000.ttf"
    if target.exists():
        return str(target)
    font = TTFont(str(source))
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_FONT_RANGES)
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    font.save(str(partial))
    os.replace(partial, target)
    return str(target)


def _cause_chain(exc: BaseException) -> Iterable[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def translate_error(exc: BaseException, doing: str) -> SigningError:
    for item in _cause_chain(exc):
        if isinstance(item, SigningError):
            return item
        if isinstance(item, cv_errors.RevokedError):
            return CertificateRevoked(f"{doing}: a certificate of the chain is revoked ({item})")
        if isinstance(item, (cv_errors.InsufficientRevinfoError, cv_errors.CRLValidationError,
                             cv_errors.OCSPValidationError)):
            return RevocationUnavailable(f"{doing}: the revocation status cannot be established ({item})")
        if isinstance(item, (cv_errors.PathValidationError, cv_errors.PathBuildingError,
                             cv_errors.ValidationError)):
            return CertificateInvalid(f"{doing}: the certificate chain is not valid ({item})")
        if isinstance(item, TimestampRequestError):
            return TimestampError(f"{doing}: the time-stamping authority failed ({item})")
    if isinstance(exc, HankoPdfError):
        return PdfError(f"{doing}: {exc}")
    return SigningError(f"{doing}: {exc}")


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (HankoPdfError, ValueError, KeyError) as exc:
        raise PdfError(f"the PDF cannot be read: {exc}") from exc


@dataclass(frozen=True)
class _Anchor:
    page: int
    x: float
    y: float
    size: float
    page_box: tuple[float, float, float, float]


def _find_anchors(pdf: bytes, wanted: set[str]) -> dict[str, _Anchor]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    found: dict[str, _Anchor] = {}
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        for index, page in enumerate(reader.pages):
            box = tuple(float(v) for v in page.mediabox)
            chunks: list[tuple[str, list, list, float]] = []

            def visit(text, cm, tm, font_dict, font_size, chunks=chunks):
                if text and text.strip():
                    chunks.append((text, list(cm), list(tm), float(font_size or 0)))

            page.extract_text(visitor_text=visit)
            for text, cm, tm, size in chunks:
                for anchor in wanted - found.keys():
                    if anchor in text:
                        # user-space position = tm × cm
                        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                        scale = abs(tm[3] * cm[3]) or 1.0
                        found[anchor] = _Anchor(index, x, y, size * scale, box)
    except PyPdfError as exc:
        raise PdfError(f"the PDF cannot be read: {exc}") from exc
    return found


def _rect(anchor: _Anchor, spec: FieldSpec) -> tuple[float, float, float, float]:
    llx_page, lly_page, urx_page, ury_page = anchor.page_box
    top = min(anchor.y + max(anchor.size, 1.0), ury_page)
    left = max(anchor.x, llx_page)
    right = min(left + spec.width, urx_page)
    bottom = max(top - spec.height, lly_page)
    return (round(left, 2), round(bottom, 2), round(right, 2), round(top, 2))


def _fields_by_name(writer) -> dict[str, generic.IndirectObject]:
    try:
        form = writer.root["/AcroForm"]
        refs = form["/Fields"]
    except KeyError:
        return {}
    return {str(ref.get_object().get("/T")): ref for ref in refs}


# ---------------------------------------------------------------------------------------------
# prepare


def prepare(pdf: bytes, fields: Sequence[FieldSpec] = COMPTE_RENDU_FIELDS) -> bytes:
    """Every field at its anchor, in one incremental update (to be done before any signature)."""
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise FieldError(f"duplicate field names: {names}")
    for spec in fields:
        unknown = [name for name in spec.locks if name not in names]
        if unknown:
            raise FieldError(f"{spec.name} locks unknown fields: {', '.join(unknown)}")
    anchors = _find_anchors(pdf, {f.anchor for f in fields if f.anchor is not None})
    for spec in fields:
        if spec.anchor is not None and spec.anchor not in anchors and not spec.optional:
            raise AnchorNotFound(spec.anchor)
    fields = [spec for spec in fields if spec.anchor is None or spec.anchor in anchors]
    present = {spec.name for spec in fields}
    writer = _writer(pdf)
    existing = _fields_by_name(writer)
    for spec in fields:
        if spec.name in existing:
            raise FieldError(f"the PDF already has a field named {spec.name}")
    try:
        if writer.prev.embedded_signatures:
            raise FieldError("fields must be added before the first signature")
        for spec in fields:
            anchor = anchors[spec.anchor] if spec.anchor is not None else None
            rect = _rect(anchor, spec) if anchor is not None else None
            if spec.kind is FieldKind.SIGNATURE:
                hfields.append_signature_field(
                    writer,
                    hfields.SigFieldSpec(
                        spec.name,
                        on_page=anchor.page if anchor is not None else 0,
                        box=tuple(rect) if rect is not None else None,
                        readable_field_name=spec.label,
                        field_mdp_spec=(
                            hfields.FieldMDPSpec(hfields.FieldMDPAction.INCLUDE,
                                                 [name for name in spec.locks if name in present])
                            if spec.locks
                            else None
                        ),
                    ),
                )
            else:
                _add_text_field(writer, spec, anchor.page, rect)
        out = io.BytesIO()
        writer.write(out)
    except SigningError:
        raise
    except Exception as exc:
        raise translate_error(exc, "preparing the fields") from exc
    return out.getvalue()


def _empty_appearance(width: float, height: float) -> generic.StreamObject:
    box = generic.ArrayObject([generic.FloatObject(0), generic.FloatObject(0), generic.FloatObject(width),
                               generic.FloatObject(height)])
    return generic.StreamObject({pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
                                 pdf_name("/BBox"): box, pdf_name("/Resources"): generic.DictionaryObject()},
                                stream_data=b"")


def _add_text_field(writer, spec: FieldSpec, page: int, rect) -> None:
    page_ref = writer.find_page_for_modification(page)[0]
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    empty = writer.add_object(_empty_appearance(width, height))
    field_dict = generic.DictionaryObject(
        {
            pdf_name("/FT"): pdf_name("/Tx"),
            pdf_name("/T"): pdf_string(spec.name),
            pdf_name("/Ff"): generic.NumberObject(1 << 12),  # multiline
            pdf_name("/V"): pdf_string(""),
            pdf_name("/DA"): pdf_string("/F1 9 Tf 0 g"),
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(4),  # print
            pdf_name("/P"): page_ref,
            pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): empty}),
        }
    )
    if spec.label:
        field_dict[pdf_name("/TU")] = pdf_string(spec.label)
    ref = writer.add_object(field_dict)
    form = writer.root["/AcroForm"]
    fields = form["/Fields"]
    fields.append(ref)
    writer.update_container(fields)
    writer.update_container(form)
    writer.register_annotation(page_ref, ref)


# ---------------------------------------------------------------------------------------------
# sign


def _wrap(text: str, box, width: float) -> list[str]:
    """Greedy word wrap measured with the font engine."""
    engine = box.font_engine
    size = box.style.font_size

    def fits(candidate: str) -> bool:
        return engine.shape(candidate).x_advance * size <= width

    def pieces(word: str) -> list[str]:
        """A word wider than the box (a long address, a string of characters) is cut where it must be."""
        cut: list[str] = []
        while word and not fits(word):
            low, high = 1, len(word) - 1  # the longest head that fits (at least one character)
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if fits(word[:middle]) else (low, middle - 1)
            end = low
            cut.append(word[:end])
            word = word[end:]
        return [*cut, word]

    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        current = ""
        for word in (piece for part in paragraph.split(" ") for piece in pieces(part)):
            candidate = f"{current} {word}" if current else word
            if fits(candidate) or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
        lines.append(current)
    return lines


def field_names(pdf: bytes) -> set[str]:
    """The form fields of a PDF (to know whether optional ones were created)."""
    return set(_fields_by_name(_writer(pdf)))


def _text_font() -> str:
    return CARLITO if Path(CARLITO).exists() else DEJAVU


def _layout_text(writer, value: str, width: float, height: float) -> TextBox:
    """The text in a box of the field's size at the documents' font: the largest of TEXT_SIZES at which
    every line fits; past that, paragraphs are run together (a text of many short lines) at 9 pt."""
    font = _usable_font(_text_font())
    attempts = [(size, value) for size in TEXT_SIZES]
    attempts.append((TEXT_SIZES[-1], " ".join(line.strip() for line in value.splitlines() if line.strip())))
    for size, text in attempts:
        leading = round(size * 1.2)
        style = TextBoxStyle(
            font=GlyphAccumulatorFactory(font, font_size=size),
            font_size=size,
            leading=leading,
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MAX,
                margins=layout.Margins.uniform(3),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
        )
        box = TextBox(style, writer, box=layout.BoxConstraints(width=width, height=height))
        lines = _wrap(text, box, width - 8)
        if len(lines) * leading + 8 <= height:
            box.content = "\n".join(lines)
            return box
    raise FieldError(f"a text of {len(value)} characters does not fit a box of {width:.0f} × {height:.0f} pt")


def _fill_text_field(writer, field_ref, value: str, appearance: Appearance) -> None:
    field_dict = field_ref.get_object()
    if field_dict.get("/FT") != "/Tx":
        raise FieldError(f"{field_dict.get('/T')} is not a text field")
    rect = [float(v) for v in field_dict["/Rect"]]
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    box = _layout_text(writer, value, width, height)
    xobject = box.as_form_xobject()
    field_dict[pdf_name("/V")] = pdf_string(value)
    field_dict[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(xobject)})
    field_dict[pdf_name("/Ff")] = generic.NumberObject(int(field_dict.get("/Ff", 0)) | 1)  # read-only
    writer.update_container(field_dict)


def fill(pdf: bytes, values: Mapping[str, str], appearance: Appearance | None = None) -> bytes:
    """Text fields filled (and made read-only) in an incremental update, with no signature: form filling,
    which a certification allowing it (FILL_FORMS) accepts — how a refusal is written into the document."""
    writer = _writer(pdf)
    existing = _fields_by_name(writer)
    try:
        for name, value in values.items():
            if name not in existing:
                raise FieldError(f"the PDF has no field named {name} to fill")
            if existing[name].get_object().get("/Ff", 0) & 1:
                raise FieldError(f"the field {name} is read-only (locked by a signature)")
            _fill_text_field(writer, existing[name], value, appearance or Appearance("", ""))
        out = io.BytesIO()
        writer.write(out)
    except SigningError:
        raise
    except Exception as exc:
        raise translate_error(exc, "filling the fields") from exc
    return out.getvalue()


def _make_read_only(writer, field_ref) -> None:
    """A text field locked but left empty is still written in the locking signature's revision (read-only):
    otherwise pyHanko's difference analysis flags every later revision as changing the locked field."""
    field_dict = field_ref.get_object()
    rect = [float(v) for v in field_dict["/Rect"]]
    field_dict[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(
        _empty_appearance(rect[2] - rect[0], rect[3] - rect[1]))})
    field_dict[pdf_name("/Ff")] = generic.NumberObject(int(field_dict.get("/Ff", 0)) | 1)
    writer.update_container(field_dict)


def _stamp_style(appearance: Appearance) -> TextStampStyle:
    return TextStampStyle(
        stamp_text="%(nom)s\n%(role)s\nSigné électroniquement\n%(quand)s",
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(_usable_font(appearance.font_file), font_size=appearance.font_size),
            font_size=appearance.font_size,
            leading=round(appearance.font_size * 1.3),
        ),
        border_width=1,
        background=None,
    )


def sign(
    pdf: bytes,
    *,
    field: str,
    credentials: SignerCredentials,
    timestamper: TimeStamper,
    validation: ValidationInputs,
    appearance: Appearance,
    certify: bool = False,
    lock_fields: Sequence[str] = (),
    fill: Mapping[str, str] | None = None,
    authority_chain: Sequence[cx509.Certificate] = (),
    now: dt.datetime | None = None,
) -> bytes:
    """Sign the empty signature field `field` at PAdES B-LT.

    certify: the first signature certifies (DocMDP: form filling and signatures allowed).
    lock_fields: the fields this signature locks (FieldMDP INCLUDE); must match the lock declared by
        prepare() (FieldSpec.locks), which is what pyHanko applies.
    fill: text fields to set in the same revision, before signing (then locked if listed).
    authority_chain: extra certificates to embed (by default the credentials' chain).
    """
    writer = _writer(pdf)
    existing = _fields_by_name(writer)
    if field not in existing:
        raise FieldError(f"the PDF has no signature field named {field}")
    sig_field = existing[field].get_object()
    if sig_field.get("/FT") != "/Sig":
        raise FieldError(f"{field} is not a signature field")
    if sig_field.get("/V") is not None:
        raise FieldError(f"the signature field {field} is already signed")
    missing = [name for name in lock_fields if name not in existing]
    if missing:
        raise FieldError(f"cannot lock unknown fields: {', '.join(missing)}")
    already = writer.prev.embedded_signatures
    if certify and already:
        raise FieldError("only the first signature may certify the document")
    try:
        for name, value in (fill or {}).items():
            if name not in existing:
                raise FieldError(f"the PDF has no field named {name} to fill")
            _fill_text_field(writer, existing[name], value, appearance)
        for name in lock_fields:
            if name not in (fill or {}) and existing[name].get_object().get("/FT") == "/Tx":
                _make_read_only(writer, existing[name])
        declared = sig_field.get("/Lock")
        if declared is not None:
            declared = hfields.FieldMDPSpec.from_pdf_object(declared.get_object())
        if lock_fields:
            wanted = hfields.FieldMDPSpec(hfields.FieldMDPAction.INCLUDE, list(lock_fields))
            if declared is None and already:
                raise FieldError(
                    f"{field} declares no lock: locks must be set by prepare() (FieldSpec.locks), "
                    "a lock added after a signature is an illegal change"
                )
            if declared is None:
                sig_field[pdf_name("/Lock")] = writer.add_object(wanted.as_pdf_object())
                writer.update_container(sig_field)
            elif declared.action is not wanted.action or set(declared.fields or ()) != set(wanted.fields):
                raise FieldError(f"{field} already locks {declared.fields}, not {list(lock_fields)}")

        moment = now or dt.datetime.now(dt.timezone.utc)
        signer = credentials.signer()
        for cert in authority_chain:
            signer.cert_registry.register(_asn1(cert))
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            md_algorithm=MD,
            certify=certify,
            docmdp_permissions=hfields.MDPPerm.FILL_FORMS,
            subfilter=hfields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=validation.context(),
            signer_key_usage={"non_repudiation"},
            name=appearance.name,
        )
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=_stamp_style(appearance))
        out = pdf_signer.sign_pdf(
            writer,
            existing_fields_only=True,
            appearance_text_params={
                "nom": appearance.name,
                "role": appearance.role,
                "quand": format_signing_time(moment, appearance.time_zone),
            },
        )
    except SigningError:
        raise
    except Exception as exc:
        raise translate_error(exc, f"signing {field}") from exc
    return out.getvalue()


def seal(pdf: bytes, timestamper: TimeStamper, validation: ValidationInputs) -> bytes:
    """A document timestamp after the last signature, with the validation data of the earlier
    timestamps in the DSS: the file becomes PAdES B-LTA."""
    writer = _writer(pdf)
    try:
        out = signers.PdfTimeStamper(timestamper).timestamp_pdf(
            writer, MD, validation_context=validation.context()
        )
    except SigningError:
        raise
    except Exception as exc:
        raise translate_error(exc, "sealing with a document timestamp") from exc
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# verify (minimal: the full validation lives in signing/validate.py)


def verify(pdf: bytes, trust_roots: Sequence[cx509.Certificate]) -> list[SignatureReport]:
    """A report per signature and document timestamp, in file order; revocation data from the DSS."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        dss = DocumentSecurityStore.read_dss(reader)
    except (HankoPdfError, ValueError) as exc:
        raise PdfError(f"the PDF cannot be read: {exc}") from exc
    except Exception:
        dss = None
    kwargs = {"trust_roots": [_asn1(c) for c in trust_roots], "allow_fetching": False}
    reports = []
    for embedded in reader.embedded_signatures:
        context = dss.as_validation_context(kwargs) if dss is not None else ValidationContext(**kwargs)
        name = embedded.field_name
        try:
            if embedded.sig_object.get("/Type") == "/DocTimeStamp":
                status = validate_pdf_timestamp(embedded, validation_context=context)
                reports.append(
                    SignatureReport(
                        field=name, kind="document_timestamp", signer=None,
                        intact=status.intact, valid=status.valid, trusted=status.trusted,
                        coverage=status.coverage.name if status.coverage else None,
                        modification_level=status.modification_level.name if status.modification_level else None,
                        docmdp_ok=status.docmdp_ok, certification=False, timestamp=status.timestamp,
                        timestamp_valid=status.valid and status.trusted,
                        bottom_line=bool(status.intact and status.valid and status.trusted and status.docmdp_ok is not False),
                        summary=status.summary(),
                    )
                )
                continue
            status = validate_pdf_signature(embedded, signer_validation_context=context)
        except Exception as exc:  # a broken signature is reported, not raised
            reports.append(
                SignatureReport(
                    field=name, kind="signature", signer=None, intact=False, valid=False, trusted=False,
                    coverage=None, modification_level=None, docmdp_ok=None, certification=False,
                    timestamp=None, timestamp_valid=None, bottom_line=False, summary=f"error: {exc}",
                )
            )
            continue
        ts = status.timestamp_validity
        reports.append(
            SignatureReport(
                field=name,
                kind="signature",
                signer=status.signing_cert.subject.human_friendly,
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                coverage=status.coverage.name if status.coverage else None,
                modification_level=status.modification_level.name if status.modification_level else None,
                docmdp_ok=status.docmdp_ok,
                certification=embedded.docmdp_level is not None,
                timestamp=ts.timestamp if ts else None,
                timestamp_valid=(ts.valid and ts.intact and ts.trusted) if ts else None,
                bottom_line=status.bottom_line,
                summary=status.summary(),
            )
        )
    return reports
