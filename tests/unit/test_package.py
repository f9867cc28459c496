"""Untrusted DOCX packages: what is refused and why."""

import codecs
import io
import re
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


# --- XML checked after decoding, whatever its encoding --------------------------------------------

BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
                  + "]>")


def reencoded(docx: bytes, name: str, encoding: str, *, bom: bytes = b"", declaration: str | None = None,
              before_root: str = "") -> bytes:
    """`docx` with part `name` written in `encoding`, its declaration replaced and `before_root` put before the
    root element."""
    text = zipfile.ZipFile(io.BytesIO(docx)).read(name).decode("utf-8")
    if declaration is not None:
        text = re.sub(r"^<\?xml[^>]*\?>\s*", declaration, text)
    end_of_declaration = text.index("?>") + 2 if text.startswith("<?xml") else 0
    text = text[:end_of_declaration] + before_root + text[end_of_declaration:]
    return rebuild(docx, replace={name: bom + text.encode(encoding)})


UTF16_DECLARATION = '<?xml version="1.0" encoding="UTF-16" standalone="yes"?>'


@pytest.mark.parametrize("encoding, bom, declaration", [
    ("utf-16-le", codecs.BOM_UTF16_LE, UTF16_DECLARATION),
    ("utf-16-be", codecs.BOM_UTF16_BE, UTF16_DECLARATION),
    ("utf-16-le", b"", UTF16_DECLARATION),  # no BOM: told by the first bytes of « <?xml »
    ("utf-32-le", codecs.BOM_UTF32_LE, '<?xml version="1.0" encoding="UTF-32"?>'),
    ("utf-32-be", b"", '<?xml version="1.0" encoding="UTF-32"?>'),
    ("utf-8", codecs.BOM_UTF8, '<?xml version="1.0" encoding="UTF-8"?>'),
])
def test_a_billion_laughs_is_refused_in_every_encoding(encoding, bom, declaration):
    evil = reencoded(make_docx("Bonjour"), "word/document.xml", encoding, bom=bom, declaration=declaration,
                     before_root=BILLION_LAUGHS)
    assert b"<!DOCTYPE" not in evil or encoding == "utf-8"  # the old byte search saw nothing
    with pytest.raises(UnsafePackage, match="« word/document.xml » déclare des entités XML"):
        check_docx(evil)


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                           ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_a_part_written_in_utf16_or_utf32_without_entities_is_accepted(encoding, bom):
    family = "UTF-32" if "32" in encoding else "UTF-16"
    docx = make_docx("Bonjour")
    for name in ("[Content_Types].xml", "word/document.xml", "word/_rels/document.xml.rels"):
        docx = reencoded(docx, name, encoding, bom=bom, declaration=f'<?xml version="1.0" encoding="{family}"?>')
    check_docx(docx)


def test_an_external_resource_in_a_utf16_relationship_part_is_refused():
    rel = ('<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           "relationships/image\" Target=\"http://169.254.169.254/latest\" TargetMode='External'/>")
    docx = make_docx("Bonjour")
    name = "word/_rels/document.xml.rels"
    text = zipfile.ZipFile(io.BytesIO(docx)).read(name).decode("utf-8").replace("</Relationships>",
                                                                                rel + "</Relationships>")
    evil = rebuild(docx, replace={name: codecs.BOM_UTF16_LE + text.replace("UTF-8", "UTF-16").encode("utf-16-le")})
    with pytest.raises(UnsafePackage, match="externe"):
        check_docx(evil)


@pytest.mark.parametrize("part, reason", [
    (codecs.BOM_UTF16_LE + "<w:document/>".encode("utf-16-le")[:-1], "n'est pas un XML lisible : son contenu "
                                                                     "n'est pas de l'UTF-16 LE valide"),
    (b'<?xml version="1.0"?><w:document>\xff\xfe</w:document>', "n'est pas de l'UTF-8 valide"),
    ("<w:document/>".encode("utf-16-le"), "encodage non reconnu"),  # neither a BOM nor « <?xml »
    ('<?xml version="1.0" encoding="UTF-7"?><w:document/>'.encode(), "encodé en « UTF-7 » : seuls UTF-8, UTF-16"),
    ('<?xml version="1.0" encoding="ISO-8859-1"?><w:document/>'.encode(), "encodé en « ISO-8859-1 »"),
    ('<?xml version="1.0" encoding="EBCDIC-inconnu"?><w:document/>'.encode(), "encodé en « EBCDIC-inconnu »"),
    ('<?xml version="1.0" encoding="UTF-16"?><w:document/>'.encode(), "déclare l'encodage « UTF-16 » mais est "
                                                                      "écrit en UTF-8"),
    ('<?xml version="1.0" encoding="cp037"?><w:document/>'.encode("cp037"), "n'est pas de l'UTF-8 valide"),
])
def test_a_part_that_cannot_be_decoded_is_refused_with_a_french_reason(part, reason):
    with pytest.raises(UnsafePackage) as refused:
        check_docx(rebuild(make_docx("Bonjour"), replace={"word/document.xml": part}))
    assert str(refused.value).startswith("« word/document.xml » ") and reason in str(refused.value)


def test_an_entity_in_a_part_whose_name_is_in_capitals_is_refused():
    docx = rebuild(make_docx("Bonjour"), add={"word/extra.XML": b'<!DOCTYPE x [<!ENTITY e "e">]><x/>'})
    with pytest.raises(UnsafePackage, match="entités"):
        check_docx(docx)
