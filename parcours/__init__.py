"""Parcours service: HTTP API, storage, jobs and access control around the engines."""
