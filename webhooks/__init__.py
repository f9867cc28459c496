"""Webhook engine: signed event deliveries (to come)."""
