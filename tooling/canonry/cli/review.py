"""`canonry review`: approve or reject a draft's head commit (signed), and where its review stands."""

from __future__ import annotations

import click

from ..publication import review
from .common import emit, emit_json, open_repo, repo_option
from .drafts import _format_option, _main_option

# --- review -------------------------------------------------------------------------------------


@click.group("review")
def review_group() -> None:
    """Approve or reject a draft's head commit; see where its review stands."""


DONE = {"approve": "approved", "reject": "rejected"}


def _decision_line(d: review.Decision) -> str:
    reason = f": {d.reason}" if d.reason else ""
    signed = " (signed)" if d.verified else ""
    return f"{DONE[d.decision]} {d.draft} at {d.commit[:12]} by {d.reviewer}{signed}{reason}\n"


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
    emit(_decision_line(review.approve(open_repo(repo_path), draft, reviewer, reason, main, key=key)))


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
    emit(_decision_line(review.reject(open_repo(repo_path), draft, reviewer, reason, main, key=key)))


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
        if d.counts:
            lines.append(f"  {_decision_line(d).strip()}")
        else:
            lines.append(f"  unverified: {d.decision} by {d.reviewer} counts for nothing: {d.unverified}")
    for d in status.stale:
        lines.append(f"  stale: {d.decision} by {d.reviewer} on {d.commit[:12]} (before the last commit)")
    lines += [f"  blocks: {msg}" for _lib, msg in status.problems]
    shown = {f"the {d.decision} by {d.reviewer} does not count: {d.unverified}" for d in status.unverified}
    lines += [f"  warning: {msg}" for msg in status.warnings if msg not in shown]
    emit("\n".join(lines) + "\n")


def register(group: click.Group) -> None:
    group.add_command(review_group)
