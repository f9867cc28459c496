"""The verification report as an HTML page: verdict, sentences, signers, changes, French times and
typography, escaping, the stored version's link; from crafted reports shaped like ValidationReport.to_dict()."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest

from parcours import reports

UTC = dt.timezone.utc
NBSP, NNBSP = "\u00a0", "\u202f"
STORED = {"document_id": 12, "version": 5, "kind": "sealed", "history_url": "/api/v1/documents/12/history",
          "pdf_url": "/api/v1/documents/12/versions/5/pdf"}


def cert(name, *, issuer="Atelier Lumière - autorité racine de signature", email=None, root=False, serial="2a2c7b",
         days=3650):
    subject = (f"Email Address: {email}, " if email else "") + f"Organization: Atelier Lumière, Common Name: {name}"
    return {"subject": subject, "common_name": name, "email": email, "organisation": "Atelier Lumière",
            "issuer": subject if root else f"Organization: Atelier Lumière, Common Name: {issuer}",
            "serial": serial, "not_before": dt.datetime(2026, 11, 26, 12, 55, 42, tzinfo=UTC),
            "not_after": dt.datetime(2026, 11, 26, 12, 55, 42, tzinfo=UTC) + dt.timedelta(days=days),
            "sha256": f"{serial:0>64}", "trust_root": root}


ROOT = cert("Atelier Lumière - autorité racine de signature", root=True, serial="2a2c7b175021f7c0")
CA = cert("Atelier Lumière - autorité de signature des documents", serial="80011b17528ed784")
TSA = "Organization: Atelier Lumière, Common Name: Atelier Lumière - horodatage"


def signature(name="François Rousseau", email="f.rousseau@atelier.fr", *, field="signature_manager", revision=3,
              passed=True, description="Ajouts autorisés depuis : la signature signature_salarie, 1 horodatage, "
                                       "le champ commentaires_salarie.", certification="FILL_FORMS"):
    signer = cert(name, email=email, issuer=CA["common_name"], serial="756632aa4133e934", days=0)
    signer["not_after"] = signer["not_before"] + dt.timedelta(minutes=65)
    return {
        "field": field, "kind": "signature", "revision": revision, "signer": signer, "chain": [signer, CA, ROOT],
        "trusted": passed, "claimed_time": dt.datetime(2026, 11, 26, 13, 0, 43, tzinfo=UTC),
        "timestamp": {"time": dt.datetime(2026, 11, 26, 13, 0, 44, 90045, tzinfo=UTC), "tsa": TSA,
                      "tsa_expires": dt.datetime(2036, 11, 23, 13, 0, 42, tzinfo=UTC), "intact": True,
                      "valid": True, "trusted": True} if passed else None,
        "certificate_valid_at_signing": True, "intact": passed, "valid": True, "coverage": "ENTIRE_REVISION",
        "covers": f"le fichier tel qu'il était à la révision {revision} sur 8 (124{NNBSP}888 octets)",
        "changes": {"level": "FORM_FILLING", "allowed": True, "later_signatures": ["signature_salarie"],
                    "later_timestamps": 1, "fields_filled": ["commentaires_salarie"], "reason": None,
                    "description": description},
        "certification": certification, "level": "PAdES-B-LTA" if passed else "PAdES-B-B",
        "subfilter": "ETSI.CAdES.detached", "offline": True,
        "indication": "TOTAL_PASSED" if passed else "TOTAL_FAILED",
        "sub_indication": None if passed else "HASH_FAILURE",
        "message": (f"La signature de {name}, faite le 26 novembre 2026 à 13:00:44 UTC, est valide : le document "
                    "n'a pas été modifié depuis, hors ajouts autorisés.") if passed else
                   (f"La signature de {name} n'est pas valide : le contenu signé a été modifié après la signature : "
                    "son empreinte ne correspond plus."),
        "details": ["Past signature validation did not manage to improve current time result. [AdESPassed.OK]"],
    }


def document_timestamp():
    tsa = cert("Atelier Lumière - horodatage", issuer=CA["common_name"], serial="10c58c58c0d9c6df")
    return {
        "field": "Timestamp-e63280b5", "kind": "document_timestamp", "revision": 7, "signer": tsa,
        "chain": [tsa, CA, ROOT], "trusted": True, "claimed_time": None,
        "timestamp": {"time": dt.datetime(2026, 11, 26, 13, 0, 44, 376895, tzinfo=UTC), "tsa": TSA,
                      "tsa_expires": dt.datetime(2036, 11, 23, 13, 0, 42, tzinfo=UTC), "intact": True, "valid": True,
                      "trusted": True},
        "certificate_valid_at_signing": True, "intact": True, "valid": True, "coverage": "ENTIRE_REVISION",
        "covers": f"le fichier tel qu'il était à la révision 7 sur 8 (177{NNBSP}788 octets)",
        "changes": {"level": "LTA_UPDATES", "allowed": True, "later_signatures": [], "later_timestamps": 0,
                    "fields_filled": [], "reason": None,
                    "description": "Depuis, seulement des données de validation et des horodatages d'archive ajoutés."},
        "certification": None, "level": None, "subfilter": "ETSI.RFC3161", "offline": True,
        "indication": "TOTAL_PASSED", "sub_indication": None,
        "message": "L'horodatage du document est valide : il prouve que le fichier existait tel quel le "
                   "26 novembre 2026 à 13:00:44 UTC.",
        "details": [],
    }


def valid_report(**changes):
    report = {
        "sha256": "3e0d14fd9ab1c4b1ca7757775b19b1c85c2ea160e3b6a22aeb7e245be4307087", "size": 180295,
        "revisions": 8, "validated_at": dt.datetime(2026, 11, 26, 13, 5, 15, 308146, tzinfo=UTC),
        "indication": "TOTAL_PASSED", "sub_indication": None,
        "message": "Document valide : les 2 signatures sont valides, ainsi que l’horodatage du document. Le document "
                   "n'a pas été modifié depuis, hormis les ajouts que les signatures autorisent.",
        "signatures": [signature(), signature("Moussa N’Diaye", "m.ndiaye@atelier.fr", field="signature_salarie",
                                              revision=5, description="Ajouts autorisés depuis : 1 horodatage.",
                                              certification=None),
                       document_timestamp()],
        "lenient": False, "notes": [], "stored": copy.deepcopy(STORED),
    }
    report.update(changes)
    return report


def failed_report():
    return valid_report(
        indication="TOTAL_FAILED", sub_indication="HASH_FAILURE", stored=None,
        message="Document non fiable. La signature de François Rousseau n'est pas valide : le contenu signé a été "
                "modifié après la signature : son empreinte ne correspond plus.",
        signatures=[signature(passed=False)])


def indeterminate_report():
    check = signature()
    check.update(indication="INDETERMINATE", sub_indication="NO_CERTIFICATE_CHAIN_FOUND", trusted=False,
                 message="La signature de François Rousseau n'a pas pu être confirmée : le certificat du signataire "
                         "n'émane d'aucune autorité de confiance connue.")
    check["chain"][-1] = {**ROOT, "trust_root": False}
    return valid_report(indication="INDETERMINATE", sub_indication="NO_CERTIFICATE_CHAIN_FOUND", stored=None,
                        message="Validité non établie. " + check["message"], signatures=[check])


def unsigned_report():
    return valid_report(indication="NO_SIGNATURE", sub_indication=None, signatures=[], stored=None, revisions=2,
                        message="Ce fichier ne porte aucune signature électronique : rien ne prouve qui l'a approuvé, "
                                "ni qu'il n'a pas été modifié.",
                        notes=["Aucun champ de signature signé n'a été trouvé dans le fichier."])


def text(html: str) -> str:
    """The page's text, tags removed, entities and no-break spaces made plain, whitespace collapsed."""
    import html as htmllib

    plain = htmllib.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S)))
    return " ".join(plain.replace(NBSP, " ").replace(NNBSP, " ").replace("\u2019", "'").split())


