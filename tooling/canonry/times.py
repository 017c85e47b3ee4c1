"""Timestamps as Canonry writes them: RFC 3339, UTC, whole seconds, `Z`."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def rfc3339(moment: dt.datetime | float | None = None) -> str:
    """`2026-01-15T10:00:00Z` for a datetime, an epoch second count, or now."""
    if moment is None:
        moment = utc_now()
    elif not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
