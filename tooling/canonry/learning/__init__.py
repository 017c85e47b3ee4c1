"""Learning: the flywheel's measures and learners.

Owns: matching text to patterns (`matching`), holdout evaluators
(`evaluators`), the learners that write drafts from evidence (`mapping`,
`scenarios`, `assumptions`, `workforce`), `importer` and `health`. May import:
store, compare. This package's own module holds what the learners share.

Every learner reads the knowledge at a base (default main), computes the
entries to add or change deterministically, and writes them as one commit on a
new draft branch with provenance trailers. Nothing is published here: a learned
draft goes through the gates and review like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..store.commits import Provenance, commit_to_branch
from ..store.entries import Library
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from ..store.text import normalize_text
from ..store.times import rfc3339 as rfc3339
from ..store.times import utc_now as utc_now
from .matching import per_entry

OVERRIDES = "overrides"
_CITED_VERSION = "citations:v1"
_TEXTS_VERSION = "override-texts:v1"


def override_ids_of(entry: Mapping[str, Any]) -> list[str]:
    """The override ids an entry cites as evidence (`evidence.override_ids`)."""
    evidence = entry.get("evidence")
    ids = evidence.get("override_ids") if isinstance(evidence, Mapping) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list | tuple) else []


def _citations(_entry_id: str, entry: Mapping[str, Any]) -> tuple[str, ...] | None:
    return tuple(override_ids_of(entry)) or None


def _override_text(_entry_id: str, entry: Mapping[str, Any]) -> str | None:
    text = entry.get("text")
    return normalize_text(text) if isinstance(text, str) else None


def cited_override_ids(library: Library) -> frozenset[str]:
    """Every override id cited by the library's entries: the overrides it has ingested (cached by tree)."""
    return frozenset(i for ids in per_entry(library, _CITED_VERSION, _citations).values() for i in ids)


def override_texts(library: Library) -> dict[str, str]:
    """{override id: normalized text} of an overrides library (cached by tree)."""
    return per_entry(library, _TEXTS_VERSION, _override_text)


@dataclass
class BaseState:
    """The base a learner reads: its commit, state and registry."""

    repo: Repository
    ref: str
    commit: str
    state: TreeState

    @classmethod
    def at(cls, repo: Repository, ref: str) -> BaseState:
        commit = repo.resolve_commit(ref)
        return cls(repo, ref, commit, TreeState(repo, commit, ref))

    @property
    def registry(self) -> Any:
        return load_rules(self.state).require_registry()

    def library(self, name: str) -> Library:
        return Library(self.state, self.registry.library(name))


@dataclass
class Draft:
    """What a learner wrote (or would write): the branch, its commit and the file changes."""

    branch: str | None
    commit: str | None
    changes: dict[str, bytes | None] = field(default_factory=dict)


def draft_branch(name: str) -> str:
    return name if name.startswith("draft/") else f"draft/{name}"


def write_draft(
    base: BaseState,
    name: str,
    changes: dict[str, bytes | None],
    summary: str,
    provenance: Provenance,
    body: str = "",
    dry_run: bool = False,
) -> Draft:
    """One commit on a new draft branch from the base; refuse to add to an existing draft."""
    branch = draft_branch(name)
    if not changes:
        return Draft(None, None, {})
    if base.repo.ref_target(f"refs/heads/{branch}") is not None:
        raise UsageError(f"{branch} exists already (pass --draft NAME for another name, or delete it)")
    if dry_run:
        return Draft(branch, None, changes)
    commit = commit_to_branch(
        base.repo, branch, changes, summary, provenance, body=body, start_from=base.commit
    )
    return Draft(branch, commit, changes)
