"""`canonry merge-driver`: the structured merge, plugged into plain git."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..report.outcome import exit_code
from .common import open_repo, repo_option, say

_FILE = click.Path(exists=True, dir_okay=False)


@click.command("merge-driver")
@repo_option
@click.argument("base", type=_FILE)
@click.argument("ours", type=_FILE)
@click.argument("theirs", type=_FILE)
@click.argument("path")
def merge_driver_cmd(repo_path: str | None, base: str, ours: str, theirs: str, path: str) -> None:
    """Merge one file for git: entries field by field, other files as text.

    git runs it with its three temporary files and the file's path (%O %A %B
    %P). The result goes to OURS. Exit 0 when merged; exit 1 on a conflict,
    with each conflicting field (base, ours, theirs) on stderr and OURS holding
    the merged entry with conflict markers around each conflicting field, for
    you to resolve and `git add`.

    \b
    Example:
      git config merge.canonry.driver "canonry merge-driver %O %A %B %P"
      echo 'knowledge/**/*.yaml merge=canonry' >> .gitattributes
      git merge draft/steel-patterns
    """
    from ..compare.merge import merge_for_driver

    repo = open_repo(repo_path, allow_shallow=True)
    try:
        data = [Path(p).read_bytes() for p in (base, ours, theirs)]
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from None
    result = merge_for_driver(repo, path, data[0], data[1], data[2])
    Path(ours).write_bytes(result.data or b"")
    if result.clean:
        return
    say(f"canonry merge-driver: {path}: {len(result.conflicts)} conflict(s)")
    for conflict in result.conflicts:
        say(f"  {conflict.describe()}")
    raise SystemExit(exit_code(result))


def register(group: click.Group) -> None:
    group.add_command(merge_driver_cmd)
