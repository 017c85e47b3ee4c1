"""A state of the repository's files: a commit's tree, or the work tree.

Gates, diffs and loading read files through a state, so the same code checks a
ref (straight from the object database) and the work tree (HEAD's tree with
the uncommitted files laid over it, hashed but not written).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptObjectError
from .repo import BLOB_MODE, EXEC_MODE, LINK_MODE, Repository


@dataclass(frozen=True)
class FileRef:
    path: str  # repository-relative, "/"-separated
    oid: str
    mode: int


class State:
    """Files at one state; subclasses say where the bytes come from."""

    repo: Repository
    label: str
    commit: str | None

    def files(self, prefix: str) -> dict[str, FileRef]:
        raise NotImplementedError

    def read(self, ref: FileRef) -> bytes:
        raise NotImplementedError

    def read_path(self, path: str) -> bytes | None:
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        ref = self.files(parent).get(path)
        return None if ref is None else self.read(ref)

    def tree_id(self, prefix: str) -> str | None:
        """The git tree id of prefix when the state is a pure tree there."""
        return None


class TreeState(State):
    """The files of a commit, read from the object database (no work tree)."""

    def __init__(self, repo: Repository, commit: str, label: str | None = None) -> None:
        self.repo = repo
        self.commit = commit
        self.label = label or commit[:12]
        self.tree = repo.tree_of(commit)
        self._files: dict[str, dict[str, FileRef]] = {}

    def tree_id(self, prefix: str) -> str | None:
        return self.repo.subtree(self.tree, prefix) if prefix else self.tree

    def files(self, prefix: str) -> dict[str, FileRef]:
        cached = self._files.get(prefix)
        if cached is not None:
            return cached
        listed = _from_listed(self._files, prefix)
        if listed is not None:
            self._files[prefix] = listed
            return listed
        sub = self.tree_id(prefix)
        out: dict[str, FileRef] = {}
        if sub is not None:
            base = f"{prefix}/" if prefix else ""
            for rel, oid, mode in self.repo.walk_files(sub):
                out[base + rel] = FileRef(base + rel, oid, mode)
        self._files[prefix] = out
        return out

    def read(self, ref: FileRef) -> bytes:
        return self.repo.read_blob(ref.oid)

    def read_path(self, path: str) -> bytes | None:
        item = self.repo.entry_at(self.tree, path)
        if item is None or item.is_tree:
            return None
        return self.repo.read_blob(item.oid)


class WorkTreeState(State):
    """HEAD's tree with the work tree's changes under the given prefixes laid over it."""

    def __init__(self, repo: Repository, prefixes: tuple[str, ...] = ("knowledge", "schemas")):
        if repo.workdir is None:
            raise CorruptObjectError(f"{repo.describe()} has no work tree")
        self.repo = repo
        self.label = "work tree"
        self.commit = repo.try_resolve_commit("HEAD")
        self.root = repo.workdir
        self._base = TreeState(repo, self.commit) if self.commit else None
        self._overlay: dict[str, FileRef | None] = {}
        self._data: dict[str, bytes] = {}
        self._dirty_prefixes: set[str] = set()
        self._scan(prefixes)
        self._files: dict[str, dict[str, FileRef]] = {}

    def _scan(self, prefixes: tuple[str, ...]) -> None:
        # git status uses the index's stat cache: unchanged files are not re-read.
        for path in self.repo.changed_paths(prefixes):
            self._dirty_prefixes.add(path.split("/", 1)[0])
            full = self.root / path
            if not os.path.lexists(full):
                self._overlay[path] = None
                continue
            if full.is_symlink():
                target = os.readlink(full).encode()
                self._data[path] = target
                self._overlay[path] = FileRef(path, self.repo.hash_blob(target), LINK_MODE)
                continue
            if full.is_dir():
                # an untracked nested repository (submodule-like); report as a gitlink
                self._overlay[path.rstrip("/")] = FileRef(path.rstrip("/"), "0" * 40, 0o160000)
                continue
            data = full.read_bytes()
            mode = EXEC_MODE if os.access(full, os.X_OK) else BLOB_MODE
            self._data[path] = data
            self._overlay[path] = FileRef(path, self.repo.hash_blob(data), mode)

    @property
    def dirty(self) -> bool:
        return bool(self._overlay)

    def tree_id(self, prefix: str) -> str | None:
        if self._base is None:
            return None
        if any(p == prefix or p.startswith(prefix + "/") for p in self._overlay):
            return None
        return self._base.tree_id(prefix)

    def files(self, prefix: str) -> dict[str, FileRef]:
        cached = self._files.get(prefix)
        if cached is not None:
            return cached
        listed = _from_listed(self._files, prefix)
        if listed is not None:
            self._files[prefix] = listed
            return listed
        out = dict(self._base.files(prefix)) if self._base else {}
        start = prefix + "/" if prefix else ""
        for path, ref in self._overlay.items():
            if path.startswith(start):
                if ref is None:
                    out.pop(path, None)
                else:
                    out[path] = ref
        self._files[prefix] = out
        return out

    def read(self, ref: FileRef) -> bytes:
        if ref.path in self._data and self._overlay.get(ref.path) == ref:
            return self._data[ref.path]
        return self.repo.read_blob(ref.oid)

    def read_path(self, path: str) -> bytes | None:
        if path in self._overlay:
            ref = self._overlay[path]
            return None if ref is None else self.read(ref)
        return self._base.read_path(path) if self._base else None

    def abspath(self, path: str) -> Path:
        return self.root / path


def _from_listed(listed: dict[str, dict[str, FileRef]], prefix: str) -> dict[str, FileRef] | None:
    """The files under prefix taken from a listing of a folder above it, when one was made."""
    for folder, files in listed.items():
        if prefix.startswith(folder + "/") or (folder == "" and prefix):
            start = prefix + "/"
            return {p: r for p, r in files.items() if p.startswith(start)}
    return None
