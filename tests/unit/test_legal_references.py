"""Every rule of the legal calendar points at an article and a paragraph of the consolidated text
(docgen/law/legi.json, extracted from Légifrance's LEGI data by scripts/extract_legi.py), and the words
it quotes are in that paragraph."""

import re

import pytest

from docgen.calendar import RULES
from docgen.law import article, legi, normalize, paragraph_text

REFERENCES = sorted({(key, ref) for key, refs in RULES.items() for ref in refs if ref.article is not None},
                    key=lambda item: (item[0], item[1].article, item[1].paragraph, item[1].quote))


@pytest.mark.parametrize("key, ref", REFERENCES, ids=[f"{key}-{ref.article}-{ref.paragraph or 'al'}"
                                                       for key, ref in REFERENCES])
def test_every_reference_points_at_a_paragraph_that_holds_the_quoted_words(key, ref):
    found = article(ref.article)
    assert re.fullmatch(r"LEGIARTI\d{12}", found["legiarti"])
    assert found["version_debut"] is not None
    assert ref.paragraph in found["paragraphes"], f"{ref.article} has no paragraph {ref.paragraph!r}"
    assert ref.quote and normalize(ref.quote) in normalize(paragraph_text(ref.article, ref.paragraph))


def test_the_extract_is_the_version_in_force_of_each_article():
    source = legi()["source"]
    assert source["paquet"] == "@socialgouv/legi-data" and source["version"]
    # L. 6315-1 as rewritten by loi n° 2025-989 and amended by loi n° 2025-1403 (in force 31/12/2025).
    l6315 = article("L6315-1")
    assert (l6315["legiarti"], l6315["version_debut"], l6315["etat"]) == ("LEGIARTI000053279288", "2025-12-31",
                                                                          "VIGUEUR")
    assert list(l6315["paragraphes"]) == ["I", "II", "III", "IV", "V"]
    # R. 6323-3 as amended by décret n° 2026-39 (in force 01/02/2026).
    r6323 = article("R6323-3")
    assert r6323["version_debut"] == "2026-02-01"
    assert any("2026-39" in text for text in r6323["modifie_par"])


def test_the_former_text_cited_for_the_transition_is_a_version_of_l6315_1():
    versions = {v["legiarti"]: v for v in article("L6315-1")["versions"]}
    former = versions["LEGIARTI000038610069"]
    assert (former["debut"], former["fin"]) == ("2020-01-01", "2025-10-26")
    cited = [ref.source for key in ("premier_ancien", "periodique_ancien", "etat_des_lieux_ancien")
             for ref in RULES[key] if ref.source]
    assert all("LEGIARTI000038610069" in text or "code civil" in text for text in cited)


def test_a_quotation_that_is_not_in_the_text_is_caught():
    # The check above can fail: the former wording is not in the text in force.
    assert normalize("tous les deux ans") not in normalize(paragraph_text("L6315-1", "I"))
    assert normalize("tous les quatre ans") in normalize(paragraph_text("L6315-1", "I"))
