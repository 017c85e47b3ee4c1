"""Gate reporters: a `GateResult` as text, json (`canonry.gate/v1`), github annotations or markdown."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable

from ..gates.findings import ERROR, Finding, GateResult


def _summary_line(result: GateResult) -> str:
    libraries = result.metrics.get("libraries", {})
    verdict = "PASS" if result.ok else "FAIL"
    return (
        f"{verdict}: {len(libraries)} libraries, {result.metrics.get('entries', 0)} entries,"
        f" {result.metrics.get('entries_checked', 0)} checked;"
        f" {len(result.errors)} errors, {len(result.warnings)} warnings"
    )


def render_text(result: GateResult) -> str:
    """One line per finding, the verdict, and the errors per gate."""
    lines = [f"{f.location()}: {f.severity}: [{f.gate}] {f.message}" for f in result.findings]
    per_gate = Counter(f.gate for f in result.errors)
    lines.append(_summary_line(result))
    if per_gate:
        lines.append("errors by gate: " + ", ".join(f"{g} {n}" for g, n in sorted(per_gate.items())))
    return "\n".join(lines) + "\n"


def render_json(result: GateResult) -> str:
    """The `canonry.gate/v1` document."""
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(f: Finding) -> str:
    kind = "error" if f.severity == ERROR else "warning"
    props = []
    if f.path:
        props.append(f"file={_escape_property(f.path)}")
    if f.line:
        props.append(f"line={f.line}")
    if f.column:
        props.append(f"col={f.column}")
    props.append(f"title={_escape_property('canonry ' + f.gate)}")
    return f"::{kind} {','.join(props)}::{_escape_data(f.message)}"


def render_markdown(result: GateResult) -> str:
    """A heading, the libraries and a table of findings (the first 200) for a pull request."""
    verdict = "✅ gates pass" if result.ok else "❌ gates fail"
    lines = [f"### Canonry: {verdict}", "", _summary_line(result), ""]
    libraries = result.metrics.get("libraries", {})
    if libraries:
        lines += ["| library | entries |", "|---|---:|"]
        lines += [f"| {name} | {count} |" for name, count in sorted(libraries.items())]
        lines.append("")
    if result.findings:
        lines += ["| severity | gate | where | message |", "|---|---|---|---|"]
        for f in result.findings[:200]:
            message = f.message.replace("|", "\\|")
            lines.append(f"| {f.severity} | {f.gate} | `{f.location()}` | {message} |")
        if len(result.findings) > 200:
            lines.append(f"\n… and {len(result.findings) - 200} more findings.")
    return "\n".join(lines) + "\n"


def render_github(result: GateResult) -> str:
    """Workflow annotations on stdout; the markdown summary goes to $GITHUB_STEP_SUMMARY."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(render_markdown(result))
    lines = [_annotation(f) for f in result.findings]
    lines.append(_summary_line(result))
    return "\n".join(lines) + "\n"


REPORTER_BY_NAME: dict[str, Callable[[GateResult], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "markdown": render_markdown,
}
