"""Real signed comptes rendus, made the way the service makes them, for tests, benchmarks and evidence.

The compte rendu of the sample employee E0003 (LibreOffice PDF/A), its fields (``pades.prepare``), the
manager's certification, the employee's comments and approval, each B-LT with a one-time certificate
of the instance's PKI and its local TSA, then the document timestamp that makes the file B-LTA::

    pdf = compte_rendu(pool.convert)              # or docgen.convert.convert_once outside pytest
    authority = new_authority()
    samples = sign_all(pdf, authority)            # .prepared .manager .employee (B-LT) .sealed (B-LTA)
    report = validate.validate(samples.sealed, trust(authority))

Also the signatures a forger or a careless operator would make: with a certificate of another
authority (``sign_with_other_authority``) or with an expired certificate (``sign_with_expired_certificate``).

Fixtures to import into a test module (``from signed_samples import authority, samples``): the
module's ``authority`` and ``samples`` (built once per module; needs the session ``pool``).
Nothing here reaches the network: the certificates' CRL address is 127.0.0.1:9 (discard), and the
verifier is given the CRLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from parcours import resources
from signing import pades, pki, validate

__all__ = [
    "COMMENT", "MANAGER", "EMPLOYEE", "CRL_URL",
    "compte_rendu_docx", "compte_rendu", "new_authority", "validation_inputs", "sign_manager", "sign_employee",
    "SignedSamples", "sign_all", "trust", "sign_with_other_authority", "expired_credentials",
    "sign_with_expired_certificate", "authority", "samples",
]

ROOT = Path(__file__).resolve().parents[1]
COMMENT = "Je suis d’accord avec ce compte rendu. Je souhaite une formation au soudage TIG en 2027."
MANAGER = {"name": "François Rousseau", "email": "f.rousseau@atelier.fr", "role": "Chef d’atelier"}
EMPLOYEE = {"name": "Moussa N’Diaye", "email": "m.ndiaye@atelier.fr", "role": "Salarié"}
CRL_URL = "http://127.0.0.1:9/pki/crl"
"""Written into the certificates: a port where nothing answers, so that no validation can fetch."""

_PDFS: dict[str, bytes] = {}


def compte_rendu_docx(matricule: str = "E0003") -> tuple[bytes, dict]:
    """The compte rendu of `matricule` from the samples (resources/documents/compte_rendu.docx with
    samples/campagne.json) as DOCX, with the context it is rendered from."""
    from docgen.dataset import load_dataset_dir
    from docgen.render import DocxRenderer
    from docgen.values import load_values

    dataset = load_dataset_dir(resources.SAMPLES).dataset
    context = load_values(resources.SAMPLES / "campagne.json").context(dataset, matricule)
    renderer = DocxRenderer((resources.DOCUMENTS / "compte_rendu.docx").read_bytes(), "compte_rendu.docx")
    return renderer.render(context, matricule), context


def compte_rendu(convert: Callable[[bytes], bytes], matricule: str = "E0003") -> bytes:
    """The compte rendu of `matricule` from the samples, converted by `convert` (a DOCX → PDF callable,
    e.g. the session pool's ``convert``); converted once per process."""
    if matricule not in _PDFS:
        _PDFS[matricule] = convert(compte_rendu_docx(matricule)[0])
    return _PDFS[matricule]


def new_authority(name: str = "Atelier Lumière", *, now: dt.datetime | None = None) -> pki.Authority:
    """A fresh instance PKI (root, issuing CA, TSA, CRLs), passphrase ``b"secret"``."""
    return pki.create_authority(name, b"secret", crl_url=CRL_URL, now=now)


def validation_inputs(*authorities: pki.Authority) -> pades.ValidationInputs:
    """What pades.sign checks the signer's chain against (hard-fail): the authorities' roots and CRLs."""
    return pades.ValidationInputs(tuple(a.root_certificate for a in authorities),
                                  crls=tuple(c for a in authorities for c in a.crls))


def sign_manager(pdf: bytes, authority: pki.Authority, stamper, validation: pades.ValidationInputs,
                 creds: pki.SignerCredentials | None = None) -> bytes:
    """The manager's certification signature (B-LT) of a prepared compte rendu."""
    creds = creds or pki.issue_signer_certificate(authority, **MANAGER)
    return pades.sign(
        pdf, field="signature_manager", credentials=creds, timestamper=stamper, validation=validation,
        appearance=pades.Appearance(f"M. {MANAGER['name']}", MANAGER["role"]), certify=True,
        lock_fields=["signature_manager"],
    )


def sign_employee(pdf: bytes, authority: pki.Authority, stamper, validation: pades.ValidationInputs,
                  creds: pki.SignerCredentials | None = None, comment: str = COMMENT) -> bytes:
    """The employee's comments and approval signature (B-LT), which locks the comments."""
    creds = creds or pki.issue_signer_certificate(authority, **EMPLOYEE)
    return pades.sign(
        pdf, field="signature_salarie", credentials=creds, timestamper=stamper, validation=validation,
        appearance=pades.Appearance(f"M. {EMPLOYEE['name']}", EMPLOYEE["role"]),
        lock_fields=["signature_salarie", "commentaires_salarie"], fill={"commentaires_salarie": comment},
    )


@dataclass(frozen=True)
class SignedSamples:
    """Every state of one compte rendu through its signature."""

    authority: pki.Authority
    pdf: bytes
    """LibreOffice's output."""
    prepared: bytes
    """With its fields, no signature."""
    manager: bytes
    """Certified by the manager (B-LT)."""
    employee: bytes
    """Then approved by the employee with the comments (both B-LT, no document timestamp)."""
    sealed: bytes
    """Then the document timestamp: B-LTA, what the service keeps."""


def sign_all(pdf: bytes, authority: pki.Authority) -> SignedSamples:
    """Prepare, manager, employee, seal, as the service does (about 0.4 s)."""
    stamper = pki.LocalTimeStamper(authority)
    validation = validation_inputs(authority)
    prepared = pades.prepare(pdf)
    manager = sign_manager(prepared, authority, stamper, validation)
    employee = sign_employee(manager, authority, stamper, validation)
    sealed = pades.seal(employee, stamper, validation)
    return SignedSamples(authority, pdf, prepared, manager, employee, sealed)


def trust(authority: pki.Authority, *, at: dt.datetime | None = None) -> validate.TrustInputs:
    """What a verifier of this instance brings: its root, and its CRLs (re-issued at `at` when given,
    as the instance does every week)."""
    crls = authority.crls if at is None else (pki.crl(authority, now=at), pki.root_crl(authority, now=at))
    return validate.TrustInputs((authority.root_certificate,), crls=crls)


def sign_with_other_authority(prepared: bytes, authority: pki.Authority, other: pki.Authority) -> bytes:
    """The manager's signature with a certificate of `other` (another organisation's PKI), timestamped
    by `authority`'s TSA: only the signer's chain is foreign."""
    creds = pki.issue_signer_certificate(other, **MANAGER)
    return sign_manager(prepared, authority, pki.LocalTimeStamper(authority), validation_inputs(authority, other), creds)


def expired_credentials(authority: pki.Authority, person: dict[str, str] = MANAGER) -> pki.SignerCredentials:
    """A certificate of `authority` for `person` valid for two minutes from the issuing CA's own start,
    so long expired now (the instance's certificates otherwise last an hour)."""
    fresh = pki.issue_signer_certificate(authority, **person)
    start = authority.ca_certificate.not_valid_before_utc
    builder = (x509.CertificateBuilder().subject_name(fresh.certificate.subject)
               .issuer_name(fresh.certificate.issuer).public_key(fresh.private_key.public_key())
               .serial_number(fresh.certificate.serial_number).not_valid_before(start)
               .not_valid_after(start + dt.timedelta(minutes=2)))
    for extension in fresh.certificate.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(authority.ca_key, hashes.SHA256())
    assert certificate.not_valid_after_utc < dt.datetime.now(dt.timezone.utc)
    return pki.SignerCredentials(certificate, fresh.private_key, fresh.chain)


@dataclass(frozen=True)
class _ValidationInThePast(pades.ValidationInputs):
    """pades.sign checks the signer's certificate now and refuses an expired one; this checks it at
    `moment`, when it was valid (what a signing tool with a wrong clock would do)."""

    moment: dt.datetime | None = None

    def context(self, moment: dt.datetime | None = None):
        return super().context(moment or self.moment)


def sign_with_expired_certificate(prepared: bytes, authority: pki.Authority) -> bytes:
    """The manager's signature with `expired_credentials`, timestamped now by `authority`'s TSA: the
    timestamp proves the signature was made after the certificate expired."""
    creds = expired_credentials(authority)
    moment = creds.certificate.not_valid_before_utc + dt.timedelta(minutes=1)
    validation = _ValidationInThePast(
        (authority.root_certificate,), crls=(pki.crl(authority, now=moment), pki.root_crl(authority, now=moment)),
        moment=moment)
    return sign_manager(prepared, authority, pki.LocalTimeStamper(authority), validation, creds)


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def authority() -> pki.Authority:  # noqa: F811 - the fixture; functions above take an authority argument
    """The module's instance PKI."""
    return new_authority()


@pytest.fixture(scope="module")
def samples(pool, authority) -> SignedSamples:  # noqa: F811
    """The compte rendu through every signature state, signed once per module."""
    return sign_all(compte_rendu(pool.convert), authority)
