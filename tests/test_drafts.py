"""Drafts: start, list, show; names given as NAME or draft/NAME."""

from __future__ import annotations

import json
from pathlib import Path

from canonry.publication import draft_views, drafts, publish
from canonry.store.repo import Repository
from conftest import git, run
from flow_helpers import (
    MAPPER,
    PUBLISHER,
    WORDS,
    approve,
    cpath,
    draft_commit,
    mpath,
    note_entry,
)
from helpers import mapping_entry, write_entry


def test_start_creates_and_checks_out(flow: Path) -> None:
    result = run(["draft", "start", "--repo", str(flow), "steel"])
    assert result.exit_code == 0 and result.stdout == "draft/steel\n"
    assert git(flow, "rev-parse", "draft/steel") == git(flow, "rev-parse", "main")
    assert git(flow, "symbolic-ref", "HEAD") == "refs/heads/draft/steel"


def test_start_from_a_ref_and_without_checkout(flow: Path) -> None:
    first = git(flow, "rev-list", "--max-parents=0", "main")
    result = run(["draft", "start", "--repo", str(flow), "draft/old", "--from", first, "--no-checkout"])
    assert result.exit_code == 0
    assert git(flow, "rev-parse", "draft/old") == first
    assert git(flow, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_start_refuses_an_existing_draft_and_bad_names(flow: Path) -> None:
    assert run(["draft", "start", "--repo", str(flow), "x", "--no-checkout"]).exit_code == 0
    again = run(["draft", "start", "--repo", str(flow), "x"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    for bad in ("../x", "a..b", "-x", "x.lock", "sp ace"):
        result = run(["draft", "start", "--repo", str(flow), bad, "--no-checkout"])
        assert result.exit_code == 2, bad
    unknown = run(["draft", "start", "--repo", str(flow), "y", "--from", "nope"])
    assert unknown.exit_code == 2 and "unknown ref: nope" in unknown.stderr


def test_start_carries_harmless_edits_and_refuses_to_lose_any(flow: Path) -> None:
    # an uncommitted edit that the draft's start does not touch comes along
    write_entry(flow, "mapping", mapping_entry("m0", WORDS[0], "C24", confidence=0.5))
    assert run(["draft", "start", "--repo", str(flow), "keep"]).exit_code == 0
    assert "confidence: 0.5" in (flow / mpath("m0")).read_text()
    git(flow, "checkout", "-q", "main")
    # a start that differs on the edited file would overwrite it: refused, nothing created
    first = git(flow, "rev-list", "--max-parents=0", "main")
    result = run(["draft", "start", "--repo", str(flow), "lose", "--from", first])
    assert result.exit_code == 2 and "cannot check out draft/lose" in result.stderr
    assert git(flow, "rev-parse", "--verify", "-q", "draft/lose", check=False) == ""
    assert "confidence: 0.5" in (flow / mpath("m0")).read_text()
    assert git(flow, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_list_shows_ahead_behind_review_and_libraries(flow: Path) -> None:
    draft_commit(flow, "a", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    draft_commit(
        flow, "b", {cpath("n1"): note_entry("n1"), mpath("m8"): mapping_entry("m8", "seaport", "H52")}
    )
    draft_commit(flow, "b", {mpath("m8"): mapping_entry("m8", "seaport", "H52", confidence=0.7)})
    approve(flow, "a")
    run(["draft", "start", "--repo", str(flow), "c", "--no-checkout"])
    doc = json.loads(run(["draft", "list", "--repo", str(flow), "--format", "json"]).stdout)
    assert doc["format"] == "canonry.drafts/v1"
    rows = {r["draft"]: r for r in doc["drafts"]}
    assert (rows["draft/a"]["ahead"], rows["draft/a"]["behind"], rows["draft/a"]["review"]) == (
        1,
        0,
        "approved",
    )
    assert rows["draft/a"]["libraries"] == ["mapping"]
    assert (rows["draft/b"]["ahead"], rows["draft/b"]["review"]) == (2, "pending")
    assert rows["draft/b"]["libraries"] == ["calibration-notes", "mapping"]
    assert rows["draft/c"]["review"] == "empty"
    publish.publish(Repository(flow), "a", by=PUBLISHER)
    rows = {r.branch: r for r in draft_views.list_drafts(Repository(flow))}
    assert (
        rows["draft/a"].review == "merged" and rows["draft/b"].behind == 2
    )  # the draft's commit and the merge
    text = run(["draft", "list", "--repo", str(flow)]).stdout
    assert text.splitlines()[0].split() == ["draft", "ahead", "behind", "review", "libraries"]
    assert any(line.split()[:4] == ["draft/b", "2", "2", "pending"] for line in text.splitlines())


def test_show_gives_the_diff_against_main_and_the_verdict(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    text = run(["draft", "show", "--repo", str(flow), "x"])
    assert text.exit_code == 0
    assert "draft/x at" in text.stdout and "1 ahead of, 0 behind main; review: pending" in text.stdout
    assert "added: rebar bending -> C24" in text.stdout
    assert "[review] mapping: needs 1 approval" in text.stdout and "FAIL" in text.stdout
    approve(flow, "x", MAPPER)
    doc = json.loads(run(["draft", "show", "--repo", str(flow), "draft/x", "--format", "json"]).stdout)
    assert doc["format"] == "canonry.draft/v1" and doc["review"] == "approved"
    assert doc["diff"]["format"] == "canonry.diff/v1"
    assert doc["diff"]["libraries"]["mapping"]["added_entry_ids"] == ["m9"]
    assert doc["gate"]["format"] == "canonry.gate/v1" and doc["gate"]["ok"] is True
    assert "review" in doc["gate"]["gates"]
    assert doc["review_status"]["approved_by"] == [MAPPER]


def test_show_diff_ignores_what_main_did_since(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    draft_commit(flow, "y", {mpath("m8"): mapping_entry("m8", "seaport", "H52")})
    approve(flow, "y")
    publish.publish(Repository(flow), "y", by=PUBLISHER)
    doc = json.loads(run(["draft", "show", "--repo", str(flow), "x", "--format", "json"]).stdout)
    assert doc["behind"] == 2
    assert doc["diff"]["libraries"]["mapping"]["added_entry_ids"] == ["m9"]
    assert doc["diff"]["libraries"]["mapping"]["removed_entry_ids"] == []


def test_unknown_draft(flow: Path) -> None:
    result = run(["draft", "show", "--repo", str(flow), "nope"])
    assert result.exit_code == 2 and "unknown ref: draft/nope" in result.stderr
    assert drafts.draft_name("refs/heads/draft/a/b") == "a/b"
