"""Publication: gates pass, then main and the new version tags move in one all-or-nothing step.

Three verbs share one engine: `publish` (merge a draft, CLI flow), `release`
(tag what main already has, forge flow) and `rollback` (a new version with an
old version's content). Each attempt:

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
    ConflictError,
    GatesFailedError,
    PushRejectedError,
    RefMovedError,
    RegistryError,
    UsageError,
)
from ..gates.engine import GATES, default_gates, run_gates, validate
from ..gates.findings import GateResult
from ..store.commits import Provenance
from ..store.registry import LibrarySpec, Registry
from ..store.repo import Identity, Repository
from ..store.rules import load_rules, registry_in_tree
from ..store.states import TreeState
from ..store.times import epoch_now, rfc3339
from ..store.versions import (
    Version,
    latest_version,
    list_versions,
    resolve_version,
    tag_name,
)
from ..store.yamlio import dump_yaml
from . import refs as publish_refs
from .drafts import Draft, resolve_draft
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
from .review import NOTES_REF
from .review_gate import EXTRA_GATES, all_gates

__all__ = ["CRASH_ENV", "NewVersion", "Publication", "publish", "release", "rollback"]

MAX_ATTEMPTS = 12
ROLLBACK_SKIPS = ("holdout",)  # a rollback is the way back from a regression: not re-measured


@dataclass
class Publication:
    """What a publish, release or rollback did (or, with dry_run, would do)."""

    kind: str  # publish | release | rollback
    action: str  # published | nothing | dry-run
    main_before: str | None
    main_after: str | None
    versions: list[NewVersion] = field(default_factory=list)
    draft: str | None = None
    gate: GateResult | None = None
    diff: dict[str, Any] | None = None
    remote: str | None = None
    pushed: list[str] = field(default_factory=list)
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
) -> Publication:
    """Gate the draft (review included), merge it into main and tag each library whose content changed."""
    d = resolve_draft(repo, draft)
    who = identity(repo, by)

    def plan(sync: Sync) -> Plan:
        return _plan_publish(repo, d, who, sync.base, sync.notes_refs)

    return _drive(repo, "publish", plan, main, push, sign, dry_run, max_attempts, draft=d.branch)


def release(
    repo: Repository,
    *,
    by: str | None = None,
    dry_run: bool = False,
    push: str | None = None,
    sign: bool = False,
    main: str = "main",
    max_attempts: int = MAX_ATTEMPTS,
) -> Publication:
    """Tag, on main's tip, each library whose content differs from its latest version (forge flow)."""
    who = identity(repo, by)

    def plan(sync: Sync) -> Plan:
        return _plan_release(repo, who, sync.base)

    return _drive(repo, "release", plan, main, push, sign, dry_run, max_attempts)


def rollback(
    repo: Repository,
    library: str,
    to: str,
    *,
    by: str | None = None,
    reason: str,
    dry_run: bool = False,
    push: str | None = None,
    sign: bool = False,
    main: str = "main",
    max_attempts: int = MAX_ATTEMPTS,
) -> Publication:
    """Publish v(N+1) of library with the content of version `to`; no tag ever moves."""
    if not reason or not reason.strip():
        raise UsageError("a rollback needs a reason (--reason TEXT): it goes into the audit log")
    target = resolve_version(repo, library, to)
    who = identity(repo, by)

    def plan(sync: Sync) -> Plan:
        return _plan_rollback(repo, target, who, reason.strip(), sync.base)

    return _drive(repo, "rollback", plan, main, push, sign, dry_run, max_attempts)


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
) -> Publication:
    signer = _signer(repo, sign)
    main_ref = "refs/heads/" + main
    # Import the gates and compile main's rules before taking the publisher lock: the lock is for
    # the work that depends on where main is, and the rules are cached by content in this process.
    for name in GATES:
        importlib.import_module(GATES[name])
    tip = repo.ref_target(main_ref)
    if tip is not None:
        with contextlib.suppress(CanonryError):
            load_rules(TreeState(repo, tip, main))
    last: Exception | None = None
    for attempt in range(1, max(1, max_attempts) + 1):
        with publish_refs.publisher_lock(repo):
            target: LocalTarget | RemoteTarget = (
                RemoteTarget(repo, push, main_ref) if push else LocalTarget(repo, main_ref)
            )
            sync = target.sync(dry_run)
            _check_history(repo, sync.base, push)
            plan = make_plan(sync)
            _require_signing(repo, plan.base, sign)
            pub = Publication(kind, "nothing", sync.base, sync.base, draft=draft, gate=plan.gate, remote=push)
            pub.attempts = attempt
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
            plan.versions = [_write_tag(repo, v, signer) for v in plan.versions]
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


