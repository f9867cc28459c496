"""The internal PKI: authority, passphrase, one-time signer certificates, CRLs."""

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError

from signing import pki
from signing.errors import PKIError, WrongPassphrase

CRL_URL = "http://127.0.0.1:8000/pki/crl"


@pytest.fixture(scope="module")
def authority():
    return pki.create_authority("Atelier Lumière", b"phrase secrete", crl_url=CRL_URL)


def asn1(cert):
    return pki._to_asn1(cert)


def test_the_authority_has_a_root_an_issuing_ca_and_a_tsa(authority):
    root, ca, tsa = authority.root_certificate, authority.ca_certificate, authority.tsa_certificate
    assert root.issuer == root.subject
    assert ca.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.not_valid_after_utc - root.not_valid_before_utc > dt.timedelta(days=19 * 365)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > dt.timedelta(days=9 * 365)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_the_authority_is_saved_and_loaded_with_its_passphrase(authority, tmp_path):
    authority.save(tmp_path)
    assert (tmp_path / "ca.key.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    loaded = pki.Authority.load(tmp_path, b"phrase secrete")
    assert loaded.root_certificate == authority.root_certificate
    assert loaded.crl_url == CRL_URL
    assert loaded.ca_key.private_numbers() == authority.ca_key.private_numbers()
    again = pki.Authority.from_pem_dict(authority.to_pem_dict(), b"phrase secrete")
    assert again.tsa_certificate == authority.tsa_certificate


def test_a_wrong_passphrase_is_a_clear_error(authority, tmp_path):
    authority.save(tmp_path)
    with pytest.raises(WrongPassphrase, match="passphrase"):
        pki.Authority.load(tmp_path, b"mauvaise")


def test_an_incomplete_folder_is_a_clear_error(authority, tmp_path):
    authority.save(tmp_path)
    (tmp_path / "tsa.pem").unlink()
    with pytest.raises(PKIError, match="tsa.pem"):
        pki.Authority.load(tmp_path, b"phrase secrete")


def test_a_signer_certificate_names_the_signer_and_allows_only_signing(authority):
    creds = pki.issue_signer_certificate(
        authority, name="François Rousseau", email="f.rousseau@atelier.fr", role="Chef d’atelier"
    )
    cert = creds.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "François Rousseau"
    assert cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "f.rousseau@atelier.fr"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Atelier Lumière"
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Chef d’atelier"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["f.rousseau@atelier.fr"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == CRL_URL
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(hours=2)
    assert creds.private_key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_a_signer_certificate_chains_to_the_root_with_revocation_checked(authority):
    creds = pki.issue_signer_certificate(authority, name="Moussa N’Diaye", email="m@atelier.fr", role="Salarié")
    context = ValidationContext(
        trust_roots=[authority.root],
        other_certs=[asn1(authority.ca_certificate)],
        crls=list(authority.crls),
        revocation_mode="hard-fail",
    )
    validator = CertificateValidator(asn1(creds.certificate), validation_context=context)
    path = asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))
    assert path.first.subject == authority.root.subject


def test_the_crls_are_signed_fresh_and_initially_empty(authority):
    for der, issuer in ((authority.ca_crl, authority.ca_certificate), (authority.root_crl, authority.root_certificate)):
        crl = x509.load_der_x509_crl(der)
        assert crl.issuer == issuer.subject
        assert crl.is_signature_valid(issuer.public_key())
        assert len(list(crl)) == 0
        assert crl.next_update_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=6)


def test_a_revoked_serial_is_listed_in_a_new_crl_and_refused(authority):
    creds = pki.issue_signer_certificate(authority, name="Ex Salarié", email="x@atelier.fr", role="Salarié")
    der = pki.crl(authority, revoked=[creds.serial_number])
    crl = x509.load_der_x509_crl(der)
    assert crl.get_revoked_certificate_by_serial_number(creds.serial_number) is not None
    context = ValidationContext(
        trust_roots=[authority.root], other_certs=[asn1(authority.ca_certificate)],
        crls=[der, authority.root_crl], revocation_mode="hard-fail",
    )
    with pytest.raises(RevokedError):
        validator = CertificateValidator(asn1(creds.certificate), validation_context=context)
        asyncio.run(validator.async_validate_usage({"digital_signature"}))


def test_a_pkcs12_file_gives_credentials_and_a_wrong_passphrase_is_refused(authority):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    creds = pki.issue_signer_certificate(authority, name="Atelier Lumière", email="rh@atelier.fr", role="Cachet")
    data = pkcs12.serialize_key_and_certificates(
        b"seal", creds.private_key, creds.certificate, list(creds.chain), BestAvailableEncryption(b"p12")
    )
    loaded = pki.load_pkcs12(data, b"p12")
    assert loaded.certificate == creds.certificate and len(loaded.chain) == 2
    with pytest.raises(WrongPassphrase):
        pki.load_pkcs12(data, b"nope")


def test_the_local_timestamper_signs_tokens_with_the_tsa_certificate(authority):
    stamper = pki.timestamper(None, authority)
    assert isinstance(stamper, pki.LocalTimeStamper)
    token = asyncio.run(stamper.async_timestamp(b"\x00" * 32, "sha256"))
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == b"\x00" * 32
    assert token["content"]["signer_infos"][0]["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"


def test_any_wrong_passphrase_is_called_wrong_even_when_the_garbage_has_valid_padding():
    """About one wrong key in 256 decrypts with valid padding, and the garbage then fails as ASN.1."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"juste"))
    for attempt in range(1000):
        with pytest.raises(WrongPassphrase):
            pki._decrypt(pem, f"faux-{attempt}".encode(), "root")
