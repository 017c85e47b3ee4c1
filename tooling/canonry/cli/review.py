"""`canonry review`: approve or reject a draft's head commit (signed), and where its review stands."""

from __future__ import annotations

import click

from ..publication import review
from ..report.review import decision_line, render_status
from .common import emit, emit_json, open_repo, repo_option
from .drafts import _format_option, _main_option

# --- review -------------------------------------------------------------------------------------


@click.group("review")
def review_group() -> None:
    """Approve or reject a draft's head commit; see where its review stands."""


_KEY = click.option(
    "--key",
    "key",
    default=None,
    metavar="PATH",
    help="Your SSH private key to sign the decision with (default: git config user.signingkey).",
)


@review_group.command("approve")
@repo_option
@click.argument("draft")
@click.option(
    "--reviewer", required=True, help="Your e-mail (a steward of what the draft changes, or an owner)."
)
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@_KEY
@_main_option
def review_approve_cmd(
    repo_path: str | None, draft: str, reviewer: str, reason: str | None, key: str | None, main: str
) -> None:
    """Approve the draft's current head commit, signed with your key (a later commit makes it stale).

    Refused (exit 1) for an author of the draft's commits, for anyone who is
    neither a steward of the libraries it changes nor a policy owner, and for
    a signature that main's allowed-signers file does not list for REVIEWER.

    \b
    Example:
      canonry review approve steel-patterns --reviewer mapping-steward@example.org --key ~/.ssh/id_ed25519
    """
    emit(decision_line(review.approve(open_repo(repo_path), draft, reviewer, reason, main, key=key)))


@review_group.command("reject")
@repo_option
@click.argument("draft")
@click.option("--reviewer", required=True, help="Your e-mail.")
@click.option("--reason", required=True, help="Why: kept in the audit log.")
@_KEY
@_main_option
def review_reject_cmd(
    repo_path: str | None, draft: str, reviewer: str, reason: str, key: str | None, main: str
) -> None:
    """Reject the draft's current head commit; it cannot be published until you approve it.

    \b
    Example:
      canonry review reject steel-patterns --reviewer mapping-steward@example.org \\
          --reason "C24 is basic metals; rebar fabrication is C25"
    """
    emit(decision_line(review.reject(open_repo(repo_path), draft, reviewer, reason, main, key=key)))


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
    emit(render_status(status))


def register(group: click.Group) -> None:
    group.add_command(review_group)
