"""Canonry's one clock, and timestamps as Canonry writes them (RFC 3339, UTC, whole seconds, `Z`).

Every "now" in Canonry comes from `utc_now()`. `CANONRY_NOW` (an RFC 3339
timestamp) fixes it, so that a confidence report, a test suite or a documented
example gives the same answer on any date.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from canonry.errors import UsageError

CLOCK_VARIABLE = "CANONRY_NOW"


def parse_timestamp(text: str) -> dt.datetime:
    """An RFC 3339 timestamp (or a bare date) as an aware UTC datetime."""
    text = text.strip()
    value = dt.datetime.fromisoformat((text if "T" in text else text + "T00:00:00Z").replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    """Now, in UTC and whole seconds, or the moment `CANONRY_NOW` names."""
    fixed = os.environ.get(CLOCK_VARIABLE)
    if fixed:
        try:
            return parse_timestamp(fixed).astimezone(dt.UTC).replace(microsecond=0)
        except ValueError:
            raise UsageError(
                f"{CLOCK_VARIABLE}={fixed!r} is not an RFC 3339 timestamp (e.g. 2026-01-15T10:00:00Z)"
            ) from None
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def epoch_ms_now() -> int:
    """Now in milliseconds since the epoch (UUIDv7 ids); whole seconds of `CANONRY_NOW` when it is set."""
    if os.environ.get(CLOCK_VARIABLE):
        return int(utc_now().timestamp()) * 1000
    return time.time_ns() // 1_000_000


def epoch_now() -> int:
    """Now as whole seconds since the epoch (for git signatures and ids)."""
    return int(utc_now().timestamp())


def rfc3339(moment: dt.datetime | float | None = None) -> str:
    """`2026-01-15T10:00:00Z` for a datetime, an epoch second count, or now."""
    if moment is None:
        moment = utc_now()
    elif not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
