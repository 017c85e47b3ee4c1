"""Review decisions as stored: notes under `refs/notes/canonry-reviews`, signed, bound to one commit.

A decision is an item of the YAML list in the note on the commit it judges:
`decision`, `reviewer`, `commit` (the exact commit approved), `at`, `draft`,
`reason`, `libraries` and `signature`, an SSH signature (`ssh-keygen -Y sign
-n canonry-review`) of the canonical text `decision_payload` makes of (draft,
commit, decision, reviewer, time, reason). Whether a decision counts is
decided by `check_decision`: the commit it records must be the one the note
is on and the one under review, and, when the policy requires signed
reviews, the signature must verify for that reviewer against the base's
allowed-signers file (never the draft's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import EntrySyntaxError, SignatureError
from ..store.refnames import REVIEWS_NOTES
from ..store.registry import Policy
from ..store.repo import Repository
from ..store.yamlio import load_yaml
from . import signing

NOTES_REF = REVIEWS_NOTES
NAMESPACE = "canonry-review"  # ssh-keygen -n: a review signature is never valid as a git signature
APPROVE = "approve"
REJECT = "reject"
PAYLOAD_FORMAT = "canonry.review-decision/v1"


@dataclass(frozen=True)
class Decision:
    decision: str  # approve | reject
    reviewer: str
    commit: str  # the commit the note is on
    at: str
    draft: str | None = None
    reason: str | None = None
    libraries: tuple[str, ...] = ()
    recorded_commit: str | None = None  # the commit the decision itself names
    signature: str | None = None
    verified: bool = False  # set by check_decision: the signature holds for the reviewer
    unverified: str | None = None  # why the decision counts for nothing (None: it counts)

    @property
    def counts(self) -> bool:
        return self.unverified is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reviewer": self.reviewer,
            "commit": self.commit,
            "at": self.at,
            "draft": self.draft,
            "reason": self.reason,
            "libraries": list(self.libraries),
            "signed": self.signature is not None,
            "verified": self.verified,
            "unverified": self.unverified,
        }

    def note_item(self) -> dict[str, Any]:
        """The item stored in the note (the signature goes with it)."""
        item = {
            "decision": self.decision,
            "reviewer": self.reviewer,
            "commit": self.recorded_commit or self.commit,
            "at": self.at,
            "draft": self.draft,
            "reason": self.reason,
            "libraries": list(self.libraries),
        }
        return {**item, "signature": self.signature} if self.signature else item


def decision_payload(
    draft: str | None, commit: str, decision: str, reviewer: str, at: str, reason: str | None
) -> bytes:
    """The canonical text a decision's signature covers: one `key: JSON value` line per field."""
    fields = [
        ("format", PAYLOAD_FORMAT),
        ("draft", draft),
        ("commit", commit),
        ("decision", decision),
        ("reviewer", reviewer),
        ("at", at),
        ("reason", reason),
    ]
    return "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields).encode("utf-8")


# --- reading ----------------------------------------------------------------------------------


def parse_note(text: str, commit: str) -> list[Decision]:
    """The decisions of one note; items that do not read as decisions are left out."""
    try:
        doc = load_yaml(text, f"review note on {commit[:12]}")
    except EntrySyntaxError:
        return []
    items = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        decision, reviewer = item.get("decision"), item.get("reviewer")
        if decision not in (APPROVE, REJECT) or not isinstance(reviewer, str) or "@" not in reviewer:
            continue
        libraries = item.get("libraries") or []
        out.append(
            Decision(
                decision=decision,
                reviewer=reviewer,
                commit=commit,
                at=str(item.get("at") or ""),
                draft=_text(item.get("draft")),
                reason=_text(item.get("reason")),
                libraries=tuple(str(x) for x in libraries if isinstance(x, str)),
                recorded_commit=_text(item.get("commit")),
                signature=_text(item.get("signature")),
            )
        )
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def decisions_on(repo: Repository, commit: str, notes_refs: Sequence[str] = (NOTES_REF,)) -> list[Decision]:
    """Every decision recorded on commit, oldest first, from the repository's notes refs only.

    `notes_refs` adds a remote's copy (fetched by `publish --push`) to the local ref.
    """
    out: list[Decision] = []
    for ref in notes_refs:
        text = repo.read_note(ref, commit)
        for d in parse_note(text, commit) if text else []:
            if d not in out:
                out.append(d)
    out.sort(key=lambda d: d.at)  # stable: the order within one note is kept
    return out


