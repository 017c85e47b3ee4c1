"""History renderers: `canonry versions`, `log` and `explain` as text (publication/audit computes them)."""

from __future__ import annotations

from typing import Any

from ..compare.values import show_value
from .review import DONE


def render_versions(doc: dict[str, Any]) -> list[tuple[str, bool]]:
    """One line per version (stdout) and its deprecation notes (stderr): (text, to_stderr) in order."""
    out: list[tuple[str, bool]] = []
    for row in doc["versions"]:
        m = row["metadata"]
        line = (
            f"{row['tag']:<16} {m.get('published_at', '?')}  by {m.get('published_by', '?')}"
            f"  entries {m.get('entry_count', '?')}  +{m.get('added', '?')} -{m.get('removed', '?')}"
            f" ~{m.get('changed', '?')}"
        )
        if m.get("rollback_of"):
            line += f"  rollback of {m['rollback_of']}"
        if m.get("draft"):
            line += f"  ({m['draft']})"
        out.append((line, False))
        if row.get("unverified_deprecation"):
            claim = row["unverified_deprecation"]
            out.append(
                (f"note: {row['tag']} carries a deprecation that does not count: {claim.get('why')}", True)
            )
        if row["deprecated"]:
            gone = row["deprecated"]
            out.append(
                (
                    f"warning: {row['tag']} is deprecated: {gone.get('reason')}"
                    f" ({gone.get('by')}, {gone.get('at')})",
                    True,
                )
            )
    return out


def render_log(doc: dict[str, Any]) -> str:
    """One block per record; empty when there is none."""
    lines = [log_line(r) for r in doc["records"]]
    return "\n".join(lines) + ("\n" if lines else "")


def log_line(r: dict[str, Any]) -> str:
    at, kind = r.get("at") or "?", r["kind"]
    if kind == "change":
        head = f"{at}  {r['commit'][:12]}  {r['actor']}  [{r['source']}"
        head += f" {r['source_ref']}]" if r.get("source_ref") else "]"
        body = f"    {r['reason'] or r['summary']}"
        counts: dict[str, int] = {}
        for e in r["entries"]:
            counts[e["change"]] = counts.get(e["change"], 0) + 1
        ids = ", ".join(e["entry_id"] for e in r["entries"][:3]) + (", ..." if len(r["entries"]) > 3 else "")
        what = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
        return f"{head}\n{body}\n    {what}: {ids}"
    if kind == "publication":
        approved = f", approved by {', '.join(r['approved_by'])}" if r.get("approved_by") else ""
        return f"{at}  published {r['tag']} by {r['actor']}{approved}\n    {r['summary']}"
    if kind == "review":
        reason = f": {r['reason']}" if r.get("reason") else ""
        what = f"{DONE[r['decision']]} {r.get('draft') or ''} at {r['commit'][:12]}"
        return f"{at}  {what} by {r['actor']}{reason}"
    return f"{at}  deprecated {r['tag']} by {r.get('actor')}: {r.get('reason')}"


def render_explain(entry_id: str, doc: dict[str, Any]) -> str:
    """The entry, its changes commit by commit, then the net change."""
    title = f" ({doc['library']}: {doc['title']})" if doc.get("title") else f" ({doc['library']})"
    return f"{entry_id}{title}\n" + render_explanation(doc["changes"]) + render_net(doc)


def render_net(doc: dict[str, Any]) -> str:
    """What `canonry diff FROM TO` reports for the entry, each field with the commit that set its value."""
    if not doc.get("fields"):
        return ""
    start, end = doc["from"]["ref"] or "the beginning", doc["to"]["ref"]
    lines = [f"from {start} to {end} (as `canonry diff` reports it):"]
    for r in doc["fields"]:
        name = r["path"][1:]
        if r["op"] == "add":
            what = f"{name} added: {show_value(r['new'])}"
        elif r["op"] == "remove":
            what = f"{name} removed (was {show_value(r['old'])})"
        else:
            what = f"{name}: {show_value(r['old'])} -> {show_value(r['new'])}"
        lines.append(f"    {what}  set by {r['commit'][:12]} ({r['actor']}, {r['at']}, {r['source']})")
    return "\n".join(lines) + "\n"


def render_explanation(rows: list[dict[str, Any]]) -> str:
    """One block per commit: when, who, from which source, why, in which version; then its changes."""
    lines: list[str] = []
    by_commit: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_commit.setdefault(row["commit"], []).append(row)
    for commit, changes in by_commit.items():
        first = changes[0]
        source = first["source"] + (f" {first['source_ref']}" if first.get("source_ref") else "")
        version = first["version"] or "not published yet"
        lines.append(f"{first['at']}  {commit[:12]}  {first['actor']}  [{source}]  -> {version}")
        lines.append(f"    why: {first['reason']}")
        ops = {r["op"] for r in changes}
        if ops == {"add"} and any(r["path"] == "/id" for r in changes):
            lines.append(f"    created with {len(changes)} fields")
            continue
        if ops == {"remove"} and any(r["path"] == "/id" for r in changes):
            lines.append("    removed")
            continue
        for r in changes:
            name = r["path"][1:]
            if r["op"] == "add":
                lines.append(f"    {name} added: {show_value(r['new'])}")
            elif r["op"] == "remove":
                lines.append(f"    {name} removed (was {show_value(r['old'])})")
            else:
                lines.append(f"    {name}: {show_value(r['old'])} -> {show_value(r['new'])}")
    if not rows:
        lines.append("no changes in that range")
    return "\n".join(lines) + "\n"
