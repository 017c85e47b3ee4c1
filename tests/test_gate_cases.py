"""Gate behaviour as data: each folder under tests/cases/gates/ is a draft and the findings it must get.

A case folder holds:

- `case.yaml`: `why` (one line), `gates` (the gates to run, in order) and
  optionally `delete` (paths the draft removes);
- `base/`: the files on main when the draft begins, on top of this project's
  schemas/ (the rules);
- `head/`: the files the draft writes (added or replaced);
- `main/` (optional): the files main writes after the draft began;
- `expected.json`: `ok`, `gates` and `findings` of the `canonry.gate/v1`
  document that `canonry gate --base main --head draft/x --format json` prints.

Set CANONRY_UPDATE_GOLDEN=1 to rewrite expected.json from what the gates say
(then read the diff: a golden file is only as right as its review).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from canonry.gates.engine import GATES, PER_FILE_GATES, run_gates
from canonry.store.repo import Repository
from canonry.store.yamlio import load_yaml
from conftest import ROOT, git

CASES = ROOT / "tests" / "cases" / "gates"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
# the gates that judge content alone (holdout and confidence measure; review needs people)
CONTENT_GATES = [*PER_FILE_GATES, "duplicates", "conflicts", "append-only", "scope", "evidence"]


def copy_tree(source: Path, dest: Path) -> None:
    if source.is_dir():
        # shutil.copy, not copy2: a copied mtime and size could let git take a changed file for unchanged
        shutil.copytree(source, dest, dirs_exist_ok=True, copy_function=shutil.copy)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def build(case: Path, spec: dict[str, Any], repo: Path) -> None:
    """main: schemas + base/; draft/x: + head/ - delete; then main: + main/."""
    repo.mkdir()
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    copy_tree(case / "base", repo)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "draft/x")
    copy_tree(case / "head", repo)
    for rel in spec.get("delete", []):
        (repo / rel).unlink()
    commit(repo, "draft")
    git(repo, "checkout", "-q", "main")
    if (case / "main").is_dir():
        copy_tree(case / "main", repo)
        commit(repo, "main moves on")


def observed(case: Path, tmp_path: Path) -> dict[str, Any]:
    spec = load_yaml((case / "case.yaml").read_bytes())
    repo = tmp_path / "repo"
    build(case, spec, repo)
    result = run_gates(Repository(repo), "main", "draft/x", gates=list(spec["gates"]))
    doc = result.to_dict()
    return {"ok": doc["ok"], "gates": doc["gates"], "findings": doc["findings"]}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_gate_case(name: str, tmp_path: Path) -> None:
    case = CASES / name
    got = observed(case, tmp_path)
    expected_path = case / "expected.json"
    if os.environ.get("CANONRY_UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert got == expected, load_yaml((case / "case.yaml").read_bytes())["why"]


def test_every_content_gate_has_a_failing_case() -> None:
    failing: set[str] = set()
    for name in CASE_NAMES:
        expected = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
        failing |= {f["gate"] for f in expected["findings"] if f["severity"] == "error"}
    assert set(CONTENT_GATES) <= set(GATES)
    assert sorted(set(CONTENT_GATES) - failing) == []


def test_every_case_is_complete() -> None:
    for name in CASE_NAMES:
        case = CASES / name
        spec = load_yaml((case / "case.yaml").read_bytes())
        assert set(spec) <= {"why", "gates", "delete"}, name
        assert spec["why"] and spec["gates"] and set(spec["gates"]) <= set(GATES), name
        assert (case / "head").is_dir() or spec.get("delete"), f"{name}: the draft changes nothing"
        assert (case / "expected.json").is_file(), name
