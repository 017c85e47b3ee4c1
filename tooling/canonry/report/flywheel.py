"""Flywheel renderers: `canonry confidence` and `canonry health` as text (json is the document itself)."""

from __future__ import annotations

from typing import Any


def render_confidence(doc: dict[str, Any]) -> str:
    """One line per entry (band, effective value, base, age), then the count per band."""
    lines = [f"{'band':<9} {'value':>6} {'base':>6} {'days':>7}  id  title"]
    for r in doc["entries"]:
        flag = " (in conflict)" if r["in_conflict"] else ""
        lines.append(
            f"{r['band']:<9} {r['value']:>6.3f} {r['base']:>6.3f} {r['days_since_update']:>7.0f}"
            f"  {r['id']}  {r['title']}{flag}"
        )
    lines.append(", ".join(f"{band} {n}" for band, n in doc["bands"].items()) or "no entries")
    return "\n".join(lines) + "\n"


def render_health(doc: dict[str, Any]) -> str:
    """The libraries, accuracy, coverage, backlog, drafts and the gates' trend."""
    from ..publication.gate_history import trend_lines  # its module reads git history; load it when used

    lines = [f"health of {doc['ref']} at {doc['commit'][:12]} ({doc['at']})"]
    lines.append(f"engagements: {doc['engagements']}")
    for name, lib in doc["libraries"].items():
        lines.append(
            f"  {name:<28} {lib['entries']:>7} entries  {lib['versions']:>3} versions"
            f"  latest {lib['latest'] or '-'}"
        )
    split = doc["pct_entries_assumed_vs_calibrated"]
    lines += [
        f"mapping accuracy (latest version): {_accuracy(doc)}",
        f"workforce coverage: {_show(doc['workforce_coverage_pct'], '%')}",
        f"override backlog: {_show(doc['override_backlog_count'])}",
        f"average days since last publication: {_show(doc['avg_days_since_last_publication'])}",
        f"drafts pending review: {doc['draft_count_pending_review']}",
        f"entries assumed / calibrated: {_show(split['assumed'], '%')} / {_show(split['calibrated'], '%')}",
        f"shared knowledge sanitized: {_show(doc['pct_shared_knowledge_sanitized'], '%')}",
    ]
    lines += trend_lines(doc.get("gates"))
    return "\n".join(lines) + "\n"


def _show(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def _accuracy(doc: dict[str, Any]) -> str:
    """'0.4944 (95% interval 0.458-0.531, 712 cases; A 0.61, B 0.52, ...)' or '-'."""
    value = doc.get("mapping_accuracy")
    if value is None:
        return "-"
    text = f"{value}"
    interval, cases = doc.get("mapping_accuracy_interval"), doc.get("mapping_accuracy_cases")
    if interval:
        text += f" (95% interval {interval[0]:.3f}-{interval[1]:.3f}, {cases} cases)"
    sections = doc.get("mapping_accuracy_per_section") or {}
    if sections:
        text += "\n  per section: " + ", ".join(f"{k} {v['value']:.2f}" for k, v in sorted(sections.items()))
    return text
