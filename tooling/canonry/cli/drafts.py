"""The steward's loop: draft, review, publish, release, versions, rollback, deprecate, log, explain."""

from __future__ import annotations

import json
from typing import Any

import click

from ..compare.diff import render_text as render_diff
from ..compare.diff import show_value
from ..errors import GatesFailedError
from ..gates.report import REPORTER_BY_NAME
from ..publication import audit, draft_views, drafts, publish, review
from .common import emit, emit_json, open_repo, repo_option, say

TEXT_JSON = click.Choice(["text", "json"])


def _format_option(func: Any) -> Any:
    return click.option("--format", "fmt", type=TEXT_JSON, default="text", show_default=True)(func)


def _main_option(func: Any) -> Any:
    return click.option("--main", "main", default="main", show_default=True, help="The published branch.")(
        func
    )


# --- draft --------------------------------------------------------------------------------------


@click.group("draft")
def draft_group() -> None:
    """Start, list and inspect drafts (branches draft/NAME)."""


@draft_group.command("start")
@repo_option
@click.argument("name")
@click.option("--from", "from_ref", default="main", show_default=True, help="Where the draft starts.")
@click.option("--no-checkout", is_flag=True, help="Only create the branch; leave the work tree alone.")
def draft_start_cmd(repo_path: str | None, name: str, from_ref: str, no_checkout: bool) -> None:
    """Create draft/NAME and check it out (when there is a work tree).

    Uncommitted changes are carried over when they do not collide with the
    draft's start; otherwise nothing is created and nothing is lost.

    \b
    Example:
      canonry draft start steel-patterns
      canonry draft start fix-c24 --from mapping/v3
    """
    repo = open_repo(repo_path)
    d = drafts.create_draft(repo, name, from_ref, checkout=not no_checkout)
    emit(f"{d.branch}\n")
    say(f"created {d.branch} at {d.head[:12]} (from {from_ref})")


@draft_group.command("list")
@repo_option
@_main_option
@_format_option
def draft_list_cmd(repo_path: str | None, main: str, fmt: str) -> None:
    """List drafts: ahead/behind main, review state, libraries touched.

    \b
    Example:
      canonry draft list
      canonry draft list --format json
    """
    rows = draft_views.list_drafts(open_repo(repo_path), main)
    if fmt == "json":
        emit_json({"format": "canonry.drafts/v1", "main": main, "drafts": [r.to_dict() for r in rows]})
        return
    if not rows:
        say("no drafts (start one with `canonry draft start NAME`)")
        return
    width = max(len(r.branch) for r in rows)
    emit(f"{'draft':<{width}}  ahead  behind  {'review':<8}  libraries")
    for r in rows:
        libs = ", ".join(r.libraries) or "-"
        emit(f"{r.branch:<{width}}  {r.ahead:>5}  {r.behind:>6}  {r.review:<8}  {libs}")


@draft_group.command("show")
@repo_option
@click.argument("name")
@_main_option
@_format_option
def draft_show_cmd(repo_path: str | None, name: str, main: str, fmt: str) -> None:
    """Show a draft's changes since it left main, and the gates' verdict (review included).

    Exit 0 whatever the verdict; `canonry gate` and `canonry publish` are the
    commands that fail on findings.

    \b
    Example:
      canonry draft show steel-patterns
      canonry draft show draft/steel-patterns --format json
    """
    view = draft_views.show_draft(open_repo(repo_path), name, main)
    if fmt == "json":
        emit_json(view.to_dict())
        return
    s = view.summary
    emit(
        f"{s.branch} at {s.head[:12]}: {s.ahead} ahead of, {s.behind} behind {main}; review: {s.review}\n"
        + render_diff(view.diff)
        + REPORTER_BY_NAME["text"](view.gate)
    )


# --- review -------------------------------------------------------------------------------------


@click.group("review")
def review_group() -> None:
    """Approve or reject a draft's head commit; see where its review stands."""


_DONE = {"approve": "approved", "reject": "rejected"}


def _decision_line(d: review.Decision) -> str:
    reason = f": {d.reason}" if d.reason else ""
    return f"{_DONE[d.decision]} {d.draft} at {d.commit[:12]} by {d.reviewer}{reason}\n"


