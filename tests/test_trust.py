"""Signed review decisions (issue 9, items 1, 2 and 10): what counts, and every forgery that must not.

Each forgery is tried for real (git notes, copied notes, another head's or
draft's signature, an unlisted key, a key added by the draft itself, a key
removed on main after the approval) and each is refused with a clear message
while main, tags and notes stay as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canonry.errors import ReviewError, SignatureError
from canonry.publication import decisions, review
from canonry.publication import publish as publishing
from canonry.store.refnames import GATES_NOTES
from canonry.store.repo import Identity, Repository
from canonry.store.yamlio import dump_yaml, load_yaml
from conftest import git, run
from flow_helpers import (
    AUTHOR,
    ECONOMIST,
    MAPPER,
    OWNER,
    PUBLISHER,
    cli,
    draft_commit,
    mpath,
    ready_draft,
    serve,
    tags,
)
from helpers import mapping_entry
from trust_keys import keypair, sign_on_main, signers_text

NOTES = decisions.NOTES_REF


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return {who: keypair(tmp_path / "keys", who) for who in (OWNER, MAPPER, ECONOMIST, AUTHOR)}


@pytest.fixture
def signed(flow: Path, keys: dict[str, tuple[Path, str]]) -> Path:
    """The flow repository with every test principal's key listed on main and signed reviews required."""
    sign_on_main(flow, {who: pub for who, (_path, pub) in keys.items()})
    return flow


def snapshot(repo: Path) -> dict[str, str]:
    """Every ref that publication could move: main, tags, notes (bar the gate history).

    A refused publish records its failed gate run under GATES_NOTES on purpose
    (tests/test_publish_history.py): that is data about the refusal, not a publication.
    """
    out = git(
        repo,
        "for-each-ref",
        "--format=%(refname) %(objectname)",
        "refs/heads/main",
        "refs/tags",
        "refs/notes",
    )
    refs = dict(line.split() for line in out.splitlines())
    refs.pop(GATES_NOTES, None)
    return refs


def new_draft(repo: Path, name: str = "x", pattern: str = "rebar bending", author: str = AUTHOR) -> str:
    return draft_commit(repo, name, {mpath("m9"): mapping_entry("m9", pattern, "C24")}, author=author)


def approve(repo: Path, name: str, who: str, key: Path) -> decisions.Decision:
    return review.approve(Repository(repo), name, who, key=str(key))


def refuses_to_publish(repo: Path, name: str, expected: str) -> None:
    before = snapshot(repo)
    result = run(["publish", "--repo", str(repo), name, "--by", PUBLISHER])
    assert result.exit_code == 1, result.stdout + result.stderr
    assert expected in result.stdout + result.stderr
    assert "nothing was published" in result.stderr
    assert snapshot(repo) == before


def forge(repo: Path, commit: str, items: list[dict[str, object]]) -> None:
    """Write a note the way an intruder would: straight into the notes ref with git notes."""
    git(repo, "notes", f"--ref={NOTES}", "add", "-f", "-m", dump_yaml(items), commit)


# --- what counts ----------------------------------------------------------------------------------


