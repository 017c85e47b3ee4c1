"""The plain values the git wrapper hands out: ids as hex strings, never pygit2 objects."""

from __future__ import annotations

from dataclasses import dataclass

from pygit2.enums import FileMode

ZERO_OID = "0" * 40
BLOB_MODE = int(FileMode.BLOB)
EXEC_MODE = int(FileMode.BLOB_EXECUTABLE)
LINK_MODE = int(FileMode.LINK)
TREE_MODE = int(FileMode.TREE)
COMMIT_MODE = int(FileMode.COMMIT)


@dataclass(frozen=True)
class RefUpdate:
    """Set `name` to `new` only if it is `old` now (None: must not exist / delete)."""

    name: str
    new: str | None
    old: str | None


@dataclass(frozen=True)
class TreeItem:
    name: str
    oid: str
    mode: int

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees (no rename detection)."""

    status: str  # "A" added, "D" deleted, "M" modified (content or mode)
    path: str
    old_oid: str | None
    new_oid: str | None
    old_mode: int | None
    new_mode: int | None


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    author_time: int
    committer: Identity
    commit_time: int
    message: str


@dataclass(frozen=True)
class TagInfo:
    oid: str
    name: str
    target: str
    target_type: str
    tagger: Identity | None
    tag_time: int | None
    message: str
