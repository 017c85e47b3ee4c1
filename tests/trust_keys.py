"""SSH keys for tests of signed decisions: real ssh-keygen keys in temp dirs, listed on main as an owner would."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import git


def keypair(folder: Path, principal: str) -> tuple[Path, str]:
    """(private key path, 'type base64' public key) of a new ed25519 key without passphrase."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / re.sub(r"[^A-Za-z0-9]", "_", principal)
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(path)],
            check=True,
            capture_output=True,
        )
    return path, " ".join(path.with_suffix(".pub").read_text().split()[:2])


def signers_text(keys: dict[str, str]) -> str:
    return "".join(f'{who} namespaces="canonry-review,git" {pub}\n' for who, pub in keys.items())


def set_policy(text: str, **values: object) -> str:
    """libraries.yaml text with the given policy keys set (added under `policy:` or replaced)."""
    for key, value in values.items():
        rendered = "true" if value is True else "false" if value is False else str(value)
        text = re.sub(rf"(?m)^  {key}:.*\n", "", text)
        text = text.replace("policy:\n", f"policy:\n  {key}: {rendered}\n", 1)
    return text


def sign_on_main(
    repo: Path,
    keys: dict[str, str],
    *,
    reviews: bool = True,
    commits: bool = False,
    message: str = "policy: signed reviews",
) -> str:
    """Commit schemas/allowed_signers with keys and the signing policy on main (as a policy owner would)."""
    (repo / "schemas" / "allowed_signers").write_text(signers_text(keys), encoding="utf-8")
    registry = repo / "schemas" / "libraries.yaml"
    registry.write_text(
        set_policy(
            registry.read_text(encoding="utf-8"),
            allowed_signers="schemas/allowed_signers",
            require_signed_reviews=reviews,
            require_signed_commits=commits,
        ),
        encoding="utf-8",
    )
    branch = git(repo, "symbolic-ref", "--short", "HEAD")
    if branch != "main":
        git(repo, "checkout", "-q", "main")
    git(repo, "add", "schemas")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "main")


def enroll(repo: Path, principal: str, folder: Path) -> Path:
    """Give principal a fresh key listed in main's schemas/allowed_signers; git signs decisions with it.

    What a policy owner does once per steward (committed straight onto main,
    before anything is published); `user.signingkey` makes `canonry review
    approve` sign without `--key`.
    """
    key, pub = keypair(folder, principal)
    signers = repo / "schemas" / "allowed_signers"
    kept = [
        line
        for line in signers.read_text(encoding="utf-8").splitlines(True)
        if not line.startswith(principal)
    ]
    signers.write_text("".join(kept) + signers_text({principal: pub}), encoding="utf-8")
    git(repo, "add", "schemas/allowed_signers")
    git(repo, "commit", "-q", "-m", f"policy: {principal}'s key")
    git(repo, "config", "user.signingkey", str(key))
    return key


def signed_deprecation(repo: Path, folder: Path, spec: str, reason: str) -> None:
    """Deprecate spec as the library's steward would: a key listed on main, a signed decision."""
    from canonry.publication.deprecation import deprecate
    from canonry.store.repo import Repository
    from canonry.store.rules import registry_at

    store = Repository(repo)
    library = spec.partition("@")[0]
    steward = registry_at(store, store.resolve_commit("main")).library(library).stewards[0]
    key = enroll(repo, steward, folder / "keys")
    deprecate(store, spec, reason, steward, key=str(key))
