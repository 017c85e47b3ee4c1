"""append-only: in append-only libraries, entries are added, never deleted, renamed or edited.

Only fields named in the library's `mutable_fields` may change:

- `any`: may change freely (e.g. `updated_at`);
- `set_once`: may go from null (or absent) to a value, once;
- a transitions map `{from: [to, ...]}`: may move only along it, one step
  per edge; moving backwards or skipping a step is an error.

A rename is a deletion plus an addition: the deletion is the error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..compare.merge import ABSENT
from ..compare.values import same_value
from ..errors import EntrySyntaxError
from ..store.entries import parse_blob
from ..store.registry import LibrarySpec
from .content import Positions, changed_entries, content_specs, entry_id_of
from .context import GateContext
from .findings import ERROR, Finding

NAME = "append-only"


def check(ctx: GateContext) -> list[Finding]:
    if ctx.base is None:
        return []
    out: list[Finding] = []
    positions = Positions(ctx.head)
    for spec in content_specs(ctx):
        if spec.append_only:
            out.extend(_deleted(ctx, spec))
            out.extend(_edited(ctx, spec, positions))
    return out


def _deleted(ctx: GateContext, spec: LibrarySpec) -> list[Finding]:
    assert ctx.base is not None
    changes = ctx.changed_entries(spec)
    deleted = [c for c in changes if c.old is not None and c.new is None]
    if not deleted:
        return []
    added = {_without_id(e.doc): e.path for e in changed_entries(ctx, spec) if e.old is None}
    out = []
    for change in deleted:
        assert change.old is not None
        try:
            moved_to = added.get(_without_id(parse_blob(ctx.repo, ctx.base, change.old)))
        except EntrySyntaxError:
            moved_to = None
        what = f"entry renamed to {moved_to}" if moved_to else "entry deleted"
        message = f"{what}: {spec.name} is append-only, its entries are never removed or renamed"
        entry_id = entry_id_of(spec, change.path)
        out.append(
            Finding(
                path=change.path,
                gate=NAME,
                severity=ERROR,
                message=message,
                library=spec.name,
                entry_id=entry_id,
            )
        )
    return out


def _edited(ctx: GateContext, spec: LibrarySpec, positions: Positions) -> list[Finding]:
    assert ctx.base is not None
    out = []
    for entry in changed_entries(ctx, spec):
        if entry.old is None:
            continue  # an addition
        try:
            old = parse_blob(ctx.repo, ctx.base, entry.old)
        except EntrySyntaxError:
            continue  # nothing to hold the draft to
        for name in sorted(set(old) | set(entry.doc)):
            before, after = old.get(name, ABSENT), entry.doc.get(name, ABSENT)
            if same_value(before, after):
                continue
            problem = field_change_problem(spec.mutable_fields.get(name), before, after)
            if problem is None:
                continue
            out.append(
                positions.finding(
                    entry,
                    (name,) if after is not ABSENT else (),
                    library=spec.name,
                    gate=NAME,
                    severity=ERROR,
                    message=f"{name}: {problem} ({spec.name} is append-only)",
                )
            )
    return out


def _without_id(doc: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in doc.items() if k != "id"}, sort_keys=True)


def field_change_problem(rule: Any, before: Any, after: Any) -> str | None:
    """What is wrong with a field moving from before to after under its mutable_fields rule (None: fine)."""
    if rule == "any":
        return None
    if rule == "set_once":
        if before is ABSENT or before is None:
            return None
        return f"already set to {_show(before)}; it may be set only once (now {_show(after)})"
    if isinstance(rule, Mapping):
        allowed = list(rule.get(before, ())) if isinstance(before, str) else []
        if isinstance(after, str) and after in allowed:
            return None
        if isinstance(after, str) and isinstance(before, str) and _reachable(rule, after, before):
            return f"moves backwards from {before} to {after}"
        if allowed:
            return f"may move from {_show(before)} only to {', '.join(allowed)}, not to {_show(after)}"
        return f"may not move from {_show(before)} to {_show(after)} ({_path_text(rule)})"
    if after is ABSENT:
        return "field deleted; only the fields in mutable_fields may change"
    return f"changed from {_show(before)} to {_show(after)}; only the fields in mutable_fields may change"


def _reachable(rule: Mapping[str, Any], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in rule.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _path_text(rule: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} -> {'|'.join(v)}" for k, v in rule.items())


def _show(value: Any) -> str:
    return "(absent)" if value is ABSENT else repr(value)
