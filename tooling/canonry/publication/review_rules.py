"""Review rules: who must approve a draft and whether the decisions on its exact head count.

Decisions are signed notes bound to one commit (`decisions`). A commit pushed
after an approval is a new head without it: the approval is stale. Who may
approve comes from the base's libraries.yaml and whose key is whose from the
base's allowed-signers file, never from the draft; nobody approves a draft
they wrote (with `require_signed_commits`, signed) a commit of. The notes
ref's history is the audit log of every decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.registry import Registry
from ..store.repo import Repository
from .commit_signatures import commit_signers
from .decisions import (
    APPROVE,
    NOTES_REF,
    REJECT,
    Decision,
    allowed_signers_at,
    check_decision,
    decisions_on,
    latest,
)

RULES = "(rules)"  # the requirement a change to schemas/ or libraries.yaml adds
ANY = "(any library)"  # the requirement of a draft that touches no library


@dataclass
class Requirement:
    """What one library (or the rules) needs: `needed` approvals from `eligible` people."""

    library: str
    eligible: tuple[str, ...]
    needed: int
    approvals: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.approvals) >= self.needed

    def to_dict(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "eligible": list(self.eligible),
            "needed": self.needed,
            "approvals": list(self.approvals),
            "ok": self.ok,
        }


@dataclass
class ReviewStatus:
    head: str
    merge_base: str
    libraries: list[str]
    rules_changed: bool
    authors: list[str]
    requirements: list[Requirement]
    on_head: list[Decision]
    stale: list[Decision]
    problems: list[tuple[str | None, str]]  # (library, message): what blocks publication
    warnings: list[str] = field(default_factory=list)
    draft: str | None = None
    merged: bool = False  # the head is already on main: nothing is left to review
    signers: list[str] = field(default_factory=list)  # principals who signed the draft's commits

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def counted(self) -> list[Decision]:
        """Each reviewer's latest decision on the head among those that count."""
        return latest(d for d in self.on_head if d.counts)

    @property
    def unverified(self) -> list[Decision]:
        return [d for d in self.on_head if not d.counts]

    @property
    def approved_by(self) -> list[str]:
        """The approvals that count, in the order they were made."""
        counted = {a.casefold() for r in self.requirements for a in r.approvals}
        return [
            d.reviewer for d in self.counted if d.decision == APPROVE and d.reviewer.casefold() in counted
        ]

    @property
    def rejections(self) -> list[Decision]:
        return [d for d in self.counted if d.decision == REJECT]

    @property
    def state(self) -> str:
        if self.merged:
            return "merged"
        if self.rejections:
            return "rejected"
        if self.ok:
            return "approved"
        if self.stale and not any(d.decision == APPROVE for d in self.counted):
            return "stale"
        return "pending"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "canonry.review/v1",
            "draft": self.draft,
            "head": self.head,
            "merge_base": self.merge_base,
            "state": self.state,
            "ok": self.ok,
            "libraries": list(self.libraries),
            "rules_changed": self.rules_changed,
            "authors": list(self.authors),
            "signers": list(self.signers),
            "approved_by": self.approved_by,
            "requirements": [r.to_dict() for r in self.requirements],
            "decisions": [d.to_dict() for d in self.on_head],
            "unverified_decisions": [d.to_dict() for d in self.unverified],
            "stale_decisions": [d.to_dict() for d in self.stale],
            "problems": [{"library": lib, "message": msg} for lib, msg in self.problems],
            "warnings": list(self.warnings),
        }


# --- what a draft changes and who wrote it ---------------------------------------------------


def changed_areas(
    repo: Repository, registry: Registry, base_tree: str, head_tree: str
) -> tuple[list[str], list[str]]:
    """(libraries whose folder differs, rule paths that differ) between two trees.

    Rule paths are schemas/ and anything under knowledge/ outside a library's
    folder (holdout sets among them): changing them needs a policy owner.
    Only subtree ids are compared, so the cost does not depend on library size.
    """
    libraries = [
        spec.name
        for spec in registry.libraries.values()
        if repo.subtree(base_tree, spec.path) != repo.subtree(head_tree, spec.path)
    ]
    rules: list[str] = []
    if repo.subtree(base_tree, "schemas") != repo.subtree(head_tree, "schemas"):
        rules.append("schemas")
    folders = {spec.path.split("/", 1)[1] for spec in registry.libraries.values() if "/" in spec.path}
    base_k, head_k = repo.subtree(base_tree, "knowledge"), repo.subtree(head_tree, "knowledge")
    if base_k != head_k:
        before = {i.name: i.oid for i in repo.list_tree(base_k)} if base_k else {}
        after = {i.name: i.oid for i in repo.list_tree(head_k)} if head_k else {}
        for name in sorted(set(before) | set(after)):
            if name not in folders and before.get(name) != after.get(name):
                rules.append(f"knowledge/{name}")
    return sorted(libraries), rules


