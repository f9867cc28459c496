"""Untrusted DOCX packages: what is refused and why."""

import io
import zipfile

import pytest

from docgen.package import PackageLimits, UnsafePackage, check_docx
from docx_factory import make_docx, rebuild


def edit(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    content = zipfile.ZipFile(io.BytesIO(data)).read(name)
    assert old in content
    return rebuild(data, replace={name: content.replace(old, new, 1)})


def test_a_plain_docx_passes():
    check_docx(make_docx("Bonjour"))


@pytest.mark.parametrize("data, reason", [
    (b"", "pas une archive ZIP"),
    (b"%PDF-1.7", "pas une archive ZIP"),
    (b"PK\x03\x04 truncated", "illisible"),
])
def test_files_that_are_not_zip_packages_are_refused(data, reason):
    with pytest.raises(UnsafePackage, match=reason):
        check_docx(data)


def test_a_zip_without_content_types_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(UnsafePackage, match="Content_Types"):
        check_docx(out.getvalue())


def test_a_macro_enabled_document_is_refused():
    docx = make_docx("Bonjour")
    docm = edit(docx, "[Content_Types].xml", b"document.main+xml",
                b"document.macroEnabled.main+xml")
    with pytest.raises(UnsafePackage, match="macros"):
        check_docx(docm)
    with pytest.raises(UnsafePackage, match="macros"):
        check_docx(rebuild(docx, add={"word/vbaProject.bin": b"\0" * 10}))


def test_a_zip_bomb_is_refused_before_anything_is_decompressed():
    bomb = rebuild(make_docx("Bonjour"), add={"word/media/bomb.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(UnsafePackage, match="compress"):
        check_docx(bomb)
    with pytest.raises(UnsafePackage, match="décompressé"):
        check_docx(bomb, PackageLimits(max_uncompressed=5 * 1024 * 1024))


def test_too_many_entries_or_bytes_are_refused():
    docx = make_docx("Bonjour")
    with pytest.raises(UnsafePackage, match="fichiers"):
        check_docx(docx, PackageLimits(max_entries=3))
    with pytest.raises(UnsafePackage, match="octets"):
        check_docx(docx, PackageLimits(max_bytes=1000))


def test_xml_entities_are_refused():
    docx = make_docx("Bonjour")
    evil = edit(docx, "word/document.xml", b"<w:document",
                b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><w:document')
    with pytest.raises(UnsafePackage, match="entités"):
        check_docx(evil)


def test_fields_that_read_outside_the_document_are_refused_even_when_split():
    docx = make_docx("Bonjour")
    field = (b'<w:r><w:instrText xml:space="preserve"> INCLUDE</w:instrText></w:r>'
             b'<w:r><w:instrText>TEXT "/etc/passwd"</w:instrText></w:r>')
    evil = edit(docx, "word/document.xml", b"<w:r>", field + b"<w:r>")
    with pytest.raises(UnsafePackage, match="INCLUDETEXT"):
        check_docx(evil)


def test_external_resources_other_than_hyperlinks_are_refused():
    docx = make_docx("Bonjour")
    rel = (b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           b'relationships/image" Target="http://169.254.169.254/latest" TargetMode="External"/>')
    evil = edit(docx, "word/_rels/document.xml.rels", b"</Relationships>", rel + b"</Relationships>")
    with pytest.raises(UnsafePackage, match="externe"):
        check_docx(evil)
    link = rel.replace(b"relationships/image", b"relationships/hyperlink")
    check_docx(edit(docx, "word/_rels/document.xml.rels", b"</Relationships>", link + b"</Relationships>"))
