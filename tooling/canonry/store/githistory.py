"""Reading history and notes: ancestry, merge bases, walks, notes trees, config values.

Part of the one git wrapper (mixed into Repository); every libgit2 failure
while reading becomes CorruptObjectError through Repository._reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import pygit2

from .gittypes import CommitInfo, TreeItem


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
