"""`canonry`: the command group; maps every CanonryError to its message and exit code."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from ..errors import CanonryError

# Each module registers its commands on the group: `register(group)`.
COMMAND_MODULES = (
    "canonry.cli.repository",
    "canonry.cli.entries",
)


class CanonryGroup(click.Group):
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


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(cli)


def main() -> None:
    cli(prog_name="canonry")
