"""Review decisions: approvals and rejections as notes bound to a draft's exact head commit.

A decision is a note under `refs/notes/canonry-reviews` on the commit it
judges, a YAML list with one item per decision (several reviewers may decide
on the same commit; a reviewer's latest decision there is the one that
counts). A commit pushed after an approval is a new head without it: the
approval is stale. Who may approve comes from the base's libraries.yaml,
never from the draft, and nobody approves a draft they wrote a commit of.
The notes ref's history is the audit log of every decision.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EntrySyntaxError, RefMovedError, ReviewError, UsageError
from ..store.commits import Provenance, actor_identity, message_with_trailers
from ..store.registry import REGISTRY_PATH, Registry
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from ..store.times import rfc3339
from ..store.yamlio import dump_yaml, load_yaml
from .drafts import Draft, resolve_draft

NOTES_REF = "refs/notes/canonry-reviews"
APPROVE = "approve"
REJECT = "reject"
RULES = "(rules)"  # the requirement a change to schemas/ or libraries.yaml adds
ANY = "(any library)"  # the requirement of a draft that touches no library
_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class Decision:
    decision: str  # approve | reject
    reviewer: str
    commit: str
    at: str
    draft: str | None = None
    reason: str | None = None
    libraries: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reviewer": self.reviewer,
            "commit": self.commit,
            "at": self.at,
            "draft": self.draft,
            "reason": self.reason,
            "libraries": list(self.libraries),
        }


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

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def approved_by(self) -> list[str]:
        """The approvals that count, in the order they were made."""
        counted = {a.casefold() for r in self.requirements for a in r.approvals}
        return [
            d.reviewer
            for d in _latest(self.on_head)
            if d.decision == APPROVE and d.reviewer.casefold() in counted
        ]

    @property
    def rejections(self) -> list[Decision]:
        return [d for d in _latest(self.on_head) if d.decision == REJECT]

    @property
    def state(self) -> str:
        if self.merged:
            return "merged"
        if self.rejections:
            return "rejected"
        if self.ok:
            return "approved"
        if self.stale and not any(d.decision == APPROVE for d in self.on_head):
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
            "approved_by": self.approved_by,
            "requirements": [r.to_dict() for r in self.requirements],
            "decisions": [d.to_dict() for d in self.on_head],
            "stale_decisions": [d.to_dict() for d in self.stale],
            "problems": [{"library": lib, "message": msg} for lib, msg in self.problems],
            "warnings": list(self.warnings),
        }


# --- reading decisions ------------------------------------------------------------------


def parse_note(text: str, commit: str) -> list[Decision]:
    """The decisions of one note; items that do not read as decisions are left out."""
    try:
        doc = load_yaml(text, f"review note on {commit[:12]}")
    except EntrySyntaxError:
        return []
    items = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        decision, reviewer = item.get("decision"), item.get("reviewer")
        if decision not in (APPROVE, REJECT) or not isinstance(reviewer, str) or "@" not in reviewer:
            continue
        libraries = item.get("libraries") or []
        out.append(
            Decision(
                decision=decision,
                reviewer=reviewer,
                commit=commit,
                at=str(item.get("at") or ""),
                draft=item.get("draft") if isinstance(item.get("draft"), str) else None,
                reason=item.get("reason") if isinstance(item.get("reason"), str) else None,
                libraries=tuple(str(x) for x in libraries if isinstance(x, str)),
            )
        )
    return out


def decisions_on(repo: Repository, commit: str, notes_refs: Sequence[str] = (NOTES_REF,)) -> list[Decision]:
    """Every decision recorded on commit, oldest first, from the repository's notes refs only.

    `notes_refs` adds a remote's copy (fetched by `publish --push`) to the local ref.
    """
    out: list[Decision] = []
    for ref in notes_refs:
        text = repo.read_note(ref, commit)
        for d in parse_note(text, commit) if text else []:
            if d not in out:
                out.append(d)
    out.sort(key=lambda d: d.at)  # stable: the order within one note is kept
    return out


def all_decisions(repo: Repository) -> list[Decision]:
    """Every decision on every commit (the review part of the audit log)."""
    out: list[Decision] = []
    for commit, text in repo.notes(NOTES_REF).items():
        out.extend(parse_note(text, commit))
    out.sort(key=lambda d: (d.at, d.commit, d.reviewer))
    return out


def _latest(decisions: Iterable[Decision]) -> list[Decision]:
    """Each reviewer's last decision, in the order those were made."""
    last: dict[str, Decision] = {}
    for d in decisions:
        last.pop(d.reviewer.casefold(), None)
        last[d.reviewer.casefold()] = d
    return list(last.values())


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
) -> ReviewStatus:
    """Judge the decisions on head against the base's rules (`registry`)."""
    libraries, rule_paths = changed_areas(repo, registry, repo.tree_of(merge_base), repo.tree_of(head))
    if only_libraries:
        libraries = [name for name in libraries if name in only_libraries]
    authors = draft_authors(repo, merge_base, head)
    on_head = decisions_on(repo, head, notes_refs)
    stale = [
        d
        for c in repo.walk(head, hide=[merge_base])
        if c.oid != head
        for d in decisions_on(repo, c.oid, notes_refs)
    ]
    policy = registry.policy
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
    author_set = set(authors)
    latest = _latest(on_head)
    problems: list[tuple[str | None, str]] = []
    for req in requirements:
        eligible = {e.casefold() for e in req.eligible}
        for d in latest:
            who = d.reviewer.casefold()
            if d.decision == APPROVE and who in eligible and who not in author_set:
                req.approvals.append(d.reviewer)
        if not req.ok:
            problems.append((_library_or_none(req.library), _missing_message(req, head, rule_paths)))
    warnings = [
        f"the approval by {d.reviewer} does not count: they authored a commit of the draft"
        for d in latest
        if d.decision == APPROVE and d.reviewer.casefold() in author_set
    ]
    for d in latest:
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


