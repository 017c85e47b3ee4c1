"""Review renderers: a decision and a draft's review status as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the review module loads git; a renderer only reads its results
    from ..publication.decisions import Decision
    from ..publication.review_rules import ReviewStatus

DONE = {"approve": "approved", "reject": "rejected"}


def decision_line(d: Decision) -> str:
    """One line: what was decided, on which commit, by whom, signed or not, and why."""
    reason = f": {d.reason}" if d.reason else ""
    signed = " (signed)" if d.verified else ""
    return f"{DONE[d.decision]} {d.draft} at {d.commit[:12]} by {d.reviewer}{signed}{reason}\n"


def render_status(status: ReviewStatus) -> str:
    """The state, what each library has and still needs, and the decisions that do not count."""
    lines = [f"{status.draft} at {status.head[:12]}: {status.state}"]
    for r in [] if status.merged else status.requirements:
        mark = "ok" if r.ok else "needs"
        have = ", ".join(r.approvals) or "none"
        lines.append(
            f"  {r.library}: {mark} {r.needed} approval(s); has: {have}; may approve: {', '.join(r.eligible)}"
        )
    for d in status.on_head:
        if d.counts:
            lines.append(f"  {decision_line(d).strip()}")
        else:
            lines.append(f"  unverified: {d.decision} by {d.reviewer} counts for nothing: {d.unverified}")
    for d in status.stale:
        lines.append(f"  stale: {d.decision} by {d.reviewer} on {d.commit[:12]} (before the last commit)")
    lines += [f"  blocks: {msg}" for _lib, msg in status.problems]
    shown = {f"the {d.decision} by {d.reviewer} does not count: {d.unverified}" for d in status.unverified}
    lines += [f"  warning: {msg}" for msg in status.warnings if msg not in shown]
    return "\n".join(lines) + "\n"
