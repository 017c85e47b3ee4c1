"""Mapping at runtime: `canonry map`, `lib.match(text)` and `/map` give the holdout evaluator's answer."""

from __future__ import annotations

import json
from pathlib import Path

import canonry
from canonry.learning.evaluators import mapping_accuracy, parse_holdout
from canonry.runtime.routes import Api
from canonry.store.entries import Library
from canonry.store.repo import Repository
from canonry.store.rules import load_rules
from canonry.store.states import TreeState
from conftest import git, run
from helpers import mapping_entry, write_entry

HOLDOUT = "knowledge/holdout/mapping.yaml"


def test_map_answers_as_the_evaluator_on_every_holdout_case(ref_repo: Path, tmp_path: Path) -> None:
    repo = Repository(ref_repo)
    state = TreeState(repo, repo.resolve_commit("main"))
    spec = load_rules(state).require_registry().library("mapping")
    holdout = parse_holdout((ref_repo / HOLDOUT).read_bytes(), HOLDOUT)
    evaluation = mapping_accuracy(Library(state, spec), holdout.cases)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(c.text for c in holdout.cases) + "\n", encoding="utf-8")
    result = run(["map", "--repo", str(ref_repo), "--from", str(texts), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.map/v1"
    assert [r["sector_code"] for r in doc["results"]] == list(evaluation.predictions or ())
    # and the runtime library answers the same
    lib = canonry.open(str(ref_repo)).library("mapping", "main")
    for case, prediction in list(zip(holdout.cases, evaluation.predictions or (), strict=True))[::25]:
        assert lib.match(case.text).sector_code == prediction


def test_map_explains_its_answer(small_repo: Path) -> None:
    result = run(["map", "--repo", str(small_repo), "--format", "json", "Two plants producing cement", "xyz"])
    assert result.exit_code == 0
    found, missing = json.loads(result.stdout)["results"]
    assert found["sector_code"] == "C23" and found["entry_id"] == "m1"
    assert (found["pattern"], found["match"], found["matched_words"], found["pattern_words"]) == (
        "cement plant",
        "words",
        2,
        2,
    )
    assert found["band"] in {"trusted", "standard", "caution", "blocked"}
    assert isinstance(found["confidence"], float)
    assert missing == {
        "text": "xyz",
        "sector_code": None,
        "entry_id": None,
        "pattern": None,
        "language": None,
        "match": None,
        "matched_words": 0,
        "pattern_words": 0,
        "confidence": None,
        "band": None,
        "runner_up": None,
    }
    text = run(["map", "--repo", str(small_repo), "Steel rebar for the cement plant", "xyz"])
    assert "C23  'cement plant' (phrase, 2 of 2 words)" in text.stdout
    assert "runner-up: C24  'steel rebar'" in text.stdout
    assert "no pattern found" in text.stdout


def test_map_reads_a_published_version(small_repo: Path) -> None:
    release = run(["release", "--by", "publisher@example.org", "--repo", str(small_repo)])
    assert release.exit_code == 0, release.stderr
    write_entry(small_repo, "mapping", mapping_entry("m7", "desalination plant", "E36"))
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "one more on main")
    at_v1 = run(["map", "--repo", str(small_repo), "--format", "json", "desalination plant"])
    assert json.loads(at_v1.stdout)["results"][0]["sector_code"] is None  # latest = v1
    assert json.loads(at_v1.stdout)["tag"] == "mapping/v1"
    at_main = run(
        ["map", "--repo", str(small_repo), "--at", "mapping@main", "--format", "json", "desalination plant"]
    )
    assert json.loads(at_main.stdout)["results"][0]["sector_code"] == "E36"


def test_map_refuses_bad_input(small_repo: Path, tmp_path: Path) -> None:
    none = run(["map", "--repo", str(small_repo)])
    assert none.exit_code == 2 and "give texts to map" in none.stderr
    missing = run(["map", "--repo", str(small_repo), "--from", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe cement")
    bad = run(["map", "--repo", str(small_repo), "--from", str(binary)])
    assert bad.exit_code == 2 and "not UTF-8" in bad.stderr
    wrong_at = run(["map", "--repo", str(small_repo), "--at", "mapping@", "x"])
    assert wrong_at.exit_code == 2
    long = run(["map", "--repo", str(small_repo), "x" * 10_001])
    assert long.exit_code == 2 and "longer than" in long.stderr
    for result in (none, missing, bad, wrong_at, long):
        assert "Traceback" not in result.stdout + result.stderr


def test_serve_maps_and_honours_scope(small_repo: Path) -> None:
    secret = mapping_entry("m8", "camel dairy", "A01")
    secret.update(reuse_scope="WORKSPACE_ONLY", workspace_id="ws-1", sanitized_for_promotion=False)
    write_entry(small_repo, "mapping", secret)
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "a workspace's own pattern")
    assert run(["release", "--by", "publisher@example.org", "--repo", str(small_repo)]).exit_code == 0
    api = Api(canonry.open(str(small_repo)))
    response = api.handle("GET", "/map?text=New%20cement%20plant%20in%20Yanbu", {})
    assert response.status == 200
    doc = json.loads(response.body)
    assert doc["format"] == "canonry.map/v1" and doc["tag"] == "mapping/v1"
    assert doc["results"][0]["sector_code"] == "C23" and doc["results"][0]["entry_id"] == "m1"
    hidden = json.loads(api.handle("GET", "/map?text=camel%20dairy%20farm", {}).body)
    assert hidden["results"][0]["sector_code"] is None  # not this caller's workspace
    mine = Api(canonry.open(str(small_repo), workspace="ws-1"))
    shown = json.loads(mine.handle("GET", "/map?text=camel%20dairy%20farm", {}).body)
    assert shown["results"][0]["entry_id"] == "m8"
    assert api.handle("GET", "/map", {}).status == 400
    assert api.handle("GET", "/map?text=x&version=v9", {}).status == 404
