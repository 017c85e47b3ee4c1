"""`canonry versions`, `deprecate`, `log` and `explain`: reading the published history back."""

from __future__ import annotations

import json

import click

from ..publication import audit
from ..report.versions import render_explain, render_log, render_versions
from .common import emit, emit_json, open_repo, repo_option, say
from .drafts import _format_option, _main_option
from .publication import _BY
from .review import _KEY

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
    for text, to_stderr in render_versions(doc):
        say(text) if to_stderr else emit(text)


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
    emit(render_log(doc))
    if not doc["records"]:
        say("no records")


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
    emit(render_explain(entry_id, doc))


def register(group: click.Group) -> None:
    for command in (versions_cmd, deprecate_cmd, log_cmd, explain_cmd):
        group.add_command(command)
