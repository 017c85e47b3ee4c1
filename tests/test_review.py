"""Review: approvals and rejections as notes bound to the head commit; the review gate."""

from __future__ import annotations

import json
from pathlib import Path

from canonry.gates.engine import GATES, default_gates, run_gates
from canonry.publication import review
from canonry.publication.review_gate import EXTRA_GATES, all_gates
from canonry.store.commits import parse_trailers
from canonry.store.repo import Identity, Repository
from canonry.store.yamlio import dump_yaml, load_yaml
from conftest import git, run
from flow_helpers import (
    AUTHOR,
    ECONOMIST,
    MAPPER,
    OWNER,
    PUBLISHER,
    approve,
    cpath,
    draft_commit,
    mpath,
    note_entry,
    tags,
)
from helpers import mapping_entry


def review_findings(repo: Path, draft: str) -> list[str]:
    result = run_gates(Repository(repo), "main", f"draft/{draft}", gates=["review"], extra_gates=EXTRA_GATES)
    return [f.message for f in result.errors]


def test_approve_records_a_note_on_the_head(flow: Path) -> None:
    head = draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    assert review_findings(flow, "x")
    result = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", MAPPER, "--reason", "checked"])
    assert result.exit_code == 0
    assert result.stdout == f"approved draft/x at {head[:12]} by {MAPPER}: checked\n"
    note = load_yaml(git(flow, "notes", "--ref=refs/notes/canonry-reviews", "show", head))
    assert note == [
        {
            "decision": "approve",
            "reviewer": MAPPER,
            "commit": head,  # the exact commit approved (issue 9: a note moved elsewhere never counts)
            "at": note[0]["at"],
            "draft": "draft/x",
            "reason": "checked",
            "libraries": ["mapping"],
        }
    ]
    assert review_findings(flow, "x") == []
    trailers = parse_trailers(git(flow, "log", "-1", "--format=%B", "refs/notes/canonry-reviews"))
    assert (trailers["Canonry-Source"], trailers["Canonry-Actor"], trailers["Canonry-Reason"]) == (
        "review",
        MAPPER,
        "checked",
    )


