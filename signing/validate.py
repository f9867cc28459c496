"""A validation report for any PDF: per signature and document timestamp, and an overall verdict.

The verdict uses the vocabulary of ETSI EN 319 102-1 that EU DSS uses (TOTAL_PASSED, INDETERMINATE,
TOTAL_FAILED with a sub-indication), from pyHanko's AdES validation (``ades_lta_validation``), which
validates at the time proven by the timestamps with the data embedded in the file. Nothing is fetched
from the network unless asked: the verifier brings its trust roots and, for the last timestamp, the
current CRLs of its authority.

Decisions a verdict depends on (the rest is pyHanko's):
- A change after a signature that the signature does not allow (pyHanko's difference analysis:
  page content, an overlay, an annotation, a locked field) is TOTAL_FAILED / FORMAT_FAILURE, with
  the change named: the file no longer shows what was signed.
- A file with no signature gets the indication NO_SIGNATURE: ETSI's vocabulary has no word for it.
- The overall verdict is the worst of the signatures' (FAILED, then INDETERMINATE, then PASSED);
  its sub-indication and sentence are those of the first signature that has it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError as HankoPdfError
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.general import SigningError as HankoSigningError
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.validation import generic_cms, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from . import longterm, wording
from .errors import PdfError
from .pades import ValidationInputs, _asn1

__all__ = [
    "PASSED", "INDETERMINATE", "FAILED", "NO_SIGNATURE",
    "UnreadablePdf", "NotAPdf", "EncryptedPdf", "DamagedPdf",
    "CertificateInfo", "TimestampInfo", "Changes", "SignatureCheck", "ValidationReport",
    "TrustInputs", "validate",
]

PASSED, INDETERMINATE, FAILED, NO_SIGNATURE = "TOTAL_PASSED", "INDETERMINATE", "TOTAL_FAILED", "NO_SIGNATURE"
_RANK = {PASSED: 0, NO_SIGNATURE: 1, INDETERMINATE: 2, FAILED: 3}
_AUTHORITY = "signature électronique"


# --- errors: a file that cannot be validated at all ------------------------------------------------

class UnreadablePdf(PdfError):
    """The file cannot be validated at all; the message says why, in French."""


class NotAPdf(UnreadablePdf):
    """The bytes are not a PDF."""


class EncryptedPdf(UnreadablePdf):
    """The PDF is encrypted: its signatures cannot be checked without the password."""


class DamagedPdf(UnreadablePdf):
    """The PDF is truncated or malformed beyond lenient reading."""


# --- the report -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateInfo:
    """One certificate of a chain, as a reader sees it."""

    subject: str
    common_name: str | None
    email: str | None
    organisation: str | None
    issuer: str
    serial: str
    """Hexadecimal."""
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    """Fingerprint of the DER."""
    trust_root: bool
    """One of the verifier's trust roots."""
    der: bytes = field(repr=False, compare=False, default=b"")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("der")
        return data


@dataclass(frozen=True)
class TimestampInfo:
    """An RFC 3161 timestamp: a signature's own, or a document timestamp's."""

    time: dt.datetime
    tsa: str | None
    """The time-stamping authority's name (its certificate's common name)."""
    tsa_expires: dt.datetime | None
    intact: bool
    valid: bool
    trusted: bool

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


@dataclass(frozen=True)
class Changes:
    """What was changed in the file after a signature, from pyHanko's difference analysis."""

    level: str
    """NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS or OTHER (pyHanko's ModificationLevel)."""
    allowed: bool
    later_signatures: tuple[str, ...]
    """Fields signed after this one."""
    later_timestamps: int
    """Document timestamps added after it."""
    fields_filled: tuple[str, ...]
    reason: str | None
    """Why a change is not allowed (pyHanko's words), when it is not."""
    summary: str | None
    """The change that is not allowed, in French (« le contenu d'une page a été réécrit ou recouvert »)."""
    description: str
    """In French."""


