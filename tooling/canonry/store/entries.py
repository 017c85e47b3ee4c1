"""Libraries at a state, as read-only mappings of entries; parsed entries cached by blob id.

A blob id names its bytes, so a parse keyed by it never goes stale. The cache
lives in memory and, shared between processes (CLI, CI, runtime), in
`<git dir>/canonry/cache.sqlite3`, stored with `marshal` (entries are plain
JSON-like data; the file is ours, under .git, never fetched).
"""

from __future__ import annotations

import gc
import marshal
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..errors import EntrySyntaxError, UnknownEntryError
from .registry import ID_RE, LibrarySpec
from .repo import Repository
from .states import FileRef, State
from .yamlio import load_mapping


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


class _Failure:
    """A cached parse failure (so broken files are not re-parsed either)."""

    __slots__ = ("error",)

    def __init__(self, error: EntrySyntaxError) -> None:
        self.error = error


class EntryStore:
    """Parsed entries by blob id: in memory, and on disk in the repository's cache."""

    def __init__(self, path: Path | None) -> None:
        self._memory: dict[str, dict[str, Any] | _Failure] = {}
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, bytes]] = []
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(path), timeout=5, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=OFF")
                self._db.execute("CREATE TABLE IF NOT EXISTS entries (oid TEXT PRIMARY KEY, data BLOB)")
                self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, data BLOB)")
                # id -> blob of each indexed library tree: one entry by id without reading a
                # flat folder's multi-megabyte tree object
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS paths (tree TEXT, id TEXT, oid TEXT, mode INTEGER,"
                    " PRIMARY KEY (tree, id)) WITHOUT ROWID"
                )
                self._db.execute("CREATE TABLE IF NOT EXISTS indexed (tree TEXT PRIMARY KEY)")
            except (OSError, sqlite3.Error):
                self._db = None  # a read-only or broken cache only costs speed

    def _fetch(self, oids: list[str]) -> None:
        if self._db is None or not oids:
            return
        try:
            for start in range(0, len(oids), 900):
                chunk = oids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for oid, blob in self._db.execute(
                    f"SELECT oid, data FROM entries WHERE oid IN ({marks})", chunk
                ):
                    self._memory[oid] = _decode(blob)
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return

    def get_many(
        self, refs: Iterable[tuple[str, FileRef]], state: State
    ) -> dict[str, dict[str, Any] | _Failure]:
        """Parse (or recall) every (source path, file) pair; keyed by blob id."""
        refs = list(refs)
        missing = [r.oid for _, r in refs if r.oid not in self._memory]
        self._fetch(missing)
        out: dict[str, dict[str, Any] | _Failure] = {}
        with gc_paused():
            for source, ref in refs:
                got = self._memory.get(ref.oid)
                if got is None:
                    got = self._parse(state.read(ref), source, ref.oid)
                out[ref.oid] = got
        self.flush()
        return out

    def get(self, ref: FileRef, state: State, source: str) -> dict[str, Any] | _Failure:
        return self.get_many([(source, ref)], state)[ref.oid]

    def parse_blob(self, repo: Repository, ref: FileRef) -> dict[str, Any]:
        """Parse (or recall) one blob by id, whatever tree holds it; raise its syntax error."""
        got = self._memory.get(ref.oid)
        if got is None:
            self._fetch([ref.oid])
            got = self._memory.get(ref.oid)
        if got is None:
            got = self._parse(repo.read_blob(ref.oid), ref.path, ref.oid)
            self.flush()
        if isinstance(got, _Failure):
            raise got.error
        return got

    def _parse(self, data: bytes, source: str, oid: str) -> dict[str, Any] | _Failure:
        result: dict[str, Any] | _Failure
        try:
            result = load_mapping(data, source)
        except EntrySyntaxError as exc:
            result = _Failure(exc)
        self._memory[oid] = result
        self._pending.append((oid, _encode(result)))
        return result

    def flush(self) -> None:
        if self._db is None or not self._pending:
            self._pending.clear()
            return
        with suppress(sqlite3.Error):
            self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", self._pending)
        self._pending.clear()

    # results of checks, keyed by whatever determines them (rules digest + blob id)
    def get_result(self, key: str) -> Any:
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT data FROM results WHERE key = ?", (key,)).fetchone()
            return marshal.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return None

    def record_index(self, tree: str, rows: list[tuple[str, str, int]]) -> None:
        """Remember which blob each entry id of a library tree names."""
        if self._db is None:
            return
        with suppress(sqlite3.Error):
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO paths VALUES (?, ?, ?, ?)", [(tree, i, o, m) for i, o, m in rows]
            )
            self._db.execute("INSERT OR REPLACE INTO indexed VALUES (?)", (tree,))
            self._db.execute("COMMIT")
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def lookup_entry(self, tree: str, entry_id: str) -> tuple[str, int] | None | bool:
        """(blob, mode) of an id in an indexed tree, None if the tree lacks it, False if not indexed."""
        if self._db is None:
            return False
        try:
            row = self._db.execute(
                "SELECT oid, mode FROM paths WHERE tree = ? AND id = ?", (tree, entry_id)
            ).fetchone()
            if row is not None:
                return str(row[0]), int(row[1])
            known = self._db.execute("SELECT 1 FROM indexed WHERE tree = ?", (tree,)).fetchone()
        except sqlite3.Error:
            return False
        return None if known else False

    def put_bundle(self, key: str, value: Any, keep: int = 4) -> None:
        """Store a whole loaded version; keep only the most recent few (they are large)."""
        if self._db is None:
            return
        with suppress(sqlite3.Error, ValueError):
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, marshal.dumps(value)))
            self._db.execute(
                "DELETE FROM results WHERE key LIKE 'bundle:%' AND rowid NOT IN"
                " (SELECT rowid FROM results WHERE key LIKE 'bundle:%' ORDER BY rowid DESC LIMIT ?)",
                (keep,),
            )

    def get_results(self, keys: list[str]) -> dict[str, Any]:
        """{key: value} for the keys that have a stored result."""
        out: dict[str, Any] = {}
        if self._db is None:
            return out
        try:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, data FROM results WHERE key IN ({marks})"
                for key, blob in self._db.execute(query, chunk):
                    out[key] = marshal.loads(blob)
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return {}
        return out

    def has_results(self, keys: list[str]) -> bool:
        """Whether every key has a stored result (without reading the values)."""
        if self._db is None:
            return False
        try:
            for key in keys:
                if self._db.execute("SELECT 1 FROM results WHERE key = ?", (key,)).fetchone() is None:
                    return False
        except sqlite3.Error:
            return False
        return True

    def put_results(self, items: list[tuple[str, Any]]) -> None:
        if self._db is None or not items:
            return
        with suppress(sqlite3.Error, ValueError):
            self._db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?)",
                [(k, marshal.dumps(v)) for k, v in items],
            )

    def put_result(self, key: str, value: Any) -> None:
        if self._db is None:
            return
        with suppress(sqlite3.Error, ValueError):
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, marshal.dumps(value)))


