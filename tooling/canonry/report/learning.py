"""Learner renderers: what `canonry learn` found and drafted, as text (json is the report itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..gates.findings import GateResult


def render_learned_mapping(report: dict[str, Any]) -> str:
    """The overrides read, each new pattern and confidence change, and the totals."""
    lines = [
        f"read {report['overrides_read']} overrides at {report['base']['ref']}"
        f" ({report['overrides_considered']} not yet ingested); min frequency {report['min_frequency']}"
    ]
    for a in report["added"]:
        effect = a.get("holdout_changes")
        changes = (
            f"; changes {effect['cases']} holdout cases ({effect['to_correct']} to correct,"
            f" {effect['to_wrong']} to wrong)"
            if effect
            else ""
        )
        lines.append(
            f"+ {a['pattern']!r} -> {a['sector_code']} (confidence {a['confidence']},"
            f" overrides {', '.join(a['override_ids'])}{changes})"
        )
    for c in report["changed"]:
        lines.append(
            f"~ {c['pattern']!r} -> {c['sector_code']}: confidence {c['old']} -> {c['new']}"
            f" ({c['direction']})"
        )
    for s in report["skipped"]:
        if "message" in s:
            lines.append(f"! {s['message']}")
    lines.append(f"{len(report['added'])} new patterns, {len(report['changed'])} confidence changes")
    return "\n".join(lines) + "\n"


def render_holdout(gate: GateResult) -> str:
    """Each holdout metric base -> draft with its test, the findings, and the gate's verdict."""
    lines = []
    for name, m in sorted(gate.metrics.get("holdout", {}).items()):
        baseline = "-" if m["baseline"] is None else f"{m['baseline']:.4f}"
        delta = "" if m["delta"] is None else f" ({m['delta']:+.4f})"
        interval = m.get("interval")
        within = f" [95% {interval[0]:.3f}-{interval[1]:.3f}]" if interval else ""
        lines.append(
            f"holdout {name}: {m['metric']} {baseline} -> {m['value']:.4f}{within}{delta}"
            f" on {m['cases']} cases;"
            f" {len(m['flipped_to_correct'])} flipped to correct, {len(m['flipped_to_wrong'])} to wrong;"
            f" McNemar p = {m['p_value']:.4g}"
        )
    for f in gate.findings:
        lines.append(f"{f.location()}: {f.severity}: [{f.gate}] {f.message}")
    lines.append("holdout gate: " + ("PASS" if gate.ok else "FAIL (publishing this draft will be refused)"))
    return "\n".join(lines) + "\n"


def render_scenario(action: str, entry: dict[str, Any], similarity: float | None) -> str:
    """What happened to the scenario pattern (merged or new) and how similar the best match was."""
    shown = "-" if similarity is None else f"{similarity:.3f}"
    return (
        f"{action} {entry['name']} ({entry['project_type']}), id {entry['id']};"
        f" best similarity {shown}; usage_count {entry['usage_count']}\n"
    )


def render_assumptions(report: dict[str, Any]) -> str:
    """The promoted notes read and each default they moved."""
    lines = [f"{report['notes_promoted']} promoted notes at {report['base']['ref']}"]
    for c in report["changed"]:
        clamp = " (clamped to range)" if c["clamped_to_range"] else ""
        lines.append(
            f"~ {c['assumption_type']} {c['sector_code']}: {c['old']} -> {c['new']}{clamp} ({c['id']})"
        )
    lines += [f"! {s['message']}" for s in report["skipped"] if "message" in s]
    return "\n".join(lines) + "\n"


def render_workforce(report: dict[str, Any]) -> str:
    """Each occupation cell the overrides calibrated, then the coverage table."""
    lines = [f"read {report['overrides_read']} nationality overrides"]
    for c in report["changed"]:
        lines.append(
            f"~ {c['occupation_code']}: {c['old']['feasibility_class']} ({c['old']['basis']}) ->"
            f" {c['new']['feasibility_class']} (calibrated, {len(c['override_ids'])} overrides)"
        )
    lines += [f"! {s['message']}" for s in report["skipped"] if "message" in s]
    return "\n".join(lines) + "\n" + render_coverage(report["coverage"])


def render_coverage(report: dict[str, Any]) -> str:
    """One line per occupation cell (basis, class), then how much is calibrated."""
    lines = [f"{'cell':<5} {'basis':<11} {'class':<23} title"]
    for c in report["cells"]:
        lines.append(
            f"{c['occupation_code']!s:<5} {c['basis']!s:<11} {c['feasibility_class']!s:<23}"
            f" {c['occupation_title']}"
        )
    pct = report["coverage_pct"]
    missing = report.get("without_cell") or []
    lines.append(
        f"coverage: {len(report['calibrated'])} calibrated, {len(report['assumed'])} assumed,"
        f" {len(missing)} without a cell of the {report.get('groups', 43)} ISCO-08 sub-major groups"
        + (f" ({pct}% calibrated)" if pct is not None else "")
    )
    return "\n".join(lines) + "\n"
