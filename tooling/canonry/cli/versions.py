"""`canonry versions`, `deprecate`, `log` and `explain`: reading the published history back."""

from __future__ import annotations

import json
from typing import Any

import click

from ..compare.values import show_value
from ..publication import audit
from .common import emit, emit_json, open_repo, repo_option, say
from .drafts import _format_option, _main_option
from .publication import _BY
from .review import _KEY, DONE

# --- versions, deprecate ------------------------------------------------------------------------


@click.command("versions")
@repo_option
@click.argument("library")
@_format_option
def versions_cmd(repo_path: str | None, library: str, fmt: str) -> None:
    """List a library's published versions with their metadata; flag deprecated ones.

    \b
    Example:
      canonry versions mapping
      canonry versions mapping --format json
    """
    doc = audit.versions_report(open_repo(repo_path, allow_shallow=True), library)
    if fmt == "json":
        emit_json(doc)
        return
    if not doc["versions"]:
        say(f"{library} has no published version yet")
        return
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
        emit(line)
        if row.get("unverified_deprecation"):
            claim = row["unverified_deprecation"]
            say(f"note: {row['tag']} carries a deprecation that does not count: {claim.get('why')}")
        if row["deprecated"]:
            gone = row["deprecated"]
            say(
                f"warning: {row['tag']} is deprecated: {gone.get('reason')}"
                f" ({gone.get('by')}, {gone.get('at')})"
            )


@click.command("deprecate")
@repo_option
@click.argument("spec", metavar="LIBRARY@vN")
@click.option("--reason", required=True, help="Why consumers should move off it.")
@_BY
@_KEY
@_main_option
def deprecate_cmd(
    repo_path: str | None, spec: str, reason: str, by: str | None, key: str | None, main: str
) -> None:
    """Mark a published version deprecated: a signed note of its steward on its tag.

    BY must be a steward of the library; the note is signed with KEY (default:
    git's user.signingkey) and counts only when it verifies against main's
    allowed signers. `canonry versions` and pinning warn about deprecated versions.

    \b
    Example:
      canonry deprecate mapping@v3 --by mapping-steward@example.org --key ~/.ssh/id_ed25519 \\
          --reason "maps rebar to C24; use v4"
    """
    done = audit.deprecate(open_repo(repo_path), spec, reason, by, key=key, main=main)
    if done["already"]:
        say(f"{done['tag']} was already deprecated ({done.get('reason')})")
    emit(f"deprecated {done['tag']}: {done['reason']}\n")


# --- log, explain -------------------------------------------------------------------------------


@click.command("log")
@repo_option
@click.option("--library", default=None, help="Only this library.")
@click.option("--entry", "entry", default=None, metavar="ID", help="Only this entry.")
@click.option("--ref", default="main", show_default=True, help="Whose history.")
@_format_option
def log_cmd(repo_path: str | None, library: str | None, entry: str | None, ref: str, fmt: str) -> None:
    """Who changed what, when, why and from which source; publications and reviews included.

    \b
    Example:
      canonry log --library mapping
      canonry log --entry 0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f --format json
    """
    doc = audit.log(open_repo(repo_path), library, entry, ref)
    if fmt == "json":
        emit_json(doc)
        return
    lines = []
    for r in doc["records"]:
        lines.append(_log_line(r))
    emit("\n".join(lines) + ("\n" if lines else ""))
    if not lines:
        say("no records")


def _log_line(r: dict[str, Any]) -> str:
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


@click.command("explain")
@repo_option
@click.argument("entry_id")
@click.option("--from", "from_ref", default=None, help="Start after this ref (default: the beginning).")
@click.option("--to", "to_ref", default="main", show_default=True, help="End at this ref.")
@_format_option
def explain_cmd(repo_path: str | None, entry_id: str, from_ref: str | None, to_ref: str, fmt: str) -> None:
    """Why did this entry's numbers change: each field change with commit, actor, source, reason, version.

    \b
    Example:
      canonry explain 0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f
      canonry explain 0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f --from mapping/v2 --to mapping/v4
    """
    doc = audit.explain(open_repo(repo_path), entry_id, from_ref, to_ref)
    if fmt == "json":
        emit(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        return
    title = f" ({doc['library']}: {doc['title']})" if doc.get("title") else f" ({doc['library']})"
    emit(f"{entry_id}{title}\n" + render_explanation(doc["changes"]) + render_net(doc))


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


def register(group: click.Group) -> None:
    for command in (versions_cmd, deprecate_cmd, log_cmd, explain_cmd):
        group.add_command(command)
