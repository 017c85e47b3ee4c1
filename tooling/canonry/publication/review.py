"""Review: the verbs (`approve`, `reject`, `status`); the rules live in `review_rules`.

Decisions are signed notes bound to one commit (`decisions`). Who may
approve comes from the base's libraries.yaml and whose key is whose from the
base's allowed-signers file, never from the draft.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import EntrySyntaxError, RefMovedError, ReviewError, UsageError
from ..store.commits import Provenance, actor_identity, message_with_trailers
from ..store.registry import REGISTRY_PATH
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.times import rfc3339
from ..store.yamlio import dump_yaml, load_yaml
from .decisions import (
    APPROVE,
    NOTES_REF,
    REJECT,
    Decision,
    all_decisions,
    allowed_signers_at,
    check_decision,
    decision_payload,
    decisions_on,
    sign_decision,
)
from .drafts import Draft, resolve_draft
from .review_rules import ANY, RULES, Requirement, ReviewStatus, changed_areas, draft_authors, evaluate

__all__ = [
    "ANY",
    "APPROVE",
    "NOTES_REF",
    "REJECT",
    "RULES",
    "Decision",
    "Requirement",
    "ReviewStatus",
    "all_decisions",
    "approve",
    "changed_areas",
    "decisions_on",
    "draft_authors",
    "evaluate",
    "reject",
    "review_status",
]

_WRITE_ATTEMPTS = 5


# --- the verbs ----------------------------------------------------------------------------------


def review_status(repo: Repository, draft: str, main: str = "main") -> ReviewStatus:
    """Where the review of a draft stands against main's rules and keys."""
    d = resolve_draft(repo, draft)
    main_tip = repo.resolve_commit(main)
    registry = registry_at(repo, main_tip)
    merge_base = repo.merge_base(main_tip, d.head) or main_tip
    status = evaluate(repo, registry, merge_base, d.head, draft=d.branch, keys_commit=main_tip)
    status.merged = merge_base == d.head and d.head != main_tip
    return status


def approve(
    repo: Repository,
    draft: str,
    reviewer: str,
    reason: str | None = None,
    main: str = "main",
    *,
    key: str | None = None,
) -> Decision:
    """Record reviewer's approval of the draft's current head commit, signed with key."""
    return _decide(repo, draft, reviewer, APPROVE, reason, main, key)


def reject(
    repo: Repository, draft: str, reviewer: str, reason: str, main: str = "main", *, key: str | None = None
) -> Decision:
    """Record a rejection with its reason; it blocks the head until that reviewer approves it."""
    if not reason or not reason.strip():
        raise UsageError("a rejection needs a reason (--reason TEXT): it stays in the audit log")
    return _decide(repo, draft, reviewer, REJECT, reason, main, key)


def _decide(
    repo: Repository,
    draft_name: str,
    reviewer: str,
    decision: str,
    reason: str | None,
    main: str,
    key: str | None,
) -> Decision:
    reviewer = reviewer.strip()
    if "@" not in reviewer or any(c.isspace() for c in reviewer):
        raise UsageError(f"--reviewer must be an e-mail address, not {reviewer!r}")
    draft = resolve_draft(repo, draft_name)
    main_tip = repo.resolve_commit(main)
    if repo.is_ancestor(draft.head, main_tip):
        raise UsageError(f"{draft.branch} is already merged into {main}: there is nothing to review")
    registry = registry_at(repo, main_tip)
    merge_base = repo.merge_base(main_tip, draft.head) or main_tip
    status = evaluate(repo, registry, merge_base, draft.head, draft=draft.branch, keys_commit=main_tip)
    who = reviewer.casefold()
    if decision == APPROVE and who in status.authors:
        raise ReviewError(
            f"{reviewer} authored a commit of {draft.branch} and cannot approve it"
            " (ask another steward or a policy owner)"
        )
    if decision == APPROVE and who in {s.casefold() for s in status.signers}:
        raise ReviewError(
            f"{reviewer} signed a commit of {draft.branch} and cannot approve it"
            " (ask another steward or a policy owner)"
        )
    eligible = {e.casefold() for r in status.requirements for e in r.eligible}
    if who not in eligible:
        names = ", ".join(status.libraries) or "no library"
        allowed = ", ".join(sorted({e for r in status.requirements for e in r.eligible})) or "nobody"
        raise ReviewError(
            f"{reviewer} is neither a steward of what {draft.branch} changes ({names}) nor a policy owner"
            f" in {main}'s {REGISTRY_PATH} (who may decide: {allowed})"
        )
    at = rfc3339()
    text = reason.strip() if reason else None
    signature = None
    policy = registry.policy
    if key is not None or policy.require_signed_reviews:
        payload = decision_payload(draft.branch, draft.head, decision, reviewer, at, text)
        signature = sign_decision(repo, payload, key)
    made = Decision(
        decision=decision,
        reviewer=reviewer,
        commit=draft.head,
        at=at,
        draft=draft.branch,
        reason=text,
        libraries=tuple(status.libraries) + ((RULES,) if status.rules_changed else ()),
        recorded_commit=draft.head,
        signature=signature,
    )
    keys = allowed_signers_at(repo, main_tip, policy)
    where = f"{main}'s {policy.allowed_signers or 'allowed-signers file (policy.allowed_signers is not set)'}"
    checked = check_decision(made, draft.head, draft.branch, keys, policy, where)
    if not checked.counts:
        # refuse before writing: a decision that would count for nothing only misleads
        raise ReviewError(
            f"the {decision} by {reviewer} would not count: {checked.unverified}; nothing was written"
        )
    _append(repo, draft, checked)
    return checked


def _append(repo: Repository, draft: Draft, made: Decision) -> None:
    """Add the decision to the head's note; retry when another reviewer wrote at the same time."""
    author = actor_identity(repo, made.reviewer)
    prov = Provenance("review", made.reviewer, made.reason or made.decision, draft.branch)
    summary = message_with_trailers(
        f"{made.decision} {draft.branch} at {made.commit[:12]} by {made.reviewer}", prov
    )
    for attempt in range(_WRITE_ATTEMPTS):
        existing = repo.read_note(NOTES_REF, made.commit)
        items: list[Any] = []
        if existing:
            try:
                doc = load_yaml(existing, "review note")
                items = doc if isinstance(doc, list) else [doc]
            except EntrySyntaxError:
                items = []  # an unreadable note counts for nothing; the notes history keeps it
        items.append(made.note_item())
        try:
            repo.write_note(NOTES_REF, made.commit, dump_yaml(items), author, summary)
            return
        except RefMovedError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
