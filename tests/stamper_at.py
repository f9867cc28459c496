"""The instance's time-stamping authority with its clock set to another day: files made in the past, archive
timestamps renewed years from now, for tests of time (the tokens are real, signed with the TSA's key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from signing import pades, pki


class StamperAt(pki.LocalTimeStamper):
    """`authority`'s TSA, its clock at `when`."""

    def __init__(self, authority: pki.Authority, when: dt.datetime):
        super().__init__(authority)
        self.when = when

    def request_tsa_response(self, req):
        self.fixed_dt = self.when
        try:
            return super(pki.LocalTimeStamper, self).request_tsa_response(req)
        finally:
            self.fixed_dt = None


@dataclass(frozen=True)
class ValidationAt(pades.ValidationInputs):
    """Validation inputs whose contexts validate at `moment` (with CRLs issued for that day)."""

    moment: dt.datetime | None = None

    def context(self, moment: dt.datetime | None = None):
        return super().context(moment or self.moment)


def validation_at(authority: pki.Authority, when: dt.datetime) -> ValidationAt:
    """What the instance checks against on day `when`: its root and the CRLs it publishes that day."""
    return ValidationAt((authority.root_certificate,), crls=(pki.crl(authority, now=when),
                                                              pki.root_crl(authority, now=when)), moment=when)
