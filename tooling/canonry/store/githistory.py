"""Reading history and notes: ancestry, merge bases, walks, tree diffs, notes trees, config values.

Part of the one git wrapper (mixed into Repository); every libgit2 failure
while reading becomes CorruptObjectError through Repository._reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import pygit2

from .gittypes import TREE_MODE, Change, CommitInfo, TreeItem

# Two trees of at most this many entries each are compared entry by entry before libgit2 diffs them.
_SPLIT_LIMIT = 1024


def _hex(oid: object) -> str:
    return str(oid)


class HistoryReader:
    """The history and notes operations of Repository."""

    git: pygit2.Repository

    if TYPE_CHECKING:  # provided by Repository

        def _reading(self, what: str) -> AbstractContextManager[None]: ...

        def ref_target(self, name: str) -> str | None: ...

        def commit(self, ref_or_oid: str) -> CommitInfo: ...

        def entry_at(self, tree: str, path: str) -> TreeItem | None: ...

        def read_blob(self, oid: str) -> bytes: ...

        def _corrupt(self, what: str, detail: str = "") -> Exception: ...

    # --- history -------------------------------------------------------------------

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        if ancestor == descendant:
            return True
        with self._reading(f"the history between {ancestor} and {descendant}"):
            return bool(self.git.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))

    def merge_base(self, a: str, b: str) -> str | None:
        with self._reading(f"the history of {a} and {b}"):
            base = self.git.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return _hex(base) if base else None

    def walk(self, head: str, hide: Sequence[str] = (), topo: bool = True) -> Iterator[CommitInfo]:
        """Commits reachable from head and not from hide, newest first."""
        mode = (
            pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
            if topo
            else pygit2.enums.SortMode.TIME
        )
        with self._reading(f"the history of {head}"):
            walker = self.git.walk(pygit2.Oid(hex=head), mode)
            for h in hide:
                walker.hide(pygit2.Oid(hex=h))
            oids = [_hex(c.id) for c in walker]
        for oid in oids:
            yield self.commit(oid)

    def count_between(self, a: str, b: str) -> tuple[int, int]:
        """(ahead, behind) of b relative to a."""
        with self._reading(f"the history of {a} and {b}"):
            ahead, behind = self.git.ahead_behind(pygit2.Oid(hex=b), pygit2.Oid(hex=a))
        return int(ahead), int(behind)

    # --- trees ---------------------------------------------------------------------

    def _diff_pair(self, a: pygit2.Tree, b: pygit2.Tree, prefix: str, out: list[Change], what: str) -> None:
        """Append the changes from a to b (two different trees) to out, paths under prefix, in path order.

        libgit2 reads every subtree of both sides, the identical ones too (all 256
        shards of a sharded library for a change in a few). So where two small
        trees differ in subtrees only, each differing pair is diffed on its own.
        """
        if len(a) <= _SPLIT_LIMIT and len(b) <= _SPLIT_LIMIT:
            with self._reading(what):
                old, new = {e.name: e for e in a}, {e.name: e for e in b}
            pairs = []
            for name in old.keys() | new.keys():
                x, y = old.get(name), new.get(name)
                if x is None or y is None or x.filemode != TREE_MODE or y.filemode != TREE_MODE:
                    if x is None or y is None or x.id != y.id or x.filemode != y.filemode:
                        break  # not only subtrees differ: libgit2 diffs the two trees
                elif x.id != y.id:
                    pairs.append((f"{name}/", x.id, y.id))
            else:
                for sub, x_id, y_id in sorted(pairs):  # path order: a subtree sorts as "name/"
                    try:
                        with self._reading(what):
                            sub_a, sub_b = self.git[x_id], self.git[y_id]
                    except KeyError:
                        raise self._corrupt(what, "it is missing") from None
                    if not isinstance(sub_a, pygit2.Tree) or not isinstance(sub_b, pygit2.Tree):
                        raise self._corrupt(what, f"{prefix}{sub} is not a tree on both sides")
                    self._diff_pair(sub_a, sub_b, prefix + sub, out, what)
                return
        # Iterate deltas, not patches: patches would compute text diffs.
        with self._reading(what):
            deltas = list(a.diff_to_tree(b).deltas)
        for d in deltas:
            status = {"A": "A", "D": "D"}.get(d.status_char(), "M")
            out.append(
                Change(
                    status,
                    prefix + (d.new_file.path if status != "D" else d.old_file.path),
                    None if status == "A" else _hex(d.old_file.id),
                    None if status == "D" else _hex(d.new_file.id),
                    None if status == "A" else int(d.old_file.mode),
                    None if status == "D" else int(d.new_file.mode),
                )
            )

    # --- notes and config ------------------------------------------------------------

    def read_note(self, notes_ref: str, target: str) -> str | None:
        """The note on target under notes_ref, or None (read from the notes tree, fan-out included)."""
        tip = self.ref_target(notes_ref)
        if tip is None:
            return None
        node, rest = self.commit(tip).tree, target
        while True:
            item = self.entry_at(node, rest)
            if item is not None and not item.is_tree:
                return self.read_blob(item.oid).decode("utf-8", "replace")
            sub = self.entry_at(node, rest[:2]) if len(rest) > 2 else None
            if sub is None or not sub.is_tree:
                return None
            node, rest = sub.oid, rest[2:]

    def notes(self, notes_ref: str) -> dict[str, str]:
        """{annotated object id: note text} for every note under notes_ref."""
        if self.ref_target(notes_ref) is None:
            return {}
        out: dict[str, str] = {}
        with self._reading(f"the notes under {notes_ref}"):
            for note in self.git.notes(notes_ref):  # type: ignore[call-arg]
                out[_hex(note.annotated_id)] = str(note.message)
        return out

    def configured(self, key: str) -> str | None:
        """A config value as libgit2 reads it (repository, global, system), None when unset; no process."""
        try:
            return str(self.git.config[key])
        except (KeyError, ValueError, pygit2.GitError):
            return None
