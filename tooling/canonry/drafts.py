"""Drafts: branches `draft/<name>` where stewards prepare a change before it is published.

Commands that take a draft accept `NAME`, `draft/NAME` or `refs/heads/draft/NAME`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import UnknownRefError, UsageError
from .repo import RefUpdate, Repository

DRAFT_PREFIX = "draft/"
HEADS = "refs/heads/"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


@dataclass(frozen=True)
class Draft:
    name: str  # "steel-patterns"
    head: str

    @property
    def branch(self) -> str:
        return DRAFT_PREFIX + self.name

    @property
    def ref(self) -> str:
        return HEADS + self.branch


def draft_name(text: str) -> str:
    """The bare name of a draft given as NAME, draft/NAME or refs/heads/draft/NAME."""
    name = text.strip()
    for prefix in (HEADS + DRAFT_PREFIX, DRAFT_PREFIX):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if not _NAME_RE.fullmatch(name) or ".." in name or name.endswith(".lock") or name.endswith("."):
        raise UsageError(
            f"{text!r} is not a draft name (letters, digits, '.', '_', '-', and '/' between parts)"
        )
    return name


def resolve_draft(repo: Repository, text: str) -> Draft:
    """The draft named by text; UnknownRefError when its branch does not exist."""
    name = draft_name(text)
    head = repo.ref_target(HEADS + DRAFT_PREFIX + name)
    if head is None:
        raise UnknownRefError(DRAFT_PREFIX + name, "no such draft; `canonry draft list` shows them")
    return Draft(name, head)


def create_draft(repo: Repository, name: str, from_ref: str = "main", checkout: bool = True) -> Draft:
    """Create `draft/NAME` at from_ref and check it out when there is a work tree.

    The check-out is git's own: it carries uncommitted changes over when they
    do not collide with the draft's start and refuses otherwise, so nothing
    in the work tree is lost. A refused check-out removes the new branch again.
    """
    draft = Draft(draft_name(name), repo.resolve_commit(from_ref))
    if repo.ref_target(draft.ref) is not None:
        raise UsageError(f"{draft.branch} already exists (pick another name or continue on it)")
    repo.update_refs([RefUpdate(draft.ref, draft.head, None)], f"canonry: draft start from {from_ref}")
    if checkout and repo.workdir is not None:
        proc = repo.run_git(["checkout", "--quiet", draft.branch], check=False)
        if proc.returncode != 0:
            repo.update_refs([RefUpdate(draft.ref, None, draft.head)], "canonry: draft start undone")
            detail = " ".join(proc.stderr.split())
            raise UsageError(
                f"cannot check out {draft.branch}, so it was not created: {detail}"
                " (commit or stash your changes first, or pass --no-checkout)"
            )
    return draft


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
    from .rules import load_rules
    from .states import TreeState

    main_tip = repo.resolve_commit(main)
    registry = load_rules(TreeState(repo, main_tip, main)).require_registry()
    return [
        _summarize(repo, registry, main_tip, ref[len(HEADS + DRAFT_PREFIX) :], head)
        for ref, head in sorted(repo.refs(HEADS + DRAFT_PREFIX).items())
    ]


def _summarize(repo: Repository, registry: Any, main_tip: str, name: str, head: str) -> DraftSummary:
    from .review import evaluate

    ahead, behind = repo.count_between(main_tip, head)
    merged = repo.is_ancestor(head, main_tip)
    merge_base = repo.merge_base(main_tip, head) or main_tip
    status = evaluate(repo, registry, merge_base, head, draft=DRAFT_PREFIX + name)
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
    from .diff import diff
    from .gates.engine import GATES, run_gates
    from .review import review_status
    from .rules import load_rules
    from .states import TreeState

    draft = resolve_draft(repo, name)
    main_tip = repo.resolve_commit(main)
    merge_base = repo.merge_base(main_tip, draft.head) or main_tip
    registry = load_rules(TreeState(repo, main_tip, main)).require_registry()
    summary = _summarize(repo, registry, main_tip, draft.name, draft.head)
    doc = diff(repo, merge_base, draft.head)
    doc["from"]["ref"] = f"merge-base of {main} and {draft.branch}"
    doc["to"]["ref"] = draft.branch
    result = run_gates(repo, main_tip, draft.head, gates=list(GATES))
    result.base = {"ref": main, "commit": main_tip, "merge_base": merge_base}
    result.head = {"ref": draft.branch, "commit": draft.head}
    return DraftView(
        summary, main, main_tip, merge_base, doc, result, review_status(repo, draft.branch, main)
    )
