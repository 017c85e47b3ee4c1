"""Confidence decay: a library's confidence policy applied to one entry at one time.

effective = clamp(0, 1, base * source_weight - conflict_penalty - decay_rate * days_since_update)
bands: >= trusted -> trusted, >= standard -> standard, >= caution -> caution, else blocked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .registry import ConfidencePolicy
from .times import parse_timestamp, utc_now

BANDS = ("trusted", "standard", "caution", "blocked")


@dataclass(frozen=True)
class EffectiveConfidence:
    value: float
    band: str
    base: float
    days_since_update: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "band": self.band,
            "base": self.base,
            "days_since_update": self.days_since_update,
        }


def as_datetime(at: dt.date | dt.datetime | str | None) -> dt.datetime:
    if at is None:
        return utc_now()
    if isinstance(at, str):
        return parse_timestamp(at)
    if isinstance(at, dt.datetime):
        return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)


def band_of(value: float, policy: ConfidencePolicy) -> str:
    if value >= policy.trusted:
        return "trusted"
    if value >= policy.standard:
        return "standard"
    if value >= policy.caution:
        return "caution"
    return "blocked"


def effective_confidence(
    entry: Mapping[str, Any],
    policy: ConfidencePolicy,
    at: dt.date | dt.datetime | str | None = None,
    *,
    field: str = "confidence",
    in_conflict: bool = False,
) -> EffectiveConfidence:
    """The decayed confidence of an entry at a moment (default: now)."""
    base = float(entry.get(field, 1.0) if entry.get(field) is not None else 1.0)
    weight = float(policy.source_weights.get(str(entry.get("source")), 1.0))
    updated = entry.get("updated_at")
    days = 0.0
    if isinstance(updated, str):
        try:
            days = max(0.0, (as_datetime(at) - parse_timestamp(updated)).total_seconds() / 86400.0)
        except ValueError:
            days = 0.0
    penalty = policy.conflict_penalty if in_conflict else 0.0
    value = base * weight - penalty - policy.decay_rate * days
    value = round(min(1.0, max(0.0, value)), 6)
    return EffectiveConfidence(value, band_of(value, policy), base, round(days, 3))
