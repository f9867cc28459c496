"""docgen.paragraph_styles: which paragraph formatting becomes a style, and which stays on its paragraph."""

from docx.oxml import parse_xml
from lxml import etree

from docgen.paragraph_styles import name_paragraph_formats

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"

STYLES = f"""<w:styles xmlns:w="{W_NS}">
  <w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
  <w:style w:type="paragraph" w:styleId="Titre"><w:name w:val="Titre"/><w:basedOn w:val="Normal"/></w:style>
  <w:style w:type="paragraph" w:styleId="Liste"><w:name w:val="Liste"/>
    <w:pPr><w:numPr><w:numId w:val="3"/></w:numPr></w:pPr></w:style>
  <w:style w:type="paragraph" w:styleId="ListeBis"><w:name w:val="Liste bis"/><w:basedOn w:val="Liste"/></w:style>
  <w:style w:type="paragraph" w:styleId="ParcoursP1"><w:name w:val="Parcours format 1"/></w:style>
</w:styles>"""


def body(*paragraphs: str):
    return parse_xml(f'<w:body xmlns:w="{W_NS}">{"".join(paragraphs)}<w:sectPr/></w:body>')


def p(properties: str, text: str = "x") -> str:
    return f"<w:p><w:pPr>{properties}</w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_the_same_formatting_gets_one_style_based_on_the_paragraphs_own():
    spaced = '<w:keepNext/><w:spacing w:after="40"/><w:ind w:left="567"/><w:jc w:val="both"/>'
    source = body(p(spaced), p(spaced, "y"), p('<w:pStyle w:val="Titre"/>' + spaced),
                  p('<w:tabs><w:tab w:val="left" w:pos="2608"/></w:tabs><w:rPr><w:b/></w:rPr>'))
    styles = parse_xml(STYLES)
    named, made = name_paragraph_formats(source, styles)
    ids = [style.get(f"{W}styleId") for style in made]
    assert len(ids) == 3 and "ParcoursP1" not in ids  # the template's own id is not reused
    paragraphs = named.findall(f"{W}p")
    references = [paragraph.find(f"{W}pPr/{W}pStyle").get(f"{W}val") for paragraph in paragraphs]
    assert references[0] == references[1] == ids[0] and references[2] == ids[1] and references[3] == ids[2]
    # The paragraphs keep only the reference and their paragraph mark's run properties.
    assert [[child.tag for child in paragraph.find(f"{W}pPr")] for paragraph in paragraphs] == \
        [[f"{W}pStyle"]] * 3 + [[f"{W}pStyle", f"{W}rPr"]]
    # Each style holds what the paragraph had, on top of the paragraph's style (the default one when it had none).
    first, on_titre, tabbed = made
    assert first.find(f"{W}basedOn").get(f"{W}val") == "Normal"
    assert on_titre.find(f"{W}basedOn").get(f"{W}val") == "Titre"
    assert etree.tostring(first.find(f"{W}pPr"), method="c14n") == etree.tostring(on_titre.find(f"{W}pPr"),
                                                                                     method="c14n")
    assert [child.tag for child in first.find(f"{W}pPr")] == [f"{W}keepNext", f"{W}spacing", f"{W}ind", f"{W}jc"]
    assert tabbed.find(f"{W}pPr/{W}tabs/{W}tab").get(f"{W}pos") == "2608"
    assert len({style.find(f"{W}name").get(f"{W}val") for style in made} | {"Parcours format 1"}) == 4
    # The template's body and styles are not touched: the copy is named, the styles are for the caller to add.
    assert source[0].find(f"{W}pPr/{W}pStyle") is None and len(source[0].find(f"{W}pPr")) == 4 and len(styles) == 5


def test_formatting_a_style_would_not_carry_the_same_stays_on_its_paragraph():
    kept = [
        p('<w:numPr><w:ilvl w:val="0"/><w:numId w:val="2"/></w:numPr><w:ind w:left="720"/>'),  # a list item
        p('<w:pStyle w:val="ListeBis"/><w:ind w:left="720"/>'),  # numbered through the style it is based on
        p('<w:spacing w:after="0"/><w:contextualSpacing/>'),  # compares its neighbours' styles
        p('<w:pBdr><w:top w:val="single" w:sz="4"/></w:pBdr><w:spacing w:after="0"/>'),
        p('<w:pStyle w:val="Absent"/><w:jc w:val="center"/>'),  # a style the template does not have
        p('<w:spacing w:after="0"/><w:sectPr/>'),
        p('<w:rPr><w:b/></w:rPr>'),  # nothing to name
        p('<w:jc w:val="{{ alignement }}"/>'),  # template code, rendered per letter
    ]
    source = body(*kept)
    named, made = name_paragraph_formats(source, parse_xml(STYLES))
    assert made == []
    assert etree.tostring(named, method="c14n") == etree.tostring(source, method="c14n")


def test_former_properties_kept_by_a_tracked_change_are_left_as_they_are():
    change = '<w:pPrChange w:id="1" w:author="RH"><w:pPr><w:jc w:val="center"/></w:pPr></w:pPrChange>'
    named, made = name_paragraph_formats(body(p('<w:jc w:val="both"/>' + change)), parse_xml(STYLES))
    assert made == []  # the paragraph has a tracked change: not nameable, nor is the change's own pPr
    assert named.find(f"{W}p/{W}pPr/{W}pPrChange/{W}pPr/{W}jc").get(f"{W}val") == "center"
