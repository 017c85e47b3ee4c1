"""How a publication's refs move: here by one ref transaction, or on a remote by one atomic push.

`publish.py` decides what to publish (the plans); this module makes it happen
all or nothing. Locally, main and the new tags move in one `git update-ref
--stdin` transaction with expected old values; with a remote, one `git push
--atomic --force-with-lease` is the commit point and local refs follow. A
publisher lock serializes publishers on one repository; a lost race raises
RefMovedError (or PushRejectedError) so the caller retries from the new main.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    GitCommandError,
    PushRejectedError,
    RefMovedError,
    RemoteError,
    UsageError,
    VerificationError,
)
from ..gates.findings import GateResult
from ..store.refnames import REVIEWS_NOTES, remote_reviews_mirror, remote_tags_mirror
from ..store.repo import RefUpdate, Repository
from ..store.versions import TAG_PREFIX, parse_tag_name, tag_name

CRASH_ENV = "CANONRY_TEST_CRASH_AFTER"  # tests: die (exit 137) right after the named step


def step(name: str) -> None:
    """A step boundary: tests kill the process here to prove a rerun completes the job."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)


@dataclass(frozen=True)
class NewVersion:
    library: str
    number: int
    commit: str
    metadata: dict[str, Any]
    tag_object: str = ""

    @property
    def tag(self) -> str:
        return tag_name(self.library, self.number)

    @property
    def ref(self) -> str:
        return TAG_PREFIX + self.tag

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "library": self.library,
            "version": self.number,
            "commit": self.commit,
            "tag_object": self.tag_object or None,
            "metadata": self.metadata,
        }


@dataclass
class Plan:
    base: str  # the main tip the plan builds on
    new_main: str | None  # the commit main moves to (None: main stays)
    versions: list[NewVersion]
    gate: GateResult | None = None
    nothing: str | None = None  # why there is nothing new


def backoff(attempt: int) -> float:
    """Seconds to wait after losing attempt N: random, doubling up to 3.2 s, so racers spread out."""
    return random.uniform(0, 0.1 * min(2**attempt, 32))


class Busy(Exception):
    """Another git process holds a ref lock: a race like any other."""


@dataclass
class Sync:
    base: str  # main tip to build on
    expected_remote: str | None = None  # the lease (remote main as fetched; None: absent)
    local_main: str | None = None
    pending: list[tuple[str, str]] = field(default_factory=list)  # (ref, oid) the remote lacks
    notes_refs: tuple[str, ...] = (REVIEWS_NOTES,)  # where review decisions are read from
    messages: list[str] = field(default_factory=list)  # what syncing did that the user should know


class LocalTarget:
    def __init__(self, repo: Repository, main_ref: str) -> None:
        self.repo = repo
        self.main_ref = main_ref

    def sync(self, dry_run: bool) -> Sync:
        tip = self.repo.ref_target(self.main_ref)
        if tip is None:
            raise UsageError(f"{self.main_ref} does not exist: nothing to publish onto")
        return Sync(base=tip, local_main=tip)

    def commit(self, sync: Sync, plan: Plan, messages: list[str]) -> list[str]:
        updates = [RefUpdate(self.main_ref, plan.new_main or sync.base, sync.base)]
        updates += [RefUpdate(v.ref, v.tag_object, None) for v in plan.versions]
        _update_refs(self.repo, updates, f"canonry: {_ref_message(plan)}")
        step("refs-moved")
        follow_work_tree(self.repo, self.main_ref, sync.base, plan.new_main or sync.base, messages)
        return []


