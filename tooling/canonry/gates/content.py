"""What the content gates (duplicates, conflicts, append-only, scope) share.

The libraries under every rule set in force, the draft's changed entries parsed
once, field positions, the library as the draft would land (the merge-base's
library with the draft's and main's changes laid over it), and indexes of it
cached by the library's tree id, in memory and in the repository's cache, or
shipped in git with the published versions (derived.py): the index of the
merge-base's own tree, or of a published tree near it with the difference
laid over it like the draft's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import EntrySyntaxError
from ..store import index as shipped
from ..store.entries import Library, parse_blob, store_for
from ..store.packed import PackedError
from ..store.registry import LibrarySpec
from ..store.repo import BLOB_MODE, Repository
from ..store.states import FileRef, State
from ..store.yamlio import Path, load_yaml_with_positions, position_of
from .context import GateContext
from .derived import INDEX_VERSION, Section, has_section, key_of, normalize_key, sections_for, source_of
from .findings import Finding

__all__ = ["INDEX_VERSION", "key_of", "normalize_key"]
SectionValue = Any  # what Section.open gives: a KeyedTable, a NearIndex, a Thresholds, a JSON value
NEARBY_CHANGES = 20_000  # a published tree at most this many files away serves as the base's index
NEARBY_VERSIONS = 8  # the latest published versions of a library tried as nearby trees (a tree diff each)
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

    def finding(
        self, entry: ChangedEntry, at: Path, *, library: str, gate: str, severity: str, message: str
    ) -> Finding:
        """A finding about a changed entry, placed at the node `at` of its file."""
        line, column = self.of(entry.ref, at)
        return Finding(
            path=entry.path,
            line=line,
            column=column,
            gate=gate,
            severity=severity,
            message=message,
            library=library,
            entry_id=entry.entry_id,
        )


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
    index_tree: str | None = None  # a nearby published tree whose shipped index stands in

    def index(self, ctx: GateContext, section: Section) -> SectionValue:
        """A section of the index under this landing (the base's, or the nearby tree's), opened."""
        return cached_section(ctx.repo, self.index_state, self.spec, section, self.index_tree)

    def describe(self, ctx: GateContext, entry_id: str) -> str:
        """`<id> (<title>)`, saying so when main gained it since the draft began."""
        doc: Any = self.fresh.get(entry_id)
        if doc is None:
            library = _library(ctx, self.spec)  # one entry by its path: no listing of the library
            try:
                doc = library[entry_id]
            except (KeyError, EntrySyntaxError):
                doc = {"id": entry_id}
        text = f"{entry_id} ({self.spec.summary(doc)})"
        return text + (", on main since this draft began" if entry_id in self.on_main else "")


def landing(ctx: GateContext, spec: LibrarySpec) -> Landing:
    """The library as the draft would land (computed once per gate run)."""
    key = ("landing", spec.name, id(spec))  # specs are not hashable; they live as long as ctx
    if key not in ctx.shared:
        ctx.shared[key] = _landing(ctx, spec)
    found: Landing = ctx.shared[key]
    return found


def _landing(ctx: GateContext, spec: LibrarySpec) -> Landing:
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
    tree = out.index_state.tree_id(spec.path)
    near = nearby(ctx, spec) if changed else None
    if near is not None and tree is not None:
        out.index_tree = near  # the base's index is the nearby one plus their difference
        for entry_id, doc in _tree_changes(ctx.repo, near, tree, spec):
            out.stale.add(entry_id)
            if doc is not None and entry_id not in touched:
                out.fresh[entry_id] = doc
    tip = ctx.options.base_tip
    if isinstance(tip, State) and ctx.base is not None and tip.commit != ctx.base.commit:
        for entry_id, doc in _tree_changes(
            ctx.repo, ctx.base.tree_id(spec.path), tip.tree_id(spec.path), spec
        ):
            if entry_id in touched:
                continue  # the draft's version stands (the conflicts gate compares them)
            out.stale.add(entry_id)
            if doc is not None:
                out.fresh[entry_id] = doc
                out.on_main.add(entry_id)
            else:
                out.fresh.pop(entry_id, None)
    return out


def nearby(ctx: GateContext, spec: LibrarySpec) -> str | None:
    """A published tree near the base's library tree whose shipped index can stand in for its own.

    None when the base's own index is at hand (cached here, or shipped) or none is near.
    Computed once per gate run.
    """
    key = ("nearby", spec.name, id(spec))
    if key not in ctx.shared:
        state = ctx.base or ctx.head
        ctx.shared[key] = _nearby(ctx.repo, spec, state.tree_id(spec.path))
    found: str | None = ctx.shared[key]
    return found


def section_at_hand(repo: Repository, spec: LibrarySpec, tree: str, section: Section) -> bool:
    """Whether a tree's section is in memory, in the local cache, or shipped (not yet audited)."""
    key = f"{section.key(spec)}:{tree}"
    if f"{repo.git_dir}\0{key}" in _MEMORY or store_for(repo).has_results([key]):
        return True
    return has_section(repo, spec, tree, section)


