"""The audit trail: `log`, who changed what and why; explain, versions, deprecation and verify live next door.

Git history is the log: commits carry Canonry-* trailers (actor, source,
source ref, reason), review decisions are notes under refs/notes/canonry-reviews,
versions are annotated tags whose message is their metadata, deprecations are
notes on those tags under refs/notes/canonry. This module re-exports
`explain`, `deprecate`, `deprecation`, `versions_report` and `verify_tags`.
"""

from __future__ import annotations

from typing import Any

from ..errors import RegistryError
from ..store.registry import REGISTRY_PATH, LibrarySpec
from ..store.repo import Repository
from ..store.rules import try_registry_at
from ..store.times import rfc3339
from ..store.versions import Version, list_versions, read_metadata, resolve_version
from .decisions import all_decisions
from .deprecation import NOTES_REF, deprecate, deprecation, versions_report
from .explain import explain
from .history import commit_record, entry_paths, history, object_at
from .tag_audit import GATE, verify_tags

__all__ = [
    "GATE",
    "NOTES_REF",
    "deprecate",
    "deprecation",
    "explain",
    "history",
    "log",
    "verify_tags",
    "versions_report",
]


def log(
    repo: Repository, library: str | None = None, entry: str | None = None, ref: str = "main"
) -> dict[str, Any]:
    """Who changed what, when, why and from which source; publications, reviews, deprecations too."""
    tip = repo.resolve_commit(ref)
    registry = try_registry_at(repo, tip)
    if registry is None:
        raise RegistryError("missing or broken: cannot tell libraries apart", REGISTRY_PATH)
    paths = entry_paths(registry, library, entry)
    records = [commit_record(c, entries) for c, entries in history(repo, tip, paths)]
    names = sorted({spec.name for spec in paths.values()})
    for name in names:
        for v in list_versions(repo, name):
            if entry and not _version_touches(repo, v, paths):
                continue
            records.append(_publication_record(repo, v))
            gone = deprecation(repo, v)
            if gone:
                records.append(
                    {
                        "kind": "deprecation",
                        "tag": v.tag,
                        "library": name,
                        "actor": gone.get("by"),
                        "at": gone.get("at"),
                        "reason": gone.get("reason"),
                    }
                )
    for d in all_decisions(repo):
        if library and library not in d.libraries:
            continue
        if entry and not _draft_touches(repo, tip, d.commit, paths):
            continue
        records.append({"kind": "review", **d.to_dict(), "actor": d.reviewer})
    # newest first; within one second, what happens later in a publication comes first
    rank = {"change": 0, "review": 1, "publication": 2, "deprecation": 3}
    records.sort(
        key=lambda r: (str(r.get("at") or ""), rank[r["kind"]], r.get("commit") or r.get("tag") or "")
    )
    records.reverse()
    return {"format": "canonry.log/v1", "ref": ref, "library": library, "entry": entry, "records": records}


def _publication_record(repo: Repository, v: Version) -> dict[str, Any]:
    meta = read_metadata(repo, v)
    info = repo.tag(v.target)
    return {
        "kind": "publication",
        "tag": v.tag,
        "library": v.library,
        "version": v.number,
        "commit": v.commit,
        "at": meta.get("published_at") or (rfc3339(info.tag_time) if info and info.tag_time else None),
        "actor": meta.get("published_by") or (info.tagger.email if info and info.tagger else None),
        "approved_by": meta.get("approved_by") or [],
        "draft": meta.get("draft"),
        "rollback_of": meta.get("rollback_of"),
        "summary": info.message.split("\n", 1)[0] if info else v.tag,
    }


def _version_touches(repo: Repository, v: Version, paths: dict[str, LibrarySpec]) -> bool:
    parent = resolve_version(repo, v.library, v.number - 1) if v.number > 1 else None
    for path in paths:
        now = object_at(repo, repo.tree_of(v.commit), path)
        before = object_at(repo, repo.tree_of(parent.commit), path) if parent else None
        if now != before:
            return True
    return False


def _draft_touches(repo: Repository, tip: str, head: str, paths: dict[str, LibrarySpec]) -> bool:
    if not repo.has_object(head):
        return False
    base = repo.merge_base(tip, head)
    return any(
        object_at(repo, repo.tree_of(head), p) != (object_at(repo, repo.tree_of(base), p) if base else None)
        for p in paths
    )
