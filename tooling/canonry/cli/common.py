"""What every command shares: the --repo option, output helpers, error mapping."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # pygit2 loads when a command opens a repository, not when the CLI starts
    from ..store.repo import Repository

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(func: F) -> F:
    return click.option(
        "--repo",
        "repo_path",
        type=click.Path(file_okay=False),
        default=None,
        help="The knowledge repository (default: the one containing the current folder).",
    )(func)


def open_repo(repo_path: str | None, allow_shallow: bool = False) -> Repository:
    from ..store.repo import Repository

    return Repository(repo_path or os.getcwd(), allow_shallow=allow_shallow)


def emit(text: str) -> None:
    """Machine output: stdout."""
    click.echo(text, nl=not text.endswith("\n"))


def emit_json(doc: Any) -> None:
    emit(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def say(text: str, err: bool = True) -> None:
    """Diagnostics and progress: stderr."""
    click.echo(text, err=err)


def use_colour() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def style(text: str, **kwargs: Any) -> str:
    return click.style(text, **kwargs) if use_colour() else text
