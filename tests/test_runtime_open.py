"""canonry.open on a path: library versions, reads by id, caching, snapshot, no silent downgrade.

Also the helpers the other runtime tests share (published versions, a git daemon).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import canonry
import pytest
from canonry.store import entries as entries_module
from canonry.store.repo import Identity, RefUpdate, Repository
from canonry.store.yamlio import dump_yaml
from conftest import git
from helpers import mapping_entry, write_entry, write_text

TAGGER = Identity("Release Bot", "release@example.org")
WHEN = 1768471200  # 2026-01-15T10:00:00Z


# --- shared helpers (imported by the other runtime test files) --------------------------


def tag_message(repo: Repository, library: str, number: int, commit: str, **extra: object) -> str:
    tree = repo.subtree(repo.tree_of(commit), f"knowledge/{library}")
    meta = {
        "library": library,
        "version": number,
        "parent": f"{library}/v{number - 1}" if number > 1 else None,
        "published_at": "2026-01-15T10:00:00Z",
        "published_by": TAGGER.email,
        "tree": tree,
        **extra,
    }
    return f"{library}/v{number}: test publication\n\n{dump_yaml(meta)}"


def publish(
    path: Path, library: str = "mapping", number: int | None = None, ref: str = "refs/heads/main"
) -> str:
    """Tag `ref` as the next version of library (annotated, metadata in the message); the tag object id."""
    repo = Repository(path)
    if number is None:
        number = 1 + len(repo.refs(f"refs/tags/{library}/v"))
    commit = repo.resolve_commit(ref)
    oid = repo.create_tag_object(
        f"{library}/v{number}", commit, tag_message(repo, library, number, commit), TAGGER, when=WHEN
    )
    repo.update_refs([RefUpdate(f"refs/tags/{library}/v{number}", oid, None)], "test publish")
    return oid


def commit_entries(path: Path, *entries: dict[str, object], message: str = "change") -> None:
    for entry in entries:
        write_entry(path, "mapping", entry)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)


@pytest.fixture
def two_versions(small_repo: Path) -> Path:
    """small_repo with mapping/v1 (m0..m2) and mapping/v2 (m0 changed, m3 added)."""
    publish(small_repo)
    commit_entries(
        small_repo,
        mapping_entry("m0", "steel rebar", "C24", confidence=0.95),
        mapping_entry("m3", "desalination plant", "E36"),
    )
    publish(small_repo)
    return small_repo


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder per test: mirrors and watermarks never leak between tests."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CANONRY_CACHE", str(cache))
    return cache


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    base: Path
    port: int
    proc: subprocess.Popen[bytes] | None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None:
            # the daemon runs in a session of its own: end it and its per-connection children
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """`git daemon` serving the bare repositories under a folder on 127.0.0.1 (a free port)."""
    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    proc = subprocess.Popen(
        [
            os.path.join(exec_path, "git-daemon"),
            "--reuseaddr",
            "--export-all",
            "--informative-errors",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    served = Daemon(base, port, proc)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                served.stop()
                raise RuntimeError("git daemon did not start") from None
            time.sleep(0.05)
    yield served
    served.stop()


def bare_copy(source: Path, dest: Path) -> Path:
    """A bare repository with every ref of source (branches, tags, notes)."""
    git(dest.parent, "init", "-q", "--bare", dest.name)
    git(source, "push", "-q", "--mirror", str(dest))
    return dest


# --- opening a path ---------------------------------------------------------------------


def test_library_latest_and_by_version(two_versions: Path) -> None:
    canon = canonry.open(two_versions)
    latest = canon.library("mapping")
    assert (latest.version, latest.tag) == (2, "mapping/v2")
    assert len(latest) == 4 and list(latest) == ["m0", "m1", "m2", "m3"]
    assert latest["m0"]["confidence"] == 0.95
    assert latest.commit == Repository(two_versions).resolve_commit("mapping/v2")


def test_versions_by_every_selector(two_versions: Path) -> None:
    canon = canonry.open(two_versions, allow_downgrade=True)
    assert canon.library("mapping", 1).tag == "mapping/v1"
    assert canon.library("mapping", "v1").tag == "mapping/v1"
    assert canon.library("mapping", "1")["m0"]["confidence"] == 0.8
    assert "m3" not in canon.library("mapping", "v1")
    assert canon.library("mapping", "main").tag is None  # any git ref works too


def test_unknown_library_version_and_entry(two_versions: Path) -> None:
    canon = canonry.open(two_versions)
    with pytest.raises(canonry.UnknownVersionError):
        canon.library("mapping", "v9")
    with pytest.raises(canonry.UnknownLibraryError):
        canon.library("nonexistent", "main")
    lib = canon.library("mapping")
    with pytest.raises(canonry.UnknownEntryError):
        lib["no-such-entry"]
    assert lib.get("no-such-entry") is None
    with pytest.raises(canonry.UnknownEntryError):
        lib["../schemas/libraries"]  # never a path


def test_entry_by_id_parses_only_that_entry(two_versions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = entries_module.load_mapping

    def counting(data: bytes, source: str) -> object:
        parsed.append(source)
        return real(data, source)

    monkeypatch.setattr(entries_module, "load_mapping", counting)
    monkeypatch.setattr(entries_module, "_STORES", {})
    (Repository(two_versions).cache_dir() / "cache.sqlite3").unlink(missing_ok=True)
    lib = canonry.open(two_versions).library("mapping")
    assert lib["m2"]["sector_code"] == "Q86"
    assert parsed == ["knowledge/mapping/m2.yaml"]


def test_second_load_costs_no_parse_even_in_a_new_process(
    two_versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = entries_module.load_mapping
    monkeypatch.setattr(entries_module, "load_mapping", lambda d, s: parsed.append(s) or real(d, s))
    monkeypatch.setattr(entries_module, "_STORES", {})
    monkeypatch.setattr(entries_module, "_MEMO", {})  # other tests load the same trees in this process
    (Repository(two_versions).cache_dir() / "cache.sqlite3").unlink(missing_ok=True)
    canonry.open(two_versions).library("mapping").load()
    assert len(parsed) == 4
    canonry.open(two_versions).library("mapping").load()
    assert len(parsed) == 4  # the in-memory store, keyed by blob id
    monkeypatch.setattr(entries_module, "_STORES", {})  # as a new process would start
    monkeypatch.setattr(entries_module, "_MEMO", {})
    canonry.open(two_versions).library("mapping").load()
    assert len(parsed) == 4  # the shared on-disk cache under .git/canonry


def test_entries_and_library_are_read_only(two_versions: Path) -> None:
    lib = canonry.open(two_versions).library("mapping")
    entry = lib["m0"]
    with pytest.raises(TypeError):
        entry["confidence"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        lib["m9"] = entry  # type: ignore[index]
    with pytest.raises(TypeError):
        entry["evidence"]["kind"] = "x"  # type: ignore[index]
    copy = entry.to_dict()
    copy["confidence"] = 0.1
    assert lib["m0"]["confidence"] == 0.95


def test_confidence_and_defaults_for_sector(small_repo: Path) -> None:
    common = {
        k: v for k, v in mapping_entry("x", "x", "C24").items() if k not in ("id", "pattern", "language")
    }
    for entry in (
        {**common, "id": "a1", "assumption_type": "IMPORT_SHARE", "sector_code": "F41", "default": 0.4},
        {**common, "id": "a2", "assumption_type": "IMPORT_SHARE", "sector_code": None, "default": 0.3},
        {**common, "id": "a3", "assumption_type": "JOBS_COEFF", "sector_code": None, "default": 2.0},
    ):
        write_text(small_repo, f"knowledge/assumptions/{entry['id']}.yaml", dump_yaml(entry))
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "assumptions")
    publish(small_repo, "mapping")
    publish(small_repo, "assumptions")
    canon = canonry.open(small_repo)
    ids = [e["id"] for e in canon.library("assumptions").defaults_for_sector("F41")]
    assert ids == ["a1", "a3"]  # its own import share first, the economy-wide one it lacks after
    conf = canon.library("mapping").confidence("m0", at="2026-01-15T10:00:00Z")
    assert conf.value == pytest.approx(0.8 * 0.95) and conf.band == "standard"


def test_snapshot_names_what_was_served(two_versions: Path) -> None:
    canon = canonry.open(two_versions)
    lib = canon.library("mapping")
    tag_object = Repository(two_versions).ref_target("refs/tags/mapping/v2")
    assert canon.snapshot() == {
        "mapping": {
            "tag": "mapping/v2",
            "version": 2,
            "tag_object": tag_object,
            "commit": lib.commit,
            "tree": lib.tree,
        }
    }


# --- no silent downgrade ------------------------------------------------------------------


def test_no_silent_downgrade(two_versions: Path) -> None:
    canonry.open(two_versions).library("mapping")  # sees v2
    canon = canonry.open(two_versions)
    with pytest.raises(canonry.DowngradeError, match="mapping/v1 is below mapping/v2"):
        canon.library("mapping", "v1")
    assert canon.library("mapping", "v1", allow_downgrade=True).version == 1
    assert canonry.open(two_versions, allow_downgrade=True).library("mapping", 1).version == 1


def test_deleted_latest_tag_is_a_downgrade(two_versions: Path) -> None:
    canonry.open(two_versions).library("mapping")  # sees v2
    git(two_versions, "update-ref", "-d", "refs/tags/mapping/v2")
    with pytest.raises(canonry.DowngradeError):
        canonry.open(two_versions).library("mapping")  # latest is v1 now


def test_watermark_is_per_consumer(two_versions: Path, tmp_path: Path) -> None:
    canonry.open(two_versions).library("mapping")  # a consumer without a lock saw v2
    from canonry.runtime.pins import Lock, pin, write_lock

    repo = Repository(two_versions)
    lock, _ = pin(repo, ["mapping@v1"], None, str(two_versions))
    write_lock(tmp_path / "other.lock", lock)
    # another consumer (its own lock) pinned v1 and is not held back by the first
    assert canonry.open(two_versions, lock=tmp_path / "other.lock").library("mapping").version == 1
    assert isinstance(lock, Lock)


def test_damaged_watermark_warns_and_starts_afresh(two_versions: Path, private_cache: Path) -> None:
    canonry.open(two_versions).library("mapping")
    [state] = (private_cache / "watermarks").glob("*.json")
    state.write_text("{not json")
    with pytest.warns(canonry.CanonryWarning, match="damaged"):
        assert canonry.open(two_versions).library("mapping", "v1").version == 1
