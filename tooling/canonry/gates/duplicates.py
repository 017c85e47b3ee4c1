"""duplicates: exact and near duplicates of the draft's new or changed entries, against the whole library.

Exact: the library's `duplicates.exact` fields, each normalized (NFKC, case
folded, whitespace collapsed and stripped; non-strings as canonical JSON),
equal to another entry's. An error.

Near: the `duplicates.near.fields` text (NFKC, case folded, punctuation and
symbols as spaces, whitespace collapsed; several fields joined by a space)
with a similarity of at least `near.threshold` to another entry's: the ratio
of difflib.SequenceMatcher (autojunk off), or 1.0 when both have the same set
of words. A warning: a steward decides whether "steel rebars" and "steel
rebar" should both exist.

Cost: only the draft's changed entries are checked, each against an index of
the library. The index describes the merge-base (the state every draft of the
same main shares) and is cached by that library's tree id, in memory and in
the repository's cache; what the draft changed, and what main changed since
the draft began, is laid over it. Near duplicates use a character-trigram
inverted index with a prefix filter (only the rarest trigrams of an entry are
looked up, as many as a pair above the threshold must share one of), then a
length filter and a trigram count filter, so a similarity is computed only
for a handful of candidate pairs: the work grows with the draft, not with
the square of the library.

What the content gates share lives in `content.py`; the near-duplicate index
in `near.py`.
"""

from __future__ import annotations

import math
from typing import Any

from .content import (
    Landing,
    Positions,
    cached_index,
    content_specs,
    key_of,
    keyed_lookup,
    landing,
)
from .context import GateContext
from .findings import ERROR, WARNING, Finding
from .near import NearIndex, near_text, similarity

__all__ = ["NAME", "NearIndex", "check", "similarity"]

NAME = "duplicates"
MAX_REPORTED = 5  # other entries named per finding kind and entry


# --- the gate ------------------------------------------------------------------------


def check(ctx: GateContext) -> list[Finding]:
    out: list[Finding] = []
    positions = Positions(ctx.head)
    for spec in content_specs(ctx):
        dup = spec.duplicates
        if not dup.exact and not dup.near_fields:
            continue
        land = landing(ctx, spec)
        if not land.changed:
            continue
        exact = _exact(ctx, land, positions) if dup.exact else {}
        for found in exact.values():
            out.extend(found.values())
        if dup.near_fields:
            out.extend(_near(ctx, land, positions, exact))
    return out


def _exact(ctx: GateContext, land: Landing, positions: Positions) -> dict[str, dict[str, Finding]]:
    """{changed entry id: {duplicate's id: finding}}."""
    spec = land.spec
    fields = list(spec.duplicates.exact)

    def build(docs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for entry_id in sorted(docs):
            key = key_of(docs[entry_id], fields)
            if key is not None:
                index.setdefault(key, []).append(entry_id)
        return index

    mine = {e.entry_id: key_of(e.doc, fields) for e in land.changed}
    wanted = [k for k in mine.values() if k is not None]
    index = keyed_lookup(ctx.repo, land.index_state, spec, "exact-keys", fields, build, wanted)
    fresh = build(land.fresh)
    out: dict[str, dict[str, Finding]] = {}
    for entry in land.changed:
        key = mine[entry.entry_id]
        if key is None:
            continue
        others = [i for i in index.get(key, ()) if i not in land.stale] + fresh.get(key, [])
        others = sorted(set(others) - {entry.entry_id})
        if not others:
            continue
        line, column = positions.of(entry.ref, (fields[0],))
        out[entry.entry_id] = {
            other: Finding(
                entry.path,
                line,
                column,
                NAME,
                ERROR,
                f"exact duplicate of {land.describe(ctx, other)}: same {', '.join(fields)}"
                " (after case folding, NFKC and whitespace)",
                spec.name,
                entry.entry_id,
            )
            for other in others[:MAX_REPORTED]
        }
    return out


def _near(
    ctx: GateContext, land: Landing, positions: Positions, exact: dict[str, dict[str, Finding]]
) -> list[Finding]:
    spec = land.spec
    fields = list(spec.duplicates.near_fields)
    threshold = spec.duplicates.near_threshold

    def build(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return NearIndex.build({i: t for i, d in docs.items() if (t := near_text(d, fields))})

    base = NearIndex(cached_index(ctx.repo, land.index_state, spec, "near-trigrams", fields, build))
    fresh = NearIndex(build(land.fresh))
    out: list[Finding] = []
    compared = 0
    for entry in land.changed:
        text = near_text(entry.doc, fields)
        if not text:
            continue
        already = {entry.entry_id, *exact.get(entry.entry_id, {})}
        matches: dict[str, float] = {}
        for index, excluded in ((base, already | land.stale), (fresh, already)):
            for other, score in index.similar(text, threshold, excluded):
                matches[other] = max(score, matches.get(other, 0.0))
            compared += index.last_compared
        ranked = sorted(matches.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            continue
        line, column = positions.of(entry.ref, (fields[0],))
        for other, score in ranked[:MAX_REPORTED]:
            message = (
                f"near duplicate of {land.describe(ctx, other)}: {', '.join(fields)}"
                f" similarity {math.floor(score * 100) / 100:.2f} (threshold {threshold:g})"
            )
            out.append(Finding(entry.path, line, column, NAME, WARNING, message, spec.name, entry.entry_id))
    ctx.metrics["near_duplicate_comparisons"] = ctx.metrics.get("near_duplicate_comparisons", 0) + compared
    return out
