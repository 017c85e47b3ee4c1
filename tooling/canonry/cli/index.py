"""`canonry index`: build and list the derived indexes that ship with published versions."""

from __future__ import annotations

import click

from .common import emit, open_repo, repo_option


@click.group("index")
def index_group() -> None:
    """Build and list the derived indexes shipped in git (refs/canonry/index/<tree>).

    A gate in a fresh clone reads what it needs about the base (exact keys,
    near-duplicate and conflict indexes, the entry id -> blob index) from the
    index of each published library tree instead of parsing every entry.
    `publish` and `release` build them; fetch them with
    `git fetch origin 'refs/canonry/*:refs/canonry/*'`. Format: docs/index-format.md.
    """


@index_group.command("build")
@repo_option
@click.argument("ref", default="HEAD")
@click.option("--library", "libraries", multiple=True, help="Only this library (repeatable).")
def build_cmd(repo_path: str | None, ref: str, libraries: tuple[str, ...]) -> None:
    """Write the index of each library tree at REF (default HEAD); print the refs written.

    \b
    Example:
      canonry index build mapping/v2
      git push origin 'refs/canonry/index/*'
    """
    from ..gates.derived import build
    from ..store import index
    from ..store.states import TreeState

    repo = open_repo(repo_path)
    state = TreeState(repo, repo.resolve_commit(ref), ref)
    built = build(repo, state, libraries)
    for name, tree in sorted(built.items()):
        emit(f"{index.ref_name(tree)}\t{name}")


@index_group.command("list")
@repo_option
def list_cmd(repo_path: str | None) -> None:
    """List the shipped indexes: one `<ref> <commit>` line each.

    \b
    Example:
      canonry index list
    """
    from ..store import index

    repo = open_repo(repo_path)
    for name, target in sorted(repo.refs(index.REF_PREFIX).items()):
        emit(f"{name}\t{target}")


def register(group: click.Group) -> None:
    group.add_command(index_group)
