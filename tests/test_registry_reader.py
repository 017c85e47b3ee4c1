"""The registry has one reader with one contract: it raises, and the variant that returns None is named so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from canonry.errors import RegistryError, RegistryMissingError
from canonry.store.repo import Repository
from canonry.store.rules import registry_at, registry_in_tree, try_registry_at
from conftest import git

PACKAGE = Path(__file__).resolve().parents[1] / "tooling" / "canonry"


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_a_readable_registry_is_parsed_once_per_blob(small_repo: Path) -> None:
    repo = Repository(small_repo)
    head = repo.resolve_commit("main")
    first = registry_at(repo, head)
    assert "mapping" in first.names()
    assert registry_in_tree(repo, repo.tree_of(head)) is first
    assert try_registry_at(repo, head) is first


def test_a_missing_registry_raises_registry_missing_and_try_gives_none(small_repo: Path) -> None:
    (small_repo / "schemas" / "libraries.yaml").unlink()
    commit = _commit(small_repo, "no registry")
    repo = Repository(small_repo)
    with pytest.raises(RegistryMissingError):
        registry_at(repo, commit)
    assert try_registry_at(repo, commit) is None


def test_a_broken_registry_raises_the_same_error_each_time_and_try_gives_none(small_repo: Path) -> None:
    (small_repo / "schemas" / "libraries.yaml").write_text("libraries: [not, a, mapping\n")
    commit = _commit(small_repo, "broken registry")
    repo = Repository(small_repo)
    with pytest.raises(RegistryError) as first:
        registry_at(repo, commit)
    assert not isinstance(first.value, RegistryMissingError)
    with pytest.raises(RegistryError) as second:
        registry_at(repo, commit)
    assert second.value is first.value  # cached, not parsed again
    assert try_registry_at(repo, commit) is None


def test_no_module_wraps_the_registry_reader_with_another_contract() -> None:
    wrappers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "store" / "rules.py":
            continue
        module = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(module):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            name = node.name.lstrip("_")
            # a module-level _registry(repo, commit) helper, or a registry_at of any kind, anywhere
            if name in {"registry_at", "registry_in_tree", "try_registry_at"} or (
                name == "registry" and node in module.body
            ):
                wrappers.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert wrappers == []
