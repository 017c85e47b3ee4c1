"""Classify texts with a mapping library's patterns: stems, any word order, partial phrases.

A text and a pattern are compared in normalized form (NFKC, case folded,
punctuation and symbols as spaces: `canonry.store.text.normalize_text`), word
by word reduced to stems (`learning.stemming`: Snowball, English and Arabic),
stop words not counting. A pattern is found in a text when

- all its meaningful stems occur in the text: `phrase` when they occur in the
  pattern's order, consecutively, else `words` ("plants for cement" finds
  "cement plant");
- or, for a pattern of three meaningful words or more, all but one of them:
  `partial` ("solar photovoltaic plant" finds "solar power plant").

The winner has the most matched words, then the better kind (phrase, words,
partial), then more words, more characters, higher confidence, the lower
sector code, the lower entry id: the same text always gets the same answer,
and the answer names the pattern and how it was found (`Match`). The index
keys patterns by their sorted stems (and by every key with one stem left out),
and a text's sorted stems are walked over the keys' prefixes, so the cost
follows what a text can reach, not the number of patterns.

Pattern rows are cached by the library's tree id (in memory and in the
repository's cache), and a new tree is derived from a known one through a
tree-to-tree diff, so its cost follows the change, not the library.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..store.entries import Library, store_for
from ..store.repo import Repository
from ..store.rule_functions import ISIC_DIVISIONS as ISIC_DIVISIONS
from ..store.states import FileRef
from ..store.text import normalize_text
from .stemming import content_stems, stems

SECTOR_CODE_RE = re.compile(r"[A-U][0-9]{2}")


_ROWS_VERSION = "pattern-rows:v1"
_INDEX_VERSION = "pattern-index:v4"
_MEMORY_TREES = 8

# (entry id, normalized phrase, sector code, confidence, language)
Row = tuple[str, str, str, float, str]
# What per_entry caches for each entry: fn(entry id, entry), a marshal-able value or None.
PerEntry = Callable[[str, Mapping[str, Any]], Any]


def is_sector_code(code: object) -> bool:
    """A well-formed code: a section letter and two digits (`C24`)."""
    return isinstance(code, str) and SECTOR_CODE_RE.fullmatch(code) is not None


def is_isic_division(code: object) -> bool:
    """A code that names an ISIC Rev.4 division (`C24` yes, `C99` no)."""
    return isinstance(code, str) and code in ISIC_DIVISIONS


def tokens(text: str) -> list[str]:
    return normalize_text(text).split()


def row_of(entry_id: str, entry: Mapping[str, Any]) -> Row | None:
    """The matching row of a mapping entry, or None when it cannot match (bad fields)."""
    pattern, code = entry.get("pattern"), entry.get("sector_code")
    if not isinstance(pattern, str) or not isinstance(code, str):
        return None
    phrase = normalize_text(pattern)
    if not phrase:
        return None
    confidence = entry.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        confidence = 0.0
    language = entry.get("language")
    return (entry_id, phrase, code, float(confidence), language if isinstance(language, str) else "")


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
        # key -> [positions found with all words, positions found with all but one, a prefix of a longer key]
        keys: dict[str, list[Any]] = {}
        for row in rows:
            ordered, content = _row_stems(row)
            position = len(items)
            rank = _static_rank(row, len(content), len(ordered))
            items.append((rank, row, " ".join(ordered), len(content)))
            wanted = [(0, content)]
            if len(content) >= 3:
                wanted.extend((1, content[:i] + content[i + 1 :]) for i in range(len(content)))
            for slot, key in wanted:
                self._keep(items, keys.setdefault(" ".join(key), [[], [], False])[slot], position)
                for cut in range(1, len(key)):
                    keys.setdefault(" ".join(key[:cut]), [[], [], False])[2] = True
        self._items = items
        self._keys = keys

    @classmethod
    def _keep(cls, items: list[Item], held: list[int], position: int) -> None:
        """Keep the best pattern per sector code under a key, best first, at most KEEP codes."""
        new = items[position]
        for i, other in enumerate(held):
            if items[other][1][2] == new[1][2]:
                if new[0] < items[other][0]:
                    held[i] = position
                    held.sort(key=lambda p: items[p][0])
                return
        held.append(position)
        held.sort(key=lambda p: items[p][0])
        del held[cls.KEEP :]

    def state(self) -> tuple[Any, ...]:
        """Plain data to cache (marshal-able); `from_state` rebuilds the index from it."""
        return self._items, self._keys

    @classmethod
    def from_state(cls, state: Any) -> PatternIndex:
        index = cls(())
        index._items, index._keys = state
        return index

    def __len__(self) -> int:
        return len(self._items)

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


# --- values per entry, rows and indexes: cached by tree id -------------------------------------------------

_MEMORY: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_LAST_TREE: dict[tuple[str, str, str], str] = {}


def _load(repo: Repository, kind: str, tree: str) -> Any:
    """A cached value for a tree: from memory, else from the repository's cache, else None."""
    key = (str(repo.git_dir), kind, tree)
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    value = store_for(repo).get_result(f"{kind}:{tree}")
    if value is not None:
        _remember(key, value)
    return value