class RemoteTarget:
    """Main and tags on a remote: the atomic push is the commit point; local refs follow."""

    def __init__(self, repo: Repository, remote: str, main_ref: str) -> None:
        self.repo = repo
        self.remote = remote
        self.main_ref = main_ref
        self.tracking = f"refs/remotes/{remote}/{main_ref[len('refs/heads/') :]}"
        self.notes_mirror = remote_reviews_mirror(remote)

    def _fetch(self) -> dict[str, str]:
        """{ref: oid} of the remote's main and tags, in one round trip.

        Tags are mirrored (and pruned) under a private namespace first, so the
        remote's own set is known exactly and a local tag is never clobbered.
        """
        mirror = remote_tags_mirror(self.remote)
        main = f"+{self.main_ref}:{self.tracking}"
        tags = f"+{TAG_PREFIX}*:{mirror}*"
        # approvals made in other clones reach this one through the remote (a glob: it may be absent)
        notes = f"+{REVIEWS_NOTES}*:{self.notes_mirror}*"
        fetched = self.repo.fetch(self.remote, [main, tags, notes])
        if not fetched.ok and fetched.missing_ref:
            fetched = self.repo.fetch(self.remote, [tags, notes])  # no main there yet
            if fetched.ok:
                self.repo.update_refs(
                    [RefUpdate(self.tracking, None, t)] if (t := self.repo.ref_target(self.tracking)) else [],
                    "gone",
                )
        if not fetched.ok:
            raise RemoteError(f"git fetch {self.remote} failed: {fetched.message}")
        listing = {TAG_PREFIX + ref[len(mirror) :]: oid for ref, oid in self.repo.refs(mirror).items()}
        tip = self.repo.ref_target(self.tracking)
        if tip is not None:
            listing[self.main_ref] = tip
        return listing

    def sync(self, dry_run: bool) -> Sync:
        listing = self._fetch()
        followed: list[str] = []
        for ref, oid in sorted(listing.items()):
            local = self.repo.ref_target(ref) if ref.startswith(TAG_PREFIX) else None
            if local is not None and local != oid:
                raise RemoteError(
                    f"{ref[len(TAG_PREFIX) :]} differs here from {self.remote}'s: this repository published"
                    f" it without pushing while {self.remote} published another; keep {self.remote}'s"
                    f" (git tag -d {ref[len(TAG_PREFIX) :]}, git fetch {self.remote} --tags, reset main to"
                    f" {self.remote}'s) and publish again"
                )
        missing = [RefUpdate(r, o, None) for r, o in listing.items() if r.startswith(TAG_PREFIX)]
        missing = [u for u in missing if self.repo.ref_target(u.name) is None]
        if missing:  # a tag created meanwhile by another process is checked again next time
            with contextlib.suppress(RefMovedError, Busy):
                _update_refs(self.repo, missing, f"canonry: tags from {self.remote}")
        remote_main = self.repo.ref_target(self.tracking) if self.main_ref in listing else None
        if remote_main is not None:
            lost = [
                ref[len(TAG_PREFIX) :]
                for ref, oid in listing.items()
                if parse_tag_name(ref) is not None
                and not self.repo.is_ancestor(self.repo.resolve_commit(oid), remote_main)
            ]
            if lost:
                raise rewound(f"{self.remote}'s main", sorted(lost))
        local = self.repo.ref_target(self.main_ref)
        if remote_main is None and local is None:
            raise UsageError(f"neither this repository nor {self.remote} has {self.main_ref}")
        if remote_main is None or local is None or local == remote_main:
            base = local if remote_main is None else remote_main
        elif self.repo.is_ancestor(local, remote_main):
            base = remote_main  # behind: catch up
            if not dry_run:
                try:
                    self.repo.update_refs(
                        [RefUpdate(self.main_ref, remote_main, local)], "canonry: fast-forward"
                    )
                    # a checked-out main brings its index and work tree along (publish checked them clean)
                    follow_work_tree(self.repo, self.main_ref, local, remote_main, followed)
                    local = remote_main
                except RefMovedError:
                    pass
        elif self.repo.is_ancestor(remote_main, local):
            base = local  # ahead: local publications to push
        else:
            raise RemoteError(
                f"{self.main_ref} here and on {self.remote} have diverged: publish from a clone whose main"
                f" follows {self.remote} (git fetch {self.remote}; git reset --hard {self.tracking})"
            )
        assert base is not None
        pending = []
        for ref, oid in sorted(self.repo.refs(TAG_PREFIX).items()):
            if ref in listing or parse_tag_name(ref) is None:
                continue
            commit = self.repo.try_resolve_commit(oid)
            if commit is not None and self.repo.is_ancestor(commit, base):
                pending.append((ref, oid))
        if base != remote_main:
            pending.insert(0, (self.main_ref, base))
        notes = (
            (REVIEWS_NOTES, self.notes_mirror)
            if self.repo.ref_target(self.notes_mirror)
            else (REVIEWS_NOTES,)
        )
        return Sync(base, remote_main, local, pending, notes, followed)

    def commit(self, sync: Sync, plan: Plan, messages: list[str]) -> list[str]:
        new_main = plan.new_main or sync.base
        refs = [(self.main_ref, new_main)]
        refs += [(ref, oid) for ref, oid in sync.pending if ref != self.main_ref]
        refs += [(v.ref, v.tag_object) for v in plan.versions]
        pushed = self.repo.push(self.remote, refs, lease=(self.main_ref, sync.expected_remote))
        if not pushed.ok:
            if pushed.rejected:
                raise PushRejectedError(self.remote, "; ".join(pushed.rejected))
            raise RemoteError(f"git push {self.remote} failed: {pushed.message}")
        step("pushed")
        self._follow(sync, new_main, refs, messages)
        return [ref for ref, _ in refs if not (ref == self.main_ref and new_main == sync.expected_remote)]

    def _follow(self, sync: Sync, new_main: str, refs: list[tuple[str, str]], messages: list[str]) -> None:
        """Bring local refs to what the remote now has (the publication is done either way)."""
        for _ in range(3):
            updates = [RefUpdate(self.tracking, new_main, self.repo.ref_target(self.tracking))]
            local = self.repo.ref_target(self.main_ref)
            if local is None or (local != new_main and self.repo.is_ancestor(local, new_main)):
                updates.append(RefUpdate(self.main_ref, new_main, local))
            updates += [
                RefUpdate(r, o, None) for r, o in refs if r != self.main_ref and not self.repo.ref_target(r)
            ]
            try:
                _update_refs(self.repo, updates, f"canonry: follow {self.remote}")
                if local is not None:
                    follow_work_tree(self.repo, self.main_ref, local, new_main, messages)
                return
            except (RefMovedError, Busy):
                continue
        messages.append(
            f"published on {self.remote}, but local refs could not follow:"
            f" run `git fetch {self.remote} --tags`"
        )


