"""Who signed a draft's commits (`policy.require_signed_commits`).

Each commit of merge_base..head must carry an SSH signature that verifies
against the base's allowed-signers file (`git verify-commit`), so the
principals who wrote the draft are authenticated and cannot approve it.
Without that policy the author e-mail of a commit is all there is, and the
self-approval check on it is advisory: anyone can commit with `--author`.
"""

from __future__ import annotations

import hashlib
import re

from ..store.repo import Repository

_SSH_GOOD = re.compile(r'Good "git" signature for (?P<signer>.+?) with (?P<algo>\S+) key')
_VERIFIED: dict[tuple[str, str], str | None] = {}  # (commit, keys digest) -> its signer, None: unsigned


def commit_signers(
    repo: Repository, merge_base: str, head: str, keys: bytes | None
) -> tuple[list[str], list[str]]:
    """(case-folded principals who signed commits of the draft, a problem per commit that is not signed)."""
    commits = [c.oid for c in repo.walk(head, hide=[merge_base] if merge_base else [])]
    if keys is None:
        return [], [
            "the policy requires signed commits but the base has no allowed-signers file"
            " (policy.allowed_signers) to check them with"
        ]
    digest = hashlib.sha256(keys).hexdigest()
    path = repo.cache_dir() / f"allowed_signers-{digest[:16]}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(keys)
    signers: set[str] = set()
    problems: list[str] = []
    for oid in commits:
        if (oid, digest) not in _VERIFIED:
            check = repo.verify_commit(oid, str(path))
            found = _SSH_GOOD.search(check.output)
            _VERIFIED[(oid, digest)] = found["signer"] if check.ok and found else None
        signer = _VERIFIED[(oid, digest)]
        if signer is None:
            problems.append(
                f"commit {oid[:12]} of the draft is not signed by a principal of the base's allowed signers"
                " (the policy requires signed commits: git commit -S with a listed key)"
            )
        else:
            signers.add(signer.casefold())
    return sorted(signers), problems
