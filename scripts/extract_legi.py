#!/usr/bin/env python3
"""Extract the articles the legal calendar cites from Légifrance's LEGI data into docgen/law/legi.json.

The consolidated codes are published on the npm registry as ``@socialgouv/legi-data`` (about 160 MB
unpacked). This script is not part of the runtime: it fetches the package with ``npm pack`` into a
temporary folder (or reads an already unpacked ``package/`` folder given with ``--package``), keeps
only the articles listed in ARTICLES, and writes a small JSON file with, for each article, its
LEGIARTI identifier, the dates of the version it quotes, the list of its versions and the text split
into paragraphs (« I », « II »… when the article has them) and alinéas.

    python3 scripts/extract_legi.py                      # npm pack @socialgouv/legi-data@VERSION
    python3 scripts/extract_legi.py --package /tmp/x/package --version 2.513.0

Rerun it when the law changes, then run tests/unit/test_legal_references.py: it fails for any rule
whose reference or quoted words are no longer in the text.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@socialgouv/legi-data"
DEFAULT_VERSION = "2.513.0"
OUT = Path(__file__).resolve().parent.parent / "docgen" / "law" / "legi.json"

CODES = {
    "LEGITEXT000006072050": "code du travail",
    "LEGITEXT000006073189": "code de la sécurité sociale",
}
ARTICLES: dict[str, list[str]] = {
    "LEGITEXT000006072050": [
        "L6315-1",     # the EPP, the état des lieux, the abondement's conditions, IV and V
        "L6323-13",    # the abondement correctif
        "R6323-3",     # its amount and the payment deadline (décret n° 2026-39)
        "L6321-2",     # mandatory trainings (excluded from the abondement's training condition)
        "L4624-2-2",   # the mid-career medical visit
        "L1225-47",    # congé parental d'éducation and part-time work for the same purpose
        "L1225-54",    # seniority during the congé parental d'éducation
        "L1225-57",    # the return interview after parental leave: pay and career
        "L1225-24",    # seniority during the congé de maternité
        "L1225-46-3",  # seniority during the congé supplémentaire de naissance
        "L1225-46-7",  # the return interview after the congé supplémentaire de naissance
        "L1222-12",    # période de mobilité volontaire sécurisée (contract suspended)
        "L3142-28",    # congé sabbatique (contract suspended)
        "L2141-5",     # the interview at the end of a union mandate
    ],
    "LEGITEXT000006073189": [
        "L130-1",      # headcount and crossing the threshold of 50
        "L324-1",      # arrêt longue maladie (affection de longue durée)
    ],
}
_PARAGRAPH = re.compile(r"^(I|II|III|IV|V|VI|VII|VIII|IX|X)\s*\.?\s*[-―–—]\s*")


def _date(ms: int | None) -> str | None:
    if ms is None or ms >= 32472144000000:  # 2999-01-01: no end
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()


def _alineas(texte_html: str) -> list[str]:
    text = re.sub(r"<br\s*/?>|</p>", "\n", texte_html)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.split("\n")]
    # « l'article L. 6315-1 . » (a link followed by a space) -> « L. 6315-1. »
    return [re.sub(r" ([.,;])", r"\1", line) for line in lines if line]


def _paragraphs(alineas: list[str]) -> dict[str, list[str]]:
    """{"I": [...], "II": [...]} when the article is divided so, else {"": [...]}."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in alineas:
        match = _PARAGRAPH.match(line)
        if match:
            current = match.group(1)
            line = line[match.end():]
        found.setdefault(current, []).append(line)
    return found


def _walk(node: dict[str, Any]):
    yield node
    for child in node.get("children") or ():
        yield from _walk(child)


def _article(node: dict[str, Any], code: str) -> dict[str, Any]:
    data = node["data"]
    quoted = next(v for v in data["articleVersions"] if v["id"] == data["id"])
    return {
        "code": code,
        "legiarti": data["id"],
        "cid": data["cid"],
        "etat": data["etat"],
        "version_debut": _date(quoted["dateDebut"]),
        "version_fin": _date(quoted["dateFin"]),
        "versions": [{"legiarti": v["id"], "etat": v["etat"], "debut": _date(v["dateDebut"]),
                      "fin": _date(v["dateFin"])} for v in data["articleVersions"]],
        "modifie_par": [link["textTitle"].replace("\n", "") for link in data.get("lienModifications") or ()
                        if link.get("linkType") == "MODIFIE"],
        "paragraphes": _paragraphs(_alineas(data.get("texteHtml") or "")),
    }


def extract(package_dir: Path, version: str) -> dict[str, Any]:
    articles: dict[str, Any] = {}
    codes: dict[str, Any] = {}
    for text_id, wanted in ARTICLES.items():
        tree = json.loads((package_dir / "data" / f"{text_id}.json").read_text(encoding="utf-8"))
        codes[text_id] = {"titre": tree["data"]["title"], "version_du": tree["data"].get("dateDebutVersion")}
        for node in _walk(tree):
            num = node["data"].get("num")
            if node.get("type") == "article" and num in wanted:
                articles[num] = _article(node, CODES[text_id])
        missing = sorted(set(wanted) - set(articles))
        if missing:
            raise SystemExit(f"{text_id}: articles introuvables : {', '.join(missing)}")
    return {
        "source": {"paquet": PACKAGE, "version": version, "textes": codes,
                   "script": "scripts/extract_legi.py"},
        "articles": dict(sorted(articles.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, help="version of the npm package")
    parser.add_argument("--package", type=Path, help="an unpacked package folder (skips npm pack)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.package is not None:
        result = extract(args.package, args.version)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"{PACKAGE}@{args.version}", "--silent"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            (tarball,) = Path(tmp).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                members = [m for m in archive.getmembers()
                           if m.name.startswith("package/data/") and Path(m.name).stem in ARTICLES]
                archive.extractall(tmp, members=members, filter="data")
            result = extract(Path(tmp) / "package", args.version)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(result['articles'])} articles", file=sys.stderr)


if __name__ == "__main__":
    main()
