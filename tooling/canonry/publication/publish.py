"""Publication: gates pass, then main and the new version tags move in one all-or-nothing step.

Two verbs share one engine: `publish` (merge a draft, CLI flow) and `release`
(tag what main already has, forge flow); a rollback is a draft like any other
(`canonry.publication.rollback`). Each attempt:

1. reads main (with `push`, the remote's main: fetch first);
2. plans on it: the merge commit, the gates, the next version numbers and
   their metadata; writes the commit and tag objects (no ref moves);
3. commits: locally `git update-ref --stdin` moving main from its old tip and
   creating each tag from nothing, all or nothing; with `push`, one
   `git push --atomic --force-with-lease` is the commit point, and local refs
   follow only after the remote took it.

A lost race (main moved, a tag appeared, the lease went stale) starts the
attempt over on the new main, with fresh gates and numbers, a bounded number
of times. A process that dies between steps leaves only unreferenced objects
(or, with `push`, a remote that is ahead of the local refs); running the same
command again finishes the job or finds nothing new. Local publications that a
remote lacks (published without `--push`) are pushed by the next `--push`.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    CanonryError,
    GatesFailedError,
    PushRejectedError,
    RefMovedError,
    UsageError,
)
from ..gates.engine import GATES
from ..gates.findings import GateResult
from ..store.repo import Identity, Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from ..store.versions import (
    list_versions,
)
from . import guards
from . import refs as publish_refs
from .drafts import resolve_draft
from .gate_history import keep
from .plans import plan_publish, plan_release
from .refs import (
    CRASH_ENV,
    Busy,
    LocalTarget,
    NewVersion,
    Plan,
    RemoteTarget,
    Sync,
    backoff,
    rewound,
)
from .tagging import check_tag_signer, require_signing, tag_signer, write_tag

__all__ = ["CRASH_ENV", "NewVersion", "Publication", "publish", "release"]

MAX_ATTEMPTS = 12


@dataclass
class Publication:
    """What a publish or release did (or, with dry_run, would do)."""

    kind: str  # publish | release
    action: str  # published | nothing | dry-run
    main_before: str | None
    main_after: str | None
    versions: list[NewVersion] = field(default_factory=list)
    draft: str | None = None
    gate: GateResult | None = None
    diff: dict[str, Any] | None = None
    remote: str | None = None
    pushed: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)  # derived index refs built (pushed after the tags)
    attempts: int = 1
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "canonry.publication/v1",
            "kind": self.kind,
            "action": self.action,
            "draft": self.draft,
            "main": {"before": self.main_before, "after": self.main_after},
            "versions": [v.to_dict() for v in self.versions],
            "remote": self.remote,
            "pushed": list(self.pushed),
            "indexes": list(self.indexes),
            "attempts": self.attempts,
            "messages": list(self.messages),
            "gate": self.gate.to_dict() if self.gate is not None else None,
            "diff": self.diff,
        }


# --- the verbs ----------------------------------------------------------------------------------


def publish(
    repo: Repository,
    draft: str,
    *,
    by: str | None = None,
    dry_run: bool = False,
    push: str | None = None,
    sign: bool = False,
    main: str = "main",
    max_attempts: int = MAX_ATTEMPTS,
    index: bool = True,
) -> Publication:
    """Gate the draft (review included), merge it into main and tag each library whose content changed."""
    d = resolve_draft(repo, draft)
    who = identity(repo, by)

    def plan(sync: Sync) -> Plan:
        return plan_publish(repo, d, who, sync.base, sync.notes_refs)

    return _drive(
        repo, "publish", plan, main, push, sign, dry_run, max_attempts, d.branch, who.email, index=index
    )


def release(
    repo: Repository,
    *,
    by: str | None = None,
    dry_run: bool = False,
    push: str | None = None,
    sign: bool = False,
    main: str = "main",
    max_attempts: int = MAX_ATTEMPTS,
    index: bool = True,
) -> Publication:
    """Tag, on main's tip, each library whose content differs from its latest version (forge flow)."""
    who = identity(repo, by)

    def plan(sync: Sync) -> Plan:
        return plan_release(repo, who, sync.base)

    return _drive(
        repo, "release", plan, main, push, sign, dry_run, max_attempts, None, who.email, index=index
    )


def identity(repo: Repository, by: str | None) -> Identity:
    """The publisher: --by, else git's configured user."""
    from ..store.commits import actor_identity

    if by:
        by = by.strip()
        if "@" not in by or any(c.isspace() or c in "<>" for c in by):
            raise UsageError(f"--by must be an e-mail address, not {by!r}")
        return Identity(by.split("@", 1)[0], by)
    who = actor_identity(repo)
    return Identity(re.sub(r"[<>\n]", "", who.name) or who.email, who.email)


# --- the engine ---------------------------------------------------------------------------------


def _drive(
    repo: Repository,
    kind: str,
    make_plan: Callable[[Sync], Plan],
    main: str,
    push: str | None,
    sign: bool,
    dry_run: bool,
    max_attempts: int,
    draft: str | None = None,
    who: str | None = None,
    *,
    index: bool = True,
) -> Publication:
    """Publish or release, then keep its gate run in the gate history, a refusal's too.

    A published version also gets the derived index of its library tree (built
    and, with push, pushed: `ship_indexes`). A dry run writes nothing, not even
    history. Keeping the run or the index never changes the outcome: a problem
    with either comes back as a message (a warning).
    """
    try:
        pub = _attempts(repo, kind, make_plan, main, push, sign, dry_run, max_attempts, draft)
    except GatesFailedError as exc:
        if dry_run or not isinstance(exc.result, GateResult):
            raise
        problem = keep(repo, exc.result, kind, push, who=who)
        if problem is None:
            raise
        raise GatesFailedError(f"{exc} (warning: {problem})", exc.result) from None
    if pub.action == "published" and pub.gate is not None:
        problem = keep(repo, pub.gate, kind, push, who=who)
        if problem is not None:
            pub.messages.append(problem)
    if pub.action == "published" and index:
        ship_indexes(repo, pub, push)
    return pub


