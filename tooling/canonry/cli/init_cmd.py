"""`canonry init`: a new knowledge repository."""

from __future__ import annotations

import click

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
@click.option(
    "--canonry-from",
    "canonry_from",
    default=None,
    metavar="REQUIREMENT",
    help="What the workflows pip-install, e.g. 'canonry @ git+https://host/canonry@COMMIT'"
    " (default: where this Canonry was installed from).",
)
def init_cmd(path: str, actor: str | None, force: bool, canonry_from: str | None) -> None:
    """Create a knowledge repository at PATH (default: the current folder).

    Makes PATH a git repository on branch main (an existing empty one is
    reused) holding schemas/ (the registry and the JSON Schemas of the eight
    libraries), knowledge/holdout/, a .gitattributes that wires the structured
    merge driver, the gates and release workflows under .github/workflows/ and
    a README, all in one commit with Canonry-* provenance trailers.
    Refuses (exit 2) when schemas/ or knowledge/ already hold anything.

    Canonry is not on the Python package index yet: the workflows install the
    Canonry that runs init, by the git URL and commit pip recorded (or its
    clone's origin and HEAD), or what --canonry-from gives. When that is not
    known, init says so and their install step fails until you edit it.

    \b
    Example:
      canonry init knowledge-repo
      cd knowledge-repo
      git config merge.canonry.driver "canonry merge-driver %O %A %B %P"
      canonry libraries
    """
    from ..store.init import MERGE_DRIVER_CONFIG, init_knowledge_repo
    from ..store.install_source import given_source

    source = given_source(canonry_from) if canonry_from is not None else None
    result = init_knowledge_repo(path, actor=actor, force=force, source=source)
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
    if result.source.requirement is not None:
        say(f'The workflows install Canonry with: pip install "{result.source.requirement}"')
        say(f"  ({result.source.how})")
    else:
        say(
            "canonry: warning: the workflows cannot install Canonry yet: it is not on the package index"
            f" and {result.source.how}. Edit the 'Install Canonry' step of .github/workflows/gates.yml"
            " and release.yml, or run again with --force --canonry-from 'canonry @ git+URL@COMMIT'."
        )
    say("Enable the structured merge of entries (once per clone):")
    say(f"  {MERGE_DRIVER_CONFIG}")


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
