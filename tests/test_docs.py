"""Docs are tested: every command has help with an example and is in the README or a guide."""

from __future__ import annotations

import click
import pytest
from canonry.cli.main import COMMANDS, cli
from conftest import ROOT, run


def all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None, f"{name} is listed but does not load"
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                out.append((f"{name} {sub}", command.get_command(ctx, sub)))
        else:
            out.append((name, command))
    return out


COMMAND_LIST = all_commands()
DOCS = (ROOT / "README.md").read_text(encoding="utf-8") + "".join(
    p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))
)


def test_every_architecture_command_exists() -> None:
    expected = {
        "init",
        "libraries",
        "validate",
        "draft",
        "entry",
        "gate",
        "review",
        "publish",
        "release",
        "diff",
        "explain",
        "log",
        "versions",
        "show",
        "rollback",
        "deprecate",
        "verify",
        "pin",
        "export",
        "import",
        "learn",
        "suggest",
        "confidence",
        "health",
        "serve",
        "merge-driver",
    }
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("name", [n for n, _ in COMMAND_LIST])
def test_command_has_help_with_an_example(name: str) -> None:
    result = run([*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"`canonry {name} --help` shows no example"


@pytest.mark.parametrize("name", [n for n, _ in COMMAND_LIST])
def test_command_is_documented(name: str) -> None:
    assert f"canonry {name}" in DOCS, f"`canonry {name}` appears in neither README.md nor docs/"


def test_readme_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0].strip() for b in section.split("```sh\n")[1:]]
    assert blocks == [
        "pip install . && canonry gate --full",
        'pip install -e ".[test]" && python -m pytest -q',
    ]
    assert "python -m pytest -q" in (ROOT / ".ci/run").read_text()


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    import re

    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target
