"""`canonry explain`: every field change of one entry, with who, when, why and which version.

`changes` is the history, one row per commit that changed a field (a merge
only for what differs from every parent). `fields` answers for the whole
range what `canonry diff FROM TO` reports for the entry: each changed field
with the same old and new values, and the commit that gave it its final
value (following the parents that already had it, so a merge that resolved
a conflict is named when it chose a value neither side had).
"""

from __future__ import annotations

from typing import Any

from ..compare.diff import field_changes, pointer_parts
from ..compare.values import same_value
from ..errors import RegistryError, UnknownEntryError
from ..store.registry import REGISTRY_PATH
from ..store.repo import Repository
from ..store.rules import try_registry_at
from ..store.versions import list_versions
from .history import commit_record, entry_paths, history, object_at, read_entry


def explain(
    repo: Repository, entry_id: str, from_ref: str | None = None, to_ref: str = "main"
) -> dict[str, Any]:
    """Each field change of an entry between two refs, with commit, actor, source, reason and version."""
    to = repo.resolve_commit(to_ref)
    start = repo.resolve_commit(from_ref) if from_ref else None
    registry = try_registry_at(repo, to)
    if registry is None:
        raise RegistryError("missing or broken: cannot find the entry's library", REGISTRY_PATH)
    paths = entry_paths(registry, None, entry_id)
    found = history(repo, to, paths, hide=[start] if start else [])
    libraries = sorted({e["library"] for _c, entries in found for e in entries})
    here = [spec for path, spec in paths.items() if object_at(repo, repo.tree_of(to), path)]
    if not found and not here:
        raise UnknownEntryError("any library", entry_id, to_ref)
    spec = here[0] if here else registry.library(libraries[0])
    path = spec.entry_path(entry_id)
    versions = list_versions(repo, spec.name)
    rows: list[dict[str, Any]] = []
    for c, _entries in reversed(found):
        new = read_entry(repo, c.tree, path)
        olds = [read_entry(repo, repo.tree_of(p), path) for p in c.parents] or [None]
        changes = field_changes(olds[0], new, entry_id)
        for other in olds[1:]:  # a merge: only what differs from every parent is its own doing
            keep = {(r["path"], repr(r["new"])) for r in field_changes(other, new, entry_id)}
            changes = [r for r in changes if (r["path"], repr(r["new"])) in keep]
        record = commit_record(c, [])
        published = next((v.tag for v in versions if repo.is_ancestor(c.oid, v.commit)), None)
        for row in changes:
            rows.append(
                {
                    **{k: row[k] for k in ("field", "path", "op", "old", "new")},
                    **{k: record[k] for k in ("commit", "at", "author", "actor", "source", "source_ref")},
                    "reason": record["reason"] or record["summary"],
                    "version": published,
                }
            )
    current = read_entry(repo, repo.tree_of(to), path)
    before = read_entry(repo, repo.tree_of(start), path) if start else None
    net = []
    if before is not None and current is not None:  # diff reports field changes of an entry on both sides
        for row in field_changes(before, current, entry_id):
            giver = final_value_commit(repo, to, path, row["path"])
            record = commit_record(repo.commit(giver), [])
            net.append(
                {
                    **{k: row[k] for k in ("field", "path", "op", "old", "new")},
                    **{k: record[k] for k in ("commit", "at", "author", "actor", "source", "source_ref")},
                    "reason": record["reason"] or record["summary"],
                    "version": next((v.tag for v in versions if repo.is_ancestor(giver, v.commit)), None),
                }
            )
    return {
        "format": "canonry.explain/v1",
        "entry_id": entry_id,
        "library": spec.name,
        "title": spec.summary(current) if current else None,
        "from": {"ref": from_ref, "commit": start},
        "to": {"ref": to_ref, "commit": to},
        "changes": rows,
        "fields": net,
    }


_ABSENT = object()


def _field(entry: dict[str, Any] | None, pointer: str) -> Any:
    value: Any = entry
    for part in pointer_parts(pointer):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return same_value(a, b)


def final_value_commit(repo: Repository, tip: str, path: str, pointer: str) -> str:
    """The commit that gave the field at pointer the value it has at tip (a merge resolution included).

    From tip, follow a parent that already had the final value; the first
    commit none of whose parents had it set it (by an edit, or by a merge
    that resolved a conflict or combined both sides into a new value).
    """
    cache: dict[str, Any] = {}

    def value_at(commit: str) -> Any:
        if commit not in cache:
            cache[commit] = _field(read_entry(repo, repo.tree_of(commit), path), pointer)
        return cache[commit]

    final = value_at(tip)
    commit = tip
    seen: set[str] = set()
    while commit not in seen:
        seen.add(commit)
        parents = repo.commit(commit).parents
        same = [p for p in parents if _same(value_at(p), final)]
        if not same:
            return commit
        commit = same[0]
    return commit
