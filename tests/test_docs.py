"""Docs are tested: every console session runs; every command has help with an example and is documented.

The sessions run through tests/docsessions.py (its docstring states the
convention) in a scratch copy of the reference repository per file.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from canonry.cli.main import COMMANDS, cli
from conftest import ROOT, run
from docsessions import console_files, missing_line, parse_sessions, run_file


def all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if command is None:
            continue  # test_every_listed_command_loads names it
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


def test_every_listed_command_loads() -> None:
    ctx = click.Context(cli)
    missing = [name for name in cli.list_commands(ctx) if cli.get_command(ctx, name) is None]
    assert not missing, f"listed in canonry.cli.main.COMMANDS but not registered by their module: {missing}"


@pytest.mark.parametrize("name", [n for n, _ in COMMAND_LIST])
def test_command_has_help_with_an_example(name: str) -> None:
    result = run([*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"`canonry {name} --help` shows no example"


@pytest.mark.parametrize("name", [n for n, _ in COMMAND_LIST])
def test_command_is_documented(name: str) -> None:
    assert f"canonry {name}" in DOCS, f"`canonry {name}` appears in neither README.md nor docs/"


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target


# --- the console sessions -------------------------------------------------------


@pytest.mark.parametrize("path", console_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_console_sessions_run_as_documented(path: Path, tmp_path: Path) -> None:
    failures = run_file(path, tmp_path)
    assert not failures, "\n\n".join(failures)


def test_every_shell_session_in_the_docs_is_a_console_block() -> None:
    # a `$ ` prompt inside another kind of block would never run: write it as ```console
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
            if match.group(1) != "console":
                prompts = [line for line in match.group(2).splitlines() if line.startswith("$ ")]
                assert not prompts, f"{path.name}: a ```{match.group(1)} block has $ prompts: {prompts[0]}"


SAMPLE = """\
Text.

```console
$ echo one; echo two
one
two
$ printf 'a\\nb 42 c\\n' \\
    && false
a
b ... c
[exit 1]
```

```console
$ mkdir sub && cd sub && export WHERE=here
$ pwd; echo "$WHERE"
.../sub
here
```
"""


def test_the_session_parser() -> None:
    blocks = parse_sessions(SAMPLE, "sample.md")
    assert [[c.text for c in b] for b in blocks] == [
        ["echo one; echo two", "printf 'a\\nb 42 c\\n' \\\n    && false"],
        ["mkdir sub && cd sub && export WHERE=here", 'pwd; echo "$WHERE"'],
    ]
    assert blocks[0][0].expected == ["one", "two"] and blocks[0][0].exit_code == 0
    assert blocks[0][1].expected == ["a", "b ... c"] and blocks[0][1].exit_code == 1
    assert blocks[0][0].source == "sample.md:4"


def test_matching_is_in_order_with_wildcards() -> None:
    assert missing_line(["one", "t...e"], "zero\none\nthree\n") is None
    assert missing_line(["two", "one"], "one\ntwo\n") == "one"  # order matters
    assert missing_line(["one", "one"], "one\n") == "one"  # each expected line needs its own line
    assert missing_line(["x ... z"], "x y\n") == "x ... z"


def test_the_runner_passes_a_good_session_and_carries_state(tmp_path: Path) -> None:
    doc = tmp_path / "good.md"
    doc.write_text(SAMPLE)
    assert run_file(doc, tmp_path / "work") == []


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("```console\n$ echo one\ntwo\n```\n", "expected line not found (in order): 'two'"),
        ("```console\n$ false\n```\n", "exit 1, the docs say 0"),
        ("```console\n$ true\n[exit 2]\n```\n", "exit 0, the docs say 2"),
        ("```console\n$ canonry valdate\nDid you mean 'libraries'?\n[exit 2]\n```\n", "not found"),
    ],
)
def test_the_runner_fails_a_broken_session(tmp_path: Path, bad: str, reason: str) -> None:
    doc = tmp_path / "bad.md"
    doc.write_text(bad)
    failures = run_file(doc, tmp_path / "work")
    assert len(failures) == 1 and reason in failures[0], failures


def test_sessions_run_in_a_fresh_reference_copy_with_canonry_on_path(tmp_path: Path) -> None:
    doc = tmp_path / "env.md"
    doc.write_text(
        "```console\n"
        "$ git status --porcelain --untracked-files=all | wc -l\n0\n"
        "$ ls docs/examples schemas/libraries.yaml | head -1\n...\n"
        "$ canonry libraries\nlibrary ... entries\nmapping ...\n"
        "$ echo $CANONRY_NOW\n2026-11-01T00:00:00Z\n"
        "```\n"
    )
    assert run_file(doc, tmp_path / "work") == []