@review_group.command("approve")
@repo_option
@click.argument("draft")
@click.option(
    "--reviewer", required=True, help="Your e-mail (a steward of what the draft changes, or an owner)."
)
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@_main_option
def review_approve_cmd(
    repo_path: str | None, draft: str, reviewer: str, reason: str | None, main: str
) -> None:
    """Approve the draft's current head commit (a later commit makes the approval stale).

    Refused (exit 1) for an author of the draft's commits and for anyone who
    is neither a steward of the libraries it changes nor a policy owner.

    \b
    Example:
      canonry review approve steel-patterns --reviewer mapping-steward@example.org
    """
    emit(_decision_line(review.approve(open_repo(repo_path), draft, reviewer, reason, main)))


@review_group.command("reject")
@repo_option
@click.argument("draft")
@click.option("--reviewer", required=True, help="Your e-mail.")
@click.option("--reason", required=True, help="Why: kept in the audit log.")
@_main_option
def review_reject_cmd(repo_path: str | None, draft: str, reviewer: str, reason: str, main: str) -> None:
    """Reject the draft's current head commit; it cannot be published until you approve it.

    \b
    Example:
      canonry review reject steel-patterns --reviewer mapping-steward@example.org \\
          --reason "C24 is basic metals; rebar fabrication is C25"
    """
    emit(_decision_line(review.reject(open_repo(repo_path), draft, reviewer, reason, main)))


@review_group.command("status")
@repo_option
@click.argument("draft")
@_main_option
@_format_option
def review_status_cmd(repo_path: str | None, draft: str, main: str, fmt: str) -> None:
    """Show the approvals a draft has and still needs (exit 0 either way).

    \b
    Example:
      canonry review status steel-patterns
    """
    status = review.review_status(open_repo(repo_path), draft, main)
    if fmt == "json":
        emit_json(status.to_dict())
        return
    lines = [f"{status.draft} at {status.head[:12]}: {status.state}"]
    for r in [] if status.merged else status.requirements:
        mark = "ok" if r.ok else "needs"
        have = ", ".join(r.approvals) or "none"
        lines.append(
            f"  {r.library}: {mark} {r.needed} approval(s); has: {have}; may approve: {', '.join(r.eligible)}"
        )
    for d in status.on_head:
        lines.append(f"  {_decision_line(d).strip()}")
    for d in status.stale:
        lines.append(f"  stale: {d.decision} by {d.reviewer} on {d.commit[:12]} (before the last commit)")
    lines += [f"  blocks: {msg}" for _lib, msg in status.problems]
    lines += [f"  warning: {msg}" for msg in status.warnings]
    emit("\n".join(lines) + "\n")


# --- publish, release, rollback -------------------------------------------------------------------


def _render_publication(pub: publish.Publication, fmt: str) -> None:
    """The outcome on stdout; notes (what to do next, what could not follow) on stderr."""
    if fmt == "json":
        emit_json(pub.to_dict())
        return
    notes = list(pub.messages)
    if pub.action == "nothing":
        lines = [f"nothing to publish: {notes.pop(0) if notes else 'nothing new'}"]
    elif not pub.versions and pub.main_before == pub.main_after:
        notes = [m for m in notes if not m.endswith("nothing new")]
        lines = [f"nothing new to publish; pushed to {pub.remote} what it lacked: {', '.join(pub.pushed)}"]
    else:
        verb = "would publish" if pub.action == "dry-run" else "published"
        moved = ""
        if pub.main_before and pub.main_after and pub.main_after != pub.main_before:
            moved = f"; main {pub.main_before[:12]} -> {pub.main_after[:12]}"
        lines = [f"{verb} {pub.draft or pub.kind}{moved}"]
        for v in pub.versions:
            m = v.metadata
            extra = f", rollback of {m['rollback_of']}" if m.get("rollback_of") else ""
            lines.append(
                f"  {v.tag}: {m['added']} added, {m['removed']} removed, {m['changed']} changed;"
                f" {m['entry_count']} entries{extra}"
            )
        if not pub.versions:
            lines.append("  no library content changed: no new version")
        if pub.pushed:
            lines.append(f"pushed to {pub.remote}: {', '.join(pub.pushed)}")
    text = "\n".join(lines) + "\n"
    if pub.action == "dry-run" and pub.diff is not None:
        text += render_diff(pub.diff)
    emit(text)
    for note in notes:
        say(note)