def draft_authors(repo: Repository, merge_base: str, head: str) -> list[str]:
    """The author e-mails (case-folded, sorted) of the commits in merge_base..head."""
    hide = [merge_base] if merge_base else []
    return sorted({c.author.email.casefold() for c in repo.walk(head, hide=hide)})


def evaluate(
    repo: Repository,
    registry: Registry,
    merge_base: str,
    head: str,
    *,
    only_libraries: Sequence[str] = (),
    draft: str | None = None,
    notes_refs: Sequence[str] = (NOTES_REF,),
    keys_commit: str | None = None,
) -> ReviewStatus:
    """Judge the decisions on head against the base's rules (`registry`) and keys (at `keys_commit`).

    keys_commit is the base commit `registry` was read from (default: merge_base);
    its allowed-signers file decides whose signature is whose.
    """
    libraries, rule_paths = changed_areas(repo, registry, repo.tree_of(merge_base), repo.tree_of(head))
    if only_libraries:
        libraries = [name for name in libraries if name in only_libraries]
    policy = registry.policy
    keys_at = keys_commit or merge_base
    keys = allowed_signers_at(repo, keys_at, policy)
    keys_where = f"{policy.allowed_signers or 'policy.allowed_signers (not set)'} at {keys_at[:12]}"
    problems: list[tuple[str | None, str]] = []
    authors = draft_authors(repo, merge_base, head)
    signers: list[str] = []
    if policy.require_signed_commits:
        signers, unsigned = commit_signers(repo, merge_base, head, keys)
        problems += [(None, message) for message in unsigned]
    on_head = [
        check_decision(d, head, draft, keys, policy, keys_where) for d in decisions_on(repo, head, notes_refs)
    ]
    stale = [
        d
        for c in repo.walk(head, hide=[merge_base])
        if c.oid != head
        for d in decisions_on(repo, c.oid, notes_refs)
    ]
    owners = tuple(policy.owners)
    requirements: list[Requirement] = []
    for name in libraries:
        stewards = registry.libraries[name].stewards
        requirements.append(Requirement(name, _unique((*stewards, *owners)), policy.min_approvals))
    if rule_paths:
        requirements.append(Requirement(RULES, owners, max(1, policy.min_approvals)))
    if not requirements:
        everyone = [s for spec in registry.libraries.values() for s in spec.stewards]
        requirements.append(Requirement(ANY, _unique((*everyone, *owners)), policy.min_approvals))
    excluded = set(authors) | {s.casefold() for s in signers}
    counted = latest(d for d in on_head if d.counts)
    for req in requirements:
        eligible = {e.casefold() for e in req.eligible}
        for d in counted:
            who = d.reviewer.casefold()
            if d.decision == APPROVE and who in eligible and who not in excluded:
                req.approvals.append(d.reviewer)
        if not req.ok:
            problems.append((_library_or_none(req.library), _missing_message(req, head, rule_paths)))
    warnings = [
        f"the approval by {d.reviewer} does not count: they "
        + ("signed" if d.reviewer.casefold() in signers else "authored")
        + " a commit of the draft"
        for d in counted
        if d.decision == APPROVE and d.reviewer.casefold() in excluded
    ]
    warnings += [
        f"the {d.decision} by {d.reviewer} does not count: {d.unverified}" for d in on_head if not d.counts
    ]
    for d in counted:
        if d.decision == REJECT:
            reason = f": {d.reason}" if d.reason else ""
            problems.append((None, f"rejected by {d.reviewer} on {head[:12]}{reason}"))
    return ReviewStatus(
        head=head,
        merge_base=merge_base,
        libraries=libraries,
        rules_changed=bool(rule_paths),
        authors=authors,
        requirements=requirements,
        on_head=on_head,
        stale=stale,
        problems=problems,
        warnings=warnings,
        draft=draft,
        signers=signers,
    )


def _library_or_none(name: str) -> str | None:
    return None if name in (RULES, ANY) else name


def _missing_message(req: Requirement, head: str, rule_paths: list[str]) -> str:
    have = len(req.approvals)
    who = ", ".join(req.eligible) or "nobody (no steward or owner is declared)"
    if req.library == RULES:
        what = f"changes {', '.join(rule_paths)}: needs a policy owner's approval"
    elif req.library == ANY:
        what = f"needs {req.needed} approval(s) from a steward or policy owner"
    else:
        what = f"{req.library}: needs {req.needed} approval(s) from its stewards or a policy owner"
    return f"{what} on {head[:12]}, has {have} (who may approve: {who}; not an author of the draft)"


def _unique(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for e in emails:
        seen.setdefault(e.casefold(), e)
    return tuple(seen.values())
