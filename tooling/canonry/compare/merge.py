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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import EntrySyntaxError, RegistryError
from ..store.registry import REGISTRY_PATH, LibrarySpec, parse_registry
from ..store.repo import BLOB_MODE, EXEC_MODE, Change, Repository
from ..store.yamlio import dump_yaml, load_mapping, load_yaml

# kinds of conflict
FIELD = "field"  # the same field changed two ways (or added two ways)
DELETE = "delete"  # a field changed on one side, deleted on the other
DELETE_ENTRY = "delete-entry"  # an entry deleted on one side, this field changed on the other
SYNTAX = "syntax"  # a side, or the textual merge, does not parse with the strict loader
TEXT = "text"  # a file that is not an entry: git's text merge left conflict markers
FILE = "file"  # modes, links or a file against a folder: nothing to merge field by field

_TEXT_CHECKED = ("knowledge/", "schemas/")


class _Absent:
    """A field (or an entry) one side does not have."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldConflict:
    """One thing a merge could not decide; `field` is a "/"-joined path of keys (RFC 6901 escapes)."""

    library: str | None
    entry_id: str | None
    path: str | None
    field: str | None
    base: Any
    ours: Any
    theirs: Any
    kind: str = FIELD
    detail: str = ""  # the problem (syntax, text, file); for delete-entry, the side that deleted

    def describe(self, ours: str = "ours", theirs: str = "theirs") -> str:
        """`entry X: field F changed two ways: base 1, ours 2, theirs 3`, with the given side names."""
        what = f"entry {self.entry_id}" if self.entry_id else (self.path or "(tree)")
        if self.kind == SYNTAX:
            return f"{what}: does not parse after merging: {self.detail}"
        if self.kind in (TEXT, FILE):
            return f"{what}: {self.detail}"
        values = f"base {_show(self.base)}, {ours} {_show(self.ours)}, {theirs} {_show(self.theirs)}"
        if self.kind == DELETE_ENTRY:
            gone, kept = (ours, theirs) if self.detail == "ours" else (theirs, ours)
            value = self.theirs if self.detail == "ours" else self.ours
            return (
                f"{what}: deleted by {gone}, but {kept} changed field {self.field}:"
                f" base {_show(self.base)}, {kept} {_show(value)}"
            )
        if self.kind == DELETE:
            return f"{what}: field {self.field} deleted on one side, changed on the other: {values}"
        return f"{what}: field {self.field} changed two ways: {values}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; an absent value is null and listed under `absent`."""
        sides = {"base": self.base, "ours": self.ours, "theirs": self.theirs}
        return {
            "library": self.library,
            "entry_id": self.entry_id,
            "path": self.path,
            "field": self.field,
            "kind": self.kind,
            **{k: None if v is ABSENT else v for k, v in sides.items()},
            "absent": [k for k, v in sides.items() if v is ABSENT],
            "detail": self.detail,
        }

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.path or "", self.field or "", self.kind, self.detail)


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


# --- entries ------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal as YAML data: types count (`1`, `1.0` and `true` differ), key order does not."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def merge_entry(
    base: Mapping[str, Any] | None, ours: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, list[FieldConflict]]:
    """Merge one entry's three versions (None: the entry is absent on that side).

    Returns the merged entry (None when deleted) and the conflicts; where there
    are conflicts the merged entry holds ours at each conflicting field. The
    result shares nested values with its inputs: copy it before changing it.
    """
    b, o, t = _plain(base), _plain(ours), _plain(theirs)
    entry_id = next((str(d["id"]) for d in (o, t, b) if d is not None and "id" in d), None)
    if same(o, t):
        return o, []
    if same(b, o):
        return t, []
    if same(b, t):
        return o, []
    if o is None or t is None:
        changed = o if t is None else t
        assert changed is not None
        conflicts = []
        gone = "ours" if o is None else "theirs"
        for key, old, new in _changed_fields(b or {}, changed, ()):
            ours_v, theirs_v = (new, ABSENT) if t is None else (ABSENT, new)
            conflicts.append(
                FieldConflict(None, entry_id, None, key, old, ours_v, theirs_v, DELETE_ENTRY, gone)
            )
        return o, conflicts
    found: list[FieldConflict] = []
    merged = _merge_mapping(b or {}, o, t, (), entry_id, found)
    return merged, found


