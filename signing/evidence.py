"""The evidence bundle of a signature request: one ZIP that an auditor takes away and checks offline.

Pure engine: bytes and plain data in, ZIP bytes out; no database, no Flask, no other engine.

Layout (every file under one folder, ``preuves-demande-<id>/``)::

    LISEZMOI.txt                 how to check everything offline, step by step, with Debian's tools (French)
    MANIFEST.sha256              the sha256 of every other file, in `sha256sum -c` format
    MANIFEST.sha256.tsr          an RFC 3161 TimeStampResp over MANIFEST.sha256 (the bundle's proven date)
    final.pdf                    the final signed PDF (the same bytes as its file in versions/)
    demande.json                 the request as the API shows it (signers, times, versions), when given
    versions/v<N>-<kind>.pdf     every version of the document up to the final one
    audit/events.jsonl           the audit events, one per line: the canonical JSON of every field, hash included
    audit/anchors.json           the chain anchors: sequence, head hash, token file, proven time
    audit/anchors/ancre-<sequence>.tst   their RFC 3161 tokens (TimeStampToken, DER)
    report/rapport.json          the validation report of final.pdf
    report/rapport.pdf           the same, for people (when given)
    pki/racine.pem, ac.pem, tsa.pem      the instance's root, issuing CA and TSA certificates
    pki/racine.crl, ac.crl       their current CRLs (DER)
    pki/autres-racines.pem       other trusted roots of the instance (when there are)
    pki/pdf/…                    the certificates, CRLs and OCSP responses embedded in final.pdf
    timestamps/<n>-<field>.tst   every timestamp token of final.pdf: each signature's, each document timestamp
    timestamps/<n>-<field>.signature     for a signature's token: the signature value it timestamps

Decisions
    - The ZIP is deterministic: entries sorted by name, a fixed date (1980-01-01), fixed permissions, so
      the same inputs give the same bytes; only MANIFEST.sha256.tsr (a fresh token) differs between builds.
    - An audit event's line is ``canonical_json(payload + {"hash": …})`` (signing.audit): removing
      "hash" and serialising again with sorted keys and no spaces gives the bytes whose sha256 is the hash.
      Python's ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` does exactly that
      on these events (ASCII keys, no floats), which is what LISEZMOI.txt tells the auditor to run.
    - Anchor tokens and PDF tokens are written as bare TimeStampTokens (``.tst``, `openssl ts -token_in`);
      the manifest's as a TimeStampResp (``.tsr``), a bare token from the time-stamper being wrapped in a
      "granted" response (the status is not signed: the token is unchanged).
    - LISEZMOI.txt is written from the bundle's own content, with the exact commands (file names, byte
      ranges, hashes), each on a line starting with ``$ ``: the integration test runs those very lines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms, core, pem, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from .audit import AnchorError, ChainAnchor, Event, anchor_imprint, canonical_json, payload, request_token
from .errors import PdfError, SigningError, TimestampError

__all__ = ["Version", "BundleInputs", "EvidenceError", "build_bundle", "bundle_folder", "event_line", "manifest",
           "ZIP_DATE", "KIND_LABELS"]

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""The date of every ZIP entry (the earliest a ZIP can hold): the archive depends on its content only."""
MANIFEST = "MANIFEST.sha256"
MANIFEST_TOKEN = "MANIFEST.sha256.tsr"
README = "LISEZMOI.txt"
KIND_LABELS = {"generated": "générée", "prepared": "préparée pour la signature", "signed": "signée",
               "sealed": "scellée (horodatage final)", "timestamped": "horodatage d'archive renouvelé"}
"""French names of the version kinds."""
OPENSSL_TRUST = "-CAfile pki/racine.pem -untrusted pki/ac.pem"


class EvidenceError(SigningError):
    """The inputs cannot make a bundle (no version, duplicate numbers, a token that is not the manifest's…)."""