def test_status_text_and_json(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    pending = run(["review", "status", "--repo", str(flow), "draft/x"])
    assert pending.exit_code == 0 and "draft/x at" in pending.stdout and ": pending" in pending.stdout
    approve(flow, "x")
    doc = json.loads(run(["review", "status", "--repo", str(flow), "x", "--format", "json"]).stdout)
    assert doc["format"] == "canonry.review/v1"
    assert (doc["state"], doc["ok"], doc["approved_by"], doc["libraries"]) == (
        "approved",
        True,
        [MAPPER],
        ["mapping"],
    )
    assert doc["authors"] == [AUTHOR]
    assert doc["requirements"] == [
        {"library": "mapping", "eligible": [MAPPER, OWNER], "needed": 1, "approvals": [MAPPER], "ok": True}
    ]


def test_a_commit_after_the_approval_makes_it_stale(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "x")
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C25")})
    status = review.review_status(Repository(flow), "x")
    assert status.state == "stale" and [d.reviewer for d in status.stale] == [MAPPER]
    assert any("needs 1 approval" in m for m in review_findings(flow, "x"))
    result = run(["publish", "--repo", str(flow), "x"])
    assert result.exit_code == 1 and tags(flow) == []
    assert (
        "stale: approve by mapper@example.org" in run(["review", "status", "--repo", str(flow), "x"]).stdout
    )


def test_an_author_cannot_approve(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")}, author=MAPPER)
    result = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", "Mapper@Example.org"])
    assert result.exit_code == 1 and "authored a commit of draft/x and cannot approve it" in result.stderr
    assert git(flow, "notes", "--ref=refs/notes/canonry-reviews", "list") == ""


def test_a_self_approval_written_directly_does_not_count(flow: Path) -> None:
    head = draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")}, author=MAPPER)
    forged = dump_yaml([{"decision": "approve", "reviewer": MAPPER, "at": "2026-01-15T10:00:00Z"}])
    Repository(flow).write_note(review.NOTES_REF, head, forged, Identity("m", MAPPER), "forged")
    status = review.review_status(Repository(flow), "x")
    assert not status.ok and status.approved_by == []
    # written by other means: it records no commit, so it counts for nothing whoever wrote it
    assert any("does not count: it records no commit" in w for w in status.warnings)
    assert any("needs 1 approval" in m for m in review_findings(flow, "x"))


def test_reviewers_must_be_stewards_or_owners_of_the_base(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    wrong = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", ECONOMIST])
    assert wrong.exit_code == 1 and "neither a steward" in wrong.stderr
    owner = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", OWNER])
    assert owner.exit_code == 0 and review_findings(flow, "x") == []
    bad = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", "not an email"])
    assert bad.exit_code == 2


def test_a_draft_that_adds_itself_as_steward_gains_nothing(flow: Path) -> None:
    text = (
        (flow / "schemas/libraries.yaml")
        .read_text()
        .replace(f"stewards: [{MAPPER}]", f"stewards: [{MAPPER}, {ECONOMIST}]")
    )
    draft_commit(
        flow,
        "x",
        {"schemas/libraries.yaml": text, mpath("m9"): mapping_entry("m9", "rebar bending", "C24")},
        author=AUTHOR,
    )
    # the draft's own registry would let the economist approve; the base's does not
    assert run(["review", "approve", "--repo", str(flow), "x", "--reviewer", ECONOMIST]).exit_code == 1
    approve(flow, "x", MAPPER)
    messages = review_findings(flow, "x")
    assert messages == [messages[0]] and "changes schemas: needs a policy owner's approval" in messages[0]
    approve(flow, "x", OWNER)
    assert review_findings(flow, "x") == []


def test_a_schema_change_needs_an_owner(flow: Path) -> None:
    path = flow / "schemas/mapping.schema.json"
    schema = json.loads(path.read_text())
    schema["description"] = "looser"
    draft_commit(flow, "x", {"schemas/mapping.schema.json": json.dumps(schema, indent=2) + "\n"})
    status = review.review_status(Repository(flow), "x")
    assert status.rules_changed and [r.library for r in status.requirements] == [review.RULES]
    assert any("policy owner's approval" in m for m in review_findings(flow, "x"))
    steward = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", MAPPER])
    assert steward.exit_code == 1 and "who may decide: owner@example.org" in steward.stderr
    approve(flow, "x", OWNER)
    assert review_findings(flow, "x") == []


def test_a_note_the_draft_carries_itself_counts_for_nothing(flow: Path) -> None:
    head = draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    note = dump_yaml([{"decision": "approve", "reviewer": MAPPER, "at": "2026-01-15T10:00:00Z"}])
    # a file shaped like a notes tree inside the draft, and a notes commit kept on a branch
    draft_commit(flow, "x", {f"refs/notes/canonry-reviews/{head}": note})
    head = git(flow, "rev-parse", "draft/x")
    blob = git(flow, "hash-object", "-w", "--stdin", input=note)
    tree = git(flow, "mktree", input=f"100644 blob {blob}\t{head}\n")
    fake = git(flow, "commit-tree", tree, "-m", "notes")
    git(flow, "update-ref", "refs/heads/draft/x-notes", fake)
    git(flow, "update-ref", "refs/notes/canonry-reviews-x", fake)
    assert review.decisions_on(Repository(flow), head) == []
    assert any("needs 1 approval" in m for m in review_findings(flow, "x"))


def test_rejection_blocks_until_the_same_reviewer_approves(flow: Path) -> None:
    head = draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    no_reason = run(["review", "reject", "--repo", str(flow), "x", "--reviewer", MAPPER])
    assert no_reason.exit_code == 2
    rejected = run(
        ["review", "reject", "--repo", str(flow), "x", "--reviewer", MAPPER, "--reason", "C24 is wrong"]
    )
    assert rejected.exit_code == 0 and rejected.stdout.startswith("rejected draft/x")
    approve(flow, "x", OWNER)
    messages = review_findings(flow, "x")
    assert messages == [f"rejected by {MAPPER} on {head[:12]}: C24 is wrong"]
    assert review.review_status(Repository(flow), "x").state == "rejected"
    approve(flow, "x", MAPPER)
    assert review_findings(flow, "x") == []
    # both decisions stay in the note, in order
    note = load_yaml(git(flow, "notes", "--ref=refs/notes/canonry-reviews", "show", head))
    assert [(d["decision"], d["reviewer"]) for d in note] == [
        ("reject", MAPPER),
        ("approve", OWNER),
        ("approve", MAPPER),
    ]


def test_every_library_touched_needs_its_stewards(flow: Path) -> None:
    draft_commit(
        flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24"), cpath("n1"): note_entry("n1")}
    )
    approve(flow, "x", MAPPER)
    messages = review_findings(flow, "x")
    assert len(messages) == 1 and messages[0].startswith("calibration-notes: needs 1 approval")
    approve(flow, "x", ECONOMIST)
    assert review_findings(flow, "x") == []


def test_min_approvals_two(flow: Path) -> None:
    text = (flow / "schemas/libraries.yaml").read_text()
    text = text.replace("min_approvals: 1", "min_approvals: 2").replace(
        f"stewards: [{MAPPER}]", f"stewards: [{MAPPER}, m2@example.org]"
    )
    (flow / "schemas/libraries.yaml").write_text(text)
    git(flow, "commit", "-q", "-am", "two approvals")
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "x", MAPPER)
    approve(flow, "x", MAPPER)  # the same reviewer twice is one approval
    assert any("needs 2 approval(s)" in m and "has 1" in m for m in review_findings(flow, "x"))
    approve(flow, "x", "M2@example.org")
    assert review_findings(flow, "x") == []


def test_gate_command_leaves_review_out_and_publish_runs_it(flow: Path) -> None:
    assert "review" in all_gates() and "review" not in GATES and "review" not in default_gates()
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    gate = run(["gate", "--repo", str(flow), "--base", "main", "--head", "draft/x"])
    assert gate.exit_code == 0 and "[review]" not in gate.stdout
    publish = run(["publish", "--repo", str(flow), "x", "--by", PUBLISHER])
    assert publish.exit_code == 1 and "[review]" in publish.stderr


def test_reviewing_a_merged_draft_is_refused(flow: Path) -> None:
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "x")
    assert run(["publish", "--repo", str(flow), "x", "--by", PUBLISHER]).exit_code == 0
    again = run(["review", "approve", "--repo", str(flow), "x", "--reviewer", OWNER])
    assert again.exit_code == 2 and "already merged" in again.stderr
