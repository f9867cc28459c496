"""Our own signed compte rendu, years later, as an auditor with the instance's CRLs of that day would validate it.

The compte rendu is signed now (manager, employee, document timestamp: B-LTA) with one-hour signer
certificates; then validated at +1 day, +2 years (the signers' certificates long expired) and +9 years
after `archive refresh` ran at +4 years (a second document timestamp, with the first one's fresh CRLs in
the DSS), each time with the CRLs the instance would publish that day (issued at that date here: the
instance re-issues them every week). Past the TSA certificate (10 years), without a renewed TSA, nothing
can prove the last timestamp: INDETERMINATE, saying why.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import signed_samples as S
from signed_samples import authority, samples  # noqa: F401 - fixtures
from stamper_at import StamperAt, validation_at

from signing import archive
from signing import validate as V

pytestmark = pytest.mark.libreoffice

NOW = dt.datetime.now(dt.timezone.utc)
YEAR = dt.timedelta(days=365)


@pytest.fixture(scope="module", autouse=True)
def quiet():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def at(pdf: bytes, authority, when: dt.datetime) -> V.ValidationReport:
    return V.validate(pdf, S.trust(authority, at=when), at=when)


def _all_passed(report: V.ValidationReport, levels=("PAdES-B-LTA",)) -> None:
    assert (report.indication, report.sub_indication) == (V.PASSED, None), report.message
    for check in report.signatures:
        assert (check.indication, check.sub_indication) == (V.PASSED, None), (check.field, check.details)
        assert check.trusted and check.offline
        if check.kind == "signature":
            assert check.level in levels


@pytest.fixture(scope="module")
def refreshed(samples, authority):
    """`archive refresh` at +4 years: a new document timestamp by the instance's TSA that day, the first
    one's CRLs of that day in the DSS."""
    when = NOW + 4 * YEAR
    pdf = archive.renew(samples.sealed, StamperAt(authority, when), validation_at(authority, when))
    stamps = archive.latest_timestamp(pdf)
    assert stamps.count == 2 and abs(stamps.time - when) < dt.timedelta(minutes=1)
    return pdf


def test_a_day_later_the_sealed_compte_rendu_passes(samples, authority):
    _all_passed(at(samples.sealed, authority, NOW + dt.timedelta(days=1)))


def test_two_years_later_with_the_signers_certificates_long_expired_it_passes(samples, authority):
    when = NOW + 2 * YEAR
    report = at(samples.sealed, authority, when)
    _all_passed(report)
    assert all(c.signer.not_after < when for c in report.signatures if c.kind == "signature")


def test_nine_years_later_after_the_refresh_at_four_years_it_passes(refreshed, authority):
    report = at(refreshed, authority, NOW + 9 * YEAR)
    _all_passed(report)
    assert [c.kind for c in report.signatures] == ["signature", "signature", "document_timestamp", "document_timestamp"]


def test_nine_years_later_without_the_refresh_it_passes_too_while_the_tsa_certificate_lasts(samples, authority):
    """The TSA certificate lasts ten years: until then the first document timestamp is enough."""
    _all_passed(at(samples.sealed, authority, NOW + 9 * YEAR))


def test_past_the_tsa_certificate_without_a_renewed_tsa_nothing_is_established(samples, refreshed, authority):
    """A day after the TSA certificate (and the issuing CA) expired, the last document timestamp cannot be
    validated any more, with or without the refresh made with that same certificate: INDETERMINATE, with
    the sub-indication naming the cause. Renewing helps only with a TSA certificate that lasts longer."""
    when = authority.tsa_certificate.not_valid_after_utc + dt.timedelta(days=1)
    for pdf in (samples.sealed, refreshed):
        report = at(pdf, authority, when)
        assert report.indication == V.INDETERMINATE, report.message
        last = report.signatures[-1]
        assert last.kind == "document_timestamp" and last.indication == V.INDETERMINATE
        assert last.sub_indication in ("OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED", "EXPIRED"), last.details
        assert "a expiré" in last.message and "renouvelé" in last.message, last.message
        assert report.sub_indication != "CERTIFICATE_CHAIN_GENERAL_FAILURE", [(c.field, c.sub_indication, c.details) for c in report.signatures]


def test_six_months_later_without_the_crls_of_that_day_it_says_which_data_is_missing(samples, authority):
    """What an auditor gets with only the CRLs embedded at signing (long expired): not a chain failure, but
    the revocation data that must be brought."""
    when = NOW + YEAR // 2
    report = V.validate(samples.sealed, S.trust(authority), at=when)
    assert report.indication == V.INDETERMINATE, report.message
    assert report.sub_indication in ("TRY_LATER", "NO_POE", "REVOCATION_OUT_OF_BOUNDS_NO_POE"), \
        [(c.field, c.sub_indication, c.details) for c in report.signatures]
    assert "révocation" in report.message