@dataclass(frozen=True)
class SignatureCheck:
    """The checks of one signature (or document timestamp) of the file."""

    field: str
    kind: str
    """``signature`` or ``document_timestamp``."""
    revision: int
    """The revision it signed (1 for the first state of the file)."""
    signer: CertificateInfo | None
    chain: tuple[CertificateInfo, ...]
    """From the signer up to the root, as far as it could be built."""
    trusted: bool
    """The chain reaches a trust root, and revocation was checked."""
    claimed_time: dt.datetime | None
    """The time the signer's software wrote (signingTime or /M): not proof."""
    timestamp: TimestampInfo | None
    """The timestamp proving when it existed (for a document timestamp: its own)."""
    certificate_valid_at_signing: bool | None
    """The signer's certificate was within its validity at the proven (else claimed) time."""
    intact: bool
    """The signed bytes still have the digest the signature was made on."""
    valid: bool
    """The cryptographic signature matches the certificate's key."""
    coverage: str | None
    """ENTIRE_FILE, ENTIRE_REVISION, CONTIGUOUS_BLOCK_FROM_START or UNCLEAR."""
    covers: str
    """In French: what the signature covers."""
    changes: Changes | None
    certification: str | None
    """The DocMDP permission of a certification signature (NO_CHANGES, FILL_FORMS, ANNOTATE)."""
    level: str | None
    """PAdES-B-B, PAdES-B-T, PAdES-B-LT, PAdES-B-LTA; None when not a PAdES signature."""
    subfilter: str | None
    offline: bool
    """Every certificate and revocation answer needed is embedded in the file."""
    indication: str
    sub_indication: str | None
    message: str
    """One sentence in French for a non-specialist."""
    details: tuple[str, ...] = ()
    """Technical notes (English, from pyHanko) for a specialist."""
    proven_by_document_timestamp: bool = False
    """A signature without a timestamp of its own: `timestamp` is the first document timestamp after it that
    holds, which proves the signature existed then."""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["signer"] = self.signer.to_dict() if self.signer else None
        data["chain"] = [c.to_dict() for c in self.chain]
        data["details"] = list(self.details)
        if self.changes is not None:
            data["changes"]["later_signatures"] = list(self.changes.later_signatures)
            data["changes"]["fields_filled"] = list(self.changes.fields_filled)
        return data


@dataclass(frozen=True)
class ValidationReport:
    sha256: str
    size: int
    revisions: int
    validated_at: dt.datetime
    indication: str
    sub_indication: str | None
    message: str
    signatures: tuple[SignatureCheck, ...]
    """Signatures and document timestamps, in file order."""
    lenient: bool
    """The file could only be read leniently (hybrid cross-references, repaired structure…)."""
    notes: tuple[str, ...] = ()
    """In French: how the file was read, what was not checked."""

    @property
    def passed(self) -> bool:
        return self.indication == PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256, "size": self.size, "revisions": self.revisions,
            "validated_at": self.validated_at, "indication": self.indication,
            "sub_indication": self.sub_indication, "message": self.message,
            "signatures": [s.to_dict() for s in self.signatures], "lenient": self.lenient,
            "notes": list(self.notes),
        }


TrustInputs = ValidationInputs
"""What the verifier brings: trust roots, current CRLs of its own authority (for the last timestamp's
chain), other certificates, and whether fetching is allowed: the same inputs as the signer's checks."""


# --- reading ----------------------------------------------------------------------------------------

def _open(pdf: bytes) -> tuple[PdfFileReader, bool, list[str]]:
    if b"%PDF-" not in pdf[:1024]:
        raise NotAPdf(wording.not_a_pdf(pdf[:16]))
    end = pdf.rfind(b"%%EOF")
    if end < 0:
        raise DamagedPdf("le fichier est tronqué : la marque de fin « %%EOF » manque")
    if pdf[end + 5:].strip(b"\r\n\t \x00"):
        # A cut inside the last incremental update leaves an earlier revision's %%EOF behind.
        raise DamagedPdf(f"le fichier est tronqué : sa dernière révision est incomplète "
                         f"({len(pdf) - end - 5} octets après la dernière marque de fin « %%EOF »)")
    notes = []
    lenient = False
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        reader.root  # noqa: B018 - forces the trailer and catalog to be read
        if reader.xrefs.hybrid_xrefs_present:
            # pyHanko refuses signatures in hybrid files under strict reading; viewers read them.
            raise PdfReadError("hybrid cross-references")
    except Exception:  # noqa: BLE001 - any reading problem: try leniently
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            reader.root  # noqa: B018
        except Exception as exc:  # noqa: BLE001
            raise DamagedPdf(f"le fichier est mal formé et ne peut pas être lu (détail technique : {exc})") from exc
        lenient = True
        if reader.xrefs.hybrid_xrefs_present:
            notes.append("Le fichier utilise des références croisées hybrides : il a été lu en mode tolérant, "
                         "comme le font les lecteurs PDF courants.")
        else:
            notes.append("Le fichier a été lu en mode tolérant : sa structure ne suit pas strictement la norme PDF, "
                         "ce qui est courant chez certains logiciels.")
    if reader.encrypted:
        raise EncryptedPdf("le fichier est chiffré : ses signatures ne peuvent pas être vérifiées sans le mot de passe")
    return reader, lenient, notes