def _nearby(repo: Repository, spec: LibrarySpec, tree: str | None) -> str | None:
    wanted = sections_for(spec)
    if tree is None:
        return None
    store = store_for(repo)
    keys = [f"{s.key(spec)}:{tree}" for s in wanted]
    if any(f"{repo.git_dir}\0{k}" in _MEMORY for k in keys) or store.has_results(keys):
        return None
    if shipped.read(repo, tree) is not None:
        return None
    found = shipped.nearest(repo, tree, NEARBY_CHANGES, _published_trees(repo, spec))
    if found is None or not all(has_section(repo, spec, found[0], s) for s in wanted):
        return None
    return found[0]


def _tree_changes(
    repo: Repository, old_tree: str | None, new_tree: str | None, spec: LibrarySpec
) -> list[tuple[str, dict[str, Any] | None]]:
    """(entry id, its entry at new_tree or None) for every entry that differs between two library trees.

    None also for an entry that is not a plain file or does not parse there (the
    per-file gates report those).
    """
    if old_tree == new_tree:
        return []
    out = []
    store = store_for(repo)
    for change in repo.diff_trees(old_tree, new_tree):
        entry_id = spec.id_from_relative_path(change.path)
        if entry_id is None:
            continue
        doc = None
        if change.new_oid is not None and change.new_mode == BLOB_MODE:
            try:
                doc = store.parse_blob(repo, FileRef(f"{spec.path}/{change.path}", change.new_oid, BLOB_MODE))
            except EntrySyntaxError:
                doc = None
        out.append((entry_id, doc))
    return out


def _library(ctx: GateContext, spec: LibrarySpec) -> Library:
    base_spec = ctx.rules.registry.libraries.get(spec.name) if ctx.rules.registry else None
    return ctx.head_library(spec) if base_spec == spec else Library(ctx.head, spec)


def _published_trees(repo: Repository, spec: LibrarySpec, latest: int = NEARBY_VERSIONS) -> list[str]:
    """The library's trees at its latest published versions (tags `<library>/v<N>`), newest first."""
    versions = []
    for name in repo.refs(f"refs/tags/{spec.name}/v"):
        number = name.rsplit("/v", 1)[-1]
        if number.isdigit():
            versions.append((int(number), name))
    out = []
    for _, name in sorted(versions, reverse=True)[:latest]:
        commit = repo.try_resolve_commit(name)
        tree = repo.subtree(repo.tree_of(commit), spec.path) if commit else None
        if tree:
            out.append(tree)
    return out


def cached_section(
    repo: Repository, state: State, spec: LibrarySpec, section: Section, tree: str | None = None
) -> SectionValue:
    """A section of the index of a library at a state, opened; cached by the library's tree id.

    `tree` names a nearby tree whose shipped index stands in for the state's (see
    `section_at`, which also says which tree the value describes).
    """
    return section_at(repo, state, spec, section, tree)[1]


def section_at(
    repo: Repository, state: State, spec: LibrarySpec, section: Section, tree: str | None = None
) -> tuple[str | None, SectionValue]:
    """(the tree it describes, a section of the index of a library at a state, opened).

    Looked up in memory, then in the repository's cache, then in the index shipped
    for the tree (verified and audited); built from the entries only when all miss.
    A nearby tree's shipped section that fails its checks is replaced by the
    state's own, built from its entries.
    """
    own = state.tree_id(spec.path)
    tree = tree or own
    if tree is None:
        return None, section.open(section.make(source_of(state, spec)))
    key = f"{section.key(spec)}:{tree}"
    memory_key = f"{repo.git_dir}\0{key}"
    value = _MEMORY.get(memory_key)
    if value is not None:
        return tree, value
    store = store_for(repo)
    raw = store.get_result(key)
    try:
        value = section.open(raw) if isinstance(raw, bytes) else None
    except PackedError:
        value = None  # a damaged local cache: rebuild
    if value is None:
        from .index_audit import shipped_section

        raw = shipped_section(repo, spec, tree, section)
        if raw is None:
            if tree != own:  # the nearby tree's index was refused: the state's own instead
                return section_at(repo, state, spec, section)
            raw = section.make(source_of(state, spec))
        store.put_result(key, raw)
        value = section.open(raw)
    _remember(memory_key, value)
    return tree, value


def _remember(key: str, value: Any) -> None:
    if len(_MEMORY) >= _MEMORY_SIZE:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = value
