"""Messages that help: an unknown library lists the known ones wherever it is named, an unknown
version lists the versions there are, and a repository without schemas/libraries.yaml is told to run
`canonry init`.
"""

from __future__ import annotations

from pathlib import Path

import canonry
import pytest
from canonry.errors import UnknownLibraryError, UnknownVersionError
from conftest import git, run

KNOWN = "(known: assumptions, calibration-notes, engagement-memory, mapping, nationality-classification"


@pytest.fixture
def released(small_repo: Path) -> Path:
    assert run(["release", "--by", "publisher@example.org", "--repo", str(small_repo)]).exit_code == 0
    return small_repo


@pytest.mark.parametrize(
    "args",
    [
        ["show", "mappin@latest"],
        ["show", "mappin@v1"],
        ["diff", "mappin@v1", "main"],
        ["diff", "main", "mappin@latest"],
        ["pin", "mappin@v1"],
    ],
    ids=lambda a: " ".join(a),
)
def test_an_unknown_library_is_named_as_such_with_the_known_ones(released: Path, args: list[str]) -> None:
    result = run([*args, "--repo", str(released)])
    assert result.exit_code == 2
    assert "canonry: error: unknown library: mappin " + KNOWN in result.stderr
    assert "unknown version" not in result.stderr


def test_an_unknown_library_in_python(released: Path) -> None:
    canon = canonry.open(str(released))
    with pytest.raises(UnknownLibraryError, match=r"unknown library: mappin \(known: .*mapping"):
        canon.library("mappin")
    with pytest.raises(UnknownVersionError, match=r"unknown version: mapping@v9 \(published: v1\)"):
        canon.library("mapping", "v9")


def test_an_unknown_version_lists_the_published_ones(released: Path) -> None:
    for args in (["show", "mapping@v9"], ["diff", "mapping@v1", "mapping@v2"], ["pin", "mapping@7"]):
        result = run([*args, "--repo", str(released)])
        assert result.exit_code == 2
        assert "(published: v1)" in result.stderr, args
    error = UnknownVersionError("mapping", "v9")  # without the lookup: the message as before
    assert str(error) == "unknown version: mapping@v9"


def test_a_library_without_versions_says_so(small_repo: Path) -> None:
    result = run(["show", "mapping@latest", "--repo", str(small_repo)])
    assert result.exit_code == 2
    assert "unknown version: mapping@latest (mapping has no published version yet)" in result.stderr
    # a declared library with nothing published is not an unknown library
    assert "unknown library" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["libraries"],
        ["validate"],
        ["validate", "--ref", "HEAD"],
        ["gate"],
        ["gate", "--full"],
        ["show", "mapping@v1"],
    ],
    ids=lambda a: " ".join(a),
)
def test_a_plain_git_repository_is_told_to_run_init(tmp_path: Path, args: list[str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q", "-b", "main")
    (plain / "notes.txt").write_text("hello\n")
    git(plain, "add", "-A")
    git(plain, "commit", "-q", "-m", "notes")
    result = run([*args, "--repo", str(plain)])
    assert result.exit_code == 2, result.stderr
    assert "schemas/libraries.yaml: missing" in result.stderr
    assert "`canonry init`" in result.stderr


@pytest.mark.parametrize("args", [["libraries"], ["validate"], ["gate", "--full"]], ids=" ".join)
def test_an_empty_repository_is_told_to_run_init(tmp_path: Path, args: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")  # no commit yet: HEAD names an unborn branch
    result = run([*args, "--repo", str(empty)])
    assert result.exit_code == 2, result.stderr
    assert "`canonry init`" in result.stderr


def test_deleting_the_registry_from_a_knowledge_repository_is_a_finding(small_repo: Path) -> None:
    (small_repo / "schemas" / "libraries.yaml").unlink()
    result = run(["validate", "--repo", str(small_repo)])
    assert result.exit_code == 1  # a check that fails, not a usage problem: HEAD has the registry
    assert "schemas/libraries.yaml" in result.stdout
