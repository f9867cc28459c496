"""Webhook engine: Standard Webhooks signatures, HTTP delivery behind an SSRF guard, the retry schedule.

No Flask, no database: bytes and plain data in, plain data out. The service (parcours) keeps the
outbox, the endpoints and the attempts, and calls this engine to sign and send.

Errors::

    WebhookError
    ├── VerificationError    a delivery whose signature or timestamp does not check (receivers)
    └── UnsafeURL            a URL refused by the SSRF guard (scheme, address, credentials)

Delivering never raises for the receiver's faults (refused connection, timeout, TLS, 500):
`deliver` returns a `DeliveryResult` saying what happened. With a `ConnectionPool`, attempts to the
same receiver reuse its keep-alive connections (the address is still checked at every attempt).
"""

from webhooks.delivery import ConnectionPool, DeliveryResult, deliver
from webhooks.errors import UnsafeURL, VerificationError, WebhookError
from webhooks.schedule import DEFAULT_SCHEDULE, RetrySchedule
from webhooks.signing import generate_secret, sign, signature_header, verify, webhook_headers
from webhooks.ssrf import AllowList, check_url

__all__ = [
    "AllowList", "ConnectionPool", "DEFAULT_SCHEDULE", "DeliveryResult", "RetrySchedule", "UnsafeURL",
    "VerificationError", "WebhookError", "check_url", "deliver", "generate_secret", "sign", "signature_header",
    "verify", "webhook_headers",
]
