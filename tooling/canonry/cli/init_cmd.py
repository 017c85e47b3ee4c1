"""`canonry init`: a new knowledge repository."""

from __future__ import annotations

import click

from ..store.init import MERGE_DRIVER_CONFIG, init_knowledge_repo
from .common import say


@click.command("init")
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--by",
    "actor",
    default=None,
    metavar="EMAIL",
    help="Author of the initial commit (default: git config user.email).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace existing schemas/ and workflow files (never anything under knowledge/).",
)
def init_cmd(path: str, actor: str | None, force: bool) -> None:
    """Create a knowledge repository at PATH (default: the current folder).

    Makes PATH a git repository on branch main (an existing empty one is
    reused) holding schemas/ (the registry and the JSON Schemas of the eight
    libraries), knowledge/holdout/, a .gitattributes that wires the structured
    merge driver, the gates and release workflows under .github/workflows/ and
    a README, all in one commit with Canonry-* provenance trailers.
    Refuses (exit 2) when schemas/ or knowledge/ already hold anything.

    \b
    Example:
      canonry init knowledge-repo
      cd knowledge-repo
      git config merge.canonry.driver "canonry merge-driver %O %A %B %P"
      canonry libraries
    """
    result = init_knowledge_repo(path, actor=actor, force=force)
    how = "new git repository" if result.new_repository else "existing git repository"
    say(f"canonry: initialized a knowledge repository in {result.path} ({how}, branch {result.branch})")
    for written in result.written:
        say(f"  created {written}")
    for kept in result.kept:
        say(f"  kept    {kept} (already there)")
    if result.committed:
        say(f"  commit  {result.commit[:12]} Initialize a Canonry knowledge repository")
    else:
        say(f"  nothing to commit: main ({result.commit[:12]}) already has these files")
    say("Enable the structured merge of entries (once per clone):")
    say(f"  {MERGE_DRIVER_CONFIG}")


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
