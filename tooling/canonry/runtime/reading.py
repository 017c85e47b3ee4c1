"""Read a library version or one entry for display (`canonry show`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import UsageError
from ..gates.confidence import confidence_table
from ..store.confidence import as_datetime
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.times import rfc3339
from ..store.versions import latest_version, parse_library_spec, read_metadata, resolve_version
from .api import Canon


def show(repo: Repository, spec: str, entry_id: str | None = None) -> dict[str, Any]:
    """The document `canonry show` prints: one entry, or the version with all its entries."""
    name, version = _split(spec)
    lib = Canon(repo, str(repo.describe()), all_scopes=True).library(name, version)
    if entry_id is not None:
        return lib[entry_id].to_dict()
    meta: dict[str, Any] = {}
    if lib.tag:
        meta = read_metadata(repo, resolve_version(repo, name, lib.version or "latest"))
    entries = lib.load()
    return {
        "library": name,
        "ref": lib.tag or version,
        "version": lib.version,
        "commit": lib.commit,
        "tree": lib.tree,
        "metadata": meta,
        "entries": [entries[eid].to_dict() for eid in sorted(entries)],
    }


def _split(spec: str) -> tuple[str, str]:
    if "@" in spec:
        name, _, version = spec.partition("@")
        try:
            return parse_library_spec(spec)
        except UsageError:
            return name, version  # any git ref: mapping@main, mapping@draft/x
    return spec, "latest"


def confidence_report(
    repo: Repository, library: str, version: str | None = None, at: Any = None
) -> dict[str, Any]:
    """canonry.confidence/v1: every entry's effective confidence at a version (default: latest, else main)."""
    if version is None:
        version = "latest" if latest_version(repo, library) is not None else "main"
    lib = Canon(repo, repo.describe(), all_scopes=True).library(
        library, int(version) if version.isdigit() else version
    )
    if lib.spec.confidence_field is None:
        raise UsageError(f"library {library} declares no confidence_field in libraries.yaml")
    policy = load_rules(lib.state).require_registry().policy.confidence
    moment = as_datetime(at)
    rows = confidence_table(lib.inner, policy, moment)
    return {
        "format": "canonry.confidence/v1",
        "library": library,
        "ref": lib.tag or version,
        "commit": lib.commit,
        "at": rfc3339(moment),
        "bands": dict(sorted(Counter(r.confidence.band for r in rows).items())),
        "entries": [r.to_dict() for r in rows],
    }