# --- inputs ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """One stored version of the document."""

    number: int
    kind: str
    """generated, prepared, signed, sealed, timestamped."""
    created_at: dt.datetime
    pdf: bytes = field(repr=False)

    @property
    def filename(self) -> str:
        return f"versions/v{self.number}-{_slug(self.kind) or 'version'}.pdf"


@dataclass(frozen=True)
class BundleInputs:
    """Everything a bundle holds, gathered by the caller (the service reads it from the database and blobs)."""

    request_id: int | str
    versions: tuple[Version, ...]
    """Every version up to the final one; the one with the highest number is the final PDF.
    Plain tuples (number, kind, created_at, pdf) are accepted too."""
    events: tuple[Event, ...]
    """The audit events about the request and its document, in chain order."""
    anchors: tuple[ChainAnchor, ...]
    """The chain anchors that cover those events (sequence, head hash, RFC 3161 token)."""
    report_json: bytes
    """The validation report of the final PDF, as JSON."""
    root_pem: bytes
    """The instance's root certificate (PEM): the trust anchor for every check."""
    ca_pem: bytes
    """The issuing CA (PEM): it issued the signers' and the TSA's certificates."""
    tsa_pem: bytes
    """The TSA's certificate (PEM)."""
    root_crl: bytes = b""
    """The root's current CRL (DER)."""
    ca_crl: bytes = b""
    """The issuing CA's current CRL (DER)."""
    report_pdf: bytes | None = None
    """The validation report as a PDF, for people (optional)."""
    request_json: bytes | None = None
    """The request as the API shows it (optional)."""
    extra_roots_pem: bytes = b""
    """Other roots the instance trusts (PARCOURS_TRUST_ROOTS), concatenated PEM (optional)."""
    organisation: str = ""
    created_at: dt.datetime | None = None
    """When the bundle is made (written in LISEZMOI.txt; « date inconnue » when None)."""

    def __post_init__(self) -> None:
        versions = tuple(v if isinstance(v, Version) else Version(*v) for v in self.versions)
        object.__setattr__(self, "versions", tuple(sorted(versions, key=lambda v: v.number)))
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "anchors", tuple(self.anchors))
        self.check()

    def check(self) -> None:
        """Reject impossible inputs (EvidenceError)."""
        if not self.versions:
            raise EvidenceError("a bundle needs at least the final version")
        numbers = [v.number for v in self.versions]
        if len(set(numbers)) != len(numbers):
            raise EvidenceError(f"duplicate version numbers: {numbers}")
        if not self.final.pdf.startswith(b"%PDF-"):
            raise EvidenceError(f"the final version {self.final.number} is not a PDF")
        sequences = [e.sequence for e in self.events]
        if sequences != sorted(set(sequences)):
            raise EvidenceError("events must be in chain order, each once")
        for name in ("root_pem", "ca_pem", "tsa_pem"):
            if b"-----BEGIN CERTIFICATE-----" not in getattr(self, name):
                raise EvidenceError(f"{name} is not a PEM certificate")
        if not self.report_json:
            raise EvidenceError("a bundle needs the validation report")

    @property
    def final(self) -> Version:
        return self.versions[-1]


def bundle_folder(request_id: int | str) -> str:
    """The folder every entry of the ZIP is under (and the ZIP's usual name without .zip)."""
    return f"preuves-demande-{_slug(str(request_id)) or 'x'}"


# --- small helpers ----------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    """ASCII letters, digits, dot, dash and underscore only (safe in a ZIP and in `sha256sum -c`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.")[:80]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc(moment: dt.datetime | str | None) -> str:
    if moment is None:
        return "date inconnue"
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%d/%m/%Y à %H:%M:%S UTC")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _pem_certificate(der: bytes) -> bytes:
    return pem.armor("CERTIFICATE", der)


def _get_token(timestamper: Any, digest: bytes) -> bytes:
    """A DER token (or response) for a SHA-256 digest; the TSA client's errors become ours."""
    try:
        return request_token(timestamper, digest)
    except TypeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the TSA client's errors (HTTP, pyHanko…)
        raise TimestampError(f"the time-stamping authority did not timestamp the manifest: {exc}") from exc


