"""The French sentences of a validation report: for a non-specialist, in Paris time, without pyHanko's English.

pyHanko's own words stay in each check's `details`, for a specialist.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")

# Why a signature is not valid (or not established), by ETSI sub-indication; {cert} names whose certificate.
SUB_INDICATIONS = {
    "HASH_FAILURE": "le contenu signé a été modifié : son empreinte ne correspond plus à celle qui a été signée",
    "SIG_CRYPTO_FAILURE": "la signature ne correspond pas à la clé du certificat : elle est fausse ou abîmée",
    "FORMAT_FAILURE": "la structure de la signature n'a pas pu être analysée",
    "REVOKED": "le certificat {cert} avait été révoqué avant la signature",
    "NOT_YET_VALID": "le certificat {cert} n'était pas encore valide à ce moment-là",
    "EXPIRED": "le certificat {cert} avait expiré à ce moment-là",
    "OUT_OF_BOUNDS_NO_POE": "le certificat {cert} n'était pas valide au moment prouvé par l'horodatage",
    "OUT_OF_BOUNDS_NOT_REVOKED": "le certificat {cert} n'était pas valide au moment prouvé par l'horodatage",
    "NO_CERTIFICATE_CHAIN_FOUND": "le certificat {cert} n'émane d'aucune autorité de confiance connue",
    "NO_SIGNING_CERTIFICATE_FOUND": "le certificat {cert} est absent du fichier",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "la chaîne de certificats {cert} n'a pas pu être validée",
    "REVOKED_NO_POE": "le certificat {cert} a été révoqué, et rien ne prouve que la signature est antérieure",
    "REVOKED_CA_NO_POE": "l'autorité du certificat {cert} a été révoquée, et rien ne prouve que la signature est antérieure",
    "TRY_LATER": "l'état de révocation des certificats n'a pas pu être établi : fournissez les listes de "
                 "révocation à jour de l'autorité",
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": "les listes de révocation disponibles ne couvrent pas le moment de la "
                                       "signature : fournissez les listes à jour de l'autorité",
    "NO_POE": "rien ne prouve que la signature existait quand ses certificats étaient valides : fournissez les "
              "listes de révocation à jour de l'autorité",
    "CRYPTO_CONSTRAINTS_FAILURE": "les algorithmes cryptographiques utilisés ne sont plus considérés comme sûrs",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "les algorithmes cryptographiques utilisés ne sont plus sûrs, et rien ne "
                                         "prouve que la signature est antérieure à leur abandon",
    "SIG_CONSTRAINTS_FAILURE": "la signature ne respecte pas les contraintes de validation",
    "CHAIN_CONSTRAINTS_FAILURE": "la chaîne de certificats ne respecte pas les contraintes de validation",
    "TIMESTAMP_ORDER_FAILURE": "les horodatages du fichier ne sont pas dans un ordre cohérent",
    "SIGNED_DATA_NOT_FOUND": "les données signées sont introuvables dans le fichier",
    "GENERIC": "la vérification n'a pas pu aboutir",
}

LEVELS = {
    "NONE": "Aucune modification depuis.",
    "LTA_UPDATES": "Depuis, seulement des données de validation et des horodatages d'archive ajoutés.",
    "FORM_FILLING": "Depuis, des signatures et du remplissage de champs autorisés.",
    "ANNOTATIONS": "Depuis, des annotations ajoutées.",
    "OTHER": "Depuis, des modifications d'une autre nature.",
}


NBSP, NNBSP = "\u00a0", "\u202f"


def moment(value: dt.datetime | None) -> str:
    """« 26 novembre 2026 à 14 h 05 min 09 s, heure de Paris »: seconds matter to an auditor (no-break spaces
    inside the time; UTC belongs to the technical details)."""
    if value is None:
        return "à une date inconnue"
    local = value.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    clock = f"{local.hour}{NBSP}h{NBSP}{local.minute:02d}{NBSP}min{NBSP}{local.second:02d}{NBSP}s"
    return f"{day} {_MONTHS[local.month - 1]} {local.year} à {clock}, heure de Paris"


def number(value: int) -> str:
    """« 185 559 »: thousands grouped with narrow no-break spaces, as French typography wants."""
    return f"{value:,}".replace(",", NNBSP)


def named(names: Iterable[str], labels: dict[str, str]) -> list[str]:
    """Fields by their readable names (« Commentaires du salarié »), else their technical names."""
    return [f"« {labels.get(n, n)} »" for n in names]


def unallowed_change(reason: str | None, labels: dict[str, str]) -> str:
    """pyHanko's reason for an illegal change, told in French (its words are kept in the details)."""
    text = reason or ""
    locked = re.search(r"form field ([^\s]+?) is locked", text)
    if locked:
        return f"le champ {named([locked.group(1)], labels)[0]}, verrouillé par cette signature, a été modifié"
    if "nnotation" in text:
        return "une annotation a été ajoutée ou modifiée sur une page"
    if ".Contents" in text or "/Contents" in text:
        return "le contenu d'une page a été réécrit ou recouvert"
    if "Resources" in text or "XObject" in text:
        return "des éléments affichés sur une page ont été remplacés ou ajoutés"
    if "/AcroForm" in text or "form field" in text:
        return "les champs du formulaire ont été modifiés d'une façon non autorisée"
    return "des objets du document ont été modifiés ou ajoutés sans rapport avec une signature permise"