# --- certificates ----------------------------------------------------------------------------------

def _email(cert: asn1_x509.Certificate) -> str | None:
    email = cert.subject.native.get("email_address")
    if email:
        return email
    for name in cert.subject_alt_name_value or ():
        if name.name == "rfc822_name":
            return name.native
    return None


def _info(cert: asn1_x509.Certificate, roots: set[bytes]) -> CertificateInfo:
    subject = cert.subject.native
    validity = cert["tbs_certificate"]["validity"]
    der = cert.dump()
    return CertificateInfo(
        subject=cert.subject.human_friendly, common_name=subject.get("common_name"), email=_email(cert),
        organisation=subject.get("organization_name"), issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"), not_before=validity["not_before"].native,
        not_after=validity["not_after"].native, sha256=hashlib.sha256(der).hexdigest(),
        trust_root=der in roots, der=der)


def _issuers(leaf: asn1_x509.Certificate, pool: Iterable[asn1_x509.Certificate]) -> list[asn1_x509.Certificate]:
    """The chain built by issuer names from the certificates at hand, from `leaf` up (no trust decided)."""
    by_subject: dict[bytes, asn1_x509.Certificate] = {}
    for cert in pool:
        by_subject.setdefault(cert.subject.dump(), cert)
    chain = [leaf]
    while len(chain) < 10:
        current = chain[-1]
        if current.self_signed != "no":
            break
        issuer = by_subject.get(current.issuer.dump())
        if issuer is None or any(issuer.dump() == c.dump() for c in chain):
            break
        chain.append(issuer)
    return chain


def _chain(leaf: asn1_x509.Certificate, path: Any, pool: Iterable[asn1_x509.Certificate],
           roots: set[bytes]) -> tuple[CertificateInfo, ...]:
    """The validated path when there is one, else the chain built by issuer names from the certificates at hand."""
    if path is not None:
        certs = list(path.iter_certs(include_root=True))
        if certs and certs[-1].dump() != leaf.dump():
            certs = [leaf]  # a path of another certificate (defensive)
        return tuple(_info(c, roots) for c in reversed(certs))
    return tuple(_info(c, roots) for c in _issuers(leaf, pool))


# --- embedded validation data ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Embedded:
    certs: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]

    def covers(self, cert: asn1_x509.Certificate) -> bool:
        """A revocation answer about `cert` is embedded (a CRL of its issuer, or an OCSP response)."""
        issuer = cert.issuer.dump()
        if any(c["tbs_cert_list"]["issuer"].dump() == issuer for c in self.crls):
            return True
        for response in self.ocsps:
            try:
                for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
                    if single["cert_id"]["serial_number"].native == cert.serial_number:
                        return True
            except (KeyError, ValueError, TypeError):
                continue
        return False


def _embedded(reader: PdfFileReader) -> _Embedded:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS, or an unreadable one: nothing embedded
        return _Embedded((), (), ())
    crls, ocsps = [], []
    for ref in dss.crls:
        try:
            crls.append(asn1_crl.CertificateList.load(ref.get_object().data))
        except Exception:  # noqa: BLE001
            continue
    for ref in dss.ocsps:
        try:
            ocsps.append(asn1_ocsp.OCSPResponse.load(ref.get_object().data))
        except Exception:  # noqa: BLE001
            continue
    try:
        certs = tuple(dss.load_certs())
    except Exception:  # noqa: BLE001
        certs = ()
    return _Embedded(certs, tuple(crls), tuple(ocsps))


# --- validation specs -----------------------------------------------------------------------------

