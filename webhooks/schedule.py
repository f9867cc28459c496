"""The retry schedule: when each attempt of a delivery is due, with jitter so retries do not stampede."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    """Delays before each attempt, counted from the previous one; the first is usually 0 (at once)."""

    delays: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
    """Seconds before attempt 1, 2, …; its length is the number of attempts before a message fails."""
    jitter: float = 0.1
    """Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]."""

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError("a retry schedule needs at least one attempt")
        if any(delay < 0 for delay in self.delays):
            raise ValueError("retry delays cannot be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before attempt number `attempt` (1-based); None when there is no such attempt."""
        if attempt < 1 or attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1]
        if not self.jitter or not base:
            return float(base)
        return base * (rng or random).uniform(1 - self.jitter, 1 + self.jitter)


DEFAULT_SCHEDULE = RetrySchedule()
"""Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the previous attempt (about 28 h)."""
