"""Learn the mapping library from stewards' overrides (`canonry learn mapping`).

Reads the `overrides` library at the base (never the holdout set) and:

- groups the corrections (final code differs from the suggested one) by
  normalized text, across engagements; a group whose leading final code has at least
  `min_frequency` overrides and no tie becomes a new pattern citing them
  (`evidence.kind: overrides`); a tie at the top is a contradiction: no
  pattern, reported;
- deduplicates against the library: a text that already is a pattern with the
  same code confirms that entry, one with another code is reported;
- for each entry named by `suggested_entry_id`, raises its confidence when at
  least `min_frequency` overrides approved it and none corrected it, and lowers
  it in the opposite case, citing those overrides.

Overrides already cited by an entry have been ingested and are not counted
again, so running the learner twice proposes nothing new.

A learned pattern generalises across engagements, so it is shared
(`GLOBAL_INTERNAL`, no workspace, no engagement) and carries nothing of its
overrides but the phrase and the code; it is marked sanitized for promotion,
the scope gate scans the phrase for personal data, and the draft's review is
where a steward confirms that the phrase names no client.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..compare.diff import diff
from ..errors import UsageError
from ..store.commits import Provenance, actor_identity
from ..store.entries import Library
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.states import TreeState
from ..store.text import normalize_text
from ..store.times import parse_timestamp
from ..store.versions import parse_library_spec, resolve_version
from . import OVERRIDES, BaseState, cited_override_ids, utc_now, write_draft
from .evaluators import HoldoutCase, read_holdout
from .mapping_changes import (
    MAPPING,
    MAX_CONFIDENCE,
    MAX_LEARNED_CONFIDENCE,
    SHARED_SCOPE,
    STEP_DOWN,
    STEP_UP,
    MappingLearning,
    Override,
    adjust_confidence,
    propose_patterns,
)
from .matching import PatternIndex, is_isic_division, pattern_index, pattern_rows

__all__ = [
    "MAPPING",
    "MAX_CONFIDENCE",
    "MAX_LEARNED_CONFIDENCE",
    "PATTERN_MAX",
    "SHARED_SCOPE",
    "STEP_DOWN",
    "STEP_UP",
    "MappingLearning",
    "learn_mapping",
]

PATTERN_MAX = 200


def learn_mapping(
    repo: Repository,
    *,
    base: str = "main",
    since: str | None = None,
    min_frequency: int | None = None,
    actor: str | None = None,
    draft_name: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    compare: bool = True,
    judge: Callable[[str, str], Any] | None = None,
) -> MappingLearning:
    """Propose patterns and confidence changes from overrides; write them as a draft branch.

    With `compare`, the written draft's diff comes along, and with `judge`
    (base commit, draft commit -> the holdout gate's result) its verdict: the
    gates sit above learning, so the caller hands the gate in.
    """
    state = BaseState.at(repo, base)
    registry = state.registry
    frequency = registry.policy.min_override_frequency if min_frequency is None else min_frequency
    if frequency < 1:
        raise UsageError("--min-frequency must be at least 1")
    moment = now or utc_now()
    result = MappingLearning(state, frequency)
    mapping = state.library(MAPPING)
    overrides_lib = state.library(OVERRIDES)
    rows = pattern_rows(mapping)
    ingested = cited_override_ids(mapping)
    seen_before = _ids_at_version(repo, registry.library(OVERRIDES), since) if since else set()

    overrides: list[Override] = []
    for override_id, data in sorted(overrides_lib.parse_all().items()):
        if not isinstance(data, dict):
            result.skipped.append({"reason": "unreadable_override", "override_id": override_id})
            continue
        result.overrides_read += 1
        if override_id in ingested or override_id in seen_before:
            continue
        parsed = _parse_override(override_id, data, result)
        if parsed is not None:
            overrides.append(parsed)
    result.overrides_considered = len(overrides)

    votes: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"approved": [], "corrected": []})
    for o in overrides:
        if o.suggested_entry_id is None:
            continue
        row = rows.get(o.suggested_entry_id)
        if row is None:
            result.skipped.append(
                {
                    "reason": "unknown_entry",
                    "override_id": o.id,
                    "suggested_entry_id": o.suggested_entry_id,
                    "message": f"override {o.id} names mapping entry {o.suggested_entry_id}, which does not"
                    " exist: not used to adjust confidence",
                }
            )
            continue
        votes[o.suggested_entry_id]["approved" if o.final_code == row[2] else "corrected"].append(o.id)

    by_phrase: dict[tuple[str, str], list[str]] = defaultdict(list)
    for entry_id, row in rows.items():
        by_phrase[(row[4], row[1])].append(entry_id)

    changes: dict[str, bytes | None] = {}
    propose_patterns(
        result, mapping.spec, overrides, rows, by_phrase, votes, changes, moment, _holdout(mapping)
    )
    adjust_confidence(result, mapping, rows, votes, changes, moment)

    email = actor_identity(repo, actor).email
    summary = (
        f"learn mapping: {len(result.added)} new patterns, {len(result.changed)} confidence changes"
        f" from {result.overrides_considered} overrides"
    )
    body = "\n".join(
        [f"+ {a['pattern']} -> {a['sector_code']} ({len(a['override_ids'])} overrides)" for a in result.added]
        + [
            f"~ {c['pattern']} -> {c['sector_code']}: confidence {c['old']} -> {c['new']}"
            for c in result.changed
        ]
    )
    result.draft = write_draft(
        state,
        draft_name or f"learn-mapping-{state.commit[:8]}",
        changes,
        summary,
        Provenance(
            source="learn",
            actor=email,
            reason=f"patterns and confidence learned from the overrides at {base}",
            source_ref=f"{state.commit}:{overrides_lib.spec.path}",
        ),
        body=body,
        dry_run=dry_run,
    )
    if compare and result.draft.branch and result.draft.commit:
        result.diff = diff(repo, base, result.draft.branch, MAPPING)
        if judge is not None:
            result.holdout = judge(state.commit, result.draft.commit)
    return result


def _holdout(mapping: Library) -> tuple[PatternIndex, Sequence[HoldoutCase]] | None:
    """The base's matching index and holdout cases, to report each proposal's effect (never to choose)."""
    spec = mapping.spec.holdout
    holdout = read_holdout(mapping.state, spec.data) if spec is not None else None
    if holdout is None or holdout.problems or not holdout.cases:
        return None
    return pattern_index(mapping), holdout.cases


def _ids_at_version(repo: Repository, spec: LibrarySpec, since: str) -> set[str]:
    """Override ids that existed when the given mapping version was published."""
    library, version = parse_library_spec(since if "@" in since else f"{MAPPING}@{since}")
    found = resolve_version(repo, library, version)
    return set(Library(TreeState(repo, found.commit, found.tag), spec).index)


def _language(text: str) -> str:
    return "ar" if any("\u0600" <= ch <= "\u06ff" for ch in text) else "en"


def _parse_override(override_id: str, data: Mapping[str, Any], result: MappingLearning) -> Override | None:
    final = data.get("final_code")
    text = data.get("text")
    if not is_isic_division(final):
        result.skipped.append(
            {
                "reason": "unknown_code",
                "override_id": override_id,
                "final_code": final,
                "message": f"override {override_id} chose {final!r}, which is not an ISIC Rev.4 division",
            }
        )
        return None
    norm = normalize_text(text) if isinstance(text, str) else ""
    if not norm:
        result.skipped.append({"reason": "no_text", "override_id": override_id})
        return None
    try:
        at_ms = int(parse_timestamp(str(data.get("overridden_at"))).timestamp() * 1000)
    except ValueError:
        at_ms = 0
    suggested_entry = data.get("suggested_entry_id")
    return Override(
        id=override_id,
        text=" ".join(str(text).split()),
        norm=norm,
        language=_language(norm),
        final_code=str(final),
        suggested_code=data.get("suggested_code"),
        suggested_entry_id=suggested_entry if isinstance(suggested_entry, str) else None,
        at_ms=at_ms,
    )
