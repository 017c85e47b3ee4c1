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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..store.entries import Library, store_for
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.rule_functions import ISIC_DIVISIONS as ISIC_DIVISIONS
from ..store.states import FileRef
from ..store.text import normalize_text
from .patterns import KINDS as KINDS
from .patterns import Match as Match
from .patterns import PatternIndex as PatternIndex
from .patterns import Row as Row
from .patterns import tokens as tokens

SECTOR_CODE_RE = re.compile(r"[A-U][0-9]{2}")


_ROWS_VERSION = "pattern-rows:v1"
_INDEX_VERSION = "pattern-index:v5"
_MEMORY_TREES = 8

# What per_entry caches for each entry: fn(entry id, entry), a marshal-able value or None.
PerEntry = Callable[[str, Mapping[str, Any]], Any]


def is_sector_code(code: object) -> bool:
    """A well-formed code: a section letter and two digits (`C24`)."""
    return isinstance(code, str) and SECTOR_CODE_RE.fullmatch(code) is not None


def is_isic_division(code: object) -> bool:
    """A code that names an ISIC Rev.4 division (`C24` yes, `C99` no)."""
    return isinstance(code, str) and code in ISIC_DIVISIONS


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


def seed_rows(repo: Repository, spec: LibrarySpec, tree: str, rows: Mapping[str, Row]) -> None:
    """Take a library tree's pattern rows from elsewhere (a shipped index, audited by its reader).

    The tree's rows are then not computed from its entries, and the library's next
    tree (the base, a draft's head) is derived from them through a tree diff.
    """
    if _load(repo, _ROWS_VERSION, tree) is None:
        _save(repo, _ROWS_VERSION, tree, dict(rows))
    _LAST_TREE[(str(repo.git_dir), spec.path, _ROWS_VERSION)] = tree


def has_rows(library: Library) -> bool:
    """Whether the library tree's pattern rows are at hand (memory or the repository's cache)."""
    return library.tree is not None and _load(library.state.repo, _ROWS_VERSION, library.tree) is not None


def pattern_rows(library: Library) -> dict[str, Row]:
    """{entry id: row} for every entry of the library that can match (cached by tree id)."""
    return per_entry(library, _ROWS_VERSION, row_of)


def pattern_index(library: Library) -> PatternIndex:
    """The matching index of a library (cached by tree id).

    A tree not seen before is derived from the last index built or loaded for the
    library in this process (a tree diff: its changed rows taken out and put in,
    `PatternIndex.derive`), else built from every row and cached.
    """
    tree = library.tree
    if tree is None:
        return PatternIndex(pattern_rows(library).values())
    repo = library.state.repo
    last = (str(repo.git_dir), library.spec.path, _INDEX_VERSION)
    state = _load(repo, _INDEX_VERSION, tree)
    if isinstance(state, tuple) and len(state) == 5:
        _seen(library, _ROWS_VERSION)
        _LAST_TREE[last] = tree
        return PatternIndex.from_state(state)
    index = _derive_index(library, _LAST_TREE.get(last))
    if index is None:
        index = PatternIndex(pattern_rows(library).values())
        _save(repo, _INDEX_VERSION, tree, index.state())
    else:
        _remember((str(repo.git_dir), _INDEX_VERSION, tree), index.state())  # this process only
    _LAST_TREE[last] = tree
    return index


def _derive_index(library: Library, old_tree: str | None) -> PatternIndex | None:
    if old_tree is None or library.tree is None or old_tree == library.tree:
        return None
    repo = library.state.repo
    state = _load(repo, _INDEX_VERSION, old_tree)
    if not (isinstance(state, tuple) and len(state) == 5):
        return None
    rows = pattern_rows(library)
    spec = library.spec
    changed = {
        entry_id
        for change in repo.diff_trees(old_tree, library.tree)
        if (entry_id := spec.id_from_relative_path(change.path)) is not None
    }
    added = [rows[i] for i in sorted(changed) if i in rows]
    return PatternIndex.from_state(state).derive(changed, added)


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
