"""What publication checks before it starts: no trap left in the checkout, nothing unseen on main.

1. When main is checked out here, its index and work tree must equal main.
   A publication moves main; an index left at the old main (a publisher
   killed before the work tree followed, a `--push` on another machine, a
   plain `git fetch` + `update-ref`) would make the next `git commit` on main
   revert what was published. Publish refuses until they match, naming the
   command that brings them along without losing anything.
2. Every commit on main since its last publication was seen by a gate and a
   review: main's tip is a publication (or rollback) commit or a version's
   commit. A commit made straight onto main after the first publication is
   refused: publishing on top of it would carry it out unreviewed. (The forge
   flow differs: there the forge merges and reviews, and `canonry release`
   tags main's tip after re-running the gates.)
"""

from __future__ import annotations

from ..errors import UsageError
from ..store.commits import parse_trailers
from ..store.repo import Repository
from ..store.versions import list_versions

PUBLISHED_SOURCES = ("publish", "rollback")
_LOOKBACK = 50  # first-parent steps searched for the main an index was left at


def check_checkout(repo: Repository, main_ref: str) -> None:
    """Refuse (UsageError) when main is checked out here and its index or work tree differ from main."""
    if repo.workdir is None or repo.head_branch() != main_ref or not (repo.git_dir / "index").exists():
        return
    staged = repo.index_differs_from(main_ref)
    unstaged = repo.work_tree_differs_from_index()
    if not staged and not unstaged:
        return
    name = main_ref.removeprefix("refs/heads/")
    fix = "commit them on a draft (`canonry draft start NAME` carries them along) or `git stash` them"
    if not unstaged:
        left_at = _index_main(repo, main_ref)
        if left_at is not None:
            fix = (
                f"a publication moved {name} from {left_at[:12]} but the index stayed there; bring it along"
                f" with `git read-tree -m -u {left_at[:12]} {name}` (your own edits are kept)"
            )
    raise UsageError(
        f"{name} is checked out here and its index or work tree differ from {name}: {fix};"
        " nothing was published"
    )


def _index_main(repo: Repository, main_ref: str) -> str | None:
    """The earlier main commit whose tree the index still holds, if any (a publisher killed mid-way)."""
    tree = repo.index_tree()
    if tree is None:
        return None
    commit = repo.ref_target(main_ref)
    for _ in range(_LOOKBACK):
        if commit is None:
            return None
        info = repo.commit(commit)
        if info.tree == tree:
            return commit
        commit = info.parents[0] if info.parents else None
    return None


def check_unseen(repo: Repository, base: str, where: str = "main") -> None:
    """Refuse (UsageError) to publish on a main whose tip no gate and no review saw."""
    versions = {v.commit for v in list_versions(repo)}
    unseen: list[str] = []
    commit: str | None = base
    while commit is not None:
        info = repo.commit(commit)
        if commit in versions or parse_trailers(info.message).get("Canonry-Source") in PUBLISHED_SOURCES:
            break
        unseen.append(commit)
        commit = info.parents[0] if info.parents else None
        if len(unseen) > 10_000:
            break
    else:
        return  # nothing was ever published: the repository is being set up
    if not unseen:
        return
    first = repo.commit(unseen[-1])
    summary = first.message.split("\n", 1)[0]
    raise UsageError(
        f"{where} has {len(unseen)} commit(s) since its last publication that no gate and no review saw"
        f" (the first: {first.oid[:12]} {summary!r} by {first.author.email}); publishing now would carry them"
        f" out unreviewed: move them to a draft (`git branch draft/NAME {where}`, then reset {where} to"
        f" {(first.parents[0] if first.parents else first.oid)[:12]}) and publish that; nothing was published"
    )