def _run_publication(func: Any, fmt: str, *args: Any, **kwargs: Any) -> None:
    try:
        pub = func(*args, **kwargs)
    except GatesFailedError as exc:
        if exc.result is not None:
            say(REPORTER_BY_NAME["text"](exc.result).rstrip("\n"))
        raise
    _render_publication(pub, fmt)


_PUSH = click.option("--push", "push", metavar="REMOTE", default=None, help="Push main and tags atomically.")
_SIGN = click.option("--sign", is_flag=True, help="Sign the version tags (canonry.publication.signing).")
_BY = click.option("--by", default=None, help="Your e-mail (default: git config user.email).")
_DRY = click.option("--dry-run", is_flag=True, help="Show what would be published; move no ref.")


@click.command("publish")
@repo_option
@click.argument("draft")
@_BY
@_DRY
@_PUSH
@_SIGN
@_main_option
@_format_option
def publish_cmd(
    repo_path: str | None,
    draft: str,
    by: str | None,
    dry_run: bool,
    push: str | None,
    sign: bool,
    main: str,
    fmt: str,
) -> None:
    """Run every gate (review included), merge DRAFT into main and tag what changed.

    Main and the new `<library>/v<N>` tags move together or not at all; with
    --push, one atomic push with a lease on main is the commit point. A lost
    race is retried on the new main; running it again after a crash finishes
    the job; with nothing new it creates nothing (exit 0).

    \b
    Example:
      canonry publish steel-patterns --by mapping-steward@example.org
      canonry publish draft/steel-patterns --dry-run
      canonry publish steel-patterns --push origin
    """
    repo = open_repo(repo_path)
    _run_publication(
        publish.publish, fmt, repo, draft, by=by, dry_run=dry_run, push=push, sign=sign, main=main
    )


@click.command("release")
@repo_option
@_BY
@_DRY
@_PUSH
@_SIGN
@_main_option
@_format_option
def release_cmd(
    repo_path: str | None, by: str | None, dry_run: bool, push: str | None, sign: bool, main: str, fmt: str
) -> None:
    """Tag each library whose content on main differs from its latest version (forge flow).

    The gates re-run against each library's previous version; a library with
    no version yet and with entries becomes v1.

    \b
    Example:
      canonry release --by ci@example.org --push origin
    """
    repo = open_repo(repo_path)
    _run_publication(publish.release, fmt, repo, by=by, dry_run=dry_run, push=push, sign=sign, main=main)


@click.command("rollback")
@repo_option
@click.argument("library")
@click.option("--to", "to", required=True, metavar="vK", help="The version whose content comes back.")
@_BY
@click.option("--reason", required=True, help="Why (kept in the commit and the audit log).")
@_DRY
@_PUSH
@_SIGN
@_main_option
@_format_option
def rollback_cmd(
    repo_path: str | None,
    library: str,
    to: str,
    by: str | None,
    reason: str,
    dry_run: bool,
    push: str | None,
    sign: bool,
    main: str,
    fmt: str,
) -> None:
    """Publish a new version of LIBRARY with the content of version vK (no tag moves).

    \b
    Example:
      canonry rollback mapping --to v2 --by mapping-steward@example.org \\
          --reason "v3 mapped rebar to the wrong division"
    """
    repo = open_repo(repo_path)
    _run_publication(
        publish.rollback,
        fmt,
        repo,
        library,
        to,
        by=by,
        reason=reason,
        dry_run=dry_run,
        push=push,
        sign=sign,
        main=main,
    )


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
def deprecate_cmd(repo_path: str | None, spec: str, reason: str, by: str | None) -> None:
    """Mark a published version deprecated (a note on its tag; the tag never changes).

    `canonry versions` and pinning warn about deprecated versions.

    \b
    Example:
      canonry deprecate mapping@v3 --reason "maps rebar to C24; use v4"
    """
    done = audit.deprecate(open_repo(repo_path), spec, reason, by)
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
        what = f"{_DONE[r['decision']]} {r.get('draft') or ''} at {r['commit'][:12]}"
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
    emit(f"{entry_id}{title}\n" + render_explanation(doc["changes"]))


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
    for command in (
        draft_group,
        review_group,
        publish_cmd,
        release_cmd,
        rollback_cmd,
        versions_cmd,
        deprecate_cmd,
        log_cmd,
        explain_cmd,
    ):
        group.add_command(command)
