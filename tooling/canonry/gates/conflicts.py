"""conflicts: semantic conflicts, and three-way merge conflicts when main moved since the draft began.

Semantic: a new or changed entry whose `conflicts.key` fields (normalized as
the duplicates gate does) equal another entry's while its `conflicts.values`
fields differ, e.g. one mapping pattern in one language pointing to two
sector codes. The other entries come from an index of the merge-base cached
by tree id (or shipped in git, derived.py), with the draft's and main's newer
versions laid over it.

Three-way: when main's tip is no longer the merge-base, the draft is merged
into main with the structured merge (canonry.compare.merge.merge_trees(merge-base,
main, draft)), and each conflict is an error naming the entry, the field, and
the base, main and draft values. Both are errors.
"""

from __future__ import annotations

import json
from typing import Any

from ..compare.merge import FieldConflict, field_keys, merge_trees
from ..store.states import FileRef, State
from .content import Landing, Positions, content_specs, landing
from .context import GateContext
from .derived import conflict_index, conflict_section, conflict_values, key_of
from .findings import ERROR, Finding

NAME = "conflicts"
MAX_REPORTED = 5


def check(ctx: GateContext) -> list[Finding]:
    positions = Positions(ctx.head)
    out: list[Finding] = []
    for spec in content_specs(ctx):
        if spec.conflicts is not None:
            out.extend(_semantic(ctx, landing(ctx, spec), positions))
    out.extend(_three_way(ctx, positions))
    return out


def _values(doc: dict[str, Any], fields: tuple[str, ...]) -> str:
    return conflict_values(doc, fields)


def _semantic(ctx: GateContext, land: Landing, positions: Positions) -> list[Finding]:
    spec = land.spec
    assert spec.conflicts is not None
    keys, values = spec.conflicts.key, spec.conflicts.values

    params = [list(keys), list(values)]
    if not land.changed:
        return []
    key_by_id = {e.entry_id: key_of(e.doc, keys) for e in land.changed}
    index = land.index(ctx, conflict_section(spec))
    fresh = conflict_index(land.fresh, params)
    out = []
    for entry in land.changed:
        key = key_by_id[entry.entry_id]
        if key is None:
            continue
        mine = _values(entry.doc, values)
        others = {i: v for i, v in index.get(key, ()) if i not in land.stale}
        others.update((i, v) for i, v in fresh.get(key, ()))
        others.pop(entry.entry_id, None)
        disagreeing = sorted(i for i, v in others.items() if v != mine)
        if not disagreeing:
            continue
        here = ", ".join(f"{f} {json.dumps(entry.doc.get(f), ensure_ascii=False)}" for f in values)
        for other in disagreeing[:MAX_REPORTED]:
            there = json.loads(others[other])
            theirs = ", ".join(
                f"{f} {json.dumps(v, ensure_ascii=False)}" for f, v in zip(values, there, strict=True)
            )
            message = (
                f"conflicts with {land.describe(ctx, other)}: same {', '.join(keys)} but {here} here,"
                f" {theirs} there"
            )
            out.append(
                positions.finding(
                    entry, (values[0],), library=spec.name, gate=NAME, severity=ERROR, message=message
                )
            )
    return out


def _three_way(ctx: GateContext, positions: Positions) -> list[Finding]:
    tip = ctx.options.base_tip
    if not isinstance(tip, State) or ctx.base is None or tip.commit is None or ctx.base.commit is None:
        return []
    if tip.commit == ctx.base.commit or ctx.head.commit is None:
        return []  # main has not moved since the draft began
    result = merge_trees(ctx.repo, ctx.base.commit, tip.commit, ctx.head.commit)
    ctx.metrics["merged_with_main"] = {"clean": result.clean, "merged_paths": len(result.merged_paths)}
    return [_finding(ctx, positions, c) for c in result.conflicts]


def _finding(ctx: GateContext, positions: Positions, conflict: FieldConflict) -> Finding:
    line = column = None
    head_tree = ctx.head.tree_id("")
    item = ctx.repo.entry_at(head_tree, conflict.path) if head_tree and conflict.path else None
    if item is not None and not item.is_tree and conflict.path and conflict.field:
        ref = FileRef(conflict.path, item.oid, item.mode)
        line, column = positions.of(ref, tuple(field_keys(conflict.field)))
    message = (
        f"main changed this since the draft began: {conflict.describe('main', 'draft')}"
        " (merge main into the draft and resolve)"
    )
    return Finding(
        path=conflict.path,
        line=line,
        column=column,
        gate=NAME,
        severity=ERROR,
        message=message,
        library=conflict.library,
        entry_id=conflict.entry_id,
    )
