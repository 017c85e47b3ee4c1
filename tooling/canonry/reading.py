"""Read a library version or one entry for display (`canonry show`)."""

from __future__ import annotations

from typing import Any

from .api import Canon
from .errors import UsageError
from .repo import Repository
from .versions import parse_library_spec, read_metadata, resolve_version


def show(repo: Repository, spec: str, entry_id: str | None = None) -> dict[str, Any]:
    """The document `canonry show` prints: one entry, or the version with all its entries."""
    name, version = _split(spec)
    lib = Canon(repo, str(repo.describe())).library(name, version)
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
