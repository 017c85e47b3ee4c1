"""What signed reviews cost on a 100-entry draft (docs/benchmarks.md, "Signed decisions").

    python benchmarks/signing_bench.py [--entries 100] [--repeat 5]

Builds a repository with the reference schemas, a two-library registry and an
allowed-signers file with fresh ed25519 keys (ssh-keygen, no passphrase, in a
temp dir), a draft adding N mapping entries in one commit, and times, median
of --repeat runs:

- sign: `review approve --key` end to end (evaluate, sign, self-verify, write
  the note) and the signature alone (`ssh-keygen -Y sign`);
- verify: one `ssh-keygen -Y verify` of a decision, and `review status` with
  the verification cache cold (a new process's first look);
- publish: `canonry publish` of the draft with signed reviews required and,
  for comparison, the same draft with the policy off (an unsigned approval);
- signed commits: `review status` with `require_signed_commits` on a draft of
  N signed commits (one entry each), where every commit's signature is
  checked with `git verify-commit`.

Prints one JSON object; nothing is written outside the temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tooling"))

OWNER, MAPPER, AUTHOR = "owner@example.org", "mapper@example.org", "author@example.org"
REGISTRY = f"""format: canonry.libraries/v1
policy:
  owners: [{OWNER}]
  min_approvals: 1
  allowed_signers: schemas/allowed_signers
  require_signed_reviews: {{reviews}}
  require_signed_commits: {{commits}}
libraries:
  mapping:
    title: "{{{{pattern}}}} -> {{{{sector_code}}}}"
    path: knowledge/mapping
    schema: schemas/mapping.schema.json
    lifecycle: versioned
    stewards: [{MAPPER}]
    duplicates: {{{{exact: [language, pattern]}}}}
"""


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout.strip()


def keypair(folder: Path, who: str) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / who.split("@")[0]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(path)], check=True)
    return path, " ".join(path.with_suffix(".pub").read_text().split()[:2])


def entry(i: int) -> str:
    return (
        f"id: e{i:04d}\nworkspace_id: ws\nsource_engagement_id: null\nreuse_scope: GLOBAL_INTERNAL\n"
        f"sanitized_for_promotion: true\nsource: user\nupdated_at: '2026-01-15T10:00:00Z'\n"
        f"pattern: pattern number {i}\nlanguage: en\nsector_code: C24\nconfidence: 0.8\n"
        "evidence: {kind: steward, reference: null, override_ids: []}\n"
    )


def make_repo(tmp: Path, n: int, reviews: bool, commits: bool, keys: dict[str, tuple[Path, str]]) -> Path:
    repo = tmp / f"repo-{reviews}-{commits}"
    (repo / "schemas").mkdir(parents=True)
    for f in (ROOT / "schemas").glob("*.schema.json"):
        (repo / "schemas" / f.name).write_bytes(f.read_bytes())
    text = REGISTRY.format(reviews=str(reviews).lower(), commits=str(commits).lower())
    (repo / "schemas" / "libraries.yaml").write_text(text)
    (repo / "schemas" / "allowed_signers").write_text(
        "".join(f'{who} namespaces="canonry-review,git" {pub}\n' for who, (_k, pub) in keys.items())
    )
    (repo / "knowledge" / "mapping").mkdir(parents=True)
    (repo / "knowledge" / "mapping" / "seed.yaml").write_text(entry(9999).replace("e9999", "seed"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "draft/bulk")
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={keys[AUTHOR][0]}"]
    for i in range(n):
        (repo / "knowledge" / "mapping" / f"e{i:04d}.yaml").write_text(entry(i))
        if commits:  # one signed commit per entry
            git(repo, "add", "-A")
            git(repo, *sign, "commit", "-q", "-S", "-m", f"entry {i}")
    if not commits:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"{n} entries")
    git(repo, "checkout", "-q", "main")
    return repo


def timed(func: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs), 4)


def cli(repo: Path, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "canonry", *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tooling")},
    )
    if proc.returncode != 0:
        raise SystemExit(f"canonry {' '.join(args)}: {proc.stdout}{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("CANONRY_NOW", "2026-11-01T00:00:00Z")
    for k, v in {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": AUTHOR, "GIT_COMMITTER_NAME": "A"}.items():
        os.environ.setdefault(k, v)
    os.environ.setdefault("GIT_COMMITTER_EMAIL", AUTHOR)

    from canonry.publication import decisions, review
    from canonry.publication.signing import ssh_verify
    from canonry.store.repo import Repository

    out: dict[str, object] = {"entries": args.entries, "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        keys = {who: keypair(tmp / "keys", who) for who in (OWNER, MAPPER, AUTHOR)}
        signed = make_repo(tmp, args.entries, reviews=True, commits=False, keys=keys)
        repo = Repository(signed)
        key = str(keys[MAPPER][0])
        head = git(signed, "rev-parse", "draft/bulk")
        payload = decisions.decision_payload(
            "draft/bulk", head, "approve", MAPPER, "2026-11-01T00:00:00Z", None
        )
        out["sign_signature_only_s"] = timed(lambda: decisions.sign_decision(repo, payload, key), args.repeat)
        signature = decisions.sign_decision(repo, payload, key)
        allowed = (signed / "schemas" / "allowed_signers").read_bytes()
        out["verify_one_decision_s"] = timed(
            lambda: ssh_verify(payload, signature, MAPPER, allowed, decisions.NAMESPACE), args.repeat
        )
        out["review_approve_signed_s"] = timed(
            lambda: review.approve(repo, "bulk", MAPPER, key=key), args.repeat
        )
        out["review_status_cli_cold_s"] = timed(lambda: cli(signed, "review", "status", "bulk"), args.repeat)
        out["decisions_on_head"] = len(review.review_status(repo, "bulk").on_head)

        unsigned = make_repo(tmp, args.entries, reviews=False, commits=False, keys=keys)
        review.approve(Repository(unsigned), "bulk", MAPPER)
        out["review_status_cli_unsigned_s"] = timed(
            lambda: cli(unsigned, "review", "status", "bulk"), args.repeat
        )
        start = time.perf_counter()
        cli(signed, "publish", "bulk", "--by", MAPPER)
        out["publish_signed_reviews_s"] = round(time.perf_counter() - start, 4)
        start = time.perf_counter()
        cli(unsigned, "publish", "bulk", "--by", MAPPER)
        out["publish_unsigned_policy_s"] = round(time.perf_counter() - start, 4)

        commits = make_repo(tmp, args.entries, reviews=True, commits=True, keys=keys)
        out["review_status_signed_commits_s"] = timed(
            lambda: cli(commits, "review", "status", "bulk"), args.repeat
        )
        out["signed_commits"] = args.entries
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
