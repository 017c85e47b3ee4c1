"""`canonry`: the command group; maps every CanonryError to its message and exit code."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from ..errors import CanonryError

# Command name -> the module that registers it (`register(group)`). Modules load
# on first use, so `canonry diff` does not pay for importing publish or serve.
COMMANDS = {
    "init": "canonry.cli.init_cmd",
    "libraries": "canonry.cli.repository",
    "validate": "canonry.cli.repository",
    "gate": "canonry.cli.repository",
    "draft": "canonry.cli.drafts",
    "entry": "canonry.cli.entries",
    "review": "canonry.cli.drafts",
    "publish": "canonry.cli.drafts",
    "release": "canonry.cli.drafts",
    "diff": "canonry.cli.diffs",
    "explain": "canonry.cli.drafts",
    "log": "canonry.cli.drafts",
    "versions": "canonry.cli.drafts",
    "show": "canonry.cli.entries",
    "rollback": "canonry.cli.drafts",
    "deprecate": "canonry.cli.drafts",
    "verify": "canonry.cli.runtime",
    "pin": "canonry.cli.runtime",
    "export": "canonry.cli.runtime",
    "import": "canonry.cli.flywheel",
    "learn": "canonry.cli.flywheel",
    "suggest": "canonry.cli.flywheel",
    "confidence": "canonry.cli.flywheel",
    "health": "canonry.cli.flywheel",
    "serve": "canonry.cli.runtime",
    "merge-driver": "canonry.cli.merging",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


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
