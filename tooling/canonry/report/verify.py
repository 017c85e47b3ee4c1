"""Verify renderer: a `VerifyReport` (runtime/verify computes it) as text; json is its `to_dict()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..gates.findings import ERROR

if TYPE_CHECKING:  # runtime.verify loads git; a renderer only reads its result
    from ..runtime.verify import VerifyReport


def render_text(report: VerifyReport) -> str:
    """One line per finding, the notes, and the verdict with what was checked."""
    findings = report.sorted_findings()
    lines = [f"{f.location()}: {f.severity}: [{f.gate}] {f.message}" for f in findings]
    lines += [f"note: {n}" for n in report.notes]
    checked = ", ".join(f"{k} {v}" for k, v in sorted(report.checked.items()))
    verdict = "PASS" if report.ok else f"FAIL: {sum(f.severity == ERROR for f in report.findings)} problems"
    lines.append(f"{verdict} ({checked})")
    return "\n".join(lines) + "\n"
