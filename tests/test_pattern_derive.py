"""A matcher index derived through a diff answers exactly as one built from scratch."""

from __future__ import annotations

import random

import pytest
from canonry.learning.patterns import PatternIndex, Row, tokens

WORDS = [
    "steel",
    "cement",
    "plant",
    "power",
    "solar",
    "water",
    "hospital",
    "rebar",
    "mill",
    "wind",
    "farm",
    "oil",
    "gas",
    "repair",
    "school",
    "road",
]
CODES = ["C24", "C23", "D35", "E36", "Q86", "F42", "A01", "B06"]


def _row(rng: random.Random, entry_id: str) -> Row:
    phrase = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
    return (entry_id, phrase, rng.choice(CODES), rng.choice([0.5, 0.7, 0.9]), rng.choice(["en", ""]))


def _answers(index: PatternIndex, texts: list[str]) -> list[object]:
    return [([m for _, m in index.ranked(tokens(t))], index.match(t)) for t in texts]


def _keys(index: PatternIndex) -> dict[str, object]:
    """What each key holds, by entry id (positions differ between a built and a derived index)."""
    out = {}
    for key, (full, partial, is_prefix) in index._keys.items():
        ids = ([index._items[p][1][0] for p in full], [index._items[p][1][0] for p in partial])
        if ids != ([], []) or is_prefix:
            out[key] = (ids, is_prefix)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_a_derived_index_is_the_index_built_from_the_rows(seed: int) -> None:
    rng = random.Random(seed)
    before = {f"e{i:03d}": _row(rng, f"e{i:03d}") for i in range(rng.randint(0, 160))}
    after = dict(before)
    for entry_id in rng.sample(sorted(before), min(len(before), rng.randint(0, 40))):
        del after[entry_id]  # removed
    for entry_id in rng.sample(sorted(after), min(len(after), rng.randint(0, 40))):
        after[entry_id] = _row(rng, entry_id)  # changed
    for i in range(rng.randint(0, 40)):
        after[f"n{i:03d}"] = _row(rng, f"n{i:03d}")  # added
    changed = {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}
    base = PatternIndex(before.values())
    derived = base.derive(changed, [after[i] for i in sorted(changed) if i in after])
    built = PatternIndex(after.values())
    texts = [" ".join(rng.sample(WORDS, rng.randint(1, 6))) for _ in range(200)]
    assert _answers(derived, texts) == _answers(built, texts)
    assert _keys(derived) == _keys(built) and len(derived) == len(built)
    assert _answers(base, texts) == _answers(PatternIndex(before.values()), texts)  # left as it was
    again = PatternIndex.from_state(derived.state()).derive(set(after), [])
    assert _keys(again) == {} and len(again) == 0  # everything taken out leaves nothing behind
