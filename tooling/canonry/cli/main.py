"""`canonry`: the command group; maps every CanonryError to its message and exit code."""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
from typing import Any

import click

from ..errors import CanonryError

# Command name -> the module that registers it (`register(group)`). Modules load
# on first use, so `canonry diff` does not pay for importing publish or serve, and
# `canonry --help` imports no command module at all.
COMMANDS = {
    "init": "canonry.cli.init_cmd",
    "libraries": "canonry.cli.repository",
    "validate": "canonry.cli.repository",
    "gate": "canonry.cli.repository",
    "draft": "canonry.cli.drafts",
    "entry": "canonry.cli.entries",
    "review": "canonry.cli.review",
    "publish": "canonry.cli.publication",
    "release": "canonry.cli.publication",
    "diff": "canonry.cli.diffs",
    "explain": "canonry.cli.versions",
    "log": "canonry.cli.versions",
    "versions": "canonry.cli.versions",
    "show": "canonry.cli.entries",
    "rollback": "canonry.cli.publication",
    "deprecate": "canonry.cli.versions",
    "verify": "canonry.cli.runtime",
    "pin": "canonry.cli.runtime",
    "export": "canonry.cli.runtime",
    "import": "canonry.cli.flywheel",
    "learn": "canonry.cli.learning",
    "suggest": "canonry.cli.flywheel",
    "confidence": "canonry.cli.flywheel",
    "health": "canonry.cli.flywheel",
    "map": "canonry.cli.mapping",
    "serve": "canonry.cli.runtime",
    "merge-driver": "canonry.cli.merging",
    "channel": "canonry.cli.channels",
    "canary": "canonry.cli.channels",
    "impact": "canonry.cli.channels",
    "index": "canonry.cli.index",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))

# The one-line summaries `canonry --help` lists, without importing the commands
# (tests/test_cli_start.py checks each equals the first line of the command's help).
# A command missing here is loaded to get its summary: correct, only slower.
SUMMARIES = {
    "init": "Create a knowledge repository at PATH (default: the current folder).",
    "libraries": "List libraries with lifecycle, latest version and entry count.",
    "validate": "Check entries with the yaml, schema, identity and checks gates.",
    "gate": "Run the publication gates on what HEAD changes relative to BASE.",
    "draft": "Start, list and inspect drafts (branches draft/NAME).",
    "entry": "Create entries.",
    "review": "Approve or reject a draft's head commit; see where its review stands.",
    "publish": "Run every gate (review included), merge DRAFT into main and tag what changed.",
    "release": "Tag each library whose content on main differs from its latest version (forge flow).",
    "diff": "Show which entries and fields changed from A to B.",
    "explain": (
        "Why did this entry's numbers change: each field change with commit, actor, source, reason, version."
    ),
    "log": "Who changed what, when, why and from which source; publications and reviews included.",
    "versions": "List a library's published versions with their metadata; flag deprecated ones.",
    "show": "Print a library version (metadata and entries) or one entry of it.",
    "rollback": "Open draft/rollback-LIBRARY-vK with the content of version vK, to review and publish.",
    "deprecate": "Mark a published version deprecated: a signed note of its steward on its tag.",
    "verify": "Check that version tags are unmoved, gapless, on main and signed as required; and the lock.",
    "pin": "Pin library versions in a lock file (canonry.lock/v1).",
    "export": "Export a published version as one JSON bundle (canonry.bundle/v1) for consumers without git.",
    "import": "Upsert rows from a file into LIBRARY by its natural key, as a new draft.",
    "learn": "Draft new knowledge from evidence: overrides, scenarios, calibration notes.",
    "suggest": "Print the most used scenario pattern of a project type.",
    "confidence": "List each entry's effective confidence and band (decay applied).",
    "health": "Flywheel health: engagements, versions, accuracy, coverage, backlog, drafts.",
    "map": "Map project texts to ISIC sectors with a mapping library, explained.",
    "serve": (
        "Serve published versions over a read-only HTTP API (JSON; OpenAPI at /openapi.json) and a web UI."
    ),
    "merge-driver": "Merge one file for git: entries field by field, other files as text.",
    "channel": "Named channels (stable, canary, ...) pointing at published versions.",
    "canary": "Canary and shadow routing: compare a candidate version's outcomes with the control's.",
    "impact": "Which past runs a new version affects: the entries they read that changed since.",
    "index": "Build and list the derived indexes shipped in git (refs/canonry/index/<tree>).",
}
SUMMARY_LIMIT = 200  # long enough for a whole first sentence; --help wraps it


def summary_of(command: click.Command) -> str:
    """The one-line summary of a loaded command, as SUMMARIES holds it."""
    return command.get_short_help_str(limit=SUMMARY_LIMIT)


class CanonryGroup(click.Group):
    """Loads commands lazily and turns CanonryError into a message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)  # in the order of the architecture's command list

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        scratch = click.Group()
        importlib.import_module(module).register(scratch)
        return scratch.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from SUMMARIES: `canonry --help` imports no command module."""
        rows = []
        for name in self.list_commands(ctx):
            summary = SUMMARIES.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = summary_of(command)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} (canonry --help lists them all)")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CanonryError as exc:
            click.echo(f"canonry: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # the reader went away (`canonry diff ... | head`): not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("canonry: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: say so in one line, details on request
            if os.environ.get("CANONRY_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"canonry: internal error: {type(exc).__name__}: {exc}"
                " (this is a bug; set CANONRY_DEBUG=1 for details and please report it)",
                err=True,
            )
            ctx.exit(3)


@click.group(
    cls=CanonryGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="canonry")
def cli() -> None:
    """Canonry: organisational knowledge under version control.

    Library entries are strict YAML files in git; a draft is a branch; a
    publication is a tagged merge let through by gates.

    \b
    Example:
      canonry validate            # check the work tree
      canonry gate --base main    # check a draft against main
    """


def main() -> None:
    cli(prog_name="canonry")
