"""Domain errors: what went wrong, in French, with no HTTP in sight.

The services raise them; each entry point says them its own way: the HTTP layer as problem+json
(one table in parcours.http.problems), the CLI as « Erreur : … », a worker in the job's last error.

    DomainError             title (short, French), detail (a sentence), errors (field, reason…), extensions
    ├── Invalid             the input is wrong: `errors` names each field and why
    ├── NotFound            nothing has that id, name or matricule
    ├── Conflict            the thing's state forbids it now (already signed, batch finished…)
    ├── Gone                it existed and can no longer be used (a used or ended link)
    ├── Forbidden           a step is missing before this one (the one-time code)
    ├── TooManyAttempts     the attempts allowed are used up
    └── Unavailable         a service it needs did not answer; try again later
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the domain errors; `title` and `detail` are French and meant for the person who acted."""

    def __init__(self, title: str, detail: str | None = None, *,
                 errors: list[dict[str, Any]] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.title, self.detail, self.errors, self.extensions = title, detail, errors, extensions


class Invalid(DomainError):
    """The input is wrong; nothing was stored."""


class NotFound(DomainError):
    """Nothing has that identifier."""


class Conflict(DomainError):
    """The current state forbids the operation."""


class Gone(DomainError):
    """The thing existed and can no longer be used."""


class Forbidden(DomainError):
    """A step is missing before this one (not a question of role: roles are the HTTP layer's)."""


class TooManyAttempts(DomainError):
    """The attempts allowed are used up."""


class Unavailable(DomainError):
    """A service the operation needs did not answer; trying again later may work."""