def all_decisions(repo: Repository) -> list[Decision]:
    """Every decision on every commit (the review part of the audit log), as recorded."""
    out: list[Decision] = []
    for commit, text in repo.notes(NOTES_REF).items():
        out.extend(parse_note(text, commit))
    out.sort(key=lambda d: (d.at, d.commit, d.reviewer))
    return out


def latest(decisions: Iterable[Decision]) -> list[Decision]:
    """Each reviewer's last decision, in the order those were made."""
    last: dict[str, Decision] = {}
    for d in decisions:
        last.pop(d.reviewer.casefold(), None)
        last[d.reviewer.casefold()] = d
    return list(last.values())


# --- keys and verification ---------------------------------------------------------------------


def allowed_signers_at(repo: Repository, commit: str, policy: Policy) -> bytes | None:
    """The allowed-signers file the policy names, read from commit's tree (None: none there).

    Only a path inside the repository is read: the keys that judge a draft are
    the base's, committed by its policy owners, never a file on this machine
    or the draft's copy.
    """
    path = policy.allowed_signers
    if not path or path.startswith(("/", "~")):
        return None
    item = repo.entry_at(repo.tree_of(commit), path)
    if item is None or item.is_tree:
        return None
    return repo.read_blob(item.oid)


_VERIFIED: dict[str, str | None] = {}  # (payload, signature, principal, keys) digest -> why not


def _verify(payload: bytes, signature: str, principal: str, keys: bytes) -> str | None:
    digest = hashlib.sha256(b"\0".join([payload, signature.encode(), principal.encode(), keys])).hexdigest()
    if digest not in _VERIFIED:
        _VERIFIED[digest] = signing.ssh_verify(payload, signature, principal, keys, NAMESPACE)
    return _VERIFIED[digest]


def check_decision(
    d: Decision, head: str, draft: str | None, keys: bytes | None, policy: Policy, keys_where: str
) -> Decision:
    """d with `verified` and `unverified` (why it counts for nothing) filled in.

    head is the commit under review; draft the branch under review (None when
    only the commit is known); keys the base's allowed-signers content.
    """
    why = None
    recorded = d.recorded_commit
    if recorded is None:
        why = "it records no commit (written by other means than `canonry review`)"
    elif recorded != d.commit:
        why = f"it records commit {recorded[:12]} but the note is on {d.commit[:12]} (moved or copied)"
    elif d.commit != head:
        why = f"it is for {d.commit[:12]}, not the head {head[:12]}"
    elif draft is not None and d.draft is not None and d.draft != draft:
        why = f"it was made for {d.draft}, not {draft}"
    verified = False
    if why is None and (d.signature is not None or policy.require_signed_reviews):
        if d.signature is None:
            why = "it is not signed (the policy requires signed reviews)"
        elif keys is None:
            why = f"there is no allowed-signers file to check it with ({keys_where})"
        else:
            payload = decision_payload(draft or d.draft, head, d.decision, d.reviewer, d.at, d.reason)
            problem = _verify(payload, d.signature, d.reviewer, keys)
            if problem is None:
                verified = True
            else:
                why = f"its signature does not verify for {d.reviewer} against {keys_where}: {problem}"
    return replace(d, verified=verified, unverified=why)


def sign_decision(repo: Repository, payload: bytes, key: str | None) -> str:
    """The armored SSH signature of a decision payload with key (default: git's user.signingkey)."""
    key = key or repo.config_value("user.signingkey")
    if not key:
        raise SignatureError(
            "no key to sign the decision with: pass --key PATH (your SSH private key)"
            " or set git config user.signingkey"
        )
    return signing.sign_payload(repo, payload, namespace=NAMESPACE, key=key).decode("ascii").strip()
