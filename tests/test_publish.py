"""Publication: publish, release, rollback; metadata, atomicity, retries, pushes, crashes.

The flow repository (two libraries, known stewards, drafts written without a
work tree) comes from flow_helpers.py; its fixtures `flow` and `flow_daemon`
from conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from canonry.publication import publish as publishing
from canonry.publication import refs as publish_refs
from canonry.store.commits import Provenance, commit_to_branch, parse_trailers
from canonry.store.repo import Repository
from canonry.store.versions import list_versions
from conftest import git, run
from flow_helpers import (
    ECONOMIST,
    MAPPER,
    OWNER,
    PUBLISHER,
    WORDS,
    approve,
    cli,
    cpath,
    draft_commit,
    fsck,
    metadata,
    mpath,
    note_entry,
    ready_draft,
    ref,
    serve,
    tags,
)
from helpers import mapping_entry, write_entry
from runtime_helpers import free_port

# --- publish ------------------------------------------------------------------------------------


def test_first_publication_merges_and_tags_with_metadata(flow: Path) -> None:
    old_main = ref(flow, "main")
    head = ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER])
    assert result.exit_code == 0
    assert "published draft/rebar" in result.stdout and "mapping/v1: 4 added" in result.stdout
    # the merge commit: main's old tip first, the draft second, provenance trailers
    new_main = ref(flow, "main")
    assert git(flow, "rev-parse", "main^1") == old_main and git(flow, "rev-parse", "main^2") == head
    trailers = parse_trailers(git(flow, "log", "-1", "--format=%B", "main"))
    assert trailers["Canonry-Source"] == "publish" and trailers["Canonry-Actor"] == PUBLISHER
    assert trailers["Canonry-Source-Ref"] == "draft/rebar" and trailers["Canonry-Versions"] == "mapping/v1"
    # only libraries with content are tagged: calibration-notes is still empty
    assert tags(flow) == ["mapping/v1"]
    assert git(flow, "rev-parse", "mapping/v1^{commit}") == new_main
    meta = metadata(flow, "mapping/v1")
    assert meta == {
        "library": "mapping",
        "version": 1,
        "parent": None,
        "published_at": meta["published_at"],
        "published_by": PUBLISHER,
        "approved_by": [MAPPER],
        "draft": "draft/rebar",
        "entry_count": 4,
        "added": 4,
        "removed": 0,
        "changed": 0,
        "tree": git(flow, "rev-parse", "main:knowledge/mapping"),
        "holdout": None,
        "total_overrides_ingested": 0,
        "rollback_of": None,
        "gates": meta["gates"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["published_at"])
    assert meta["gates"][-1] == "review" and {"yaml", "schema", "identity"} <= set(meta["gates"])
    summary = git(flow, "cat-file", "tag", "mapping/v1").split("\n\n", 1)[1].split("\n", 1)[0]
    assert summary == "mapping/v1: 4 added, 0 removed, 0 changed (draft/rebar)"
    assert git(flow, "cat-file", "-t", "mapping/v1") == "tag"


def test_second_publication_counts_from_parent_and_tags_a_new_library(flow: Path) -> None:
    ready_draft(flow, "one", mapping_entry("m9", "rebar bending", "C24"))
    publishing.publish(Repository(flow), "one", by=PUBLISHER)
    changed = mapping_entry("m0", WORDS[0], "C24", confidence=0.95)
    draft_commit(flow, "two", {mpath("m0"): changed, mpath("m1"): None, cpath("n1"): note_entry("n1")})
    approve(flow, "two", MAPPER)
    approve(flow, "two", ECONOMIST)
    pub = publishing.publish(Repository(flow), "draft/two", by=PUBLISHER)
    assert [v.tag for v in pub.versions] == ["calibration-notes/v1", "mapping/v2"]
    meta = metadata(flow, "mapping/v2")
    assert (meta["parent"], meta["added"], meta["removed"], meta["changed"], meta["entry_count"]) == (
        "mapping/v1",
        0,
        1,
        1,
        3,
    )
    assert sorted(meta["approved_by"]) == sorted([MAPPER, ECONOMIST])
    assert metadata(flow, "calibration-notes/v1")["entry_count"] == 1
    assert [v.number for v in list_versions(Repository(flow), "mapping")] == [1, 2]


def test_publishing_again_creates_nothing(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    assert run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER]).exit_code == 0
    before = (ref(flow, "main"), tags(flow))
    again = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER, "--format", "json"])
    assert again.exit_code == 0
    doc = json.loads(again.stdout)
    assert doc["format"] == "canonry.publication/v1" and doc["action"] == "nothing" and doc["versions"] == []
    assert (ref(flow, "main"), tags(flow)) == before


def test_dry_run_shows_versions_and_diff_and_moves_nothing(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), "rebar", "--dry-run", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["action"] == "dry-run"
    assert [v["tag"] for v in doc["versions"]] == ["mapping/v1"]
    assert doc["diff"]["format"] == "canonry.diff/v1"
    assert doc["diff"]["libraries"]["mapping"]["added_entry_ids"] == ["m9"]
    assert (ref(flow, "main"), tags(flow)) == before
    text = run(["publish", "--repo", str(flow), "rebar", "--dry-run"])
    assert "would publish draft/rebar" in text.stdout and "added: rebar bending -> C24" in text.stdout


def test_publish_refuses_without_approval_and_shows_findings(flow: Path) -> None:
    draft_commit(flow, "rebar", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), "rebar"])
    assert result.exit_code == 1
    assert "[review] mapping: needs 1 approval(s)" in result.stderr
    assert "does not pass the gates" in result.stderr and "nothing was published" in result.stderr
    assert (ref(flow, "main"), tags(flow)) == before


def test_publish_refuses_an_invalid_entry(flow: Path) -> None:
    bad = mapping_entry("m9", "rebar bending", "c24")
    ready_draft(flow, "bad", bad)
    result = run(["publish", "--repo", str(flow), "bad"])
    assert result.exit_code == 1 and "[schema]" in result.stderr
    assert tags(flow) == []


def test_unknown_draft_is_a_usage_error(flow: Path) -> None:
    result = run(["publish", "--repo", str(flow), "nope"])
    assert result.exit_code == 2 and "draft/nope" in result.stderr


def test_main_moved_is_merged_structurally(flow: Path) -> None:
    # two drafts from the same main edit different fields of the same entry
    ready_draft(flow, "a", mapping_entry("m0", WORDS[0], "C24", confidence=0.9))
    draft_commit(flow, "b", {mpath("m0"): mapping_entry("m0", WORDS[0], "C24", language="ar")})
    approve(flow, "b")
    publishing.publish(Repository(flow), "a", by=PUBLISHER)
    pub = publishing.publish(Repository(flow), "b", by=PUBLISHER)
    assert [v.tag for v in pub.versions] == ["mapping/v2"]
    merged = git(flow, "show", "main:knowledge/mapping/m0.yaml")
    assert "confidence: 0.9" in merged and "language: ar" in merged
    assert metadata(flow, "mapping/v2")["changed"] == 1


def test_conflicting_drafts_are_refused_with_the_conflict(flow: Path) -> None:
    ready_draft(flow, "a", mapping_entry("m0", WORDS[0], "C24", confidence=0.9))
    ready_draft(flow, "b", mapping_entry("m0", WORDS[0], "C24", confidence=0.5))
    publishing.publish(Repository(flow), "a", by=PUBLISHER)
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), "b"])
    assert result.exit_code == 1
    assert "entry m0: field confidence changed two ways: base 0.8, main 0.9, draft/b 0.5" in result.stderr
    assert (ref(flow, "main"), tags(flow)) == before


@contextlib.contextmanager
def _no_lock(repo: Repository) -> Iterator[None]:
    yield


def test_a_lost_race_is_retried_on_the_new_main(flow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready_draft(flow, "slow", mapping_entry("m8", "rebar bending", "C24"))
    ready_draft(flow, "fast", mapping_entry("m9", "glass blowing", "C23"))
    real_step = publish_refs.step
    calls: list[str] = []

    def step(name: str) -> None:
        calls.append(name)
        if calls == ["merge-written"]:  # the slow publisher is between plan and commit
            publishing.publish(Repository(flow), "fast", by=PUBLISHER)
        real_step(name)

    monkeypatch.setattr(publish_refs, "step", step)
    monkeypatch.setattr(publish_refs, "publisher_lock", _no_lock)  # the other publisher is elsewhere
    pub = publishing.publish(Repository(flow), "slow", by=PUBLISHER)
    assert pub.attempts == 2
    assert tags(flow) == ["mapping/v1", "mapping/v2"]
    assert metadata(flow, "mapping/v2")["draft"] == "draft/slow"
    assert metadata(flow, "mapping/v2")["parent"] == "mapping/v1"
    fsck(flow)


def test_a_race_lost_every_time_fails_clearly_and_changes_nothing(
    flow: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_draft(flow, "slow", mapping_entry("m8", "rebar bending", "C24"))
    ready_draft(flow, "fast", mapping_entry("m9", "glass blowing", "C23"))
    real_step = publish_refs.step

    busy: list[bool] = []

    def step(name: str) -> None:
        if name == "merge-written" and not busy:
            busy.append(True)
            publishing.publish(Repository(flow), "fast", by=PUBLISHER)
        real_step(name)

    monkeypatch.setattr(publish_refs, "step", step)
    monkeypatch.setattr(publish_refs, "publisher_lock", _no_lock)
    with pytest.raises(publishing.RefMovedError) as caught:
        publishing.publish(Repository(flow), "slow", by=PUBLISHER, max_attempts=1)
    assert "another publisher got there first" in str(caught.value)
    assert tags(flow) == ["mapping/v1"]  # only the winner's


def test_publishing_moves_a_checked_out_main_with_its_work_tree(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    publishing.publish(Repository(flow), "rebar", by=PUBLISHER)
    assert (flow / mpath("m9")).exists()
    assert git(flow, "status", "--porcelain") == ""


def test_signed_publication_verifies(flow: Path, tmp_path: Path) -> None:
    from canonry.publication.signing import is_signed, verify_tag

    key = tmp_path / "signer"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", PUBLISHER, "-f", str(key)], check=True
    )
    git(flow, "config", "gpg.format", "ssh")
    git(flow, "config", "user.signingkey", str(key))
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{PUBLISHER} {key.with_suffix('.pub').read_text().strip()}\n")
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--sign", "--by", PUBLISHER])
    assert result.exit_code == 0
    repo = Repository(flow)
    oid = git(flow, "rev-parse", "mapping/v1")
    assert is_signed(repo.raw_object(oid))
    assert verify_tag(repo, "refs/tags/mapping/v1", oid, str(allowed)).signer == PUBLISHER
    assert metadata(flow, "mapping/v1")["version"] == 1  # the signature does not disturb the metadata


def test_sign_without_a_key_fails_before_anything_moves(flow: Path) -> None:
    git(flow, "config", "gpg.format", "ssh")
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), "rebar", "--sign"])
    assert result.exit_code == 1 and "user.signingkey is not set" in result.stderr
    assert (ref(flow, "main"), tags(flow)) == before


def test_policy_requiring_signed_tags_refuses_unsigned(flow: Path) -> None:
    text = (
        (flow / "schemas/libraries.yaml")
        .read_text()
        .replace("  min_approvals: 1\n", "  min_approvals: 1\n  require_signed_tags: true\n")
    )
    (flow / "schemas/libraries.yaml").write_text(text)
    git(flow, "commit", "-q", "-am", "require signed tags")
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar"])
    assert result.exit_code == 2 and "requires signed tags" in result.stderr
    assert tags(flow) == []


# --- release (forge flow) ---------------------------------------------------------------------------


def test_release_tags_what_main_has_and_only_once(flow: Path) -> None:
    first = run(["release", "--repo", str(flow), "--by", PUBLISHER])
    assert first.exit_code == 0 and tags(flow) == ["mapping/v1"]
    assert metadata(flow, "mapping/v1")["added"] == 3
    # a forge merges a pull request: a plain git merge, no canonry involved
    draft_commit(
        flow, "x", {cpath("n1"): note_entry("n1"), mpath("m7"): mapping_entry("m7", "shipyard", "C30")}
    )
    git(flow, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from org/draft/x", "draft/x")
    second = run(["release", "--repo", str(flow), "--by", PUBLISHER])
    assert second.exit_code == 0
    assert tags(flow) == ["calibration-notes/v1", "mapping/v1", "mapping/v2"]
    meta = metadata(flow, "mapping/v2")
    assert (meta["draft"], meta["parent"], meta["added"], meta["approved_by"]) == (
        "draft/x",
        "mapping/v1",
        1,
        [],
    )
    assert "review" not in meta["gates"]
    assert git(flow, "rev-parse", "mapping/v2^{commit}") == ref(flow, "main")
    third = run(["release", "--repo", str(flow), "--by", PUBLISHER])
    assert third.exit_code == 0 and "nothing to publish" in third.stdout
    assert len(tags(flow)) == 3


def test_release_refuses_content_that_fails_the_gates(flow: Path) -> None:
    run(["release", "--repo", str(flow), "--by", PUBLISHER])
    write_entry(flow, "mapping", mapping_entry("m7", "shipyard", "c30"))
    git(flow, "add", "-A")
    git(flow, "commit", "-q", "-m", "bad entry straight to main")
    result = run(["release", "--repo", str(flow), "--by", PUBLISHER])
    assert result.exit_code == 1 and "[schema]" in result.stderr
    assert tags(flow) == ["mapping/v1"]


# --- rollback -----------------------------------------------------------------------------------


def test_rollback_publishes_the_old_content_as_a_new_version(flow: Path) -> None:
    ready_draft(flow, "one", mapping_entry("m9", "rebar bending", "C24"))
    publishing.publish(Repository(flow), "one", by=PUBLISHER)
    draft_commit(flow, "two", {mpath("m0"): mapping_entry("m0", WORDS[0], "C25"), mpath("m9"): None})
    approve(flow, "two")
    publishing.publish(Repository(flow), "two", by=PUBLISHER)
    v1_tag_object = git(flow, "rev-parse", "mapping/v1")
    result = run(
        [
            "rollback",
            "--repo",
            str(flow),
            "mapping",
            "--to",
            "v1",
            "--by",
            MAPPER,
            "--reason",
            "C25 was wrong",
        ]
    )
    # issue 9: a rollback opens a draft; it is reviewed and published like any other
    assert result.exit_code == 0 and result.stdout == "draft/rollback-mapping-v1\n", result.stderr
    assert tags(flow) == ["mapping/v1", "mapping/v2"]
    approve(flow, "rollback-mapping-v1")
    publishing.publish(Repository(flow), "rollback-mapping-v1", by=MAPPER)
    assert git(flow, "rev-parse", "mapping/v3^{commit}:knowledge/mapping") == git(
        flow, "rev-parse", "mapping/v1^{commit}:knowledge/mapping"
    )
    assert git(flow, "rev-parse", "mapping/v1") == v1_tag_object  # no tag moved
    meta = metadata(flow, "mapping/v3")
    assert (meta["rollback_of"], meta["parent"], meta["published_by"]) == ("mapping/v1", "mapping/v2", MAPPER)
    assert (meta["added"], meta["changed"], meta["draft"]) == (1, 1, "draft/rollback-mapping-v1")
    trailers = parse_trailers(git(flow, "log", "-1", "--format=%B", "main^2"))
    assert trailers["Canonry-Source"] == "rollback" and trailers["Canonry-Reason"] == "C25 was wrong"
    assert trailers["Canonry-Source-Ref"] == "mapping/v1"
    again = run(
        ["rollback", "--repo", str(flow), "mapping", "--to", "v1", "--by", MAPPER, "--reason", "again"]
    )
    assert again.exit_code == 2 and "already has the content of mapping/v1" in again.stderr
    assert tags(flow)[-1] == "mapping/v3" and len(tags(flow)) == 3


def test_rollback_to_an_unknown_version_is_a_usage_error(flow: Path) -> None:
    result = run(["rollback", "--repo", str(flow), "mapping", "--to", "v7", "--reason", "x"])
    assert result.exit_code == 2 and "unknown version: mapping@v7" in result.stderr


# --- pushes -------------------------------------------------------------------------------------


def test_push_publishes_on_the_remote_atomically(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER, "--push", "origin"])
    assert result.exit_code == 0 and "pushed to origin" in result.stdout
    assert git(bare, "rev-parse", "main") == ref(flow, "main")
    assert git(bare, "rev-parse", "mapping/v1") == git(flow, "rev-parse", "mapping/v1")
    assert git(flow, "rev-parse", "refs/remotes/origin/main") == ref(flow, "main")
    fsck(bare)


def test_push_after_another_publisher_builds_on_the_remote(
    flow: Path, flow_daemon: tuple[Path, str], tmp_path: Path
) -> None:
    serve(flow, *flow_daemon)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", flow_daemon[1] + "remote.git", str(other))
    ready_draft(other, "theirs", mapping_entry("m8", "glass blowing", "C23"))
    assert run(["publish", "--repo", str(other), "theirs", "--push", "origin"]).exit_code == 0
    ready_draft(flow, "mine", mapping_entry("m9", "rebar bending", "C24"))
    pub = publishing.publish(Repository(flow), "mine", by=PUBLISHER, push="origin")
    assert [v.tag for v in pub.versions] == ["mapping/v2"]
    assert tags(flow) == ["mapping/v1", "mapping/v2"]
    assert metadata(flow, "mapping/v2")["parent"] == "mapping/v1"


def test_stale_lease_is_refused_as_a_whole(
    flow: Path, flow_daemon: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = serve(flow, *flow_daemon)
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    real_step = publish_refs.step

    def step(name: str) -> None:
        if name == "merge-written":  # someone pushes to the remote's main meanwhile
            scratch = commit_to_branch(
                Repository(bare), "main", {"README.md": b"moved\n"}, "moved", Provenance("user", OWNER, "x")
            )
            assert scratch
        real_step(name)

    monkeypatch.setattr(publish_refs, "step", step)
    before = (ref(flow, "main"), tags(flow))
    with pytest.raises(publishing.PushRejectedError) as caught:
        publishing.publish(Repository(flow), "rebar", by=PUBLISHER, push="origin", max_attempts=1)
    assert "stale info" in str(caught.value) and "local refs did not move" in str(caught.value)
    assert (ref(flow, "main"), tags(flow)) == before
    assert git(bare, "tag", "-l") == ""


def test_local_publication_is_pushed_by_the_next_push(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    publishing.publish(Repository(flow), "rebar", by=PUBLISHER)  # refs moved, push not done
    assert git(bare, "tag", "-l") == ""
    pub = publishing.publish(Repository(flow), "rebar", by=PUBLISHER, push="origin")
    assert pub.action == "published" and pub.versions == []
    assert set(pub.pushed) == {"refs/heads/main", "refs/tags/mapping/v1"}
    assert git(bare, "rev-parse", "main") == ref(flow, "main")
    assert git(bare, "tag", "-l") == "mapping/v1"
    again = publishing.publish(Repository(flow), "rebar", by=PUBLISHER, push="origin")
    assert again.action == "nothing"


def test_release_push_pushes_local_tags_the_remote_lacks(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    publishing.release(Repository(flow), by=PUBLISHER)
    result = run(["release", "--repo", str(flow), "--push", "origin"])
    assert result.exit_code == 0 and "refs/tags/mapping/v1" in result.stdout
    assert git(bare, "tag", "-l") == "mapping/v1"


# --- crashes: a real process killed between steps -------------------------------------------------


def test_crash_after_merge_written_leaves_nothing_visible_and_rerun_publishes(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    before = (ref(flow, "main"), tags(flow))
    dead = cli(["publish", "rebar", "--by", PUBLISHER], flow, {publishing.CRASH_ENV: "merge-written"})
    assert dead.returncode == 137
    assert (ref(flow, "main"), tags(flow)) == before
    again = cli(["publish", "rebar", "--by", PUBLISHER], flow)
    assert again.returncode == 0, again.stderr
    assert tags(flow) == ["mapping/v1"]
    fsck(flow)


def test_crash_after_refs_moved_is_complete_and_rerun_finds_nothing(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    dead = cli(["publish", "rebar", "--by", PUBLISHER], flow, {publishing.CRASH_ENV: "refs-moved"})
    assert dead.returncode == 137
    assert tags(flow) == ["mapping/v1"] and git(flow, "rev-parse", "main^2") == ref(flow, "draft/rebar")
    # issue 9: the index was left at the old main; the rerun says so and refuses until it follows
    stuck = cli(["publish", "rebar", "--by", PUBLISHER], flow)
    assert stuck.returncode == 2 and "the index stayed there" in stuck.stderr
    fix = re.search(r"`(git read-tree -m -u \S+ main)`", stuck.stderr)
    assert fix is not None
    git(flow, *fix[1].split()[1:])
    assert git(flow, "status", "--porcelain", "--untracked-files=no") == ""
    again = cli(["publish", "rebar", "--by", PUBLISHER], flow)
    assert again.returncode == 0 and "nothing to publish" in again.stdout
    assert tags(flow) == ["mapping/v1"]
    fsck(flow)


def test_crash_before_and_after_the_push(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    ready_draft(flow, "a", mapping_entry("m8", "glass blowing", "C23"))
    ready_draft(flow, "b", mapping_entry("m9", "rebar bending", "C24"))
    # objects written, nothing pushed: neither side changed; a rerun publishes
    dead = cli(["publish", "a", "--push", "origin"], flow, {publishing.CRASH_ENV: "merge-written"})
    assert dead.returncode == 137
    assert git(bare, "tag", "-l") == "" and tags(flow) == []
    assert cli(["publish", "a", "--push", "origin"], flow).returncode == 0
    assert git(bare, "tag", "-l") == "mapping/v1"
    # pushed, local refs not yet moved: the rerun finds it done and brings the local refs along
    local_main = ref(flow, "main")
    dead = cli(["publish", "b", "--push", "origin"], flow, {publishing.CRASH_ENV: "pushed"})
    assert dead.returncode == 137
    assert git(bare, "tag", "-l").split() == ["mapping/v1", "mapping/v2"]
    assert ref(flow, "main") == local_main and tags(flow) == ["mapping/v1"]
    again = cli(["publish", "b", "--push", "origin"], flow)
    assert again.returncode == 0 and "nothing to publish" in again.stdout
    assert tags(flow) == ["mapping/v1", "mapping/v2"]
    assert ref(flow, "main") == git(bare, "rev-parse", "main")
    fsck(flow)
    fsck(bare)


def test_push_reads_approvals_made_in_another_clone(
    flow: Path, flow_daemon: tuple[Path, str], tmp_path: Path
) -> None:
    bare = serve(flow, *flow_daemon)
    draft_commit(flow, "rebar", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    git(flow, "push", "-q", "origin", "draft/rebar")
    reviewer = tmp_path / "reviewer"
    git(tmp_path, "clone", "-q", flow_daemon[1] + "remote.git", str(reviewer))
    git(reviewer, "branch", "-q", "draft/rebar", "origin/draft/rebar")
    approve(reviewer, "rebar")
    git(reviewer, "push", "-q", "origin", "refs/notes/canonry-reviews")
    # the publisher's own notes ref has no approval; the remote's has
    assert run(["publish", "--repo", str(flow), "rebar"]).exit_code == 1
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER, "--push", "origin"])
    assert result.exit_code == 0, result.stderr
    assert git(bare, "tag", "-l") == "mapping/v1"
    assert metadata(flow, "mapping/v1")["approved_by"] == [MAPPER]


def test_unreachable_remote_is_an_environment_error(flow: Path) -> None:
    git(flow, "remote", "add", "origin", f"git://127.0.0.1:{free_port()}/nothing.git")
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), "rebar", "--push", "origin"])
    assert result.exit_code == 2 and "git fetch origin failed" in result.stderr
    assert (ref(flow, "main"), tags(flow)) == before


def test_release_dry_run_moves_nothing(flow: Path) -> None:
    result = run(["release", "--repo", str(flow), "--dry-run", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["action"] == "dry-run" and [v["tag"] for v in doc["versions"]] == ["mapping/v1"]
    assert tags(flow) == []
