"""Channel renderers: `canonry channel set`/`list`, `canary report` and `impact` as text."""

from __future__ import annotations

from typing import Any


def render_channel_set(library: str, channel: str, tag: str, by: str, record: str, moved: bool) -> str:
    """Where the channel points now, and whether this move changed it."""
    if moved:
        return f"{library}@{channel} -> {tag} (signed by {by}; record {record[:12]})\n"
    return f"{library}@{channel} already points at {tag}; nothing changed\n"


def render_channel_list(doc: dict[str, Any], show_history: bool) -> str:
    """One line per channel (with whether its move verifies), then its last move or every move."""
    lines = []
    for row in doc["channels"]:
        cur = row["current"]
        if cur is None:
            lines.append(f"{row['channel']:<10} -")
            continue
        check = "verified" if row["verified"] else f"NOT VERIFIED: {row['problem']}"
        lines.append(f"{row['channel']:<10} {cur['tag']:<16} {cur['at']}  {cur['by']}  ({check})")
        moves = row["moves"] if show_history else row["moves"][:1]
        lines += [f"{'':<10}   {m['at']} {m['tag']} by {m['by']}: {m['reason']}" for m in moves]
    return "\n".join(lines) + "\n"


def render_canary(doc: dict[str, Any]) -> str:
    """Both sides, each measure with its interval and p-value, the reasons and the recommendation."""
    lines = [
        f"{doc['library']}: control {doc['control']['tag']} ({doc['control']['outcomes']} outcomes),"
        f" candidate {doc['candidate']['tag']} ({doc['candidate']['outcomes']} outcomes)"
    ]
    for name, m in doc["measures"].items():
        lines.append(
            f"  {name}: control {m['control']:.4g}, candidate {m['candidate']:.4g},"
            f" delta {m['delta']:+.4g} [{m['low']:+.4g}, {m['high']:+.4g}],"
            f" {m['test']} p = {m['p_value']:.4g}"
        )
    lines += [f"  - {reason}" for reason in doc["reasons"]]
    lines.append(f"recommendation: {doc['recommendation']}")
    if doc["recommendation"] == "promote":
        version = (doc["candidate"]["tag"] or "").rpartition("/")[2]
        lines.append(
            f"  to promote: canonry channel set {doc['library']} stable {version} --by STEWARD --reason TEXT"
        )
    return "\n".join(lines) + "\n"


def render_impact(doc: dict[str, Any]) -> str:
    """How many runs are affected, then per run and library the entries that changed."""
    s = doc["summary"]
    lines = [
        f"{s['affected']} of {s['runs']} run(s) affected"
        f" ({s['diffs']} diff(s), {s['entries_explained']} entries explained)"
    ]
    for run in doc["runs"]:
        if not run["affected"]:
            continue
        lines.append(f"{run['run'] or run['record']}:")
        for name, lib in run["libraries"].items():
            head = f"  {name} {lib['from']['tag'] or lib['from']['commit'][:12]} -> {lib['to']['tag']}"
            if lib["deprecated"]:
                head += f" (read from a deprecated version: {lib['deprecated'].get('reason')})"
            lines.append(head)
            for kind in ("changed", "removed", "added"):
                for hit in lib[kind]:
                    fields = ", ".join(f"{r['path']} {r['old']!r} -> {r['new']!r}" for r in hit["fields"])
                    commits = ", ".join(f"{c['commit'][:12]} by {c['actor']}" for c in hit["commits"])
                    lines.append(f"    {kind}: {hit['entry_id']}" + (f": {fields}" if fields else "") +
                                 (f" ({commits})" if commits else ""))  # fmt: skip
    return "\n".join(lines) + "\n"
