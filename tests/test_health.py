"""`canonry health` and canonry.publication.health.health: the canonry.health/v1 contract and what each number means."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from canonry.learning.evaluators import mapping_accuracy, parse_holdout, wilson_interval
from canonry.publication.health import health
from canonry.store.entries import Library
from canonry.store.repo import Repository
from canonry.store.rules import load_rules
from canonry.store.states import TreeState
from canonry.store.times import utc_now
from canonry.store.yamlio import load_yaml
from conftest import git, run

KEYS = {
    "format",
    "ref",
    "commit",
    "at",
    "engagements",
    "libraries",
    "mapping_accuracy",
    "mapping_accuracy_interval",
    "mapping_accuracy_cases",
    "mapping_accuracy_per_section",
    "workforce_coverage_pct",
    "override_backlog_count",
    "avg_days_since_last_publication",
    "draft_count_pending_review",
    "pct_entries_assumed_vs_calibrated",
    "pct_shared_knowledge_sanitized",
    "gates",  # gate history trends (publication/gate_history.py)
}


def entries(repo: Path, library: str) -> list[dict[str, Any]]:
    return [load_yaml(p.read_text()) for p in sorted((repo / "knowledge" / library).glob("*.yaml"))]


def test_health_before_any_publication(ref_repo: Path) -> None:
    result = run(["health", "--repo", str(ref_repo), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) == KEYS and doc["format"] == "canonry.health/v1"
    assert doc["libraries"]["mapping"] == {
        "versions": 0,
        "entries": len(entries(ref_repo, "mapping")),
        "latest": None,
    }
    assert doc["mapping_accuracy"] is None and doc["avg_days_since_last_publication"] is None
    assert doc["override_backlog_count"] == len(entries(ref_repo, "overrides"))
    cells = entries(ref_repo, "nationality-classification")
    calibrated = sum(c["basis"] == "calibrated" for c in cells)
    assert doc["workforce_coverage_pct"] == round(
        100 * calibrated / 43, 2
    )  # over all ISCO-08 sub-major groups
    assumptions = entries(ref_repo, "assumptions")
    calibrated += sum(bool(a.get("calibration_note_ids")) for a in assumptions)
    total = len(cells) + len(assumptions)
    assert doc["pct_entries_assumed_vs_calibrated"] == {
        "assumed": round(100 * (total - calibrated) / total, 2),
        "calibrated": round(100 * calibrated / total, 2),
    }
    everything = [
        e
        for lib in (ref_repo / "knowledge").iterdir()
        if lib.name != "holdout"
        for e in entries(ref_repo, lib.name)
    ]
    shared = [e for e in everything if e["reuse_scope"] != "WORKSPACE_ONLY"]
    assert doc["pct_shared_knowledge_sanitized"] == round(
        100 * sum(e["sanitized_for_promotion"] for e in shared) / len(shared), 2
    )
    engagements = {e.get("source_engagement_id") for e in everything} | {
        e.get("engagement_id") for e in everything
    }
    for e in everything:
        engagements.update((e.get("lineage") or {}).get("contributing_engagements", []))
    assert doc["engagements"] == len(engagements - {None})
    assert doc["draft_count_pending_review"] == 0


def test_health_after_a_release(ref_repo: Path) -> None:
    assert run(["release", "--repo", str(ref_repo), "--by", "publisher@example.org"]).exit_code == 0
    repo = Repository(ref_repo)
    state = TreeState(repo, repo.resolve_commit("main"))
    spec = load_rules(state).require_registry().library("mapping")
    holdout = parse_holdout(state.read_path("knowledge/holdout/mapping.yaml") or b"", "holdout")
    expected = round(mapping_accuracy(Library(state, spec), holdout.cases).value, 6)
    later = utc_now() + dt.timedelta(days=10)  # the clock publish used
    doc = health(repo, at=later)
    assert doc["mapping_accuracy"] == expected  # measured: a first version's tag has no holdout value
    correct = round(expected * len(holdout.cases))
    assert doc["mapping_accuracy_cases"] == len(holdout.cases) >= 600
    assert doc["mapping_accuracy_interval"] == list(wilson_interval(correct, len(holdout.cases)) or ())
    low, high = doc["mapping_accuracy_interval"]
    assert low < expected < high and high - low < 0.08  # 95%, Wilson
    sections = doc["mapping_accuracy_per_section"]
    assert set(sections) == {c.expected[0] for c in holdout.cases}
    assert sum(s["cases"] for s in sections.values()) == len(holdout.cases)
    text = run(["health", "--repo", str(ref_repo)]).stdout
    assert f"mapping accuracy (latest version): {expected} (95% interval {low:.3f}-{high:.3f}" in text
    assert "per section: A " in text
    assert doc["libraries"]["mapping"] == {
        "versions": 1,
        "entries": len(Library(state, spec)),
        "latest": "mapping/v1",
    }
    assert doc["avg_days_since_last_publication"] == pytest.approx(10, abs=0.01)
    assert doc["override_backlog_count"] == doc["libraries"]["overrides"]["entries"]


def test_drafts_pending_review_are_counted(small_repo: Path) -> None:
    git(small_repo, "checkout", "-q", "-b", "draft/one")
    (small_repo / "knowledge/mapping/m0.yaml").write_text(
        (small_repo / "knowledge/mapping/m0.yaml").read_text().replace("confidence: 0.8", "confidence: 0.85")
    )
    git(small_repo, "commit", "-q", "-am", "one")
    git(small_repo, "checkout", "-q", "main")
    git(small_repo, "branch", "draft/merged")  # nothing ahead of main: not pending
    doc = health(Repository(small_repo))
    assert doc["draft_count_pending_review"] == 1
    text = run(["health", "--repo", str(small_repo)]).stdout
    assert "drafts pending review: 1" in text and "override backlog: 0" in text
    assert "mapping accuracy (latest version): -" in text