def ship_indexes(repo: Repository, pub: Publication, push: str | None) -> None:
    """Build the derived index of each newly tagged library tree; with push, push its ref too.

    The index refs are content-addressed, so they go in a second, non-atomic
    push after the atomic one: a failure is a warning, the publication stands
    (gates build the index from the entries when a clone lacks it).
    """
    from ..gates.derived import on_publish

    by_commit: dict[str, set[str]] = {}
    for v in pub.versions:
        by_commit.setdefault(v.commit, set()).add(v.library)
    refs: list[str] = []
    try:
        for commit, libraries in sorted(by_commit.items()):
            refs += on_publish(repo, commit, sorted(libraries))
    except (CanonryError, OSError) as exc:
        pub.messages.append(
            f"warning: the derived index was not built ({exc}); `canonry index build` builds it"
        )
        return
    pub.indexes = refs = sorted(set(refs))
    if push is None or not refs:
        return
    pushed = repo.push(push, [(ref, "+" + ref) for ref in refs], atomic=False)
    if not pushed.ok:
        why = "; ".join(pushed.rejected) or pushed.message
        pub.messages.append(
            f"warning: the derived index was not pushed to {push} ({why}); publication is complete"
        )


def _attempts(
    repo: Repository,
    kind: str,
    make_plan: Callable[[Sync], Plan],
    main: str,
    push: str | None,
    sign: bool,
    dry_run: bool,
    max_attempts: int,
    draft: str | None,
) -> Publication:
    """Sync, plan and commit until one attempt wins the race (at most max_attempts)."""
    signer = tag_signer(repo, sign)
    main_ref = "refs/heads/" + main
    # Import the gates and compile main's rules before taking the publisher lock: the lock is for
    # the work that depends on where main is, and the rules are cached by content in this process.
    for name in GATES:
        importlib.import_module(GATES[name])
    tip = repo.ref_target(main_ref)
    if tip is not None:
        with contextlib.suppress(CanonryError):
            load_rules(TreeState(repo, tip, main))
    if not dry_run:
        try:
            guards.check_checkout(repo, main_ref)
        except UsageError:
            now = repo.ref_target(main_ref)
            if push is None and now is not None:
                _check_history(repo, now, None)  # a rewound main says so before its stale index does
            raise
    last: Exception | None = None
    for attempt in range(1, max(1, max_attempts) + 1):
        with publish_refs.publisher_lock(repo):
            target: LocalTarget | RemoteTarget = (
                RemoteTarget(repo, push, main_ref) if push else LocalTarget(repo, main_ref)
            )
            sync = target.sync(dry_run)
            _check_history(repo, sync.base, push)
            if kind != "release":  # the forge flow: the forge merged and reviewed what main has
                guards.check_unseen(repo, sync.base, f"{push}'s main" if push else "main")
            plan = make_plan(sync)
            require_signing(repo, plan.base, sign)
            pub = Publication(kind, "nothing", sync.base, sync.base, draft=draft, gate=plan.gate, remote=push)
            pub.attempts = attempt
            pub.messages.extend(sync.messages)
            if dry_run:
                pub.action = "dry-run" if not plan.nothing else "nothing"
                pub.main_after = plan.new_main or sync.base
                pub.versions = plan.versions
                pub.diff = _dry_run_diff(repo, plan)
                pub.messages.append(plan.nothing or "dry run: nothing was written to any ref")
                return pub
            if plan.nothing and not sync.pending:
                pub.messages.append(plan.nothing)
                return pub
            plan.versions = [write_tag(repo, v, signer) for v in plan.versions]
            if signer is not None:
                check_tag_signer(repo, plan.base, plan.versions)
            publish_refs.step("merge-written")
            try:
                pub.pushed = target.commit(sync, plan, pub.messages)
            except (RefMovedError, PushRejectedError, Busy) as exc:
                last = exc
            else:
                pub.action = "published"
                pub.main_after = plan.new_main or sync.base
                pub.versions = plan.versions
                if plan.nothing:
                    pub.messages.insert(0, plan.nothing)
                return pub
        time.sleep(backoff(attempt))
    assert last is not None
    if isinstance(last, Busy):  # a ref lock held by another writer until the end: a lost race too
        now = repo.ref_target(main_ref)
        raise RefMovedError(main_ref, now, now) from None
    raise last


def _check_history(repo: Repository, base: str, remote: str | None) -> None:
    """Refuse to build on a main that lost published versions (rewound or force-pushed)."""
    lost = [v.tag for v in list_versions(repo) if not repo.is_ancestor(v.commit, base)]
    if lost:
        raise rewound(f"{remote}'s main" if remote else "main", lost)


def _dry_run_diff(repo: Repository, plan: Plan) -> dict[str, Any] | None:
    if plan.new_main is None and not plan.versions:
        return None
    from ..compare.diff import diff

    if plan.new_main is not None:
        return diff(repo, plan.base, plan.new_main)
    return None