def _knowledge(trust: TrustInputs, embedded: _Embedded | None = None) -> LocalKnowledge:
    crls = [CRLContainer(asn1_crl.CertificateList.load(c)) for c in trust.crls]
    ocsps = [OCSPContainer(asn1_ocsp.OCSPResponse.load(o)) for o in trust.ocsps]
    return LocalKnowledge(known_crls=crls, known_ocsps=ocsps, known_certs=[_asn1(c) for c in trust.other_certs])


def _spec(trust: TrustInputs) -> PdfSignatureValidationSpec:
    required = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[_asn1(c) for c in trust.trust_roots]),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(required, required)),
    )
    fetching = RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH if trust.allow_fetching \
        else RevinfoOnlineFetchingRule.LOCAL_ONLY
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        policy, revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=fetching),
        local_knowledge=_knowledge(trust)))


# --- one signature ---------------------------------------------------------------------------------

def _indication(sub: Any) -> tuple[str, str | None]:
    if isinstance(sub, AdESPassed):
        return PASSED, None
    if isinstance(sub, AdESFailure):
        return FAILED, sub.name
    if isinstance(sub, AdESIndeterminate):
        return INDETERMINATE, sub.name
    return INDETERMINATE, "GENERIC"


def field_labels(reader: PdfFileReader) -> dict[str, str]:
    """Each top-level form field's readable name (/TU), e.g. « Commentaires du salarié »."""
    labels: dict[str, str] = {}
    try:
        for ref in reader.root["/AcroForm"]["/Fields"]:
            field_dict = ref.get_object()
            if "/T" in field_dict and "/TU" in field_dict:
                labels[str(field_dict["/T"])] = str(field_dict["/TU"])
    except (KeyError, TypeError, AttributeError, HankoPdfError):
        pass
    return labels


def _changes(status: Any, later: Sequence[Any], labels: dict[str, str]) -> Changes | None:
    level = getattr(status, "modification_level", None)
    if level is None:
        return None
    diff = getattr(status, "diff_result", None)
    reason = str(diff) if isinstance(diff, SuspiciousModification) else None
    # pyHanko's names are its string objects: plain str keep the report free of the reader.
    signatures = tuple(str(e.field_name) for e in later if not _is_doc_ts(e))
    filled = () if level <= ModificationLevel.LTA_UPDATES else tuple(sorted(
        {str(n) for n in getattr(diff, "changed_form_fields", ()) or ()} - {str(e.field_name) for e in later}))
    timestamps = sum(1 for e in later if _is_doc_ts(e))
    allowed = getattr(status, "docmdp_ok", None) is not False and level is not ModificationLevel.OTHER
    summary = None
    if level is ModificationLevel.NONE:
        description = wording.LEVELS["NONE"]
    elif allowed:
        description = wording.allowed_changes(signatures, timestamps, filled, labels) or wording.LEVELS[level.name]
    else:
        summary = wording.unallowed_change(reason, labels)
        description = f"Modification non autorisée : {summary}."
    return Changes(level=level.name, allowed=allowed, later_signatures=signatures, later_timestamps=timestamps,
                   fields_filled=filled, reason=reason, summary=summary, description=description)


def _byte_range(embedded_sig: Any) -> list[int] | None:
    """The signature's /ByteRange as integers, or None when it is not an array of an even number of them."""
    try:
        values = list(embedded_sig.byte_range)
    except Exception:  # noqa: BLE001 - absent, not an array
        return None
    if not values or len(values) % 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return [int(v) for v in values]


def _covers(embedded: Any, revisions: int, coverage: str | None) -> str:
    revision = embedded.signed_revision + 1
    ranges = _byte_range(embedded)
    if ranges is None or len(ranges) != 4:
        return "une partie du fichier dont l'étendue est incertaine : ses plages d'octets signées sont anormales"
    end = ranges[2] + ranges[3]
    size = f"{end:,}".replace(",", "\u202f")
    what = {
        "ENTIRE_FILE": "tout le fichier",
        "ENTIRE_REVISION": f"le fichier tel qu'il était à la révision {revision} sur {revisions}",
        "CONTIGUOUS_BLOCK_FROM_START": f"le début du fichier, jusqu'à l'octet {size}, sans correspondre à une révision",
        "UNCLEAR": "une partie du fichier dont l'étendue est incertaine",
    }.get(coverage or "", "une partie du fichier qui n'a pas pu être déterminée")
    return f"{what} ({size} octets)" if coverage in ("ENTIRE_FILE", "ENTIRE_REVISION") else what


