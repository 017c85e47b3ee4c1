"""Remote sources as bare mirrors: git:// behind `git daemon`, file:// URLs, and their faults."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import canonry
import pytest
from canonry.runtime.mirror import Mirror, redact
from canonry.store.repo import RefUpdate, Repository
from conftest import git
from helpers import mapping_entry
from runtime_helpers import TAGGER, Daemon, bare_copy, commit_entries, publish


@pytest.fixture
def remote(two_versions: Path, daemon: Daemon) -> tuple[Path, str]:
    """(bare repository, git:// URL) with mapping/v1 and mapping/v2."""
    bare = bare_copy(two_versions, daemon.base / "knowledge.git")
    return bare, daemon.url("knowledge.git")


def test_open_git_url_reads_through_a_bare_mirror(remote: tuple[Path, str], private_cache: Path) -> None:
    _bare, url = remote
    canon = canonry.open(url)
    lib = canon.library("mapping")
    assert (lib.tag, len(lib), lib["m3"]["sector_code"]) == ("mapping/v2", 4, "E36")
    mirror = Mirror(url)
    assert mirror.path.is_relative_to(private_cache / "mirrors") and mirror.exists()
    assert Repository(mirror.path).is_bare
    assert canon.source == url
    # objects arrive packed: nothing loose for libgit2 to trip over
    assert not list((mirror.path / "objects").glob("[0-9a-f][0-9a-f]/*"))


def test_file_url_is_mirrored_too(two_versions: Path, tmp_path: Path) -> None:
    bare = bare_copy(two_versions, tmp_path / "bare.git")
    canon = canonry.open(bare.as_uri())
    assert canon.library("mapping").tag == "mapping/v2"
    assert Mirror(bare.as_uri()).exists()


def test_new_versions_arrive_on_the_next_open_and_on_demand(
    remote: tuple[Path, str], two_versions: Path
) -> None:
    bare, url = remote
    canon = canonry.open(url)
    assert canon.library("mapping").tag == "mapping/v2"
    commit_entries(two_versions, mapping_entry("m4", "cold chain warehouse", "H52"))
    publish(two_versions)
    git(two_versions, "push", "-q", str(bare), "main", "refs/tags/mapping/v3")
    assert canonry.open(url).library("mapping").tag == "mapping/v3"
    # without a fetch at open, an unknown version is fetched when asked for
    commit_entries(two_versions, mapping_entry("m5", "bakery", "C10"))
    publish(two_versions)
    git(two_versions, "push", "-q", str(bare), "main", "refs/tags/mapping/v4")
    offline = canonry.open(url, fetch=False)
    assert offline.library("mapping", "v4")["m5"]["pattern"] == "bakery"


def test_remote_down_serves_the_last_fetched_state(remote: tuple[Path, str], daemon: Daemon) -> None:
    _bare, url = remote
    canonry.open(url).library("mapping")
    daemon.stop()
    with pytest.warns(canonry.StaleSourceWarning, match="serving the mirror as last fetched at"):
        canon = canonry.open(url)
    assert canon.library("mapping")["m0"]["confidence"] == 0.95


def test_remote_down_before_any_fetch_is_an_error(daemon: Daemon) -> None:
    url = daemon.url("knowledge.git")
    daemon.stop()
    with pytest.raises(canonry.RemoteError, match="cannot fetch"):
        canonry.open(url)
    assert not Mirror(url).path.exists()


def test_tag_moved_at_the_remote_is_refused(remote: tuple[Path, str]) -> None:
    bare, url = remote
    canonry.open(url).library("mapping")
    repo = Repository(bare)
    old = repo.ref_target("refs/tags/mapping/v1")
    main = repo.resolve_commit("main")
    moved = repo.create_tag_object("mapping/v1", main, "mapping/v1: moved\n", TAGGER)
    repo.update_refs([RefUpdate("refs/tags/mapping/v1", moved, old)], "move a published tag")
    with pytest.raises(canonry.TagMovedError, match="mapping/v1 moved") as caught:
        canonry.open(url)
    assert (caught.value.expected, caught.value.actual) == (old, moved)
    mirror = Repository(Mirror(url).path)
    assert mirror.ref_target("refs/tags/mapping/v1") == old  # the mirror kept what it had
    with pytest.raises(canonry.TagMovedError):
        canonry.open(url)  # and keeps refusing


def test_remote_history_rewritten(remote: tuple[Path, str], tmp_path: Path) -> None:
    bare, url = remote
    canonry.open(url).library("mapping")
    mirror = Repository(Mirror(url).path)
    before = mirror.resolve_commit("refs/heads/main")
    # main force-pushed to an unrelated history
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    git(other, "commit", "-q", "--allow-empty", "-m", "rewritten")
    git(other, "push", "-q", "--force", str(bare), "main:main")
    with pytest.warns(canonry.HistoryRewrittenWarning, match="refs/heads/main was rewritten"):
        canon = canonry.open(url)
    assert mirror.resolve_commit("refs/heads/main") == before
    assert canon.library("mapping").tag == "mapping/v2"  # published versions keep serving


def test_tag_deleted_at_the_remote_stays_in_the_mirror(remote: tuple[Path, str]) -> None:
    bare, url = remote
    canonry.open(url).library("mapping")
    git(bare, "update-ref", "-d", "refs/tags/mapping/v2")
    with pytest.warns(canonry.HistoryRewrittenWarning, match="mapping/v2 was deleted at the remote"):
        canon = canonry.open(url)
    assert canon.library("mapping").tag == "mapping/v2"


def _explode_pack(mirror: Path) -> None:
    """Turn the mirror's pack into loose objects (what a careless repack or copy could leave)."""
    [pack] = (mirror / "objects" / "pack").glob("*.pack")
    data = pack.read_bytes()
    for f in (mirror / "objects" / "pack").iterdir():
        f.unlink()
    subprocess.run(["git", f"--git-dir={mirror}", "unpack-objects", "-q"], input=data, check=True)


def test_truncated_loose_object_fails_fast_instead_of_hanging(remote: tuple[Path, str]) -> None:
    _bare, url = remote
    canon = canonry.open(url)
    blob = canon.library("mapping").blob_of("m1")
    mirror = Mirror(url).path
    _explode_pack(mirror)
    loose = mirror / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:-8])
    start = time.monotonic()
    with pytest.raises(canonry.CorruptObjectError, match=f"object {blob}: truncated"):
        canonry.open(url, fetch=False)
    assert time.monotonic() - start < 5


