"""The gate engine: build a context from two states, run each gate, collect findings.

Rules (libraries.yaml, schemas) come from the base, never from the draft; when
the draft changes them, entries must pass both the old and the new rules.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._version import __version__
from ..errors import RegistryError, UsageError
from ..store.entries import store_for
from ..store.repo import Identity, Repository
from ..store.rules import Rules, load_rules
from ..store.states import State, TreeState, WorkTreeState
from .aggregates import entry_count
from .context import KNOWLEDGE, Check, GateContext, GateOptions
from .entry import CACHE_VERSION
from .findings import ERROR, Finding, GateResult

# Gate name -> module exposing `check(ctx) -> list[Finding]`, in running order.
GATES: dict[str, str] = {
    "yaml": "canonry.gates.yaml_syntax",
    "schema": "canonry.gates.schema",
    "identity": "canonry.gates.identity",
    "checks": "canonry.gates.checks",
    "duplicates": "canonry.gates.duplicates",
    "conflicts": "canonry.gates.conflicts",
    "append-only": "canonry.gates.append_only",
    "scope": "canonry.gates.scope",
    "holdout": "canonry.gates.holdout",
    "evidence": "canonry.gates.evidence",
    "confidence": "canonry.gates.confidence",
}
# publication adds "review" (canonry.publication.review_gate) through `extra_gates`
PER_FILE_GATES = ("yaml", "schema", "identity", "checks")
VALIDATE_GATES = PER_FILE_GATES


def _gate_check(name: str, extra_gates: Mapping[str, Check]) -> Check:
    if name in extra_gates:
        return extra_gates[name]
    try:
        module = importlib.import_module(GATES[name])
    except KeyError:
        known = ", ".join([*GATES, *extra_gates])
        raise UsageError(f"unknown gate: {name} (known: {known})") from None
    check: Check = module.check
    return check


def _registry_findings(rules: Rules, label: str) -> list[Finding]:
    out = []
    for p in rules.problems:
        out.append(
            Finding(
                path=p.path,
                line=p.line,
                column=p.column,
                gate="schema",
                severity=ERROR,
                message=f"{p.problem} ({label} rules)",
            )
        )
    return out


def run(ctx: GateContext, gates: Sequence[str], extra_gates: Mapping[str, Check] | None = None) -> GateResult:
    """Run the named gates on a built context; `extra_gates` adds gates that live above this layer."""
    result = GateResult(base=None, head={})
    result.findings.extend(_registry_findings(ctx.rules, "base" if ctx.base else "current"))
    if ctx.rules_changed:
        result.findings.extend(_registry_findings(ctx.head_rules, "draft's"))
    timings: dict[str, float] = {}
    for name in gates:
        check = _gate_check(name, extra_gates or {})
        start = time.perf_counter()
        try:
            found = check(ctx)
        except RegistryError as exc:
            found = [
                Finding(
                    path=exc.path,
                    line=exc.line,
                    column=exc.column,
                    gate=name,
                    severity=ERROR,
                    message=exc.problem,
                )
            ]
        timings[name] = round(time.perf_counter() - start, 4)
        result.findings.extend(found)
        result.gates.append(name)
    result.sort()
    registry = ctx.head_rules.registry or ctx.rules.registry
    libraries = {}
    if registry is not None:
        for spec in ctx.specs():
            libraries[spec.name] = entry_count(ctx, spec)
    result.metrics.update(ctx.metrics)
    result.metrics["libraries"] = libraries
    result.metrics["entries"] = sum(libraries.values())
    result.metrics["seconds_per_gate"] = timings
    return result


def _ref_info(state: State, ref: str | None) -> dict[str, Any]:
    return {"ref": ref or state.label, "commit": state.commit}


def run_gates(
    repo: Repository,
    base: str = "main",
    head: str = "HEAD",
    *,
    gates: Sequence[str] | None = None,
    libraries: Sequence[str] = (),
    options: GateOptions | Mapping[str, Any] | None = None,
    extra_gates: Mapping[str, Check] | None = None,
    merge: bool = True,
) -> GateResult:
    """Check what head changes relative to base, with the base's rules, and what merging it would give.

    When base moved since head left it, head is also merged into base's tip
    field by field (what `publish` merges) and the merged content goes
    through the same content gates; a field changed two ways is a `merge`
    finding. `merge=False` checks head's own change only. `options` is a
    `GateOptions` (a dict of the same names is accepted; an unknown name is
    a UsageError).
    """
    gate_options = GateOptions.coerce(options)
    head_commit = repo.resolve_commit(head)
    base_commit = repo.resolve_commit(base)
    merge_base = repo.merge_base(base_commit, head_commit) or base_commit
    head_state = TreeState(repo, head_commit, head)
    base_state = TreeState(repo, base_commit, base)
    since = TreeState(repo, merge_base, f"merge-base of {base} and {head}")
    ctx = GateContext(
        repo=repo,
        head=head_state,
        base=since,
        rules=load_rules(base_state),
        head_rules=load_rules(head_state),
        only_libraries=tuple(libraries),
        options=gate_options.with_base_tip(base_state),
    )
    _check_libraries(ctx, libraries)
    names = list(gates or default_gates())
    result = run(ctx, names, extra_gates)
    result.base = {"ref": base, "commit": base_commit, "merge_base": merge_base}
    result.head = _ref_info(head_state, head)
    if merge and merge_base not in (base_commit, head_commit):
        merged = merged_commit(repo, merge_base, base_commit, head_commit, base, head)
        if isinstance(merged, str):
            content = [g for g in names if g in GATES]
            if content:
                part = run_gates(repo, base_commit, merged, gates=content, libraries=libraries, merge=False)
                _combine(result, part)
            result.head["merge"] = merged
        else:
            # a field changed two ways that the conflicts gate already names is one problem, said once
            named = {(f.path, f.entry_id) for f in result.findings if f.gate == "conflicts"}
            result.findings.extend(f for f in merged if (f.path, f.entry_id) not in named)
            result.gates.append(MERGE_GATE)
            result.sort()
    return result


MERGE_GATE = "merge"
_MERGER = Identity("canonry gate", "gate@canonry.invalid")


def merged_commit(
    repo: Repository, merge_base: str, base_commit: str, head_commit: str, base: str, head: str
) -> str | list[Finding]:
    """The structured merge of head into base's tip as a commit no ref names, or its conflicts as findings.

    `canonry.compare.merge.merge_trees` is the merge `publish` makes, so what
    the gates see here is the content publish would tag.
    """
    from ..compare.merge import merge_trees

    merged = merge_trees(repo, merge_base, base_commit, head_commit)
    if merged.tree_id is None:
        return [
            Finding(
                path=c.path,
                gate=MERGE_GATE,
                severity=ERROR,
                message=f"conflicts with {base} (it moved since {head} began): {c.describe(base, head)}",
                library=c.library,
                entry_id=c.entry_id,
            )
            for c in merged.conflicts
        ]
    when = repo.commit(head_commit).commit_time
    message = f"Merge {head} into {base} (checked by the gates, never published as such)\n"
    return repo.create_commit(merged.tree_id, [base_commit, head_commit], message, _MERGER, when=when)


def _combine(into: GateResult, part: GateResult) -> None:
    """Add part's findings (each once), gates and metrics to into.

    The merged content repeats what the draft's own run found about the same
    entry and place (often worded with more context there): the first one stays.
    """
    seen = {_place(f) for f in into.findings}
    into.absorb(part, [f for f in part.findings if _place(f) not in seen])


def _place(f: Finding) -> tuple[object, ...]:
    return (f.gate, f.severity, f.library, f.entry_id, f.path, f.line, f.column)


def check_all(repo: Repository, ref: str = "HEAD", libraries: Sequence[str] = ()) -> GateResult:
    """Every gate but review over every entry at ref (not only what a draft changes)."""
    state = TreeState(repo, repo.resolve_commit(ref), ref)
    ctx = _full_context(repo, state, libraries, options=GateOptions(base_tip=state))
    result = run(ctx, default_gates())
    result.head = _ref_info(state, ref)
    return result


def default_gates() -> list[str]:
    """Every gate except review (on a forge, required reviews do that job)."""
    return list(GATES)


def validate(
    repo: Repository,
    paths: Sequence[str] = (),
    ref: str | None = None,
    libraries: Sequence[str] = (),
) -> GateResult:
    """Check the work tree (or a ref) in full: yaml, schema, identity and checks."""
    if ref is not None:
        state: State = TreeState(repo, repo.resolve_commit(ref), ref)
    elif repo.workdir is None:
        state = TreeState(repo, repo.resolve_commit("HEAD"), "HEAD")
    else:
        state = WorkTreeState(repo)
    ctx = _full_context(repo, state, libraries, paths)
    rules = ctx.rules
    # Same rules and same knowledge/ tree: the same verdict. One lookup, not 100,000.
    store = store_for(repo)
    knowledge_tree = state.tree_id(KNOWLEDGE)
    key = None
    if knowledge_tree is not None and not rules.problems:
        scope = f"{','.join(libraries)}:{','.join(ctx.only_paths)}"
        key = f"validate:{CACHE_VERSION}:{__version__}:{rules.digest}:{knowledge_tree}:{scope}"
        hit = store.get_result(key)
        if hit is not None:
            findings, metrics, gates = hit
            result = GateResult(base=None, head=_ref_info(state, ref), metrics=metrics, gates=list(gates))
            result.findings = [Finding.from_tuple(t) for t in findings]
            return result
    result = run(ctx, list(VALIDATE_GATES))
    result.head = _ref_info(state, ref)
    if key is not None:
        store.put_result(key, ([f.as_tuple() for f in result.findings], result.metrics, result.gates))
    return result


def _full_context(
    repo: Repository,
    state: State,
    libraries: Sequence[str],
    paths: Sequence[str] = (),
    options: GateOptions | None = None,
) -> GateContext:
    """A context that checks every entry at state with state's own rules (no base)."""
    rules = load_rules(state)
    ctx = GateContext(
        repo=repo,
        head=state,
        base=None,
        rules=rules,
        head_rules=rules,
        full=True,
        only_libraries=tuple(libraries),
        only_paths=tuple(p.rstrip("/") for p in paths),
        options=options or GateOptions(),
    )
    _check_libraries(ctx, libraries)
    return ctx


def _check_libraries(ctx: GateContext, libraries: Sequence[str]) -> None:
    registry = ctx.rules.registry
    if registry is not None:
        for name in libraries:
            registry.library(name)  # raises UnknownLibraryError
