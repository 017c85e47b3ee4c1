"""`canonry diff`: entry- and field-level differences between two refs or versions."""

from __future__ import annotations

import click

from .common import emit, open_repo, repo_option, say

# The names of report.diff.RENDERERS (a test keeps them equal): the diff machinery
# loads only when a diff runs.
FORMATS = ("json", "markdown", "text", "yaml")


@click.command("diff")
@repo_option
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--library", default=None, help="Only this library.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="json is the canonry.diff/v1 contract; yaml is the same document.",
)
@click.option("--full", is_flag=True, help="Include the added entries' content (added_entries).")
def diff_cmd(repo_path: str | None, a: str, b: str, library: str | None, fmt: str, full: bool) -> None:
    """Show which entries and fields changed from A to B.

    A and B are any git refs (main, draft/x, a commit) or LIBRARY@VERSION
    (mapping@v3, mapping@3, mapping@latest; mapping@REF works too). A
    LIBRARY@VERSION side limits the diff to that library unless --library is
    given. Only the files that differ are read, so a diff costs what the change
    costs. Exit 0 whether or not there are differences; 2 for an unknown ref,
    library or version. Files that do not parse are listed as `problems` (and
    on stderr).

    \b
    Example:
      canonry diff mapping@v3 mapping@v4
      canonry diff mapping@latest main --format json
      canonry diff main draft/steel-patterns --library mapping --format markdown
    """
    from ..compare.diff import diff
    from ..report.diff import RENDERERS

    repo = open_repo(repo_path, allow_shallow=True)
    doc = diff(repo, a, b, library, full=full)
    emit(RENDERERS[fmt](doc))
    for name, lib in doc["libraries"].items():
        for problem in lib["problems"]:
            say(f"canonry: warning: {name}: cannot read ({problem['side']} side): {problem['message']}")


def register(group: click.Group) -> None:
    group.add_command(diff_cmd)
