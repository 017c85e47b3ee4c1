"""Entry- and field-level diffs between two refs: the `canonry.diff/v1` document.

A diff walks the two library subtrees with a tree-to-tree diff and parses only
the blobs that differ (through the shared store, so each blob is parsed once per
repository): its cost follows the size of the change, not of the library.

Each changed node is reported at the JSON Pointer (RFC 6901) of the smallest
node that differs; lists compare as whole values. A row's `op` says whether the
node was added, removed or replaced, with JSON Patch's (RFC 6902) names: an
absent side is reported as null *and* named by `op` ("add": absent before,
"remove": absent after), so an explicit null is never confused with absence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import (
    EntrySyntaxError,
    RegistryError,
    UnknownLibraryError,
    UnknownRefError,
    UsageError,
)
from ..store.entry_cache import store_for
from ..store.registry import LIBRARY_NAME_RE, REGISTRY_PATH, LibrarySpec, Registry
from ..store.repo import Repository
from ..store.rules import registry_in_tree
from ..store.states import FileRef, TreeState
from .values import same_value, show_value

FORMAT = "canonry.diff/v1"
_LIBRARY_NAME = LIBRARY_NAME_RE[1:-1]


@dataclass(frozen=True)
class Endpoint:
    """One side of a diff: what the user named, the commit, the library it names (if any)."""

    ref: str
    commit: str
    library: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "commit": self.commit}


def resolve_endpoint(repo: Repository, text: str) -> Endpoint:
    """Resolve `mapping@v4`, `mapping@4`, `mapping@latest`, `mapping@REF`, or any git ref."""
    lib, at, rest = text.partition("@")
    if at and rest and not rest.startswith("{") and re.fullmatch(_LIBRARY_NAME, lib):
        from ..store.versions import is_version_selector, resolve_version  # only LIBRARY@... sides

        if is_version_selector(rest):
            version = resolve_version(repo, lib, rest)
            return Endpoint(version.tag, version.commit, lib)
        commit = repo.try_resolve_commit(rest)
        if commit is not None:
            return Endpoint(rest, commit, lib)
        whole = repo.try_resolve_commit(text)  # a branch may have "@" in its name
        if whole is None:
            raise UnknownRefError(rest, f"in {text}")
        return Endpoint(text, whole)
    return Endpoint(text, repo.resolve_commit(text))


def diff(
    repo: Repository, a: str, b: str, library: str | None = None, *, full: bool = False
) -> dict[str, Any]:
    """The canonry.diff/v1 document from A to B (refs or LIBRARY@VERSION specs).

    Libraries come from the registry at B and at A (B's spec wins). A library
    appears when it has changes, and always when it was asked for (by `library`
    or by a LIBRARY@VERSION side). `full=True` adds each library's
    `added_entries` ({id: entry}), which `apply_diff` needs.
    """
    start, end = resolve_endpoint(repo, a), resolve_endpoint(repo, b)
    if library is None:
        named = {e.library for e in (start, end) if e.library}
        if len(named) > 1:
            raise UsageError(f"{a} and {b} name different libraries; pass --library to choose one")
        library = named.pop() if named else None
    state_a = TreeState(repo, start.commit, start.ref)
    state_b = TreeState(repo, end.commit, end.ref)
    # one side's registry may be missing or broken: the other side's names the libraries
    read: list[Registry | RegistryError] = []
    for state in (state_a, state_b):
        try:
            read.append(registry_in_tree(repo, state.tree))
        except RegistryError as exc:
            read.append(exc)
    reg_a, reg_b = read
    registries = [r for r in (reg_b, reg_a) if isinstance(r, Registry)]
    if not registries:
        raise reg_b if isinstance(reg_b, RegistryError) else RegistryError("unreadable", REGISTRY_PATH)
    names = sorted({n for r in registries for n in r.libraries})
    if library is not None:
        if library not in names:
            raise UnknownLibraryError(library, names)
        names = [library]
    libraries: dict[str, Any] = {}
    for name in names:
        spec_b = _spec(reg_b, name) or _spec(reg_a, name)
        spec_a = _spec(reg_a, name) or spec_b
        assert spec_a is not None and spec_b is not None
        lib_diff = library_diff(repo, state_a, state_b, spec_a, spec_b, full=full)
        if name == library or _has_changes(lib_diff):
            libraries[name] = lib_diff
    return {"format": FORMAT, "from": start.to_dict(), "to": end.to_dict(), "libraries": libraries}


def _spec(registry: Registry | RegistryError, name: str) -> LibrarySpec | None:
    return registry.libraries.get(name) if isinstance(registry, Registry) else None


def _has_changes(lib_diff: Mapping[str, Any]) -> bool:
    keys = ("added_entry_ids", "removed_entry_ids", "changed_entries", "problems")
    return any(lib_diff[k] for k in keys)


def library_diff(
    repo: Repository,
    state_a: TreeState,
    state_b: TreeState,
    spec_a: LibrarySpec,
    spec_b: LibrarySpec,
    *,
    full: bool = False,
) -> dict[str, Any]:
    """One library's part of the document: only the files the tree diff names are read."""
    old: dict[str, FileRef] = {}
    new: dict[str, FileRef] = {}
    sub_a, sub_b = state_a.tree_id(spec_a.path), state_b.tree_id(spec_b.path)
    for change in repo.diff_trees(sub_a, sub_b):
        if change.old_oid is not None:
            entry_id = spec_a.id_from_relative_path(change.path)
            if entry_id is not None:  # misplaced files are the identity gate's business
                old[entry_id] = FileRef(f"{spec_a.path}/{change.path}", change.old_oid, change.old_mode or 0)
        if change.new_oid is not None:
            entry_id = spec_b.id_from_relative_path(change.path)
            if entry_id is not None:
                new[entry_id] = FileRef(f"{spec_b.path}/{change.path}", change.new_oid, change.new_mode or 0)
    # An id on both sides with the same blob only moved (a layout change): no change.
    both = sorted(i for i in old.keys() & new.keys() if old[i].oid != new[i].oid)
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    store = store_for(repo)
    parsed_a = store.get_many([(old[i].path, old[i]) for i in [*removed, *both]], state_a)
    parsed_b = store.get_many([(new[i].path, new[i]) for i in [*added, *both]], state_b)

    problems: list[dict[str, Any]] = []

    def content(side: str, ref: FileRef, parsed: Mapping[str, Any], entry_id: str) -> dict[str, Any] | None:
        result = parsed[ref.oid]
        if isinstance(result, dict):
            return result
        problems.append(_problem(entry_id, side, ref, result.error))
        return None

    changed_rows: list[dict[str, Any]] = []
    human_changed: list[tuple[str, str, str, str]] = []
    added_entries: dict[str, Any] = {}
    human_added: list[tuple[str, str]] = []
    for entry_id in added:
        entry = content("to", new[entry_id], parsed_b, entry_id)
        added_entries[entry_id] = entry
        human_added.append((spec_b.summary(entry) if entry is not None else entry_id, entry_id))
    human_removed: list[tuple[str, str]] = []
    for entry_id in removed:
        entry = content("from", old[entry_id], parsed_a, entry_id)
        human_removed.append((spec_a.summary(entry) if entry is not None else entry_id, entry_id))
    changed_ids: list[str] = []
    for entry_id in both:
        before = content("from", old[entry_id], parsed_a, entry_id)
        after = content("to", new[entry_id], parsed_b, entry_id)
        if before is None or after is None:
            continue
        rows = field_changes(before, after, entry_id)
        if not rows:  # only the formatting of the file changed
            continue
        changed_ids.append(entry_id)
        changed_rows.extend(rows)
        title = spec_a.summary(before)
        human_changed.extend((title, entry_id, row["path"], change_line(row)) for row in rows)

    lines = [f"added: {title}" for title, _ in sorted(human_added)]
    lines += [f"removed: {title}" for title, _ in sorted(human_removed)]
    lines += [f"{title}: {line}" for title, _, _, line in sorted(human_changed)]
    out: dict[str, Any] = {
        "added_entry_ids": added,
        "removed_entry_ids": removed,
        "changed_entries": changed_rows,
        "changes_from_parent": lines,
        "problems": sorted(problems, key=lambda p: (p["entry_id"], p["side"])),
    }
    if full:
        out["added_entries"] = added_entries
    return out


def _problem(entry_id: str, side: str, ref: FileRef, error: EntrySyntaxError) -> dict[str, Any]:
    # The cached error may name another path holding the same blob: rebuild it for this one.
    where = ref.path + "".join(f":{n}" for n in (error.line, error.column) if n is not None)
    return {
        "entry_id": entry_id,
        "side": side,
        "path": ref.path,
        "line": error.line,
        "column": error.column,
        "message": f"{where}: {error.problem}",
    }


# --- field level --------------------------------------------------------------------


def field_changes(
    old_entry: Mapping[str, Any] | None, new_entry: Mapping[str, Any] | None, entry_id: str | None = None
) -> list[dict[str, Any]]:
    """The changed_entries rows of one entry, sorted by path (None: the entry is absent).

    An absent entry compares as an empty mapping: an added entry gives one "add"
    row per field, a removed one a "remove" row per field.
    """
    if entry_id is None:
        entry_id = str((new_entry or old_entry or {}).get("id", ""))
    rows: list[dict[str, Any]] = []
    _compare(_plain(old_entry or {}), _plain(new_entry or {}), (), entry_id, rows)
    rows.sort(key=lambda r: r["path"])
    return rows


def _compare(old: Any, new: Any, parts: tuple[str, ...], entry_id: str, rows: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            here = (*parts, key)
            if key not in new:
                rows.append(_row(entry_id, here, "remove", old[key], None))
            elif key not in old:
                rows.append(_row(entry_id, here, "add", None, new[key]))
            else:
                _compare(old[key], new[key], here, entry_id, rows)
    elif not same_value(old, new):
        rows.append(_row(entry_id, parts, "replace", old, new))


def _row(entry_id: str, parts: tuple[str, ...], op: str, old: Any, new: Any) -> dict[str, Any]:
    # Copies: the compared values may be the shared parse cache's own objects.
    old, new = _thaw(old), _thaw(new)
    return {"entry_id": entry_id, "field": parts[0], "path": pointer(parts), "op": op, "old": old, "new": new}


def pointer(parts: tuple[str, ...] | list[str]) -> str:
    """The RFC 6901 JSON Pointer of a path of keys."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_parts(text: str) -> list[str]:
    if text and not text.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {text!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """value itself when it is a plain dict (as parsed), else a plain copy (an Entry view)."""
    return value if type(value) is dict else _thaw(value)


def _thaw(value: Any) -> Any:
    """Plain dicts and lists from any mappings and sequences (Entry views, tuples)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def apply_diff(
    entries_a: Mapping[str, Mapping[str, Any]],
    lib_diff: Mapping[str, Any],
    added: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Entries at B from entries at A and one library's diff; raise ValueError if it does not apply.

    The added entries come from `added`, else from the diff's `added_entries`
    (present with `diff(..., full=True)`). Every row's old value is checked.
    """
    out = {eid: _thaw(entry) for eid, entry in entries_a.items()}
    for entry_id in lib_diff["removed_entry_ids"]:
        if out.pop(entry_id, None) is None:
            raise ValueError(f"diff does not apply: {entry_id} is not there to remove")
    for row in lib_diff["changed_entries"]:
        entry = out.get(row["entry_id"])
        if entry is None:
            raise ValueError(f"diff does not apply: no entry {row['entry_id']}")
        _apply_row(entry, row)
    source = added if added is not None else lib_diff.get("added_entries")
    if lib_diff["added_entry_ids"] and source is None:
        raise ValueError("the diff lists added entries without their content (use diff(..., full=True))")
    for entry_id in lib_diff["added_entry_ids"]:
        if entry_id in out or source is None or source.get(entry_id) is None:
            raise ValueError(f"diff does not apply: cannot add {entry_id}")
        out[entry_id] = _thaw(source[entry_id])
    return out


def _apply_row(entry: dict[str, Any], row: Mapping[str, Any]) -> None:
    parts = pointer_parts(row["path"])
    if not parts:
        raise ValueError(f"diff does not apply: empty path in {row}")
    node = entry
    for key in parts[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            raise ValueError(f"diff does not apply: {row['path']} of {row['entry_id']} is not there")
        node = child
    key, op = parts[-1], row["op"]
    present = key in node
    if (op == "add") == present or (present and not same_value(node[key], row["old"])):
        raise ValueError(f"diff does not apply: {row['path']} of {row['entry_id']} is not as the diff says")
    if op == "remove":
        del node[key]
    else:
        node[key] = _thaw(row["new"])


def change_line(row: Mapping[str, Any]) -> str:
    """`confidence 0.7 -> 0.8` (the part of a human line after the entry's title)."""
    name = row["path"][1:]
    if row["op"] == "add":
        return f"{name} added: {show_value(row['new'])}"
    if row["op"] == "remove":
        return f"{name} removed (was {show_value(row['old'])})"
    return f"{name} {show_value(row['old'])} -> {show_value(row['new'])}"
