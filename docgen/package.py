"""Checks that an untrusted DOCX is a plain Word document before anything reads it further.

An uploaded template is hostile until proven otherwise: a zip bomb, macros, XML entities, or
fields and links that would make LibreOffice read local files or fetch URLs while converting.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass

DOCX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
HYPERLINK_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"

# Fields that pull content from outside the document when LibreOffice or Word update them.
_EXTERNAL_FIELDS = re.compile(r"\b(INCLUDETEXT|INCLUDEPICTURE|INCLUDE|LINK|DDE|DDEAUTO|IMPORT)\b")
_INSTR = re.compile(r"<w:instrText[^>]*>([^<]*)</w:instrText>|w:instr=\"([^\"]*)\"")
_EXTERNAL_REL = re.compile(r"<Relationship\b[^>]*>")
_EXTERNAL_MODE = re.compile(r"\bTargetMode\s*=\s*[\"']\s*External\s*[\"']")
_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

# How an XML parser tells the encoding before reading the declaration (XML 1.0, appendix F):
# the byte order mark, else the first bytes of « <?xml » in each encoding family.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FIRST_BYTES = (
    (b"\x3c\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"), (b"\x00\x3c\x00\x3f", "utf-16-be"),
)
_DECLARED = re.compile(r"<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._-]*)[\"']")
# The encodings Office Open XML allows (UTF-8, UTF-16) and UTF-32, by their normalised codec name;
# ASCII is UTF-8's subset. Anything else (EBCDIC, UTF-7, legacy code pages) is refused.
_FAMILIES = {"utf-8": "utf-8", "ascii": "utf-8", "utf-16": "utf-16", "utf-16-le": "utf-16", "utf-16-be": "utf-16",
             "utf-32": "utf-32", "utf-32-le": "utf-32", "utf-32-be": "utf-32"}


@dataclass(frozen=True)
class PackageLimits:
    """Bounds for an untrusted package."""

    max_bytes: int = 10 * 1024 * 1024
    """Size of the DOCX file itself."""
    max_entries: int = 500
    """Number of files inside the zip."""
    max_uncompressed: int = 50 * 1024 * 1024
    """Sum of the uncompressed sizes of all entries."""
    max_ratio: int = 200
    """Compression ratio of any single large entry (zip bombs compress at 1000:1 and more)."""


class UnsafePackage(ValueError):
    """The file is not a DOCX this service accepts; the message says why, in French."""


def check_docx(data: bytes, limits: PackageLimits = PackageLimits()) -> None:
    """Raise UnsafePackage unless `data` is a bounded, macro-free, self-contained DOCX."""
    if len(data) > limits.max_bytes:
        raise UnsafePackage(
            f"le fichier fait {len(data)} octets, la limite est de {limits.max_bytes} octets"
        )
    if not data.startswith(b"PK"):
        raise UnsafePackage("le fichier n'est pas un document Word (.docx) : ce n'est pas une archive ZIP")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnsafePackage(f"archive ZIP illisible ({exc})") from None
    _check_sizes(infos, limits)
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names:
        raise UnsafePackage("ce n'est pas un paquet Office Open XML ([Content_Types].xml absent)")
    try:
        content_types = decode_xml("[Content_Types].xml", archive.read("[Content_Types].xml"))
    except (zipfile.BadZipFile, RuntimeError) as exc:
        raise UnsafePackage(f"archive ZIP illisible ({exc})") from None
    if DOCX_MAIN_TYPE not in content_types:
        if "macroEnabled" in content_types:
            raise UnsafePackage("les documents avec macros (.docm) sont refusés")
        raise UnsafePackage("ce n'est pas un document Word (.docx)")
    if any(n.lower().endswith("vbaproject.bin") for n in names) or "macroEnabled" in content_types:
        raise UnsafePackage("les documents avec macros (.docm) sont refusés")
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels")):  # part names are case-insensitive
            _check_xml_part(info.filename, decode_xml(info.filename, archive.read(info)))


def _check_sizes(infos: list[zipfile.ZipInfo], limits: PackageLimits) -> None:
    if len(infos) > limits.max_entries:
        raise UnsafePackage(f"l'archive contient {len(infos)} fichiers, la limite est de {limits.max_entries}")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed:
        raise UnsafePackage(
            f"le contenu décompressé ferait {total} octets, la limite est de {limits.max_uncompressed}"
        )
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafePackage(f"« {info.filename} » est anormalement compressé (bombe ZIP ?)")


def decode_xml(name: str, xml: bytes) -> str:
    """The text of an XML part, decoded as a parser would: by its byte order mark, else by its first bytes
    and its declared encoding (UTF-8 when none). Raise UnsafePackage, in French, when the encoding is not
    UTF-8, UTF-16 or UTF-32, contradicts the declaration, or does not match the bytes."""
    encoding = next((codec for bom, codec in _BOMS if xml.startswith(bom)), None)
    if encoding is None:
        encoding = next((codec for start, codec in _FIRST_BYTES if xml.startswith(start)), "utf-8")
    head = xml[:512].decode(encoding, errors="ignore").lstrip("\ufeff")
    declared = _DECLARED.match(head)
    if declared:
        label = declared.group(1)
        try:
            family = _FAMILIES.get(codecs.lookup(label).name)
        except LookupError:
            family = None
        if family is None:
            raise UnsafePackage(f"« {name} » est encodé en « {label} » : seuls UTF-8, UTF-16 et UTF-32 sont admis")
        if family != _FAMILIES[encoding]:
            raise UnsafePackage(f"« {name} » déclare l'encodage « {label} » mais est écrit en {_label(encoding)}")
    try:
        text = xml.decode(encoding)
    except UnicodeDecodeError:
        raise UnsafePackage(f"« {name} » n'est pas un XML lisible : son contenu n'est pas de l'{_label(encoding)} "
                            "valide") from None
    if "\x00" in text:  # never in XML: UTF-16 or UTF-32 with neither a BOM nor « <?xml », read as UTF-8
        raise UnsafePackage(f"« {name} » n'est pas un XML lisible : encodage non reconnu (caractères nuls)")
    return text[1:] if text.startswith("\ufeff") else text


def _label(encoding: str) -> str:
    return encoding.upper().replace("-LE", " LE").replace("-BE", " BE")


def _check_xml_part(name: str, xml: str) -> None:
    if _DECLARATIONS.search(xml):
        raise UnsafePackage(f"« {name} » déclare des entités XML, refusées par sécurité")
    if name.lower().endswith(".rels"):
        for rel in _EXTERNAL_REL.findall(xml):
            if _EXTERNAL_MODE.search(rel) and HYPERLINK_REL not in rel:
                raise UnsafePackage(
                    f"« {name} » fait référence à une ressource externe ; seuls les liens hypertextes sont admis"
                )
        return
    # An instruction may be split over several runs: look at them joined.
    instructions = "".join(m.group(1) or m.group(2) or "" for m in _INSTR.finditer(xml))
    field = _EXTERNAL_FIELDS.search(instructions.upper())
    if field:
        raise UnsafePackage(
            f"« {name} » contient un champ {field.group(1)} qui lirait un contenu externe"
        )
