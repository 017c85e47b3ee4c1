"""Assumption defaults calibrated from promoted calibration notes (`canonry learn assumptions`).

A steward promotes a calibration note (promotion_status REVIEWED -> PROMOTED)
and names the assumption it calibrates in `promoted_to`. The learner reads the
notes at the base and, for each named NUMERIC assumption, moves the default to
the mean of the values the new notes imply (`default * (1 + magnitude)` for
`higher`, `* (1 - magnitude)` for `lower`, unchanged for `as_expected`),
clamped to the declared range, and cites the notes in `calibration_note_ids`.
Notes already cited are not applied again. A note is evidence only for an
assumption of the type its metric measures and of its own sector (an
economy-wide assumption only from a note that says it is economy-wide); the
others are reported with the reason and left alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..store.commits import Provenance, actor_identity
from ..store.repo import Repository
from ..store.yamlio import dump_yaml
from . import BaseState, Draft, rfc3339, utc_now, write_draft

ASSUMPTIONS = "assumptions"
NOTES = "calibration-notes"
PROMOTED = "PROMOTED"


@dataclass
class AssumptionLearning:
    base: BaseState
    changed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes_promoted: int = 0
    draft: Draft = field(default_factory=lambda: Draft(None, None))

    def report(self) -> dict[str, Any]:
        return {
            "format": "canonry.learn/v1",
            "learner": ASSUMPTIONS,
            "base": {"ref": self.base.ref, "commit": self.base.commit},
            "draft": self.draft.branch,
            "commit": self.draft.commit,
            "notes_promoted": self.notes_promoted,
            "changed": self.changed,
            "skipped": sorted(self.skipped, key=lambda s: (s["reason"], str(s.get("note_id")))),
        }


def _significant(value: float, digits: int = 6) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def implied_value(default: float, direction: str, magnitude: float) -> float:
    """The value a note says the assumption should have had."""
    if direction == "higher":
        return default * (1 + magnitude)
    if direction == "lower":
        return default * (1 - magnitude)
    return default


# A note's metric (a slug) and the assumption types it calibrates. A metric not listed
# calibrates the type of the same name in capitals (import_share -> IMPORT_SHARE).
METRIC_TYPES: dict[str, frozenset[str]] = {
    "jobs_per_million_usd": frozenset({"JOBS_COEFF"}),
    "jobs_coefficient": frozenset({"JOBS_COEFF"}),
    "employment_per_million": frozenset({"JOBS_COEFF"}),
    "capex_back_share": frozenset({"PHASING"}),
    "nationalization": frozenset({"NATIONALIZATION_RATE"}),
    "utilization": frozenset({"CAPACITY_UTILIZATION"}),
}


def metric_types(metric: object) -> frozenset[str]:
    """The assumption types a note's metric can calibrate."""
    if not isinstance(metric, str) or not metric:
        return frozenset()
    return METRIC_TYPES.get(metric, frozenset({metric.upper().replace("-", "_")}))


def is_economy_wide(note: Mapping[str, Any]) -> bool:
    """A note about the whole economy: `economy_wide: true`, or no sector."""
    return note.get("economy_wide") is True or note.get("sector_code") is None


