"""Commits the tooling writes: no work tree, provenance trailers, compare-and-swap on the branch.

Every commit Canonry writes carries the trailers Canonry-Source,
Canonry-Source-Ref, Canonry-Actor and Canonry-Reason, so that git history is
the audit log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import UnknownRefError, UsageError
from .repo import Identity, RefUpdate, Repository

TRAILER_KEYS = ("Canonry-Source", "Canonry-Source-Ref", "Canonry-Actor", "Canonry-Reason")
_TRAILER_RE = re.compile(r"^(Canonry-[A-Za-z-]+): ?(.*)$", re.M)


@dataclass(frozen=True)
class Provenance:
    source: str  # import | ai | admin | user | publish | release | rollback | learn ...
    actor: str  # an e-mail address
    reason: str
    source_ref: str | None = None

    def trailers(self) -> str:
        one_line = " ".join(self.reason.split())
        lines = [
            f"Canonry-Source: {self.source}",
            f"Canonry-Source-Ref: {self.source_ref or '-'}",
            f"Canonry-Actor: {self.actor}",
            f"Canonry-Reason: {one_line or '-'}",
        ]
        return "\n".join(lines)


def message_with_trailers(summary: str, provenance: Provenance, body: str = "") -> str:
    parts = [summary.strip()]
    if body.strip():
        parts.append(body.strip())
    parts.append(provenance.trailers())
    return "\n\n".join(parts) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """{trailer key: value} of the Canonry-* trailers in a commit message."""
    return {m[1]: m[2].strip() for m in _TRAILER_RE.finditer(message)}


def actor_identity(repo: Repository, actor: str | None = None) -> Identity:
    """Who writes: the given e-mail, else git's configured identity, else the environment."""
    name = os.environ.get("GIT_AUTHOR_NAME")
    email = actor or os.environ.get("GIT_AUTHOR_EMAIL")
    name = name or repo.configured("user.name")
    email = email or repo.configured("user.email")
    if not email:
        raise UsageError("no identity: pass --by EMAIL or set git config user.email")
    return Identity(name or email.split("@", 1)[0], email)


def commit_to_branch(
    repo: Repository,
    branch: str,
    changes: dict[str, bytes | None],
    summary: str,
    provenance: Provenance,
    *,
    body: str = "",
    start_from: str | None = None,
    expected_tip: str | None = None,
    when: int | None = None,
) -> str:
    """Write changes as one commit on branch (refs/heads/... or a short name), without a work tree.

    The branch moves only if it is still at its tip as read here (or at
    `expected_tip`); otherwise RefMovedError. A missing branch is created from
    `start_from` (a ref) when given.
    """
    ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
    tip = repo.ref_target(ref)
    if expected_tip is not None and tip != expected_tip:
        from ..errors import RefMovedError

        raise RefMovedError(ref, expected_tip, tip)
    if tip is None:
        if start_from is None:
            raise UnknownRefError(branch, "the branch does not exist")
        parent = repo.resolve_commit(start_from)
    else:
        parent = tip
    base_tree = repo.tree_of(parent)
    tree = repo.write_tree(base_tree, changes)
    author = actor_identity(repo, provenance.actor)
    message = message_with_trailers(summary, provenance, body)
    commit = repo.create_commit(tree, [parent], message, author, when=when)
    repo.update_refs([RefUpdate(ref, commit, tip)], f"canonry: {summary}")
    return commit
