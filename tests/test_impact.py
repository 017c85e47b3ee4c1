"""Impact on past runs: the entries each run read that changed since, in one pass over a folder of runs."""

from __future__ import annotations

import json
from pathlib import Path

import canonry
import pytest
from canonry.errors import RunRecordError
from canonry.publication import channels
from canonry.publication.audit import deprecate
from canonry.runtime.impact import impact
from canonry.runtime.reads import forget_reads, run_record
from canonry.store.repo import Repository
from conftest import git, run
from helpers import mapping_entry, write_entry
from runtime_helpers import STEWARD, add_signers, publish


@pytest.fixture
def three_versions(two_versions: Path) -> Path:
    """v1: m0 m1 m2; v2: m0 confidence 0.95, m3 added; v3: m1 removed, m2's sector changed."""
    (two_versions / "knowledge" / "mapping" / "m1.yaml").unlink()
    write_entry(two_versions, "mapping", mapping_entry("m2", "hospital", "Q87"))
    git(two_versions, "add", "-A")
    git(two_versions, "commit", "-q", "-m", "Drop m1, move m2", "-m", "Canonry-Reason: hospitals are Q87")
    publish(two_versions)
    return two_versions


def write_runs(path: Path, folder: Path) -> dict[str, Path]:
    """Three runs: one on v1 (reads m0, m1 and the absent m3), one on v1 (m2), one on v2 (m3)."""
    folder.mkdir()
    canon = canonry.open(str(path), allow_downgrade=True)
    out = {}
    lib = canon.library("mapping", "v1")
    lib["m0"], lib["m1"]
    assert lib.get("m3") is None
    out["a"] = folder / "a.json"
    out["a"].write_text(json.dumps(run_record(canon, run="run-a")))
    forget_reads(canon)
    canon.library("mapping", "v1")["m2"]
    out["b"] = folder / "b.json"
    out["b"].write_text(json.dumps(run_record(canon, run="run-b")))
    forget_reads(canon)
    canon.library("mapping", "v2")["m3"]
    out["c"] = folder / "c.json"
    out["c"].write_text(json.dumps(run_record(canon, run="run-c")))
    return out


def test_impact_lists_exactly_the_entries_that_changed(three_versions: Path, tmp_path: Path) -> None:
    records = write_runs(three_versions, tmp_path / "runs")
    snap = json.loads(records["a"].read_text())["libraries"]["mapping"]
    assert snap["tag"] == "mapping/v1" and snap["reads"]["all"] is False
    assert set(snap["reads"]["entries"]) == {"m0", "m1", "m3"} and snap["reads"]["entries"]["m3"] is None
    doc = impact(Repository(three_versions), [tmp_path / "runs"], ["mapping@v3"])
    assert doc["format"] == "canonry.impact/v1" and doc["to"]["mapping"]["tag"] == "mapping/v3"
    by_run = {r["run"]: r for r in doc["runs"]}
    a = by_run["run-a"]["libraries"]["mapping"]
    assert [h["entry_id"] for h in a["changed"]] == ["m0"]
    assert a["changed"][0]["fields"] == [
        {"field": "confidence", "path": "/confidence", "op": "replace", "old": 0.8, "new": 0.95}
    ]
    assert a["changed"][0]["commits"][0]["paths"] == ["/confidence"]
    assert [h["entry_id"] for h in a["removed"]] == ["m1"]
    assert [h["entry_id"] for h in a["added"]] == ["m3"]
    assert a["removed"][0]["commits"][0]["reason"] == "hospitals are Q87" or a["removed"][0]["commits"]
    b = by_run["run-b"]["libraries"]["mapping"]
    assert [(h["entry_id"], [f["path"] for f in h["fields"]]) for h in b["changed"]] == [
        ("m2", ["/sector_code"])
    ]
    assert by_run["run-b"]["affected"] and not by_run["run-c"]["affected"]
    # one diff per distinct (library, from, to): v1 and v2 -> v3, whatever the number of runs
    assert doc["summary"] == {"runs": 3, "affected": 2, "diffs": 2, "entries_explained": 4}

    result = run(["impact", str(tmp_path / "runs"), "--to", "mapping@v3", "--repo", str(three_versions)])
    assert result.exit_code == 1
    assert (
        "2 of 3 run(s) affected" in result.stdout and "changed: m0: /confidence 0.8 -> 0.95" in result.stdout
    )
    unaffected = run(["impact", str(records["c"]), "--to", "mapping@latest", "--repo", str(three_versions)])
    assert unaffected.exit_code == 0 and "0 of 1 run(s) affected" in unaffected.stdout
    as_json = run(["impact", str(records["b"]), "--to", "mapping@v3", "--format", "json", "--repo",
                   str(three_versions)])  # fmt: skip
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["summary"]["affected"] == 1


def test_deprecated_version_and_channel_target(three_versions: Path, tmp_path: Path) -> None:
    records = write_runs(three_versions, tmp_path / "runs")
    repo = Repository(three_versions)
    keys = add_signers(three_versions, tmp_path / "keys", [STEWARD])
    deprecate(repo, "mapping@v2", "m0 confidence too high", by=STEWARD, key=str(keys[STEWARD]))
    channels.set_channel(repo, "mapping", "stable", "v3", STEWARD, "v3 is stable", key=str(keys[STEWARD]))
    doc = impact(repo, [records["c"]], ["stable"])  # a bare channel: for every library of the runs
    lib = doc["runs"][0]["libraries"]["mapping"]
    assert doc["runs"][0]["affected"] and lib["deprecated"]["reason"] == "m0 confidence too high"
    assert lib["changed"] == lib["removed"] == lib["added"] == [] and lib["to"]["tag"] == "mapping/v3"


def test_bad_run_records_are_refused(three_versions: Path, tmp_path: Path) -> None:
    records = write_runs(three_versions, tmp_path / "runs")
    repo = Repository(three_versions)
    good = json.loads(records["a"].read_text())

    def attempt(doc: object, match: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(RunRecordError, match=match):
            impact(repo, [path], ["mapping@v3"])
        result = run(["impact", str(path), "--to", "mapping@v3", "--repo", str(three_versions)])
        assert result.exit_code == 2 and "bad.json" in result.stderr

    tampered = json.loads(json.dumps(good))
    tampered["libraries"]["mapping"]["commit"] = git(three_versions, "rev-parse", "mapping/v2^{commit}")
    attempt(tampered, "tampered")
    unknown_library = {**good, "libraries": {"maping": {**good["libraries"]["mapping"], "tag": "maping/v1"}}}
    attempt(unknown_library, "library 'maping'")
    unknown_version = json.loads(json.dumps(good))
    unknown_version["libraries"]["mapping"].update(tag="mapping/v9", version=9)
    attempt(unknown_version, "mapping/v9, which does not exist")
    disagree = json.loads(json.dumps(good))
    disagree["libraries"]["mapping"]["version"] = 2
    attempt(disagree, "disagree")
    attempt({"format": "canonry.run/v1", "libraries": {}}, "no libraries")
    bad_blob = json.loads(json.dumps(good))
    bad_blob["libraries"]["mapping"]["reads"]["entries"]["m0"] = "not-a-blob"
    attempt(bad_blob, "not a blob id")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RunRecordError, match="not a JSON run record"):
        impact(repo, [tmp_path / "bad.json"], ["mapping@v3"])
    with pytest.raises(RunRecordError, match="no such run record"):
        impact(repo, [tmp_path / "missing.json"], ["mapping@v3"])
