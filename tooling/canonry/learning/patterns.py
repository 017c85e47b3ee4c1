"""The matcher's index: patterns keyed by their sorted stems, built whole or derived from another's.

`PatternIndex` keys each pattern row by its sorted meaningful stems (and, for
three stems or more, by every key with one stem left out); a text's sorted
stems are walked over the keys' prefixes, so the cost follows what a text can
reach, not the number of patterns. Under each key it holds the best pattern of
each sector code, at most four codes. Ranks are a total order (they end with
the entry id), so what a key holds is a function of the set of rows reaching
it: `derive` lays a tree diff's removed and added rows over an index and gives
exactly what building the new tree's index from scratch gives, for the cost of
the rows and keys the change touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..store.text import normalize_text
from .stemming import content_stems, stems

# (entry id, normalized phrase, sector code, confidence, language)
Row = tuple[str, str, str, float, str]


def tokens(text: str) -> list[str]:
    return normalize_text(text).split()


@dataclass(frozen=True)
class Match:
    """One pattern found in a text, and how: the explanation of an answer.

    `kind` is `phrase` (its words in order, as written), `words` (all its words, in
    another order or form) or `partial` (all but one of its words, for patterns of
    three meaningful words or more). `matched` and `total` count the pattern's
    meaningful words (stems) found in the text and in the pattern.
    """

    entry_id: str
    phrase: str
    sector_code: str
    confidence: float
    language: str = ""
    kind: str = "phrase"
    matched: int = 0
    total: int = 0

    def explain(self) -> str:
        return f"{self.phrase!r} ({self.kind}, {self.matched} of {self.total} words) -> {self.sector_code}"


KINDS = ("phrase", "words", "partial")
MAX_VISITS = 20_000  # bound on the subset walk of one text (a pathological text stops early)


def _item_and_keys(row: Row) -> tuple[Item, list[tuple[int, tuple[str, ...]]]]:
    """A row's indexed item and its (slot, key) pairs: all its stems (slot 0), all but one (slot 1)."""
    ordered, content = _row_stems(row)
    item = (_static_rank(row, len(content), len(ordered)), row, " ".join(ordered), len(content))
    wanted = [(0, content)]
    if len(content) >= 3:
        wanted.extend((1, content[:i] + content[i + 1 :]) for i in range(len(content)))
    return item, wanted


def _row_stems(row: Row) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stems in order, sorted distinct meaningful stems) of a row's phrase."""
    toks = row[1].split()
    ordered = stems(toks)
    content = content_stems(toks) or tuple(sorted(set(ordered)))
    return ordered, content


def _static_rank(row: Row, content: int, ordered: int) -> tuple[int, int, int, float, str, str]:
    # smaller is better: more meaningful words, more words, more characters, more confident
    return (-content, -ordered, -len(row[1]), -row[3], row[2], row[0])


# One indexed pattern: (static rank, row, its stems in order joined by spaces, its meaningful stem count)
Item = tuple[tuple[int, int, int, float, str, str], Row, str, int]