def evidence_problem(note: Mapping[str, Any], entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, message) when a note is not evidence for the assumption, else None.

    The note's metric must be the assumption's type, and its sector the
    assumption's; an economy-wide assumption takes only notes that say they
    are economy-wide (a hospital's observation does not move the whole economy).
    """
    kind = entry.get("assumption_type")
    types = metric_types(note.get("metric"))
    if kind not in types:
        return (
            "metric_mismatch",
            f"its metric {note.get('metric')!r} measures {', '.join(sorted(types)) or 'nothing known'},"
            f" not {kind}",
        )
    sector, own = entry.get("sector_code"), note.get("sector_code")
    if sector is None:
        if not is_economy_wide(note):
            return (
                "sector_mismatch",
                f"it is about {own}, the assumption is economy-wide (a note applies economy-wide only"
                " when it says so: economy_wide: true)",
            )
        return None
    if own != sector:
        return "sector_mismatch", f"it is about {own}, the assumption about {sector}"
    return None


def learn_assumptions(
    repo: Repository,
    *,
    base: str = "main",
    actor: str | None = None,
    draft_name: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> AssumptionLearning:
    """Update the defaults named by promoted calibration notes; write them as a draft."""
    state = BaseState.at(repo, base)
    result = AssumptionLearning(state)
    assumptions = state.library(ASSUMPTIONS)
    notes = state.library(NOTES)
    moment = now or utc_now()
    by_target: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for note_id, note in sorted(notes.parse_all().items()):
        if not isinstance(note, dict) or note.get("promotion_status") != PROMOTED:
            continue
        result.notes_promoted += 1
        target = note.get("promoted_to")
        if not isinstance(target, str) or target not in assumptions:
            result.skipped.append(
                {
                    "reason": "unknown_assumption",
                    "note_id": note_id,
                    "promoted_to": target,
                    "message": f"note {note_id} is promoted to {target!r}, which is not an assumption",
                }
            )
            continue
        by_target[target].append((note_id, note))
    changes: dict[str, bytes | None] = {}
    for target in sorted(by_target):
        entry = assumptions[target].to_dict()
        cited = set(entry.get("calibration_note_ids") or [])
        fresh = [(i, n) for i, n in by_target[target] if i not in cited]
        if not fresh:
            continue
        usable = []
        for note_id, note in fresh:
            refused = evidence_problem(note, entry)
            if refused is not None:
                reason, why = refused
                result.skipped.append(
                    {"reason": reason, "note_id": note_id, "message": f"note {note_id} -> {target}: {why}"}
                )
                continue
            usable.append((note_id, note))
        if not usable:
            continue
        if entry.get("value_type") != "NUMERIC" or not isinstance(entry.get("default"), int | float):
            result.skipped.extend(
                {
                    "reason": "not_numeric",
                    "note_id": note_id,
                    "message": f"assumption {target} is {entry.get('value_type')}:"
                    " a magnitude cannot move it",
                }
                for note_id, _ in usable
            )
            continue
        old = float(entry["default"])
        implied = [
            implied_value(old, str(n.get("direction")), float(n.get("magnitude") or 0.0)) for _, n in usable
        ]
        new = math.fsum(implied) / len(implied)
        rng = entry.get("range") or {}
        low, high = float(rng.get("min", -math.inf)), float(rng.get("max", math.inf))
        clamped = not low <= new <= high
        new = _significant(min(high, max(low, new)))
        entry["default"] = new
        entry["calibration_note_ids"] = sorted(cited | {i for i, _ in usable})
        entry["updated_at"] = rfc3339(moment)
        changes[assumptions.spec.entry_path(target)] = dump_yaml(entry).encode("utf-8")
        result.changed.append(
            {
                "id": target,
                "assumption_type": entry.get("assumption_type"),
                "sector_code": entry.get("sector_code"),
                "old": old,
                "new": new,
                "clamped_to_range": clamped,
                "note_ids": [i for i, _ in usable],
            }
        )
    result.draft = write_draft(
        state,
        draft_name or f"learn-assumptions-{state.commit[:8]}",
        changes,
        f"learn assumptions: {len(result.changed)} defaults calibrated from promoted notes",
        Provenance(
            source="learn",
            actor=actor_identity(repo, actor).email,
            reason=f"defaults calibrated from the promoted calibration notes at {base}",
            source_ref=f"{state.commit}:{notes.spec.path}",
        ),
        body="\n".join(
            f"~ {c['id']} {c['assumption_type']} {c['sector_code']}: {c['old']} -> {c['new']}"
            for c in result.changed
        ),
        dry_run=dry_run,
    )
    return result
