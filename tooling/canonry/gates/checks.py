"""checks: each library's own rule functions (`module:function` in libraries.yaml)."""

from __future__ import annotations

from ..errors import RegistryError
from ..learning.functions import resolve_function
from ..store.registry import REGISTRY_PATH
from .context import GateContext
from .findings import ERROR, Finding

NAME = "checks"


def check(ctx: GateContext) -> list[Finding]:
    out = [f for f in ctx.file_findings() if f.gate == NAME]
    for rules in ctx.rule_sets():
        if rules.registry is None:
            continue
        for spec in ctx.specs():
            for name in spec.checks:
                try:
                    resolve_function(name)
                except RegistryError as exc:
                    out.append(Finding(REGISTRY_PATH, None, None, NAME, ERROR, exc.problem, spec.name))
    return out
