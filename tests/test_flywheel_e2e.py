"""The flywheel turns, on the reference repository, the way a team would run it from the command line:
overrides arrive through the import pipeline, `learn mapping` drafts patterns, the holdout gate shows the
accuracy rising, the draft is approved and published, and `health` shows the backlog falling. And a learned
draft that lowers holdout accuracy is refused, with the flipped cases listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from canonry.store.repo import Repository
from canonry.store.versions import latest_version, read_metadata
from conftest import run
from trust_keys import enroll

STEWARD = "mapping-steward@example.org"
PUBLISHER = "publisher@example.org"
HOLDOUT = "knowledge/holdout/mapping.yaml"


def overrides_file(path: Path, text: str, suggested: str, final: str, engagements: list[str]) -> Path:
    rows = [
        {
            "text": text,
            "suggested_code": suggested,
            "final_code": final,
            "engagement_id": engagement,
            "steward": STEWARD,
            "overridden_at": "2026-03-01T10:00:00Z",
            "workspace_id": engagement.lower().replace("eng", "ws-eng"),
            "reuse_scope": "WORKSPACE_ONLY",
            "sanitized_for_promotion": False,
            "source": "user",
        }
        for engagement in engagements
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def canonry(repo: Path, *args: str) -> Any:
    return run([*args, "--repo", str(repo)])


def health(repo: Path) -> dict[str, Any]:
    result = canonry(repo, "health", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def arrive(repo: Path, tmp_path: Path, name: str, *override: Any) -> None:
    """Overrides arrive: imported as a draft, approved by the mapping steward, published."""
    source = overrides_file(tmp_path / f"{name}.jsonl", *override)
    result = canonry(
        repo, "import", "overrides", "--from", str(source), "--source-ref", f"engagements/{name}"
    )
    assert result.exit_code == 0, result.stderr
    draft = result.stderr.split("wrote ", 1)[1].split(" at ")[0]
    assert canonry(repo, "review", "approve", draft, "--reviewer", STEWARD).exit_code == 0
    published = canonry(repo, "publish", draft, "--by", PUBLISHER)
    assert published.exit_code == 0, published.stdout + published.stderr


def learn(repo: Path, name: str, *extra: str) -> tuple[Any, dict[str, Any]]:
    result = canonry(repo, "learn", "mapping", "--draft", name, "--format", "json", *extra)
    doc: dict[str, Any] = json.loads(result.stdout)
    return result, doc


def test_the_flywheel_turns(ref_repo: Path, tmp_path: Path) -> None:
    enroll(ref_repo, STEWARD, tmp_path / "keys")  # approvals are signed (issue 9)
    released = canonry(ref_repo, "release", "--by", PUBLISHER)
    assert released.exit_code == 0, released.stderr
    start = health(ref_repo)
    assert start["format"] == "canonry.health/v1"
    assert start["libraries"]["mapping"]["latest"] == "mapping/v1"
    backlog_at_start = start["override_backlog_count"]
    assert backlog_at_start == start["libraries"]["overrides"]["entries"] > 0

    # 1. overrides arrive: two engagements moved "greenhouse cultivation" from F41 (buildings) to A01
    arrive(
        ref_repo,
        tmp_path,
        "greenhouse",
        "Greenhouse cultivation",
        "F41",
        "A01",
        ["ENG-2026-031", "ENG-2026-032"],
    )
    arrived = health(ref_repo)
    assert arrived["override_backlog_count"] == backlog_at_start + 2

    # 2. learn mapping drafts patterns; the holdout comparison shows the accuracy rising
    result, learned = learn(ref_repo, "learn-greenhouse")
    assert result.exit_code == 0, result.stderr
    [greenhouse] = [a for a in learned["added"] if a["pattern"] == "greenhouse cultivation"]
    assert greenhouse["sector_code"] == "A01"
    assert greenhouse["holdout_changes"] == {"cases": 1, "to_correct": 1, "to_wrong": 0}
    holdout = learned["holdout"]["metrics"]["mapping"]
    assert holdout["value"] > holdout["baseline"]
    flipped = [f["text"] for f in holdout["flipped_to_correct"]]
    assert "Greenhouse cultivation of tomatoes and peppers under climate control" in flipped
    assert holdout["flipped_to_wrong"] == []
    assert holdout["interval"][0] < holdout["value"] < holdout["interval"][1]
    assert learned["diff"]["libraries"]["mapping"]["added_entry_ids"]
    assert health(ref_repo)["draft_count_pending_review"] == 1

    # 3. the steward approves, the draft is published with the holdout value in its metadata
    assert canonry(ref_repo, "review", "approve", "learn-greenhouse", "--reviewer", STEWARD).exit_code == 0
    published = canonry(ref_repo, "publish", "learn-greenhouse", "--by", PUBLISHER)
    assert published.exit_code == 0, published.stdout + published.stderr
    repo = Repository(ref_repo)
    version = latest_version(repo, "mapping")
    assert version is not None and version.tag == "mapping/v2"
    meta = read_metadata(repo, version)
    assert meta["holdout"]["value"] == holdout["value"] and meta["holdout"]["baseline"] == holdout["baseline"]
    assert meta["holdout"]["interval"] == holdout["interval"] and "A" in meta["holdout"]["per_section"]
    assert meta["total_overrides_ingested"] > 2

    # 4. health: accuracy at the latest version up, backlog down, nothing left pending
    after = health(ref_repo)
    assert after["mapping_accuracy"] == holdout["value"] > start["mapping_accuracy"]
    assert after["mapping_accuracy_interval"] == holdout["interval"]
    assert after["override_backlog_count"] < arrived["override_backlog_count"]
    assert (
        after["override_backlog_count"]
        == arrived["override_backlog_count"] - meta["total_overrides_ingested"]
    )
    assert after["draft_count_pending_review"] == 0


def test_a_learned_regression_is_refused_with_the_flipped_cases(ref_repo: Path, tmp_path: Path) -> None:
    enroll(ref_repo, STEWARD, tmp_path / "keys")  # approvals are signed (issue 9)
    assert canonry(ref_repo, "release", "--by", PUBLISHER).exit_code == 0
    # two engagements (wrongly) call a five-star hotel real estate; only what arrived since v1 is read
    arrive(ref_repo, tmp_path, "hotel", "five-star hotel", "I55", "L68", ["ENG-2026-041", "ENG-2026-042"])
    result, learned = learn(ref_repo, "learn-hotel", "--since", "mapping@v1")
    assert result.exit_code == 1  # the draft exists, and the holdout comparison says it would be refused
    holdout = learned["holdout"]
    assert holdout["ok"] is False
    flipped = holdout["metrics"]["mapping"]["flipped_to_wrong"]
    assert [(f["text"], f["expected"], f["prediction"]) for f in flipped] == [
        ("Construction of a five-star hotel building on the Corniche", "F41", "L68")
    ]
    assert canonry(ref_repo, "review", "approve", "learn-hotel", "--reviewer", STEWARD).exit_code == 0
    refused = canonry(ref_repo, "publish", "learn-hotel", "--by", PUBLISHER)
    assert refused.exit_code == 1
    output = refused.stdout + refused.stderr
    line = flipped[0]["line"]
    text = "Construction of a five-star hotel building on the Corniche"
    assert f"{HOLDOUT}:{line}: error: [holdout] flipped to wrong: '{text}'" in output
    assert "nothing was published" in output
    assert latest_version(Repository(ref_repo), "mapping").tag == "mapping/v1"  # type: ignore[union-attr]
