"""`canonry draft`: start, list and show drafts; the options the steward's loop commands share."""

from __future__ import annotations

from typing import Any

import click

from ..publication import draft_views, drafts
from ..report.drafts import render_draft_list, render_draft_show
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
    emit(render_draft_list(rows))


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
    emit(render_draft_show(view, main))


def register(group: click.Group) -> None:
    group.add_command(draft_group)
