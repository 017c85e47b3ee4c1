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

import copy
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..compare.diff import diff
from ..errors import UsageError
from ..store.commits import Provenance, actor_identity
from ..store.entries import Library
from ..store.ids import deterministic_uuid7
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.states import TreeState
from ..store.text import normalize_text
from ..store.times import parse_timestamp
from ..store.versions import parse_library_spec, resolve_version
from ..store.yamlio import dump_yaml
from . import OVERRIDES, BaseState, Draft, cited_override_ids, rfc3339, utc_now, write_draft
from .matching import Row, is_isic_division, pattern_rows, read_entries

MAPPING = "mapping"
STEP_UP = 0.05
STEP_DOWN = 0.10
MAX_CONFIDENCE = 0.95
MAX_LEARNED_CONFIDENCE = 0.90
PATTERN_MAX = 200
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
class _Override:
    id: str
    text: str
    norm: str
    language: str
    final_code: str
    suggested_code: str | None
    suggested_entry_id: str | None
    at_ms: int


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

    overrides: list[_Override] = []
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
    _propose(result, mapping.spec, overrides, rows, by_phrase, votes, changes, moment)
    _adjust(result, mapping, rows, votes, changes, moment)

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


def _ids_at_version(repo: Repository, spec: LibrarySpec, since: str) -> set[str]:
    """Override ids that existed when the given mapping version was published."""
    library, version = parse_library_spec(since if "@" in since else f"{MAPPING}@{since}")
    found = resolve_version(repo, library, version)
    return set(Library(TreeState(repo, found.commit, found.tag), spec).index)


def _language(text: str) -> str:
    return "ar" if any("\u0600" <= ch <= "\u06ff" for ch in text) else "en"


def _parse_override(override_id: str, data: Mapping[str, Any], result: MappingLearning) -> _Override | None:
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
    return _Override(
        id=override_id,
        text=" ".join(str(text).split()),
        norm=norm,
        language=_language(norm),
        final_code=str(final),
        suggested_code=data.get("suggested_code"),
        suggested_entry_id=suggested_entry if isinstance(suggested_entry, str) else None,
        at_ms=at_ms,
    )


def _propose(
    result: MappingLearning,
    spec: LibrarySpec,
    overrides: list[_Override],
    rows: Mapping[str, Row],
    by_phrase: Mapping[tuple[str, str], list[str]],
    votes: dict[str, dict[str, list[str]]],
    changes: dict[str, bytes | None],
    moment: dt.datetime,
) -> None:
    groups: dict[tuple[str, str], list[_Override]] = defaultdict(list)
    for o in overrides:
        if o.final_code != o.suggested_code:  # a correction, not an approval
            groups[(o.language, o.norm)].append(o)
    for (language, norm), members in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        counts = Counter(o.final_code for o in members)
        top = max(counts.values())
        leaders = sorted(code for code, n in counts.items() if n == top)
        ids_by_code = {code: sorted(o.id for o in members if o.final_code == code) for code in counts}
        text = members[0].text
        if len(leaders) > 1:
            result.skipped.append(
                {
                    "reason": "contradiction",
                    "text": text,
                    "codes": {code: ids_by_code[code] for code in sorted(counts)},
                    "message": f"{text!r}: overrides disagree at equal frequency ({', '.join(leaders)},"
                    f" {top} each): no pattern",
                }
            )
            continue
        code = leaders[0]
        support = [o for o in members if o.final_code == code]
        if len(support) < result.min_frequency:
            result.skipped.append(
                {
                    "reason": "below_frequency",
                    "text": text,
                    "sector_code": code,
                    "override_ids": ids_by_code[code],
                }
            )
            continue
        existing = by_phrase.get((language, norm), [])
        same = sorted(e for e in existing if rows[e][2] == code)
        if same:
            votes[same[0]]["approved"].extend(o.id for o in support)
            continue
        if existing:
            result.skipped.append(
                {
                    "reason": "conflicts_with_existing",
                    "text": text,
                    "sector_code": code,
                    "existing": sorted(existing),
                    "override_ids": ids_by_code[code],
                    "message": f"{text!r} is already a pattern for {rows[existing[0]][2]}; {len(support)}"
                    f" overrides chose {code}: left for a steward",
                }
            )
            continue
        # the most frequent wording, then the first in code point order
        best = min(Counter(o.text for o in support).items(), key=lambda p: (-p[1], p[0]))[0]
        if len(best) > PATTERN_MAX:
            result.skipped.append(
                {"reason": "too_long", "text": best[:80], "override_ids": ids_by_code[code]}
            )
            continue
        entry = _new_entry(best, language, code, support, len(members), moment)
        changes[spec.entry_path(entry["id"])] = dump_yaml(entry).encode("utf-8")
        result.added.append(
            {
                "id": entry["id"],
                "pattern": best,
                "language": language,
                "sector_code": code,
                "confidence": entry["confidence"],
                "override_ids": entry["evidence"]["override_ids"],
                "dissent": {c: ids for c, ids in ids_by_code.items() if c != code},
            }
        )


def _new_entry(
    pattern: str,
    language: str,
    code: str,
    support: list[_Override],
    total: int,
    moment: dt.datetime,
) -> dict[str, Any]:
    confidence = round(min(MAX_LEARNED_CONFIDENCE, 0.6 + 0.05 * len(support)) * len(support) / total, 2)
    ms = max(o.at_ms for o in support)
    return {
        "id": deterministic_uuid7(ms, MAPPING, language, normalize_text(pattern), code),
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
        "evidence": {"kind": "overrides", "reference": None, "override_ids": sorted(o.id for o in support)},
    }


def _adjust(
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
