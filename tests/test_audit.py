"""The audit trail: log, explain, versions, deprecate, verify_tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canonry.publication import audit, publish, review, rollback
from canonry.store.commits import Provenance, commit_to_branch, parse_trailers
from canonry.store.repo import Repository
from canonry.store.yamlio import dump_yaml
from conftest import git, run
from flow_helpers import (
    MAPPER,
    OWNER,
    PUBLISHER,
    WORDS,
    approve,
    draft_commit,
    metadata,
    mpath,
    tags,
)
from helpers import mapping_entry


@pytest.fixture
def history(flow: Path) -> Path:
    """v1 (adds m9), v2 (an import raises m0's confidence), a rejected draft, a rollback as v3."""
    draft_commit(flow, "one", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")}, message="add rebar")
    approve(flow, "one")
    publish.publish(Repository(flow), "one", by=PUBLISHER)
    commit_to_branch(
        Repository(flow),
        "draft/two",
        {mpath("m0"): dump_yaml(mapping_entry("m0", WORDS[0], "C24", confidence=0.9)).encode()},
        "import ISIC update",
        Provenance("import", "importer@example.org", "yearly refresh", "isic-2026.csv"),
        start_from="main",
    )
    approve(flow, "two")
    publish.publish(Repository(flow), "two", by=PUBLISHER)
    draft_commit(flow, "bad", {mpath("m1"): mapping_entry("m1", WORDS[1], "C99")}, message="bad idea")
    review.reject(Repository(flow), "bad", MAPPER, "C99 does not exist")
    made = rollback.start_rollback(
        Repository(flow), "mapping", "v1", by=MAPPER, reason="the import was wrong"
    )
    approve(flow, made.draft)
    publish.publish(Repository(flow), made.draft, by=MAPPER)
    return flow


def test_log_lists_changes_publications_reviews(history: Path) -> None:
    result = run(["log", "--repo", str(history), "--library", "mapping", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.log/v1" and doc["library"] == "mapping"
    kinds = [r["kind"] for r in doc["records"]]
    assert kinds.count("publication") == 3 and kinds.count("review") == 4  # the rollback was reviewed too
    imported = next(r for r in doc["records"] if r["kind"] == "change" and r["source"] == "import")
    assert (imported["actor"], imported["source_ref"], imported["reason"]) == (
        "importer@example.org",
        "isic-2026.csv",
        "yearly refresh",
    )
    assert imported["entries"] == [{"library": "mapping", "entry_id": "m0", "change": "changed"}]
    rejection = next(r for r in doc["records"] if r["kind"] == "review" and r["decision"] == "reject")
    assert (rejection["actor"], rejection["reason"], rejection["draft"]) == (
        MAPPER,
        "C99 does not exist",
        "draft/bad",
    )
    rollback = next(r for r in doc["records"] if r["kind"] == "change" and r["source"] == "rollback")
    assert rollback["source_ref"] == "mapping/v1" and rollback["reason"] == "the import was wrong"
    # merges are not repeated: each change appears once, at the commit that made it
    changes = [r for r in doc["records"] if r["kind"] == "change"]
    assert len({r["commit"] for r in changes}) == len(changes) == 4
    assert [r["at"] for r in doc["records"]] == sorted((r["at"] for r in doc["records"]), reverse=True)


def test_log_text_and_entry_filter(history: Path) -> None:
    text = run(["log", "--repo", str(history)]).stdout
    assert "rejected draft/bad at" in text and "C99 does not exist" in text
    assert "published mapping/v2 by publisher@example.org, approved by mapper@example.org" in text
    doc = audit.log(Repository(history), entry="m9")
    changes = [r for r in doc["records"] if r["kind"] == "change"]
    assert [e["change"] for r in changes for e in r["entries"]] == ["added"]
    assert {r["tag"] for r in doc["records"] if r["kind"] == "publication"} == {"mapping/v1"}
    assert all(r["kind"] != "review" or r["draft"] == "draft/one" for r in doc["records"])


def test_explain_answers_why_a_number_changed(history: Path) -> None:
    doc = audit.explain(Repository(history), "m0")
    assert doc["format"] == "canonry.explain/v1" and doc["library"] == "mapping"
    confidence = [r for r in doc["changes"] if r["field"] == "confidence"]
    assert [(r["old"], r["new"], r["version"]) for r in confidence] == [
        (None, 0.8, "mapping/v1"),
        (0.8, 0.9, "mapping/v2"),
        (0.9, 0.8, "mapping/v3"),
    ]
    raised = confidence[1]
    assert (raised["actor"], raised["source"], raised["source_ref"], raised["reason"]) == (
        "importer@example.org",
        "import",
        "isic-2026.csv",
        "yearly refresh",
    )
    ranged = audit.explain(Repository(history), "m0", "mapping/v1", "mapping/v2")
    assert [(r["field"], r["old"], r["new"]) for r in ranged["changes"]] == [("confidence", 0.8, 0.9)]
    text = run(["explain", "--repo", str(history), "m0", "--from", "mapping/v2"]).stdout
    assert "m0 (mapping: steel rebar -> C24)" in text
    assert (
        "confidence: 0.9 -> 0.8" in text and "why: the import was wrong" in text and "-> mapping/v3" in text
    )
    missing = run(["explain", "--repo", str(history), "nope"])
    assert missing.exit_code == 2 and "no entry 'nope'" in missing.stderr


def test_versions_and_deprecation(history: Path) -> None:
    # issue 9: a deprecation is its library's steward's decision
    first = run(["deprecate", "--repo", str(history), "mapping@v2", "--reason", "bad import", "--by", MAPPER])
    assert first.exit_code == 0 and first.stdout == "deprecated mapping/v2: bad import\n"
    tag_object = git(history, "rev-parse", "mapping/v2")
    assert "bad import" in git(history, "notes", "--ref=refs/notes/canonry", "show", tag_object)
    assert git(history, "rev-parse", "mapping/v2") == tag_object  # the tag never changes
    trailers = parse_trailers(git(history, "log", "-1", "--format=%B", "refs/notes/canonry"))
    assert (trailers["Canonry-Source"], trailers["Canonry-Source-Ref"]) == ("deprecate", "mapping/v2")
    again = run(["deprecate", "--repo", str(history), "mapping@v2", "--reason", "other", "--by", MAPPER])
    assert again.exit_code == 0 and "already deprecated" in again.stderr
    doc = json.loads(run(["versions", "--repo", str(history), "mapping", "--format", "json"]).stdout)
    assert doc["format"] == "canonry.versions/v1"
    assert [r["tag"] for r in doc["versions"]] == ["mapping/v1", "mapping/v2", "mapping/v3"]
    assert doc["versions"][1]["deprecated"]["reason"] == "bad import"
    assert doc["versions"][2]["metadata"]["rollback_of"] == "mapping/v1"
    text = run(["versions", "--repo", str(history), "mapping"])
    assert "warning: mapping/v2 is deprecated: bad import" in text.stderr
    assert "rollback of mapping/v1" in text.stdout
    assert run(["deprecate", "--repo", str(history), "mapping", "--reason", "x"]).exit_code == 2
    assert run(["versions", "--repo", str(history), "nope"]).exit_code == 2
    record = next(r for r in audit.log(Repository(history))["records"] if r["kind"] == "deprecation")
    assert (record["tag"], record["actor"]) == ("mapping/v2", MAPPER)


# --- verify ---------------------------------------------------------------------------------------


def messages(repo: Path) -> list[str]:
    return [f.message for f in audit.verify_tags(Repository(repo))]


def test_verify_is_clean_after_publications(history: Path) -> None:
    assert messages(history) == []


def test_verify_finds_a_moved_tag(history: Path) -> None:
    body = git(history, "cat-file", "tag", "mapping/v1").split("\n\n", 1)[1]
    moved = git(
        history,
        "mktag",
        input=f"object {git(history, 'rev-parse', 'mapping/v2^{commit}')}\ntype commit\ntag mapping/v1\ntagger X <x@example.org> 1 +0000\n\n{body}\n",
    )
    git(history, "update-ref", "refs/tags/mapping/v1", moved)
    found = messages(history)
    assert any(
        "mapping/v1 moved: its commit's content is not the tree its metadata records" in m for m in found
    )
    assert any(m.startswith("mapping/v1 was published on") and "now names" in m for m in found)


def test_verify_finds_deleted_tags(history: Path) -> None:
    git(history, "tag", "-d", "mapping/v3")
    assert any("mapping/v3 was published by" in m and "tag is gone" in m for m in messages(history))
    git(history, "tag", "-d", "mapping/v1")
    assert "mapping/v1 is missing: numbers must be gapless" in messages(history)


def test_verify_finds_lightweight_misnamed_and_mislabelled_tags(history: Path) -> None:
    git(history, "tag", "mapping/v4", "main")
    assert "mapping/v4 is not an annotated tag: a version carries its metadata" in messages(history)
    git(history, "tag", "-d", "mapping/v4")
    git(history, "update-ref", "refs/tags/mapping/v4", git(history, "rev-parse", "mapping/v3"))
    found = messages(history)
    assert "mapping/v4 points at a tag object named 'mapping/v3'" in found
    assert "mapping/v4's metadata says mapping/v3" in found


def test_verify_finds_main_force_pushed(history: Path) -> None:
    git(history, "update-ref", "refs/heads/main", git(history, "rev-list", "--max-parents=0", "main"))
    found = messages(history)
    assert "mapping/v1 is not on main's history (was main force-pushed?)" in found


def test_verify_rechecks_content(history: Path) -> None:
    # a version tagged by hand, never gated, with an entry the schema refuses
    entry = dump_yaml(mapping_entry("m7", "shipyard", "c30")).encode()
    repo = Repository(history)
    commit = commit_to_branch(repo, "main", {mpath("m7"): entry}, "sneak", Provenance("user", OWNER, "x"))
    meta = dict(metadata(history, "mapping/v3"), version=4, parent="mapping/v3")
    meta["tree"] = git(history, "rev-parse", f"{commit}:knowledge/mapping")
    oid = git(
        history,
        "mktag",
        input=f"object {commit}\ntype commit\ntag mapping/v4\ntagger X <x@example.org> 1 +0000\n\nmapping/v4\n\n{dump_yaml(meta)}",
    )
    git(history, "update-ref", "refs/tags/mapping/v4", oid)
    found = messages(history)
    assert any(m.startswith("mapping/v4: knowledge/mapping/m7.yaml") and "[schema]" in m for m in found)
    assert tags(history)[-1] == "mapping/v4"
