"""The instance's internal PKI: root and issuing CAs, one-time signer certificates, CRLs, timestamping.

Keys are ECDSA P-256 (fast to generate and to use). The CA and TSA private keys are kept encrypted
at rest with the instance passphrase (PKCS#8, BestAvailableEncryption); in memory the loaded key
objects are kept so that no signature re-parses a key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms, core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from .errors import PKIError, WrongPassphrase

__all__ = [
    "Authority",
    "SignerCredentials",
    "LocalTimeStamper",
    "create_authority",
    "issue_signer_certificate",
    "crl",
    "root_crl",
    "timestamper",
    "load_pkcs12",
]

ROOT_VALIDITY = dt.timedelta(days=20 * 365)
CA_VALIDITY = dt.timedelta(days=10 * 365)
TSA_VALIDITY = dt.timedelta(days=10 * 365)
SIGNER_VALIDITY = dt.timedelta(hours=1)
"""A one-time certificate only has to be valid when it signs: the timestamp proves that moment."""
CRL_VALIDITY = dt.timedelta(days=7)
BACKDATE = dt.timedelta(minutes=5)
"""Certificates start a little in the past so that a clock skew does not make them 'not yet valid'."""
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)

_FILES = {
    "root": "root.pem",
    "root_key": "root.key.pem",
    "ca": "ca.pem",
    "ca_key": "ca.key.pem",
    "tsa": "tsa.pem",
    "tsa_key": "tsa.key.pem",
    "root_crl": "root.crl.pem",
    "ca_crl": "ca.crl.pem",
    "meta": "authority.json",
}


def _now(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(dt.timezone.utc).replace(microsecond=0)


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _key_info(key) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _encrypt(key, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _decrypt(pem: bytes, passphrase: bytes, what: str):
    try:
        return serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        message = str(exc).lower()
        # A wrong key decrypts PKCS#8 into garbage: usually bad padding ("bad decrypt"), but about once in
        # 256 the padding happens to be valid and the garbage fails as ASN.1 instead.
        if "password" in message or "decrypt" in message or "bad" in message or b"ENCRYPTED" in pem:
            raise WrongPassphrase(f"the passphrase does not open the {what} private key") from exc
        raise PKIError(f"the {what} private key cannot be read: {exc}") from exc
    except UnsupportedAlgorithm as exc:
        raise PKIError(f"the {what} private key uses an unsupported algorithm: {exc}") from exc


def _name(common_name: str, organisation: str, **extra: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    oids = {"title": NameOID.TITLE, "email": NameOID.EMAIL_ADDRESS, "unit": NameOID.ORGANIZATIONAL_UNIT_NAME}
    for key, value in extra.items():
        if value:
            attributes.append(x509.NameAttribute(oids[key], value))
    return x509.Name(attributes)


def _serial() -> int:
    return x509.random_serial_number()


def _distribution(builder: x509.CertificateBuilder, crl_url: str | None, ocsp_url: str | None):
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]
            ),
            critical=False,
        )
    return builder


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def _ca_builder(subject, issuer, public_key, issuer_key, start, end, path_length):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )


@dataclass(frozen=True)
class Authority:
    """The instance's PKI: a root CA, an issuing CA, a TSA certificate and the current CRLs."""

    name: str
    """The organisation (O of every certificate)."""
    root_certificate: x509.Certificate
    ca_certificate: x509.Certificate
    tsa_certificate: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey = field(repr=False)
    ca_key: ec.EllipticCurvePrivateKey = field(repr=False)
    tsa_key: ec.EllipticCurvePrivateKey = field(repr=False)
    encrypted_keys: Mapping[str, bytes] = field(repr=False)
    """The PEM of the three private keys, encrypted with the passphrase: what `save` writes."""
    root_crl: bytes = field(repr=False)
    """DER CRL of the root (covers the issuing CA)."""
    ca_crl: bytes = field(repr=False)
    """DER CRL of the issuing CA (covers signers and the TSA)."""
    crl_url: str | None = None
    """URL of the issuing CA's CRL, written in every certificate it issues."""
    root_crl_url: str | None = None
    """URL of the root's CRL, written in the issuing CA's certificate."""
    ocsp_url: str | None = None

    # --- views for pyHanko / certvalidator (asn1crypto objects) ---
    @property
    def root(self) -> asn1_x509.Certificate:
        return _to_asn1(self.root_certificate)

    @property
    def chain(self) -> tuple[asn1_x509.Certificate, ...]:
        """The issuing CA then the root, as asn1crypto certificates."""
        return (_to_asn1(self.ca_certificate), self.root)

    @property
    def crls(self) -> tuple[bytes, bytes]:
        """The current CRLs (DER): issuing CA's, then root's."""
        return (self.ca_crl, self.root_crl)

    def with_crls(self, *, ca_crl: bytes | None = None, root_crl: bytes | None = None) -> "Authority":
        """A copy holding newer CRLs (e.g. after `crl()`)."""
        from dataclasses import replace

        return replace(self, ca_crl=ca_crl or self.ca_crl, root_crl=root_crl or self.root_crl)

    # --- serialisation ---
    def to_pem_dict(self) -> dict[str, bytes]:
        """Every part as PEM bytes (private keys encrypted), keyed like the files `save` writes."""
        pem = serialization.Encoding.PEM
        meta = {"name": self.name, "crl_url": self.crl_url, "root_crl_url": self.root_crl_url, "ocsp_url": self.ocsp_url}
        return {
            "root": self.root_certificate.public_bytes(pem),
            "ca": self.ca_certificate.public_bytes(pem),
            "tsa": self.tsa_certificate.public_bytes(pem),
            "root_key": self.encrypted_keys["root"],
            "ca_key": self.encrypted_keys["ca"],
            "tsa_key": self.encrypted_keys["tsa"],
            "root_crl": x509.load_der_x509_crl(self.root_crl).public_bytes(pem),
            "ca_crl": x509.load_der_x509_crl(self.ca_crl).public_bytes(pem),
            "meta": json.dumps(meta, ensure_ascii=False, indent=2).encode(),
        }

    @classmethod
    def from_pem_dict(cls, parts: Mapping[str, bytes], passphrase: bytes) -> "Authority":
        try:
            meta = json.loads(parts["meta"])
            certs = {k: x509.load_pem_x509_certificate(parts[k]) for k in ("root", "ca", "tsa")}
            crls = {
                k: x509.load_pem_x509_crl(parts[k]).public_bytes(serialization.Encoding.DER)
                for k in ("root_crl", "ca_crl")
            }
        except KeyError as exc:
            raise PKIError(f"the authority is incomplete: {exc.args[0]} is missing") from exc
        except ValueError as exc:
            raise PKIError(f"the authority cannot be read: {exc}") from exc
        keys = {k: _decrypt(parts[f"{k}_key"], passphrase, k) for k in ("root", "ca", "tsa")}
        for k in ("root", "ca", "tsa"):
            if keys[k].public_key().public_numbers() != certs[k].public_key().public_numbers():
                raise PKIError(f"the {k} private key does not match its certificate")
        return cls(
            name=meta["name"],
            root_certificate=certs["root"],
            ca_certificate=certs["ca"],
            tsa_certificate=certs["tsa"],
            root_key=keys["root"],
            ca_key=keys["ca"],
            tsa_key=keys["tsa"],
            encrypted_keys={k: parts[f"{k}_key"] for k in ("root", "ca", "tsa")},
            root_crl=crls["root_crl"],
            ca_crl=crls["ca_crl"],
            crl_url=meta.get("crl_url"),
            root_crl_url=meta.get("root_crl_url"),
            ocsp_url=meta.get("ocsp_url"),
        )

    def save(self, folder: str | Path) -> None:
        """Write every part to `folder` (created if needed); private key files are mode 0600."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for key, data in self.to_pem_dict().items():
            path = folder / _FILES[key]
            path.write_bytes(data)
            if key.endswith("_key"):
                path.chmod(0o600)

    @classmethod
    def load(cls, folder: str | Path, passphrase: bytes) -> "Authority":
        folder = Path(folder)
        parts = {}
        for key, filename in _FILES.items():
            try:
                parts[key] = (folder / filename).read_bytes()
            except FileNotFoundError as exc:
                raise PKIError(f"the authority in {folder} is incomplete: {filename} is missing") from exc
        return cls.from_pem_dict(parts, passphrase)


def create_authority(
    name: str,
    passphrase: bytes,
    *,
    crl_url: str | None = None,
    root_crl_url: str | None = None,
    ocsp_url: str | None = None,
    now: dt.datetime | None = None,
) -> Authority:
    """A new internal PKI for the organisation `name`: root CA (20 years), issuing CA (10 years),
    TSA certificate (EKU timeStamping, critical) and an empty CRL from each CA."""
    if not passphrase:
        raise PKIError("a passphrase is required to protect the authority's private keys")
    now = _now(now)
    start = now - BACKDATE
    root_key, ca_key, tsa_key = _new_key(), _new_key(), _new_key()
    root_name = _name(f"{name} - autorité racine de signature", name)
    ca_name = _name(f"{name} - autorité de signature des documents", name)

    root_cert = _ca_builder(root_name, root_name, root_key.public_key(), root_key, start, now + ROOT_VALIDITY, 1).sign(
        root_key, hashes.SHA256()
    )
    ca_builder = _ca_builder(ca_name, root_name, ca_key.public_key(), root_key, start, now + CA_VALIDITY, 0)
    ca_cert = _distribution(ca_builder, root_crl_url, None).sign(root_key, hashes.SHA256())
    tsa_builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} - horodatage", name))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(now + TSA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    tsa_cert = _distribution(tsa_builder, crl_url, ocsp_url).sign(ca_key, hashes.SHA256())
    authority = Authority(
        name=name,
        root_certificate=root_cert,
        ca_certificate=ca_cert,
        tsa_certificate=tsa_cert,
        root_key=root_key,
        ca_key=ca_key,
        tsa_key=tsa_key,
        encrypted_keys={
            "root": _encrypt(root_key, passphrase),
            "ca": _encrypt(ca_key, passphrase),
            "tsa": _encrypt(tsa_key, passphrase),
        },
        root_crl=b"",
        ca_crl=b"",
        crl_url=crl_url,
        root_crl_url=root_crl_url,
        ocsp_url=ocsp_url,
    )
    return authority.with_crls(ca_crl=crl(authority, now=now), root_crl=root_crl(authority, now=now))


def _build_crl(issuer_cert, issuer_key, revoked: Iterable[int | x509.Certificate], now, validity) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    for item in revoked:
        serial = item.serial_number if isinstance(item, x509.Certificate) else int(item)
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - BACKDATE).build()
        )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def crl(
    authority: Authority,
    revoked: Iterable[int | x509.Certificate] = (),
    now: dt.datetime | None = None,
    *,
    validity: dt.timedelta = CRL_VALIDITY,
) -> bytes:
    """A fresh DER CRL of the issuing CA listing the `revoked` serial numbers (or certificates)."""
    return _build_crl(authority.ca_certificate, authority.ca_key, revoked, _now(now), validity)


def root_crl(
    authority: Authority,
    revoked: Iterable[int | x509.Certificate] = (),
    now: dt.datetime | None = None,
    *,
    validity: dt.timedelta = CRL_VALIDITY,
) -> bytes:
    """A fresh DER CRL of the root (it covers the issuing CA)."""
    return _build_crl(authority.root_certificate, authority.root_key, revoked, _now(now), validity)


@dataclass(frozen=True)
class SignerCredentials:
    """A certificate with its private key (kept loaded) and the chain up to the root."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediate certificates then the root (may be empty for a self-signed seal)."""

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    def signer(self) -> SimpleSigner:
        """A pyHanko signer using the loaded key object."""
        registry = SimpleCertificateStore.from_certs([_to_asn1(c) for c in self.chain])
        return _LoadedKeySigner(self.private_key, _to_asn1(self.certificate), registry)