# --- the verbs ----------------------------------------------------------------------------------


def review_status(repo: Repository, draft: str, main: str = "main") -> ReviewStatus:
    """Where the review of a draft stands against main's rules."""
    d = resolve_draft(repo, draft)
    main_tip = repo.resolve_commit(main)
    registry = _registry(repo, main_tip)
    merge_base = repo.merge_base(main_tip, d.head) or main_tip
    status = evaluate(repo, registry, merge_base, d.head, draft=d.branch)
    status.merged = merge_base == d.head and d.head != main_tip
    return status


def approve(
    repo: Repository, draft: str, reviewer: str, reason: str | None = None, main: str = "main"
) -> Decision:
    """Record reviewer's approval of the draft's current head commit."""
    return _decide(repo, draft, reviewer, APPROVE, reason, main)


def reject(repo: Repository, draft: str, reviewer: str, reason: str, main: str = "main") -> Decision:
    """Record a rejection with its reason; it blocks the head until that reviewer approves it."""
    if not reason or not reason.strip():
        raise UsageError("a rejection needs a reason (--reason TEXT): it stays in the audit log")
    return _decide(repo, draft, reviewer, REJECT, reason, main)


def _decide(
    repo: Repository, draft_name: str, reviewer: str, decision: str, reason: str | None, main: str
) -> Decision:
    reviewer = reviewer.strip()
    if "@" not in reviewer or any(c.isspace() for c in reviewer):
        raise UsageError(f"--reviewer must be an e-mail address, not {reviewer!r}")
    draft = resolve_draft(repo, draft_name)
    main_tip = repo.resolve_commit(main)
    if repo.is_ancestor(draft.head, main_tip):
        raise UsageError(f"{draft.branch} is already merged into {main}: there is nothing to review")
    registry = _registry(repo, main_tip)
    merge_base = repo.merge_base(main_tip, draft.head) or main_tip
    status = evaluate(repo, registry, merge_base, draft.head, draft=draft.branch)
    who = reviewer.casefold()
    if decision == APPROVE and who in status.authors:
        raise ReviewError(
            f"{reviewer} authored a commit of {draft.branch} and cannot approve it"
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
    made = Decision(
        decision=decision,
        reviewer=reviewer,
        commit=draft.head,
        at=rfc3339(),
        draft=draft.branch,
        reason=reason.strip() if reason else None,
        libraries=tuple(status.libraries) + ((RULES,) if status.rules_changed else ()),
    )
    _append(repo, draft, made)
    return made


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
        item = made.to_dict()
        del item["commit"]  # the note is on the commit
        items.append(item)
        try:
            repo.write_note(NOTES_REF, made.commit, dump_yaml(items), author, summary)
            return
        except RefMovedError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _registry(repo: Repository, commit: str) -> Registry:
    return load_rules(TreeState(repo, commit, commit[:12])).require_registry()
