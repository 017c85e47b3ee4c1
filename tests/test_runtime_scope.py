"""The runtime honours scope and confidence, and serves only what was published.

- WORKSPACE_ONLY entries reach only the workspace that owns them: canonry.open,
  export bundles (which record their scopes) and serve.
- Entries read at runtime carry effective confidence and band;
  defaults_for_sector leaves blocked defaults out and refuses unknown sectors.
- A tag re-created on another commit with its original message is refused
  without a lock (TagMovedError; serve answers 409, never cached).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import canonry
import pytest
from canonry.errors import TagMovedError, UnknownEntryError, UnknownSectorError
from canonry.runtime.api import Canon
from canonry.runtime.bundle import load_bundle, write_bundle
from canonry.runtime.serve import start
from canonry.store.repo import Identity, RefUpdate, Repository
from canonry.store.yamlio import dump_yaml
from conftest import git
from helpers import COMMON, write_entry
from live_server import SECRET, published_repo
from runtime_helpers import Client

TAGGER = Identity("Release Bot", "release@example.org")


@pytest.fixture
def repo(tmp_path: Path, private_cache: Path) -> Path:
    return published_repo(tmp_path / "repo")


# --- scope -----------------------------------------------------------------------------


def test_open_hides_workspace_only_entries_from_other_callers(repo: Path) -> None:
    lib = canonry.open(repo).library("mapping")
    assert "m4" not in lib and list(lib) == ["m0", "m1", "m2", "m3"] and len(lib) == 4
    with pytest.raises(UnknownEntryError):
        lib["m4"]
    assert lib.get("m4") is None and lib.blob_of("m4") is None
    assert all(e["pattern"] != SECRET for e in lib.load().values())
    other = canonry.open(repo, workspace="other").library("mapping")
    assert "m4" not in other and len(other) == 4
    acme = canonry.open(repo, workspace="acme").library("mapping")
    assert acme["m4"]["pattern"] == SECRET and len(acme) == 5 and "m4" in acme.load()


def test_export_leaves_them_out_and_records_scopes(repo: Path, tmp_path: Path) -> None:
    canon = Canon(Repository(repo), str(repo))
    out = io.StringIO()
    head = write_bundle(canon, "mapping@v2", out)
    assert head["scopes"] == ["GLOBAL_INTERNAL"] and head["workspace"] is None and head["entry_count"] == 4
    assert SECRET not in out.getvalue()
    path = tmp_path / "b.json"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert load_bundle(path).scopes == ["GLOBAL_INTERNAL"]
    out = io.StringIO()
    head = write_bundle(Canon(Repository(repo), str(repo), workspace="acme"), "mapping@v2", out)
    assert head["scopes"] == ["GLOBAL_INTERNAL", "WORKSPACE_ONLY"] and head["workspace"] == "acme"
    assert SECRET in out.getvalue()


def test_a_bundle_that_lies_about_its_scopes_is_refused(repo: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    write_bundle(Canon(Repository(repo), str(repo), workspace="acme"), "mapping@v2", out)
    doc = json.loads(out.getvalue())
    doc["scopes"] = ["GLOBAL_INTERNAL"]
    from canonry.runtime.bundle import bundle_digest

    doc["sha256"] = bundle_digest(doc)  # recomputed: the digests alone would not catch it
    path = tmp_path / "lie.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(canonry.errors.VerificationError, match="scopes"):
        load_bundle(path)


def test_serve_hides_them_unless_started_for_the_workspace(repo: Path) -> None:
    for workspace, visible in ((None, False), ("other", False), ("acme", True)):
        running = start(Canon(Repository(repo), str(repo), workspace=workspace))
        try:
            client = Client(running.port)
            status, _h, doc = client.get("/libraries/mapping/versions/v2/entries/m4")
            assert status == (200 if visible else 404), (workspace, doc)
            _s, _h, entries = client.get("/libraries/mapping/versions/v2/entries")
            assert ("m4" in [e["id"] for e in entries["entries"]]) is visible
            _s, _h, diff = client.get("/diff?from=mapping@v1&to=mapping@v2")
            text = json.dumps(diff)
            assert ("m4" in diff["libraries"]["mapping"]["added_entry_ids"]) is visible
            assert (SECRET in text) is visible
            _s, _h, page = client.request("/ui/libraries/mapping/versions/v2")
            assert (SECRET.encode() in page or b"m4" in page) is visible
        finally:
            running.stop()


# --- confidence ------------------------------------------------------------------------


def test_entries_carry_effective_confidence_and_band(repo: Path) -> None:
    lib = canonry.open(repo).library("mapping")
    entry = lib["m0"]
    assert entry.effective_confidence is not None and entry.band in (
        "trusted",
        "standard",
        "caution",
        "blocked",
    )
    assert entry.effective_confidence == lib.confidence("m0").value
    assert entry.band == lib.confidence("m0").band
    assert all(e.band is not None for e in lib.load().values())


def assumption(entry_id: str, sector: str | None, confidence: float, kind: str = "IMPORT_SHARE") -> dict:
    return {
        "id": entry_id,
        **COMMON,
        "assumption_type": kind,
        "sector_code": sector,
        "default": 0.3,
        "unit": "share",
        "confidence": confidence,
        "basis": "expert",
        "evidence_override_ids": [],
    }


def test_defaults_for_sector_leaves_blocked_out_and_refuses_unknown_sectors(repo: Path) -> None:
    write_entry(repo, "assumptions", assumption("a0", "F41", 0.1))  # blocked band
    write_entry(repo, "assumptions", assumption("a1", None, 0.95))  # economy-wide, trusted
    write_entry(repo, "assumptions", assumption("a2", "F41", 0.95, kind="LABOUR_SHARE"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "assumptions")
    lib = Canon(Repository(repo), str(repo)).library("assumptions", "main")
    assert lib["a0"].band == "blocked"
    ids = [e["id"] for e in lib.defaults_for_sector("F41", "IMPORT_SHARE")]
    assert ids == ["a1"]  # the blocked own default is left out; the economy-wide one stands in
    ids = [e["id"] for e in lib.defaults_for_sector("F41", "IMPORT_SHARE", include_blocked=True)]
    assert ids == ["a0"]
    assert [e["id"] for e in lib.defaults_for_sector("F41")] == ["a2", "a1"]  # its own first
    for bad in ("Z99", "F40", "C34", "f41", "F4", "", "F41 "):
        with pytest.raises(UnknownSectorError):
            lib.defaults_for_sector(bad)


# --- what is served is what was published ---------------------------------------------


def recreate_tag_elsewhere(repo: Path, tag: str = "mapping/v2", on_main: bool = False) -> str:
    """Point tag at a new commit off main, with the tag's original message; the new tag object."""
    r = Repository(repo)
    old = r.ref_target(f"refs/tags/{tag}")
    assert old is not None
    info = r.tag(old)
    assert info is not None
    git(repo, "checkout", "-q", "-b", "forged")
    forged = {"id": "m1", **COMMON, "pattern": "cement plant", "language": "en", "sector_code": "K64"}
    forged |= {"confidence": 0.99, "evidence": {"kind": "steward", "reference": None, "override_ids": []}}
    (repo / "knowledge" / "mapping" / "m1.yaml").write_text(dump_yaml(forged), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "forged")
    git(repo, "checkout", "-q", "main")
    commit = r.resolve_commit("refs/heads/forged")
    new = r.create_tag_object(tag, commit, info.message, TAGGER)
    r.update_refs([RefUpdate(f"refs/tags/{tag}", new, old)], "re-create the tag")
    return new


