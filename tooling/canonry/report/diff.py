"""Diff renderers: a `canonry.diff/v1` document as json, yaml, text or markdown (compare/diff computes it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..compare.values import show_value


def _counts(lib: Mapping[str, Any]) -> str:
    changed = len({r["entry_id"] for r in lib["changed_entries"]})
    text = f"{len(lib['added_entry_ids'])} added, {len(lib['removed_entry_ids'])} removed, {changed} changed"
    return text + (f", {len(lib['problems'])} unreadable" if lib["problems"] else "")


def render_json(doc: Mapping[str, Any]) -> str:
    """The `canonry.diff/v1` document."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_yaml(doc: Mapping[str, Any]) -> str:
    """The same document as YAML."""
    from ..store.yamlio import dump_yaml  # PyYAML loads when a YAML diff is asked for, not with --help

    return dump_yaml(dict(doc))


def _header(doc: Mapping[str, Any]) -> str:
    a, b = doc["from"], doc["to"]
    return f"{a['ref']} ({a['commit'][:12]}) -> {b['ref']} ({b['commit'][:12]})"


def render_text(doc: Mapping[str, Any]) -> str:
    """One line per change, under a line per library."""
    lines = [_header(doc)]
    for name, lib in doc["libraries"].items():
        lines.append(f"{name}: {_counts(lib)}")
        lines += [f"  {line}" for line in lib["changes_from_parent"]]
        lines += [f"  unreadable ({p['side']}): {p['message']}" for p in lib["problems"]]
    if not doc["libraries"]:
        lines.append("no differences")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = show_value(value, 80).replace("|", "\\|")
    return f"`{text}`" if "`" not in text else text


def render_markdown(doc: Mapping[str, Any]) -> str:
    """A heading and a table per library."""
    lines = [f"## Canonry diff: {_header(doc)}", ""]
    if not doc["libraries"]:
        lines += ["No differences.", ""]
    for name, lib in doc["libraries"].items():
        lines += [f"### {name}", "", _counts(lib), ""]
        rows = [f"| added | `{i}` | | | |" for i in lib["added_entry_ids"]]
        rows += [f"| removed | `{i}` | | | |" for i in lib["removed_entry_ids"]]
        for r in lib["changed_entries"]:  # an empty cell is an absent value, `null` a null one
            old = "" if r["op"] == "add" else _cell(r["old"])
            new = "" if r["op"] == "remove" else _cell(r["new"])
            rows.append(f"| changed | `{r['entry_id']}` | `{r['path']}` | {old} | {new} |")
        if rows:
            lines += ["| change | entry | path | old | new |", "|---|---|---|---|---|", *rows, ""]
        lines += [f"- unreadable ({p['side']}): `{p['message']}`" for p in lib["problems"]]
        if lib["problems"]:
            lines.append("")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "json": render_json,
    "yaml": render_yaml,
    "text": render_text,
    "markdown": render_markdown,
}
