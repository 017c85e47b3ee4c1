"""Nothing a draft contains is executed: check and evaluator functions run only when main's registry names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from canonry.errors import RegistryError
from canonry.learning.functions import (
    FunctionPolicy,
    UntrustedFunctionError,
    resolve_function,
    trusted_policy,
)
from canonry.store.commits import Provenance, commit_to_branch
from canonry.store.repo import Repository
from conftest import git, run

LIBRARIES = "schemas/libraries.yaml"
MAPPING_CHECKS = '      - "canonry.checks:mapping_evidence_consistent"\n'


def hostile_files(repo: Path, marker: Path) -> dict[str, bytes]:
    """A draft's libraries.yaml naming subprocess:run and os:system, and an entry whose keys are a command."""
    text = (repo / LIBRARIES).read_text(encoding="utf-8")
    assert MAPPING_CHECKS in text
    text = text.replace(MAPPING_CHECKS, MAPPING_CHECKS + '      - "subprocess:run"\n      - "os:system"\n', 1)
    # parsed in file order, the keys are ["sh", "-c", "touch MARKER"]: run(entry) would create the marker
    entry = f"sh: 1\n-c: 1\ntouch {marker}: 1\n"
    return {LIBRARIES: text.encode("utf-8"), "knowledge/mapping/evil.yaml": entry.encode("utf-8")}


def make_draft(repo: Path, name: str, files: dict[str, bytes]) -> str:
    return commit_to_branch(
        Repository(repo),
        f"draft/{name}",
        dict(files),
        f"draft {name}",
        Provenance("user", "mallory@example.org", "test"),
        start_from="main",
    )


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def test_a_drafts_check_functions_never_run(small_repo: Path, marker: Path) -> None:
    make_draft(small_repo, "x", hostile_files(small_repo, marker))
    gate = run(["gate", "--repo", str(small_repo), "--head", "draft/x"])
    assert not marker.exists()
    assert gate.exit_code == 1
    assert "check function subprocess:run: module 'subprocess' is not allowed" in gate.stdout
    assert "os:system: module 'os' is not allowed" in gate.stdout
    assert "Traceback" not in gate.stdout + gate.stderr

    shown = run(["draft", "show", "x", "--repo", str(small_repo)])
    assert "Traceback" not in shown.stdout + shown.stderr
    assert not marker.exists()

    published = run(["publish", "x", "--dry-run", "--by", "publisher@example.org", "--repo", str(small_repo)])
    assert "Traceback" not in published.stdout + published.stderr
    assert not marker.exists()

    git(small_repo, "checkout", "-q", "draft/x")  # the steward's checkout of the pull request
    validated = run(["validate", "--repo", str(small_repo)])
    assert not marker.exists()
    assert "Traceback" not in validated.stdout + validated.stderr
    assert git(small_repo, "rev-parse", "main") != git(small_repo, "rev-parse", "draft/x")


def test_a_draft_that_also_allows_the_module_still_runs_nothing(small_repo: Path, marker: Path) -> None:
    files = hostile_files(small_repo, marker)
    text = (
        files[LIBRARIES]
        .decode("utf-8")
        .replace("policy:\n", "policy:\n  function_modules: [subprocess, os]\n")
    )
    files[LIBRARIES] = text.encode("utf-8")
    make_draft(small_repo, "x", files)
    gate = run(["gate", "--repo", str(small_repo), "--head", "draft/x"])
    assert not marker.exists()
    assert "check function subprocess:run: module 'subprocess' is not allowed" in gate.stdout
    git(small_repo, "checkout", "-q", "draft/x")
    run(["validate", "--repo", str(small_repo)])
    assert not marker.exists()


def test_the_guard_is_what_stops_it(small_repo: Path, marker: Path) -> None:
    """Control: once main itself names and allows the function (a policy owner's decision), it runs."""
    files = hostile_files(small_repo, marker)
    text = (
        files[LIBRARIES].decode("utf-8").replace("policy:\n", "policy:\n  function_modules: [subprocess]\n")
    )
    text = text.replace('      - "os:system"\n', "")
    (small_repo / LIBRARIES).write_text(text, encoding="utf-8")
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "a policy owner allows subprocess (do not do this)")
    (small_repo / "knowledge/mapping/evil.yaml").write_bytes(files["knowledge/mapping/evil.yaml"])
    run(["validate", "--repo", str(small_repo)])
    assert marker.exists()


def test_a_draft_changing_the_evaluator_is_measured_with_mains(small_repo: Path, marker: Path) -> None:
    holdout = "cases:\n  - text: New cement plant\n    expected: C23\n"
    (small_repo / "knowledge/holdout").mkdir(parents=True, exist_ok=True)
    (small_repo / "knowledge/holdout/mapping.yaml").write_text(holdout, encoding="utf-8")
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "holdout")
    text = (small_repo / LIBRARIES).read_text(encoding="utf-8")
    changed = text.replace("canonry.evaluators:mapping_accuracy", "subprocess:run")
    make_draft(small_repo, "x", {LIBRARIES: changed.encode("utf-8")})
    gate = run(["gate", "--repo", str(small_repo), "--head", "draft/x", "--format", "json"])
    assert not marker.exists()
    assert "evaluator function subprocess:run: module 'subprocess' is not allowed" in gate.stdout
    assert '"value": 1.0' in gate.stdout  # measured all the same, with main's evaluator


def test_resolve_refuses_untrusted_names() -> None:
    policy = FunctionPolicy(
        frozenset({"canonry.checks:mapping_pattern_has_words", "os:system"}), frozenset(), "main"
    )
    assert callable(resolve_function("canonry.checks:mapping_pattern_has_words", policy))
    with pytest.raises(UntrustedFunctionError, match="module 'os' is not allowed"):
        resolve_function("os:system", policy)  # named, but the module is not allowed
    with pytest.raises(UntrustedFunctionError, match="not named by the registry of main"):
        resolve_function("canonry.checks:scenario_shares_sum_to_one", policy)
    allowed = FunctionPolicy(frozenset({"json:nowhere"}), frozenset({"json"}), "main")
    with pytest.raises(RegistryError, match="cannot load json:nowhere"):
        resolve_function("json:nowhere", allowed)


def test_the_trusted_registry_is_mains_committed_one(small_repo: Path) -> None:
    policy = trusted_policy(Repository(small_repo))
    assert "canonry.checks:mapping_pattern_has_words" in policy.names
    assert policy.modules == frozenset()
    # an edit in the work tree is not trusted until committed to main
    text = (small_repo / LIBRARIES).read_text(encoding="utf-8")
    (small_repo / LIBRARIES).write_text(text.replace("policy:\n", "policy:\n  function_modules: [os]\n"))
    assert trusted_policy(Repository(small_repo)).modules == frozenset()
