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
the repository's cache, or shipped in git with the published versions
(derived.py); what the draft changed, and what main changed since the draft
began, is laid over it. Near duplicates use a character-trigram
inverted index with a prefix filter (only the rarest trigrams of an entry are
looked up, as many as a pair above the threshold must share one of), then a
length filter and a trigram count filter, so a similarity is computed only
for a handful of candidate pairs: the work grows with the draft, not with
the square of the library.

What the content gates share lives in `content.py`; the near-duplicate index
in `near.py`.
"""

from __future__ import annotations

import hashlib
import math

from ..store.entries import store_for
from .content import Landing, Positions, content_specs, landing
from .context import GateContext
from .derived import Section, exact_index, exact_section, key_of, near_index, near_section
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
    mine = {e.entry_id: key_of(e.doc, fields) for e in land.changed}
    index = land.index(ctx, exact_section(spec))
    fresh = exact_index(land.fresh, fields)
    out: dict[str, dict[str, Finding]] = {}
    for entry in land.changed:
        key = mine[entry.entry_id]
        if key is None:
            continue
        others = [i for i in index.get(key, ()) if i not in land.stale] + fresh.get(key, [])
        others = sorted(set(others) - {entry.entry_id})
        if not others:
            continue
        out[entry.entry_id] = {
            other: positions.finding(
                entry,
                (fields[0],),
                library=spec.name,
                gate=NAME,
                severity=ERROR,
                message=f"exact duplicate of {land.describe(ctx, other)}: same {', '.join(fields)}"
                " (after case folding, NFKC and whitespace)",
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
    section = near_section(spec)
    texts = {e.entry_id: near_text(e.doc, fields) for e in land.changed}
    in_base, compared = _base_matches(ctx, land, section, threshold, [t for t in texts.values() if t])
    fresh = NearIndex(near_index(land.fresh, fields))
    out: list[Finding] = []
    for entry in land.changed:
        text = texts[entry.entry_id]
        if not text:
            continue
        already = {entry.entry_id, *exact.get(entry.entry_id, {})}
        matches: dict[str, float] = {}
        for other, score in in_base[text]:
            if other not in already and other not in land.stale:
                matches[other] = max(score, matches.get(other, 0.0))
        for other, score in fresh.similar(text, threshold, already):
            matches[other] = max(score, matches.get(other, 0.0))
        compared += fresh.last_compared
        ranked = sorted(matches.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            continue
        for other, score in ranked[:MAX_REPORTED]:
            message = (
                f"near duplicate of {land.describe(ctx, other)}: {', '.join(fields)}"
                f" similarity {math.floor(score * 100) / 100:.2f} (threshold {threshold:g})"
            )
            out.append(
                positions.finding(
                    entry, (fields[0],), library=spec.name, gate=NAME, severity=WARNING, message=message
                )
            )
    ctx.metrics["near_duplicate_comparisons"] = ctx.metrics.get("near_duplicate_comparisons", 0) + compared
    return out


def _base_matches(
    ctx: GateContext, land: Landing, section: Section, threshold: float, texts: list[str]
) -> tuple[dict[str, list[tuple[str, float]]], int]:
    """{text: [(id, similarity), ...]} against the base's index, and the comparisons made.

    A text's matches in one index are a function of the index (its tree) and the
    text, so they are cached by both: a second run over the same draft (a re-run
    check, a warm cache) reads them instead of comparing again. The index itself is
    loaded only for texts not cached.
    """
    tree = land.index_tree or land.index_state.tree_id(land.spec.path)
    prefix = f"near-matches/1:{section.key(land.spec)}:{tree}:{threshold!r}:" if tree else None
    keys = {t: prefix + hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts} if prefix else {}
    store = store_for(ctx.repo)
    cached = store.get_results(sorted(set(keys.values()))) if keys else {}
    out: dict[str, list[tuple[str, float]]] = {}
    missing = []
    for text in texts:
        hit = cached.get(keys[text]) if keys else None
        if hit is not None:
            out[text] = [(i, s) for i, s in hit]
        else:
            missing.append(text)
    compared = 0
    if missing:
        base: NearIndex = land.index(ctx, section)
        for text in dict.fromkeys(missing):
            out[text] = base.similar(text, threshold, set())
            compared += base.last_compared
        if keys:
            store.put_results([(keys[t], [[i, s] for i, s in out[t]]) for t in dict.fromkeys(missing)])
    return out, compared