def _plan_publish(
    repo: Repository, draft: Draft, who: Identity, base: str, notes_refs: tuple[str, ...] = (NOTES_REF,)
) -> Plan:
    head = draft.head
    if head == base:
        return Plan(base, None, [], nothing=f"{draft.branch} has no commit beyond main: nothing new")
    if repo.is_ancestor(head, base):
        return Plan(base, None, [], nothing=f"{draft.branch} is already merged into main: nothing new")
    merge_base = repo.merge_base(base, head) or base
    tree = repo.tree_of(head) if merge_base == base else _merge(repo, merge_base, base, head, draft.branch)
    result = run_gates(
        repo,
        base,
        head,
        gates=all_gates(),
        options={"review_head": head, "review_base": merge_base, "review_notes": notes_refs},
        extra_gates=EXTRA_GATES,
    )
    _check(result, f"{draft.branch} does not pass the gates")
    now = epoch_now()
    todo = _libraries_to_tag(repo, registry_in_tree(repo, tree), tree)
    names = ", ".join(tag_name(spec.name, n) for spec, n, _p in todo) or "no new version"
    approved = list((result.metrics.get("review") or {}).get("approved_by") or [])
    reason = f"approved by {', '.join(approved)}" if approved else "published"
    prov = Provenance("publish", who.email, reason, draft.branch)
    message = _message(f"Publish {draft.branch}: {names}", prov, {"Draft-Head": head, "Versions": names})
    commit = repo.create_commit(tree, [base, head], message, who, when=now)
    if merge_base != base:
        # main moved since the draft began: the merged content passes the gates too
        merged = run_gates(repo, base, commit, gates=default_gates())
        _combine(result, merged)
        _check(result, f"{draft.branch} merged with main does not pass the gates")
    result.head = {"ref": draft.branch, "commit": head, "merge": commit}
    versions = [
        _version(repo, spec, n, parent, commit, tree, who, now, result, draft=draft.branch, approved=approved)
        for spec, n, parent in todo
    ]
    return Plan(base, commit, versions, result)


def _plan_release(repo: Repository, who: Identity, base: str) -> Plan:
    tree = repo.tree_of(base)
    todo = _libraries_to_tag(repo, registry_in_tree(repo, tree), tree)
    if not todo:
        return Plan(base, None, [], nothing="every library's latest version has main's content: nothing new")
    groups: dict[str | None, list[str]] = {}
    for spec, _n, parent in todo:
        since = parent.commit if parent is not None and _has_library(repo, parent.commit, spec.name) else None
        groups.setdefault(since, []).append(spec.name)
    result = GateResult(base=None, head={"ref": "main", "commit": base})
    for since, names in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        if since is None:
            # A first version has nothing to compare with: check its content in full, and
            # measure its holdout so the tag records the accuracy it was published at.
            _combine(result, validate(repo, ref=base, libraries=names))
            part = run_gates(repo, base, base, gates=["holdout"], libraries=names)
        else:
            part = run_gates(repo, since, base, libraries=names)
        _combine(result, part)
    _check(result, "main does not pass the gates")
    now = epoch_now()
    draft = _draft_of_merge(repo.commit(base).message)
    versions = [
        _version(repo, spec, n, parent, base, tree, who, now, result, draft=draft) for spec, n, parent in todo
    ]
    return Plan(base, None, versions, result)


