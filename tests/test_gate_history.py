"""Gate history: every gate run kept under refs/notes/canonry-gates, bounded, pushed, and turned into trends."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from canonry.gates.findings import ERROR, Finding, GateResult
from canonry.publication import gate_history
from canonry.store.repo import RefUpdate, Repository
from conftest import git, run
from helpers import mapping_entry, write_entry
from runtime_helpers import TAGGER, WHEN, tag_message


def draft(repo: Path, name: str, *entries: dict[str, object], date: str | None = None) -> str:
    git(repo, "checkout", "-q", "-b", f"draft/{name}", "main")
    for entry in entries:
        write_entry(repo, "mapping", entry)
    git(repo, "add", "-A")
    env = {**os.environ, **({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {})}
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", name], check=True, env=env)
    git(repo, "checkout", "-q", "main")
    return git(repo, "rev-parse", f"draft/{name}")


def note_runs(repo: Path, commit: str) -> list[dict[str, object]]:
    text = git(repo, "notes", "--ref=refs/notes/canonry-gates", "show", commit)
    return [json.loads(line) for line in text.splitlines()]


def test_gate_records_pass_and_fail_and_health_shows_trends(small_repo: Path) -> None:
    good = draft(small_repo, "good", mapping_entry("m7", "rolling mill", "C24"))
    result = run(["gate", "--base", "main", "--head", "draft/good", "--repo", str(small_repo)])
    assert result.exit_code == 0
    [kept] = note_runs(small_repo, good)
    assert kept["format"] == "canonry.gate-run/v1" and kept["ok"] is True and kept["kind"] == "gate"
    assert kept["head"]["commit"] == good and kept["base"]["commit"] == git(small_repo, "rev-parse", "main")
    assert kept["who"] == "steward@example.org" and kept["at"] == "2026-11-01T00:00:00Z"
    assert kept["libraries"] == {"mapping": {"ok": True, "errors": 0, "warnings": 1}}  # no holdout set

    bad = draft(small_repo, "bad", mapping_entry("m8", "cement kiln", "not-a-code"))
    for _ in range(2):
        assert (
            run(["gate", "--base", "main", "--head", "draft/bad", "--repo", str(small_repo)]).exit_code == 1
        )
    failed = note_runs(small_repo, bad)
    assert len(failed) == 2 and not failed[0]["ok"] and failed[0]["libraries"]["mapping"]["ok"] is False
    assert failed[0]["rules"] and failed[0]["rules"][0]["severity"] == "error"
    assert run(["gate", "--head", "draft/bad", "--no-history", "--repo", str(small_repo)]).exit_code == 1
    assert len(note_runs(small_repo, bad)) == 2

    health = run(["health", "--repo", str(small_repo), "--format", "json"])
    assert health.exit_code == 0
    gates = json.loads(health.stdout)["gates"]
    assert gates["runs"] == 3
    assert gates["pass_rate"]["mapping"] == [{"week": "2026-W44", "runs": 3, "passed": 1, "rate": 0.3333}]
    top = gates["failing_rules"][0]
    assert top["runs"] == 2 and top["gate"] == failed[0]["rules"][0]["gate"]
    text = run(["health", "--repo", str(small_repo)])
    assert "gate pass rate mapping: 2026-W44 1/3" in text.stdout and "fails most:" in text.stdout


def test_history_is_bounded_and_rules_group_particulars(small_repo: Path) -> None:
    repo = Repository(small_repo)
    head = repo.resolve_commit("main")
    findings = [
        Finding(path=f"knowledge/mapping/m{i}.yaml", gate="holdout", severity=ERROR, library="mapping",
                message=f"accuracy 0.{i}1 on {300 + i} cases is below 'x{i}'")  # fmt: skip
        for i in range(40)
    ] + [
        Finding(path=f"p{i}", gate="schema", severity=ERROR, library="mapping", message=f"rule {chr(65 + i % 26)}{chr(97 + i // 26)} broken")
        for i in range(40)
    ]  # fmt: skip
    result = GateResult(base=None, head={"ref": "main", "commit": head}, findings=findings, gates=["holdout"])
    for _ in range(gate_history.MAX_RUNS + 5):
        gate_history.record_gate_run(repo, result, "ci@example.org")
    kept = note_runs(small_repo, head)
    assert len(kept) == gate_history.MAX_RUNS
    first = kept[0]
    assert first["rules"][0] == {
        "gate": "holdout",
        "severity": "error",
        "rule": "accuracy N on N cases is below '…'",
        "count": 40,
        "libraries": ["mapping"],
    }
    assert len(first["rules"]) <= gate_history.MAX_RULES and first["rules_left_out"] > 0
    assert len(git(small_repo, "notes", "--ref=refs/notes/canonry-gates", "show", head)) < 100_000


def test_push_merges_with_runs_recorded_elsewhere(small_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(small_repo, "remote", "add", "origin", str(remote))
    good = draft(small_repo, "good", mapping_entry("m7", "rolling mill", "C24"))
    git(small_repo, "push", "-q", "origin", "main", "draft/good")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "branch", "-q", "draft/good", "origin/draft/good")
    assert run(["gate", "--head", "draft/good", "--push", "origin", "--repo", str(small_repo)]).exit_code == 0
    result = run(["gate", "--head", "draft/good", "--push", "origin", "--repo", str(other)])
    assert result.exit_code == 0 and "warning" not in result.stderr
    git(small_repo, "fetch", "-q", "origin", "+refs/notes/canonry-gates:refs/notes/canonry-gates")
    assert len(note_runs(small_repo, good)) == 2  # both runs, one from each clone


def test_draft_to_publication_and_holdout_by_version(small_repo: Path) -> None:
    head = draft(small_repo, "timed", mapping_entry("m7", "rolling mill", "C24"), date="2026-01-10T10:00:00Z")
    git(small_repo, "merge", "-q", "--no-ff", "-m", "publish draft/timed", "draft/timed")
    repo = Repository(small_repo)
    commit = repo.resolve_commit("main")
    holdout = {"metric": "accuracy", "value": 0.91, "cases": 12}
    message = tag_message(repo, "mapping", 1, commit, holdout=holdout)
    oid = repo.create_tag_object("mapping/v1", commit, message, TAGGER, when=WHEN)
    repo.update_refs([RefUpdate("refs/tags/mapping/v1", oid, None)], "test publish")
    trends = gate_history.trends(repo)
    assert head and trends["draft_to_publication"] == {"publications": 1, "mean_days": 5.0}
    assert trends["holdout_by_version"] == {
        "mapping": [{"tag": "mapping/v1", "metric": "accuracy", "value": 0.91, "cases": 12}]
    }
    assert trends["runs"] == 0 and trends["pass_rate"] == {}
