"""Classify texts with a mapping library's patterns: whole-word phrase matching over an index.

A text and a pattern are compared in normalized form (NFKC, case folded,
punctuation and symbols as spaces: `canonry.store.text.normalize_text`). A pattern
matches when its tokens occur consecutively in the text's tokens. The index is a
phrase table plus the set of its proper prefixes (a trie laid flat), so a text
of n tokens costs at most n * (longest pattern) lookups, whatever the number of
patterns. Among the matches the winner is the longest pattern (tokens, then
characters), then the higher confidence, then the lower sector code, then the
lower entry id: the same text always gets the same answer.

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
from ..store.states import FileRef
from ..store.text import normalize_text

SECTOR_CODE_RE = re.compile(r"[A-U][0-9]{2}")

# ISIC Rev.4: each section letter with its divisions.
_SECTIONS: dict[str, tuple[int, ...]] = {
    "A": (1, 2, 3),
    "B": (5, 6, 7, 8, 9),
    "C": tuple(range(10, 34)),
    "D": (35,),
    "E": (36, 37, 38, 39),
    "F": (41, 42, 43),
    "G": (45, 46, 47),
    "H": (49, 50, 51, 52, 53),
    "I": (55, 56),
    "J": (58, 59, 60, 61, 62, 63),
    "K": (64, 65, 66),
    "L": (68,),
    "M": (69, 70, 71, 72, 73, 74, 75),
    "N": (77, 78, 79, 80, 81, 82),
    "O": (84,),
    "P": (85,),
    "Q": (86, 87, 88),
    "R": (90, 91, 92, 93),
    "S": (94, 95, 96),
    "T": (97, 98),
    "U": (99,),
}
ISIC_DIVISIONS = frozenset(f"{s}{d:02d}" for s, divisions in _SECTIONS.items() for d in divisions)

_ROWS_VERSION = "pattern-rows:v1"
_INDEX_VERSION = "pattern-index:v1"
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
    entry_id: str
    phrase: str
    sector_code: str
    confidence: float


def _rank(row: Row) -> tuple[int, int, float, str, str]:
    # smaller is better
    return (-row[1].count(" ") - 1, -len(row[1]), -row[3], row[2], row[0])


class PatternIndex:
    """Phrase -> best row, plus every proper prefix of a phrase (to stop early)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        best: dict[str, tuple[tuple[int, int, float, str, str], Row]] = {}
        prefixes: set[str] = set()
        for row in rows:
            rank = _rank(row)
            phrase = row[1]
            held = best.get(phrase)
            if held is None or rank < held[0]:
                best[phrase] = (rank, row)
            cut = phrase.rfind(" ")
            while cut > 0:
                prefix = phrase[:cut]
                if prefix in prefixes:
                    break  # its own prefixes are in already
                prefixes.add(prefix)
                cut = prefix.rfind(" ")
        self._best = best
        self._prefixes = prefixes

    def state(self) -> tuple[dict[str, Any], set[str]]:
        """Plain data to cache (marshal-able); `from_state` rebuilds the index from it."""
        return self._best, self._prefixes

    @classmethod
    def from_state(cls, state: Any) -> PatternIndex:
        index = cls(())
        index._best, index._prefixes = state
        return index

    def __len__(self) -> int:
        return len(self._best)

    def match_tokens(self, toks: Sequence[str]) -> Match | None:
        """The winning pattern among those that occur in the tokens, or None."""
        best = self._best
        prefixes = self._prefixes
        found: tuple[tuple[int, int, float, str, str], Row] | None = None
        n = len(toks)
        for i in range(n):
            phrase = toks[i]
            j = i + 1
            while True:
                hit = best.get(phrase)
                if hit is not None and (found is None or hit[0] < found[0]):
                    found = hit
                if j >= n or phrase not in prefixes:
                    break
                phrase = f"{phrase} {toks[j]}"
                j += 1
        if found is None:
            return None
        row = found[1]
        return Match(row[0], row[1], row[2], row[3])

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
