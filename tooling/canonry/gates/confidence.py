"""confidence: entries whose decayed confidence falls in the blocked band, as warnings.

Effective confidence is `canonry.store.confidence.effective_confidence` (decayed with time).
New and changed entries in the blocked band get a warning each; for the rest
of the library one warning counts them (they decayed there with time). Warnings
never block publication. `confidence_table` is the same computation for a
whole library, which `canonry confidence` prints.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..learning.matching import per_entry
from ..store.confidence import EffectiveConfidence, as_datetime, effective_confidence
from ..store.entries import Library
from ..store.registry import ConfidencePolicy, LibrarySpec
from ..store.text import normalize_text
from .aggregates import blocked_others
from .context import GateContext
from .findings import WARNING, Finding
from .thresholds import is_blocked

NAME = "confidence"
BLOCKED = "blocked"
_INPUTS = "confidence-inputs:v1"


@dataclass(frozen=True)
class EntryConfidence:
    entry_id: str
    title: str
    confidence: EffectiveConfidence
    in_conflict: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry_id,
            "title": self.title,
            "in_conflict": self.in_conflict,
            **self.confidence.to_dict(),
        }


def conflicting_ids(spec: LibrarySpec, entries: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Entries that share a conflict key with another entry but disagree on its values."""
    if spec.conflicts is None:
        return set()
    groups: dict[tuple[Any, ...], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for entry_id, entry in entries.items():
        key = tuple(_norm(entry.get(f)) for f in spec.conflicts.key)
        values = repr(tuple(_norm(entry.get(f)) for f in spec.conflicts.values))
        groups[key][values].append(entry_id)
    out: set[str] = set()
    for by_value in groups.values():
        if len(by_value) > 1:
            for ids in by_value.values():
                out.update(ids)
    return out


def _norm(value: Any) -> Any:
    return normalize_text(value) if isinstance(value, str) else value


def confidence_table(library: Library, policy: ConfidencePolicy, at: Any = None) -> list[EntryConfidence]:
    """Effective confidence and band of every entry, in id order (conflicts penalized)."""
    field = library.spec.confidence_field or "confidence"
    entries = library.load()
    conflicted = conflicting_ids(library.spec, entries)
    moment = as_datetime(at)
    return [
        EntryConfidence(
            entry_id,
            library.spec.summary(entry),
            effective_confidence(entry, policy, moment, field=field, in_conflict=entry_id in conflicted),
            entry_id in conflicted,
        )
        for entry_id, entry in entries.items()
    ]


def check(ctx: GateContext) -> list[Finding]:
    registry = ctx.rules.registry
    if registry is None:
        return []
    policy = registry.policy.confidence
    at = as_datetime(ctx.options.at)
    out: list[Finding] = []
    for spec in ctx.specs():
        if spec.confidence_field is None:
            continue
        out.extend(_check_library(ctx, spec, policy, at))
    return out


def _check_library(
    ctx: GateContext, spec: LibrarySpec, policy: ConfidencePolicy, at: dt.datetime
) -> list[Finding]:
    assert spec.confidence_field is not None
    base_len = len(spec.path) + 1
    changed = {
        entry_id
        for change in ctx.changes(spec.path)
        if change.new is not None
        and (entry_id := spec.id_from_relative_path(change.path[base_len:])) is not None
    }
    out: list[Finding] = []
    for entry_id, entry in sorted(ctx.changed_docs(spec).items()):
        eff = effective_confidence(entry, policy, at, field=spec.confidence_field)
        if eff.band == BLOCKED:
            out.append(
                Finding(
                    path=spec.entry_path(entry_id),
                    gate=NAME,
                    severity=WARNING,
                    message=f"effective confidence {eff.value:.3f} is in the blocked band"
                    f" (below {policy.caution:g};"
                    f" {spec.confidence_field} {eff.base:g}, source {entry.get('source')},"
                    f" {eff.days_since_update:.0f} days since update)",
                    library=spec.name,
                    entry_id=entry_id,
                )
            )
    if not changed:
        return out  # a library the draft leaves alone: its decay is not this draft's news
    others = blocked_others(ctx, spec, policy, at, changed)
    if others is None:  # the head's library off a pure tree: judge every entry
        others = len(_blocked_ids(ctx.head_library(spec), policy, at) - changed)
    if others:
        out.append(
            Finding(
                path=spec.path,
                gate=NAME,
                severity=WARNING,
                message=f"{others} other entries are in the blocked band by now"
                f" (see `canonry confidence {spec.name}@main`)",
                library=spec.name,
            )
        )
    return out


def _blocked_ids(lib: Library, policy: ConfidencePolicy, at: dt.datetime) -> set[str]:
    """Ids in the blocked band at that moment (the inputs are cached per entry, by tree)."""
    field = lib.spec.confidence_field or "confidence"

    def inputs(_entry_id: str, entry: Mapping[str, Any]) -> tuple[Any, ...]:
        return (entry.get(field), entry.get("source"), entry.get("updated_at"))

    blocked = set()
    for entry_id, (value, source, updated) in per_entry(lib, f"{_INPUTS}:{field}", inputs).items():
        entry = {field: value, "source": source, "updated_at": updated}
        if is_blocked(entry, policy, at, field):
            blocked.add(entry_id)
    return blocked
