"""Values as data: the one equality rule that diff, merge and the gates share, and a value's one-line form."""

from __future__ import annotations

import json
from typing import Any


def same_value(a: Any, b: Any) -> bool:
    """Equal as YAML data: types count, key order does not, floats compare by their written form.

    Unlike ==, `1`, `1.0` and `true` differ, and so do `0.0` and `-0.0` (they
    are written differently, so a change between them is a change); a float
    equals itself even when it is NaN, so a value is always the same as itself.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def show_value(value: Any, limit: int = 60) -> str:
    """A value for people: bare text when unambiguous, else compact JSON; long ones cut."""
    if isinstance(value, str) and value and value.strip() == value and "\n" not in value:
        text = value
    elif isinstance(value, bool) or value is None:
        text = "null" if value is None else str(value).lower()
    elif isinstance(value, int | float) and value == value:  # NaN is not JSON: let json say so
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"