def _timestamp(ts: Any) -> TimestampInfo | None:
    if ts is None:
        return None
    cert = getattr(ts, "signing_cert", None)
    return TimestampInfo(
        time=ts.timestamp,
        tsa=(cert.subject.native.get("common_name") or cert.subject.human_friendly) if cert is not None else None,
        tsa_expires=cert["tbs_certificate"]["validity"]["not_after"].native if cert is not None else None,
        intact=bool(ts.intact), valid=bool(ts.valid), trusted=bool(ts.trusted))


def _offline(embedded: _Embedded, *paths: Any) -> bool:
    """Every non-root certificate of the given validated paths has a revocation answer in the file."""
    found = False
    for path in paths:
        if path is None:
            return False
        for cert in path.iter_certs(include_root=False):
            found = True
            if not embedded.covers(cert):
                return False
    return found


def _is_doc_ts(embedded_sig: Any) -> bool:
    return embedded_sig.sig_object_type == "/DocTimeStamp"


def _subfilter(embedded_sig: Any) -> str | None:
    return str(embedded_sig.sig_object.get("/SubFilter", "")).lstrip("/") or None


def _has_signature_timestamp(embedded_sig: Any) -> bool:
    try:
        attributes = embedded_sig.signer_info["unsigned_attrs"]
        return any(a["type"].native == "signature_time_stamp_token" for a in attributes)
    except (KeyError, TypeError, ValueError):
        return False


def _level(embedded_sig: Any, embedded: _Embedded, later_doc_ts: bool) -> str | None:
    """The PAdES level of the file's structure (ETSI EN 319 142-1), whatever the verdict: B-T by a signature
    timestamp or by a later document timestamp; B-LT when the DSS also holds a revocation answer for every
    certificate of the signer's chain but its root (and of its signature timestamp's, if any); B-LTA when a
    document timestamp follows."""
    if _subfilter(embedded_sig) != "ETSI.CAdES.detached":
        return None
    timestamped = _has_signature_timestamp(embedded_sig)
    if not (timestamped or later_doc_ts):
        return "PAdES-B-B"
    pool = list(embedded_sig.other_embedded_certs) + list(embedded.certs)
    chains = [_issuers(embedded_sig.signer_cert, pool)]
    for token in generic_cms.extract_tst_data_iter(embedded_sig.signer_info, signed=False):
        try:
            info = extract_certificate_info(token)
        except Exception:  # noqa: BLE001 - an unreadable timestamp token: its chain is not counted
            continue
        chains.append(_issuers(info.signer_cert, pool + list(info.other_certs)))
    certs = [c for chain in chains for c in chain if c.self_signed == "no"]
    if not certs or not all(embedded.covers(c) for c in certs):
        return "PAdES-B-T"
    return "PAdES-B-LTA" if later_doc_ts else "PAdES-B-LT"