def _encode(result: dict[str, Any] | _Failure) -> bytes:
    if isinstance(result, _Failure):
        e = result.error
        return marshal.dumps(("error", e.problem, e.source, e.line, e.column))
    return marshal.dumps(("ok", result))


def _decode(blob: bytes) -> dict[str, Any] | _Failure:
    value = marshal.loads(blob)
    if value[0] == "ok":
        return value[1]
    _, problem, source, line, column = value
    return _Failure(EntrySyntaxError(problem, source, line, column))


@contextmanager
def gc_paused() -> Iterator[None]:
    # Bulk loads allocate many small containers; the collector only slows them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_STORES: dict[str, EntryStore] = {}

# In-process memo of index rows and loaded versions, by tree key (most recent few).
_MEMO: dict[str, Any] = {}
_MEMO_SIZE = 8


def _remember(key: str, value: Any) -> None:
    _MEMO.pop(key, None)
    _MEMO[key] = value
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))


def store_for(repo: Repository) -> EntryStore:
    key = str(repo.git_dir)
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = EntryStore(repo.cache_dir() / "cache.sqlite3")
    return store


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
        rows = _MEMO.get(key) if key else None
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
            _remember(key, rows)
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
            loaded = _MEMO.get(key) if key else None
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
                _remember(key, loaded)
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
        entries = self.load().values()
        typed = [e for e in entries if assumption_type is None or e.get("assumption_type") == assumption_type]
        own = [e for e in typed if e.get("sector_code") == sector_code]
        covered = {e.get("assumption_type") for e in own}
        wide = [e for e in typed if e.get("sector_code") is None and e.get("assumption_type") not in covered]

        def key(e: Entry) -> tuple[str, str]:
            return (str(e.get("assumption_type")), str(e.get("id")))

        return sorted(own, key=key) + sorted(wide, key=key)

    def __repr__(self) -> str:
        where = self.tag or self.state.label
        return f"<Library {self.name} at {where}: {len(self)} entries>"


def parse_blob(repo: Repository, state: State, ref: FileRef) -> dict[str, Any]:
    """Parse one file through the shared cache; raise its syntax error."""
    result = store_for(repo).get(ref, state, ref.path)
    if isinstance(result, _Failure):
        raise result.error
    return result
