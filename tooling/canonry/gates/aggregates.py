"""Whole-library facts at the draft's head, from an indexed tree plus a tree diff.

The evidence, confidence and identity gates and the engine's metrics need a
fact about the whole head library: how many entries it holds, which override
ids it cites, how many entries are in the blocked confidence band, which
file names case folding changes. Each is a section of the derived index of
an indexed tree (the base's, or a published tree near it; derived.py) with
the difference between that tree and the head laid over it: a tree diff and
the changed entries parsed, never every entry. A library the head holds off a
pure tree (a work tree with changes) is read whole, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import EntrySyntaxError
from ..store.entries import store_for
from ..store.registry import ConfidencePolicy, LibrarySpec
from ..store.repo import Change
from ..store.states import FileRef
from .content import SectionValue, nearby, section_at, section_at_hand
from .context import GateContext, nfc_casefold
from .derived import (
    Section,
    citations_of,
    has_section,
    listing_section,
    tally_section,
    thresholds_section,
)
from .thresholds import Thresholds, is_blocked


@dataclass
class Delta:
    """A section of an indexed tree's index and the files that differ from it at the head."""

    spec: LibrarySpec
    tree: str
    value: SectionValue
    changes: list[Change]

    def entry_changes(self) -> list[tuple[str, Change]]:
        out = []
        for change in self.changes:
            entry_id = self.spec.id_from_relative_path(change.path)
            if entry_id is not None:
                out.append((entry_id, change))
        return out


def delta(ctx: GateContext, spec: LibrarySpec, section: Section, *, build: bool = True) -> Delta | None:
    """The section at the indexed tree nearest the head, and the head's difference to it.

    The indexed tree is the base's when its index is at hand, else a published tree
    near it whose shipped index has the section, else the base's, built from its
    entries when `build` (else None). None off a pure tree too.
    """
    head_tree = ctx.head.tree_id(spec.path)
    state = ctx.base or ctx.head
    base_tree = state.tree_id(spec.path)
    if head_tree is None or base_tree is None:
        return None
    tree = base_tree
    if not section_at_hand(ctx.repo, spec, base_tree, section):
        near = nearby(ctx, spec)
        if near is not None and has_section(ctx.repo, spec, near, section):
            tree = near
        elif not build:
            return None
    described, value = section_at(ctx.repo, state, spec, section, tree if tree != base_tree else None)
    tree = described or base_tree
    key = ("tree diff", tree, head_tree)
    if key not in ctx.shared:  # one diff per pair of trees and run, whichever sections ask
        ctx.shared[key] = ctx.repo.diff_trees(tree, head_tree)
    return Delta(spec, tree, value, ctx.shared[key])


def _doc(ctx: GateContext, spec: LibrarySpec, path: str, oid: str | None, mode: int | None) -> Any:
    if oid is None or mode is None:
        return None
    try:
        return store_for(ctx.repo).parse_blob(ctx.repo, FileRef(f"{spec.path}/{path}", oid, mode))
    except EntrySyntaxError:
        return None


def entry_count(ctx: GateContext, spec: LibrarySpec) -> int:
    """How many entry files the head's library holds."""
    found = delta(ctx, spec, listing_section(spec), build=False)
    if found is None and (ctx.base is None or ctx.full) and not ctx.only_paths:
        base = len(spec.path) + 1  # a full check has listed every file already
        return sum(
            1
            for c in ctx.changes(spec.path)
            if c.new is not None and spec.id_from_relative_path(c.path[base:]) is not None
        )
    if found is None:
        return len(ctx.head_library(spec))  # a listing: cheaper than building the index
    count = int(found.value["entries"])
    for _, change in found.entry_changes():
        count += (change.new_oid is not None) - (change.old_oid is not None)
    return count


def odd_paths(ctx: GateContext, spec: LibrarySpec) -> list[str] | None:
    """Repository paths of the head library's files whose names NFC and case folding change.

    None when the library's own folder name is such a name (every file is then).
    """
    if nfc_casefold(spec.path) != spec.path:
        return None
    found = delta(ctx, spec, listing_section(spec), build=False)
    if found is None:
        rels = [p[len(spec.path) + 1 :] for p in ctx.head.files(spec.path)]
    else:
        rels = list(found.value["odd"])
        gone = {c.path for c in found.changes if c.old_oid is not None}
        rels = [p for p in rels if p not in gone]
        rels += [c.path for c in found.changes if c.new_oid is not None]
    paths = [f"{spec.path}/{p}" for p in rels]
    return sorted(p for p in paths if nfc_casefold(p) != p)


def cited_ids(ctx: GateContext, spec: LibrarySpec) -> frozenset[str]:
    """The override ids the head's library cites (its ingested overrides)."""
    found = delta(ctx, spec, tally_section())
    if found is None:
        from ..learning import cited_override_ids

        return cited_override_ids(ctx.head_library(spec))
    tally: dict[str, int] = dict(found.value)
    for _, change in found.entry_changes():
        for sign, oid, mode in ((-1, change.old_oid, change.old_mode), (1, change.new_oid, change.new_mode)):
            doc = _doc(ctx, spec, change.path, oid, mode)
            if isinstance(doc, Mapping):
                for override_id in citations_of(doc):
                    tally[override_id] = tally.get(override_id, 0) + sign
    return frozenset(i for i, n in tally.items() if n > 0)


def blocked_others(
    ctx: GateContext, spec: LibrarySpec, policy: ConfidencePolicy, at: dt.datetime, changed: set[str]
) -> int | None:
    """How many head entries outside `changed` are in the blocked band at `at`; None off a pure tree."""
    found = delta(ctx, spec, thresholds_section(spec, policy))
    if found is None:
        return None
    thresholds: Thresholds = found.value
    field = spec.confidence_field or "confidence"

    def at_index(entry_id: str) -> Mapping[str, Any] | None:
        rel = spec.entry_path(entry_id)[len(spec.path) + 1 :]
        item = ctx.repo.entry_at(found.tree, rel)
        return _doc(ctx, spec, rel, item.oid, item.mode) if item is not None and not item.is_tree else None

    count, _ = thresholds.blocked(at, at_index)
    for entry_id, change in found.entry_changes():
        if change.old_oid is not None:
            old = _doc(ctx, spec, change.path, change.old_oid, change.old_mode)
            if isinstance(old, Mapping) and thresholds.is_blocked_at(entry_id, at, old):
                count -= 1
        if change.new_oid is not None and entry_id not in changed:
            new = _doc(ctx, spec, change.path, change.new_oid, change.new_mode)
            if isinstance(new, Mapping) and is_blocked(new, policy, at, field):
                count += 1
    if changed:
        # entries the draft changed that the indexed tree also holds unchanged are not "others"
        touched = {entry_id for entry_id, _ in found.entry_changes()}
        for entry_id in changed - touched:
            doc = at_index(entry_id)
            if isinstance(doc, Mapping) and thresholds.is_blocked_at(entry_id, at, doc):
                count -= 1
    return count
