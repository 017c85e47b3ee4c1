"""The learners (mapping, scenario patterns, assumptions, workforce), the evidence gate and confidence."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import canonry
import pytest
from canonry.errors import InputError, UnknownSectorError
from canonry.gates.engine import run_gates
from canonry.learning.mapping import learn_mapping
from canonry.learning.scenarios import cosine, learn_scenario
from canonry.store.commits import Provenance, commit_to_branch, parse_trailers
from canonry.store.repo import Repository
from canonry.store.yamlio import dump_yaml, load_yaml
from conftest import git, run
from helpers import COMMON, mapping_entry, write_entry

NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def override(
    oid: str, text: str, final: str, suggested: str | None = None, entry: str | None = None
) -> dict[str, Any]:
    doc = {
        "id": oid,
        **COMMON,
        "text": text,
        "suggested_code": suggested,
        "final_code": final,
        "engagement_id": f"ENG-{oid}",
        "steward": "steward@example.org",
        "overridden_at": "2026-01-10T00:00:00Z",
    }
    if entry:
        doc["suggested_entry_id"] = entry
    return doc


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def add_overrides(repo: Path, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        write_entry(repo, "overrides", doc)
    commit_all(repo, "overrides arrive")


def branch_file(repo: Path, branch: str, path: str) -> dict[str, Any]:
    return load_yaml(git(repo, "show", f"{branch}:{path}"))


# small_repo: m0 steel rebar -> C24, m1 cement plant -> C23, m2 hospital -> Q86
OVERRIDES = [
    override("o1", "Seawater reverse osmosis", "E36"),
    override("o2", "seawater  reverse-osmosis", "E36"),
    override("o3", "gas turbine", "C28"),
    override("o4", "gas turbine", "D35"),
    override("o5", "hospital car park", "F41", "Q86", "m2"),
    override("o6", "hospital car park", "F41", "Q86", "m2"),
    override("o7", "steel rebar supply", "C24", "C24", "m0"),
    override("o8", "steel rebar", "C24", "C24", "m0"),
    override("o9", "casino resort", "C99"),
    override("o10", "date packing", "C10", "C11", "gone"),
]


@pytest.fixture
def learning_repo(small_repo: Path) -> Path:
    add_overrides(small_repo, OVERRIDES)
    return small_repo


# --- learn mapping ---------------------------------------------------------------------------------------


def test_learn_mapping_drafts_patterns_and_confidence(learning_repo: Path) -> None:
    repo = Repository(learning_repo)
    learned = learn_mapping(repo, now=NOW)
    report = learned.report()
    assert report["draft"] == f"draft/learn-mapping-{repo.resolve_commit('main')[:8]}"
    added = {a["pattern"]: (a["sector_code"], a["override_ids"], a["confidence"]) for a in report["added"]}
    # the shortest phrase the corrections of one code share, not their whole text
    assert added == {
        "reverse osmosis": ("E36", ["o1", "o2"], 0.7),
        "car park": ("F41", ["o5", "o6"], 0.7),
    }
    changed = {c["id"]: (c["old"], c["new"], c["direction"]) for c in report["changed"]}
    assert changed == {"m0": (0.8, 0.85, "raised"), "m2": (0.8, 0.7, "lowered")}
    reasons = {(s["reason"], s.get("override_id") or s.get("text")) for s in report["skipped"]}
    assert ("contradiction", "gas turbine") in reasons
    assert ("unknown_code", "o9") in reasons
    assert ("unknown_entry", "o10") in reasons
    # the draft: one commit with provenance, entries valid, evidence cited
    commit = repo.commit(learned.draft.commit or "")
    trailers = parse_trailers(commit.message)
    assert trailers["Canonry-Source"] == "learn"
    assert trailers["Canonry-Source-Ref"] == f"{repo.resolve_commit('main')}:knowledge/overrides"
    assert commit.parents == (repo.resolve_commit("main"),)
    m2 = branch_file(
        learning_repo, "draft/learn-mapping-" + repo.resolve_commit("main")[:8], "knowledge/mapping/m2.yaml"
    )
    assert m2["confidence"] == 0.7 and m2["evidence"]["override_ids"] == ["o5", "o6"]
    result = run_gates(repo, "main", learned.draft.branch or "")
    assert result.ok, [f.message for f in result.errors]
    assert any("no holdout set at main" in f.message for f in result.warnings)
    assert result.metrics["overrides_ingested"]["mapping"] == 6  # o1 o2 o5 o6 o7 o8


def test_learning_twice_proposes_nothing_new(learning_repo: Path) -> None:
    learned = learn_mapping(Repository(learning_repo), now=NOW)
    git(learning_repo, "merge", "-q", "--ff-only", learned.draft.branch or "")
    again = learn_mapping(Repository(learning_repo), now=NOW)
    assert again.added == [] and again.changed == []
    assert again.draft.branch is None
    assert again.overrides_considered == 3  # o3 o4 (contradiction) and o10 (alone) stay in the backlog


def test_min_frequency_and_since(learning_repo: Path) -> None:
    repo = Repository(learning_repo)
    assert learn_mapping(repo, min_frequency=3, dry_run=True).added == []
    git(learning_repo, "tag", "-a", "mapping/v1", "-m", "v1")
    add_overrides(learning_repo, [override("p1", "gas turbine", "D35"), override("p2", "gas turbine", "D35")])
    learned = learn_mapping(repo, since="v1", dry_run=True)
    assert [a["pattern"] for a in learned.added] == ["gas turbine"]
    assert learned.added[0]["override_ids"] == ["p1", "p2"]
    # without --since the older contradicting override counts as dissent
    everything = learn_mapping(repo, dry_run=True)
    gas = next(a for a in everything.added if a["pattern"] == "gas turbine")
    assert gas["dissent"] == {"C28": ["o3"]} and gas["confidence"] < 0.7


def test_existing_pattern_is_not_duplicated(learning_repo: Path) -> None:
    add_overrides(
        learning_repo, [override("q1", "Cement plant", "C23"), override("q2", "cement plant", "C23")]
    )
    learned = learn_mapping(Repository(learning_repo), dry_run=True)
    assert "cement plant" not in [a["pattern"].lower() for a in learned.added]
    assert any(c["id"] == "m1" and c["direction"] == "raised" for c in learned.changed)
    add_overrides(learning_repo, [override("r1", "hospital", "F41"), override("r2", "hospital", "F41")])
    learned = learn_mapping(Repository(learning_repo), dry_run=True)
    assert any(s["reason"] == "conflicts_with_existing" and s["text"] == "hospital" for s in learned.skipped)


def test_learned_phrases_are_the_shortest_shared_and_outweigh_dissent(small_repo: Path) -> None:
    add_overrides(
        small_repo,
        [
            override("d1", "Seawater desalination plant for Jubail", "E36"),
            override("d2", "New seawater desalination plant at Rabigh", "E36"),
            override("d3", "Desalination plant pumps", "C28"),
            override("d4", "Valves for a desalination plant", "C28"),
        ],
    )
    learned = learn_mapping(Repository(small_repo), dry_run=True)
    added = {a["pattern"]: (a["sector_code"], a["override_ids"]) for a in learned.added}
    # "desalination plant" is shorter but matches two C28 corrections as well: a tie, not a pattern
    assert added == {"seawater desalination": ("E36", ["d1", "d2"])}
    reasons = {(s["reason"], s.get("text")) for s in learned.skipped}
    assert ("contradiction", "desalination plant") in reasons
    assert any(
        s["reason"] == "no_shared_phrase" and s["override_ids"] == ["d3", "d4"] for s in learned.skipped
    )


def test_each_proposal_reports_its_holdout_effect(small_repo: Path) -> None:
    (small_repo / "knowledge/holdout").mkdir(parents=True)
    (small_repo / "knowledge/holdout/mapping.yaml").write_text(
        "cases:\n"
        "  - text: Desalination of seawater for the new city\n    expected: E36\n"
        "  - text: Seawater desalination pumps factory\n    expected: C28\n"
        "  - text: Regional hospital\n    expected: Q86\n",
        encoding="utf-8",
    )
    add_overrides(
        small_repo,
        [
            override("d1", "Seawater desalination plant for Jubail", "E36"),
            override("d2", "New seawater desalination works at Rabigh", "E36"),
        ],
    )
    learned = learn_mapping(Repository(small_repo), dry_run=True)
    [added] = learned.added
    assert added["pattern"] == "seawater desalination"
    assert added["holdout_changes"] == {"cases": 2, "to_correct": 1, "to_wrong": 0}


def test_learn_mapping_cli_prints_diff_and_holdout(learning_repo: Path) -> None:
    (learning_repo / "knowledge/holdout").mkdir(parents=True)
    (learning_repo / "knowledge/holdout/mapping.yaml").write_text(
        "cases:\n  - text: Expansion of a seawater reverse osmosis plant\n    expected: E36\n"
        "  - text: Supply of steel rebar\n    expected: C24\n"
    )
    commit_all(learning_repo, "holdout")
    result = run(["learn", "mapping", "--repo", str(learning_repo), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.learn/v1"
    assert doc["diff"]["libraries"]["mapping"]["added_entry_ids"]
    holdout = doc["holdout"]["metrics"]["mapping"]
    assert (holdout["baseline"], holdout["value"]) == (0.5, 1.0)
    text = run(["learn", "mapping", "--repo", str(learning_repo), "--draft", "again"])
    assert "holdout mapping: accuracy 0.5000 -> 1.0000 [95% 0.342-1.000] (+0.5000) on 2 cases" in text.stdout
    assert (
        "'gas turbine': overrides disagree at equal frequency (C28, D35, 1 each): no pattern" in text.stdout
    )


# --- the evidence gate ------------------------------------------------------------------------------------


def learned_entry(entry_id: str, pattern: str, code: str, ids: list[str]) -> dict[str, Any]:
    doc = mapping_entry(entry_id, pattern, code)
    doc["evidence"] = {"kind": "overrides", "reference": None, "override_ids": ids}
    return doc


def draft_with(repo: Path, name: str, docs: list[dict[str, Any]]) -> str:
    changes = {f"knowledge/mapping/{d['id']}.yaml": dump_yaml(d).encode() for d in docs}
    prov = Provenance("user", "steward@example.org", "test")
    return commit_to_branch(Repository(repo), f"draft/{name}", changes, name, prov, start_from="main")


def test_evidence_gate(learning_repo: Path) -> None:
    draft_with(
        learning_repo,
        "weak",
        [
            learned_entry("n1", "reverse osmosis", "E36", ["o1"]),
            learned_entry("n2", "car park", "F41", ["o5", "nope"]),
            learned_entry("n3", "turbine", "C28", ["o3", "o4"]),
        ],
    )
    result = run_gates(Repository(learning_repo), "main", "draft/weak", gates=["evidence"])
    messages = sorted((f.entry_id, f.message) for f in result.errors)
    assert messages == [
        ("n1", "learned from 1 override(s) that chose E36; policy.min_override_frequency needs 2"),
        ("n2", "cites override nope, which is not in the overrides library"),
        ("n2", "learned from 1 override(s) that chose F41; policy.min_override_frequency needs 2"),
        (
            "n3",
            "learned from 1 override(s) that chose C28; policy.min_override_frequency needs 2;"
            " cited overrides that chose another code: o4",
        ),
    ]
    draft_with(learning_repo, "strong", [learned_entry("n4", "reverse osmosis", "E36", ["o1", "o2"])])
    result = run_gates(Repository(learning_repo), "main", "draft/strong", gates=["evidence"])
    assert result.ok
    assert result.metrics["overrides_ingested"] == {"mapping": 2}


# --- scenario patterns --------------------------------------------------------------------------------------


SOLAR = "solar-pv"


def scenario_file(tmp_path: Path, scenario: str, shares: dict[str, float], **extra: Any) -> Path:
    doc = {
        "engagement_id": "ENG-2026-001",
        "scenario": scenario,
        "project_type": SOLAR,
        "sector_shares": shares,
        "phasing": [0.5, 0.5],
        "import_share": 0.6,
        **extra,
    }
    path = tmp_path / f"{scenario.replace(' ', '-')}.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return path


def test_scenario_merges_into_a_similar_pattern(ref_repo: Path, tmp_path: Path) -> None:
    shares = {"C25": 0.1, "C27": 0.5, "F42": 0.2, "F43": 0.1, "M71": 0.1}
    learned = learn_scenario(Repository(ref_repo), scenario_file(tmp_path, "PV 800 MW", shares), now=NOW)
    assert learned.action == "merged" and learned.similarity and learned.similarity >= 0.8
    entry = learned.entry
    assert entry["name"] == "Utility-scale solar PV plant"
    assert entry["usage_count"] == 13
    assert entry["sector_shares"]["C27"] == pytest.approx((12 * 0.45 + 0.5) / 13, abs=1e-6)
    assert sum(entry["sector_shares"].values()) == pytest.approx(1.0, abs=1e-9)
    lineage = entry["lineage"]
    assert lineage["contributing_engagements"][-1] == "ENG-2026-001"
    assert lineage["contributing_scenarios"][-1] == "PV 800 MW"
    assert lineage["merge_history"][-1]["merged_scenario"] == "PV 800 MW"
    assert lineage["merge_history"][-1]["similarity"] == learned.similarity
    result = run_gates(Repository(ref_repo), "main", learned.draft.branch or "")
    assert result.ok, [f.message for f in result.findings]


def test_dissimilar_scenario_becomes_a_new_pattern(ref_repo: Path, tmp_path: Path) -> None:
    shares = {"F41": 0.7, "L68": 0.3}
    path = scenario_file(
        tmp_path, "rooftop", shares, sanitized_for_promotion=True, name="Rooftop solar programme"
    )
    learned = learn_scenario(Repository(ref_repo), path, now=NOW)
    assert learned.action == "created"
    assert learned.similarity is not None and learned.similarity < 0.8
    assert learned.entry["usage_count"] == 1
    assert learned.entry["lineage"] == {
        "contributing_engagements": ["ENG-2026-001"],
        "contributing_scenarios": ["rooftop"],
        "merge_history": [],
    }
    assert run_gates(Repository(ref_repo), "main", learned.draft.branch or "").ok


def test_a_new_pattern_keeps_its_sources_scope(ref_repo: Path, tmp_path: Path) -> None:
    shares = {"F41": 0.7, "L68": 0.3}
    unsanitised = scenario_file(tmp_path, "rooftop", shares, reuse_scope="GLOBAL_INTERNAL")
    refused = run(["learn", "scenario-patterns", "--repo", str(ref_repo), "--from", str(unsanitised)])
    assert refused.exit_code == 2
    assert "not sanitized_for_promotion stays in its workspace" in refused.stderr
    assert "give workspace_id" in refused.stderr
    assert git(ref_repo, "branch", "--list", "draft/*") == ""
    mine = scenario_file(tmp_path, "rooftop", shares, workspace_id="ws-eng-2026-001")
    learned = learn_scenario(Repository(ref_repo), mine, now=NOW)
    assert learned.action == "created"
    assert (learned.entry["reuse_scope"], learned.entry["workspace_id"]) == (
        "WORKSPACE_ONLY",
        "ws-eng-2026-001",
    )
    assert learned.entry["sanitized_for_promotion"] is False
    result = run_gates(Repository(ref_repo), "main", learned.draft.branch or "")
    assert result.ok, [f.message for f in result.errors]


def test_scenario_shares_must_sum_to_one(ref_repo: Path, tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "bad", {"C27": 0.5, "F42": 0.3})
    result = run(["learn", "scenario-patterns", "--repo", str(ref_repo), "--from", str(path)])
    assert result.exit_code == 2
    assert "sector_shares: the shares sum to 0.8, not 1" in result.stderr
    assert git(ref_repo, "branch", "--list", "draft/*") == ""
    with pytest.raises(InputError, match="not an ISIC Rev.4 division"):
        learn_scenario(Repository(ref_repo), scenario_file(tmp_path, "bad2", {"Z27": 1.0}))


def test_cosine() -> None:
    assert cosine({"A01": 1.0}, {"A01": 0.5}) == pytest.approx(1.0)
    assert cosine({"A01": 1.0}, {"B05": 1.0}) == 0.0
    assert cosine({"A01": 0.6, "B05": 0.8}, {"A01": 0.8, "B05": 0.6}) == pytest.approx(0.96)


def test_suggest_returns_the_most_used_pattern(ref_repo: Path, tmp_path: Path) -> None:
    result = run(["suggest", "housing", "--repo", str(ref_repo), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.suggest/v1"
    assert doc["pattern"]["name"] == "Affordable housing programme"
    # a new pattern of the same type, used once, is an alternative, not the suggestion
    path = scenario_file(
        tmp_path,
        "prefab housing",
        {"C16": 0.5, "C25": 0.5},
        project_type="housing",
        name="Prefab housing",
        sanitized_for_promotion=True,
    )
    learned = learn_scenario(Repository(ref_repo), path, now=NOW)
    assert learned.action == "created"
    git(ref_repo, "merge", "-q", "--ff-only", learned.draft.branch or "")
    doc = json.loads(run(["suggest", "Housing", "--repo", str(ref_repo), "--format", "json"]).stdout)
    assert doc["pattern"]["name"] == "Affordable housing programme"
    assert [a["name"] for a in doc["alternatives"]] == ["Prefab housing"]
    missing = run(["suggest", "spaceport", "--repo", str(ref_repo)])
    assert missing.exit_code == 2 and "no scenario pattern for project type 'spaceport'" in missing.stderr


# --- assumptions ------------------------------------------------------------------------------------------


NOTE_I55 = "knowledge/calibration-notes/019bbef3-b000-7a2f-9935-8ee9ef99f330.yaml"  # higher, 0.25
I55_JOBS = "019bbef3-b000-7dd7-b706-2f71744b64b3"  # JOBS_COEFF I55, default 22.0, range 14-32


def test_learn_assumptions_from_a_promoted_note(ref_repo: Path) -> None:
    note = load_yaml((ref_repo / NOTE_I55).read_text())
    assert (note["promotion_status"], note["direction"], note["magnitude"]) == ("REVIEWED", "higher", 0.25)
    note.update(promotion_status="PROMOTED", promoted_to=I55_JOBS)
    (ref_repo / NOTE_I55).write_text(dump_yaml(note))
    commit_all(ref_repo, "promote a note")
    result = run(["learn", "assumptions", "--repo", str(ref_repo), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [change] = doc["changed"]
    assert (change["id"], change["old"], change["new"], change["clamped_to_range"]) == (
        I55_JOBS,
        22.0,
        27.5,
        False,
    )
    entry = branch_file(ref_repo, doc["draft"], f"knowledge/assumptions/{I55_JOBS}.yaml")
    assert entry["default"] == 27.5 and note["id"] in entry["calibration_note_ids"]
    assert run_gates(Repository(ref_repo), "main", doc["draft"]).ok
    git(ref_repo, "merge", "-q", "--ff-only", doc["draft"])
    again = run(["learn", "assumptions", "--repo", str(ref_repo), "--draft", "x", "--dry-run"])
    assert again.exit_code == 0 and "nothing to learn" in again.stderr


NOTE_Q86 = "knowledge/calibration-notes/019bbef3-b000-7399-b99f-d1efbff18597.yaml"  # Q86 local_content
IMPORT_SHARE_ALL = "019bbef3-b000-7c34-872a-b8855b41cc39"  # IMPORT_SHARE, economy-wide, 0.30


def test_learn_assumptions_refuses_evidence_of_another_kind(ref_repo: Path) -> None:
    note = load_yaml((ref_repo / NOTE_Q86).read_text())
    assert (note["sector_code"], note["metric"]) == ("Q86", "local_content")
    note.update(promotion_status="PROMOTED", promoted_to=IMPORT_SHARE_ALL)
    (ref_repo / NOTE_Q86).write_text(dump_yaml(note))
    commit_all(ref_repo, "a hospital's local content note promoted to the economy-wide import share")
    result = run(["learn", "assumptions", "--repo", str(ref_repo), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert "nothing to learn" in result.stderr  # the 0.30 default does not move
    doc = json.loads(result.stdout)
    assert doc["changed"] == []
    [skip] = [s for s in doc["skipped"] if s["note_id"] == note["id"]]
    assert skip["reason"] == "metric_mismatch"
    assert "its metric 'local_content' measures LOCAL_CONTENT, not IMPORT_SHARE" in skip["message"]


def test_a_sectors_note_does_not_move_an_economy_wide_default() -> None:
    from canonry.learning.assumptions import evidence_problem

    economy = {"assumption_type": "IMPORT_SHARE", "sector_code": None}
    hospital = {"metric": "import_share", "sector_code": "Q86"}
    assert evidence_problem(hospital, economy) is not None
    assert evidence_problem(hospital, economy)[0] == "sector_mismatch"  # type: ignore[index]
    assert evidence_problem({**hospital, "economy_wide": True}, economy) is None
    assert evidence_problem(hospital, {"assumption_type": "IMPORT_SHARE", "sector_code": "Q86"}) is None
    assert evidence_problem(hospital, {"assumption_type": "IMPORT_SHARE", "sector_code": "F41"}) == (
        "sector_mismatch",
        "it is about Q86, the assumption about F41",
    )
    jobs = {"metric": "jobs_per_million_usd", "sector_code": "I55"}
    assert evidence_problem(jobs, {"assumption_type": "JOBS_COEFF", "sector_code": "I55"}) is None


def test_defaults_for_sector_on_the_reference(ref_repo: Path) -> None:
    lib = canonry.open(ref_repo).library("assumptions", "main")
    defaults = lib.defaults_for_sector("F41", include_blocked=True)  # the reference defaults have aged
    kinds = [(d["assumption_type"], d["sector_code"]) for d in defaults]
    assert ("IMPORT_SHARE", "F41") in kinds and ("IMPORT_SHARE", None) not in kinds  # the sector's own wins
    assert ("DISCOUNT_RATE", None) in kinds  # economy-wide ones fill in
    assert kinds.index(("IMPORT_SHARE", "F41")) < kinds.index(("DISCOUNT_RATE", None))
    only = lib.defaults_for_sector("Q86", assumption_type="IMPORT_SHARE", include_blocked=True)
    assert [(d["assumption_type"], d["sector_code"]) for d in only] == [("IMPORT_SHARE", None)]
    with pytest.raises(UnknownSectorError):
        lib.defaults_for_sector("bogus")
    with pytest.raises(UnknownSectorError):
        lib.defaults_for_sector("C99")


# --- workforce ----------------------------------------------------------------------------------------------


def test_learn_workforce_calibrates_cells_and_reports_coverage(ref_repo: Path, tmp_path: Path) -> None:
    rows = [
        "id,occupation_code,suggested_class,final_class,engagement_id",
        "w1,32,NATIONAL_WITH_TRAINING,NATIONAL_READY,ENG-1",
        "w2,32,NATIONAL_WITH_TRAINING,NATIONAL_READY,ENG-2",
        "w3,91,EXPAT_DEPENDENT,NATIONAL_WITH_TRAINING,ENG-1",
        "w4,91,EXPAT_DEPENDENT,EXPAT_DEPENDENT,ENG-2",
        "w5,99,EXPAT_DEPENDENT,NATIONAL_READY,ENG-2",
        "w6,26,EXPAT_DEPENDENT,NATIONAL_WITH_TRAINING,ENG-1",
        "w7,26,EXPAT_DEPENDENT,NATIONAL_WITH_TRAINING,ENG-3",
    ]
    path = tmp_path / "nationality.csv"
    path.write_text("\n".join(rows) + "\n")
    before = json.loads(run(["learn", "workforce", "--repo", str(ref_repo), "--format", "json"]).stdout)
    assert "32" in before["assumed"]
    result = run(["learn", "workforce", "--repo", str(ref_repo), "--from", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # 26 (legal, social and cultural professionals) is a real ISCO-08 group without a cell: it gets one
    assert [(c["occupation_code"], c["new"]["feasibility_class"]) for c in doc["changed"]] == [
        ("26", "NATIONAL_WITH_TRAINING"),
        ("32", "NATIONAL_READY"),
    ]
    reasons = {(s["reason"], s["occupation_code"]) for s in doc["skipped"]}
    assert reasons == {("contradiction", "91"), ("unknown_occupation", "99")}
    coverage = doc["coverage"]
    assert "32" in coverage["calibrated"] and "26" in coverage["calibrated"] and "91" in coverage["assumed"]
    assert (
        coverage["groups"] == 43 and "26" not in coverage["without_cell"] and "96" in coverage["without_cell"]
    )
    assert len(before["without_cell"]) == 43 - len(before["cells"])
    # over the 43 groups, not over the cells that happen to exist
    assert coverage["coverage_pct"] == pytest.approx(100 * (len(before["calibrated"]) + 2) / 43, abs=0.01)
    [cell] = [c for c in coverage["cells"] if c["occupation_code"] == "26"]
    assert cell["occupation_title"] == "Legal, social and cultural professionals"
    assert run_gates(Repository(ref_repo), "main", doc["draft"]).ok
    bad = tmp_path / "bad.csv"
    bad.write_text(rows[0] + "\nw1,3,X,NATIONAL_READY,E\n")
    result = run(["learn", "workforce", "--repo", str(ref_repo), "--from", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv:2 (row 1): occupation_code '3'" in result.stderr


# --- confidence ------------------------------------------------------------------------------------------------


def test_confidence_command_matches_the_runtime(small_repo: Path) -> None:
    result = run(
        ["confidence", "mapping@main", "--repo", str(small_repo), "--at", "2026-07-15", "--format", "json"]
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.confidence/v1" and doc["at"] == "2026-07-15T00:00:00Z"
    lib = canonry.open(small_repo).library("mapping", "main")
    for row in doc["entries"]:
        runtime = lib.confidence(row["id"], at="2026-07-15")
        assert (row["value"], row["band"]) == (runtime.value, runtime.band)
    # base 0.8, source user (weight 0.95), 180 days and 14 hours since 2026-01-15T10:00:00Z
    assert doc["entries"][0]["value"] == pytest.approx(0.8 * 0.95 - 0.0005 * (180 + 14 / 24), abs=1e-6)
    text = run(["confidence", "mapping@main", "--repo", str(small_repo), "--at", "2026-07-15"]).stdout
    assert "caution    0.670  0.800     181  m0  steel rebar -> C24" in text
    assert run(["confidence", "mapping@main", "--repo", str(small_repo), "--at", "soon"]).exit_code == 2


def test_blocked_entries_are_warnings(small_repo: Path) -> None:
    write_entry(small_repo, "mapping", mapping_entry("m1", "cement plant", "C23", confidence=0.3))
    commit_all(small_repo, "a weak entry on main")
    result = run_gates(Repository(small_repo), "main", "main", gates=["confidence"])
    assert result.warnings == []  # nothing changed: decay is not a draft's news
    draft_with(small_repo, "weak", [mapping_entry("m9", "rebar mesh", "C24", confidence=0.4)])
    result = run_gates(Repository(small_repo), "main", "draft/weak", gates=["confidence"])
    assert result.ok
    by_entry = {w.entry_id: w.message for w in result.warnings}
    assert "in the blocked band (below 0.6; confidence 0.4, source user" in by_entry["m9"]
    assert by_entry[None] == (
        "1 other entries are in the blocked band by now (see `canonry confidence mapping@main`)"
    )