def follow_work_tree(repo: Repository, ref: str, old: str, new: str, messages: list[str]) -> None:
    """When ref is checked out here, bring index and work tree from old to new (local edits kept)."""
    if old == new or repo.workdir is None or repo.head_branch() != ref:
        return
    if not (repo.git_dir / "index").exists():  # never checked out (git clone --no-checkout)
        return
    outcome = repo.follow_work_tree(old, new)
    if not outcome.ok:
        messages.append(
            f"{ref} is checked out here and moved to {new[:12]}, but the work tree could not follow"
            f" ({outcome.message}); update it with `git reset --keep {new[:12]}`"
        )


def _update_refs(repo: Repository, updates: list[RefUpdate], message: str) -> None:
    try:
        repo.update_refs(updates, message)
    except GitCommandError as exc:
        if "lock" in str(exc).lower() or "exists" in str(exc).lower():
            raise Busy(str(exc)) from None
        raise


@contextlib.contextmanager
def publisher_lock(repo: Repository, wait: float = 120.0) -> Iterator[None]:
    """Publishers on one repository take turns (a file lock); the ref CAS still guards correctness."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): racing is still safe, only slower
        yield
        return
    path = repo.cache_dir() / "publish.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 - held across the yield
    except OSError:
        yield
        return
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break  # a stuck publisher: go on, the CAS protects
                time.sleep(0.02)
        yield
    finally:
        fh.close()


def _ref_message(plan: Plan) -> str:
    tags = ", ".join(v.tag for v in plan.versions)
    return f"publish {tags}" if tags else "publish"


def rewound(where: str, lost: list[str]) -> VerificationError:
    shown = ", ".join(lost[:5]) + (" ..." if len(lost) > 5 else "")
    return VerificationError(
        f"{where} does not contain published version(s) {shown}: it was rewound or force-pushed;"
        " nothing was published (restore main so that it contains every version; see `canonry verify`)"
    )


# --- plans ----------------------------------------------------------------------------------------