def test_a_recreated_tag_is_refused_without_a_lock(repo: Path) -> None:
    canonry.open(repo).library("mapping", "v2")["m1"]  # fine before
    recreate_tag_elsewhere(repo)
    with pytest.raises(TagMovedError, match="mapping/v2 moved"):
        canonry.open(repo).library("mapping", "v2")
    with pytest.raises(TagMovedError):
        canonry.open(repo).library("mapping")  # latest is v2
    v1 = canonry.open(repo, allow_downgrade=True).library("mapping", "v1")
    assert v1["m1"]["sector_code"] == "C23"


def test_a_recreated_tag_with_the_same_tree_off_main_is_refused(repo: Path) -> None:
    r = Repository(repo)
    old = r.ref_target("refs/tags/mapping/v1")
    assert old is not None and (info := r.tag(old)) is not None
    git(repo, "checkout", "-q", "-b", "side", "mapping/v1")
    (repo / "NOTES.md").write_text("side\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "same library, another commit, off main")
    git(repo, "checkout", "-q", "main")
    new = r.create_tag_object("mapping/v1", r.resolve_commit("refs/heads/side"), info.message, TAGGER)
    r.update_refs([RefUpdate("refs/tags/mapping/v1", new, old)], "re-create")
    with pytest.raises(TagMovedError, match="not on main"):
        canonry.open(repo).library("mapping", "v1")


def test_serve_answers_409_and_never_caches_it(repo: Path) -> None:
    running = start(Canon(Repository(repo), str(repo)))
    try:
        client = Client(running.port)
        assert client.get("/libraries/mapping/versions/v2")[0] == 200
        new = recreate_tag_elsewhere(repo)
        for path in (
            "/libraries/mapping/versions/v2",
            "/libraries/mapping/versions/latest/entries/m1",
            "/libraries/mapping/versions/v2/entries",
            "/diff?from=mapping@v1&to=mapping@v2",
            "/ui/libraries/mapping/versions/v2",
        ):
            status, headers, body = client.request(path, headers={"If-None-Match": f'"{new}"'})
            assert status == 409, (path, status, body)
            assert headers["Cache-Control"] == "no-store" and b"moved" in body
            assert "immutable" not in headers["Cache-Control"] and "ETag" not in headers
    finally:
        running.stop()
