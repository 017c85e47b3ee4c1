"""What a gate sees: the two states, the rules, the changed files, options and metrics.

Gate modules import this, never the engine, so that the engine can name them.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

from ..errors import UsageError
from ..store.entries import Library, store_for
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.rules import Rules
from ..store.states import FileRef, State
from .entry import CACHE_VERSION, check_files
from .findings import Finding

KNOWLEDGE = "knowledge"
HOLDOUT_DIR = "knowledge/holdout"


class FileChange(NamedTuple):
    """A file that differs from base to head (a tuple: a full check makes 100,000 of them)."""

    path: str
    old: FileRef | None
    new: FileRef | None


@dataclass(frozen=True)
class GateOptions:
    """What a caller tells the gates beyond the two states; a misspelt name is a type error.

    base_tip: the base ref's own tip when the gates compare head with the
    merge-base (main moved on since the draft began); the engine sets it.
    at: the moment the confidence gate judges decay at (None: now).
    review_*: what publish tells the review gate (the draft's head and
    merge-base, the notes refs holding the decisions, the draft's branch).
    """

    base_tip: State | None = None
    at: dt.datetime | dt.date | str | None = None
    review_head: str | None = None
    review_base: str | None = None
    review_notes: tuple[str, ...] = ()
    review_draft: str | None = None

    def with_base_tip(self, tip: State) -> GateOptions:
        """These options with base_tip set to tip unless the caller already set one."""
        return self if self.base_tip is not None else replace(self, base_tip=tip)

    @classmethod
    def coerce(cls, options: GateOptions | Mapping[str, Any] | None) -> GateOptions:
        """GateOptions from options, or from a dict of the same names (an unknown name is a UsageError)."""
        if options is None:
            return cls()
        if isinstance(options, GateOptions):
            return options
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(
                f"unknown gate option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values = dict(options)
        notes = values.get("review_notes")
        if isinstance(notes, str):
            values["review_notes"] = (notes,)  # one ref, not its characters
        elif notes is not None:
            values["review_notes"] = tuple(notes)
        return cls(**values)


@dataclass
class GateContext:
    repo: Repository
    head: State
    base: State | None
    rules: Rules
    head_rules: Rules
    full: bool = False
    only_libraries: tuple[str, ...] = ()
    only_paths: tuple[str, ...] = ()
    options: GateOptions = field(default_factory=GateOptions)
    metrics: dict[str, Any] = field(default_factory=dict)
    _file_findings: dict[str, list[Finding]] = field(default_factory=dict)
    _changes: dict[str, list[FileChange]] = field(default_factory=dict)
    _libs: dict[tuple[str, str], Library] = field(default_factory=dict)
    shared: dict[Any, Any] = field(default_factory=dict)  # what gates compute once per run and share

    # --- rules ----------------------------------------------------------------------

    def rule_sets(self) -> list[Rules]:
        """The base rules, plus the head's when the draft changed them."""
        sets = [self.rules]
        if self.head_rules.digest != self.rules.digest and self.head_rules.registry is not None:
            sets.append(self.head_rules)
        return sets

    @property
    def rules_changed(self) -> bool:
        return self.head_rules.digest != self.rules.digest

    def specs(self) -> list[LibrarySpec]:
        registry = self.rules.registry
        if registry is None:
            return []
        names = self.only_libraries or tuple(registry.names())
        return [registry.library(n) for n in names]

    # --- what changed -----------------------------------------------------------------

    def changes(self, prefix: str) -> list[FileChange]:
        """Files under prefix that differ from base to head (all head files when full)."""
        cached = self._changes.get(prefix)
        if cached is not None:
            return cached
        if self.base is None or self.full:
            out = [FileChange(p, None, r) for p, r in sorted(self._head_files(prefix).items())]
        else:
            base_tree = self.base.tree_id(prefix)
            head_tree = self.head.tree_id(prefix)
            if base_tree is not None and head_tree is not None:
                out = []
                for c in self.repo.diff_trees(base_tree, head_tree):
                    path = f"{prefix}/{c.path}"
                    old = FileRef(path, c.old_oid, c.old_mode or 0) if c.old_oid else None
                    new = FileRef(path, c.new_oid, c.new_mode or 0) if c.new_oid else None
                    out.append(FileChange(path, old, new))
            else:
                head_files = self.head.files(prefix)
                base_files = self.base.files(prefix)
                out = []
                for path in sorted(set(base_files) | set(head_files)):
                    old, new = base_files.get(path), head_files.get(path)
                    if old != new:
                        out.append(FileChange(path, old, new))
        if self.only_paths:
            out = [c for c in out if any(c.path == p or c.path.startswith(p + "/") for p in self.only_paths)]
        self._changes[prefix] = out
        return out

    def _head_files(self, prefix: str) -> dict[str, FileRef]:
        """The head's files under prefix; knowledge/ listed first, once, so each library is taken from it."""
        if prefix.startswith(KNOWLEDGE + "/"):
            self.head.files(KNOWLEDGE)  # the state serves the folders below a listed one from it
        return self.head.files(prefix)

    def changed_entries(self, spec: LibrarySpec) -> list[FileChange]:
        return self.changes(spec.path)

    def changed_docs(self, spec: LibrarySpec, side: str = "new") -> dict[str, dict[str, Any]]:
        """{entry id: parsed entry} of the changed entries, as head ("new") or base ("old") has them.

        Unparseable ones are left out (the yaml and schema gates report them).
        """
        base = len(spec.path) + 1
        refs: dict[str, FileRef] = {}
        for change in self.changes(spec.path):
            ref = change.new if side == "new" else change.old
            if ref is not None and change.new is not None:
                entry_id = spec.id_from_relative_path(change.path[base:])
                if entry_id is not None:
                    refs[entry_id] = ref
        state = self.head if side == "new" else (self.base or self.head)
        parsed = store_for(self.repo).get_many([(r.path, r) for r in refs.values()], state)
        return {i: doc for i, r in refs.items() if isinstance(doc := parsed.get(r.oid), dict)}

    # --- libraries --------------------------------------------------------------------

    def head_library(self, spec: LibrarySpec) -> Library:
        return self._library("head", self.head, spec)

    def base_library(self, spec: LibrarySpec) -> Library | None:
        return self._library("base", self.base, spec) if self.base is not None else None

    def _library(self, side: str, state: State, spec: LibrarySpec) -> Library:
        key = (side, spec.name)
        lib = self._libs.get(key)
        if lib is None:
            lib = self._libs[key] = Library(state, spec)
        return lib

    # --- the per-file gates' shared pass -------------------------------------------------

    def file_findings(self) -> list[Finding]:
        """yaml/schema/identity/checks findings of every checked file, computed once."""
        if "all" in self._file_findings:
            return self._file_findings["all"]
        store = store_for(self.repo)
        out: list[Finding] = []
        for rules in self.rule_sets():
            registry = rules.registry
            if registry is None:
                continue
            for name in self.only_libraries or tuple(registry.names()):
                spec = registry.libraries.get(name)
                if spec is None:
                    continue
                tree = self.head.tree_id(spec.path)
                key = None
                if self.full and tree is not None and not self.only_paths:
                    key = f"lib:{CACHE_VERSION}:{rules.digest}:{name}:{tree}"
                    hit = store.get_result(key)
                    if hit is not None:
                        out.extend(Finding.from_tuple(t) for t in hit)
                        continue
                if rules is not self.rules:
                    # The draft changed the rules: every entry must pass the new ones too.
                    refs = list(self.head.files(spec.path).values())
                else:
                    refs = [c.new for c in self.changes(spec.path) if c.new is not None]
                found = check_files(self.head, rules, spec, refs)
                if key is not None and spec.name in rules.validators:
                    store.put_result(key, [f.as_tuple() for f in found])
                out.extend(found)
        self.metrics["entries_checked"] = sum(
            len([c for c in self.changes(s.path) if c.new is not None]) for s in self.specs()
        )
        self._file_findings["all"] = out
        return out


def nfc_casefold(path: str) -> str:
    """A name as NFC and case folding leave it (the form two names collide in)."""
    if path.isascii():
        return path.lower()  # NFC leaves ASCII alone; casefold is lower() on ASCII
    return unicodedata.normalize("NFC", path).casefold()


Check = Callable[[GateContext], list[Finding]]
