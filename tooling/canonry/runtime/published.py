"""What is served is what was published: a version's tag checked against its own metadata.

Without a lock there is no recorded tag object to compare with, but a version
tag carries its metadata (library, version, the library's tree, and the
commit when the publisher recorded it). A tag re-created on another commit
with its original message names a commit whose tree is not the one the
message records, or a commit off main's history: refused with TagMovedError.
"""

from __future__ import annotations

from ..errors import TagMovedError
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.versions import Version, main_commit, parse_tag_message


def check_published(repo: Repository, version: Version) -> None:
    """Raise TagMovedError unless the tag names the commit and tree its metadata records, on main."""
    info = repo.tag(version.target)
    if info is None:
        raise TagMovedError(version.tag, "an annotated tag with its metadata", "a plain ref", what="it")
    meta = parse_tag_message(info.message)
    if meta.get("library") != version.library or meta.get("version") != version.number:
        named = f"{meta.get('library')}/v{meta.get('version')}"
        raise TagMovedError(version.tag, version.tag, named, what="the version its metadata names")
    if info.name != version.tag:
        raise TagMovedError(version.tag, version.tag, info.name, what="the tag object's own name")
    recorded_commit = meta.get("commit")
    if isinstance(recorded_commit, str) and recorded_commit != version.commit:
        raise TagMovedError(
            version.tag, recorded_commit, version.commit, what="the commit its metadata records"
        )
    spec = registry_at(repo, version.commit).libraries.get(version.library)
    tree = repo.subtree(repo.tree_of(version.commit), spec.path) if spec is not None else None
    if "tree" in meta and meta.get("tree") != tree:
        raise TagMovedError(
            version.tag, str(meta.get("tree")), tree, what="the library tree its metadata records"
        )
    tip = main_commit(repo)
    if tip is not None and not repo.is_ancestor(version.commit, tip):
        raise TagMovedError(
            version.tag,
            "a commit on main's history",
            f"{version.commit} (not on main)",
            what="its commit",
        )
