"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) and SHA-256 digests over it.

UTF-8, no whitespace, object members sorted by key (UTF-16 code units),
strings escaping only `"`, `\\` and control characters, numbers as ECMAScript
writes them (`1.0` -> `1`, `0.000001`, `1e-7`, `1e+21`); integers are written
exactly. Any language with a JCS library computes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

# Python's compact sorted JSON already is JCS except for some floats (1.0, 1e-05,
# 1e+16) and for keys beyond U+FFFF (sorted by code point, not UTF-16 units): the
# C encoder writes, these rare cases are mended or re-encoded. Cheap substring
# tests come first; the regular expressions only run on what they flag.
_SUSPECT_FLOAT = re.compile(
    r"[:\[,]-?\d+(?:\.0|(?:\.\d+)?e[+-]\d+)(?=[,\]}]|$)|^-?\d+(?:\.0|(?:\.\d+)?e[+-]\d+)$"
)
# repr writes an exponent with a sign and two digits at least, and a value ends at a delimiter:
# ids like "…2e-7901-…" do not match.
_EXPONENT = re.compile(r"e[-+]\d\d+[,\]}]")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_json(value: Any) -> str:
    """The RFC 8785 canonical JSON text of a JSON-like value."""
    try:
        text = COMPACT_JSON.encode(value)
    except ValueError:
        raise ValueError("NaN and infinities have no JSON form") from None
    if not text.isascii() and _ASTRAL.search(text):
        return "".join(_encode(value))
    if _may_hold_odd_float(text) and _SUSPECT_FLOAT.search(text):
        return _TOKEN.sub(_mend_number, text)
    return text


def _may_hold_odd_float(text: str) -> bool:
    return (
        ".0," in text
        or ".0]" in text
        or ".0}" in text
        or text.endswith(".0")
        or _EXPONENT.search(text) is not None
        or _SUSPECT_FLOAT.match(text) is not None
    )


def _mend_number(match: re.Match[str]) -> str:
    token = match.group()
    if token.startswith('"') or not any(c in token for c in ".eE"):
        return token
    return es_number(float(token))


def _encode(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield "{"
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} is not a string")
            yield ("," if i else "") + json.dumps(key, ensure_ascii=False) + ":"
            yield from _encode(value[key])
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _encode(item)
        yield "]"
    elif isinstance(value, float):
        yield es_number(value)
    else:
        yield COMPACT_JSON.encode(value)


def es_number(value: float) -> str:
    """A float as ECMAScript's Number::toString writes it (the form RFC 8785 requires)."""
    if not math.isfinite(value):
        raise ValueError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _e, exponent = repr(abs(value)).partition("e")
    whole, _dot, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)  # value = 0.DIGITS x 10^point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    body = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{body}e{'+' if e > 0 else '-'}{abs(e)}"


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
