"""The git wrapper's front: a repository opened for Canonry, its refs, objects, trees and history.

The one place (with gitcli.py for the git executable, gitwrite.py for writing
objects and integrity.py for bounded reads) that touches pygit2 or runs git.
Everything above it sees object ids as hex strings and plain tuples, never
pygit2 objects, so that every libgit2 quirk has one place to be handled.
Every read is bounded: a damaged object store gives CorruptObjectError naming
the object, never a hang, a raw GitError or an "unknown ref".
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygit2
from pygit2.enums import ObjectType

from ..errors import (
    CorruptObjectError,
    NotARepositoryError,
    ShallowCloneError,
    UnknownRefError,
    UnsupportedRepositoryError,
)
from . import integrity
from .gitcli import FetchResult, FsckResult, GitCommands, Outcome, PushResult, SignatureCheck
from .githistory import HistoryReader
from .gittypes import (
    BLOB_MODE,
    COMMIT_MODE,
    EXEC_MODE,
    LINK_MODE,
    TREE_MODE,
    ZERO_OID,
    Change,
    CommitInfo,
    Identity,
    RefUpdate,
    TagInfo,
    TreeItem,
)
from .gitwrite import ObjectWriter

__all__ = [
    "BLOB_MODE",
    "COMMIT_MODE",
    "EXEC_MODE",
    "LINK_MODE",
    "TREE_MODE",
    "ZERO_OID",
    "Change",
    "CommitInfo",
    "FetchResult",
    "FsckResult",
    "Identity",
    "Outcome",
    "PushResult",
    "RefUpdate",
    "Repository",
    "SignatureCheck",
    "TagInfo",
    "TreeItem",
    "init_repository",
]

# libgit2 caches no tree object over 4 KiB by default, so each path lookup in a
# 100,000-entry flat folder re-read a ~7 MB tree (~50 ms). Let it keep them.
pygit2.settings.cache_object_limit(ObjectType.TREE, 64 << 20)


def _hex(oid: object) -> str:
    return str(oid)


class Repository(HistoryReader, ObjectWriter, GitCommands):
    """A git repository opened for Canonry: refuses shallow and SHA-256 ones."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, allow_shallow: bool = False):
        start = os.fspath(path) if path is not None else os.getcwd()
        found = pygit2.discover_repository(start)
        if found is None:
            raise NotARepositoryError(
                f"not a git repository: {start} (run `canonry init` or pass --repo PATH)"
            )
        self._check_object_format(Path(found))
        try:
            self.git = integrity.open_git(found)
        except pygit2.GitError as exc:
            raise UnsupportedRepositoryError(f"cannot open repository {found}: {exc}") from None
        if self.git.is_shallow and not allow_shallow:
            raise ShallowCloneError(
                f"{self.describe()} is a shallow clone: gates and history need all of it"
                " (run `git fetch --unshallow`)"
            )
        self.is_shallow = self.git.is_shallow

    @staticmethod
    def _check_object_format(git_dir: Path) -> None:
        # pygit2 1.21 cannot open SHA-256 repositories ("unknown object format"):
        # say so clearly instead of surfacing libgit2's message.
        config = git_dir / "config"
        try:
            text = config.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if re.search(r"^\s*objectformat\s*=\s*sha256\s*$", text, re.I | re.M):
            raise UnsupportedRepositoryError(
                f"{git_dir} uses SHA-256 object ids, which Canonry cannot read yet"
            )

    # --- damage -----------------------------------------------------------------------

    def _corrupt(self, what: str, detail: str = "") -> CorruptObjectError:
        """The error for an object that cannot be read, with what the object store says about it."""
        diagnosis = integrity.diagnose(self.git_dir)
        message = f"{what} cannot be read from {self.describe()}"
        if detail:
            message += f": {detail}"
        if diagnosis:
            message += f"; {diagnosis}"
        return CorruptObjectError(message + " (run `git fsck` to see the damage)")

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Turn libgit2's failures while reading `what` into CorruptObjectError."""
        try:
            yield
        except pygit2.GitError as exc:
            raise self._corrupt(what, str(exc)) from None

    # --- where it is -----------------------------------------------------------

    @property
    def git_dir(self) -> Path:
        return Path(self.git.path)

    @property
    def workdir(self) -> Path | None:
        return Path(self.git.workdir) if self.git.workdir else None

    @property
    def is_bare(self) -> bool:
        return bool(self.git.is_bare)

    def describe(self) -> str:
        return str(self.workdir or self.git_dir)

    def cache_dir(self) -> Path:
        return self.git_dir / "canonry"

    # --- refs --------------------------------------------------------------------

    def ref_target(self, name: str) -> str | None:
        """The direct target of a ref (a tag object for annotated tags), or None."""
        try:
            ref = self.git.references.get(name)
            if ref is None:
                return None
            ref = ref.resolve()  # KeyError (NotFoundError): a symbolic ref to an unborn branch
        except (pygit2.GitError, ValueError, KeyError):
            return None
        return _hex(ref.target)

    def refs(self, prefix: str) -> dict[str, str]:
        """Every ref under prefix with its direct target."""
        out: dict[str, str] = {}
        for name in self.git.references:
            if name.startswith(prefix):
                target = self.ref_target(name)
                if target is not None:
                    out[name] = target
        return out

    def head_branch(self) -> str | None:
        try:
            if self.git.head_is_unborn:
                return self.git.references["HEAD"].target  # type: ignore[return-value]
            if self.git.head_is_detached:
                return None
            return str(self.git.head.name)
        except pygit2.GitError:
            return None

    def resolve_commit(self, ref: str) -> str:
        """The commit a ref, tag, or revision names (tags peeled).

        A name that exists but whose object cannot be read is CorruptObjectError,
        never UnknownRefError.
        """
        if not ref or ref.startswith("-") or "\x00" in ref:
            raise UnknownRefError(ref)
        try:
            obj = self.git.revparse_single(ref)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.InvalidSpecError):
            named = self._named_object(ref)
            if named is not None and not self.has_object(named):
                what = f"object {named}" if named == ref else f"{ref} names object {named}, which"
                raise self._corrupt(what, "it is missing" if named == ref else "") from None
            raise UnknownRefError(ref) from None
        except pygit2.GitError as exc:
            raise self._corrupt(f"{ref} (object {self._named_object(ref) or '?'})", str(exc)) from None
        return _hex(commit.id)

    def _named_object(self, name: str) -> str | None:
        """The object a ref name or full id points at directly, without reading any object."""
        if _is_oid(name):
            return name
        for candidate in (
            name,
            f"refs/{name}",
            f"refs/tags/{name}",
            f"refs/heads/{name}",
            f"refs/remotes/{name}",
        ):
            target = self.ref_target(candidate)
            if target is not None:
                return target
        return None

    def try_resolve_commit(self, ref: str) -> str | None:
        try:
            return self.resolve_commit(ref)
        except UnknownRefError:
            return None

    # --- objects -----------------------------------------------------------------

    def _object(self, oid: str) -> pygit2.Object:
        try:
            return self.git[pygit2.Oid(hex=oid)]
        except (KeyError, ValueError):
            raise self._corrupt(f"object {oid}", "it is missing") from None
        except pygit2.GitError as exc:
            raise self._corrupt(f"object {oid}", str(exc)) from None

    def commit(self, ref_or_oid: str) -> CommitInfo:
        oid = ref_or_oid if _is_oid(ref_or_oid) else self.resolve_commit(ref_or_oid)
        c = self._object(oid)
        if not isinstance(c, pygit2.Commit):
            raise UnknownRefError(ref_or_oid, "not a commit")
        return CommitInfo(
            oid=_hex(c.id),
            tree=_hex(c.tree_id),
            parents=tuple(_hex(p) for p in c.parent_ids),
            author=Identity(c.author.name, c.author.email),
            author_time=c.author.time,
            committer=Identity(c.committer.name, c.committer.email),
            commit_time=c.committer.time,
            message=c.message,
        )

    def tree_of(self, commit: str) -> str:
        obj = self._object(commit)
        with self._reading(f"the commit of tag {commit}"):
            c = obj.peel(pygit2.Commit) if isinstance(obj, pygit2.Tag) else obj
        if not isinstance(c, pygit2.Commit):
            raise UnknownRefError(commit, "not a commit")
        return _hex(c.tree_id)

    def subtree(self, tree: str, path: str) -> str | None:
        """The id of the tree at path inside tree, or None when there is none."""
        if not path or path == ".":
            return tree
        item = self.entry_at(tree, path)
        return item.oid if item is not None and item.mode == TREE_MODE else None

    def entry_at(self, tree: str, path: str) -> TreeItem | None:
        """The tree item at path (blob, tree, link, submodule), or None."""
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        try:
            with self._reading(f"a tree on the path {path!r} of tree {tree}"):
                entry = t[path]
        except KeyError:
            return None
        return TreeItem(entry.name or "", _hex(entry.id), int(entry.filemode))

    def list_tree(self, tree: str) -> list[TreeItem]:
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        return [TreeItem(e.name or "", _hex(e.id), int(e.filemode)) for e in t]

    def tree_size(self, tree: str) -> int:
        """How many items a tree holds (without listing them)."""
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        return len(t)

    def tree_item(self, tree: str, position: int) -> TreeItem:
        """The item at a position of a tree's (sorted) listing, without listing the others."""
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        with self._reading(f"item {position} of tree {tree}"):
            e = t[position]
        return TreeItem(e.name or "", _hex(e.id), int(e.filemode))

    def walk_tree(self, tree: str, prefix: str = "") -> Iterator[tuple[str, TreeItem]]:
        """Every non-tree item below tree, with its path relative to tree."""
        for path, oid, mode in self.walk_files(tree, prefix):
            yield path, TreeItem(path.rsplit("/", 1)[-1], oid, mode)

    def walk_files(self, tree: str, prefix: str = "") -> list[tuple[str, str, int]]:
        """(path relative to tree, blob id, mode) of every non-tree item below tree, in git's order."""
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        out: list[tuple[str, str, int]] = []
        folders: list[tuple[str, str]] = []
        with self._reading(f"the tree {tree}"):
            for e in t:
                mode = int(e.filemode)
                if mode == TREE_MODE:
                    folders.append((f"{prefix}{e.name}/", str(e.id)))
                else:
                    out.append((f"{prefix}{e.name}", str(e.id), mode))
        for folder, oid in folders:
            out.extend(self.walk_files(oid, folder))
        return sorted(out) if folders else out

    def read_blob(self, oid: str) -> bytes:
        b = self._object(oid)
        if not isinstance(b, pygit2.Blob):
            raise CorruptObjectError(f"object {oid} is not a blob")
        with self._reading(f"blob {oid}"):
            return bytes(memoryview(b))  # the content read above; b.data would read it again

    def blob_size(self, oid: str) -> int:
        try:
            _type, size = self.git.odb.read_header(oid)
        except (KeyError, ValueError):
            raise self._corrupt(f"object {oid}", "it is missing") from None
        except pygit2.GitError as exc:
            raise self._corrupt(f"object {oid}", str(exc)) from None
        return int(size)

    def has_object(self, oid: str) -> bool:
        try:
            return oid in self.git.odb
        except (ValueError, pygit2.GitError):
            return False

    @staticmethod
    def hash_blob(data: bytes) -> str:
        """The id git gives data as a blob, without writing it."""
        return _hex(pygit2.hash(data))

    def diff_trees(self, old_tree: str | None, new_tree: str | None) -> list[Change]:
        """Paths that differ between two trees; cost follows the change."""
        if old_tree == new_tree:
            return []
        a = self._object(old_tree) if old_tree else None
        b = self._object(new_tree) if new_tree else None
        if a is None and b is None:
            return []
        if a is None:
            assert isinstance(b, pygit2.Tree)
            return [Change("A", p, None, i.oid, None, i.mode) for p, i in self.walk_tree(_hex(b.id))]
        if b is None:
            assert isinstance(a, pygit2.Tree)
            return [Change("D", p, i.oid, None, i.mode, None) for p, i in self.walk_tree(_hex(a.id))]
        assert isinstance(a, pygit2.Tree) and isinstance(b, pygit2.Tree)
        out: list[Change] = []
        self._diff_pair(a, b, "", out, f"a tree below {old_tree} or {new_tree}")
        return out

    def tag(self, oid: str) -> TagInfo | None:
        """The annotated tag object oid, or None when oid is not a tag object."""
        obj = self._object(oid)
        if not isinstance(obj, pygit2.Tag):
            return None
        tagger = obj.tagger
        with self._reading(f"the target {obj.target} of tag {oid}"):
            target_type = obj.get_object().type_str
        return TagInfo(
            oid=oid,
            name=obj.name or "",
            target=_hex(obj.target),
            target_type=target_type,
            tagger=Identity(tagger.name, tagger.email) if tagger else None,
            tag_time=tagger.time if tagger else None,
            message=obj.message or "",
        )

    def raw_object(self, oid: str) -> bytes:
        obj = self._object(oid)
        with self._reading(f"object {oid}"):
            return bytes(obj.read_raw())

    # --- checks -------------------------------------------------------------------------

    def check_object_store(self) -> list[str]:
        """Every loose object inflated and hashed, every pack checked against its index (see integrity)."""
        return integrity.check_object_store(self.git_dir)


def _is_oid(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value)


def init_repository(path: str | os.PathLike[str], bare: bool = False) -> Repository:
    """Create (or reuse) a git repository at path with main as its branch."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if pygit2.discover_repository(str(p)) is None or not (p / ".git").exists() and not bare:
        pygit2.init_repository(str(p), bare=bare, initial_head="main")
    return Repository(p)