def _bare_token(der: bytes) -> cms.ContentInfo | None:
    """The ContentInfo when `der` is a bare TimeStampToken, else None."""
    try:
        info = cms.ContentInfo.load(der)
        return info if info["content_type"].native == "signed_data" else None
    except (ValueError, TypeError, KeyError):
        return None


def _as_response(der: bytes) -> bytes:
    """A TimeStampResp: as is when it is one, else the bare token wrapped with the status « granted »."""
    info = _bare_token(der)
    if info is None:
        return der
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": info}).dump()


def _as_token(der: bytes) -> bytes:
    """A bare TimeStampToken: as is when it is one, else the token of the TimeStampResp."""
    if _bare_token(der) is not None:
        return der
    try:
        return tsp.TimeStampResp.load(der)["time_stamp_token"].dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise EvidenceError(f"not a timestamp token nor a timestamp response: {exc}") from None


def _certificates_of(signed_data: Any) -> list[bytes]:
    found = []
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            found.append(choice.chosen.dump())
    return found


# --- what final.pdf holds ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Stamp:
    """A timestamp token found in the final PDF."""

    index: int
    field: str
    kind: str
    """signature (the token of a signature) or document_timestamp."""
    token: bytes
    imprinted: bytes | None
    """For a signature's token: the signature value it timestamps (written beside it)."""
    byte_range: tuple[int, ...]
    """For a document timestamp: the ByteRange of the revision it covers."""
    signer: str | None

    @property
    def base(self) -> str:
        return f"timestamps/{self.index}-{_slug(self.field) or 'champ'}"


@dataclass(frozen=True)
class _PdfContent:
    stamps: tuple[_Stamp, ...]
    signatures: tuple[tuple[str, str | None], ...]
    """(field, signer common name) of each signature, document timestamps excluded."""
    certificates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    ocsps: tuple[bytes, ...]


