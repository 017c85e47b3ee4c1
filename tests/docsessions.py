"""Run the ```console sessions of the docs in a scratch copy of the reference repository.

The convention (README.md and docs/*.md):

- a line starting with `$ ` is a command, run by bash in the scratch repository;
  a command whose line ends with a backslash continues on the next line;
- the lines after a command, up to the next command, are its expected output
  (stdout and stderr together): each must appear, in order, within a line of the
  real output; `...` inside a line matches anything; blank lines are ignored;
- a line `[exit N]` (the last one of a command's output) states a non-zero exit;
  any other command must exit 0.

The blocks of one file run in order in the same scratch folder, so state
carries over (files, branches, the current folder, exported variables); each
file gets a fresh scratch copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from conftest import ROOT, git

FENCE = re.compile(r"^```console[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
EXIT = re.compile(r"^\[exit (\d+)\]$")
TIMEOUT = 300  # seconds for one command: `canonry gate --full` over the reference knowledge


@dataclass
class Command:
    source: str  # file:line of the `$ ` line
    text: str
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0


def parse_sessions(text: str, name: str) -> list[list[Command]]:
    """The console blocks of a markdown text, each a list of commands."""
    blocks: list[list[Command]] = []
    for match in FENCE.finditer(text):
        first_line = text.count("\n", 0, match.start(1)) + 1
        lines = match.group(1).splitlines()
        commands: list[Command] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                source = f"{name}:{first_line + i}"
                body = line[2:]
                while body.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    body = body + "\n" + lines[i]
                commands.append(Command(source, body))
            elif commands:
                exit_match = EXIT.match(line.strip())
                if exit_match:
                    commands[-1].exit_code = int(exit_match.group(1))
                elif line.strip():
                    commands[-1].expected.append(line.strip())
            elif line.strip():
                raise ValueError(f"{name}:{first_line + i}: output before any `$ ` command: {line!r}")
            i += 1
        blocks.append(commands)
    return blocks


def line_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.split("...")]
    return re.compile(".*".join(parts))


def missing_line(expected: list[str], output: str) -> str | None:
    """The first expected line not found (in order) in output, or None."""
    actual = [line.strip() for line in output.splitlines()]
    position = 0
    for want in expected:
        pattern = line_pattern(want)
        while position < len(actual) and not pattern.search(actual[position]):
            position += 1
        if position == len(actual):
            return want
        position += 1
    return None


def scratch_copy(dest: Path) -> Path:
    """The reference repository as a user's clone has it: knowledge, schemas, examples."""
    dest.mkdir(parents=True, exist_ok=True)
    for folder in ("schemas", "knowledge", "docs/examples"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, dest / folder)
    for name in (".gitattributes", ".yamllint"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "reference knowledge")
    return dest


def session_env(state_dir: Path) -> dict[str, str]:
    """The test session's hermetic environment with the venv's `canonry` first on PATH."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT / "tooling")  # the checkout's code, whatever is installed
    env.setdefault("CANONRY_NOW", "2026-11-01T00:00:00Z")
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "100"
    env.pop("CANONRY_DEBUG", None)
    env["DOCS_STATE"] = str(state_dir)
    return env


# Each command runs in a fresh bash that first restores the folder and the exported
# variables the previous command left, and saves them when it ends.
PRELUDE = """\
cd "$(cat "$DOCS_STATE/cwd")"
. "$DOCS_STATE/env"
__docs_save() {{ pwd > "$DOCS_STATE/cwd"; export -p | grep -v -E ' (DOCS_STATE|PWD|OLDPWD|SHLVL|_)=' > "$DOCS_STATE/env"; }}
trap __docs_save EXIT
{command}
"""


def run_file(path: Path, workdir: Path) -> list[str]:
    """Run every console block of path in one fresh scratch copy; the failures, described."""
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    blocks = parse_sessions(path.read_text(encoding="utf-8"), name)
    repo = scratch_copy(workdir / "repo")
    state = workdir / "state"
    state.mkdir()
    (state / "cwd").write_text(str(repo))
    (state / "env").write_text("")
    env = session_env(state)
    failures: list[str] = []
    for commands in blocks:
        for command in commands:
            proc = subprocess.run(
                ["bash", "-c", PRELUDE.format(command=command.text)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                timeout=TIMEOUT,
            )
            output = proc.stdout
            problem = None
            if proc.returncode != command.exit_code:
                problem = f"exit {proc.returncode}, the docs say {command.exit_code}"
            else:
                absent = missing_line(command.expected, output)
                if absent is not None:
                    problem = f"expected line not found (in order): {absent!r}"
            if problem is not None:
                shown = output if len(output) < 4000 else output[:2000] + "\n[...]\n" + output[-1500:]
                failures.append(f"{command.source}: $ {command.text}\n  {problem}\n--- output\n{shown}---")
                return failures  # later commands depend on this one
    return failures


def console_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in files if "```console" in p.read_text(encoding="utf-8")]
