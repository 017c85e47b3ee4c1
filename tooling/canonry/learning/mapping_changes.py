"""What the mapping learner changes: new patterns from corrections, confidence moves from votes.

`learning/mapping.py` reads the overrides and calls these; they only compute
entries and the report's rows (the draft is written by the caller).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.entries import Library
from ..store.ids import deterministic_uuid7
from ..store.registry import LibrarySpec
from ..store.text import normalize_text
from ..store.yamlio import dump_yaml
from . import BaseState, Draft, rfc3339
from .evaluators import HoldoutCase
from .matching import PatternIndex, Row, read_entries
from .phrases import Evidence, holdout_effect, propose

MAPPING = "mapping"
STEP_UP = 0.05
STEP_DOWN = 0.10
MAX_CONFIDENCE = 0.95
MAX_LEARNED_CONFIDENCE = 0.90
SHARED_SCOPE = "GLOBAL_INTERNAL"


@dataclass
class MappingLearning:
    """What `learn mapping` found and wrote."""

    base: BaseState
    min_frequency: int
    overrides_read: int = 0
    overrides_considered: int = 0
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    draft: Draft = field(default_factory=lambda: Draft(None, None))
    diff: dict[str, Any] | None = None  # canonry.diff/v1 of the draft's mapping library
    holdout: Any = None  # the holdout gate's GateResult, base vs draft, when a judge was given

    def report(self) -> dict[str, Any]:
        gate = self.holdout
        return {
            "format": "canonry.learn/v1",
            "learner": MAPPING,
            "base": {"ref": self.base.ref, "commit": self.base.commit},
            "draft": self.draft.branch,
            "commit": self.draft.commit,
            "min_frequency": self.min_frequency,
            "overrides_read": self.overrides_read,
            "overrides_considered": self.overrides_considered,
            "added": self.added,
            "changed": self.changed,
            "skipped": sorted(self.skipped, key=lambda s: (s["reason"], str(s.get("text", "")), str(s))),
            "diff": self.diff,
            "holdout": None
            if gate is None
            else {
                "ok": gate.ok,
                "metrics": gate.metrics.get("holdout", {}),
                "findings": [f.to_dict() for f in gate.findings],
            },
        }


@dataclass(frozen=True)
class Override:
    id: str
    text: str
    norm: str
    language: str
    final_code: str
    suggested_code: str | None
    suggested_entry_id: str | None
    at_ms: int


def propose_patterns(
    result: MappingLearning,
    spec: LibrarySpec,
    overrides: list[Override],
    rows: Mapping[str, Row],
    by_phrase: Mapping[tuple[str, str], list[str]],
    votes: dict[str, dict[str, list[str]]],
    changes: dict[str, bytes | None],
    moment: dt.datetime,
    holdout: tuple[PatternIndex, Sequence[HoldoutCase]] | None = None,
) -> None:
    """New patterns: the shortest phrases the corrections of one code share (learning.phrases)."""
    evidence: list[Evidence] = []
    for o in overrides:
        correction = o.final_code != o.suggested_code
        existing = by_phrase.get((o.language, o.norm), []) if correction else []
        same = sorted(e for e in existing if rows[e][2] == o.final_code)
        if same:  # the text is a pattern of that code already: a confirmation, not a new pattern
            votes[same[0]]["approved"].append(o.id)
            continue
        if existing:
            result.skipped.append(
                {
                    "reason": "conflicts_with_existing",
                    "text": o.text,
                    "sector_code": o.final_code,
                    "existing": sorted(existing),
                    "override_ids": [o.id],
                    "message": f"{o.text!r} is already a pattern for {rows[existing[0]][2]}; override {o.id}"
                    f" chose {o.final_code}: left for a steward",
                }
            )
            continue
        evidence.append(Evidence(o.id, o.norm, o.language, o.final_code, correction))
    proposals, skipped = propose(evidence, result.min_frequency)
    result.skipped.extend(skipped)
    at_ms = {o.id: o.at_ms for o in overrides}
    new_rows: dict[str, Row] = {}
    for proposal in proposals:
        existing = by_phrase.get((proposal.language, proposal.phrase), [])
        same = sorted(e for e in existing if rows[e][2] == proposal.sector_code)
        if same:
            votes[same[0]]["approved"].extend(proposal.support)
            continue
        if existing:
            result.skipped.append(
                {
                    "reason": "conflicts_with_existing",
                    "text": proposal.phrase,
                    "sector_code": proposal.sector_code,
                    "existing": sorted(existing),
                    "override_ids": proposal.support,
                    "message": f"{proposal.phrase!r} is already a pattern for {rows[existing[0]][2]};"
                    f" {len(proposal.support)} overrides chose {proposal.sector_code}: left for a steward",
                }
            )
            continue
        total = len(proposal.support) + proposal.dissent_count
        ms = max(at_ms.get(i, 0) for i in proposal.support)
        entry = new_entry(
            proposal.phrase, proposal.language, proposal.sector_code, proposal.support, total, ms, moment
        )
        changes[spec.entry_path(entry["id"])] = dump_yaml(entry).encode("utf-8")
        new_rows[entry["id"]] = (
            entry["id"],
            proposal.phrase,
            proposal.sector_code,
            entry["confidence"],
            proposal.language,
        )
        result.added.append(
            {
                "id": entry["id"],
                "pattern": proposal.phrase,
                "language": proposal.language,
                "sector_code": proposal.sector_code,
                "confidence": entry["confidence"],
                "override_ids": entry["evidence"]["override_ids"],
                "dissent": proposal.dissent,
            }
        )
    if holdout is not None:
        effect = holdout_effect(holdout[0], new_rows, holdout[1])
        for added in result.added:
            added["holdout_changes"] = effect.get(added["id"])


def new_entry(
    pattern: str,
    language: str,
    code: str,
    support: list[str],
    total: int,
    at_ms: int,
    moment: dt.datetime,
) -> dict[str, Any]:
    confidence = round(min(MAX_LEARNED_CONFIDENCE, 0.6 + 0.05 * len(support)) * len(support) / total, 2)
    return {
        "id": deterministic_uuid7(at_ms, MAPPING, language, normalize_text(pattern), code),
        "workspace_id": None,
        "source_engagement_id": None,
        "reuse_scope": SHARED_SCOPE,
        "sanitized_for_promotion": True,
        "source": "user",
        "updated_at": rfc3339(moment),
        "pattern": pattern,
        "language": language,
        "sector_code": code,
        "confidence": confidence,
        "evidence": {"kind": "overrides", "reference": None, "override_ids": sorted(support)},
    }


def adjust_confidence(
    result: MappingLearning,
    mapping: Library,
    rows: Mapping[str, Row],
    votes: Mapping[str, Mapping[str, list[str]]],
    changes: dict[str, bytes | None],
    moment: dt.datetime,
) -> None:
    moves: dict[str, tuple[str, list[str]]] = {}  # entry id -> (raised | lowered, override ids)
    for entry_id in sorted(votes):
        approved = sorted(set(votes[entry_id]["approved"]))
        corrected = sorted(set(votes[entry_id]["corrected"]))
        if approved and corrected:
            result.skipped.append(
                {
                    "reason": "mixed",
                    "entry_id": entry_id,
                    "approved": approved,
                    "corrected": corrected,
                    "message": f"{rows[entry_id][1]!r}: {len(approved)} approvals and {len(corrected)}"
                    " corrections: confidence left as it is",
                }
            )
        elif len(approved or corrected) >= result.min_frequency:
            moves[entry_id] = ("raised", approved) if approved else ("lowered", corrected)
    for entry_id, entry in read_entries(mapping, moves).items():
        direction, cited = moves[entry_id]
        evidence = entry.get("evidence")
        if not isinstance(evidence, dict):
            continue  # schema gate territory: a mapping entry without evidence
        old = float(entry.get("confidence") or 0.0)
        new = round(
            min(MAX_CONFIDENCE, old + STEP_UP) if direction == "raised" else max(0.0, old - STEP_DOWN), 2
        )
        entry = copy.deepcopy(entry)
        entry["evidence"]["override_ids"] = sorted(set(evidence.get("override_ids") or []) | set(cited))
        entry["confidence"] = new
        entry["updated_at"] = rfc3339(moment)
        changes[mapping.spec.entry_path(entry_id)] = dump_yaml(entry).encode("utf-8")
        result.changed.append(
            {
                "id": entry_id,
                "pattern": entry.get("pattern"),
                "sector_code": entry.get("sector_code"),
                "field": "confidence",
                "old": old,
                "new": new,
                "direction": direction,
                "override_ids": cited,
            }
        )