def _check_signature(embedded_sig: Any, all_sigs: Sequence[Any], revisions: int, spec: PdfSignatureValidationSpec,
                     timing: ValidationTimingInfo, embedded: _Embedded, roots: set[bytes],
                     labels: dict[str, str], evidence: dict | None = None) -> SignatureCheck:
    evidence = {} if evidence is None else evidence
    later = [e for e in all_sigs if e.signed_revision > embedded_sig.signed_revision]
    later_doc_ts = any(_is_doc_ts(e) for e in later)
    details: list[str] = []
    try:
        result = asyncio.run(_ades(embedded_sig, spec, timing, evidence))
        status, sub = result.api_status, result.ades_subindic
        if result.failure_msg:
            details.append(result.failure_msg)
    except (HankoSigningError, HankoPdfError, ValueError, KeyError, TypeError) as exc:
        status, sub = None, AdESFailure.FORMAT_FAILURE
        details.append(f"{type(exc).__name__}: {exc}")
    indication, sub_indication = _indication(sub)
    leaf = embedded_sig.signer_cert
    pool = list(embedded_sig.other_embedded_certs) + list(embedded.certs)
    path = getattr(status, "validation_path", None)
    timestamp = _timestamp(getattr(status, "timestamp_validity", None))
    changes = _changes(status, later, labels) if status is not None else None
    coverage = status.coverage.name if status is not None and status.coverage is not None else None
    if coverage is None:
        try:
            coverage = embedded_sig.evaluate_signature_coverage().name
        except Exception:  # noqa: BLE001
            coverage = None
    intact = bool(status.intact) if status is not None else False
    valid = bool(status.valid) if status is not None else False
    if status is not None:
        if not intact:
            indication, sub_indication = FAILED, "HASH_FAILURE"
        elif not valid:
            indication, sub_indication = FAILED, "SIG_CRYPTO_FAILURE"
        elif changes is not None and not changes.allowed:
            indication, sub_indication = FAILED, "FORMAT_FAILURE"
    if indication != FAILED and coverage not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
        # pyHanko calls it NONSTANDARD_COVERAGE: bytes of the file that no signature vouches for.
        indication, sub_indication = FAILED, "FORMAT_FAILURE"
        details.append(f"signature coverage {coverage or 'unknown'}: not a whole revision of the file")
    signer = _info(leaf, roots)
    if indication == PASSED and timestamp is not None and timestamp.ok \
            and not signer.not_before <= timestamp.time <= signer.not_after:
        # The process for signatures with time lets this through; ETSI: no proof it was signed while valid.
        indication, sub_indication = INDETERMINATE, "OUT_OF_BOUNDS_NO_POE"
    trusted = indication == PASSED or (status is not None and bool(status.trusted) and sub_indication not in (
        "NO_CERTIFICATE_CHAIN_FOUND", "CERTIFICATE_CHAIN_GENERAL_FAILURE"))
    ts_path = getattr(getattr(status, "timestamp_validity", None), "validation_path", None)
    offline = _offline(embedded, path, ts_path) if timestamp is not None else _offline(embedded, path)
    moment = timestamp.time if timestamp is not None and timestamp.ok else embedded_sig.self_reported_timestamp
    in_validity = None if moment is None else signer.not_before <= moment <= signer.not_after
    docmdp = embedded_sig.docmdp_level
    check = SignatureCheck(
        field=str(embedded_sig.field_name), kind="signature", revision=embedded_sig.signed_revision + 1,
        signer=signer, chain=_chain(leaf, path, pool, roots), trusted=trusted,
        claimed_time=embedded_sig.self_reported_timestamp, timestamp=timestamp,
        certificate_valid_at_signing=in_validity, intact=intact, valid=valid, coverage=coverage,
        covers=_covers(embedded_sig, revisions, coverage), changes=changes,
        certification=docmdp.name if docmdp is not None else None,
        level=_level(embedded_sig, embedded, later_doc_ts),
        subfilter=_subfilter(embedded_sig), offline=offline,
        indication=indication, sub_indication=sub_indication, message="", details=tuple(details))
    return dataclasses.replace(check, message=wording.check_message(check))


async def _ades(embedded_sig: Any, spec: PdfSignatureValidationSpec, timing: ValidationTimingInfo,
                evidence: dict) -> Any:
    """ETSI's long-term process with the proofs of existence the file carries (signature timestamps, document
    timestamps, the DSS they cover): signing.longterm, pyHanko's building blocks with answers picked per
    certificate, and past validation whenever the current time cannot conclude."""
    return await longterm.lta_validation(embedded_sig, spec, timing, evidence)


# --- one document timestamp -----------------------------------------------------------------------

