"""Commands that read or write entries: show, entry new."""

from __future__ import annotations

import json
from typing import Any

import click

from .common import emit, open_repo, repo_option, say


@click.command("show")
@repo_option
@click.argument("spec", metavar="LIBRARY@VERSION")
@click.argument("entry_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def show_cmd(repo_path: str | None, spec: str, entry_id: str | None, fmt: str) -> None:
    """Print a library version (metadata and entries) or one entry of it.

    VERSION is vN, N or latest; any git ref (main, draft/x) works too.

    \b
    Example:
      canonry show mapping@latest
      canonry show mapping@v2 0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f --format json
      canonry show assumptions@main
    """
    from ..runtime.reading import show
    from ..store.yamlio import dump_yaml

    repo = open_repo(repo_path, allow_shallow=True)
    doc: Any = show(repo, spec, entry_id)
    if fmt == "json":
        emit(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        emit(dump_yaml(doc))


@click.group("entry")
def entry_group() -> None:
    """Create entries."""


@entry_group.command("new")
@repo_option
@click.argument("library")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Set a field; VALUE is read as YAML (0.35 is a number, '[a, b]' a list). Repeatable.",
)
def entry_new_cmd(repo_path: str | None, library: str, assignments: tuple[str, ...]) -> None:
    """Write a new entry file with a fresh UUIDv7 id into the work tree.

    Common fields get defaults (source: user, updated_at: now,
    reuse_scope: WORKSPACE_ONLY). Prints the new file's path; the fields the
    schema still needs are listed on stderr.

    \b
    Example:
      canonry entry new mapping --set pattern="steel rebar" --set sector_code=C24 \\
          --set confidence=0.8 --set workspace_id=acme
    """
    from ..publication.authoring import new_entry

    repo = open_repo(repo_path, allow_shallow=True)
    fields: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
        fields[name.strip()] = value
    created = new_entry(repo, library, fields)
    emit(created.path + "\n")
    for problem in created.problems:
        say(f"{created.path}: to do: {problem}")


def register(group: click.Group) -> None:
    group.add_command(show_cmd)
    group.add_command(entry_group)
