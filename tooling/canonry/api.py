"""The runtime entry point: `canonry.open(...)` and library versions at refs."""

from __future__ import annotations

import os
from typing import Any

from .entries import Library
from .errors import UnknownRefError
from .registry import Registry
from .repo import Repository
from .rules import load_rules
from .states import TreeState
from .versions import Version, is_version_selector, list_versions, resolve_version


class Canon:
    """A knowledge repository opened for reading at tags (or any ref)."""

    def __init__(self, repo: Repository, source: str) -> None:
        self.repo = repo
        self.source = source
        self._libraries: dict[tuple[str, str], Library] = {}

    def registry_at(self, commit: str) -> Registry:
        return load_rules(TreeState(self.repo, commit)).require_registry()

    def library(self, name: str, version: str | int = "latest") -> Library:
        """A library at a version (`latest`, `v4`, 4) or at any git ref (`main`, `draft/x`)."""
        key = (name, str(version))
        cached = self._libraries.get(key)
        if cached is not None:
            return cached
        resolved: Version | None = None
        if is_version_selector(version):
            resolved = resolve_version(self.repo, name, version)
            commit = resolved.commit
            label = resolved.tag
        else:
            commit = self.repo.resolve_commit(str(version))
            label = str(version)
        state = TreeState(self.repo, commit, label)
        spec = load_rules(state).require_registry().library(name)
        lib = Library(
            state,
            spec,
            version=resolved.number if resolved else None,
            tag=resolved.tag if resolved else None,
        )
        self._libraries[key] = lib
        return lib

    def versions(self, name: str | None = None) -> list[Version]:
        return list_versions(self.repo, name)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """{library: {tag, commit}} of every library opened so far, for a run record."""
        out: dict[str, dict[str, Any]] = {}
        for (name, _v), lib in sorted(self._libraries.items()):
            out[name] = {
                "tag": lib.tag,
                "version": lib.version,
                "commit": lib.commit,
                "tree": lib.tree,
            }
        return out

    def __repr__(self) -> str:
        return f"<Canon {self.source}>"


def open(source: str | os.PathLike[str] = ".", **options: Any) -> Canon:  # noqa: A001
    """Open a knowledge repository by path for reading at tags."""
    path = os.fspath(source)
    if path.startswith("file://"):
        path = path[len("file://") :]
    try:
        repo = Repository(path, allow_shallow=True)
    except UnknownRefError:
        raise
    return Canon(repo, os.fspath(source))
