"""Lock files: `canonry pin`, open(..., lock=...), `canonry verify --lock`, and their faults."""

from __future__ import annotations

import json
from pathlib import Path

import canonry
import pytest
from canonry.runtime.pins import LOCK_FORMAT, read_lock
from canonry.store.repo import RefUpdate, Repository
from canonry.store.yamlio import dump_yaml, load_yaml
from conftest import git, run
from runtime_helpers import TAGGER, Daemon, bare_copy
from trust_keys import signed_deprecation


def pin(repo: Path, *specs: str, lock: Path, extra: tuple[str, ...] = ()) -> object:
    return run(["pin", *specs, "--repo", str(repo), "--lock", str(lock), *extra])


def move_tag(path: Path, tag: str) -> str:
    """Point refs/tags/<tag> at a new tag object on main (what must never happen)."""
    repo = Repository(path)
    old = repo.ref_target(f"refs/tags/{tag}")
    moved = repo.create_tag_object(tag, repo.resolve_commit("main"), f"{tag}: moved\n", TAGGER)
    repo.update_refs([RefUpdate(f"refs/tags/{tag}", moved, old)], "move")
    return moved


def test_pin_writes_the_lock_shape(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    result = pin(two_versions, "mapping@v1", lock=lock)
    assert result.exit_code == 0
    assert "pinned mapping/v1" in result.stdout
    doc = load_yaml(lock.read_text())
    repo = Repository(two_versions)
    commit = repo.resolve_commit("mapping/v1")
    assert doc == {
        "format": LOCK_FORMAT,
        "source": str(two_versions),
        "libraries": {
            "mapping": {
                "version": 1,
                "tag": "mapping/v1",
                "tag_object": repo.ref_target("refs/tags/mapping/v1"),
                "commit": commit,
                "tree": repo.subtree(repo.tree_of(commit), "knowledge/mapping"),
            }
        },
    }
    assert lock.read_text().startswith("# Written by `canonry pin`")


def test_pin_latest_and_update(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    assert pin(two_versions, "mapping@v1", lock=lock).exit_code == 0
    result = pin(two_versions, "mapping@latest", lock=lock, extra=("--format", "json"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["libraries"]["mapping"]["version"] == 2
    assert read_lock(lock).pins["mapping"].tag == "mapping/v2"


def test_pinning_below_the_lock_needs_allow_downgrade(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v2", lock=lock)
    refused = pin(two_versions, "mapping@v1", lock=lock)
    assert refused.exit_code == 1 and "goes below it" in refused.stderr
    assert read_lock(lock).pins["mapping"].version == 2
    assert pin(two_versions, "mapping@v1", lock=lock, extra=("--allow-downgrade",)).exit_code == 0
    assert read_lock(lock).pins["mapping"].version == 1


def test_open_with_lock_serves_the_pin(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v1", lock=lock)
    canon = canonry.open(two_versions, lock=lock)
    lib = canon.library("mapping")
    assert lib.tag == "mapping/v1" and "m3" not in lib
    with pytest.raises(canonry.LockFileError, match="pinned to mapping/v1"):
        canon.library("mapping", "latest")
    # the source defaults to the lock's
    assert canonry.open(lock=lock).library("mapping").tag == "mapping/v1"


def test_tag_moved_after_pinning_is_refused(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v1", lock=lock)
    moved = move_tag(two_versions, "mapping/v1")
    with pytest.raises(canonry.TagMovedError, match="mapping/v1 moved") as caught:
        canonry.open(two_versions, lock=lock)
    assert caught.value.actual == moved
    result = run(["verify", "--repo", str(two_versions), "--lock", str(lock), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.verify/v1" and doc["ok"] is False
    [finding] = [f for f in doc["findings"] if f["gate"] == "lock"]
    assert finding["library"] == "mapping" and "moved" in finding["message"]


def test_tag_deleted_after_pinning_is_refused(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v1", lock=lock)
    git(two_versions, "update-ref", "-d", "refs/tags/mapping/v1")
    with pytest.raises(canonry.TagMovedError, match="now missing"):
        canonry.open(two_versions, lock=lock)
    result = run(["verify", "--repo", str(two_versions), "--lock", str(lock)])
    assert result.exit_code == 1 and "mapping/v1 moved" in result.stdout


def test_pinned_tag_moved_at_the_remote(two_versions: Path, daemon: Daemon, tmp_path: Path) -> None:
    bare = bare_copy(two_versions, daemon.base / "k.git")
    url = daemon.url("k.git")
    lock = tmp_path / "canonry.lock"
    assert run(["pin", "mapping@v1", "--source", url, "--lock", str(lock)]).exit_code == 0
    assert read_lock(lock).source == url
    assert canonry.open(lock=lock).library("mapping").tag == "mapping/v1"
    move_tag(bare, "mapping/v1")
    with pytest.raises(canonry.TagMovedError):
        canonry.open(lock=lock)
    assert run(["verify", "--lock", str(lock)]).exit_code == 1


def test_lock_that_is_not_yaml(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    lock.write_text("format: canonry.lock/v1\nlibraries: {mapping: [unclosed\n")
    with pytest.raises(canonry.LockFileError, match=r"canonry.lock:\d+:\d+"):
        canonry.open(two_versions, lock=lock)
    result = run(["verify", "--repo", str(two_versions), "--lock", str(lock)])
    assert result.exit_code == 2 and "canonry: error:" in result.stderr


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": "canonry.lock/v9", "source": None, "libraries": {}}, "is not 'canonry.lock/v1'"),
        ({"format": LOCK_FORMAT, "source": None, "libraries": [1]}, "not a mapping"),
        ({"format": LOCK_FORMAT, "libraries": {}, "extra": 1}, "extra: unknown key"),
        (
            {"format": LOCK_FORMAT, "libraries": {"mapping": {"version": 1, "tag": "mapping/v1"}}},
            "exactly the keys",
        ),
        (
            {
                "format": LOCK_FORMAT,
                "libraries": {
                    "mapping": {
                        "version": 1,
                        "tag": "mapping/v2",
                        "tag_object": "0" * 40,
                        "commit": "0" * 40,
                        "tree": None,
                    }
                },
            },
            "is not 'mapping/v1'",
        ),
        (
            {
                "format": LOCK_FORMAT,
                "libraries": {
                    "mapping": {
                        "version": 1,
                        "tag": "mapping/v1",
                        "tag_object": "HEAD",
                        "commit": "0" * 40,
                        "tree": None,
                    }
                },
            },
            "tag_object: 'HEAD' is not an object id",
        ),
    ],
)
def test_malformed_locks(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    lock = tmp_path / "canonry.lock"
    lock.write_text(dump_yaml(doc))
    with pytest.raises(canonry.LockFileError, match=message):
        read_lock(lock)


def test_lock_naming_an_unknown_library(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v1", lock=lock)
    doc = load_yaml(lock.read_text())
    doc["libraries"]["nonexistent"] = {**doc["libraries"]["mapping"], "tag": "nonexistent/v1"}
    lock.write_text(dump_yaml(doc))
    with pytest.raises(canonry.LockFileError, match="names library 'nonexistent'"):
        canonry.open(two_versions, lock=lock)
    result = run(["verify", "--repo", str(two_versions), "--lock", str(lock)])
    assert result.exit_code == 2 and "nonexistent" in result.stderr


def test_missing_lock_file(two_versions: Path, tmp_path: Path) -> None:
    with pytest.raises(canonry.LockFileError, match="no such lock file"):
        canonry.open(two_versions, lock=tmp_path / "nope.lock")


def test_pinned_deprecated_version_warns(two_versions: Path, tmp_path: Path) -> None:
    signed_deprecation(two_versions, tmp_path, "mapping@v1", "wrong steel codes")
    lock = tmp_path / "canonry.lock"
    result = pin(two_versions, "mapping@v1", lock=lock)
    assert result.exit_code == 0 and "mapping/v1 is deprecated: wrong steel codes" in result.stderr
    with pytest.warns(canonry.DeprecatedVersionWarning, match="wrong steel codes"):
        canon = canonry.open(two_versions, lock=lock)
    assert canon.library("mapping").version == 1


def test_lock_below_the_watermark_is_a_downgrade(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v2", lock=lock)
    canonry.open(two_versions, lock=lock).library("mapping")
    lock.write_text(lock.read_text())  # same file, now rolled back to v1:
    pin(two_versions, "mapping@v1", lock=lock, extra=("--allow-downgrade",))
    with pytest.raises(canonry.DowngradeError):
        canonry.open(two_versions, lock=lock)
    assert canonry.open(two_versions, lock=lock, allow_downgrade=True).library("mapping").version == 1


def test_verify_passes_on_a_clean_lock(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    pin(two_versions, "mapping@v2", lock=lock)
    result = run(
        ["verify", "--repo", str(two_versions), "--lock", str(lock), "--no-content", "--format", "json"]
    )
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["ok"] is True and doc["findings"] == []
    assert doc["checked"]["pins"] == 1 and doc["checked"]["tags"] == 2
    text = run(["verify", "--repo", str(two_versions), "--lock", str(lock), "--no-content"])
    assert text.exit_code == 0 and text.stdout.splitlines()[-1].startswith("PASS")