def _check_document_timestamp(embedded_sig: Any, all_sigs: Sequence[Any], revisions: int, trust: TrustInputs,
                              embedded: _Embedded, roots: set[bytes], at: dt.datetime | None,
                              labels: dict[str, str]) -> SignatureCheck:
    later = [e for e in all_sigs if e.signed_revision > embedded_sig.signed_revision]
    details: list[str] = []
    def context() -> ValidationContext:
        made = ValidationContext(
            trust_roots=[_asn1(c) for c in trust.trust_roots],
            other_certs=list(embedded.certs) + [_asn1(c) for c in trust.other_certs],
            crls=list(embedded.crls) + [asn1_crl.CertificateList.load(c) for c in trust.crls],
            ocsps=list(embedded.ocsps) + [asn1_ocsp.OCSPResponse.load(o) for o in trust.ocsps],
            allow_fetching=trust.allow_fetching, revocation_mode="hard-fail", moment=at,
            retroactive_revinfo=at is not None)
        longterm.answers_only_about_their_certificate(made.revinfo_manager)
        return made

    try:
        status = validate_pdf_timestamp(embedded_sig, validation_context=context())
    except (HankoSigningError, HankoPdfError, ValueError, KeyError, TypeError) as exc:
        status = None
        details.append(f"{type(exc).__name__}: {exc}")
    changes = _changes(status, later, labels) if status is not None else None
    if status is None:
        indication, sub = FAILED, "FORMAT_FAILURE"
    elif not status.intact:
        indication, sub = FAILED, "HASH_FAILURE"
    elif not status.valid:
        indication, sub = FAILED, "SIG_CRYPTO_FAILURE"
    elif changes is not None and not changes.allowed:
        indication, sub = FAILED, "FORMAT_FAILURE"
    elif not status.trusted:
        problem = getattr(status, "trust_problem_indic", None)
        indication, sub = INDETERMINATE, problem.name if problem is not None else "NO_CERTIFICATE_CHAIN_FOUND"
        if sub == "CERTIFICATE_CHAIN_GENERAL_FAILURE":
            sub = _tsa_cause(embedded_sig, embedded, context(), details) or sub
    else:
        indication, sub = PASSED, None
    leaf = embedded_sig.signer_cert
    tsa = _info(leaf, roots)
    path = getattr(status, "validation_path", None)
    timestamp = _timestamp(status) if status is not None else None
    coverage = status.coverage.name if status is not None and status.coverage is not None else None
    check = SignatureCheck(
        field=str(embedded_sig.field_name), kind="document_timestamp", revision=embedded_sig.signed_revision + 1,
        signer=tsa, chain=_chain(leaf, path, list(embedded_sig.other_embedded_certs) + list(embedded.certs), roots),
        trusted=indication == PASSED, claimed_time=None, timestamp=timestamp,
        certificate_valid_at_signing=None if timestamp is None else tsa.not_before <= timestamp.time <= tsa.not_after,
        intact=bool(status and status.intact), valid=bool(status and status.valid), coverage=coverage,
        covers=_covers(embedded_sig, revisions, coverage), changes=changes, certification=None,
        level=None, subfilter=_subfilter(embedded_sig),
        offline=_offline(embedded, path), indication=indication, sub_indication=sub, message="",
        details=tuple(details))
    return dataclasses.replace(check, message=wording.check_message(check))


def _tsa_cause(embedded_sig: Any, embedded: _Embedded, context: ValidationContext, details: list[str]) -> str | None:
    """Why the TSA's chain did not validate: pyHanko's timestamp status keeps only a general chain failure (an
    expired certificate and a missing CRL read the same); the TSA certificate is validated again alone."""
    cause = asyncio.run(longterm.chain_failure_cause(
        embedded_sig.signer_cert, list(embedded_sig.other_embedded_certs) + list(embedded.certs), context,
        {"key_usage": set(), "extended_key_usage": {"time_stamping"}}))
    if cause is None:
        return None
    details.append(cause[1])
    return cause[0].name


# --- the whole file ---------------------------------------------------------------------------------

def _overall(checks: Sequence[SignatureCheck]) -> tuple[str, str | None, str]:
    if not checks:
        return NO_SIGNATURE, None, wording.overall_message(NO_SIGNATURE, checks, None)
    worst = max(checks, key=lambda c: _RANK[c.indication])
    first = next(c for c in checks if c.indication == worst.indication)
    return worst.indication, first.sub_indication, wording.overall_message(worst.indication, checks, first)


