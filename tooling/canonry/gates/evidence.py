"""evidence: learned entries cite enough supporting overrides, and every cited override exists.

- An id newly cited in `evidence.override_ids` must name an entry of the
  `overrides` library (at the head, or at the base tip when main moved on).
- An entry whose `evidence.kind` is `overrides` (a learned pattern) needs at
  least `policy.min_override_frequency` cited overrides whose `final_code` is
  the entry's `sector_code`.
- An entry marked `basis: calibrated` needs at least that many
  `evidence_override_ids`.

It also records, per changed library that can cite overrides, how many distinct
overrides the head has ingested: `metrics["overrides_ingested"][library]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..learning import OVERRIDES, override_ids_of
from ..learning.matching import read_entries
from ..store.entries import Library
from ..store.registry import LibrarySpec
from .aggregates import cited_ids
from .context import GateContext
from .findings import ERROR, Finding

NAME = "evidence"


def check(ctx: GateContext) -> list[Finding]:
    registry = ctx.rules.registry
    if registry is None:
        return []
    need = registry.policy.min_override_frequency
    out: list[Finding] = []
    for spec in ctx.specs():
        changes = ctx.changes(spec.path)
        if not changes or spec.name == OVERRIDES:
            continue
        entries = ctx.changed_docs(spec)  # unreadable ones: the yaml and schema gates
        olds = ctx.changed_docs(spec, "old") if ctx.base is not None else {}
        overrides = _Overrides(ctx, registry.libraries.get(OVERRIDES))
        overrides.load(i for e in entries.values() for i in override_ids_of(e))
        for entry_id, entry in entries.items():
            out.extend(_check_entry(spec, entry_id, entry, olds.get(entry_id), need, overrides))
        if _can_cite(ctx, spec):
            ctx.metrics.setdefault("overrides_ingested", {})[spec.name] = len(
                cited_ids(ctx, spec) & overrides.known_ids()
            )
    return out


def _can_cite(ctx: GateContext, spec: LibrarySpec) -> bool:
    validator = ctx.rules.validators.get(spec.name)
    properties = validator.schema.get("properties", {}) if validator is not None else {}
    return "evidence" in properties


class _Overrides:
    """Override entries at the head, falling back to the base tip (main may have moved on)."""

    def __init__(self, ctx: GateContext, spec: LibrarySpec | None) -> None:
        self.libs: list[Library] = []
        if spec is not None:
            self.libs.append(ctx.head_library(spec))
            base_tip = ctx.options.base_tip
            if base_tip is not None:
                self.libs.append(Library(base_tip, spec))
        self.found: dict[str, dict[str, Any]] = {}

    def load(self, ids: Iterable[str]) -> None:
        """Read the given overrides in one batch per side."""
        wanted = set(ids)
        for lib in self.libs:
            self.found.update(read_entries(lib, wanted - set(self.found)))

    def known_ids(self) -> set[str]:
        return set().union(*(lib.index.keys() for lib in self.libs)) if self.libs else set()


def _check_entry(
    spec: LibrarySpec,
    entry_id: str,
    entry: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    need: int,
    overrides: _Overrides,
) -> list[Finding]:
    path = spec.entry_path(entry_id)

    def error(message: str) -> Finding:
        return Finding(
            path=path, gate=NAME, severity=ERROR, message=message, library=spec.name, entry_id=entry_id
        )

    out: list[Finding] = []
    cited = override_ids_of(entry)
    before = set(override_ids_of(old)) if old is not None else set()
    found: dict[str, Mapping[str, Any]] = {}
    for override_id in cited:
        override = overrides.found.get(override_id)
        if override is not None:
            found[override_id] = override
        elif override_id not in before:
            out.append(error(f"cites override {override_id}, which is not in the {OVERRIDES} library"))
    evidence = entry.get("evidence")
    if isinstance(evidence, Mapping) and evidence.get("kind") == "overrides":
        code = entry.get("sector_code")
        support = sorted(i for i, o in found.items() if o.get("final_code") == code)
        if len(support) < need:
            against = sorted(set(found) - set(support))
            detail = f"; cited overrides that chose another code: {', '.join(against)}" if against else ""
            out.append(
                error(
                    f"learned from {len(support)} override(s) that chose {code};"
                    f" policy.min_override_frequency needs {need}{detail}"
                )
            )
    if entry.get("basis") == "calibrated" and _changed(entry, old, ("basis", "evidence_override_ids")):
        ids = entry.get("evidence_override_ids")
        count = len(ids) if isinstance(ids, tuple | list) else 0
        if count < need:
            out.append(
                error(f"calibrated from {count} override(s); policy.min_override_frequency needs {need}")
            )
    return out


def _changed(entry: Mapping[str, Any], old: Mapping[str, Any] | None, fields: tuple[str, ...]) -> bool:
    return old is None or any(entry.get(f) != old.get(f) for f in fields)
