"""Publish and release keep their gate run in the gate history: a success, a refusal, never a dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from canonry.store.refnames import GATES_NOTES
from conftest import git, run
from flow_helpers import (
    PUBLISHER,
    draft_commit,
    mpath,
    ready_draft,
    ref,
    serve,
    tags,
)
from helpers import mapping_entry


def kept_runs(repo: Path, commit: str) -> list[dict[str, Any]]:
    text = git(repo, "notes", f"--ref={GATES_NOTES}", "show", commit, check=False)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_publication_records_its_gate_run(flow: Path) -> None:
    head = ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER])
    assert result.exit_code == 0, result.stderr
    [kept] = kept_runs(flow, head)
    assert kept["kind"] == "publish" and kept["ok"] is True and kept["who"] == PUBLISHER
    assert kept["head"]["commit"] == head and "review" in kept["gates"]
    assert "not kept" not in result.stderr


def test_a_refused_publication_records_its_failed_run_and_publishes_nothing(flow: Path) -> None:
    head = draft_commit(flow, "rebar", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    before = (ref(flow, "main"), tags(flow))
    for attempt in (1, 2):
        result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER])
        assert result.exit_code == 1 and "needs 1 approval(s)" in result.stderr
        runs = kept_runs(flow, head)
        assert len(runs) == attempt and not runs[-1]["ok"] and runs[-1]["kind"] == "publish"
        assert runs[-1]["rules"] and runs[-1]["rules"][0]["gate"] == "review"
    assert (ref(flow, "main"), tags(flow)) == before


def test_a_dry_run_records_nothing(flow: Path) -> None:
    ok = ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    bad = draft_commit(flow, "bad", {mpath("m8"): mapping_entry("m8", "cement kiln", "C24")})
    assert run(["publish", "--repo", str(flow), "rebar", "--dry-run"]).exit_code == 0
    assert run(["publish", "--repo", str(flow), "bad", "--dry-run"]).exit_code == 1
    assert kept_runs(flow, ok) == [] and kept_runs(flow, bad) == []
    assert ref(flow, GATES_NOTES) is None


def test_a_release_records_its_gate_run_on_mains_tip(flow: Path) -> None:
    tip = ref(flow, "main")
    assert tip is not None
    assert run(["release", "--repo", str(flow), "--by", PUBLISHER]).exit_code == 0
    [kept] = kept_runs(flow, tip)
    assert kept["kind"] == "release" and kept["ok"] is True


def test_a_pushed_publication_pushes_its_gate_run(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    head = ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER, "--push", "origin"])
    assert result.exit_code == 0, result.stderr
    assert git(bare, "rev-parse", GATES_NOTES) == ref(flow, GATES_NOTES)
    assert [r["ok"] for r in kept_runs(bare, head)] == [True]


def test_history_that_cannot_be_kept_is_a_warning_never_a_failed_publication(flow: Path) -> None:
    head = ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    # the gate history ref points at a blob: no note can be appended to it
    blob = git(flow, "hash-object", "-w", "--stdin", input="not a notes commit\n")
    git(flow, "update-ref", GATES_NOTES, blob)
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER])
    assert result.exit_code == 0 and tags(flow) == ["mapping/v1"]
    assert f"the gate run was not kept in {GATES_NOTES}" in result.stderr + result.stdout
    assert ref(flow, GATES_NOTES) == blob and head
