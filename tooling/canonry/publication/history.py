"""Reading history back: which commits changed which entries, and what their trailers say.

Shared by `log` (audit), `explain` and `diff`-agreeing attribution. Merges
report only what is new in them (a field merged from both sides), so each
change is listed once, at the commit that made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import EntrySyntaxError
from ..store.commits import parse_trailers
from ..store.registry import LibrarySpec, Registry
from ..store.repo import CommitInfo, Repository
from ..store.times import rfc3339
from ..store.yamlio import load_mapping


def object_at(repo: Repository, tree: str, path: str) -> str | None:
    item = repo.entry_at(tree, path)
    return item.oid if item is not None else None


def touched(repo: Repository, c: CommitInfo, path: str, tree_cache: dict[str, str]) -> list[tuple[str, str]]:
    """[(status, relative path)] of what c changed under path; merges report only what is new in them."""

    def tree(oid: str) -> str:
        if oid not in tree_cache:
            tree_cache[oid] = repo.tree_of(oid)
        return tree_cache[oid]

    new = object_at(repo, c.tree, path)
    olds = [object_at(repo, tree(p), path) for p in c.parents] or [None]
    if new in olds:
        return []
    item = repo.entry_at(c.tree, path) if new else None
    is_tree = (
        item.is_tree
        if item
        else any((i := repo.entry_at(tree(p), path)) is not None and i.is_tree for p in c.parents)
    )
    if not is_tree:
        status = "A" if olds[0] is None else "D" if new is None else "M"
        return [(status, "")]
    first = {ch.path: ch for ch in repo.diff_trees(olds[0], new)}
    for other in olds[1:]:
        again = {ch.path for ch in repo.diff_trees(other, new)}
        first = {p: ch for p, ch in first.items() if p in again}
    return sorted((ch.status, p) for p, ch in first.items())


_STATUS = {"A": "added", "D": "removed", "M": "changed"}


def commit_record(c: CommitInfo, entries: list[dict[str, Any]]) -> dict[str, Any]:
    trailers = parse_trailers(c.message)

    def trailer(key: str) -> str | None:
        value = trailers.get(key)
        return None if value in (None, "", "-") else value

    return {
        "kind": "change",
        "at": rfc3339(c.author_time),
        "commit": c.oid,
        "author": c.author.email,
        "actor": trailer("Canonry-Actor") or c.author.email,
        "source": trailer("Canonry-Source") or "git",
        "source_ref": trailer("Canonry-Source-Ref"),
        "reason": trailer("Canonry-Reason"),
        "summary": c.message.split("\n", 1)[0],
        "entries": entries,
    }


def entry_paths(registry: Registry, library: str | None, entry: str | None) -> dict[str, LibrarySpec]:
    specs = [registry.library(library)] if library else [registry.libraries[n] for n in registry.names()]
    if entry:
        return {spec.entry_path(entry): spec for spec in specs}
    return {spec.path: spec for spec in specs}


def history(
    repo: Repository, tip: str, paths: dict[str, LibrarySpec], hide: Iterable[str] = ()
) -> list[tuple[CommitInfo, list[dict[str, Any]]]]:
    """Commits reachable from tip (not from hide) that changed entries under paths, newest first."""
    out = []
    cache: dict[str, str] = {}
    for c in repo.walk(tip, hide=list(hide)):
        cache[c.oid] = c.tree
        entries = []
        for path, spec in paths.items():
            for status, rel in touched(repo, c, path, cache):
                if rel:
                    entry_id = spec.id_from_relative_path(rel)
                else:
                    entry_id = spec.id_from_relative_path(path[len(spec.path) + 1 :])
                if entry_id is not None:
                    entries.append({"library": spec.name, "entry_id": entry_id, "change": _STATUS[status]})
        if entries:
            out.append((c, entries))
    return out


def read_entry(repo: Repository, tree: str, path: str) -> dict[str, Any] | None:
    oid = object_at(repo, tree, path)
    if oid is None:
        return None
    try:
        return load_mapping(repo.read_blob(oid), path)
    except EntrySyntaxError:
        return {"(unreadable)": True}
