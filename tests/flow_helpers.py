"""The flow repository the publication tests share: stewards, registry, drafts without a work tree.

A small knowledge repository with its own libraries.yaml (two libraries,
known stewards) and helpers to write drafts, approve them and read the
results. Its fixtures (`flow`, `flow_daemon`) are in conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from canonry.publication import review
from canonry.store.commits import Provenance, commit_to_branch
from canonry.store.repo import Repository
from canonry.store.versions import parse_tag_message
from canonry.store.yamlio import dump_yaml
from conftest import ROOT, copy_reference, git
from helpers import mapping_entry, write_entry

OWNER = "owner@example.org"
MAPPER = "mapper@example.org"
ECONOMIST = "economist@example.org"
AUTHOR = "author@example.org"
PUBLISHER = "publisher@example.org"

REGISTRY = f"""format: canonry.libraries/v1
policy:
  owners: [{OWNER}]
  min_approvals: 1
libraries:
  mapping:
    title: "{{pattern}} -> {{sector_code}}"
    path: knowledge/mapping
    schema: schemas/mapping.schema.json
    lifecycle: versioned
    stewards: [{MAPPER}]
    duplicates: {{exact: [language, pattern]}}
    conflicts: {{key: [pattern, language], values: [sector_code]}}
  calibration-notes:
    title: "{{sector_code}} {{metric}}: {{direction}} ({{promotion_status}})"
    path: knowledge/calibration-notes
    schema: schemas/calibration-notes.schema.json
    lifecycle: append-only
    stewards: [{ECONOMIST}]
    mutable_fields:
      promotion_status: {{RAW: [REVIEWED, DISMISSED], REVIEWED: [PROMOTED, DISMISSED]}}
      promoted_to: set_once
      updated_at: any
"""

WORDS = [
    "steel rebar",
    "cement plant",
    "hospital",
    "rolling mill",
    "glass furnace",
    "seaport",
    "airport terminal",
    "dairy farm",
    "solar park",
    "wind farm",
    "paper mill",
    "textile weaving",
    "oil refinery",
    "copper smelter",
    "poultry farm",
    "fish cannery",
    "brick kiln",
    "data centre",
    "water desalination",
    "tyre factory",
    "sugar refinery",
    "rail depot",
    "tannery",
    "shipyard",
    "bakery",
]


def mpath(entry_id: str) -> str:
    return f"knowledge/mapping/{entry_id}.yaml"


def cpath(entry_id: str) -> str:
    return f"knowledge/calibration-notes/{entry_id}.yaml"


def note_entry(entry_id: str, status: str = "RAW", **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "workspace_id": "ws-test",
        "source_engagement_id": "ENG-1",
        "reuse_scope": "GLOBAL_INTERNAL",
        "sanitized_for_promotion": True,
        "source": "user",
        "updated_at": "2026-01-15T10:00:00Z",
        "sector_code": "C24",
        "metric": "import-share",
        "direction": "higher",
        "magnitude": 0.1,
        "observation": f"observation {entry_id}",
        "promotion_status": status,
        "promoted_to": None,
        **extra,
    }


def make_flow_repo(path: Path, entries: int = 3) -> Path:
    """Reference schemas, the two-library registry above, `entries` mapping entries on main."""
    copy_reference(path, with_knowledge=False)
    (path / "schemas" / "libraries.yaml").write_text(REGISTRY, encoding="utf-8")
    for i in range(entries):
        write_entry(path, "mapping", mapping_entry(f"m{i}", WORDS[i], "C24"))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "flow registry and entries")
    return path


def draft_commit(
    repo: Path,
    name: str,
    changes: dict[str, Any],
    author: str = AUTHOR,
    message: str = "edit entries",
    start: str = "main",
) -> str:
    """One commit on draft/NAME (created from start): {path: entry dict | text | None to delete}."""
    files: dict[str, bytes | None] = {}
    for path, value in changes.items():
        if value is None:
            files[path] = None
        else:
            files[path] = (value if isinstance(value, str) else dump_yaml(value)).encode("utf-8")
    return commit_to_branch(
        Repository(repo),
        f"draft/{name}",
        files,
        message,
        Provenance("user", author, message),
        start_from=start,
    )


def approve(repo: Path, name: str, reviewer: str = MAPPER) -> None:
    review.approve(Repository(repo), name, reviewer)


def ready_draft(repo: Path, name: str, entry: dict[str, Any], reviewer: str = MAPPER) -> str:
    head = draft_commit(repo, name, {mpath(entry["id"]): entry})
    approve(repo, name, reviewer)
    return head


def ref(repo: Path, name: str) -> str | None:
    out = git(repo, "rev-parse", "--verify", "-q", name, check=False)
    return out or None


def tags(repo: Path) -> list[str]:
    return sorted(git(repo, "tag", "-l").split())


def metadata(repo: Path, tag: str) -> dict[str, Any]:
    return parse_tag_message(git(repo, "cat-file", "tag", tag).split("\n\n", 1)[1])


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (for crashes and races)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT / "tooling"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", "from canonry.cli.main import main; main()", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fsck(repo: Path) -> None:
    proc = subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower()


def serve(repo: Path, served: Path, url: str, name: str = "remote.git") -> Path:
    """Put a bare copy of repo behind the daemon and make it repo's `origin`."""
    bare = served / name
    git(repo, "clone", "-q", "--bare", str(repo), str(bare))
    git(repo, "remote", "add", "origin", url + name)
    return bare
