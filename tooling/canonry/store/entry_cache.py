"""Parsed entries cached by blob id: in memory and in `<git dir>/canonry/cache.sqlite3`.

A blob id names its bytes, so a parse keyed by it never goes stale. The file
is shared between processes (CLI, CI, runtime) and stored with `marshal`
(entries are plain JSON-like data; the file is ours, under .git, never
fetched). Also holds the in-process memo of index rows and loaded versions.
"""

from __future__ import annotations

import gc
import marshal
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..errors import EntrySyntaxError
from .repo import Repository
from .states import FileRef, State
from .yamlio import load_mapping


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
        self._unkept: set[str] = set()  # blobs parsed (or adopted) but not held in memory
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
        self.prefetch([r.oid for _, r in refs])
        out = self.parse_many(refs, state)
        self.flush()
        return out

    def prefetch(self, oids: list[str]) -> None:
        """Bring the stored parses of these blobs into memory."""
        self._fetch([oid for oid in oids if oid not in self._memory])

    def parse_many(
        self, refs: Iterable[tuple[str, FileRef]], state: State, keep: bool = True
    ) -> dict[str, dict[str, Any] | _Failure]:
        """Like get_many from memory only: the database is not touched (a forked worker's share).

        Without keep, new parses are not held in memory (when the database holds them):
        a pass over many files leaves no heap for the collector to walk again and again.
        """
        out: dict[str, dict[str, Any] | _Failure] = {}
        keep = keep or self._db is None
        with gc_paused():
            for source, ref in refs:
                got = self._memory.get(ref.oid)
                if got is None:
                    got = out.get(ref.oid)
                if got is None:
                    got = self._parse(state.read(ref), source, ref.oid, keep)
                out[ref.oid] = got
        return out

    def take_pending(self) -> list[tuple[str, bytes]]:
        """The rows of the parses made since the last flush (a worker hands them to its parent)."""
        rows, self._pending = self._pending, []
        return rows

    def adopt(self, rows: list[tuple[str, bytes]]) -> None:
        """A worker's parses, written with the next flush; blobs parsed here already are kept as they are."""
        for oid, blob in rows:
            if oid in self._memory or oid in self._unkept:
                continue
            self._unkept.add(oid)
            if self._db is None:
                self._memory[oid] = _decode(blob)
            else:
                self._pending.append((oid, blob))

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

    def _parse(self, data: bytes, source: str, oid: str, keep: bool = True) -> dict[str, Any] | _Failure:
        result: dict[str, Any] | _Failure
        try:
            result = load_mapping(data, source)
        except EntrySyntaxError as exc:
            result = _Failure(exc)
        if keep:
            self._memory[oid] = result
        elif oid in self._unkept:
            return result  # its row is written already (or on its way)
        else:
            self._unkept.add(oid)
        self._pending.append((oid, _encode(result)))
        return result

    def flush(self, batch: int = 0) -> None:
        """Write the pending parses (only once there are batch of them)."""
        if self._db is None or not self._pending:
            self._pending.clear()
            return
        if len(self._pending) < batch:
            return
        self._pending.sort(key=_first)  # in key order the table's b-tree takes them at half the cost
        self._write_many("INSERT OR REPLACE INTO entries VALUES (?, ?)", self._pending)
        self._pending.clear()

    def _write_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Write rows in one transaction (a commit per row costs more than the rows)."""
        if self._db is None:
            return
        with suppress(sqlite3.Error):
            self._db.execute("BEGIN")
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

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
        try:
            rows = [(k, marshal.dumps(v)) for k, v in items]
        except ValueError:
            return
        self._write_many("INSERT OR REPLACE INTO results VALUES (?, ?)", rows)

    def put_result(self, key: str, value: Any) -> None:
        if self._db is None:
            return
        with suppress(sqlite3.Error, ValueError):
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, marshal.dumps(value)))


def _first(row: tuple[str, bytes]) -> str:
    return row[0]


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


def recall(key: str) -> Any:
    """What `remember` kept under key, or None."""
    return _MEMO.get(key)


def remember(key: str, value: Any) -> None:
    """Keep value under key, dropping the oldest beyond the last few."""
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
