"""Rule functions for what a JSON Schema cannot say.

Each takes one entry (already schema-validated, but written defensively: the
checks gate runs them even on entries with schema errors) and returns its
problems as `(path inside the entry, message)`; an empty list means fine.
Libraries name them in schemas/libraries.yaml as `canonry.checks:<function>`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .text import normalize_text as normalize_text  # the comparison form, kept importable here

Problem = tuple[tuple[str | int, ...], str]

SUM_TOLERANCE = 1e-6

_WORD = re.compile(r"\w", re.UNICODE)

# ISIC Rev.4: each section letter with its divisions.
_SECTIONS: dict[str, tuple[int, ...]] = {
    "A": (1, 2, 3),
    "B": (5, 6, 7, 8, 9),
    "C": tuple(range(10, 34)),
    "D": (35,),
    "E": (36, 37, 38, 39),
    "F": (41, 42, 43),
    "G": (45, 46, 47),
    "H": (49, 50, 51, 52, 53),
    "I": (55, 56),
    "J": (58, 59, 60, 61, 62, 63),
    "K": (64, 65, 66),
    "L": (68,),
    "M": (69, 70, 71, 72, 73, 74, 75),
    "N": (77, 78, 79, 80, 81, 82),
    "O": (84,),
    "P": (85,),
    "Q": (86, 87, 88),
    "R": (90, 91, 92, 93),
    "S": (94, 95, 96),
    "T": (97, 98),
    "U": (99,),
}
ISIC_DIVISIONS = frozenset(f"{s}{d:02d}" for s, divisions in _SECTIONS.items() for d in divisions)
SECTOR_FIELDS = ("sector_code", "final_code", "suggested_code")


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool) that converts to a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _sum_to_one(values: Any, path: tuple[str | int, ...], what: str) -> list[Problem]:
    """Problems with `values` (a mapping or list of numbers) summing to 1."""
    if isinstance(values, Mapping):
        items: list[tuple[str | int, Any]] = list(values.items())
    elif isinstance(values, list):
        items = list(enumerate(values))
    else:
        return [(path, f"{what} must be a mapping or list of numbers")]
    if not items:
        return [(path, f"{what} is empty: it must sum to 1")]
    problems: list[Problem] = [
        ((*path, key), f"{what}: {value!r} is not a number") for key, value in items if not _is_number(value)
    ]
    if problems:
        return problems
    total = math.fsum(value for _, value in items)
    if abs(total - 1.0) > SUM_TOLERANCE:
        return [(path, f"{what} sum to {total:.6g}, not 1 (tolerance {SUM_TOLERANCE:g})")]
    return []


def occupation_shares_sum_to_one(entry: Mapping[str, Any]) -> list[Problem]:
    """The occupation shares of a sector sum to 1."""
    if "shares" not in entry:
        return [((), "missing field: shares")]
    return _sum_to_one(entry["shares"], ("shares",), "occupation shares")


def scenario_shares_sum_to_one(entry: Mapping[str, Any]) -> list[Problem]:
    """The sector shares and the yearly phasing of a scenario pattern each sum to 1."""
    problems: list[Problem] = []
    for field, what in (("sector_shares", "sector shares"), ("phasing", "phasing fractions")):
        if field not in entry:
            problems.append(((), f"missing field: {field}"))
        else:
            problems.extend(_sum_to_one(entry[field], (field,), what))
    return problems


def assumption_default_in_range(entry: Mapping[str, Any]) -> list[Problem]:
    """A NUMERIC default lies in its range; a CATEGORICAL default is an allowed value."""
    value_type = entry.get("value_type")
    default = entry.get("default")
    if value_type == "NUMERIC":
        rng = entry.get("range")
        if not isinstance(rng, Mapping):
            return [((), "a NUMERIC assumption needs a range {min, max}")]
        numbers = {"min": rng.get("min"), "max": rng.get("max"), "default": default}
        problems: list[Problem] = [
            (("default",) if key == "default" else ("range", key), f"{value!r} is not a number")
            for key, value in numbers.items()
            if not _is_number(value)
        ]
        if problems:
            return problems
        low, high, value = float(rng["min"]), float(rng["max"]), float(entry["default"])
        if low > high:
            return [(("range",), f"min {rng['min']!r} is greater than max {rng['max']!r}")]
        if not low <= value <= high:
            return [
                (
                    ("default",),
                    f"{default!r} is outside the range [{rng['min']!r}, {rng['max']!r}]",
                )
            ]
        return []
    if value_type == "CATEGORICAL":
        allowed = entry.get("allowed_values")
        if not isinstance(allowed, list) or not allowed:
            return [((), "a CATEGORICAL assumption needs allowed_values")]
        if default not in allowed:
            return [(("default",), f"{default!r} is not one of the allowed values {allowed!r}")]
        return []
    return [(("value_type",), f"{value_type!r} is neither NUMERIC nor CATEGORICAL")]


def mapping_pattern_has_words(entry: Mapping[str, Any]) -> list[Problem]:
    """A mapping pattern keeps at least one letter or digit once normalized."""
    pattern = entry.get("pattern")
    if not isinstance(pattern, str):
        return [(("pattern",), "missing or not a string")]
    normalized = normalize_text(pattern)
    if not _WORD.search(normalized):
        return [(("pattern",), f"{pattern!r} has no letters or digits: it can never match")]
    return []


def mapping_evidence_consistent(entry: Mapping[str, Any]) -> list[Problem]:
    """Evidence says where a mapping comes from, and cites what that kind needs.

    `classification` needs a reference (the classification item); `overrides`
    needs the supporting override ids (how many is the evidence gate's call).
    """
    evidence = entry.get("evidence")
    if not isinstance(evidence, Mapping):
        return [(("evidence",), "missing or not a mapping")]
    kind = evidence.get("kind")
    if kind == "classification" and not evidence.get("reference"):
        return [(("evidence", "reference"), "classification evidence needs a reference")]
    if kind == "overrides" and not evidence.get("override_ids"):
        return [(("evidence", "override_ids"), "overrides evidence needs the override ids")]
    return []


def sector_codes_are_isic_divisions(entry: Mapping[str, Any]) -> list[Problem]:
    """Every sector code an entry names (its code fields, sector share keys) is an ISIC Rev.4 division.

    The schemas only check the shape (`C99` passes `^[A-U][0-9]{2}$`); an unknown
    division is an error wherever it appears.
    """
    problems: list[Problem] = []
    for name in SECTOR_FIELDS:
        code = entry.get(name)
        if isinstance(code, str) and code not in ISIC_DIVISIONS:
            problems.append(((name,), f"unknown sector code {code!r}: not an ISIC Rev.4 division"))
    shares = entry.get("sector_shares")
    if isinstance(shares, Mapping):
        for code in shares:
            if isinstance(code, str) and code not in ISIC_DIVISIONS:
                message = f"unknown sector code {code!r}: not an ISIC Rev.4 division"
                problems.append((("sector_shares", code), message))
    return problems
