"""Findings and gate results: what every gate yields and report/ renders (and turns into an exit code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True, kw_only=True)
class Finding:
    """One problem a gate found; built with keywords only, so no call can swap two fields."""

    path: str | None
    line: int | None = None
    column: int | None = None
    gate: str
    severity: str
    message: str
    library: str | None = None
    entry_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            k: d[k]
            for k in (
                "gate",
                "severity",
                "library",
                "entry_id",
                "path",
                "line",
                "column",
                "message",
            )
        }

    def location(self) -> str:
        where = self.path or "(repository)"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return where

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in declaration order: the gate caches store findings this way."""
        return (
            self.path,
            self.line,
            self.column,
            self.gate,
            self.severity,
            self.message,
            self.library,
            self.entry_id,
        )

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...] | list[Any]) -> Finding:
        return cls(**dict(zip(_FIELDS, t, strict=True)))


_FIELDS = tuple(f.name for f in fields(Finding))


def _key(f: Finding) -> tuple[Any, ...]:
    return (f.path or "", f.line or 0, f.column or 0, f.gate, f.severity, f.message)


@dataclass
class GateResult:
    base: dict[str, Any] | None
    head: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    gates: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def sort(self) -> None:
        self.findings = sorted(set(self.findings), key=_key)

    def absorb(self, part: GateResult, findings: list[Finding] | None = None) -> None:
        """Add part's findings (or the given ones of them), gates and metrics to this result, sorted."""
        self.findings.extend(part.findings if findings is None else findings)
        self.gates.extend(g for g in part.gates if g not in self.gates)
        for key, value in part.metrics.items():
            if isinstance(value, dict) and isinstance(self.metrics.get(key), dict):
                self.metrics[key].update(value)
            else:
                self.metrics[key] = value
        self.sort()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "canonry.gate/v1",
            "ok": self.ok,
            "base": self.base,
            "head": self.head,
            "gates": list(self.gates),
            "findings": [f.to_dict() for f in self.findings],
            "metrics": self.metrics,
        }
