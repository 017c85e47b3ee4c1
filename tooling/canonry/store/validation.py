"""Compiled validation: jsonschema-rs decides, jsonschema explains; the formats the schemas use.

jsonschema-rs validates a generated entry in about 2.5 µs where jsonschema takes
about 125 µs (fastjsonschema: about 60 µs; docs/benchmarks.md). So the compiled
validator says whether an entry is valid, and only an invalid one goes through
jsonschema, whose errors (paths and messages) the gates report with line and
column. Both see the same schema, the same strict `pattern` (a final `$` does
not match before a trailing newline: Rust's `$` never does) and the same
format checks, defined here: date-time (RFC 3339, no leap seconds), date,
email, uri (RFC 3986 syntax) and uuid. No format package is imported, so no
grammar is built at import (rfc3987-syntax cost about a second per process).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

_DATE_TIME = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
# RFC 3986 section 3: scheme ":" then unreserved, reserved and percent-encoded characters only
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*", re.ASCII
)


_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_day(year: int, month: int, day: int) -> bool:
    if year <= 0 or not 1 <= month <= 12 or day < 1:
        return False
    return day <= _DAYS[month] or (month == 2 and day == 29 and calendar.isleap(year))


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time (T and Z in either case, as RFC 3339 allows); non-strings pass."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.fullmatch(value.upper())
    return m is not None and _valid_day(int(m[1]), int(m[2]), int(m[3]))


def is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    m = _DATE.fullmatch(value)
    return m is not None and _valid_day(int(m[1]), int(m[2]), int(m[3]))


def is_email(value: object) -> bool:
    """What jsonschema checks (an @); the schemas' own patterns say more."""
    return not isinstance(value, str) or "@" in value


def is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.fullmatch(value))


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        UUID(value)
    except ValueError:
        return False
    return len(value) == 36 and all(value[i] == "-" for i in (8, 13, 18, 23))


FORMATS: dict[str, Callable[[object], bool]] = {
    "date-time": is_date_time,
    "date": is_date,
    "email": is_email,
    "uri": is_uri,
    "uuid": is_uuid,
}


def format_checker() -> Any:
    """A jsonschema FormatChecker with exactly FORMATS (others are annotations, as in jsonschema)."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, func in FORMATS.items():
        checker.checks(name)(func)
    return checker


class CompiledValidator:
    """A library's validator: `is_valid` in compiled code, `iter_errors` with jsonschema's messages.

    `fast` is None when jsonschema-rs is missing or cannot compile the schema (say a
    pattern Rust's regex engine lacks); jsonschema then decides alone.
    """

    def __init__(self, schema: dict[str, Any], detailed: Callable[[], Any]) -> None:
        self.schema = schema
        self._detailed_factory = detailed
        self._detailed: Any = None
        self.fast: Any = _compile_fast(schema)

    @property
    def detailed(self) -> Any:
        """The jsonschema validator (built on first use: only invalid entries need it)."""
        if self._detailed is None:
            self._detailed = self._detailed_factory()
        return self._detailed

    def is_valid(self, instance: Any) -> bool:
        if self.fast is not None:
            return bool(self.fast.is_valid(instance))
        return bool(self.detailed.is_valid(instance))

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        """jsonschema's errors of an invalid instance; nothing for a valid one.

        If the compiled validator rejects what jsonschema accepts (engines differ in
        corner cases), its own errors are reported, as jsonschema ValidationErrors.
        """
        if self.fast is not None and self.fast.is_valid(instance):
            return iter(())
        errors = list(self.detailed.iter_errors(instance))
        if errors or self.fast is None:
            return iter(errors)
        return iter(_fast_errors(self.fast, instance))


def _compile_fast(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        return jsonschema_rs.Draft202012Validator(
            schema, validate_formats=True, formats=dict(FORMATS), ignore_unknown_formats=True
        )
    except Exception:  # an engine limit (a pattern Rust lacks): jsonschema decides alone
        return None


def _fast_errors(fast: Any, instance: Any) -> list[Any]:
    import jsonschema

    out = []
    for err in fast.iter_errors(instance):
        path = list(getattr(err, "instance_path", []) or [])
        out.append(jsonschema.ValidationError(str(getattr(err, "message", err)), path=path))
    return out
