"""Rollback: a draft `draft/rollback-LIB-vK` that gives a library the content of an old version.

A rollback changes what consumers get, so it goes the way every change goes:
the draft is reviewed (signed approvals of the library's stewards) and
published through the same gates; publication records `rollback_of` in the
new version's metadata when the content published is exactly vK's. No tag
ever moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ReviewError, UsageError
from ..store.commits import Provenance, actor_identity
from ..store.registry import REGISTRY_PATH
from ..store.repo import RefUpdate, Repository
from ..store.rules import registry_in_tree
from ..store.times import epoch_now
from ..store.versions import latest_version, resolve_version
from .drafts import DRAFT_PREFIX, HEADS


@dataclass(frozen=True)
class RollbackDraft:
    draft: str  # draft/rollback-mapping-v1
    head: str
    library: str
    target: str  # mapping/v1
    latest: str  # the version it rolls back from
    changed: int  # files changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "canonry.rollback/v1",
            "draft": self.draft,
            "head": self.head,
            "library": self.library,
            "to": self.target,
            "from": self.latest,
            "changed_files": self.changed,
        }


def start_rollback(
    repo: Repository, library: str, to: str, *, reason: str, by: str | None = None, main: str = "main"
) -> RollbackDraft:
    """Open draft/rollback-LIB-vK from main with one commit giving LIB the content of vK.

    `by` (default: git's user) must be a steward of the library or a policy
    owner in main's registry; the draft still needs their peers' signed
    approval before `canonry publish` takes it.
    """
    if not reason or not reason.strip():
        raise UsageError("a rollback needs a reason (--reason TEXT): it goes into the audit log")
    target = resolve_version(repo, library, to)
    base = repo.resolve_commit(main)
    base_tree = repo.tree_of(base)
    registry = registry_in_tree(repo, base_tree)
    spec = registry.library(target.library)
    who = actor_identity(repo, by)
    allowed = {s.casefold() for s in (*spec.stewards, *registry.policy.owners)}
    if who.email.casefold() not in allowed:
        raise ReviewError(
            f"{who.email} is neither a steward of {spec.name} nor a policy owner in {main}'s {REGISTRY_PATH}:"
            f" a rollback of {spec.name} is theirs to open (who may: {', '.join(sorted(allowed))})"
        )
    latest = latest_version(repo, spec.name)
    assert latest is not None  # target exists
    want = repo.subtree(repo.tree_of(target.commit), spec.path)
    have = repo.subtree(base_tree, spec.path)
    if want == have:
        raise UsageError(f"{main} already has the content of {target.tag}: there is nothing to roll back")
    branch = f"{DRAFT_PREFIX}rollback-{spec.name}-v{target.number}"
    if repo.ref_target(HEADS + branch) is not None:
        raise UsageError(f"{branch} already exists: review and publish it, or delete it to start over")
    changes: dict[str, bytes | None] = {}
    for c in repo.diff_trees(have, want):
        changes[f"{spec.path}/{c.path}"] = repo.read_blob(c.new_oid) if c.new_oid else None
    tree = repo.write_tree(base_tree, changes)
    prov = Provenance("rollback", who.email, " ".join(reason.split()), target.tag)
    message = f"Roll back {spec.name} to {target.tag} (from {latest.tag})\n\n{prov.trailers()}\n"
    author = actor_identity(repo)
    head = repo.create_commit(tree, [base], message, author, when=epoch_now())
    repo.update_refs([RefUpdate(HEADS + branch, head, None)], f"canonry: rollback draft of {target.tag}")
    return RollbackDraft(branch, head, spec.name, target.tag, latest.tag, len(changes))
