"""canonry.open on a path: library versions, reads by id, caching, snapshot, no silent downgrade.

The helpers the runtime tests share are in runtime_helpers.py, their fixtures in conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import canonry
import pytest
from canonry.store import entry_cache
from canonry.store.repo import Repository
from canonry.store.yamlio import dump_yaml
from conftest import git
from helpers import mapping_entry, write_text
from runtime_helpers import publish

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
    real = entry_cache.load_mapping

    def counting(data: bytes, source: str) -> object:
        parsed.append(source)
        return real(data, source)

    monkeypatch.setattr(entry_cache, "load_mapping", counting)
    monkeypatch.setattr(entry_cache, "_STORES", {})
    (Repository(two_versions).cache_dir() / "cache.sqlite3").unlink(missing_ok=True)
    lib = canonry.open(two_versions).library("mapping")
    assert lib["m2"]["sector_code"] == "Q86"
    assert parsed == ["knowledge/mapping/m2.yaml"]


def test_second_load_costs_no_parse_even_in_a_new_process(
    two_versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = entry_cache.load_mapping
    monkeypatch.setattr(entry_cache, "load_mapping", lambda d, s: parsed.append(s) or real(d, s))
    monkeypatch.setattr(entry_cache, "_STORES", {})
    monkeypatch.setattr(entry_cache, "_MEMO", {})  # other tests load the same trees in this process
    (Repository(two_versions).cache_dir() / "cache.sqlite3").unlink(missing_ok=True)
    canonry.open(two_versions).library("mapping").load()
    assert len(parsed) == 4
    canonry.open(two_versions).library("mapping").load()
    assert len(parsed) == 4  # the in-memory store, keyed by blob id
    monkeypatch.setattr(entry_cache, "_STORES", {})  # as a new process would start
    monkeypatch.setattr(entry_cache, "_MEMO", {})
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