def validate(pdf: bytes, trust: TrustInputs, *, at: dt.datetime | None = None) -> ValidationReport:
    """Validate every signature and document timestamp of `pdf`; raises NotAPdf, EncryptedPdf or DamagedPdf
    for a file that cannot be validated at all.

    at: the validation time (now by default).
    """
    reader, lenient, notes = _open(pdf)
    try:
        signatures = list(reader.embedded_signatures)
    except (HankoPdfError, PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DamagedPdf(f"les signatures du fichier ne peuvent pas être lues (détail technique : {exc})") from exc
    moment = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    timing = ValidationTimingInfo(validation_time=moment, best_signature_time=moment, point_in_time_validation=at is not None)
    roots = {_asn1(c).dump() for c in trust.trust_roots}
    embedded = _embedded(reader)
    revisions = reader.xrefs.total_revisions
    spec = _spec(trust)
    labels = field_labels(reader)
    for item in signatures:
        _integrity_once(item)
    checks = []
    evidence: dict = {}  # the document timestamps' proofs of existence, validated once for all signatures
    doc_ts = [e for e in signatures if _is_doc_ts(e)]
    for item in signatures:
        try:
            if _is_doc_ts(item):
                # Each document timestamp is checked at the time of the next one (which protects it), the last now.
                following = [e for e in doc_ts if e.signed_revision > item.signed_revision]
                when = _doc_ts_time(following[0]) if following else (at and moment)
                checks.append(_check_document_timestamp(item, signatures, revisions, trust, embedded, roots, when,
                                                        labels))
            else:
                checks.append(_check_signature(item, signatures, revisions, spec, timing, embedded, roots, labels,
                                               evidence))
        except Exception as exc:  # noqa: BLE001 - a signature too malformed to check fails, the file is still reported
            checks.append(_malformed(item, revisions, roots, exc))
    checks = _proofs_from_document_timestamps(checks)
    indication, sub, message = _overall(checks)
    if not signatures:
        notes.append("Aucun champ de signature signé n'a été trouvé dans le fichier.")
    return ValidationReport(
        sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf), revisions=revisions, validated_at=moment,
        indication=indication, sub_indication=sub, message=message, signatures=tuple(checks), lenient=lenient,
        notes=tuple(notes))


def _proofs_from_document_timestamps(checks: list[SignatureCheck]) -> list[SignatureCheck]:
    """A signature without a timestamp of its own is proven to exist by the first valid document timestamp after it
    (what the long-term validation used): the report shows that time, said to come from the document timestamp."""
    result = []
    for check in checks:
        if check.kind == "signature" and check.timestamp is None:
            proof = next((c for c in checks if c.kind == "document_timestamp" and c.revision > check.revision
                          and c.indication == PASSED and c.timestamp is not None and c.timestamp.ok), None)
            if proof is not None:
                signer = check.signer
                check = dataclasses.replace(
                    check, timestamp=proof.timestamp, proven_by_document_timestamp=True,
                    certificate_valid_at_signing=None if signer is None
                    else signer.not_before <= proof.timestamp.time <= signer.not_after)
                check = dataclasses.replace(check, message=wording.check_message(check))
        result.append(check)
    return result


def _malformed(embedded_sig: Any, revisions: int, roots: set[bytes], exc: Exception) -> SignatureCheck:
    """The check of a signature whose structure could not be analysed (a /ByteRange that is not two ranges,
    values that are not numbers…): TOTAL_FAILED / FORMAT_FAILURE, pyHanko's words in the details."""
    try:
        signer = _info(embedded_sig.signer_cert, roots)
    except Exception:  # noqa: BLE001
        signer = None
    try:
        kind = "document_timestamp" if _is_doc_ts(embedded_sig) else "signature"
        revision = embedded_sig.signed_revision + 1
    except Exception:  # noqa: BLE001
        kind, revision = "signature", 0
    check = SignatureCheck(
        field=str(getattr(embedded_sig, "field_name", "")), kind=kind, revision=revision, signer=signer,
        chain=(signer,) if signer else (), trusted=False, claimed_time=None, timestamp=None,
        certificate_valid_at_signing=None, intact=False, valid=False, coverage=None,
        covers="une partie du fichier dont l'étendue est incertaine : ses plages d'octets signées sont anormales",
        changes=None, certification=None, level=None, subfilter=None, offline=False, indication=FAILED,
        sub_indication="FORMAT_FAILURE", message="", details=(f"{type(exc).__name__}: {exc}",))
    return dataclasses.replace(check, message=wording.check_message(check))


def _integrity_once(embedded_sig: Any) -> None:
    """Run pyHanko's difference analysis of a signature once per validation: its LTA process re-runs it for
    every signature of the file each time it validates one (the file does not change in between)."""
    try:
        embedded_sig.compute_integrity_info()
    except Exception:  # noqa: BLE001 - left to fail again where the signature is checked, and be reported
        return
    embedded_sig.compute_integrity_info = lambda *args, **kwargs: None


def _doc_ts_time(embedded_sig: Any) -> dt.datetime | None:
    try:
        tst_info = embedded_sig.signed_data["encap_content_info"]["content"].parsed
        return tst_info["gen_time"].native
    except (KeyError, ValueError, AttributeError):
        return None
