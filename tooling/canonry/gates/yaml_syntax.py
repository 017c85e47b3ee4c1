"""yaml: every entry and data file parses with the strict loader."""

from __future__ import annotations

from ..errors import EntrySyntaxError
from ..store.yamlio import load_yaml
from .context import HOLDOUT_DIR, GateContext
from .entry import mode_problem
from .findings import ERROR, Finding

NAME = "yaml"


def check(ctx: GateContext) -> list[Finding]:
    out = [f for f in ctx.file_findings() if f.gate == NAME]
    for change in ctx.changes(HOLDOUT_DIR):
        ref = change.new
        if ref is None or mode_problem(ref.mode) or not ref.path.endswith(".yaml"):
            continue  # the identity gate reports odd files
        try:
            load_yaml(ctx.head.read(ref), ref.path)
        except EntrySyntaxError as exc:
            out.append(
                Finding(
                    path=ref.path,
                    line=exc.line,
                    column=exc.column,
                    gate=NAME,
                    severity=ERROR,
                    message=exc.problem,
                )
            )
    return out