class _LoadedKeySigner(SimpleSigner):
    """pyHanko's SimpleSigner re-parses the DER private key on every signature; this one does not."""

    def __init__(self, private_key, certificate: asn1_x509.Certificate, registry):
        self._private_key = private_key
        super().__init__(certificate, _key_info(private_key), registry)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism["algorithm"].native
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._private_key, ec.EllipticCurvePrivateKey) and "ecdsa" in algo:
            return self._private_key.sign(data, ec.ECDSA(hash_algo))
        if isinstance(self._private_key, rsa.RSAPrivateKey) and (algo.endswith("_rsa") or algo == "rsassa_pkcs1v15"):
            return self._private_key.sign(data, PKCS1v15(), hash_algo)
        return super().sign_raw(data, digest_algorithm)


def issue_signer_certificate(
    authority: Authority,
    *,
    name: str,
    email: str,
    role: str,
    now: dt.datetime | None = None,
    validity: dt.timedelta = SIGNER_VALIDITY,
) -> SignerCredentials:
    """A one-time certificate for one signature: a fresh key pair, kept in memory only."""
    if not name.strip():
        raise PKIError("a signer certificate needs the signer's name")
    if "@" not in email:
        raise PKIError(f"a signer certificate needs a valid email address, not {email!r}")
    now = _now(now)
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name, authority.name, title=role, email=email))
        .issuer_name(authority.ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.ca_key.public_key()), critical=False
        )
    )
    builder = _distribution(builder, authority.crl_url, authority.ocsp_url)
    certificate = builder.sign(authority.ca_key, hashes.SHA256())
    return SignerCredentials(certificate, key, (authority.ca_certificate, authority.root_certificate))


