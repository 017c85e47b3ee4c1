"""Writing objects: blobs, trees changed along their paths, commits, tag objects, notes.

Part of the one git wrapper (mixed into Repository). No ref moves here except
the notes ref, which moves by compare-and-swap like every other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import FileMode, ObjectType

from ..errors import CorruptObjectError
from .gittypes import BLOB_MODE, CommitInfo, Identity, RefUpdate, TreeItem
from .times import epoch_now


def _hex(oid: object) -> str:
    return str(oid)


class ObjectWriter:
    """The writing operations of Repository."""

    git: pygit2.Repository

    if TYPE_CHECKING:  # provided by Repository and GitCommands

        def _object(self, oid: str) -> pygit2.Object: ...

        def ref_target(self, name: str) -> str | None: ...

        def commit(self, ref_or_oid: str) -> CommitInfo: ...

        def walk_tree(self, tree: str, prefix: str = "") -> Iterator[tuple[str, TreeItem]]: ...

        def update_refs(self, updates: Sequence[RefUpdate], message: str) -> None: ...

    def write_blob(self, data: bytes) -> str:
        return _hex(self.git.create_blob(data))

    def write_tree(self, base_tree: str | None, changes: dict[str, bytes | None]) -> str:
        """A new tree: base_tree with each path set to bytes (a 100644 blob) or removed.

        Only the subtrees on changed paths are rewritten (TreeBuilder per level).
        """
        items = {p: None if d is None else (self.write_blob(d), BLOB_MODE) for p, d in changes.items()}
        return self.update_tree(base_tree, items)

    def update_tree(self, base_tree: str | None, items: dict[str, tuple[str, int] | None]) -> str:
        """A new tree: base_tree with each path set to an existing object (oid, mode) or removed.

        Like write_tree, but keeps modes (executables, links) of objects already stored. A
        folder written where a file was (or the reverse) replaces it.
        """
        nested: dict[str, object] = {}
        for path, item in items.items():
            parts = [p for p in path.split("/") if p]
            if not parts or any(p in {".", ".."} for p in parts):
                raise ValueError(f"bad path: {path!r}")
            node = nested
            for part in parts[:-1]:
                child = node.get(part)
                if child is None:  # absent, or a file removed to make way for a folder
                    child = node[part] = {}
                if not isinstance(child, dict):  # a file set where this folder was
                    if item is not None:
                        raise ValueError(f"path {path!r} goes through a file")
                    break
                node = child
            else:
                if item is not None or not isinstance(node.get(parts[-1]), dict):
                    node[parts[-1]] = item
        return self._update_level(base_tree, nested) or _hex(self.git.TreeBuilder().write())

    def _update_level(self, tree: str | None, items: dict[str, object]) -> str | None:
        base = self._object(tree) if tree else None
        if base is not None and not isinstance(base, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        builder = self.git.TreeBuilder(base) if base is not None else self.git.TreeBuilder()
        for name, item in items.items():
            existing = builder.get(name)
            if isinstance(item, dict):
                # a folder where there was a file replaces the file
                is_tree = existing is not None and existing.filemode == FileMode.TREE
                sub = self._update_level(_hex(existing.id) if is_tree else None, item)
                if sub is None:
                    if existing is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, pygit2.Oid(hex=sub), FileMode.TREE)
            elif item is None:
                if existing is not None:
                    builder.remove(name)
            else:
                assert isinstance(item, tuple)
                builder.insert(name, pygit2.Oid(hex=item[0]), item[1])
        return _hex(builder.write()) if len(builder) else None

    def create_commit(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        author: Identity,
        committer: Identity | None = None,
        when: int | None = None,
    ) -> str:
        """Write a commit object; no ref moves (use update_refs for that)."""
        t = epoch_now() if when is None else when
        a = pygit2.Signature(author.name, author.email, t, 0)
        c = pygit2.Signature((committer or author).name, (committer or author).email, t, 0)
        oid = self.git.create_commit(
            None, a, c, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return _hex(oid)

    def create_tag_object(
        self, name: str, target: str, message: str, tagger: Identity, when: int | None = None
    ) -> str:
        """Write an annotated tag object without creating its ref."""
        t = epoch_now() if when is None else when
        raw = (
            f"object {target}\ntype commit\ntag {name}\n"
            f"tagger {tagger.name} <{tagger.email}> {t} +0000\n\n{message}"
        )
        if not raw.endswith("\n"):
            raw += "\n"
        return _hex(self.git.odb.write(ObjectType.TAG, raw.encode("utf-8")))

    def write_raw_tag(self, raw: bytes) -> str:
        return _hex(self.git.odb.write(ObjectType.TAG, raw))

    def write_note(self, notes_ref: str, target: str, text: str, author: Identity, message: str) -> None:
        """Set the note on target under notes_ref, compare-and-swap on the notes ref."""
        old = self.ref_target(notes_ref)
        base_tree = self.commit(old).tree if old else None
        # Notes trees may be fanned out by git; replace any existing note for target.
        existing = None
        if base_tree:
            for path, _item in self.walk_tree(base_tree):
                if path.replace("/", "") == target:
                    existing = path
                    break
        changes: dict[str, bytes | None] = {}
        if existing and existing != target:
            changes[existing] = None
        changes[target] = text.encode("utf-8")
        tree = self.write_tree(base_tree, changes)
        commit = self.create_commit(tree, [old] if old else [], message, author)
        self.update_refs([RefUpdate(notes_ref, commit, old)], message)
