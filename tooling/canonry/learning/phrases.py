"""The phrases `learn mapping` proposes: the shortest wording the overrides of one code share.

Candidates are the runs of two to six consecutive meaningful words (stop words
left out) of each correction's text. A candidate's *support* is the corrections
of a final code whose text it matches, and its *dissent* the overrides (any)
of another code whose text it matches, both by the matcher itself (stems, any
word order, every word: `learning.matching`), so a proposal matches again
what taught it. In each (language, code) group the learner takes the
candidate with the fewest words (then the most support, the fewest
characters, the first in code point order) whose support reaches the minimum
frequency and outnumbers its dissent, sets its overrides aside, and repeats
with what is left; a tie between support and dissent is a contradiction.
Single words are never proposed: one shared word is rarely specific enough
(a steward writes such patterns).

The holdout set plays no part in the choice; `holdout_effect` only reports,
per proposal, how many holdout cases it would change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .evaluators import HoldoutCase
from .matching import PatternIndex, Row
from .stemming import is_stop

MIN_WORDS = 2
MAX_WORDS = 6


@dataclass(frozen=True)
class Evidence:
    """One override as the phrase learner sees it."""

    id: str
    norm: str  # normalized text
    language: str
    final_code: str
    correction: bool  # final code differs from the suggested one


@dataclass
class Proposal:
    phrase: str
    language: str
    sector_code: str
    support: list[str]
    dissent: dict[str, list[str]] = field(default_factory=dict)  # code -> override ids

    @property
    def dissent_count(self) -> int:
        return sum(len(ids) for ids in self.dissent.values())


def windows(norm: str) -> set[str]:
    """Runs of MIN_WORDS to MAX_WORDS consecutive meaningful words of a normalized text."""
    words = [w for w in norm.split() if not is_stop(w)]
    out = set()
    for size in range(MIN_WORDS, MAX_WORDS + 1):
        for start in range(0, len(words) - size + 1):
            out.add(" ".join(words[start : start + size]))
    return out


def _matches(phrases: Sequence[str], evidence: Sequence[Evidence]) -> dict[str, set[str]]:
    """{phrase: ids of the overrides whose text it matches (all its words, any order or form)}."""
    rows: list[Row] = [(str(i), phrase, "X00", 0.0, "") for i, phrase in enumerate(phrases)]
    index = PatternIndex(rows)
    found: dict[str, set[str]] = {p: set() for p in phrases}
    for ev in evidence:
        for match in index.candidates(ev.norm.split()):
            if match.kind != "partial":
                found[phrases[int(match.entry_id)]].add(ev.id)
    return found


def propose(evidence: Sequence[Evidence], min_frequency: int) -> tuple[list[Proposal], list[dict[str, Any]]]:
    """The proposals and what was left (reported), deterministic for the same evidence."""
    corrections = [e for e in evidence if e.correction]
    phrases = sorted({w for e in corrections for w in windows(e.norm)})
    matched = _matches(phrases, evidence)
    by_id = {e.id: e for e in evidence}
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for e in corrections:
        groups.setdefault((e.language, e.final_code), []).append(e)
    proposals: list[Proposal] = []
    skipped: list[dict[str, Any]] = _same_text_contradictions(corrections)
    for (language, code), members in sorted(groups.items()):
        left = {e.id for e in members}
        own = [p for p in phrases if matched[p] & left]
        while left:
            best: tuple[tuple[int, int, int, str], Proposal] | None = None
            for phrase in own:
                support = sorted(matched[phrase] & left)
                if len(support) < min_frequency:
                    continue
                dissent: dict[str, list[str]] = {}
                for other in sorted(matched[phrase]):
                    ev = by_id[other]
                    if ev.final_code != code and ev.language == language:
                        dissent.setdefault(ev.final_code, []).append(other)
                top = max((len(ids) for ids in dissent.values()), default=0)
                if top >= len(support):
                    if top == len(support):
                        skipped.append(_contradiction(phrase, code, support, dissent))
                    continue
                key = (len(phrase.split()), -len(support), len(phrase), phrase)
                if best is None or key < best[0]:
                    best = (key, Proposal(phrase, language, code, support, dissent))
            if best is None:
                break
            proposals.append(best[1])
            left -= set(best[1].support)
        if left and len(left) < min_frequency:
            skipped.append(
                {
                    "reason": "below_frequency",
                    "sector_code": code,
                    "language": language,
                    "override_ids": sorted(left),
                }
            )
        elif left:
            skipped.append(
                {
                    "reason": "no_shared_phrase",
                    "sector_code": code,
                    "language": language,
                    "override_ids": sorted(left),
                    "message": f"{len(left)} correction(s) to {code}: no phrase of {MIN_WORDS} or more words"
                    f" that {min_frequency} of them share and that outweighs its dissent; no pattern",
                }
            )
    return proposals, _unique(skipped)


def _same_text_contradictions(corrections: Sequence[Evidence]) -> list[dict[str, Any]]:
    """The same text corrected to different codes, equally often: reported whatever the frequency."""
    texts: dict[tuple[str, str], dict[str, list[str]]] = {}
    for e in corrections:
        texts.setdefault((e.language, e.norm), {}).setdefault(e.final_code, []).append(e.id)
    out = []
    for (_language, norm), codes in sorted(texts.items()):
        top = max(len(ids) for ids in codes.values())
        leaders = sorted(c for c, ids in codes.items() if len(ids) == top)
        if len(leaders) > 1:
            out.append(
                {
                    "reason": "contradiction",
                    "text": norm,
                    "codes": {c: sorted(codes[c]) for c in sorted(codes)},
                    "message": f"{norm!r}: overrides disagree at equal frequency ({', '.join(leaders)},"
                    f" {top} each): no pattern",
                }
            )
    return out


def _contradiction(
    phrase: str, code: str, support: list[str], dissent: Mapping[str, list[str]]
) -> dict[str, Any]:
    codes = {code: support, **dissent}
    leaders = sorted(c for c, ids in codes.items() if len(ids) == len(support))
    return {
        "reason": "contradiction",
        "text": phrase,
        "codes": {c: codes[c] for c in sorted(codes)},
        "message": f"{phrase!r}: overrides disagree at equal frequency ({', '.join(leaders)},"
        f" {len(support)} each): no pattern",
    }


def _unique(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = repr(sorted(item.items()))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def holdout_effect(
    base: PatternIndex, rows: Mapping[str, Row], cases: Sequence[HoldoutCase]
) -> dict[str, dict[str, int]]:
    """{row id: {cases, to_correct, to_wrong}}: the holdout cases each new row alone would change."""
    effect = {rid: {"cases": 0, "to_correct": 0, "to_wrong": 0} for rid in rows}
    if not rows or not cases:
        return effect
    added = PatternIndex(rows.values())
    for case in cases:
        toks = case.tokens or tuple(case.text.split())
        found = added.ranked(toks)
        if not found:
            continue
        before = base.ranked(toks)
        old = before[0] if before else None
        old_code = old[1].sector_code if old else None
        for rank, match in found:
            if old is not None and old[0] < rank:
                continue  # the base's winner still wins
            if match.sector_code != old_code:
                counts = effect[match.entry_id]
                counts["cases"] += 1
                if match.sector_code == case.expected:
                    counts["to_correct"] += 1
                elif old_code == case.expected:
                    counts["to_wrong"] += 1
    return effect