def load_pkcs12(data: bytes, passphrase: bytes | None) -> SignerCredentials:
    """An organisation's own signing key and certificate (e.g. for a final seal) from a PKCS#12 file."""
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError as exc:
        raise WrongPassphrase(f"the PKCS#12 file cannot be opened (wrong passphrase or corrupt): {exc}") from exc
    if key is None or certificate is None:
        raise PKIError("the PKCS#12 file must hold a private key and its certificate")
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise PKIError(f"unsupported key type in the PKCS#12 file: {type(key).__name__}")
    return SignerCredentials(certificate, key, tuple(others or ()))


class LocalTimeStamper(DummyTimeStamper):
    """An in-process RFC 3161 time-stamping authority signing with the authority's TSA key.

    pyHanko's DummyTimeStamper is RSA-only and re-parses its key on every token; this one signs with
    the loaded key object (ECDSA or RSA).
    """

    def __init__(self, authority: Authority):
        self._key = authority.tsa_key
        super().__init__(
            tsa_cert=_to_asn1(authority.tsa_certificate),
            tsa_key=_key_info(authority.tsa_key),
            certs_to_embed=SimpleCertificateStore.from_certs(list(authority.chain)),
        )

    def request_tsa_response(self, req):
        # pyHanko's default uses the local zone; a UTC time keeps the tokens independent of the host.
        self.fixed_dt = dt.datetime.now(dt.timezone.utc)
        try:
            return super().request_tsa_response(req)
        finally:
            self.fixed_dt = None

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, when: dt.datetime):
        hash_algo = get_pyca_cryptography_hash(md_algorithm.upper())
        digest = hashes.Hash(hash_algo)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                simple_cms_attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hash_algo))
        else:
            signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), hash_algo)
        return signature, signed_attrs

    def _build_signed_data(self, tst_info_data, md_algorithm, signature, signed_attrs):
        data = super()._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            info = data["signer_infos"][0]
            info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm.lower()}_ecdsa"})
        return data


def timestamper(url: str | None, authority: Authority | None = None, *, timeout: float = 10) -> TimeStamper:
    """An RFC 3161 client for `url` (requests-based), or the instance's own LocalTimeStamper."""
    if url:
        try:
            from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise PKIError("an HTTP time-stamping authority needs the 'requests' package") from exc
        return RequestsHTTPTimeStamper(url, timeout=timeout)
    if authority is None:
        raise PKIError("a local time-stamper needs the authority")
    return LocalTimeStamper(authority)