def _common_name(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    try:
        return cert.subject.native.get("common_name")
    except (ValueError, TypeError, KeyError):
        return None


def _read_pdf(pdf: bytes) -> _PdfContent:
    """Every timestamp token of the PDF, and the certificates, CRLs and OCSP responses it embeds."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds on a damaged file
        raise PdfError(f"the final PDF cannot be read: {exc}") from exc
    stamps: list[_Stamp] = []
    signatures: list[tuple[str, str | None]] = []
    certificates: dict[str, bytes] = {}

    def keep(ders: Iterable[bytes]) -> None:
        for der in ders:
            certificates.setdefault(_sha256(der), der)

    for index, sig in enumerate(embedded, start=1):
        name = str(sig.field_name)
        signed_data = sig.signed_data
        keep(_certificates_of(signed_data))
        signer = _common_name(getattr(sig, "signer_cert", None))
        if sig.sig_object.get("/Type") == "/DocTimeStamp":
            token = cms.ContentInfo.load(bytes(sig.sig_object["/Contents"])).dump()
            stamps.append(_Stamp(index, name, "document_timestamp", token, None, tuple(sig.byte_range), signer))
            continue
        signatures.append((name, signer))
        signer_info = signed_data["signer_infos"][0]
        attributes = signer_info["unsigned_attrs"]
        if isinstance(attributes, core.Void):
            continue
        for attribute in attributes:
            if attribute["type"].native != "signature_time_stamp_token":
                continue
            for token in attribute["values"]:
                keep(_certificates_of(token["content"]))
                stamps.append(_Stamp(index, name, "signature", token.dump(), signer_info["signature"].native,
                                     (), signer))
                break  # one token per signature (PAdES); others would be archive attributes
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS: nothing more embedded
        dss = None
    if dss is not None:
        keep(c.dump() for c in dss.load_certs())
        crls = [bytes(ref.get_object().data) for ref in dss.crls]
        ocsps = [bytes(ref.get_object().data) for ref in dss.ocsps]
    return _PdfContent(tuple(stamps), tuple(signatures), tuple(certificates.values()), tuple(crls), tuple(ocsps))


def _pdf_pki_files(content: _PdfContent) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for der in content.certificates:
        try:
            name = _slug(_common_name(asn1_x509.Certificate.load(der)) or "") or "certificat"
        except (ValueError, TypeError):
            name = "certificat"
        files[f"pki/pdf/{name}-{_sha256(der)[:8]}.pem"] = _pem_certificate(der)
    for der in content.crls:
        try:
            issuer = asn1_crl.CertificateList.load(der)["tbs_cert_list"]["issuer"].native.get("common_name", "")
        except (ValueError, TypeError, KeyError, AttributeError):
            issuer = ""
        files[f"pki/pdf/crl-{_slug(issuer) or 'emetteur'}-{_sha256(der)[:8]}.crl"] = der
    for der in content.ocsps:
        files[f"pki/pdf/ocsp-{_sha256(der)[:8]}.der"] = der
    return files


# --- the audit trail ----------------------------------------------------------------------------------------

def event_line(event: Event) -> bytes:
    """One line of audit/events.jsonl: the canonical JSON of everything the chain hashes, plus the hash."""
    body = payload(event.prev_hash, event.sequence, event.type, event.time, event.subject_type, event.subject_id,
                   event.actor, event.data, event.ip, event.user_agent)
    body["hash"] = event.hash
    return canonical_json(body) + b"\n"


def _anchor_files(anchors: Sequence[ChainAnchor], events: Sequence[Event]) -> tuple[dict[str, bytes], list[dict]]:
    """audit/anchors/ancre-<sequence>.tst (bare tokens) and their description for audit/anchors.json."""
    files: dict[str, bytes] = {}
    described = []
    by_sequence = {e.sequence: e for e in events}
    tokens: dict[int, list[bytes]] = {}
    for anchor in sorted(anchors, key=lambda a: (a.sequence, a.token)):
        token = _as_token(anchor.token)
        same = tokens.setdefault(anchor.sequence, [])
        if token in same:
            continue
        same.append(token)
        name = f"audit/anchors/ancre-{anchor.sequence:08d}{'' if len(same) == 1 else f'-{len(same)}'}.tst"
        files[name] = token
        try:
            gen_time = anchor_imprint(token).gen_time
        except AnchorError:
            gen_time = anchor.time
        event = by_sequence.get(anchor.sequence)
        described.append({"sequence": anchor.sequence, "head_hash": anchor.head_hash, "token": name,
                          "time": gen_time.astimezone(dt.timezone.utc).isoformat() if gen_time else None,
                          "event_in_bundle": event is not None and event.hash == anchor.head_hash})
    return files, described


# --- LISEZMOI.txt ---------------------------------------------------------------------------------------------

HASH_CHECK = (
    "python3 -c 'import hashlib,json,sys; ev=[json.loads(l) for l in open(\"audit/events.jsonl\",encoding=\"utf-8\")]; "
    "bad=[e[\"sequence\"] for e in ev if hashlib.sha256(json.dumps({k:v for k,v in e.items() if k!=\"hash\"},"
    "sort_keys=True,separators=(\",\",\":\"),ensure_ascii=False).encode()).hexdigest()!=e[\"hash\"]]; "
    "cut=[b[\"sequence\"] for a,b in zip(ev,ev[1:]) if b[\"sequence\"]==a[\"sequence\"]+1 and b[\"prev_hash\"]!=a[\"hash\"]]; "
    "print(len(ev),\"événements ; empreintes fausses :\",bad or \"aucune\",\"; liens rompus :\",cut or \"aucun\"); "
    "sys.exit(1 if bad or cut else 0)'"
)
"""The offline recomputation of every event hash of audit/events.jsonl (standard library only)."""


def _readme(inputs: BundleInputs, folder: str, files: Mapping[str, bytes], content: _PdfContent,
            anchors: Sequence[Mapping[str, Any]]) -> bytes:
    final = inputs.final
    lines: list[str] = []
    add = lines.append
    organisation = f" ({inputs.organisation})" if inputs.organisation else ""
    title = f"DOSSIER DE PREUVES DE LA DEMANDE DE SIGNATURE N° {inputs.request_id}{organisation}"
    add(title)
    add("=" * len(title))
    add("")
    add(f"Constitué par Parcours le {_utc(inputs.created_at)}.")
    add("")
    add("Ce dossier réunit de quoi vérifier, sans réseau et sans faire confiance au serveur qui l'a produit,")
    add("que le document final a été signé, par qui, à quel moment, et qu'il n'a pas été modifié depuis ;")
    add("ainsi que chaque version du document et la piste d'audit de chaque étape. Consulter ce dossier ne")
    add("change rien ; son téléchargement est lui-même enregistré dans la piste d'audit (événement")
    add("« evidence.downloaded », avec l'empreinte sha256 du fichier ZIP remis).")
    add("")
    add("CONTENU")
    add("-------")
    add("")
    add(f"  final.pdf                  le document final signé, identique à {final.filename}")
    add(f"                             (sha256 {_sha256(final.pdf)})")
    add("  versions/                  toutes les versions du document, de la première à la finale :")
    for version in inputs.versions:
        label = KIND_LABELS.get(version.kind, version.kind)
        add(f"      {version.filename[len('versions/'):]:<24} {label}, le {_utc(version.created_at)}")
    if "demande.json" in files:
        add("  demande.json               la demande : signataires, dates, versions (comme l'API la montre)")
    add(f"  audit/events.jsonl         {_plural(len(inputs.events), 'événement', 'événements')} de la piste d'audit : ce document et ses demandes")
    add(f"  audit/anchors.json         {_plural(len(anchors), 'horodatage', 'horodatages')} de la chaîne d'audit couvrant ces événements")
    add("  audit/anchors/             leurs jetons RFC 3161 (TimeStampToken, DER)")
    add("  report/rapport.json        le rapport de validation de final.pdf (ETSI EN 319 102-1), établi à la constitution")
    if "report/rapport.pdf" in files:
        add("  report/rapport.pdf         le même rapport, à lire")
    add("  pki/racine.pem             le certificat racine de l'instance : la seule confiance nécessaire")
    add("  pki/ac.pem, pki/tsa.pem    l'autorité qui a émis les certificats des signataires, celle d'horodatage")
    add("  pki/racine.crl, pki/ac.crl leurs listes de révocation à la constitution du dossier (DER)")
    if "pki/autres-racines.pem" in files:
        add("  pki/autres-racines.pem     les autres racines de confiance de l'instance (PARCOURS_TRUST_ROOTS)")
    add("  pki/pdf/                   les certificats, listes de révocation et réponses OCSP incluses dans final.pdf")
    add("  timestamps/                chaque jeton d'horodatage de final.pdf (.tst) ; pour une signature, la valeur")
    add("                             de signature qu'il horodate (.signature)")
    add("  MANIFEST.sha256            l'empreinte sha256 de chaque fichier ci-dessus")
    add("  MANIFEST.sha256.tsr        l'horodatage RFC 3161 de MANIFEST.sha256 : la date du dossier")
    add("")
    add("VÉRIFIER, ÉTAPE PAR ÉTAPE")
    add("-------------------------")
    add("")
    add("Sur Debian 12, avec les paquets coreutils, openssl, poppler-utils (pdfsig), libnss3-tools (certutil)")
    add("et python3, depuis ce dossier après décompression :")
    add("")
    add(f"    unzip {folder}.zip && cd {folder}")
    add("")
    add("Chaque commande est la ligne qui commence par « $ » (sans le « $ »). Aucune n'utilise le réseau.")
    add("")
    step = 0

    def section(name: str) -> None:
        nonlocal step
        step += 1
        add(f"ÉTAPE {step}. {name}")
        add("")

    section("La racine de confiance et l'intégrité du dossier")
    add("Toutes les vérifications reposent sur pki/racine.pem, le certificat racine de l'instance. Comparez")
    add("d'abord son empreinte avec celle que l'organisation publie par ailleurs (son service la publie à")
    add("l'adresse /api/v1/pki/root.pem) :")
    add("")
    add("$ openssl x509 -in pki/racine.pem -noout -subject -nameopt utf8 -fingerprint -sha256")
    add("")
    add("Puis l'intégrité de chaque fichier du dossier :")
    add("")
    add("$ sha256sum -c MANIFEST.sha256")
    add("")
    add("Chaque ligne doit finir par « OK » (« Réussi » sur un système en français) ; la commande échoue si un")
    add("fichier manque ou a changé. Le document final est bien la dernière version conservée :")
    add("")
    add(f"$ cmp final.pdf {final.filename}")
    add("")
    add("(aucune sortie : les deux fichiers sont identiques).")
    add("")
    section("La date du dossier : l'horodatage du manifeste")
    add(f"$ openssl ts -verify -in {MANIFEST_TOKEN} -data {MANIFEST} {OPENSSL_TRUST}")
    add("")
    add("Attendu : « Verification: OK ». Le manifeste, donc chaque fichier qu'il liste, existait tel quel à la")
    add("date du jeton, signée par l'autorité d'horodatage de l'instance. Cette date se lit ainsi :")
    add("")
    add(f"$ openssl ts -reply -in {MANIFEST_TOKEN} -text")
    add("")
    add("(ligne « Time stamp: »).")
    add("")
    section("Les signatures du PDF avec pdfsig (poppler-utils)")
    add("$ pdfsig final.pdf")
    add("")
    count = len(content.signatures)
    add("Attendu « Signature Validation: Signature is Valid. » pour " +
        ("la signature :" if count == 1 else f"chacune des {count} signatures :"))
    for name, signer in content.signatures:
        add(f"    - champ {name} : {signer or 'signataire inconnu'}")
    add("Les octets signés sont intacts et chaque signature correspond à son certificat. Sans base de")
    add("confiance, pdfsig ajoute « Certificate issuer isn't Trusted » : l'étape suivante lui donne la racine.")
    add("pdfsig ne sait pas vérifier un horodatage de document (« Signature has not yet been verified ») :")
    add("l'étape 5 le fait.")
    add("")
    section("La confiance avec pdfsig : la racine dans une base NSS")
    add("pdfsig ne connaît que les racines d'une base NSS ; en voici une, propre à ce dossier (sous-dossier nss) :")
    add("")
    add("$ mkdir nss && certutil -N -d sql:nss --empty-password")
    add("$ certutil -A -d sql:nss -n racine-preuves -t CT,C,C -i pki/racine.pem")
    add("$ pdfsig -nssdir sql:nss final.pdf")
    add("")
    add("Attendu : « Certificate Validation: Certificate is Trusted. » pour chaque signature. pdfsig juge les")
    add("certificats à la date d'aujourd'hui : les certificats des signataires, à usage unique, ne valent")
    add("qu'une heure, et pdfsig dit ensuite « Certificate has Expired ». C'est attendu : leur validité au")
    add("moment de la signature est prouvée par les horodatages (étape 5) et établie par le rapport (étape 6).")
    add("Pour recommencer, supprimez d'abord le dossier nss (certutil -N ne doit pas rouvrir une base existante :")
    add("il y attendrait un mot de passe).")
    add("")
    section("Les horodatages de final.pdf avec openssl")
    if not content.stamps:
        add("final.pdf ne contient aucun horodatage.")
        add("")
    for stamp in content.stamps:
        if stamp.kind == "signature":
            add(f"Horodatage de la signature « {stamp.field} » ({stamp.signer or 'signataire inconnu'}) : il porte")
            add(f"sur la valeur de cette signature, extraite dans {stamp.base}.signature.")
            add("")
            add(f"$ openssl ts -verify -token_in -in {stamp.base}.tst -data {stamp.base}.signature {OPENSSL_TRUST}")
        else:
            start, first, second, length = (stamp.byte_range + (0, 0, 0, 0))[:4]
            add(f"Horodatage du document « {stamp.field} » :")
            add(f"il porte sur les octets de final.pdf de ses plages signées (octets {start} à {start + first - 1},")
            add(f"puis {second} à {second + length - 1}), que head et tail recomposent :")
            add("")
            head = f"head -c {first} final.pdf" if start == 0 else f"tail -c +{start + 1} final.pdf | head -c {first}"
            add(f"$ ( {head}; tail -c +{second + 1} final.pdf | head -c {length} ) | "
                f"openssl ts -verify -token_in -in {stamp.base}.tst -data /dev/stdin {OPENSSL_TRUST}")
        add("")
        add("Attendu : « Verification: OK ». Sa date (ligne « Time stamp: ») :")
        add(f"    openssl ts -reply -token_in -in {stamp.base}.tst -text")
        add("")
    add("Une autorité d'horodatage externe (PARCOURS_TSA_URL) a sa propre racine : remplacez alors")
    add("pki/racine.pem par elle (pki/autres-racines.pem quand l'instance la connaît).")
    add("")
    section("Le rapport de validation complet avec Parcours")
    add("Le rapport report/rapport.json a été établi par le serveur. Pour l'établir soi-même, hors ligne, avec")
    add("Parcours installé (commande .venv/bin/parcours d'une installation) et la seule racine de ce dossier :")
    add("")
    add("$ parcours verify final.pdf --racine pki/racine.pem --crl pki/ac.crl --crl pki/racine.crl")
    add("")
    add("Attendu : « VALIDE : TOTAL_PASSED » (code de sortie 0) ; --json donne le rapport en JSON, à comparer")
    add("avec report/rapport.json. Les listes de révocation valent sept jours : plus tard, ajoutez")
    add("--a-la-date AAAA-MM-JJ (la date du dossier), ou prenez les listes à jour aux adresses inscrites dans")
    add("les certificats (openssl x509 -in pki/tsa.pem -noout -text, « CRL Distribution Points »).")
    add("")
    section("La piste d'audit")
    add("Chaque ligne de audit/events.jsonl est un événement : le JSON canonique (RFC 8785 : clés triées, aucun")
    add("espace, UTF-8) de tous ses champs. Son empreinte « hash » est le sha256 de ce même JSON sans le champ")
    add("« hash » ; « prev_hash » est l'empreinte de l'événement précédent de la chaîne, ce qui interdit d'en")
    add("modifier, d'en retirer ou d'en insérer un sans que la suite ne se rompe. Pour recalculer chaque")
    add("empreinte et chaque lien entre événements consécutifs du dossier :")
    add("")
    add("$ " + HASH_CHECK)
    add("")
    add("Attendu : « N événements ; empreintes fausses : aucune ; liens rompus : aucun ». Les numéros")
    add("(« sequence ») sautent là où la chaîne porte sur d'autres documents : ces événements-là ne sont pas")
    add("dans le dossier. Le serveur recalcule la chaîne entière avec « parcours audit verify ».")
    add("")
    if anchors:
        add("La tête de la chaîne est horodatée régulièrement ; chaque jeton ci-dessous horodate l'empreinte de")
        add("l'événement de son numéro (voir audit/anchors.json) :")
        add("")
    for anchor in anchors:
        head = anchor["head_hash"]
        if anchor["event_in_bundle"]:
            add(f"Événement n° {anchor['sequence']} (dans audit/events.jsonl, une seule fois) :")
            add("")
            add(f"$ grep -F -c '\"hash\":\"{head}\"' audit/events.jsonl")
        else:
            add(f"Événement n° {anchor['sequence']} (il porte sur un autre sujet, hors du dossier ; l'horodatage prouve")
            add("l'état de toute la chaîne à sa date, ce que « parcours audit verify » relie sur le serveur) :")
            add("")
        add(f"$ openssl ts -verify -digest {head} -token_in -in {anchor['token']} {OPENSSL_TRUST}")
        add("")
    if anchors:
        add("Attendu : « 1 » puis « Verification: OK » pour chacun.")
        add("")
    add("AUTRES LECTURES UTILES")
    add("----------------------")
    add("")
    add("    openssl x509 -in pki/tsa.pem -noout -text                              (l'autorité d'horodatage)")
    add("    openssl crl -inform DER -in pki/ac.crl -noout -text                    (certificats révoqués)")
    add("    openssl ts -reply -token_in -in timestamps/<fichier>.tst -text          (contenu d'un horodatage)")
    add("    python3 -m json.tool report/rapport.json")
    add("")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- the bundle -------------------------------------------------------------------------------------------------

def _zip(folder: str, files: Mapping[str, bytes]) -> bytes:
    """A deterministic ZIP: sorted names, fixed dates and permissions, deflate level 9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: the permissions below are read
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def manifest(files: Mapping[str, bytes]) -> bytes:
    """`sha256sum -c` format: one « <sha256>  <path> » line per file, sorted by path."""
    return "".join(f"{_sha256(files[name])}  {name}\n" for name in sorted(files)).encode("ascii")


def build_bundle(inputs: BundleInputs, timestamper: Any) -> bytes:
    """The ZIP of the bundle (see the module docstring). `timestamper` timestamps the manifest: a
    `signing.audit.TimeStamper` or a pyHanko TimeStamper. Raises TimestampError when the TSA fails or
    answers for something else, PdfError when the final PDF cannot be read."""
    final = inputs.final
    content = _read_pdf(final.pdf)
    files: dict[str, bytes] = {"final.pdf": final.pdf}
    for version in inputs.versions:
        files[version.filename] = version.pdf
    if inputs.request_json is not None:
        files["demande.json"] = inputs.request_json
    files["audit/events.jsonl"] = b"".join(event_line(e) for e in inputs.events)
    anchor_files, anchors = _anchor_files(inputs.anchors, inputs.events)
    files.update(anchor_files)
    files["audit/anchors.json"] = (json.dumps(anchors, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    files["report/rapport.json"] = inputs.report_json
    if inputs.report_pdf is not None:
        files["report/rapport.pdf"] = inputs.report_pdf
    files["pki/racine.pem"] = inputs.root_pem
    files["pki/ac.pem"] = inputs.ca_pem
    files["pki/tsa.pem"] = inputs.tsa_pem
    if inputs.root_crl:
        files["pki/racine.crl"] = inputs.root_crl
    if inputs.ca_crl:
        files["pki/ac.crl"] = inputs.ca_crl
    if inputs.extra_roots_pem.strip():
        files["pki/autres-racines.pem"] = inputs.extra_roots_pem
    files.update(_pdf_pki_files(content))
    for stamp in content.stamps:
        files[f"{stamp.base}.tst"] = stamp.token
        if stamp.imprinted is not None:
            files[f"{stamp.base}.signature"] = stamp.imprinted
    folder = bundle_folder(inputs.request_id)
    files[README] = _readme(inputs, folder, files, content, anchors)
    listed = manifest(files)
    digest = hashlib.sha256(listed).digest()
    token = _get_token(timestamper, digest)
    try:
        imprint = anchor_imprint(token)
    except AnchorError as exc:
        raise TimestampError(f"the manifest's timestamp cannot be read: {exc}") from None
    if imprint.hash_algorithm != "sha256" or imprint.hashed_message != digest:
        raise TimestampError("the time-stamping authority answered for another digest than the manifest's")
    files[MANIFEST] = listed
    files[MANIFEST_TOKEN] = _as_response(token)
    return _zip(folder, files)
