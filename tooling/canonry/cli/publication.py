"""`canonry publish`, `release` and `rollback` (a rollback opens a draft that is reviewed and published)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import GatesFailedError
from ..publication import publish
from ..publication import rollback as rollbacks
from ..report.gate import REPORTER_BY_NAME
from ..report.publication import render_publication
from .common import emit, emit_json, open_repo, repo_option, say
from .drafts import _format_option, _main_option

# --- publish, release, rollback -------------------------------------------------------------------


def _render_publication(pub: publish.Publication, fmt: str) -> None:
    """The outcome on stdout; notes (what to do next, what could not follow) on stderr."""
    if fmt == "json":
        emit_json(pub.to_dict())
        return
    text, notes = render_publication(pub)
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
@_main_option
@_format_option
def rollback_cmd(
    repo_path: str | None, library: str, to: str, by: str | None, reason: str, main: str, fmt: str
) -> None:
    """Open draft/rollback-LIBRARY-vK with the content of version vK, to review and publish.

    A rollback changes what consumers get, so it is a draft like any other:
    the library's stewards approve it (signed) and `canonry publish` runs
    every gate on it; the new version records `rollback_of`. No tag moves.
    BY (default: git's user) must be a steward of LIBRARY or a policy owner.

    \b
    Example:
      canonry rollback mapping --to v2 --by mapping-steward@example.org \\
          --reason "v3 mapped rebar to the wrong division"
      canonry review approve rollback-mapping-v2 --reviewer mapping-steward@example.org --key KEY
      canonry publish rollback-mapping-v2
    """
    made = rollbacks.start_rollback(open_repo(repo_path), library, to, reason=reason, by=by, main=main)
    if fmt == "json":
        emit_json(made.to_dict())
        return
    emit(f"{made.draft}\n")
    say(
        f"created {made.draft} at {made.head[:12]}: {made.library} gets the content of {made.target}"
        f" ({made.changed} file(s) differ from {made.latest}); review and publish it"
    )


def register(group: click.Group) -> None:
    for command in (publish_cmd, release_cmd, rollback_cmd):
        group.add_command(command)