@pytest.mark.parametrize(("make", "label", "sentence"), [
    (valid_report, "Valide", "Document valide : les 2 signatures sont valides"),
    (failed_report, "Non valide", "Document non fiable. La signature de François Rousseau n'est pas valide"),
    (indeterminate_report, "Validité non établie", "Validité non établie. La signature de François Rousseau n'a pas"),
    (unsigned_report, "Aucune signature", "Ce fichier ne porte aucune signature électronique"),
])
def test_the_page_opens_on_the_verdict_its_sentence_and_the_etsi_indication(make, label, sentence):
    report = make()
    html = reports.report_html(report)
    badge = re.search(r'<span class="badge" id="verdict">(.*?)</span>', html).group(1)
    assert badge == label
    assert sentence in text(html)
    assert f"<code>{report['indication']}</code>" in html
    if report["sub_indication"]:
        assert f"<code>{report['sub_indication']}</code>" in html
    tone = reports.VERDICTS[report["indication"]][1]
    assert f'class="card verdict tone-{tone}"' in html


def test_every_signer_is_named_with_email_organisation_and_certificate_chain():
    html = reports.report_html(valid_report())
    page = text(html)
    for name, email in (("François Rousseau", "f.rousseau@atelier.fr"), ("Moussa N'Diaye", "m.ndiaye@atelier.fr")):
        assert f"Signature de {name}" in page
        assert email in page
    assert "1. Signature de François Rousseau" in page and "3. Horodatage du document" in page
    assert page.index("1. Signature de François Rousseau") < page.index("2. Signature de Moussa") \
        < page.index("3. Horodatage du document")
    assert "Atelier Lumière - autorité racine de signature · racine de confiance du vérificateur" in page
    assert ROOT["sha256"] in page and "756632aa4133e934" in page


