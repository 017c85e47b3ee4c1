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
from ..store.repo import Repository
from ..store.rules import Rules, load_rules
from ..store.states import State, TreeState, WorkTreeState
from .context import KNOWLEDGE, Check, GateContext
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
        out.append(Finding(p.path, p.line, p.column, "schema", ERROR, f"{p.problem} ({label} rules)"))
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
            found = [Finding(exc.path, exc.line, exc.column, name, ERROR, exc.problem)]
        timings[name] = round(time.perf_counter() - start, 4)
        result.findings.extend(found)
        result.gates.append(name)
    result.sort()
    registry = ctx.head_rules.registry or ctx.rules.registry
    libraries = {}
    if registry is not None:
        for spec in ctx.specs():
            libraries[spec.name] = len(ctx.head_library(spec))
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
    options: dict[str, Any] | None = None,
    extra_gates: Mapping[str, Check] | None = None,
) -> GateResult:
    """Check what head changes relative to base, with the base's rules."""
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
        options={"base_tip": base_state, **(options or {})},
    )
    _check_libraries(ctx, libraries)
    result = run(ctx, list(gates or default_gates()), extra_gates)
    result.base = {"ref": base, "commit": base_commit, "merge_base": merge_base}
    result.head = _ref_info(head_state, head)
    return result


def check_all(repo: Repository, ref: str = "HEAD", libraries: Sequence[str] = ()) -> GateResult:
    """Every gate but review over every entry at ref (not only what a draft changes)."""
    state = TreeState(repo, repo.resolve_commit(ref), ref)
    ctx = _full_context(repo, state, libraries, options={"base_tip": state})
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
    options: dict[str, Any] | None = None,
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
        options=options or {},
    )
    _check_libraries(ctx, libraries)
    return ctx


def _check_libraries(ctx: GateContext, libraries: Sequence[str]) -> None:
    registry = ctx.rules.registry
    if registry is not None:
        for name in libraries:
            registry.library(name)  # raises UnknownLibraryError