def allowed_changes(signatures: Sequence[str], timestamps: int, filled: Sequence[str],
                    labels: dict[str, str]) -> str:
    parts = []
    if signatures:
        parts.append(("la signature " if len(signatures) == 1 else "les signatures ") + ", ".join(named(signatures, labels)))
    if timestamps:
        parts.append("un horodatage" if timestamps == 1 else f"{timestamps} horodatages")
    if filled:
        parts.append(("le champ " if len(filled) == 1 else "les champs ") + ", ".join(named(filled, labels)))
    return "Ajouts autorisés depuis : " + ", ".join(parts) + "." if parts else ""


def check_message(check: Any) -> str:
    """The sentence of one signature or document timestamp (a SignatureCheck)."""
    stamp = check.kind == "document_timestamp"
    name = check.signer.common_name if check.signer is not None else None
    who = "L'horodatage du document" if stamp else (f"La signature de {name}" if name else
                                                    f"La signature du champ {check.field}")
    if check.indication == "TOTAL_PASSED":
        when = check.timestamp.time if check.timestamp is not None else None
        if stamp:
            return f"{who} est valide : il prouve que la révision {check.revision} du fichier existait le {moment(when)}."
        if when and getattr(check, "proven_by_document_timestamp", False):
            return (f"{who} est valide : l'horodatage du document prouve qu'elle existait le {moment(when)}, et le "
                    "document n'a pas été modifié depuis, hors ajouts autorisés.")
        proven = f", horodatée le {moment(when)}," if when else ""
        return f"{who}{proven} est valide : le document n'a pas été modifié depuis, hors ajouts autorisés."
    cert = "de l'autorité d'horodatage" if stamp else "du signataire"
    reason = SUB_INDICATIONS.get(check.sub_indication or "GENERIC", SUB_INDICATIONS["GENERIC"]).format(cert=cert)
    if check.changes is not None and not check.changes.allowed and check.sub_indication == "FORMAT_FAILURE":
        reason = "après " + ("l'horodatage" if stamp else "la signature") + ", " + check.changes.summary
    if check.sub_indication in ("OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED", "EXPIRED") \
            and check.signer is not None and check.timestamp is not None \
            and check.timestamp.time > check.signer.not_after:
        reason = (f"le certificat {cert} a expiré le {moment(check.signer.not_after)}, et la signature n'est "
                  f"prouvée qu'à partir du {moment(check.timestamp.time)}")
    elif check.sub_indication == "OUT_OF_BOUNDS_NO_POE":
        reason = (f"un certificat de la chaîne {cert} a expiré, et plus aucun horodatage vérifiable ne prouve que "
                  + ("l'horodatage" if stamp else "la signature") + " date d'avant : le dernier horodatage du "
                  "document devait être renouvelé avant l'expiration du certificat de l'autorité d'horodatage")
    if check.indication == "TOTAL_FAILED":
        return f"{who} n'est pas valide : {reason}."
    confirmed = "confirmé" if stamp else "confirmée"
    return f"{who} n'a pas pu être {confirmed} : {reason}."


def overall_message(indication: str, checks: Sequence[Any], first: Any | None) -> str:
    if indication == "NO_SIGNATURE":
        return ("Ce fichier ne porte aucune signature électronique : rien ne prouve qui l'a approuvé, "
                "ni qu'il n'a pas été modifié.")
    if indication == "TOTAL_PASSED":
        count = sum(1 for c in checks if c.kind == "signature")
        stamps = len(checks) - count
        what = ("la signature est valide" if count == 1 else f"les {count} signatures sont valides") if count \
            else ("l'horodatage est valide" if stamps == 1 else f"les {stamps} horodatages sont valides")
        extra = (", ainsi que l'horodatage du document" if stamps == 1 else f", ainsi que les {stamps} horodatages "
                 "du document") if stamps and count else ""
        return (f"Document valide : {what}{extra}. Le document n'a pas été modifié depuis, hormis les ajouts que "
                "les signatures autorisent.")
    prefix = "Document non fiable." if indication == "TOTAL_FAILED" else "Validité non établie."
    return f"{prefix} {first.message}"


def not_a_pdf(head: bytes) -> str:
    """Why bytes are not a PDF, naming what they look like."""
    if not head:
        return "le fichier est vide"
    kinds = ((b"PK\x03\x04", "une archive ZIP (un document Word, Excel ou OpenDocument ?)"),
             (b"\x89PNG", "une image PNG"), (b"\xff\xd8\xff", "une image JPEG"), (b"GIF8", "une image GIF"),
             (b"{\\rtf", "un document RTF"), (b"\xd0\xcf\x11\xe0", "un ancien document Office (.doc, .xls)"))
    for magic, what in kinds:
        if head.startswith(magic):
            return f"ce n'est pas un PDF mais {what}"
    lowered = head[:200].lower().lstrip()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "ce n'est pas un PDF mais une page HTML"
    start = head[:8].decode("latin-1").encode("unicode_escape").decode()
    return f"ce n'est pas un PDF : il ne commence pas par l'en-tête « %PDF- » (mais par « {start} »)"
