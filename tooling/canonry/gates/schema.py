"""schema: every entry validates against its library's JSON Schema (2020-12)."""

from __future__ import annotations

from .context import GateContext
from .findings import Finding

NAME = "schema"


def check(ctx: GateContext) -> list[Finding]:
    return [f for f in ctx.file_findings() if f.gate == NAME]
