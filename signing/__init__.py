"""Signature engine: PAdES signatures, validation, audit chain and evidence (to come)."""
