"""Checks that an untrusted DOCX is a plain Word document before anything reads it further.

An uploaded template is hostile until proven otherwise: a zip bomb, macros, XML entities, or
fields and links that would make LibreOffice read local files or fetch URLs while converting.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

DOCX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
HYPERLINK_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"

# Fields that pull content from outside the document when LibreOffice or Word update them.
_EXTERNAL_FIELDS = re.compile(rb"\b(INCLUDETEXT|INCLUDEPICTURE|INCLUDE|LINK|DDE|DDEAUTO|IMPORT)\b")
_INSTR = re.compile(rb"<w:instrText[^>]*>([^<]*)</w:instrText>|w:instr=\"([^\"]*)\"")
_EXTERNAL_REL = re.compile(rb"<Relationship\b[^>]*>")


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
        content_types = archive.read("[Content_Types].xml")
    except (zipfile.BadZipFile, RuntimeError) as exc:
        raise UnsafePackage(f"archive ZIP illisible ({exc})") from None
    if DOCX_MAIN_TYPE.encode() not in content_types:
        if b"macroEnabled" in content_types:
            raise UnsafePackage("les documents avec macros (.docm) sont refusés")
        raise UnsafePackage("ce n'est pas un document Word (.docx)")
    if any(n.lower().endswith("vbaproject.bin") for n in names) or b"macroEnabled" in content_types:
        raise UnsafePackage("les documents avec macros (.docm) sont refusés")
    for info in infos:
        if info.filename.endswith((".xml", ".rels")):
            _check_xml_part(info.filename, archive.read(info))


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


def _check_xml_part(name: str, xml: bytes) -> None:
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise UnsafePackage(f"« {name} » déclare des entités XML, refusées par sécurité")
    if name.endswith(".rels"):
        for rel in _EXTERNAL_REL.findall(xml):
            if b'TargetMode="External"' in rel and HYPERLINK_REL.encode() not in rel:
                raise UnsafePackage(
                    f"« {name} » fait référence à une ressource externe ; seuls les liens hypertextes sont admis"
                )
        return
    # An instruction may be split over several runs: look at them joined.
    instructions = b"".join(m.group(1) or m.group(2) or b"" for m in _INSTR.finditer(xml))
    field = _EXTERNAL_FIELDS.search(instructions.upper())
    if field:
        raise UnsafePackage(
            f"« {name} » contient un champ {field.group(1).decode()} qui lirait un contenu externe"
        )
