"""What a publication would do: the plans of `publish` (merge a draft) and `release` (tag main's tip).

A plan is built on one main tip: the merge commit, the gates (review
included for a draft), the next version numbers and their metadata. Writing
no ref, it can be thrown away when a race is lost.
"""

from __future__ import annotations

import re

from ..errors import CanonryError, ConflictError, GatesFailedError
from ..gates.context import GateOptions
from ..gates.engine import run_gates, validate
from ..gates.findings import GateResult
from ..store.commits import Provenance, parse_trailers
from ..store.repo import Identity, Repository
from ..store.rules import registry_in_tree
from ..store.times import epoch_now
from ..store.versions import resolve_version, tag_name
from .decisions import NOTES_REF
from .drafts import Draft
from .refs import Plan
from .review_gate import EXTRA_GATES, all_gates
from .tagging import has_library, libraries_to_tag, new_version


def plan_publish(
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
        options=GateOptions(
            review_head=head, review_base=merge_base, review_notes=notes_refs, review_draft=draft.branch
        ),
        extra_gates=EXTRA_GATES,
    )
    # run_gates also gated the merge of the draft into main (as `canonry gate` does): same verdict
    moved = " merged with main" if merge_base != base else ""
    _check(result, f"{draft.branch}{moved} does not pass the gates")
    now = epoch_now()
    todo = libraries_to_tag(repo, registry_in_tree(repo, tree), tree)
    names = ", ".join(tag_name(spec.name, n) for spec, n, _p in todo) or "no new version"
    approved = list((result.metrics.get("review") or {}).get("approved_by") or [])
    reason = f"approved by {', '.join(approved)}" if approved else "published"
    prov = Provenance("publish", who.email, reason, draft.branch)
    message = _message(f"Publish {draft.branch}: {names}", prov, {"Draft-Head": head, "Versions": names})
    commit = repo.create_commit(tree, [base, head], message, who, when=now)
    result.head = {"ref": draft.branch, "commit": head, "merge": commit}
    rolled = rollback_target(repo, head, tree)
    versions = [
        new_version(
            repo,
            spec,
            n,
            parent,
            commit,
            tree,
            who,
            now,
            result,
            draft=draft.branch,
            approved=approved,
            rollback_of=rolled.get(spec.name),
        )
        for spec, n, parent in todo
    ]
    return Plan(base, commit, versions, result)


def rollback_target(repo: Repository, head: str, tree: str) -> dict[str, str]:
    """{library: version tag} when the draft's head is a rollback commit and main gets that content.

    A rollback draft's head says `Canonry-Source: rollback` and names the
    version in `Canonry-Source-Ref`; the metadata records `rollback_of` only
    when the library's content published is exactly that version's.
    """
    trailers = parse_trailers(repo.commit(head).message)
    target = trailers.get("Canonry-Source-Ref") or ""
    if trailers.get("Canonry-Source") != "rollback" or "/v" not in target:
        return {}
    library, _sep, number = target.rpartition("/v")
    try:
        version = resolve_version(repo, library, f"v{number}")
        spec = registry_in_tree(repo, tree).library(library)
    except CanonryError:
        return {}
    if repo.subtree(tree, spec.path) != repo.subtree(repo.tree_of(version.commit), spec.path):
        return {}
    return {library: version.tag}


def plan_release(repo: Repository, who: Identity, base: str) -> Plan:
    tree = repo.tree_of(base)
    todo = libraries_to_tag(repo, registry_in_tree(repo, tree), tree)
    if not todo:
        return Plan(base, None, [], nothing="every library's latest version has main's content: nothing new")
    groups: dict[str | None, list[str]] = {}
    for spec, _n, parent in todo:
        since = parent.commit if parent is not None and has_library(repo, parent.commit, spec.name) else None
        groups.setdefault(since, []).append(spec.name)
    result = GateResult(base=None, head={"ref": "main", "commit": base})
    for since, names in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        if since is None:
            # A first version has nothing to compare with: check its content in full, and
            # measure its holdout so the tag records the accuracy it was published at.
            result.absorb(validate(repo, ref=base, libraries=names))
            part = run_gates(repo, base, base, gates=["holdout"], libraries=names)
        else:
            part = run_gates(repo, since, base, libraries=names)
        result.absorb(part)
    _check(result, "main does not pass the gates")
    now = epoch_now()
    draft = _draft_of_merge(repo.commit(base).message)
    versions = [
        new_version(repo, spec, n, parent, base, tree, who, now, result, draft=draft)
        for spec, n, parent in todo
    ]
    return Plan(base, None, versions, result)


def _check(result: GateResult, what: str) -> None:
    if not result.ok:
        raise GatesFailedError(f"{what}: {len(result.errors)} error(s); nothing was published", result)


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
