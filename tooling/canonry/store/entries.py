"""Libraries at a state, as read-only mappings of entries (`Library`, `Entry`).

Parsed entries come from the blob-id cache in `entry_cache` (re-exported here:
`store_for`, `EntryStore`, `gc_paused`), so each blob is parsed once per repository.
"""

from __future__ import annotations

import gc
import marshal
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import EntrySyntaxError, UnknownEntryError
from .entry_cache import _MEMO, _STORES, EntryStore, _Failure, gc_paused, recall, remember, store_for
from .registry import ID_RE, LibrarySpec
from .repo import Repository
from .states import FileRef, State

# The cache's names stay importable from here (callers and tests reach _STORES/_MEMO to reset it).
__all__ = [
    "_MEMO",
    "_STORES",
    "Entry",
    "EntryStore",
    "Library",
    "_Failure",
    "gc_paused",
    "parse_blob",
    "store_for",
]


class Entry(Mapping[str, Any]):
    """A read-only entry: nested mappings come back as read-only views, lists as tuples."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return _freeze(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Entry({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Entry):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A deep, mutable copy of the entry's data."""
        copy: dict[str, Any] = marshal.loads(marshal.dumps(self._data))
        return copy


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return Entry(value)
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class Library(Mapping[str, Entry]):
    """One library at one state: a read-only mapping from entry id to entry.

    Listing costs a tree walk; entries are parsed on first access (or all at
    once with `load()`), each blob once per repository thanks to the store.
    """

    def __init__(
        self, state: State, spec: LibrarySpec, *, version: int | None = None, tag: str | None = None
    ):
        self.state = state
        self.spec = spec
        self.name = spec.name
        self.version = version
        self.tag = tag
        self.commit = state.commit
        self.tree = state.tree_id(spec.path)
        self._store = store_for(state.repo)
        self._index: dict[str, FileRef] | None = None
        self._entries: dict[str, Entry] = {}

    @property
    def files(self) -> dict[str, FileRef]:
        """Every file under the library's folder, by repository path."""
        return self.state.files(self.spec.path)

    def _key(self, kind: str) -> str | None:
        """A cache key for what depends only on this library's tree (None off a pure tree)."""
        if self.tree is None:
            return None
        return f"{kind}:{self.spec.path}:{self.spec.layout}:{self.tree}"

    @property
    def index(self) -> dict[str, FileRef]:
        """{entry id: file} for every well-placed entry file (cached by tree id)."""
        if self._index is not None:
            return self._index
        key = self._key("index")
        rows = recall(key) if key else None
        if rows is None and key:
            rows = self._store.get_result(key)
        if rows is not None:
            path = self.spec.entry_path
            if self.spec.layout == "flat":  # the same paths, without a call per entry
                folder = self.spec.path + "/"
                index = {eid: FileRef(f"{folder}{eid}.yaml", oid, mode) for eid, oid, mode in rows}
            else:
                index = {eid: FileRef(path(eid), oid, mode) for eid, oid, mode in rows}
        else:
            base = len(self.spec.path) + 1
            index = {}
            for file_path, ref in self.files.items():
                entry_id = self.spec.id_from_relative_path(file_path[base:])
                if entry_id is not None:
                    index[entry_id] = ref
            if key and self.tree:
                rows = [(eid, ref.oid, ref.mode) for eid, ref in index.items()]
                self._store.put_result(key, rows)
                self._store.record_index(self.tree, rows)
        if key and rows is not None:
            remember(key, rows)
        self._index = index
        return index

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.index))

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, str) and entry_id in self.index

    def __getitem__(self, entry_id: str) -> Entry:
        entry = self._entries.get(entry_id)
        if entry is not None:
            return entry
        ref = self._lookup(entry_id)
        if ref is None:
            raise UnknownEntryError(self.name, entry_id, self.state.label)
        result = self._store.get(ref, self.state, ref.path)
        if isinstance(result, _Failure):
            raise result.error
        entry = self._entries[entry_id] = Entry(result)
        return entry

    def _lookup(self, entry_id: str) -> FileRef | None:
        if self._index is not None:
            return self._index.get(entry_id)
        if not ID_RE.fullmatch(entry_id):
            return None
        # One entry by path, without listing the library (a runtime's hot path).
        path = self.spec.entry_path(entry_id)
        from .states import TreeState

        if isinstance(self.state, TreeState):
            if self.tree is not None:
                known = self._store.lookup_entry(self.tree, entry_id)
                if known is None:
                    return None
                if known is not False:
                    assert isinstance(known, tuple)
                    return FileRef(path, known[0], known[1])
            item = self.state.repo.entry_at(self.state.tree, path)
            return FileRef(path, item.oid, item.mode) if item and not item.is_tree else None
        return self.index.get(entry_id)

    def load(self) -> dict[str, Entry]:
        """Parse every entry (cached by blob id); raise the first syntax error.

        A whole version loaded once is kept as one record keyed by its tree id, so
        the next process rebuilds it from a single read instead of a query per blob.
        """
        with gc_paused():
            key = self._key("bundle")
            loaded = recall(key) if key else None
            if loaded is None and key and not self._entries:
                stored = self._store.get_result(key)
                if stored is not None:
                    loaded = {eid: Entry(data) for eid, data in stored}
            if loaded is None:
                index = self.index
                todo = [(eid, ref) for eid, ref in index.items() if eid not in self._entries]
                results = self._store.get_many(((ref.path, ref) for _, ref in todo), self.state)
                for eid, ref in todo:
                    result = results[ref.oid]
                    if isinstance(result, _Failure):
                        raise result.error
                    self._entries[eid] = Entry(result)
                loaded = {eid: self._entries[eid] for eid in sorted(index)}
                if key:
                    self._store.put_bundle(key, [(eid, e._data) for eid, e in loaded.items()])
            if key:
                remember(key, loaded)
            self._entries = dict(loaded)
        gc.freeze()  # a loaded version lives long: keep the collector from rescanning it
        return loaded

    def parse_all(self) -> dict[str, dict[str, Any] | EntrySyntaxError]:
        """{entry id: data or its syntax error} for every entry; never raises for content."""
        results = self._store.get_many(((ref.path, ref) for ref in self.index.values()), self.state)
        out: dict[str, dict[str, Any] | EntrySyntaxError] = {}
        for eid, ref in self.index.items():
            result = results[ref.oid]
            out[eid] = result.error if isinstance(result, _Failure) else result
        return out

    def blob_of(self, entry_id: str) -> str | None:
        ref = self._lookup(entry_id)
        return ref.oid if ref else None

    def confidence(self, entry_id: str, at: Any = None) -> Any:
        """The entry's effective confidence and band at a moment (default: now)."""
        from .confidence import effective_confidence
        from .rules import load_rules

        policy = load_rules(self.state).require_registry().policy.confidence
        field = self.spec.confidence_field or "confidence"
        return effective_confidence(self[entry_id], policy, at, field=field)

    def defaults_for_sector(self, sector_code: str, assumption_type: str | None = None) -> list[Entry]:
        """Assumption defaults for a sector: its own first, then economy-wide ones (sector_code null).

        An economy-wide default is left out where the sector has its own of the same type.
        """
        return sector_defaults(self.load().values(), sector_code, assumption_type)

    def __repr__(self) -> str:
        where = self.tag or self.state.label
        return f"<Library {self.name} at {where}: {len(self)} entries>"


def parse_blob(repo: Repository, state: State, ref: FileRef) -> dict[str, Any]:
    """Parse one file through the shared cache; raise its syntax error."""
    result = store_for(repo).get(ref, state, ref.path)
    if isinstance(result, _Failure):
        raise result.error
    return result


def sector_defaults(entries: Iterable[Entry], sector_code: str, assumption_type: str | None) -> list[Entry]:
    """A sector's own defaults first, then economy-wide ones (sector_code null) of the types it lacks."""
    typed = [e for e in entries if assumption_type is None or e.get("assumption_type") == assumption_type]
    own = [e for e in typed if e.get("sector_code") == sector_code]
    covered = {e.get("assumption_type") for e in own}
    wide = [e for e in typed if e.get("sector_code") is None and e.get("assumption_type") not in covered]

    def key(e: Entry) -> tuple[str, str]:
        return (str(e.get("assumption_type")), str(e.get("id")))

    return sorted(own, key=key) + sorted(wide, key=key)
