"""`parcours verify FILE.pdf`: the validation report of any signed PDF, offline, on the terminal or as JSON, HTML, PDF.

Trust: the roots given with --racine (and CRLs with --crl), e.g. from an evidence bundle; without them,
the instance's own root and current CRLs plus PARCOURS_TRUST_ROOTS, and the file is looked up among the
stored versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import click

from parcours.cli.common import UserError, database, settings

# The service's modules are imported inside the commands: `parcours --help` need not load them.

EXIT = {"TOTAL_PASSED": 0, "INDETERMINATE": 1, "NO_SIGNATURE": 1, "TOTAL_FAILED": 1}


def _load_roots(paths: tuple[Path, ...]):
    from cryptography import x509


    roots = []
    for path in paths:
        data = path.read_bytes()
        try:
            roots.extend(x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                         else [x509.load_der_x509_certificate(data)])
        except ValueError as exc:
            raise UserError(f"{path} : ce n'est pas un certificat PEM ou DER ({exc})") from None
    return tuple(roots)


def _load_crls(paths: tuple[Path, ...]) -> tuple[bytes, ...]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization


    crls = []
    for path in paths:
        data = path.read_bytes()
        try:
            crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        except ValueError as exc:
            raise UserError(f"{path} : ce n'est pas une liste de révocation PEM ou DER ({exc})") from None
        crls.append(crl.public_bytes(serialization.Encoding.DER))
    return tuple(crls)


def _instance_report(pdf: bytes, at: dt.datetime | None) -> dict:
    """With the instance's trust, and the stored version when the database has these bytes."""
    from parcours.service import pki as instance_pki
    from parcours.service import verifications
    from signing.validate import validate

    current = settings()
    if not (instance_pki.folder(current) / "authority" / "authority.json").exists():
        raise UserError(f"aucune autorité de signature dans {current.instance_dir} : donnez la racine de "
                        "confiance avec --racine (par exemple pki/racine.pem d'un dossier de preuves)")
    report = validate(pdf, verifications.trust_inputs(current), at=at).to_dict()
    with database() as db, db.session() as session:
        report["stored"] = verifications.stored_version(session, hashlib.sha256(pdf).hexdigest())
    return report


def _print(report: dict) -> None:
    from signing import wording

    labels = {"TOTAL_PASSED": "VALIDE", "TOTAL_FAILED": "NON VALIDE", "INDETERMINATE": "VALIDITÉ NON ÉTABLIE",
              "NO_SIGNATURE": "AUCUNE SIGNATURE"}
    sub = f" ({report['sub_indication']})" if report["sub_indication"] else ""
    click.echo(f"{labels[report['indication']]} : {report['indication']}{sub}")
    click.echo(report["message"])
    click.echo(f"Fichier : sha256 {report['sha256']}, {wording.number(report['size'])} octets, "
               f"{report['revisions']} révisions")
    stored = report.get("stored")
    if stored:
        from parcours.reports import VERSION_KINDS

        kind = VERSION_KINDS.get(stored["kind"], stored["kind"])
        click.echo(f"Version conservée : document n° {stored['document_id']}, version {stored['version']} ({kind}) ; "
                   f"historique : {stored['history_url']} (API, avec un jeton d'auditeur)")
    for check in report["signatures"]:
        what = "Horodatage du document" if check["kind"] == "document_timestamp" else "Signature"
        click.echo(f"\n{what} « {check['field']} » (révision {check['revision']}) : {check['indication']}"
                   + (f" ({check['sub_indication']})" if check["sub_indication"] else ""))
        click.echo(f"  {check['message']}")
        signer = check.get("signer") or {}
        if check["kind"] == "signature" and signer:
            click.echo(f"  Signataire : {signer.get('common_name') or signer['subject']}"
                       + (f" <{signer['email']}>" if signer.get("email") else ""))
        if check.get("claimed_time"):
            click.echo(f"  Heure déclarée : {wording.moment(check['claimed_time'])}")
        if check.get("timestamp"):
            by = "par l'horodatage du document" if check.get("proven_by_document_timestamp") else "par l'horodatage"
            click.echo(f"  Heure prouvée : {wording.moment(check['timestamp']['time'])} "
                       f"({by} de « {check['timestamp']['tsa']} »)")
        click.echo(f"  Chaîne de confiance : {'oui' if check['trusted'] else 'non'} ; "
                   f"intégrité : {'oui' if check['intact'] else 'non'} ; "
                   f"niveau : {check['level'] or '—'} ; vérifiable hors ligne : {'oui' if check['offline'] else 'non'}")
        click.echo(f"  Couvre : {check['covers']}")
        if check.get("changes"):
            click.echo(f"  Après : {check['changes']['description']}")
    for note in report["notes"]:
        click.echo(f"\nNote : {note}")


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@click.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--racine", "roots", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Certificat racine de confiance (PEM ou DER), répétable. Sans elle : celles de l'instance.")
@click.option("--crl", "crls", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Liste de révocation à jour (PEM ou DER), répétable, pour le dernier horodatage.")
@click.option("--a-la-date", "at", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Valider à cette date (UTC) plutôt que maintenant.")
@click.option("--json", "as_json", is_flag=True, help="Le rapport en JSON sur la sortie standard.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Écrire le rapport HTML ici.")
@click.option("--pdf", "pdf_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire le rapport PDF ici (démarre LibreOffice).")
def verify(pdf: Path, roots, crls, at, as_json: bool, html_out: Path | None, pdf_out: Path | None) -> None:
    """Vérifie les signatures d'un PDF, sans réseau ; code de sortie 0 si valide, 1 sinon, 2 si illisible."""
    from parcours.service import verifications  # noqa: F401 - quiets pyHanko's logs
    from signing.validate import TrustInputs, UnreadablePdf, validate

    data = pdf.read_bytes()
    moment = at.replace(tzinfo=dt.timezone.utc) if at else None
    try:
        if roots:
            report = validate(data, TrustInputs(_load_roots(roots), crls=_load_crls(crls)), at=moment).to_dict()
            report["stored"] = None
        else:
            report = _instance_report(data, moment)
    except UnreadablePdf as exc:
        raise UserError(f"{pdf} : {exc}") from None
    if html_out is not None or pdf_out is not None:
        from parcours import reports

        if html_out is not None:
            html_out.write_text(reports.report_html(report), encoding="utf-8")
        if pdf_out is not None:
            from docgen.convert import ConverterPool

            pool = ConverterPool(workers=1)
            try:
                pdf_out.write_bytes(reports.report_pdf(report, pool))
            finally:
                pool.close()
    if as_json:
        click.echo(json.dumps(report, default=_json_default, ensure_ascii=False, indent=2))
    else:
        _print(report)
    raise SystemExit(EXIT[report["indication"]])
