"""What stewards see of drafts: the list with review states, and one draft with its diff and verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..compare.diff import diff
from ..gates.context import GateOptions
from ..gates.engine import run_gates
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from .drafts import DRAFT_PREFIX, HEADS, resolve_draft
from .review import evaluate, review_status
from .review_gate import EXTRA_GATES, all_gates


@dataclass(frozen=True)
class DraftSummary:
    name: str
    head: str
    ahead: int
    behind: int
    merged: bool
    review: str  # approved | rejected | pending | stale | merged | empty (no commit yet)
    libraries: tuple[str, ...]

    @property
    def branch(self) -> str:
        return DRAFT_PREFIX + self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "draft": self.branch,
            "head": self.head,
            "ahead": self.ahead,
            "behind": self.behind,
            "merged": self.merged,
            "review": self.review,
            "libraries": list(self.libraries),
        }


def list_drafts(repo: Repository, main: str = "main") -> list[DraftSummary]:
    """Every draft with how far it is ahead of / behind main, its review state and libraries."""
    main_tip = repo.resolve_commit(main)
    registry = load_rules(TreeState(repo, main_tip, main)).require_registry()
    return [
        _summarize(repo, registry, main_tip, ref[len(HEADS + DRAFT_PREFIX) :], head)
        for ref, head in sorted(repo.refs(HEADS + DRAFT_PREFIX).items())
    ]


def _summarize(repo: Repository, registry: Any, main_tip: str, name: str, head: str) -> DraftSummary:

    ahead, behind = repo.count_between(main_tip, head)
    merged = repo.is_ancestor(head, main_tip)
    merge_base = repo.merge_base(main_tip, head) or main_tip
    status = evaluate(repo, registry, merge_base, head, draft=DRAFT_PREFIX + name, keys_commit=main_tip)
    return DraftSummary(
        name=name,
        head=head,
        ahead=ahead,
        behind=behind,
        merged=merged,
        review=("empty" if head == main_tip else "merged") if merged else status.state,
        libraries=tuple(status.libraries) + (("(rules)",) if status.rules_changed else ()),
    )


@dataclass
class DraftView:
    """`draft show`: the draft, what it changes since it left main, and the gates' verdict."""

    summary: DraftSummary
    main: str
    main_commit: str
    merge_base: str
    diff: dict[str, Any]
    gate: Any  # GateResult
    review: Any  # ReviewStatus

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "canonry.draft/v1",
            **self.summary.to_dict(),
            "main": {"ref": self.main, "commit": self.main_commit},
            "merge_base": self.merge_base,
            "diff": self.diff,
            "gate": self.gate.to_dict(),
            "review_status": self.review.to_dict(),
        }


def show_draft(repo: Repository, name: str, main: str = "main") -> DraftView:
    """The draft's changes since its merge-base with main, and every gate's verdict (review included).

    The diff is taken from the merge-base (what `git diff main...draft` shows),
    so changes made on main since the draft began do not show up as undone.
    """
    draft = resolve_draft(repo, name)
    main_tip = repo.resolve_commit(main)
    merge_base = repo.merge_base(main_tip, draft.head) or main_tip
    registry = load_rules(TreeState(repo, main_tip, main)).require_registry()
    summary = _summarize(repo, registry, main_tip, draft.name, draft.head)
    doc = diff(repo, merge_base, draft.head)
    doc["from"]["ref"] = f"merge-base of {main} and {draft.branch}"
    doc["to"]["ref"] = draft.branch
    result = run_gates(
        repo,
        main_tip,
        draft.head,
        gates=all_gates(),
        options=GateOptions(review_draft=draft.branch),
        extra_gates=EXTRA_GATES,
    )
    result.base = {"ref": main, "commit": main_tip, "merge_base": merge_base}
    result.head = {"ref": draft.branch, "commit": draft.head}
    return DraftView(
        summary, main, main_tip, merge_base, doc, result, review_status(repo, draft.branch, main)
    )
