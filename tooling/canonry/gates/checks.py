"""checks: each library's own rule functions (`module:function` in libraries.yaml), when trusted.

Functions run only when the trusted registry (main's committed libraries.yaml,
`learning.functions.trusted_policy`) names them and their module is allowed;
the per-file pass (`gates.entry`) runs those and reports what they find. Here
each named function is resolved once more to report the others: a function a
draft adds or changes is a warning ("new check function, needs a policy owner;
not run") and the draft is checked with the trusted functions only; a module
outside Canonry's own and the policy's allow-list is an error, never imported.
"""

from __future__ import annotations

from ..errors import RegistryError
from ..learning.functions import PUBLIC_MODULES, FunctionPolicy, resolve_function, trusted_policy
from ..store.registry import REGISTRY_PATH
from .context import GateContext
from .findings import ERROR, WARNING, Finding

NAME = "checks"


def check(ctx: GateContext) -> list[Finding]:
    out = [f for f in ctx.file_findings() if f.gate == NAME]
    policy = trusted_policy(ctx.repo)
    seen: set[tuple[str, str]] = set()
    for rules in ctx.rule_sets():
        registry = rules.registry
        if registry is None:
            continue
        names = ctx.only_libraries or tuple(registry.names())
        for spec in (registry.libraries[n] for n in names if n in registry.libraries):
            functions = [("check", name) for name in spec.checks]
            if spec.holdout is not None:
                functions.append(("evaluator", spec.holdout.evaluator))
            for kind, name in functions:
                if (spec.name, name) in seen:
                    continue
                seen.add((spec.name, name))
                finding = _resolve(kind, name, policy)
                if finding is not None:
                    severity, message = finding
                    out.append(
                        Finding(
                            path=REGISTRY_PATH,
                            gate=NAME,
                            severity=severity,
                            message=message,
                            library=spec.name,
                        )
                    )
    return out


def _resolve(kind: str, name: str, policy: FunctionPolicy) -> tuple[str, str] | None:
    """(severity, message) when the function cannot run, else None (resolving imports trusted code only)."""
    refused = policy.refusal(name)
    if refused is not None:
        module = name.partition(":")[0]
        if module not in PUBLIC_MODULES and module not in policy.modules:
            return ERROR, f"{kind} function {refused}"
        return (
            WARNING,
            f"new {kind} function {name}, needs a policy owner; not run"
            f" (checked with the functions of {policy.source} only)",
        )
    if kind == "evaluator":
        return None  # the holdout gate loads it and reports what goes wrong
    try:
        resolve_function(name, policy)
    except RegistryError as exc:
        return ERROR, exc.problem
    return None
