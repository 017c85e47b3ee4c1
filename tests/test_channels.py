"""Channels: signed moves by stewards, refused for unknown or deprecated versions, read at runtime."""

from __future__ import annotations

import json
from pathlib import Path

import canonry
import pytest
from canonry.errors import (
    ChannelError,
    HistoryRewrittenWarning,
    LockFileError,
    UnknownLibraryError,
    UnknownVersionError,
    UsageError,
)
from canonry.publication import channels
from canonry.publication.audit import deprecate
from canonry.runtime.pins import pin
from canonry.store.repo import Identity, RefUpdate, Repository
from conftest import git, run
from runtime_helpers import OTHER, STEWARD, add_signers, make_key, set_signers_policy


@pytest.fixture
def governed(two_versions: Path, tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """two_versions (mapping/v1, v2) with SSH keys for the mapping steward and another steward."""
    return two_versions, add_signers(two_versions, tmp_path / "keys", [STEWARD, OTHER])


def test_set_list_and_resolve(governed: tuple[Path, dict[str, Path]]) -> None:
    path, keys = governed
    repo = Repository(path)
    tags_before = repo.refs("refs/tags/")
    record, moved = channels.set_channel(
        repo, "mapping", "stable", "v1", STEWARD, "first stable", key=str(keys[STEWARD])
    )
    assert moved and record.tag == "mapping/v1" and record.record
    record2, moved2 = channels.set_channel(
        repo, "mapping", "canary", "v2", STEWARD, "try v2", key=str(keys[STEWARD])
    )
    assert moved2
    # the same move again changes nothing
    _same, again = channels.set_channel(
        repo, "mapping", "canary", "v2", STEWARD, "again", key=str(keys[STEWARD])
    )
    assert not again
    assert repo.refs("refs/tags/") == tags_before  # moving a channel never moves a tag
    assert channels.check_record(repo, record2) == "verified"

    canon = canonry.open(str(path))
    assert canon.library("mapping", channel="stable").version == 1
    assert canon.library("mapping", channel="canary").version == 2
    assert canon.library("mapping", channel="stable").version == 1  # below the watermark: the channel decides
    with pytest.raises(UsageError):
        canon.library("mapping", "v1", channel="stable")
    with pytest.raises(ChannelError, match="not set"):
        canon.library("mapping", channel="beta")

    # promote: stable moves to v2; the chain is the audit log
    channels.set_channel(repo, "mapping", "stable", "v2", STEWARD, "canary held", key=str(keys[STEWARD]))
    moves = channels.history(repo, "mapping", "stable")
    assert [m.tag for m in moves] == ["mapping/v2", "mapping/v1"]
    assert moves[0].previous == moves[1].record
    result = run(["channel", "list", "mapping", "--repo", str(path), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    stable = next(c for c in doc["channels"] if c["channel"] == "stable")
    assert stable["verified"] and stable["current"]["tag"] == "mapping/v2" and len(stable["moves"]) == 2


def test_cli_set_and_lock_pins_a_channel(governed: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    path, keys = governed
    args = ["channel", "set", "mapping", "stable", "v1", "--by", STEWARD, "--key", str(keys[STEWARD])]
    result = run([*args, "--reason", "first", "--repo", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "mapping@stable -> mapping/v1" in result.stdout
    repo = Repository(path)
    lock, changes = pin(repo, ["mapping@stable"], None, str(path))
    assert lock.pins["mapping"].tag == "mapping/v1" and changes[0][1].version == 1
    canon = canonry.open(str(path), lock=lock)
    assert canon.library("mapping", channel="stable").version == 1
    channels.set_channel(repo, "mapping", "stable", "v2", STEWARD, "promote", key=str(keys[STEWARD]))
    with pytest.raises(LockFileError):  # the lock still pins v1: the channel moved, the pin did not
        canonry.open(str(path), lock=lock).library("mapping", channel="stable")


def test_refuses_unknown_deprecated_non_steward_and_bad_input(governed: tuple[Path, dict[str, Path]]) -> None:
    path, keys = governed
    repo = Repository(path)
    key = str(keys[STEWARD])
    with pytest.raises(UnknownVersionError):
        channels.set_channel(repo, "mapping", "stable", "v9", STEWARD, "nope", key=key)
    with pytest.raises(UnknownLibraryError):
        channels.set_channel(repo, "mapp", "stable", "v1", STEWARD, "nope", key=key)
    with pytest.raises(UsageError, match="not a version"):
        channels.set_channel(repo, "mapping", "stable", "main", STEWARD, "a branch is no version", key=key)
    with pytest.raises(UsageError, match="no channel 'beta'"):
        channels.set_channel(repo, "mapping", "beta", "v1", STEWARD, "nope", key=key)
    with pytest.raises(UsageError, match="reason"):
        channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "  ", key=key)
    with pytest.raises(ChannelError, match="not a steward of mapping"):
        channels.set_channel(repo, "mapping", "stable", "v1", OTHER, "not mine", key=str(keys[OTHER]))
    # a steward's name with another signer's key: the signature does not verify as theirs
    with pytest.raises(ChannelError, match="does not verify"):
        channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "forged", key=str(keys[OTHER]))
    deprecate(repo, "mapping@v1", "wrong sector codes", by=STEWARD, key=key)
    with pytest.raises(ChannelError, match="deprecated"):
        channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "old", key=key)
    assert repo.refs(channels.PREFIX) == {}  # nothing was written by any refusal
    result = run(["channel", "set", "mapping", "stable", "v9", "--by", STEWARD, "--key", key, "--reason", "x",
                  "--repo", str(path)])  # fmt: skip
    assert result.exit_code == 2 and "unknown version: mapping@v9" in result.stderr


def test_declared_channels_and_unsigned_policy(two_versions: Path, tmp_path: Path) -> None:
    repo = Repository(two_versions)
    key, _line = make_key(tmp_path, STEWARD)
    set_signers_policy(two_versions, "null")
    git(two_versions, "commit", "-q", "-am", "no signers")
    with pytest.raises(ChannelError, match="names no allowed-signers"):
        channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "x", key=str(key))
    keys = add_signers(two_versions, tmp_path / "keys", [STEWARD])
    registry = two_versions / "schemas" / "libraries.yaml"
    text = registry.read_text().replace(
        "    stewards: [mapping-steward@example.org]\n",
        "    stewards: [mapping-steward@example.org]\n    channels: [stable, canary, beta]\n",
        1,
    )
    registry.write_text(text)
    git(two_versions, "commit", "-q", "-am", "a beta channel")
    record, moved = channels.set_channel(
        repo, "mapping", "beta", "v2", STEWARD, "beta", key=str(keys[STEWARD])
    )
    assert moved and channels.declared_channels(repo_spec(repo)) == ("stable", "canary", "beta")


def repo_spec(repo: Repository):  # type: ignore[no-untyped-def]
    from canonry.store.rules import registry_at

    return registry_at(repo, repo.resolve_commit("main")).library("mapping")


def test_tampered_or_replayed_moves_are_refused(governed: tuple[Path, dict[str, Path]]) -> None:
    path, keys = governed
    repo = Repository(path)
    key = str(keys[STEWARD])
    first, _ = channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "one", key=key)
    second, _ = channels.set_channel(repo, "mapping", "stable", "v2", STEWARD, "two", key=key)
    ref = channels.channel_ref("mapping", "stable")
    # replay: the first (validly signed) record re-committed on top of the second
    tree = repo.tree_of(first.record)
    who = Identity("Mallory", "mallory@example.org")
    replay = repo.create_commit(tree, [second.record], "replay", who)
    repo.update_refs([RefUpdate(ref, replay, second.record)], "replay")
    with pytest.raises(ChannelError, match="replayed"):
        canonry.open(str(path)).library("mapping", channel="stable")
    # an edited record: the version changed without a new signature
    doc = json.loads(repo.read_blob(repo.entry_at(tree, "channel.json").oid))  # type: ignore[union-attr]
    doc["version"], doc["tag"], doc["previous"] = 2, "mapping/v2", second.record
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    sig = repo.read_blob(repo.entry_at(tree, "channel.sig").oid)  # type: ignore[union-attr]
    edited = repo.create_commit(
        repo.write_tree(None, {"channel.json": payload, "channel.sig": sig}), [second.record], "edit", who
    )
    repo.update_refs([RefUpdate(ref, edited, replay)], "edit")
    with pytest.raises(ChannelError, match="does not verify"):
        canonry.open(str(path)).library("mapping", channel="stable")
    result = run(["channel", "list", "mapping", "--repo", str(path)])
    assert result.exit_code == 1 and "NOT VERIFIED" in result.stdout


def test_mirrors_fetch_channels_fast_forward_only(governed: tuple[Path, dict[str, Path]]) -> None:
    path, keys = governed
    repo = Repository(path)
    key = str(keys[STEWARD])
    first, _ = channels.set_channel(repo, "mapping", "stable", "v1", STEWARD, "one", key=key)
    url = f"file://{path}"
    canon = canonry.open(url)
    assert canon.library("mapping", channel="stable").version == 1
    channels.set_channel(repo, "mapping", "stable", "v2", STEWARD, "two", key=key)
    canon = canonry.open(url)  # fetches: the move arrives
    assert canon.library("mapping", channel="stable").version == 2
    # the remote rewrites the channel's history back to the first move: the mirror keeps its copy
    ref = channels.channel_ref("mapping", "stable")
    repo.update_refs([RefUpdate(ref, first.record, repo.ref_target(ref))], "rewrite")
    with pytest.warns(HistoryRewrittenWarning, match="canonry/channels/mapping/stable"):
        canon = canonry.open(url)
    assert canon.library("mapping", channel="stable").version == 2


def test_push_is_fast_forward_only(governed: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    path, keys = governed
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(path, "push", "-q", str(remote), "main", "--tags")
    key = str(keys[STEWARD])
    args = ["channel", "set", "mapping", "stable", "v1", "--by", STEWARD, "--key", key, "--repo", str(path)]
    assert run([*args, "--reason", "one", "--push", str(remote)]).exit_code == 0
    ref = "refs/canonry/channels/mapping/stable"
    assert git(remote, "rev-parse", ref) == git(path, "rev-parse", ref)
    # another clone moves the channel first: this one's push is refused, nothing is overwritten
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "fetch", "-q", "origin", f"{ref}:{ref}")
    channels.set_channel(Repository(other), "mapping", "stable", "v2", STEWARD, "two", key=key)
    git(other, "push", "-q", "origin", f"{ref}:{ref}")
    moved = git(remote, "rev-parse", ref)
    result = run([*args[:3], "canary", *args[4:], "--reason", "c"])  # another channel: not pushed, fine
    assert result.exit_code == 0
    channels.set_channel(Repository(path), "mapping", "stable", "v2", STEWARD, "mine", key=key)
    with pytest.raises(ChannelError, match="refused mapping@stable"):
        channels.push_channel(Repository(path), "mapping", "stable", str(remote))
    assert git(remote, "rev-parse", ref) == moved
