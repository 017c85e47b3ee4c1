"""The publication gates: one module per gate, each exposing `check(ctx) -> list[Finding]`."""

from .engine import GATES, GateContext, run_gates, validate
from .findings import ERROR, WARNING, Finding, GateResult

__all__ = [
    "ERROR",
    "GATES",
    "WARNING",
    "Finding",
    "GateContext",
    "GateResult",
    "run_gates",
    "validate",
]
