"""A copy of this checkout as a fresh clone has it, and an environment without this virtualenv."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

from conftest import ROOT, git

COPIED = (
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "requirements.lock",
    "requirements-test.lock",
    ".gitattributes",
    ".pre-commit-hooks.yaml",
    ".yamllint",
)
FOLDERS = ("tooling", "schemas", "knowledge", "tests", "docs")


def checkout_copy(dest: Path) -> Path:
    """This checkout as a fresh clone would have it (no virtual environment, no caches), committed."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis")
    dest.mkdir(parents=True)
    for name in COPIED:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "a clone of canonry")
    return dest


def plain_env() -> dict[str, str]:
    """The test session's environment without any virtual environment or this checkout's code."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(key, None)
    # the real user's pip cache (HOME is a temporary folder in tests): a second run downloads less
    cache = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"
    if os.access(cache.parent, os.W_OK):
        env["PIP_CACHE_DIR"] = str(cache)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # pip talks TLS to the package index, whose certificates a shifted clock (libfaketime) sees as
    # not yet valid or expired: installing is not what these tests date-check, so it runs on the real clock
    env.pop("LD_PRELOAD", None)
    for key in [k for k in env if k.startswith("FAKETIME")]:
        env.pop(key)
    return env