def _plan_rollback(repo: Repository, target: Version, who: Identity, reason: str, base: str) -> Plan:
    base_tree = repo.tree_of(base)
    registry = registry_in_tree(repo, base_tree)
    spec = registry.library(target.library)
    latest = latest_version(repo, spec.name)
    assert latest is not None  # target exists
    want = repo.subtree(repo.tree_of(target.commit), spec.path)
    have = repo.subtree(base_tree, spec.path)
    if want == have == repo.subtree(repo.tree_of(latest.commit), spec.path):
        return Plan(
            base, None, [], nothing=f"{latest.tag} already has the content of {target.tag}: nothing new"
        )
    changes: dict[str, bytes | None] = {}
    for c in repo.diff_trees(have, want):
        changes[f"{spec.path}/{c.path}"] = repo.read_blob(c.new_oid) if c.new_oid else None
    tree = repo.write_tree(base_tree, changes) if changes else base_tree
    now = epoch_now()
    number = latest.number + 1
    prov = Provenance("rollback", who.email, reason, target.tag)
    message = _message(
        f"Roll back {spec.name} to {target.tag} as {tag_name(spec.name, number)}",
        prov,
        {
            "Versions": tag_name(spec.name, number),
            "Rollback-Of": target.tag,
        },
    )
    commit = repo.create_commit(tree, [base], message, who, when=now)
    gates = [g for g in default_gates() if g not in ROLLBACK_SKIPS]
    result = run_gates(repo, base, commit, gates=gates, libraries=[spec.name])
    _check(result, f"the content of {target.tag} does not pass today's gates")
    version = _version(repo, spec, number, latest, commit, tree, who, now, result, rollback_of=target.tag)
    return Plan(base, commit, [version], result)


def _check(result: GateResult, what: str) -> None:
    if not result.ok:
        raise GatesFailedError(f"{what}: {len(result.errors)} error(s); nothing was published", result)


def _combine(into: GateResult, part: GateResult) -> None:
    into.findings.extend(part.findings)
    into.gates.extend(g for g in part.gates if g not in into.gates)
    for key, value in part.metrics.items():
        if isinstance(value, dict) and isinstance(into.metrics.get(key), dict):
            into.metrics[key].update(value)
        else:
            into.metrics[key] = value
    into.sort()


def _merge(repo: Repository, merge_base: str, base: str, head: str, branch: str) -> str:
    from ..compare.merge import merge_trees

    merged = merge_trees(repo, merge_base, base, head)
    if merged.tree_id is None:
        lines = [f"  {c.describe('main', branch)}" for c in merged.conflicts]
        raise ConflictError(
            f"{branch} conflicts with main (main moved since the draft began); nothing was published:\n"
            + "\n".join(lines)
            + f"\n(merge main into {branch}, resolve, get it approved again)",
            [c.to_dict() for c in merged.conflicts],
        )
    return merged.tree_id


def _message(summary: str, prov: Provenance, extra: dict[str, str]) -> str:
    lines = [prov.trailers()] + [f"Canonry-{k}: {v}" for k, v in extra.items()]
    return f"{summary}\n\n" + "\n".join(lines) + "\n"


_DRAFT_IN_MERGE = re.compile(r"(?:from \S+?/|Merge branch ')(draft/[A-Za-z0-9._/-]+?)'?(?:\s|$)")


def _draft_of_merge(message: str) -> str | None:
    """The draft branch a forge's merge commit names, if any."""
    m = _DRAFT_IN_MERGE.search(message.split("\n", 1)[0] + "\n")
    return m[1] if m else None


# --- versions and their metadata -------------------------------------------------------------


def _has_library(repo: Repository, commit: str, name: str) -> bool:
    try:
        return name in registry_in_tree(repo, repo.tree_of(commit)).libraries
    except RegistryError:
        return False


def published_tree(repo: Repository, version: Version, spec: LibrarySpec) -> str | None:
    """The library's subtree at the version's commit (None: the folder was empty)."""
    return repo.subtree(repo.tree_of(version.commit), spec.path)


def _libraries_to_tag(
    repo: Repository, registry: Registry, tree: str
) -> list[tuple[LibrarySpec, int, Version | None]]:
    """(spec, next number, latest version) of each library whose folder differs from its latest version.

    A library without a version is tagged v1 once its folder has content, so the
    first publication tags every library that has entries.
    """
    out = []
    for name in registry.names():
        spec = registry.libraries[name]
        latest = latest_version(repo, name)
        published = published_tree(repo, latest, spec) if latest else None
        if repo.subtree(tree, spec.path) != published:
            out.append((spec, latest.number + 1 if latest else 1, latest))
    return out