def test_what_changed_after_each_signature_is_described():
    page = text(reports.report_html(valid_report()))
    assert ("Ajouts autorisés depuis : la signature signature_salarie, 1 horodatage, le champ "
            "commentaires_salarie.") in page
    assert "Ajouts autorisés depuis : 1 horodatage." in page
    assert "Depuis, seulement des données de validation et des horodatages d'archive ajoutés." in page


def test_levels_permissions_and_offline_validation_are_in_french():
    page = text(reports.report_html(valid_report()))
    assert "PAdES-B-LTA : comme B-LT, et protégée par un horodatage d'archive" in page
    assert ("Oui, signature de certification : après elle, seuls sont permis le remplissage des champs de "
            "formulaire et l'ajout de signatures") in page
    assert "Non : signature d'approbation" in page
    assert "Oui : le fichier contient les certificats et les réponses de révocation nécessaires" in page


def test_times_are_written_the_french_way_in_paris_time_with_seconds_for_signatures():
    page = text(reports.report_html(valid_report()))
    assert "Vérification du 26 novembre 2026 à 14 h 05" in page  # 13:05:15 UTC
    assert "26 novembre 2026 à 14 h 00 min 43 s, écrite par le logiciel du signataire" in page
    assert "26 novembre 2026 à 14 h 00 min 44 s, par l'horodatage de « Atelier Lumière - horodatage »" in page
    # UTC only in the technical details, in one format
    assert "(13:00:4" not in page
    assert "Heure déclarée : 2026-11-26 13:00:43 UTC" in page and "Heure de l'horodatage : 2026-11-26 13:00:44 UTC" in page
    first = reports.report_html(valid_report(validated_at=dt.datetime(2027, 1, 1, 8, 0, tzinfo=UTC)))
    assert "Vérification du 1er janvier 2027 à 9 h" in text(first)
    summer = reports.report_html(valid_report(validated_at="2027-07-01T08:30:00+00:00"))  # strings are accepted
    assert "Vérification du 1er juillet 2027 à 10 h 30" in text(summer)


def test_french_typography_puts_no_break_spaces_before_colons_and_in_numbers():
    html = reports.report_html(valid_report())
    assert f"Document valide{NBSP}: les 2 signatures" in html
    assert f"n\u2019a pas été modifié" in html
    assert f"180{NNBSP}295{NBSP}octets" in html
    assert " :" not in text_without_code(html)


def text_without_code(html: str) -> str:
    body = re.sub(r"<style>.*?</style>|<code>.*?</code>|<p class=\"mono\">.*?</p>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", body)


def test_a_hostile_signer_name_is_escaped():
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    report = valid_report()
    check = report["signatures"][0]
    check["signer"]["common_name"] = hostile
    check["chain"][0]["common_name"] = hostile
    check["message"] = f"La signature de {hostile} est valide."
    html = reports.report_html(report)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert f"Signature de {hostile}" in text(html)


def test_a_stored_version_is_named_by_its_document_number_not_by_an_api_address():
    """An API address answers 401 in a browser and means nothing on paper: the reader gets the number."""
    html = reports.report_html(valid_report())
    assert "/api/v1" not in html and 'href="/' not in html
    assert ("Oui : version 5 du document n° 12 (version scellée par un horodatage d'archive) ; son historique est "
            "consultable dans Parcours sous ce numéro") in text(html)


def test_a_file_that_is_not_stored_says_so_without_a_link():
    html = reports.report_html(failed_report())
    assert "Non : ce fichier ne correspond à aucune version enregistrée dans Parcours" in text(html)
    assert "/history" not in html and "Historique du document" not in html


def test_a_stored_link_that_is_not_a_web_address_is_not_linked():
    html = reports.report_html(valid_report(stored={**STORED, "history_url": "javascript:alert(1)"}))
    assert "javascript:" not in html


def test_failures_are_flagged_and_the_technical_details_kept_apart():
    html = reports.report_html(failed_report())
    assert f'class="state-bad">Non{NBSP}: le contenu signé a été modifié après coup' in html
    assert "Non établie : aucun horodatage de cette signature n'a pu être vérifié" in text(html)
    assert '<div class="technical"' in html
    assert "Past signature validation did not manage to improve current time result. [AdESPassed.OK]" in html


