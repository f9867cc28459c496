"""Helpers for API tests."""

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