def _version(
    repo: Repository,
    spec: LibrarySpec,
    number: int,
    parent: Version | None,
    commit: str,
    tree: str,
    who: Identity,
    now: int,
    result: GateResult,
    *,
    draft: str | None = None,
    approved: list[str] | None = None,
    rollback_of: str | None = None,
) -> NewVersion:
    new_sub = repo.subtree(tree, spec.path)
    old_sub = published_tree(repo, parent, spec) if parent else None
    added, removed, changed = _counts(repo, spec, old_sub, new_sub)
    count = (result.metrics.get("libraries") or {}).get(spec.name)
    if count is None:
        count = _entry_count(repo, spec, new_sub)
    holdout = (result.metrics.get("holdout") or {}).get(spec.name)
    meta = {
        "library": spec.name,
        "version": number,
        "parent": parent.tag if parent else None,
        "published_at": rfc3339(now),
        "published_by": who.email,
        "approved_by": list(approved or []),
        "draft": draft,
        "entry_count": count,
        "added": added,
        "removed": removed,
        "changed": changed,
        "tree": new_sub,
        "holdout": {k: holdout.get(k) for k in ("metric", "value", "baseline", "cases")}
        if isinstance(holdout, dict)
        else None,
        "total_overrides_ingested": (result.metrics.get("overrides_ingested") or {}).get(spec.name, 0),
        "rollback_of": rollback_of,
        "gates": list(result.gates),
    }
    return NewVersion(spec.name, number, commit, meta)


def _counts(repo: Repository, spec: LibrarySpec, old: str | None, new: str | None) -> tuple[int, int, int]:
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for c in repo.diff_trees(old, new):
        entry_id = spec.id_from_relative_path(c.path)
        if entry_id is None:
            continue
        if c.old_oid:
            before[entry_id] = c.old_oid
        if c.new_oid:
            after[entry_id] = c.new_oid
    changed = sum(1 for i in before.keys() & after.keys() if before[i] != after[i])
    return len(after.keys() - before.keys()), len(before.keys() - after.keys()), changed


def _entry_count(repo: Repository, spec: LibrarySpec, tree: str | None) -> int:
    if tree is None:
        return 0
    return sum(1 for path, _item in repo.walk_tree(tree) if spec.id_from_relative_path(path) is not None)


def tag_message(version: NewVersion) -> str:
    """The tag message: a one-line summary, a blank line, the metadata as YAML."""
    m = version.metadata
    summary = f"{version.tag}: {m['added']} added, {m['removed']} removed, {m['changed']} changed"
    if m.get("rollback_of"):
        summary += f" (rollback to {m['rollback_of']})"
    elif m.get("draft"):
        summary += f" ({m['draft']})"
    return f"{summary}\n\n{dump_yaml(m)}"


def tag_payload(name: str, commit: str, message: str, tagger: Identity, when: int) -> bytes:
    """The bytes of an annotated tag object (what a signature covers)."""
    text = (
        f"object {commit}\ntype commit\ntag {name}\n"
        f"tagger {tagger.name} <{tagger.email}> {when} +0000\n\n{message}"
    )
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _write_tag(repo: Repository, version: NewVersion, signer: Callable[[bytes], bytes] | None) -> NewVersion:
    m = version.metadata
    who = Identity(m["published_by"].split("@", 1)[0], m["published_by"])
    when = epoch_now()
    payload = tag_payload(version.tag, version.commit, tag_message(version), who, when)
    raw = signer(payload) if signer else payload
    return NewVersion(version.library, version.number, version.commit, m, repo.write_raw_tag(raw))


def _signer(repo: Repository, sign: bool) -> Callable[[bytes], bytes] | None:
    """payload -> signed tag bytes (canonry.publication.signing, as git signs), when signing is asked for."""
    if not sign:
        return None
    from . import signing

    def signed(payload: bytes) -> bytes:
        return signing.signed_tag_bytes(payload, signing.sign_payload(repo, payload))

    return signed


def _require_signing(repo: Repository, base: str, sign: bool) -> None:
    try:
        policy = registry_in_tree(repo, repo.tree_of(base)).policy
    except RegistryError:
        return  # the gates report a broken registry
    if policy.require_signed_tags and not sign:
        raise UsageError("the policy in schemas/libraries.yaml requires signed tags: pass --sign")


def _dry_run_diff(repo: Repository, plan: Plan) -> dict[str, Any] | None:
    if plan.new_main is None and not plan.versions:
        return None
    from ..compare.diff import diff

    if plan.new_main is not None:
        return diff(repo, plan.base, plan.new_main)
    return None
