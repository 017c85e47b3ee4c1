"""The review gate: enough approvals by the stewards, on the exact head commit, none by an author.

Publication adds it to the gate engine's own gates (`EXTRA_GATES`).

Rules (stewards, owners, min_approvals) come from the base; decisions come
only from the repository's `refs/notes/canonry-reviews`, never from anything
the draft carries. `canonry gate` leaves this gate out (a forge's required
reviews do its job there); `canonry publish` runs it, on its merge commit,
with the draft's head and merge-base passed as `GateOptions.review_head` and
`review_base` (the approvals are bound to the draft's head, not to the merge),
and with `publish --push`, the remote's notes as `review_notes`.
"""

from __future__ import annotations

from ..gates.context import Check, GateContext
from ..gates.engine import GATES
from ..gates.findings import ERROR, WARNING, Finding
from .decisions import NOTES_REF
from .review_rules import evaluate

NAME = "review"


def check(ctx: GateContext) -> list[Finding]:
    registry = ctx.rules.registry
    if ctx.base is None or ctx.base.commit is None or ctx.head.commit is None or registry is None:
        return []  # no draft to judge (validate), or broken rules (already a finding)
    # publish gates its merge commit but judges the review of the draft's own head
    options = ctx.options
    head = options.review_head or ctx.head.commit
    merge_base = options.review_base or ctx.base.commit
    notes = options.review_notes or (NOTES_REF,)
    keys_commit = (options.base_tip.commit if options.base_tip is not None else None) or ctx.base.commit
    status = evaluate(
        ctx.repo,
        registry,
        merge_base,
        head,
        only_libraries=ctx.only_libraries,
        notes_refs=notes,
        draft=options.review_draft,
        keys_commit=keys_commit,
    )
    ctx.metrics["review"] = {"state": status.state, "approved_by": status.approved_by}
    found = [
        Finding(path=None, gate=NAME, severity=ERROR, message=message, library=library)
        for library, message in status.problems
    ]
    found += [Finding(path=None, gate=NAME, severity=WARNING, message=message) for message in status.warnings]
    return found


def all_gates() -> list[str]:
    """Every gate, review included, in running order (what `publish` and `draft show` run)."""
    return [*GATES, NAME]


EXTRA_GATES: dict[str, Check] = {NAME: check}