def _save(repo: Repository, kind: str, tree: str, value: Any) -> None:
    store_for(repo).put_result(f"{kind}:{tree}", value)
    _remember((str(repo.git_dir), kind, tree), value)


def _remember(key: tuple[str, str, str], value: Any) -> None:
    _MEMORY[key] = value
    _MEMORY.move_to_end(key)
    while len(_MEMORY) > _MEMORY_TREES:
        _MEMORY.popitem(last=False)


def _seen(library: Library, kind: str) -> None:
    """Remember the tree, so the next tree of the library can be derived from it."""
    if library.tree is not None:
        _LAST_TREE[(str(library.state.repo.git_dir), library.spec.path, kind)] = library.tree


def per_entry(library: Library, kind: str, fn: PerEntry) -> dict[str, Any]:
    """{entry id: fn(entry id, entry)} over the library, leaving out None values; cached by tree id.

    A tree not seen before is derived from the last tree of the same library seen for the
    same kind (a tree diff; only the changed entries are parsed), else computed from every
    entry. `kind` names fn and its version: change it when fn changes.
    """
    repo = library.state.repo
    tree = library.tree
    if tree is None:  # a work tree with changes: no tree id to key on
        return _compute(library, library.index.keys(), fn)
    values = _load(repo, kind, tree)
    if not isinstance(values, dict):
        values = _derive(library, kind, fn)
        if values is None:
            values = _compute(library, library.index.keys(), fn)
        _save(repo, kind, tree, values)
    _seen(library, kind)
    return values


def pattern_rows(library: Library) -> dict[str, Row]:
    """{entry id: row} for every entry of the library that can match (cached by tree id)."""
    return per_entry(library, _ROWS_VERSION, row_of)


def pattern_index(library: Library) -> PatternIndex:
    """The matching index of a library (built once per tree id, then cached)."""
    tree = library.tree
    if tree is None:
        return PatternIndex(pattern_rows(library).values())
    repo = library.state.repo
    state = _load(repo, _INDEX_VERSION, tree)
    if isinstance(state, tuple) and len(state) == 2:
        _seen(library, _ROWS_VERSION)
        return PatternIndex.from_state(state)
    index = PatternIndex(pattern_rows(library).values())
    _save(repo, _INDEX_VERSION, tree, index.state())
    return index


def read_entries(library: Library, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The parsed entries of the given ids (missing or unparseable ones left out), in one batch.

    One listing of the library and one trip to the parse cache: looking entries up
    one path at a time costs a tree parse each in a large flat folder.
    """
    index = library.index
    refs = [(index[i].path, index[i]) for i in dict.fromkeys(ids) if i in index]
    parsed = store_for(library.state.repo).get_many(refs, library.state)
    out: dict[str, dict[str, Any]] = {}
    for entry_id in dict.fromkeys(ids):
        ref = index.get(entry_id)
        data = parsed.get(ref.oid) if ref is not None else None
        if isinstance(data, dict):
            out[entry_id] = data
    return out


def _compute(
    library: Library, ids: Iterable[str], fn: Callable[[str, Mapping[str, Any]], Any]
) -> dict[str, Any]:
    values = {}
    for entry_id, data in read_entries(library, ids).items():
        value = fn(entry_id, data)
        if value is not None:
            values[entry_id] = value
    return values


def _derive(
    library: Library, kind: str, fn: Callable[[str, Mapping[str, Any]], Any]
) -> dict[str, Any] | None:
    """The values of this tree from those of the last tree seen: a tree diff, the changed entries parsed."""
    repo = library.state.repo
    old_tree = _LAST_TREE.get((str(repo.git_dir), library.spec.path, kind))
    if old_tree is None or library.tree is None:
        return None
    old_values = _load(repo, kind, old_tree)
    if not isinstance(old_values, dict):
        return None
    values = dict(old_values)
    spec = library.spec
    changed: dict[str, FileRef] = {}
    for change in repo.diff_trees(old_tree, library.tree):
        entry_id = spec.id_from_relative_path(change.path)
        if entry_id is None:
            continue
        values.pop(entry_id, None)
        if change.new_oid is not None:
            path = f"{spec.path}/{change.path}"
            changed[entry_id] = FileRef(path, change.new_oid, change.new_mode or 0)
    parsed = store_for(repo).get_many([(ref.path, ref) for ref in changed.values()], library.state)
    for entry_id, ref in changed.items():
        data = parsed.get(ref.oid)
        value = fn(entry_id, data) if isinstance(data, dict) else None
        if value is not None:
            values[entry_id] = value
    return values
