"""Hermetic git for every test: no system or global config, fixed identity and branch."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from runtime_helpers import Daemon

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tooling"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

AUTHOR = ("Test Steward", "steward@example.org")


@pytest.fixture(autouse=True, scope="session")
def hermetic_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("GIT_") or key in {
            "CANONRY_CACHE",
            "CANONRY_NOW",
            "NO_COLOR",
            "GITHUB_STEP_SUMMARY",
        }:
            del os.environ[key]
    os.environ.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
            "GIT_AUTHOR_DATE": "2026-01-15T10:00:00Z",
            "GIT_COMMITTER_DATE": "2026-01-15T10:00:00Z",
            "CANONRY_CACHE": str(home / "cache"),
            # one clock for the whole suite: confidence decay and publication times
            # give the same answers on any date (see canonry.store.times)
            "CANONRY_NOW": "2026-11-01T00:00:00Z",
        }
    )
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[user]\n\tname = Test Steward\n\temail = steward@example.org\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


def git(repo: Path | str, *args: str, input: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def copy_reference(dest: Path, with_knowledge: bool = True) -> Path:
    """A fresh repository with this project's schemas (and knowledge), one commit on main."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "schemas", dest / "schemas")
    if with_knowledge:
        shutil.copytree(ROOT / "knowledge", dest / "knowledge")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "reference knowledge")
    return dest


@pytest.fixture
def ref_repo(tmp_path: Path) -> Path:
    """A copy of the reference knowledge repository in a fresh git repository."""
    return copy_reference(tmp_path / "repo")


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    """The reference schemas with a handful of entries (fast to build, easy to reason about)."""
    repo = copy_reference(tmp_path / "small", with_knowledge=False)
    from helpers import mapping_entry, write_entry

    for i, (pattern, code) in enumerate(
        [("steel rebar", "C24"), ("cement plant", "C23"), ("hospital", "Q86")]
    ):
        write_entry(repo, "mapping", mapping_entry(f"m{i}", pattern, code))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "three mapping entries")
    return repo


def run(args: list[str], cwd: Path | str | None = None, input: str | None = None) -> Any:
    """Run the CLI the way a user types it; print its output when a test fails."""
    from canonry.cli.main import cli
    from click.testing import CliRunner

    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(cli, args, input=input, catch_exceptions=False)
    finally:
        os.chdir(old)
    print(f"$ canonry {' '.join(args)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    return result


# --- fixtures the runtime tests share (their helpers are in runtime_helpers.py) ------------------


@pytest.fixture
def two_versions(small_repo: Path) -> Path:
    """small_repo with mapping/v1 (m0..m2) and mapping/v2 (m0 changed, m3 added)."""
    from helpers import mapping_entry
    from runtime_helpers import commit_entries, publish

    publish(small_repo)
    commit_entries(
        small_repo,
        mapping_entry("m0", "steel rebar", "C24", confidence=0.95),
        mapping_entry("m3", "desalination plant", "E36"),
    )
    publish(small_repo)
    return small_repo


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder per test: mirrors and watermarks never leak between tests (every test, hence autouse)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CANONRY_CACHE", str(cache))
    return cache


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """`git daemon` serving the bare repositories under a folder on 127.0.0.1 (a free port)."""
    from runtime_helpers import Daemon, free_port

    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    proc = subprocess.Popen(
        [
            os.path.join(exec_path, "git-daemon"),
            "--reuseaddr",
            "--export-all",
            "--informative-errors",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    served = Daemon(base, port, proc)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                served.stop()
                raise RuntimeError("git daemon did not start") from None
            time.sleep(0.05)
    yield served
    served.stop()


# --- fixtures the publication tests share (their helpers are in flow_helpers.py) -----------------


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    """A small repository with a two-library registry and three mapping entries on main."""
    from flow_helpers import make_flow_repo

    return make_flow_repo(tmp_path / "flow")


@pytest.fixture
def flow_daemon(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(served folder, git:// base URL) of a git daemon that accepts pushes (unlike `daemon`)."""
    from runtime_helpers import free_port

    served = tmp_path / "served"
    served.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={served}",
            f"--port={port}",
            "--listen=127.0.0.1",
            "--reuseaddr",
            str(served),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # `git daemon` runs git-daemon as a child: stop the whole group
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
            time.sleep(0.05)
    try:
        yield served, f"git://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