def test_an_untrusted_root_is_marked():
    page = text(reports.report_html(indeterminate_report()))
    assert "racine qui n'est pas parmi les racines de confiance du vérificateur" in page
    assert "Non établie : la chaîne de certificats n'a pas pu être reliée à une racine de confiance" in page


def test_an_unsigned_file_shows_its_notes_and_no_signature_section():
    html = reports.report_html(unsigned_report())
    page = text(html)
    assert "Aucune signature ni horodatage" in page
    assert "Aucun champ de signature signé n'a été trouvé dans le fichier." in page
    assert "Chaîne de certificats" not in page and "dans l’ordre du fichier" not in html


def test_the_page_is_standalone():
    html = reports.report_html(valid_report(), organisation="Atelier Lumière")
    assert html.startswith("<!doctype html>") and '<html lang="fr">' in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "@import" not in html and "url(" not in html
    assert "Atelier Lumière" in html


def test_every_indication_level_and_permission_has_a_label():
    from signing import validate

    assert set(reports.VERDICTS) == {validate.PASSED, validate.FAILED, validate.INDETERMINATE, validate.NO_SIGNATURE}
    assert set(reports.VERDICTS) == set(reports.VERDICT_MEANINGS)
    assert set(reports.LEVELS) == {"PAdES-B-B", "PAdES-B-T", "PAdES-B-LT", "PAdES-B-LTA"}
    assert set(reports.PERMISSIONS) == {"NO_CHANGES", "FILL_FORMS", "ANNOTATE"}


def test_the_view_for_the_pdf_has_no_missing_value():
    """DocxRenderer stops on a missing value (and drops None): every displayed text is a string."""

    def walk(value, path="rapport"):
        assert value is not None, path
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    for make in (valid_report, failed_report, indeterminate_report, unsigned_report):
        walk(reports.report_view(make()))


# --- the DOCX the PDF is converted from (no LibreOffice needed) ------------------------------------

def docx_texts(docx: bytes) -> str:
    """Every text of the body, header and footer, in order, with table cells."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        xml = "".join(package.read(name).decode() for name in package.namelist()
                      if re.fullmatch(r"word/(document|header\d*|footer\d*)\.xml", name))
    import html as htmllib

    paragraphs = re.findall(r"<w:p[ >].*?</w:p>", xml, flags=re.S)
    lines = ["".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", p)) for p in paragraphs]
    return htmllib.unescape("\n".join(lines)).replace(NBSP, " ").replace(NNBSP, " ").replace("\u2019", "'")


@pytest.mark.parametrize("make", [valid_report, failed_report, indeterminate_report, unsigned_report])
def test_the_docx_of_the_report_renders_every_case_without_a_tag_left(make):
    report = make()
    docx = reports.report_docx(report)
    content = docx_texts(docx)
    assert reports.VERDICTS[report["indication"]][0] in content
    assert report["sha256"] in content
    assert "{{" not in content and "{%" not in content
    for check in report["signatures"]:
        assert check["signer"]["common_name"].replace("\u2019", "'") in content
    fills = re.findall(r'w:fill="([0-9A-F]{6})"', zipfile_xml(docx))
    assert reports.TONES[reports.VERDICTS[report["indication"]][1]]["fill"] in fills


def zipfile_xml(docx: bytes) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        return package.read("word/document.xml").decode()


def test_the_docx_escapes_a_hostile_signer_name():
    hostile = '<w:r>&amp; "x" </w:p>'
    report = valid_report()
    report["signatures"][0]["signer"]["common_name"] = hostile
    content = docx_texts(reports.report_docx(report))
    assert f"Signature de {hostile}" in content


def test_the_shipped_report_template_is_what_build_templates_makes(tmp_path):
    import importlib.util
    import zipfile
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_templates.py"
    spec = importlib.util.spec_from_file_location("build_templates", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_rapport_verification().save(tmp_path / "rapport.docx")
    with zipfile.ZipFile(tmp_path / "rapport.docx") as built, zipfile.ZipFile(reports.REPORT_TEMPLATE) as shipped:
        assert built.namelist() == shipped.namelist()
        for name in built.namelist():
            assert built.read(name) == shipped.read(name), f"{name}: run scripts/build_templates.py"


def test_a_name_starting_with_a_vowel_takes_an_elision():
    report = valid_report(signatures=[signature("Émilie Martin", "e.martin@atelier.fr")])
    assert "1. Signature d'Émilie Martin" in text(reports.report_html(report))
