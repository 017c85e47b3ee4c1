"""Signed versions: sign as git does, verify against allowed signers, refuse replays."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import canonry
import pytest
from canonry.publication.signing import is_signed, sign_payload, signed_tag_bytes, verify_tag
from canonry.store.repo import RefUpdate, Repository
from canonry.store.versions import read_metadata, resolve_version
from conftest import git, run
from runtime_helpers import TAGGER, WHEN, publish, tag_message


def make_key(folder: Path, email: str) -> tuple[Path, str]:
    """An ed25519 key without passphrase; (private key path, allowed-signers line)."""
    key = folder / email.split("@")[0]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)], check=True)
    return key, f"{email} {key.with_suffix('.pub').read_text().strip()}\n"


@pytest.fixture
def signer(two_versions: Path, tmp_path: Path) -> Path:
    """two_versions configured to sign with an SSH key; returns the allowed-signers file."""
    key, line = make_key(tmp_path, "steward@example.org")
    git(two_versions, "config", "gpg.format", "ssh")
    git(two_versions, "config", "user.signingkey", str(key))
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(line)
    return allowed


def publish_signed(
    path: Path,
    library: str = "mapping",
    number: int | None = None,
    *,
    name: str | None = None,
    **meta: object,
) -> str:
    """A signed version tag (ref named library/vN; the signed object named `name`, default the same)."""
    repo = Repository(path)
    if number is None:
        number = 1 + len(repo.refs(f"refs/tags/{library}/v"))
    commit = repo.resolve_commit("main")
    inner = name or f"{library}/v{number}"
    unsigned = repo.create_tag_object(
        inner, commit, tag_message(repo, library, number, commit, **meta), TAGGER, when=WHEN
    )
    payload = repo.raw_object(unsigned)
    oid = repo.write_raw_tag(signed_tag_bytes(payload, sign_payload(repo, payload)))
    repo.update_refs([RefUpdate(f"refs/tags/{library}/v{number}", oid, None)], "signed publish")
    return oid


def test_sign_and_verify(two_versions: Path, signer: Path) -> None:
    oid = publish_signed(two_versions)  # mapping/v3
    repo = Repository(two_versions)
    raw = repo.raw_object(oid)
    assert is_signed(raw) and raw.rstrip().endswith(b"-----END SSH SIGNATURE-----")
    assert b"\ntag mapping/v3\n" in raw
    info = verify_tag(repo, "refs/tags/mapping/v3", oid, str(signer))
    assert (info.tag, info.format, info.signer) == ("mapping/v3", "ssh", "steward@example.org")
    assert info.key and info.key.startswith("SHA256:")
    # plain git agrees, and the metadata still reads through the signature
    git(two_versions, "-c", f"gpg.ssh.allowedSignersFile={signer}", "verify-tag", "mapping/v3")
    assert read_metadata(repo, resolve_version(repo, "mapping", 3))["version"] == 3


def test_open_require_signed(two_versions: Path, signer: Path) -> None:
    publish_signed(two_versions)
    canon = canonry.open(two_versions, require_signed=True, allowed_signers=signer)
    assert canon.library("mapping").tag == "mapping/v3"
    with pytest.raises(canonry.SignatureError, match="mapping/v2 is not signed"):
        canon.library("mapping", "v2", allow_downgrade=True)


def test_signed_tag_replayed_under_another_name_is_refused(two_versions: Path, signer: Path) -> None:
    oid = publish_signed(two_versions)  # a validly signed mapping/v3
    repo = Repository(two_versions)
    repo.update_refs([RefUpdate("refs/tags/mapping/v5", oid, None)], "replay")
    # git itself accepts it: the signature is good, whatever ref it sits on
    git(two_versions, "-c", f"gpg.ssh.allowedSignersFile={signer}", "verify-tag", "mapping/v5")
    with pytest.raises(canonry.SignatureError, match="replayed"):
        verify_tag(repo, "refs/tags/mapping/v5", oid, str(signer))
    canon = canonry.open(two_versions, require_signed=True, allowed_signers=signer)
    with pytest.raises(canonry.SignatureError, match="replayed"):
        canon.library("mapping", "v5")


def test_signed_metadata_must_name_the_version(two_versions: Path, signer: Path) -> None:
    oid = publish_signed(two_versions, version_note="x")
    repo = Repository(two_versions)
    # a tag object named mapping/v4 whose signed metadata says mapping/v3
    unsigned = repo.create_tag_object(
        "mapping/v4",
        repo.resolve_commit("main"),
        tag_message(repo, "mapping", 3, repo.resolve_commit("main")),
        TAGGER,
    )
    payload = repo.raw_object(unsigned)
    bad = repo.write_raw_tag(signed_tag_bytes(payload, sign_payload(repo, payload)))
    repo.update_refs([RefUpdate("refs/tags/mapping/v4", bad, None)], "bad metadata")
    with pytest.raises(canonry.SignatureError, match="metadata names library 'mapping' version 3"):
        verify_tag(repo, "refs/tags/mapping/v4", bad, str(signer))
    assert verify_tag(repo, "refs/tags/mapping/v3", oid, str(signer)).tag == "mapping/v3"


def test_unknown_key_and_tampered_content_fail(two_versions: Path, signer: Path, tmp_path: Path) -> None:
    repo = Repository(two_versions)
    other, _line = make_key(tmp_path, "intruder@example.org")
    git(two_versions, "config", "user.signingkey", str(other))
    oid = publish_signed(two_versions)
    with pytest.raises(canonry.SignatureError, match="does not verify"):
        verify_tag(repo, "refs/tags/mapping/v3", oid, str(signer))
    git(two_versions, "config", "user.signingkey", str(tmp_path / "steward"))
    good = repo.raw_object(publish_signed(two_versions))  # mapping/v4
    tampered = repo.write_raw_tag(
        good.replace(b"version: 4", b"version: 5").replace(b"mapping/v4", b"mapping/v5")
    )
    repo.update_refs([RefUpdate("refs/tags/mapping/v5", tampered, None)], "tamper")
    with pytest.raises(canonry.SignatureError, match="does not verify"):
        verify_tag(repo, "refs/tags/mapping/v5", tampered, str(signer))


def test_policy_can_require_signatures(two_versions: Path, signer: Path) -> None:
    registry = two_versions / "schemas" / "libraries.yaml"
    registry.write_text(
        registry.read_text().replace("require_signed_tags: false", "require_signed_tags: true")
    )
    git(two_versions, "commit", "-q", "-am", "require signed tags")
    publish(two_versions)  # mapping/v3, unsigned
    with pytest.raises(canonry.SignatureError, match="not signed"):
        canonry.open(two_versions, allowed_signers=signer).library("mapping")
    assert canonry.open(two_versions, require_signed=False).library("mapping").tag == "mapping/v3"
    result = run(
        ["verify", "--repo", str(two_versions), "--allowed-signers", str(signer), "--format", "json"]
    )
    assert result.exit_code == 1
    failed = {f["path"] for f in json.loads(result.stdout)["findings"] if f["gate"] == "signature"}
    assert failed == {"refs/tags/mapping/v1", "refs/tags/mapping/v2", "refs/tags/mapping/v3"}


def test_verify_command_checks_signatures(two_versions: Path, signer: Path) -> None:
    args = ["verify", "--repo", str(two_versions), "--require-signed", "--allowed-signers", str(signer)]
    result = run([*args, "--no-content", "--format", "json"])
    assert result.exit_code == 1
    assert sorted(f["path"] for f in json.loads(result.stdout)["findings"]) == [
        "refs/tags/mapping/v1",
        "refs/tags/mapping/v2",
    ]
    missing = run(["verify", "--repo", str(two_versions), "--require-signed", "--allowed-signers", "/nope"])
    assert missing.exit_code == 2


def test_signed_pins_are_checked_at_open(two_versions: Path, signer: Path, tmp_path: Path) -> None:
    publish_signed(two_versions)
    lock = tmp_path / "canonry.lock"
    assert (
        run(["pin", "mapping@v3", "mapping@v3", "--repo", str(two_versions), "--lock", str(lock)]).exit_code
        == 0
    )
    canon = canonry.open(two_versions, lock=lock, require_signed=True, allowed_signers=signer)
    assert canon.library("mapping").tag == "mapping/v3"
    run(["pin", "mapping@v2", "--allow-downgrade", "--repo", str(two_versions), "--lock", str(lock)])
    with pytest.raises(canonry.SignatureError):
        canonry.open(
            two_versions, lock=lock, require_signed=True, allowed_signers=signer, allow_downgrade=True
        )


def test_signing_without_a_key_is_a_clear_error(two_versions: Path) -> None:
    git(two_versions, "config", "gpg.format", "ssh")
    with pytest.raises(canonry.SignatureError, match="user.signingkey is not set"):
        sign_payload(Repository(two_versions), b"payload\n")
    git(two_versions, "config", "gpg.format", "x509")
    with pytest.raises(canonry.SignatureError, match="not supported"):
        sign_payload(Repository(two_versions), b"payload\n")


@pytest.fixture
def gnupg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Steward <steward@example.org>",
            "ed25519",
            "sign",
        ],
        check=True,
        capture_output=True,
    )
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False, capture_output=True)


def test_openpgp_signatures(two_versions: Path, gnupg: Path) -> None:
    git(two_versions, "config", "user.signingkey", "steward@example.org")
    oid = publish_signed(two_versions)
    info = verify_tag(Repository(two_versions), "refs/tags/mapping/v3", oid)
    assert info.format == "openpgp" and info.signer == "Steward <steward@example.org>"
    assert info.key and len(info.key) == 40
