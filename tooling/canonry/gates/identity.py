"""identity: ids well formed and unique; only plain entry files under knowledge/.

Per-file problems (bad names, ids that differ from the file name, symlinks,
submodules, executables) come from the shared per-file pass; this module adds
what needs the whole folder: stray files and names that collide after case
folding and NFC normalization.
"""

from __future__ import annotations

from ..store.registry import Registry
from .aggregates import odd_paths
from .context import HOLDOUT_DIR, KNOWLEDGE, GateContext, nfc_casefold
from .entry import mode_problem
from .findings import ERROR, Finding

NAME = "identity"
LOOKUPS = 2000  # past this many new names, folding every name costs less than looking each one up


def check(ctx: GateContext) -> list[Finding]:
    out = [f for f in ctx.file_findings() if f.gate == NAME]
    registry = ctx.rules.registry
    if registry is None:
        return out
    in_library = tuple(sorted(spec.path + "/" for spec in registry.libraries.values()))
    changes = ctx.changes(KNOWLEDGE)
    for change in changes:
        ref = change.new
        if ref is None:
            continue
        if ref.path.startswith(in_library):
            continue  # checked per file
        if ref.path.startswith(HOLDOUT_DIR + "/") and ref.path.count("/") == 2:
            problem = mode_problem(ref.mode)
            if problem:
                out.append(Finding(path=ref.path, gate=NAME, severity=ERROR, message=problem))
            elif not ref.path.endswith(".yaml"):
                out.append(
                    Finding(
                        path=ref.path,
                        gate=NAME,
                        severity=ERROR,
                        message="stray file: holdout sets are <library>.yaml",
                    )
                )
            continue
        out.append(
            Finding(
                path=ref.path,
                gate=NAME,
                severity=ERROR,
                message="stray file: knowledge/ holds only library folders (see schemas/libraries.yaml)"
                " and knowledge/holdout/",
            )
        )
    new_paths = {c.path for c in changes if c.new is not None}
    if new_paths:
        groups = _groups(ctx, registry, new_paths)
        for group in groups:
            first = group[0]
            for path in group[1:]:
                if path in new_paths or first in new_paths:
                    out.append(
                        Finding(
                            path=path,
                            gate=NAME,
                            severity=ERROR,
                            message=f"name collides with {first} after case folding and NFC",
                        )
                    )
    return out


def _groups(ctx: GateContext, registry: Registry, new_paths: set[str]) -> list[list[str]]:
    """The head's paths under knowledge/ folding to the same name as a new path: sorted groups of 2 or more.

    Two names fold alike only when at least one of them changes under folding (an
    "odd" name); so the head's odd names (from the libraries' indexes and a tree diff,
    aggregates.odd_paths) and a lookup of each new path's folded name suffice.
    """
    odd = _odd_names(ctx, registry) if len(new_paths) <= LOOKUPS else None
    if odd is None:  # off a pure tree, or many new names (a full check): fold every name
        by_fold: dict[str, list[str]] = {}
        for path in sorted(ctx.head.files(KNOWLEDGE)):
            by_fold.setdefault(nfc_casefold(path), []).append(path)
        wanted = {nfc_casefold(p) for p in new_paths}
        return [g for f, g in sorted(by_fold.items()) if f in wanted and len(g) > 1]
    odd_by_fold: dict[str, set[str]] = {}
    for path in odd:
        odd_by_fold.setdefault(nfc_casefold(path), set()).add(path)
    root = ctx.head.tree_id("")
    groups: dict[str, list[str]] = {}
    for path in sorted(new_paths):
        folded = nfc_casefold(path)
        if folded in groups:
            continue
        members = set(odd_by_fold.get(folded, ()))
        if root is not None:
            item = ctx.repo.entry_at(root, folded)
            if item is not None and not item.is_tree:
                members.add(folded)
        if path in odd or path == folded:
            members.add(path)
        if len(members) > 1:
            groups[folded] = sorted(members)
    return [groups[f] for f in sorted(groups)]


def _odd_names(ctx: GateContext, registry: Registry) -> set[str] | None:
    """Every path under knowledge/ at the head that NFC and case folding change; None off a pure tree."""
    root = ctx.head.tree_id(KNOWLEDGE)
    if root is None:
        return None
    library_dirs = {spec.path for spec in registry.libraries.values()}
    out: set[str] = set()
    for spec in registry.libraries.values():
        found = odd_paths(ctx, spec)
        if found is None:
            return None
        out.update(found)
    pending = [(KNOWLEDGE, root)]
    while pending:  # the files outside the library folders (holdout sets, strays): few
        folder, tree = pending.pop()
        for item in ctx.repo.list_tree(tree):
            path = f"{folder}/{item.name}"
            if item.is_tree:
                if path not in library_dirs:
                    pending.append((path, item.oid))
            elif nfc_casefold(path) != path:
                out.add(path)
    return out
