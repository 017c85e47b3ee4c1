"""Three-way structured merge of entries, files and trees (and the merge driver's core).

Entries merge by id, field by field: a field changed on one side only takes
that change; the same field changed the same way on both sides is taken once;
nested mappings merge key by key; lists and scalars are whole values. The same
field changed two ways, or changed on one side and deleted (or its entry
deleted) on the other, is a `FieldConflict` naming the entry, the field, and
the base, ours and theirs values (`ABSENT` where a side has none).

`merge_trees(repo, base, ours, theirs)` merges three commits' trees without a
work tree:

- a path changed on one side only takes that side's object (mode kept);
- an entry file (a well-placed `<library>/<id>.yaml`, libraries from the base's
  registry, else ours', else theirs') changed on both sides is parsed with the
  strict loader and merged with `merge_entry`, then written with `dump_yaml`
  (or kept byte for byte when the result equals one side);
- any other file changed on both sides is merged as text by `git merge-file`;
  an entry that has to be merged as text (a side that does not parse) and
  YAML under knowledge/ or schemas/ are parsed again with the strict loader, so
  that a clean textual merge that yields, say, a duplicate key is a conflict.

The result is deterministic: the same three commits give the same tree id and
the same conflicts, sorted by path and field. `tree_id` is None whenever there
is a conflict; nothing is written to any ref. `publish` builds its merge commit
from `merge_trees(repo, merge_base, main_tip, draft_tip).tree_id`, so "ours" is
main and "theirs" the draft there; the conflicts gate reports them that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import RegistryError
from ..store.registry import REGISTRY_PATH, LibrarySpec, parse_registry
from ..store.repo import BLOB_MODE, EXEC_MODE, Change, Repository
from .entry_merge import (
    ABSENT,
    DELETE,
    DELETE_ENTRY,
    FIELD,
    FILE,
    SYNTAX,
    TEXT,
    FieldConflict,
    field_keys,
    merge_entry,
    same,
)
from .file_merge import FileMerge, merge_versions

__all__ = [
    "ABSENT",
    "DELETE",
    "DELETE_ENTRY",
    "FIELD",
    "FILE",
    "SYNTAX",
    "TEXT",
    "EntryLocator",
    "FieldConflict",
    "FileMerge",
    "TreeMerge",
    "field_keys",
    "merge_entry",
    "merge_for_driver",
    "merge_trees",
    "merge_versions",
    "same",
]


@dataclass(frozen=True)
class TreeMerge:
    """A merged tree (None when there are conflicts), its conflicts, the paths merged from both sides."""

    tree_id: str | None
    conflicts: tuple[FieldConflict, ...]
    merged_paths: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.conflicts


class EntryLocator:
    """Which paths are entries: the libraries of the first registry that parses."""

    def __init__(self, specs: Iterable[LibrarySpec]) -> None:
        self.specs = sorted(specs, key=lambda s: s.path)

    @classmethod
    def from_trees(cls, repo: Repository, trees: Iterable[str | None]) -> EntryLocator:
        by_path: dict[str, LibrarySpec] = {}
        for tree in trees:
            item = repo.entry_at(tree, REGISTRY_PATH) if tree else None
            if item is None or item.is_tree:
                continue
            try:
                registry = parse_registry(repo.read_blob(item.oid))
            except RegistryError:
                continue
            for spec in registry.libraries.values():
                by_path.setdefault(spec.path, spec)
        return cls(by_path.values())

    def entry_of(self, path: str) -> tuple[str, str] | None:
        """(library, id) when path is a well-placed entry file."""
        for spec in self.specs:
            if path.startswith(spec.path + "/"):
                entry_id = spec.id_from_relative_path(path[len(spec.path) + 1 :])
                return (spec.name, entry_id) if entry_id else None
        return None


def merge_trees(repo: Repository, base_commit: str | None, ours_commit: str, theirs_commit: str) -> TreeMerge:
    """Merge theirs into ours from base (None: no common history); write no ref.

    See the module docstring for the rules. Cost follows the two sides'
    changes, not the size of the trees.
    """
    base_tree = repo.tree_of(base_commit) if base_commit else None
    ours_tree = repo.tree_of(ours_commit)
    theirs_tree = repo.tree_of(theirs_commit)
    ours_changes = {c.path: c for c in repo.diff_trees(base_tree, ours_tree)}
    theirs_changes = {c.path: c for c in repo.diff_trees(base_tree, theirs_tree)}
    locator = EntryLocator.from_trees(repo, (base_tree, ours_tree, theirs_tree))
    ours_files = {p for p, c in ours_changes.items() if c.new_oid is not None}
    ours_folders = {p.rsplit("/", i)[0] for p in ours_files for i in range(1, p.count("/") + 1)}
    updates: dict[str, tuple[str, int] | None] = {}
    conflicts: list[FieldConflict] = []
    merged_paths: list[str] = []
    for path in sorted(theirs_changes):
        t = theirs_changes[path]
        o = ours_changes.get(path)
        if o is None:
            problem = _placement_problem(path, t, ours_files, ours_folders)
            if problem:
                conflicts.append(_file_conflict(locator, path, problem))
            else:
                updates[path] = (t.new_oid, t.new_mode) if t.new_oid and t.new_mode else None
            continue
        if (o.new_oid, o.new_mode) == (t.new_oid, t.new_mode):
            continue  # the same change on both sides
        merged_paths.append(path)
        outcome = _merge_path(repo, locator, path, o, t)
        if isinstance(outcome, FileMerge):
            conflicts.extend(outcome.conflicts)
        else:
            updates[path] = outcome
    conflicts.sort(key=FieldConflict.sort_key)
    if conflicts:
        return TreeMerge(None, tuple(conflicts), tuple(merged_paths))
    tree = repo.update_tree(ours_tree, updates) if updates else ours_tree
    return TreeMerge(tree, (), tuple(merged_paths))


def _merge_path(
    repo: Repository, locator: EntryLocator, path: str, o: Change, t: Change
) -> tuple[str, int] | None | FileMerge:
    """A path changed two ways: the merged (oid, mode), None for deleted, or a FileMerge with conflicts."""
    old_mode = o.old_mode  # both sides started from the same base object
    modes = {m for m in (o.old_mode, o.new_mode, t.new_mode) if m is not None}
    if not modes <= {BLOB_MODE, EXEC_MODE}:
        return FileMerge(None, (_file_conflict(locator, path, "a link or submodule changed on both sides"),))
    mode = _merge_mode(old_mode, o.new_mode, t.new_mode)
    if mode is False:
        return FileMerge(None, (_file_conflict(locator, path, "file mode changed two ways"),))
    base = repo.read_blob(o.old_oid) if o.old_oid else None
    ours = repo.read_blob(o.new_oid) if o.new_oid else None
    theirs = repo.read_blob(t.new_oid) if t.new_oid else None
    result = merge_versions(repo, path, locator.entry_of(path), base, ours, theirs)
    if not result.clean:
        return result
    if result.data is None:
        return None
    return (repo.write_blob(result.data), mode or BLOB_MODE)


def _merge_mode(base: int | None, ours: int | None, theirs: int | None) -> int | None | bool:
    if ours is None or theirs is None or ours == theirs:
        return ours if ours is not None else theirs
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    return False


def _placement_problem(path: str, change: Change, ours_files: set[str], ours_folders: set[str]) -> str | None:
    """A change of theirs only that cannot land in ours' tree: ours made a folder of its file, or the reverse.

    Judged from ours' own changes (a file ours kept from the base is theirs to move).
    """
    if change.new_oid is None:
        return None
    if path in ours_folders:
        return "a file on one side, a folder on the other"
    parts = path.split("/")
    if any("/".join(parts[:i]) in ours_files for i in range(1, len(parts))):
        return "a folder on one side, a file on the other"
    return None


def _file_conflict(locator: EntryLocator, path: str, detail: str) -> FieldConflict:
    library, entry_id = locator.entry_of(path) or (None, None)
    return FieldConflict(library, entry_id, path, None, ABSENT, ABSENT, ABSENT, FILE, detail)


def merge_for_driver(
    repo: Repository, path: str, base: bytes | None, ours: bytes, theirs: bytes
) -> FileMerge:
    """What `canonry merge-driver` does with git's three files (an empty base: no common ancestor).

    Whether path is an entry is read from the registry at HEAD (ours) or MERGE_HEAD.
    """
    commits = (repo.try_resolve_commit("HEAD"), repo.try_resolve_commit("MERGE_HEAD"))
    locator = EntryLocator.from_trees(repo, [repo.tree_of(c) for c in commits if c])
    return merge_versions(repo, path, locator.entry_of(path), base or None, ours, theirs)
