"""When each entry of a library enters the blocked confidence band: the confidence gate's index.

Effective confidence only falls with time (canonry.store.confidence), so each
entry has a moment from which it is blocked: never (+inf), always (-inf), or
`updated_at + (base * weight - caution) / decay_rate` days. Sorted, those
moments count the entries blocked at any moment with one bisection. Entries
within a rounding margin of the moment asked about, and those whose fields do
not give a number, are judged exactly by `effective_confidence` on their
entry, so the count is exactly what judging every entry would give.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from ..store.confidence import effective_confidence
from ..store.packed import PackedError, numbers, pack_fields, unpack_fields
from ..store.registry import ConfidencePolicy
from ..store.times import parse_timestamp

BLOCKED = "blocked"
DAY = 86400.0
MARGIN = 60.0  # seconds either side of a moment within which an entry is judged exactly


class Thresholds:
    """Blocked-from moments (epoch seconds) of a library's entries, by id and sorted."""

    def __init__(self, data: bytes | memoryview) -> None:
        fields = unpack_fields(data)
        try:
            self.ids = _lines(fields["ids"])
            self.by_id = numbers("d", fields["by_id"])
            self.sorted = numbers("d", fields["sorted"])
            self.ids_by_moment = _lines(fields["ids_by_moment"])
            self.irregular = _lines(fields["irregular"])
            params = json.loads(bytes(fields["params"]).decode("utf-8"))
            self.field = str(params.pop("field"))
            self.policy = ConfidencePolicy(**params)
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise PackedError(f"not a thresholds index ({type(exc).__name__})") from None
        if not (len(self.ids) == len(self.by_id) and len(self.sorted) == len(self.ids_by_moment)):
            raise PackedError("a thresholds index whose parts disagree")

    @staticmethod
    def params(policy: ConfidencePolicy, field: str) -> dict[str, Any]:
        """What the moments depend on besides the entries."""
        return {
            "field": field,
            "decay_rate": policy.decay_rate,
            "caution": policy.caution,
            "standard": policy.standard,
            "trusted": policy.trusted,
            "source_weights": dict(sorted(policy.source_weights.items())),
        }

    @staticmethod
    def build(docs: Mapping[str, Mapping[str, Any]], policy: ConfidencePolicy, field: str) -> bytes:
        ids = sorted(docs)
        moments = {i: blocked_from(docs[i], policy, field) for i in ids}
        regular = sorted((t, i) for i, t in moments.items() if not math.isnan(t))
        return pack_fields(
            {
                "ids": "\n".join(ids).encode("utf-8"),
                "by_id": array("d", (moments[i] for i in ids)).tobytes(),
                "sorted": array("d", (t for t, _ in regular)).tobytes(),
                "ids_by_moment": "\n".join(i for _, i in regular).encode("utf-8"),
                "irregular": "\n".join(i for i in ids if math.isnan(moments[i])).encode("utf-8"),
                "params": json.dumps(Thresholds.params(policy, field), sort_keys=True).encode("utf-8"),
            }
        )

    def of(self, entry_id: str) -> float | None:
        """The blocked-from moment of an entry, None when the library has no such entry."""
        i = bisect.bisect_left(self.ids, entry_id)
        return self.by_id[i] if i < len(self.ids) and self.ids[i] == entry_id else None

    def blocked(
        self, at: dt.datetime, entry: Callable[[str], Mapping[str, Any] | None]
    ) -> tuple[int, list[str]]:
        """How many entries are blocked at `at`, and which ids among them were judged exactly.

        Entries within MARGIN of the moment and irregular ones are read with `entry(id)`
        and judged by effective_confidence; the rest by their moment.
        """
        moment = at.timestamp()
        low = bisect.bisect_left(self.sorted, moment - MARGIN)
        high = bisect.bisect_right(self.sorted, moment + MARGIN)
        count, judged = low, []
        for entry_id in [*self.ids_by_moment[low:high], *self.irregular]:
            doc = entry(entry_id)
            if doc is not None and is_blocked(doc, self.policy, at, self.field):
                count += 1
                judged.append(entry_id)
        return count, judged

    def is_blocked_at(self, entry_id: str, at: dt.datetime, doc: Mapping[str, Any] | None) -> bool:
        """Whether an indexed entry counts as blocked at `at` (as `blocked` counts it)."""
        moment = self.of(entry_id)
        if moment is None:
            return False
        if math.isnan(moment) or abs(moment - at.timestamp()) <= MARGIN:
            return doc is not None and is_blocked(doc, self.policy, at, self.field)
        return moment < at.timestamp()

    def audit(self, docs: Mapping[str, Mapping[str, Any]]) -> str | None:
        """Why the index disagrees with these entries (a sample of the tree's), or None."""
        for entry_id, doc in docs.items():
            got, want = self.of(entry_id), blocked_from(doc, self.policy, self.field)
            if got is None or not (got == want or (math.isnan(got) and math.isnan(want))):
                return f"confidence-thresholds: entry {entry_id} is not what its blob says"
        return None


def _lines(raw: memoryview) -> list[str]:
    text = bytes(raw).decode("utf-8")
    return text.split("\n") if text else []


def is_blocked(entry: Mapping[str, Any], policy: ConfidencePolicy, at: dt.datetime, field: str) -> bool:
    """Whether an entry is blocked at `at` (one whose confidence is not a number is not judged)."""
    try:
        return effective_confidence(entry, policy, at, field=field).band == BLOCKED
    except (TypeError, ValueError):
        return False  # the schema gate reports the field


def blocked_from(entry: Mapping[str, Any], policy: ConfidencePolicy, field: str) -> float:
    """The moment (epoch seconds) the entry is blocked from: -inf always, +inf never, NaN: judge exactly."""
    try:
        value = entry.get(field)
        base = float(value if value is not None else 1.0)
        weight = float(policy.source_weights.get(str(entry.get("source")), 1.0))
    except (TypeError, ValueError):
        return math.nan
    start = base * weight
    limit = min(policy.trusted, policy.standard, policy.caution)  # band_of: blocked is below all three
    if math.isnan(start) or math.isinf(start):
        return math.nan
    if limit <= 0:
        return math.inf  # effective confidence is never below 0
    if round(min(1.0, max(0.0, start)), 6) < limit:
        return -math.inf  # blocked from the start, and decay only lowers it
    updated = entry.get("updated_at")
    if policy.decay_rate <= 0 or not isinstance(updated, str):
        return math.inf
    try:
        since = parse_timestamp(updated).timestamp()
    except ValueError:
        return math.inf
    return since + DAY * (start - limit) / policy.decay_rate