class PatternIndex:
    """Patterns by their sorted meaningful stems (all of them, and all but one), plus key prefixes.

    Keys map to positions in one list of patterns (the best per sector code under
    a key, at most four). A text's sorted distinct stems are walked as a trie laid
    flat: a key is extended only while it is a prefix of some pattern's key, so
    the cost follows the patterns a text can reach, not the size of the library.
    """

    KEEP = 4  # patterns per key: the best of each sector code

    def __init__(self, rows: Iterable[Row]) -> None:
        items: list[Item] = []
        # key -> (positions found with all words, positions found with all but one): every row
        found: dict[str, tuple[list[int], list[int]]] = {}
        prefixes: dict[str, int] = {}  # key -> how many (row, key) pairs it is a proper prefix of
        for row in rows:
            position = len(items)
            item, wanted = _item_and_keys(row)
            items.append(item)
            for slot, key in wanted:
                joined = " ".join(key)
                held = found.get(joined)
                if held is None:
                    held = found[joined] = ([], [])
                held[slot].append(position)
                for cut in range(1, len(key)):
                    prefix = " ".join(key[:cut])
                    prefixes[prefix] = prefixes.get(prefix, 0) + 1
        # key -> [the best per sector code, best first, at most KEEP codes (full; all but one),
        #         a prefix of a longer key]
        keys: dict[str, list[Any]] = {}
        for joined, (full, partial) in found.items():
            keys[joined] = [self._best(items, full), self._best(items, partial), joined in prefixes]
        for joined in prefixes.keys() - found.keys():
            keys[joined] = [[], [], True]
        self._items = items
        self._keys = keys
        self._found = found
        self._prefixes = prefixes
        self._dead: set[int] = set()

    def derive(self, removed: Iterable[str], added: Iterable[Row]) -> PatternIndex:
        """The index with the rows of the removed entry ids taken out and the added rows put in.

        Exactly what building from the resulting rows gives (the same answer to every
        text); this index is left as it was. Cost: the touched rows and keys.
        """
        out = PatternIndex(())
        out._items = list(self._items)
        out._keys = dict(self._keys)
        out._found = dict(self._found)
        out._prefixes = dict(self._prefixes)
        out._dead = set(self._dead)
        gone = set(removed)
        touched: set[str] = set()
        for position, item in enumerate(self._items):
            if item[1][0] in gone and position not in self._dead:
                out._dead.add(position)
                for slot, key in _item_and_keys(item[1])[1]:
                    touched.update(out._move(position, slot, key, -1))
        for row in added:
            position = len(out._items)
            item, wanted = _item_and_keys(row)
            out._items.append(item)
            for slot, key in wanted:
                touched.update(out._move(position, slot, key, 1))
        for joined in touched:
            full, partial = out._found.get(joined, ((), ()))
            is_prefix = out._prefixes.get(joined, 0) > 0
            if full or partial or is_prefix:
                out._keys[joined] = [
                    self._best(out._items, list(full)),
                    self._best(out._items, list(partial)),
                    is_prefix,
                ]
            else:
                out._keys.pop(joined, None)
                out._found.pop(joined, None)
        return out

    def _move(self, position: int, slot: int, key: tuple[str, ...], sign: int) -> list[str]:
        """Add (sign 1) or remove (-1) a row's position under a key; the keys whose entry changes."""
        joined = " ".join(key)
        full, partial = self._found.get(joined, ([], []))
        lists = [list(full), list(partial)]  # copies: the index derived from may share them
        if sign > 0:
            lists[slot].append(position)
        else:
            lists[slot].remove(position)
        self._found[joined] = (lists[0], lists[1])
        changed = [joined]
        for cut in range(1, len(key)):
            prefix = " ".join(key[:cut])
            self._prefixes[prefix] = self._prefixes.get(prefix, 0) + sign
            if self._prefixes[prefix] <= 0:
                self._prefixes.pop(prefix)
            changed.append(prefix)
        return changed

    @classmethod
    def _best(cls, items: list[Item], positions: list[int]) -> list[int]:
        """The best pattern of each sector code among positions, best first, at most KEEP codes.

        Ranks are a total order (they end with the entry id), so this is the same
        whatever order the rows came in.
        """
        if len(positions) < 2:
            return positions  # most keys: no choice to make
        best: dict[str, int] = {}
        for position in positions:
            code = items[position][1][2]
            other = best.get(code)
            if other is None or items[position][0] < items[other][0]:
                best[code] = position
        return sorted(best.values(), key=lambda p: items[p][0])[: cls.KEEP]

    def state(self) -> tuple[Any, ...]:
        """Plain data to cache (marshal-able); `from_state` rebuilds the index from it."""
        return self._items, self._keys, self._found, self._prefixes, sorted(self._dead)

    @classmethod
    def from_state(cls, state: Any) -> PatternIndex:
        index = cls(())
        index._items, index._keys, index._found, index._prefixes, dead = state
        index._dead = set(dead)
        return index

    def __len__(self) -> int:
        return len(self._items) - len(self._dead)

    def candidates(self, toks: Sequence[str]) -> list[Match]:
        """Every pattern found in the tokens (best per pattern), best first."""
        return [m for _, m in self.ranked(toks)]

    def _hits(self, toks: Sequence[str]) -> tuple[str, dict[int, bool]]:
        """(the text's stems joined, {pattern position: found partially}) of the tokens."""
        ordered = stems(toks)
        text_stems = content_stems(toks) or tuple(sorted(set(ordered)))
        hits: dict[int, bool] = {}
        visits = 0
        stack: list[tuple[int, str]] = [(0, "")]
        keys = self._keys
        n = len(text_stems)
        while stack and visits < MAX_VISITS:
            start, prefix = stack.pop()
            for j in range(start, n):
                visits += 1
                key = f"{prefix} {text_stems[j]}" if prefix else text_stems[j]
                found = keys.get(key)
                if found is None:
                    continue
                for position in found[0]:
                    hits[position] = False  # a full match beats a partial one of the same pattern
                for position in found[1]:
                    hits.setdefault(position, True)
                if found[2]:
                    stack.append((j + 1, key))
        return f" {' '.join(ordered)} ", hits

    def _ranked_item(self, position: int, partial: bool, text: str) -> tuple[tuple[Any, ...], str, int]:
        static, _row, joined, content = self._items[position]
        if partial:
            kind, matched = "partial", content - 1
        else:
            kind, matched = ("phrase" if f" {joined} " in text else "words"), content
        return (-matched, KINDS.index(kind), *static[1:]), kind, matched

    def ranked(self, toks: Sequence[str]) -> list[tuple[tuple[Any, ...], Match]]:
        """(rank, match) of every pattern found in the tokens, best (smallest rank) first.

        Ranks compare across indexes: the winner of two indexes' patterns is the smaller rank.
        """
        text, hits = self._hits(toks)
        out = []
        for position, partial in hits.items():
            rank, kind, matched = self._ranked_item(position, partial, text)
            row, content = self._items[position][1], self._items[position][3]
            out.append((rank, Match(row[0], row[1], row[2], row[3], row[4], kind, matched, content)))
        out.sort(key=lambda v: v[0])
        return out

    def match_tokens(self, toks: Sequence[str]) -> Match | None:
        """The winning pattern among those found in the tokens, or None."""
        text, hits = self._hits(toks)
        if not hits:
            return None
        items = self._items
        # the most matched words and the better of full / partial first; the finer rank among those only
        top = min((partial - items[p][3], partial) for p, partial in hits.items())
        best: tuple[tuple[Any, ...], int, str, int] | None = None
        for position, partial in hits.items():
            if (partial - items[position][3], partial) != top:
                continue
            rank, kind, matched = self._ranked_item(position, partial, text)
            if best is None or rank < best[0]:
                best = (rank, position, kind, matched)
        assert best is not None
        _rank, position, kind, matched = best
        row, content = items[position][1], items[position][3]
        return Match(row[0], row[1], row[2], row[3], row[4], kind, matched, content)

    def match(self, text: str) -> Match | None:
        return self.match_tokens(tokens(text))

    def classify(self, text: str) -> str | None:
        """The sector code of the text, or None when no pattern matches."""
        found = self.match(text)
        return found.sector_code if found else None
