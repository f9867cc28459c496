"""Template contexts as typed JSON: dates and times survive the database and come back as such."""

from __future__ import annotations

import datetime as dt
from typing import Any


_PLAIN = (str, bool, int, float, type(None))


def dump(value: Any) -> Any:
    """A JSON-ready copy: {"$date": "2027-01-12"}, {"$time": "14:30:00"}, {"$datetime": …}."""
    if isinstance(value, _PLAIN):  # first: most values are texts
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value


def load(value: Any) -> Any:
    """The inverse of dump."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "$date":
                return dt.date.fromisoformat(inner)
            if key == "$time":
                return dt.time.fromisoformat(inner)
            if key == "$datetime":
                return dt.datetime.fromisoformat(inner)
        return {k: load(v) for k, v in value.items()}
    if isinstance(value, list):
        return [load(v) for v in value]
    return value
