"""The engine's exception tree (drawn in webhooks/__init__.py)."""

from __future__ import annotations


class WebhookError(Exception):
    """Base of the engine's errors."""


class VerificationError(WebhookError):
    """A received webhook does not verify: missing header, stale timestamp or no matching signature."""


class UnsafeURL(WebhookError):
    """The SSRF guard refuses this URL; `reason` says why in a French sentence for the user (shown as it is)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url} : {reason}")
        self.url, self.reason = url, reason
