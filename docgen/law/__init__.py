"""The consolidated text of the articles the legal calendar cites (legi.json, extracted from Légifrance's LEGI
data by scripts/extract_legi.py) and the references the rules make to them."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["Ref", "article", "legi", "normalize", "paragraph_text"]

CODE_NAMES = {"code du travail": "code du travail", "code de la sécurité sociale": "code de la sécurité sociale"}


@functools.cache
def legi() -> dict[str, Any]:
    """The extract: {"source": {...}, "articles": {"L6315-1": {legiarti, version_debut, paragraphes…}}}."""
    return json.loads(resources.files(__package__).joinpath("legi.json").read_text(encoding="utf-8"))


def article(number: str) -> dict[str, Any]:
    """One article of the extract (KeyError when it is not there)."""
    return legi()["articles"][number]


def paragraph_text(number: str, paragraph: str = "") -> str:
    """The text of a paragraph (« I », « II »…; "" for the whole article), alinéas joined by spaces."""
    paragraphs = article(number)["paragraphes"]
    if paragraph == "":
        return " ".join(line for lines in paragraphs.values() for line in lines)
    return " ".join(paragraphs[paragraph])


def normalize(text: str) -> str:
    """Apostrophes, dashes and spaces made uniform, for comparing a quotation with the text."""
    text = text.replace("’", "'").replace("\u202f", " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Ref:
    """Where a rule comes from: an article (and paragraph) of the extract and the words it rests on,
    or a source outside the codes (case law, the ministry's questions-réponses, the code civil)."""

    article: str | None
    """A key of legi.json's articles (« L6315-1 »), None for a source outside the extract."""
    paragraph: str = ""
    """« I », « II »…, or "" for an article without paragraphs."""
    quote: str = ""
    """The words of the text the rule rests on, as they are in it."""
    source: str | None = None
    """For a source outside the extract: how to cite it (« C. civ., art. 2222 »)."""

    @property
    def code(self) -> str:
        if self.article is None:
            return ""
        return "code de la sécurité sociale" if self.article in _CSS else "code du travail"

    def cite(self) -> str:
        """« article L. 6315-1, I, du code du travail », or the other source as given."""
        if self.article is None:
            return self.source or ""
        letter, digits = self.article[0], self.article[1:]
        paragraph = f", {self.paragraph}," if self.paragraph else ""
        return f"article {letter}. {digits}{paragraph} du {self.code}"

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"reference": self.cite(), "citation": self.quote}
        if self.article is not None:
            found["legiarti"] = article(self.article)["legiarti"]
            found["version_du"] = article(self.article)["version_debut"]
        return found


_CSS = {"L130-1", "L324-1"}
