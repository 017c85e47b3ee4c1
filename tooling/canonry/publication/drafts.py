"""Drafts: branches `draft/<name>` where stewards prepare a change before it is published.

Commands that take a draft accept `NAME`, `draft/NAME` or `refs/heads/draft/NAME`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UnknownRefError, UsageError
from ..store.repo import RefUpdate, Repository

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
        outcome = repo.checkout(draft.branch)
        if not outcome.ok:
            repo.update_refs([RefUpdate(draft.ref, None, draft.head)], "canonry: draft start undone")
            raise UsageError(
                f"cannot check out {draft.branch}, so it was not created: {outcome.message}"
                " (commit or stash your changes first, or pass --no-checkout)"
            )
    return draft