def test_truncated_pack_fails(remote: tuple[Path, str]) -> None:
    _bare, url = remote
    canonry.open(url)
    [pack] = (Mirror(url).path / "objects" / "pack").glob("*.pack")
    pack.chmod(0o644)
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    with pytest.raises(canonry.CorruptObjectError, match="does not match its index"):
        canonry.open(url, fetch=False)


def test_first_fetch_refuses_bad_objects(daemon: Daemon, tmp_path: Path) -> None:
    bare = daemon.base / "evil.git"
    git(daemon.base, "init", "-q", "--bare", bare.name)
    blob = git(bare, "hash-object", "-w", "--stdin", input="x\n")
    # a tree entry named `..`: git fsck --strict flags it; checking out such a tree is dangerous
    tree_bytes = b"100644 ..\0" + bytes.fromhex(blob)
    tree = (
        subprocess.run(
            ["git", "-C", str(bare), "hash-object", "-t", "tree", "--literally", "-w", "--stdin"],
            input=tree_bytes,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    commit = git(bare, "commit-tree", tree, "-m", "evil")
    git(bare, "update-ref", "refs/heads/main", commit)
    url = daemon.url("evil.git")
    with pytest.raises(canonry.CorruptObjectError):
        canonry.open(url)
    assert not Mirror(url).path.exists()
    assert not list((Mirror(url).path.parent).glob(".new-*"))


def test_interrupted_first_fetch_leaves_nothing_half_made(remote: tuple[Path, str]) -> None:
    _bare, url = remote
    mirror = Mirror(url)
    mirror.path.mkdir(parents=True)  # a folder without the state file: an interrupted creation
    (mirror.path / "junk").write_text("x")
    assert canonry.open(url).library("mapping").tag == "mapping/v2"
    assert not (mirror.path / "junk").exists()


def test_redact_hides_credentials() -> None:
    assert redact("https://user:secret@example.org/k.git") == "https://example.org/k.git"
    assert redact("https://token@example.org:8443/k.git") == "https://example.org:8443/k.git"
    assert redact("git://example.org/k.git") == "git://example.org/k.git"
    assert "secret" not in str(Mirror("https://user:secret@example.org/k.git").path)


def test_cache_inside_a_repository_is_refused(
    remote: tuple[Path, str], two_versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bare, url = remote
    monkeypatch.setenv("CANONRY_CACHE", str(two_versions / "cache-here"))
    with pytest.raises(canonry.CanonryError, match="not a git repository of its own"):
        canonry.open(url)
    shutil.rmtree(two_versions / "cache-here", ignore_errors=True)
