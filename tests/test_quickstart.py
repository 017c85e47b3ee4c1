"""The README's quick start works as written: a fresh virtual environment, the lock files, Canonry.

Both commands are read from README.md and run by bash in a copy of this
checkout, with a PATH that holds no virtual environment (only the system's
python3 and git). They install from the package index (the pip cache makes a
second run quicker), so they are the slowest tests of the suite (about 20 and
40 seconds): marked `slow`, run by CI; `-m "not slow"` leaves them out while
you work.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from checkouts import checkout_copy, plain_env
from conftest import ROOT


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S)]


def test_quick_start_is_two_commands_with_a_venv_and_the_locks() -> None:
    first, second = quick_start_commands()
    for command in (first, second):
        assert "\n" not in command
        assert command.startswith("python3 -m venv .venv && ")
        assert "--require-hashes -r requirements" in command
    assert first.endswith(".venv/bin/canonry gate --full")
    assert "-r requirements.lock" in first
    assert second.endswith(".venv/bin/python -m pytest -q")
    assert "-r requirements-test.lock" in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pip install --require-hashes -r requirements-test.lock" in ci
    assert "python -m pytest -q" in ci
    assert "externally-managed-environment" in (ROOT / "README.md").read_text(encoding="utf-8")


def bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"$ {command}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


@pytest.mark.slow
def test_the_quick_start_runs_as_written_on_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("python3", path=plain_env()["PATH"]) is None:
        pytest.fail("no python3 on PATH outside the virtual environment")
    clone = checkout_copy(tmp_path / "canonry")
    env = plain_env()
    first, second = quick_start_commands()

    proc = bash(first, clone, env)
    assert proc.returncode == 0
    assert re.search(
        r"^PASS: 8 libraries, \d+ entries, \d+ checked; 0 errors, \d+ warnings$", proc.stdout, re.M
    )
    # the venv holds exactly the locked versions, and Canonry from this clone
    frozen = bash(".venv/bin/pip freeze --exclude-editable", clone, env).stdout
    lock_text = (clone / "requirements.lock").read_text()
    locked = {norm(n): v for n, v in re.findall(r"^([A-Za-z0-9._-]+)==([^ \\\n]+)", lock_text, re.M)}
    installed = {
        norm(n): v for n, v in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)$", frozen, re.M) if norm(n) != "canonry"
    }
    assert installed == locked

    # the second command as written; PYTEST_ADDOPTS narrows the suite it runs to one test
    # (this very suite, run again inside the test, would take minutes)
    env2 = {**env, "PYTEST_ADDOPTS": "-p no:cacheprovider tests/test_docs.py::test_readme_links_resolve"}
    proc = bash(second, clone, env2)
    assert proc.returncode == 0
    assert re.search(r"^1 passed", proc.stdout, re.M)
    assert bash(".venv/bin/ruff --version && .venv/bin/mypy --version", clone, env).returncode == 0


def test_a_tampered_lock_is_refused(tmp_path: Path) -> None:
    # what --require-hashes buys: a file whose hash is not the locked one is not installed
    lock = tmp_path / "requirements.lock"
    text = (ROOT / "requirements.lock").read_text()
    click_pin = re.search(r"^click==.*?(?=^\S)", text, re.M | re.S)
    assert click_pin is not None
    lock.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, click_pin.group(0)))
    env = plain_env()
    proc = bash(
        f"python3 -m venv venv && venv/bin/pip install --no-deps --require-hashes -r {lock}", tmp_path, env
    )
    assert proc.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in proc.stderr