def test_a_signed_approval_counts_and_publishes(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    head = new_draft(signed)
    result = run(
        ["review", "approve", "--repo", str(signed), "x", "--reviewer", MAPPER, "--key", str(keys[MAPPER][0])]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"approved draft/x at {head[:12]} by {MAPPER} (signed)\n"
    note = load_yaml(git(signed, "notes", f"--ref={NOTES}", "show", head))
    assert note[0]["commit"] == head and note[0]["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    status = review.review_status(Repository(signed), "x")
    assert status.ok and status.approved_by == [MAPPER] and status.on_head[0].verified
    assert run(["publish", "--repo", str(signed), "x", "--by", PUBLISHER]).exit_code == 0
    assert tags(signed) == ["mapping/v1"]


def test_the_key_defaults_to_gits_user_signingkey(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    new_draft(signed)
    git(signed, "config", "user.signingkey", str(keys[MAPPER][0]))
    assert run(["review", "approve", "--repo", str(signed), "x", "--reviewer", MAPPER]).exit_code == 0
    assert review.review_status(Repository(signed), "x").ok


def test_without_a_key_nothing_is_written(signed: Path) -> None:
    new_draft(signed)
    before = snapshot(signed)
    result = run(["review", "approve", "--repo", str(signed), "x", "--reviewer", MAPPER])
    assert result.exit_code == 1
    assert "no key to sign the decision with: pass --key PATH" in result.stderr
    assert snapshot(signed) == before


def test_a_signed_rejection_blocks(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    new_draft(signed)
    review.reject(Repository(signed), "x", MAPPER, "C24 is wrong", key=str(keys[MAPPER][0]))
    refuses_to_publish(signed, "x", f"rejected by {MAPPER}")


# --- forgeries ------------------------------------------------------------------------------------


def test_a_note_forged_with_git_notes_counts_for_nothing(signed: Path) -> None:
    head = new_draft(signed)
    forge(
        signed,
        head,
        [{"decision": "approve", "reviewer": MAPPER, "commit": head, "draft": "draft/x", "at": "x"}],
    )
    status = review.review_status(Repository(signed), "x")
    assert not status.ok and status.approved_by == []
    assert status.unverified[0].unverified == "it is not signed (the policy requires signed reviews)"
    text = run(["review", "status", "--repo", str(signed), "x"]).stdout
    assert f"unverified: approve by {MAPPER} counts for nothing: it is not signed" in text
    refuses_to_publish(signed, "x", "mapping: needs 1 approval(s)")


def test_a_note_copied_to_another_commit_counts_for_nothing(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    old = new_draft(signed)
    approve(signed, "x", MAPPER, keys[MAPPER][0])
    new = draft_commit(signed, "x", {mpath("m8"): mapping_entry("m8", "unreviewed", "C24")})
    git(signed, "notes", f"--ref={NOTES}", "copy", old, new)
    status = review.review_status(Repository(signed), "x")
    assert not status.ok
    assert f"it records commit {old[:12]} but the note is on {new[:12]} (moved or copied)" in (
        status.unverified[0].unverified or ""
    )
    refuses_to_publish(signed, "x", "mapping: needs 1 approval(s)")


def test_a_valid_signature_for_another_head_counts_for_nothing(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    old = new_draft(signed)
    made = approve(signed, "x", MAPPER, keys[MAPPER][0])
    new = draft_commit(signed, "x", {mpath("m8"): mapping_entry("m8", "unreviewed", "C24")})
    # the same signed item, relabelled with the new head: the signature covers the old one
    item = {**made.note_item(), "commit": new}
    forge(signed, new, [item])
    status = review.review_status(Repository(signed), "x")
    assert not status.ok and status.approved_by == []
    assert "its signature does not verify for mapper@example.org" in (status.unverified[0].unverified or "")
    assert old != new
    refuses_to_publish(signed, "x", "mapping: needs 1 approval(s)")


def test_a_valid_signature_for_another_draft_counts_for_nothing(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    head = new_draft(signed, "a")
    git(signed, "branch", "draft/b", head)  # the same commit under another draft
    approve(signed, "a", MAPPER, keys[MAPPER][0])
    assert review.review_status(Repository(signed), "a").ok
    status = review.review_status(Repository(signed), "b")
    assert not status.ok and status.unverified[0].unverified == "it was made for draft/a, not draft/b"
    refuses_to_publish(signed, "b", "mapping: needs 1 approval(s)")


def test_a_key_not_listed_for_the_reviewer_is_refused(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    head = new_draft(signed)
    before = snapshot(signed)
    with pytest.raises(ReviewError, match="its signature does not verify for mapper@example.org"):
        approve(signed, "x", MAPPER, keys[ECONOMIST][0])  # the economist's key, signing as the mapper
    assert snapshot(signed) == before
    # written anyway, by other means: still nothing
    payload = decisions.decision_payload("draft/x", head, "approve", MAPPER, "2026-11-01T00:00:00Z", None)
    signature = decisions.sign_decision(Repository(signed), payload, str(keys[ECONOMIST][0]))
    item = {
        "decision": "approve",
        "reviewer": MAPPER,
        "commit": head,
        "at": "2026-11-01T00:00:00Z",
        "draft": "draft/x",
        "signature": signature,
    }
    forge(signed, head, [item])
    refuses_to_publish(signed, "x", "mapping: needs 1 approval(s)")


def test_a_draft_adding_its_authors_key_gains_nothing(
    signed: Path, keys: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    intruder, pub = keypair(tmp_path / "intruder", "intruder@example.org")
    listed = {who: p for who, (_k, p) in keys.items()}
    draft_commit(
        signed,
        "x",
        {
            mpath("m9"): mapping_entry("m9", "rebar bending", "C24"),
            # the draft lists the intruder's key as the mapping steward's
            "schemas/allowed_signers": signers_text({**listed, MAPPER: pub}),
        },
    )
    with pytest.raises(ReviewError, match="does not verify for mapper@example.org against main's"):
        approve(signed, "x", MAPPER, intruder)
    refuses_to_publish(signed, "x", "needs a policy owner's approval")


def test_a_steward_whose_key_was_removed_on_main_no_longer_counts(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    new_draft(signed)
    approve(signed, "x", MAPPER, keys[MAPPER][0])
    assert review.review_status(Repository(signed), "x").ok
    sign_on_main(signed, {who: p for who, (_k, p) in keys.items() if who != MAPPER}, message="revoke mapper")
    status = review.review_status(Repository(signed), "x")
    assert not status.ok and "does not verify" in (status.unverified[0].unverified or "")
    refuses_to_publish(signed, "x", "mapping: needs 1 approval(s)")


def test_a_forged_self_approval_as_another_author(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    new_draft(signed, author=MAPPER)  # the steward wrote the draft
    with pytest.raises(ReviewError, match="authored a commit of draft/x"):
        approve(signed, "x", MAPPER, keys[MAPPER][0])


def test_review_status_json_lists_unverified_decisions(signed: Path) -> None:
    head = new_draft(signed)
    forge(signed, head, [{"decision": "approve", "reviewer": MAPPER, "at": "x"}])
    doc = json.loads(run(["review", "status", "--repo", str(signed), "x", "--format", "json"]).stdout)
    assert doc["unverified_decisions"][0]["unverified"].startswith("it records no commit")
    assert doc["approved_by"] == [] and doc["state"] == "pending"


# --- signed commits (item 2) ------------------------------------------------------------------------


def signed_commit(repo: Path, name: str, key: Path | None, author: str) -> str:
    git(repo, "checkout", "-q", "-B", f"draft/{name}", "main")
    (repo / mpath("m9")).write_text(dump_yaml(mapping_entry("m9", "rebar bending", "C24")), encoding="utf-8")
    git(repo, "add", "-A")
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    git(repo, *sign, "commit", "-q", *(["-S"] if key else []), f"--author=A <{author}>", "-m", "rebar")
    git(repo, "checkout", "-q", "main")
    return git(repo, "rev-parse", f"draft/{name}")


def test_with_signed_commits_the_signer_cannot_approve(flow: Path, keys: dict[str, tuple[Path, str]]) -> None:
    sign_on_main(flow, {who: p for who, (_k, p) in keys.items()}, commits=True)
    signed_commit(flow, "x", keys[MAPPER][0], author=AUTHOR)  # the mapper signed it, under another name
    status = review.review_status(Repository(flow), "x")
    assert status.signers == [MAPPER]
    with pytest.raises(ReviewError, match="signed a commit of draft/x"):
        approve(flow, "x", MAPPER, keys[MAPPER][0])
    approve(flow, "x", OWNER, keys[OWNER][0])
    assert review.review_status(Repository(flow), "x").ok


def test_with_signed_commits_an_unsigned_commit_blocks(flow: Path, keys: dict[str, tuple[Path, str]]) -> None:
    sign_on_main(flow, {who: p for who, (_k, p) in keys.items()}, commits=True)
    head = signed_commit(flow, "x", None, author=AUTHOR)
    approve(flow, "x", MAPPER, keys[MAPPER][0])
    status = review.review_status(Repository(flow), "x")
    assert not status.ok
    assert any(f"commit {head[:12]} of the draft is not signed" in m for _l, m in status.problems)


def test_without_signed_reviews_an_unsigned_decision_still_counts(flow: Path) -> None:
    """The policy key absent (a repository from before signed reviews): the old behaviour, advisory."""
    new_draft(flow)
    made = review.approve(Repository(flow), "x", MAPPER)
    assert made.signature is None and review.review_status(Repository(flow), "x").ok


def test_sign_decision_reports_a_missing_key_file(signed: Path, tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="does not exist"):
        decisions.sign_decision(Repository(signed), b"x", str(tmp_path / "nope"))


def test_publish_counts_only_signed_decisions_from_the_remote_too(signed: Path) -> None:
    """publish reads the same check as review status: a forged note stops it whatever the gate order."""
    head = new_draft(signed)
    Repository(signed).write_note(
        NOTES,
        head,
        dump_yaml(
            [{"decision": "approve", "reviewer": MAPPER, "commit": head, "draft": "draft/x", "at": "t"}]
        ),
        Identity("m", MAPPER),
        "forged",
    )
    with pytest.raises(Exception, match="does not pass the gates"):
        publishing.publish(Repository(signed), "x", by=PUBLISHER)


# --- publication leaves no trap (item 10) ------------------------------------------------------------


def clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_a_commit_straight_onto_main_is_not_carried_out(flow: Path) -> None:
    ready_draft(flow, "a", mapping_entry("m8", "glass blowing", "C23"))
    publishing.publish(Repository(flow), "a", by=PUBLISHER)
    (flow / mpath("m0")).write_text(dump_yaml(mapping_entry("m0", "steel rebar", "C25")), encoding="utf-8")
    git(flow, "commit", "-q", "-am", "quick fix on main")
    ready_draft(flow, "b", mapping_entry("m9", "rebar bending", "C24"))
    before = snapshot(flow)
    result = run(["publish", "--repo", str(flow), "b", "--by", PUBLISHER])
    assert result.exit_code == 2
    assert "main has 1 commit(s) since its last publication that no gate and no review saw" in result.stderr
    assert "'quick fix on main'" in result.stderr and "nothing was published" in result.stderr
    assert snapshot(flow) == before


def test_a_dirty_checked_out_main_is_refused(flow: Path) -> None:
    ready_draft(flow, "a", mapping_entry("m8", "glass blowing", "C23"))
    (flow / mpath("m0")).write_text("edited: true\n", encoding="utf-8")
    before = snapshot(flow)
    result = run(["publish", "--repo", str(flow), "a", "--by", PUBLISHER])
    assert result.exit_code == 2 and "its index or work tree differ from main" in result.stderr
    assert snapshot(flow) == before and (flow / mpath("m0")).read_text() == "edited: true\n"


@pytest.mark.parametrize("step", ["merge-written", "refs-moved"])
def test_a_publisher_killed_at_each_step_leaves_no_trap(flow: Path, step: str) -> None:
    ready_draft(flow, "a", mapping_entry("m8", "glass blowing", "C23"))
    dead = cli(["publish", "a", "--by", PUBLISHER], flow, {publishing.CRASH_ENV: step})
    assert dead.returncode == 137
    again = cli(["publish", "a", "--by", PUBLISHER], flow)
    if step == "refs-moved":  # main moved, the index did not: said, and refused until it follows
        assert again.returncode == 2 and "git read-tree -m -u" in again.stderr
        git(flow, "read-tree", "-m", "-u", again.stderr.split("git read-tree -m -u ")[1].split()[0], "main")
        again = cli(["publish", "a", "--by", PUBLISHER], flow)
    assert again.returncode == 0, again.stderr
    assert tags(flow) == ["mapping/v1"] and clean(flow)
    assert git(flow, "rev-parse", "main^2") == git(flow, "rev-parse", "draft/a")


def test_a_push_publisher_behind_the_remote_brings_its_checkout_along(
    flow: Path, flow_daemon: tuple[Path, str], tmp_path: Path
) -> None:
    bare = serve(flow, *flow_daemon)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", flow_daemon[1] + "remote.git", str(other))
    ready_draft(other, "a", mapping_entry("m8", "glass blowing", "C23"))
    assert cli(["publish", "a", "--by", PUBLISHER, "--push", "origin"], other).returncode == 0
    # this clone is now behind; its main is checked out and clean
    ready_draft(flow, "b", mapping_entry("m9", "rebar bending", "C24"))
    assert cli(["publish", "b", "--by", PUBLISHER, "--push", "origin"], flow).returncode == 0
    assert git(flow, "rev-parse", "main") == git(bare, "rev-parse", "main") and clean(flow)
    assert (flow / mpath("m8")).is_file() and (flow / mpath("m9")).is_file()
    # the next ordinary commit on main reverts nothing
    git(flow, "commit", "-q", "--allow-empty", "-m", "next")
    assert git(flow, "diff", "--name-only", "main~1", "main") == ""


# --- rollback and deprecation are governed (item 3) --------------------------------------------------


def published_twice(signed: Path, keys: dict[str, tuple[Path, str]]) -> Path:
    for name, entry in (("one", "m8"), ("two", "m9")):
        draft_commit(signed, name, {mpath(entry): mapping_entry(entry, f"pattern {entry}", "C24")})
        approve(signed, name, MAPPER, keys[MAPPER][0])
        publishing.publish(Repository(signed), name, by=PUBLISHER)
    return signed


def test_a_rollback_is_a_draft_reviewed_and_published(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    published_twice(signed, keys)
    result = run(
        [
            "rollback",
            "--repo",
            str(signed),
            "mapping",
            "--to",
            "v1",
            "--by",
            MAPPER,
            "--reason",
            "m9 was wrong",
        ]
    )
    assert result.exit_code == 0 and result.stdout == "draft/rollback-mapping-v1\n"
    before = snapshot(signed)
    assert snapshot(signed) == before
    refuses_to_publish(signed, "rollback-mapping-v1", "mapping: needs 1 approval(s)")
    approve(signed, "rollback-mapping-v1", MAPPER, keys[MAPPER][0])
    assert run(["publish", "--repo", str(signed), "rollback-mapping-v1", "--by", PUBLISHER]).exit_code == 0
    assert tags(signed)[-1] == "mapping/v3"
    assert "rollback_of: mapping/v1" in git(signed, "cat-file", "-p", "mapping/v3")


def test_a_rollback_by_a_non_steward_is_refused(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    published_twice(signed, keys)
    before = snapshot(signed)
    result = run(
        [
            "rollback",
            "--repo",
            str(signed),
            "mapping",
            "--to",
            "v1",
            "--by",
            "intruder@evil.org",
            "--reason",
            "x",
        ]
    )
    assert result.exit_code == 1 and "intruder@evil.org is neither a steward of mapping" in result.stderr
    assert snapshot(signed) == before and git(signed, "branch", "--list", "draft/rollback-*") == ""


def test_deprecation_needs_a_signed_decision_of_the_steward(
    signed: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    published_twice(signed, keys)
    before = snapshot(signed)
    for by, key in (
        ("intruder@evil.org", keys[AUTHOR][0]),
        (OWNER, keys[OWNER][0]),
        (MAPPER, keys[ECONOMIST][0]),
    ):
        result = run(
            ["deprecate", "--repo", str(signed), "mapping@v1", "--by", by, "--key", str(key), "--reason", "x"]
        )
        assert result.exit_code == 1, by
        assert "not a steward of mapping" in result.stderr or "does not verify" in result.stderr
    assert snapshot(signed) == before
    ok = run(
        ["deprecate", "--repo", str(signed), "mapping@v1", "--by", MAPPER, "--key", str(keys[MAPPER][0])]
        + ["--reason", "superseded"]
    )
    assert ok.exit_code == 0, ok.stderr
    doc = json.loads(run(["versions", "--repo", str(signed), "mapping", "--format", "json"]).stdout)
    assert doc["versions"][0]["deprecated"]["by"] == MAPPER


def test_consumers_honour_only_verified_deprecations(signed: Path, keys: dict[str, tuple[Path, str]]) -> None:
    published_twice(signed, keys)
    tag_object = git(signed, "rev-parse", "mapping/v2")
    forged = dump_yaml({"deprecated": {"reason": "forged", "by": MAPPER, "at": "2026-11-01T00:00:00Z"}})
    git(signed, "notes", "--ref=refs/notes/canonry", "add", "-m", forged, tag_object)
    doc = json.loads(run(["versions", "--repo", str(signed), "mapping", "--format", "json"]).stdout)
    row = doc["versions"][1]
    assert row["deprecated"] is None
    assert row["unverified_deprecation"]["why"] == "it is not signed (the policy requires signed decisions)"
    from canonry.publication.deprecation import deprecation
    from canonry.store.versions import resolve_version

    assert deprecation(Repository(signed), resolve_version(Repository(signed), "mapping", "v2")) is None


def test_with_signed_tags_by_must_be_the_signing_keys_principal(
    flow: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    listed = {who: p for who, (_k, p) in keys.items()}
    sign_on_main(flow, listed)
    registry = flow / "schemas" / "libraries.yaml"
    registry.write_text(
        registry.read_text().replace("policy:\n", "policy:\n  require_signed_tags: true\n", 1)
    )
    git(flow, "commit", "-qam", "policy: signed tags")
    draft_commit(flow, "x", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "x", MAPPER, keys[MAPPER][0])
    git(flow, "config", "gpg.format", "ssh")
    git(flow, "config", "user.signingkey", str(keys[OWNER][0]))  # the owner's key signs the tags
    before = snapshot(flow)
    result = run(["publish", "--repo", str(flow), "x", "--by", MAPPER, "--sign"])
    assert result.exit_code == 1
    assert f"--by {MAPPER} is not the principal of the key that signs the tags ({OWNER})" in result.stderr
    assert snapshot(flow) == before
    assert run(["publish", "--repo", str(flow), "x", "--by", OWNER, "--sign"]).exit_code == 0
    assert tags(flow) == ["mapping/v1"]
