"""What the content gates (duplicates, conflicts, append-only, scope) share.

The libraries under every rule set in force, the draft's changed entries parsed
once, field positions, the library as the draft would land (the merge-base's
library with the draft's and main's changes laid over it), and indexes of it
cached by the library's tree id, in memory and in the repository's cache.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import EntrySyntaxError
from ..store.entries import Library, parse_blob, store_for
from ..store.registry import LibrarySpec
from ..store.repo import BLOB_MODE, Repository
from ..store.states import FileRef, State
from ..store.yamlio import Path, load_yaml_with_positions, position_of
from .context import GateContext

INDEX_VERSION = "4"
_MEMORY: dict[str, Any] = {}
_MEMORY_SIZE = 32


# --- shared by the content gates -------------------------------------------------------


def content_specs(ctx: GateContext) -> list[LibrarySpec]:
    """Each library as every rule set in force declares it (base, and the draft's when it changes them)."""
    out: list[LibrarySpec] = []
    for rules in ctx.rule_sets():
        registry = rules.registry
        if registry is None:
            continue
        for name in ctx.only_libraries or tuple(registry.names()):
            spec = registry.libraries.get(name)
            if spec is not None and spec not in out:
                out.append(spec)
    return out


@dataclass(frozen=True)
class ChangedEntry:
    """A new or changed entry of the draft that parses (the yaml gate reports those that don't)."""

    entry_id: str
    ref: FileRef
    doc: dict[str, Any]
    old: FileRef | None

    @property
    def path(self) -> str:
        return self.ref.path


def entry_id_of(spec: LibrarySpec, path: str) -> str | None:
    if not path.startswith(spec.path + "/"):
        return None
    return spec.id_from_relative_path(path[len(spec.path) + 1 :])


def changed_entries(ctx: GateContext, spec: LibrarySpec) -> list[ChangedEntry]:
    """The draft's new or changed, well-placed, parseable entries of a library, by path."""
    out = []
    for change in ctx.changed_entries(spec):
        new = change.new
        if new is None or new.mode != BLOB_MODE:
            continue
        entry_id = entry_id_of(spec, new.path)
        if entry_id is None:
            continue  # the identity gate reports misplaced files
        try:
            doc = parse_blob(ctx.repo, ctx.head, new)
        except EntrySyntaxError:
            continue
        out.append(ChangedEntry(entry_id, new, doc, change.old))
    return out


class Positions:
    """Line and column of nodes in a state's blobs, parsed only for entries that have findings."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._cache: dict[str, dict[Path, tuple[int, int]]] = {}

    def of(self, ref: FileRef, path: Path) -> tuple[int | None, int | None]:
        positions = self._cache.get(ref.oid)
        if positions is None:
            try:
                _, positions = load_yaml_with_positions(self.state.read(ref), ref.path)
            except EntrySyntaxError:
                positions = {}
            self._cache[ref.oid] = positions
        return position_of(positions, path) or (None, None)


@dataclass
class Landing:
    """A library as the draft would land: an index of the merge-base, plus what is newer than it.

    `fresh` holds the draft's versions and those main gained since the draft
    began (ids the draft did not touch); `stale` the ids whose indexed version
    no longer stands (changed or deleted on either side).
    """

    spec: LibrarySpec
    index_state: State
    changed: list[ChangedEntry]
    fresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    on_main: set[str] = field(default_factory=set)

    def describe(self, ctx: GateContext, entry_id: str) -> str:
        """`<id> (<title>)`, saying so when main gained it since the draft began."""
        doc: Any = self.fresh.get(entry_id)
        if doc is None:
            library = _library(ctx, self.spec)
            _ = library.index  # one listing (the engine counts entries with it anyway), no path lookups
            try:
                doc = library[entry_id]
            except (KeyError, EntrySyntaxError):
                doc = {"id": entry_id}
        text = f"{entry_id} ({self.spec.summary(doc)})"
        return text + (", on main since this draft began" if entry_id in self.on_main else "")


def landing(ctx: GateContext, spec: LibrarySpec) -> Landing:
    changed = changed_entries(ctx, spec)
    out = Landing(spec, ctx.base or ctx.head, changed)
    touched: set[str] = set()
    for change in ctx.changed_entries(spec):
        for ref in (change.old, change.new):
            entry_id = entry_id_of(spec, ref.path) if ref is not None else None
            if entry_id is not None:
                touched.add(entry_id)
    out.stale |= touched
    for entry in changed:
        out.fresh[entry.entry_id] = entry.doc
    tip = ctx.options.get("base_tip")
    if isinstance(tip, State) and ctx.base is not None and tip.commit != ctx.base.commit:
        for entry_id, doc in _main_changes(ctx.repo, ctx.base, tip, spec):
            if entry_id in touched:
                continue  # the draft's version stands (the conflicts gate compares them)
            out.stale.add(entry_id)
            if doc is not None:
                out.fresh[entry_id] = doc
                out.on_main.add(entry_id)
    return out


def _main_changes(
    repo: Repository, base: State, tip: State, spec: LibrarySpec
) -> Iterable[tuple[str, dict[str, Any] | None]]:
    old_tree, new_tree = base.tree_id(spec.path), tip.tree_id(spec.path)
    if old_tree == new_tree:
        return
    for change in repo.diff_trees(old_tree, new_tree):
        entry_id = spec.id_from_relative_path(change.path)
        if entry_id is None:
            continue
        doc = None
        if change.new_oid is not None and change.new_mode == BLOB_MODE:
            path = f"{spec.path}/{change.path}"
            try:
                doc = parse_blob(repo, tip, FileRef(path, change.new_oid, change.new_mode))
            except EntrySyntaxError:
                doc = None
        yield entry_id, doc


def _library(ctx: GateContext, spec: LibrarySpec) -> Library:
    base_spec = ctx.rules.registry.libraries.get(spec.name) if ctx.rules.registry else None
    return ctx.head_library(spec) if base_spec == spec else Library(ctx.head, spec)


def cached_index(
    repo: Repository,
    state: State,
    spec: LibrarySpec,
    kind: str,
    params: Any,
    build: Callable[[dict[str, dict[str, Any]]], Any],
) -> Any:
    """build({id: entry}) over a library at a state, cached by the library's tree id.

    The value must be marshal-able (it is kept in the repository's cache).
    """
    tree = state.tree_id(spec.path)
    if tree is None:
        return build(_docs(state, spec)) if state.files(spec.path) else build({})
    key = f"{kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(params)}:{tree}"
    memory_key = f"{repo.git_dir}\0{key}"
    value = _MEMORY.get(memory_key)
    if value is None:
        store = store_for(repo)
        value = store.get_result(key)
        if value is None:
            value = build(_docs(state, spec))
            store.put_result(key, value)
        _remember(memory_key, value)
    return value


def keyed_lookup(
    repo: Repository,
    state: State,
    spec: LibrarySpec,
    kind: str,
    params: Any,
    build: Callable[[dict[str, dict[str, Any]]], dict[str, Any]],
    keys: Iterable[str],
) -> dict[str, Any]:
    """{key: value} for the wanted keys of a keyed index build({id: entry}) of a library at a state.

    The index is built once per library tree id and kept row by row in the
    repository's cache, so a lookup reads the draft's keys, not the whole index.
    """
    wanted = sorted(set(keys))
    tree = state.tree_id(spec.path)
    if tree is None:
        everything = build(_docs(state, spec)) if state.files(spec.path) else {}
        return {k: everything[k] for k in wanted if k in everything}
    prefix = f"{kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(params)}:{tree}"
    memory_key = f"{repo.git_dir}\0{prefix}"
    full = _MEMORY.get(memory_key)
    if full is None:
        store = store_for(repo)
        if store.get_result(prefix + "#built") is not None:
            rows = store.get_results([f"{prefix}={k}" for k in wanted])
            return {k: rows[f"{prefix}={k}"] for k in wanted if f"{prefix}={k}" in rows}
        full = build(_docs(state, spec))
        # the marker goes last: an interrupted write leaves an index that is rebuilt
        store.put_results([(f"{prefix}={k}", v) for k, v in full.items()] + [(prefix + "#built", 1)])
        _remember(memory_key, full)
    return {k: full[k] for k in wanted if k in full}


def _remember(key: str, value: Any) -> None:
    if len(_MEMORY) >= _MEMORY_SIZE:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = value


def _docs(state: State, spec: LibrarySpec) -> dict[str, dict[str, Any]]:
    parsed = Library(state, spec).parse_all()
    return {eid: doc for eid, doc in parsed.items() if isinstance(doc, dict)}


def normalize_key(value: Any) -> str:
    """A key field's matching form: NFKC, case folded, whitespace collapsed; others as JSON."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def key_of(doc: dict[str, Any], fields: Iterable[str]) -> str | None:
    """The normalized key of an entry, or None when it has none of the key fields."""
    values = [doc.get(f) for f in fields]
    if all(v is None for v in values):
        return None
    return "\x1f".join(normalize_key(v) for v in values)
