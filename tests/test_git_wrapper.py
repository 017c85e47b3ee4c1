"""One git wrapper: pygit2 and the git executable only in store/, named operations with typed results."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
from canonry.errors import RefMovedError
from canonry.store.repo import FetchResult, FsckResult, PushResult, RefUpdate, Repository, SignatureCheck

PACKAGE = Path(__file__).parent.parent / "tooling" / "canonry"
WRAPPER = {
    "store/repo.py",
    "store/gitcli.py",
    "store/gitwrite.py",
    "store/githistory.py",
    "store/gittypes.py",
    "store/integrity.py",
}
# Callers of the wrapper's internal raw git runner not yet moved to named operations: none left.
RUN_GIT_PENDING: set[str] = set()


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text())) for p in sorted(PACKAGE.rglob("*.py"))
    ]


def test_pygit2_is_imported_by_the_wrapper_only() -> None:
    offenders = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "pygit2" for n in names) and rel not in WRAPPER:
                offenders.append(rel)
    assert offenders == []


def test_git_runs_in_the_wrapper_only() -> None:
    """No subprocess call with "git" as the program outside the wrapper; no raw git runner outside it."""
    offenders = []
    for rel, tree in _modules():
        if rel in WRAPPER:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in {"run_git", "_run_git", "_git"} and rel not in RUN_GIT_PENDING:
                offenders.append(f"{rel}:{node.lineno} run_git")
            if name in {"run", "Popen", "check_output", "call", "check_call"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.List) and first.elts:
                    head = first.elts[0]
                    if isinstance(head, ast.Constant) and head.value == "git":
                        offenders.append(f"{rel}:{node.lineno} subprocess git")
    assert offenders == []


def test_raw_git_is_not_part_of_the_repository_interface() -> None:
    # git's own arguments and processes stay inside the wrapper: only named operations are public
    assert not hasattr(Repository, "run_git") and not hasattr(Repository, "verify_tag_signature")
    public = [name for name in dir(Repository) if not name.startswith("_")]
    assert "fetch" in public and "push" in public and "verify_tag" in public


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def remote(small_repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(small_repo), str(bare))
    return bare


def test_fetch_returns_a_typed_result(small_repo: Path, remote: Path) -> None:
    repo = Repository(small_repo)
    ok = repo.fetch(str(remote), ["+refs/heads/main:refs/remotes/origin/main"])
    assert isinstance(ok, FetchResult) and ok.ok and repo.ref_target("refs/remotes/origin/main")
    missing = repo.fetch(str(remote), ["refs/heads/nope:refs/remotes/origin/nope"])
    assert not missing.ok and missing.missing_ref and not missing.corrupt and missing.message


def test_push_with_a_stale_lease_is_rejected_as_a_whole(small_repo: Path, remote: Path) -> None:
    repo = Repository(small_repo)
    main = repo.resolve_commit("main")
    pushed = repo.push(str(remote), [("refs/heads/copy", main)], lease=("refs/heads/copy", None))
    assert isinstance(pushed, PushResult) and pushed.ok
    newer = repo.create_commit(repo.tree_of(main), [main], "newer\n", repo.commit(main).author)
    stale = repo.push(
        str(remote),
        [("refs/heads/main", newer), ("refs/heads/other", main)],
        lease=("refs/heads/main", "1" * 40),
    )
    assert not stale.ok and stale.rejected
    assert (
        subprocess.run(
            ["git", f"--git-dir={remote}", "rev-parse", "--verify", "-q", "refs/heads/other"],
            capture_output=True,
        ).returncode
        != 0
    )  # all or nothing


def test_fsck_and_verify_return_typed_results(small_repo: Path) -> None:
    repo = Repository(small_repo)
    fsck = repo.fsck()
    assert isinstance(fsck, FsckResult) and fsck.ok
    unsigned = repo.verify_commit(repo.resolve_commit("main"))
    assert isinstance(unsigned, SignatureCheck) and not unsigned.ok and unsigned.message


def test_ref_transaction_is_all_or_nothing(small_repo: Path) -> None:
    repo = Repository(small_repo)
    main = repo.resolve_commit("main")
    with pytest.raises(RefMovedError):
        repo.update_refs(
            [RefUpdate("refs/heads/a", main, None), RefUpdate("refs/heads/main", main, "2" * 40)], "test"
        )
    assert repo.ref_target("refs/heads/a") is None


def test_work_tree_operations(small_repo: Path) -> None:
    repo = Repository(small_repo)
    (small_repo / "knowledge" / "mapping" / "new.yaml").write_text("id: new\n")
    assert repo.changed_paths(["knowledge"]) == ["knowledge/mapping/new.yaml"]
    main = repo.resolve_commit("main")
    repo.update_refs([RefUpdate("refs/heads/side", main, None)], "test")
    assert repo.checkout("side").ok and repo.head_branch() == "refs/heads/side"
    refused = repo.checkout("no-such-branch")
    assert not refused.ok and "no-such-branch" in refused.message


def test_index_operations(small_repo: Path) -> None:
    repo = Repository(small_repo)
    main = repo.resolve_commit("main")
    assert not repo.index_differs_from(main) and not repo.work_tree_differs_from_index()
    assert repo.index_tree() == repo.tree_of(main)
    path = small_repo / "knowledge" / "mapping" / "m0.yaml"
    stat = path.stat()
    os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))  # touched: stat data differ, content does not
    assert not repo.work_tree_differs_from_index()
    path.write_text(path.read_text() + "# edited\n")
    assert repo.work_tree_differs_from_index() and not repo.index_differs_from(main)
    _git(small_repo, "add", "-A")
    assert repo.index_differs_from(main) and repo.index_tree() != repo.tree_of(main)
