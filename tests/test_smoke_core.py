from __future__ import annotations

import json

from conftest import git, run
from helpers import mapping_entry, write_entry, write_text


def test_validate_passes_on_clean_repo(small_repo):
    result = run(["validate", "--repo", str(small_repo)])
    assert result.exit_code == 0
    assert "PASS" in result.stdout


def test_validate_reports_schema_error_with_line(small_repo):
    write_text(
        small_repo,
        "knowledge/mapping/m0.yaml",
        (small_repo / "knowledge/mapping/m0.yaml")
        .read_text()
        .replace("sector_code: C24", "sector_code: c24"),
    )
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.gate/v1"
    [finding] = doc["findings"]
    assert finding["gate"] == "schema" and finding["path"] == "knowledge/mapping/m0.yaml"
    text = (small_repo / "knowledge/mapping/m0.yaml").read_text().splitlines()
    assert text[finding["line"] - 1].startswith("sector_code:")


def test_gate_between_refs(small_repo):
    git(small_repo, "checkout", "-q", "-b", "draft/x")
    write_entry(small_repo, "mapping", mapping_entry("m9", "rebar", "C24"))
    write_text(small_repo, "knowledge/mapping/bad.yaml", "id: bad\nid: again\n")
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "draft")
    result = run(["gate", "--repo", str(small_repo), "--base", "main", "--head", "draft/x"])
    assert result.exit_code == 1
    assert "knowledge/mapping/bad.yaml:2:1: error: [yaml] duplicate key 'id'" in result.stdout


def test_draft_that_changes_a_schema_must_pass_old_and_new_rules(small_repo):
    git(small_repo, "checkout", "-q", "-b", "draft/tighten")
    schema_path = small_repo / "schemas/mapping.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["pattern"]["maxLength"] = 5  # existing "steel rebar" is longer
    schema_path.write_text(json.dumps(schema, indent=2))
    git(small_repo, "commit", "-q", "-am", "tighten pattern length")
    result = run(["gate", "--repo", str(small_repo), "--head", "draft/tighten", "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert any(
        f["gate"] == "schema" and f["path"] == "knowledge/mapping/m0.yaml" and "too long" in f["message"]
        for f in doc["findings"]
    )


def test_first_release_records_holdout_accuracy_in_the_tag(ref_repo):
    result = run(["release", "--repo", str(ref_repo), "--by", "publisher@example.org"])
    assert result.exit_code == 0
    shown = run(["show", "mapping@v1", "--repo", str(ref_repo), "--format", "json"])
    meta = json.loads(shown.stdout)["metadata"]
    assert meta["version"] == 1 and meta["parent"] is None
    assert meta["holdout"]["metric"] == "accuracy"
    holdout = meta["holdout"]
    assert holdout["cases"] >= 600 and 0.0 < holdout["value"] <= 1.0
    low, high = holdout["interval"]  # the 95% Wilson interval around the measured accuracy
    assert low < holdout["value"] < high
    assert "holdout" in meta["gates"]


def test_one_entry_by_id_through_the_recorded_index(small_repo):
    import canonry
    import pytest
    from canonry.store.entries import store_for

    lib = canonry.open(small_repo).library("mapping", "main")
    assert len(lib) == 3  # builds and records the index of this tree
    store = store_for(lib.state.repo)
    assert store.lookup_entry(lib.tree, "m1") == (lib.index["m1"].oid, 0o100644)
    assert store.lookup_entry(lib.tree, "nope") is None
    fresh = canonry.open(small_repo).library("mapping", "main")
    fresh._store = store
    assert fresh["m1"]["pattern"] == "cement plant"
    with pytest.raises(canonry.UnknownEntryError):
        fresh["nope"]
    assert store.lookup_entry("0" * 40, "m1") is False  # a tree never indexed: read it from git


def test_the_reference_knowledge_passes_every_gate_in_full(ref_repo):
    # Reference content and gates must agree: each check below the review gate, every entry.
    result = run(["gate", "--full", "--repo", str(ref_repo), "--format", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, [f for f in doc["findings"] if f["severity"] == "error"]
    assert set(doc["gates"]) >= {"duplicates", "conflicts", "scope", "holdout", "evidence", "append-only"}
    assert doc["metrics"]["entries"] > 1500