def _plain(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if doc is None or isinstance(doc, dict):
        return doc
    to_dict = getattr(doc, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(doc)


def _merge_mapping(
    b: dict[str, Any],
    o: dict[str, Any],
    t: dict[str, Any],
    at: tuple[str, ...],
    entry_id: str | None,
    found: list[FieldConflict],
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in _ordered_keys(o, t, b):
        bv, ov, tv = b.get(key, ABSENT), o.get(key, ABSENT), t.get(key, ABSENT)
        if same(ov, tv) or same(bv, tv):
            value = ov
        elif same(bv, ov):
            value = tv
        elif isinstance(ov, dict) and isinstance(tv, dict) and (bv is ABSENT or isinstance(bv, dict)):
            value = _merge_mapping(bv if isinstance(bv, dict) else {}, ov, tv, (*at, key), entry_id, found)
        else:
            kind = DELETE if ABSENT in (ov, tv) and bv is not ABSENT else FIELD
            found.append(FieldConflict(None, entry_id, None, _pointer((*at, key)), bv, ov, tv, kind))
            value = ov
        if value is not ABSENT:
            merged[key] = value
    return merged


def _ordered_keys(*docs: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for doc in docs:
        for key in doc:
            seen.setdefault(key, None)
    return list(seen)


def _changed_fields(
    old: dict[str, Any], new: dict[str, Any], at: tuple[str, ...]
) -> Iterable[tuple[str, Any, Any]]:
    for key in _ordered_keys(new, old):
        ov, nv = old.get(key, ABSENT), new.get(key, ABSENT)
        if same(ov, nv):
            continue
        if isinstance(ov, dict) and isinstance(nv, dict):
            yield from _changed_fields(ov, nv, (*at, key))
        else:
            yield _pointer((*at, key)), ov, nv


def _pointer(keys: tuple[str, ...]) -> str:
    return "/".join(str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def field_keys(field: str) -> list[str]:
    """The keys of a conflict's field path, from the top."""
    return [k.replace("~1", "/").replace("~0", "~") for k in field.split("/")]


# --- files --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileMerge:
    """One file merged: its bytes (None: deleted) and what could not be decided.

    With conflicts, `data` is what a person resolves: the entry with each
    conflicting top-level field between conflict markers, or git's text merge.
    """

    data: bytes | None
    conflicts: tuple[FieldConflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


def merge_versions(
    repo: Repository,
    path: str,
    entry: tuple[str, str] | None,
    base: bytes | None,
    ours: bytes | None,
    theirs: bytes | None,
    labels: tuple[str, str] = ("ours", "theirs"),
) -> FileMerge:
    """Merge three versions of one file (None: absent on that side).

    `entry` is (library, id) for an entry file, merged field by field; any
    other file is merged as text.
    """
    if entry is None:
        return _merge_text(repo, path, None, base, ours, theirs, labels)
    library, entry_id = entry
    docs: list[dict[str, Any] | None] = []
    for side, data in (("base", base), (labels[0], ours), (labels[1], theirs)):
        if data is None:
            docs.append(None)
            continue
        try:
            docs.append(load_mapping(data, f"{path} ({side})"))
        except EntrySyntaxError:
            return _merge_text(repo, path, entry, base, ours, theirs, labels)
    merged, conflicts = merge_entry(*docs)
    conflicts = [replace(c, library=library, path=path) for c in conflicts]
    if conflicts:
        return FileMerge(_marked(merged, docs[1], docs[2], conflicts, labels), tuple(conflicts))
    if merged is None:
        return FileMerge(None)
    for data, doc in ((ours, docs[1]), (theirs, docs[2])):
        if data is not None and same(merged, doc):
            return FileMerge(data)  # untouched bytes stay untouched
    return FileMerge(dump_yaml(merged).encode("utf-8"))


def _merge_text(
    repo: Repository,
    path: str,
    entry: tuple[str, str] | None,
    base: bytes | None,
    ours: bytes | None,
    theirs: bytes | None,
    labels: tuple[str, str],
) -> FileMerge:
    library, entry_id = entry if entry else (None, None)
    if ours is None or theirs is None:
        return FileMerge(
            ours,
            (
                FieldConflict(
                    library, entry_id, path, None, ABSENT, ABSENT, ABSENT, FILE, _deleted(ours, labels)
                ),
            ),
        )
    data, clean = repo.merge_file(base or b"", ours, theirs, (labels[0], "base", labels[1]))
    if not clean:
        detail = "changed on both sides; git's text merge left conflict markers"
        return FileMerge(
            data, (FieldConflict(library, entry_id, path, None, ABSENT, ABSENT, ABSENT, TEXT, detail),)
        )
    if entry is not None or (path.endswith((".yaml", ".yml")) and path.startswith(_TEXT_CHECKED)):
        try:
            (load_mapping if entry is not None else load_yaml)(data, path)
        except EntrySyntaxError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            conflict = FieldConflict(
                library, entry_id, path, None, ABSENT, ABSENT, ABSENT, SYNTAX, where + exc.problem
            )
            return FileMerge(data, (conflict,))
    return FileMerge(data)


def _deleted(ours: bytes | None, labels: tuple[str, str]) -> str:
    gone, kept = (labels[0], labels[1]) if ours is None else (labels[1], labels[0])
    return f"deleted by {gone}, changed by {kept}"


def _marked(
    merged: dict[str, Any] | None,
    ours: dict[str, Any] | None,
    theirs: dict[str, Any] | None,
    conflicts: list[FieldConflict],
    labels: tuple[str, str],
) -> bytes:
    """The merged entry with each conflicting top-level field between conflict markers."""
    o, t, m = ours or {}, theirs or {}, merged or {}
    contested = {field_keys(c.field)[0] for c in conflicts if c.field}
    keys = sorted(set(o) | set(t) | set(m))
    if "id" in keys:
        keys.remove("id")
        keys.insert(0, "id")
    out: list[str] = []
    for key in keys:
        if key in contested:
            out.append(f"<<<<<<< {labels[0]}\n")
            if key in o:
                out.append(dump_yaml({key: o[key]}))
            out.append("=======\n")
            if key in t:
                out.append(dump_yaml({key: t[key]}))
            out.append(f">>>>>>> {labels[1]}\n")
        elif key in m:
            out.append(dump_yaml({key: m[key]}))
    return "".join(out).encode("utf-8")


# --- trees --------------------------------------------------------------------------


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
