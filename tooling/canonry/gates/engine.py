"""The gate engine: build a context from two states, run each gate, collect findings.

Rules (libraries.yaml, schemas) come from the base, never from the draft; when
the draft changes them, entries must pass both the old and the new rules.
"""

from __future__ import annotations

import importlib
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..entries import Library, store_for
from ..errors import RegistryError, UsageError
from ..registry import LibrarySpec
from ..repo import Repository
from ..rules import Rules, load_rules
from ..states import FileRef, State, TreeState, WorkTreeState
from .entry import CACHE_VERSION, check_files
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
    "review": "canonry.gates.review",
}
PER_FILE_GATES = ("yaml", "schema", "identity", "checks")
VALIDATE_GATES = PER_FILE_GATES
KNOWLEDGE = "knowledge"
HOLDOUT_DIR = "knowledge/holdout"


@dataclass(frozen=True)
class FileChange:
    path: str
    old: FileRef | None
    new: FileRef | None


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
    options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    _file_findings: dict[str, list[Finding]] = field(default_factory=dict)
    _changes: dict[str, list[FileChange]] = field(default_factory=dict)
    _libs: dict[tuple[str, str], Library] = field(default_factory=dict)

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
            head_files = self.head.files(prefix)
            out = [FileChange(p, None, r) for p, r in sorted(head_files.items())]
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

    def changed_entries(self, spec: LibrarySpec) -> list[FileChange]:
        return self.changes(spec.path)

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


def _gate_module(name: str) -> Any:
    try:
        return importlib.import_module(GATES[name])
    except KeyError:
        raise UsageError(f"unknown gate: {name} (known: {', '.join(GATES)})") from None


def _registry_findings(rules: Rules, label: str) -> list[Finding]:
    out = []
    for p in rules.problems:
        out.append(Finding(p.path, p.line, p.column, "schema", ERROR, f"{p.problem} ({label} rules)"))
    return out


def run(ctx: GateContext, gates: Sequence[str]) -> GateResult:
    """Run the named gates on a built context."""
    result = GateResult(base=None, head={})
    result.findings.extend(_registry_findings(ctx.rules, "base" if ctx.base else "current"))
    if ctx.rules_changed:
        result.findings.extend(_registry_findings(ctx.head_rules, "draft's"))
    timings: dict[str, float] = {}
    for name in gates:
        module = _gate_module(name)
        start = time.perf_counter()
        try:
            found = module.check(ctx)
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
    result = run(ctx, list(gates or default_gates()))
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
    return [g for g in GATES if g != "review"]


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


def nfc_casefold(path: str) -> str:
    return unicodedata.normalize("NFC", path).casefold()


Check = Callable[[GateContext], list[Finding]]
