"""Remote sources kept as bare mirrors in the cache folder, fetched on demand.

A fetch lands in a staging namespace (`refs/canonry-incoming/`) first; the
mirror's own refs then move in one compare-and-swap transaction, after checks:

- a tag that moved at the remote is refused (TagMovedError) and the mirror
  keeps what it had: tags never move, so this is never accepted silently;
- a tag deleted at the remote stays in the mirror (HistoryRewrittenWarning);
- `main` and `refs/notes/canonry` follow only as fast-forwards: a rewritten
  one keeps the mirror's copy (HistoryRewrittenWarning); drafts follow freely.

A mirror made for the first time is checked with `git fsck --strict`; every
fetch checks incoming objects (fetch.fsckObjects) and keeps them packed, and
every open sweeps the object store for what would hang libgit2
(Repository.check_object_store). An unreachable remote leaves the last fetched
state serving, with a StaleSourceWarning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

from ..errors import (
    CanonryError,
    CorruptObjectError,
    GitCommandError,
    HistoryRewrittenWarning,
    RemoteError,
    StaleSourceWarning,
    TagMovedError,
)
from ..store.refnames import CHANNELS_PREFIX, DEPRECATIONS_NOTES, INCOMING_PREFIX
from ..store.repo import RefUpdate, Repository, init_repository
from ..store.times import rfc3339
from .files import atomic_write, cache_root, locked

REMOTE_PREFIXES = ("file://", "git://", "http://", "https://", "ssh://")
INCOMING = INCOMING_PREFIX
# canonry/index: the derived indexes of published trees (content-addressed, verified on read)
KINDS = ("heads", "tags", "notes", "canonry/channels", "canonry/index")
REFSPECS = tuple(f"+refs/{kind}/*:{INCOMING}{kind}/*" for kind in KINDS)
FAST_FORWARD_ONLY = frozenset({"refs/heads/main", DEPRECATIONS_NOTES})
CHANNELS = CHANNELS_PREFIX  # a channel's chain of moves is its audit log: fast-forward only
FETCH_TIMEOUT_ENV = "CANONRY_FETCH_TIMEOUT"
STATE_FORMAT = "canonry.mirror/v1"


def is_remote(source: str) -> bool:
    """Whether source is a URL to mirror (file://, git://, http(s)://, ssh://) rather than a path."""
    return source.lower().startswith(REMOTE_PREFIXES)


def redact(url: str) -> str:
    """The URL without user name or password, for messages, lock files and file names."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class Mirror:
    """The bare mirror of one remote URL under `<cache>/mirrors/`."""

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = url
        self.root = root or cache_root()
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        parts = urllib.parse.urlsplit(redact(url))
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{parts.hostname or ''}{parts.path}")
        slug = slug[-48:].strip("-.") or "remote"
        self.path = self.root / "mirrors" / f"{slug}-{key}.git"
        self._lock = self.root / "mirrors" / f"{slug}-{key}.lock"

    @property
    def display(self) -> str:
        return redact(self.url)

    @property
    def _state_file(self) -> Path:
        return self.path / "canonry" / "mirror.json"

    def exists(self) -> bool:
        return self._state_file.is_file()

    def state(self) -> dict[str, Any]:
        try:
            doc = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def open(self, fetch: bool = True) -> Repository:
        """The mirror, created (first fetch + fsck) when missing, else fetched when asked."""
        with locked(self._lock):
            if not self.exists():
                self._create()
            elif fetch:
                self._sync(self._repository())
        return self.checked_repository()

    def refresh(self) -> bool:
        """Fetch now; False when the remote could not be reached (the mirror serves as it was)."""
        with locked(self._lock):
            return self._sync(self._repository())

    def checked_repository(self) -> Repository:
        """The mirror's repository after sweeping its object store (nothing that would hang libgit2)."""
        repo = self._repository()
        problems = repo.check_object_store()
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CorruptObjectError(
                f"mirror {self.path} of {self.display}: {problems[0]}{more};"
                " delete the mirror folder to fetch it afresh"
            )
        return repo

    # --- internals -------------------------------------------------------------------

    def _repository(self) -> Repository:
        repo = Repository(self.path, allow_shallow=True)
        self._check_location(repo, self.path)
        return repo

    def _check_location(self, repo: Repository, expected: Path) -> None:
        # Repository() discovers upwards: a broken mirror inside another repository
        # would otherwise open that repository instead.
        if repo.git_dir.resolve() != expected.resolve():
            raise CanonryError(
                f"{expected} is not a git repository of its own (found {repo.git_dir});"
                " point CANONRY_CACHE at a folder outside any git repository"
            )

    def _create(self) -> None:
        if self.path.exists():  # left over by an interrupted first fetch
            shutil.rmtree(self.path)
        tmp = self.path.parent / f".new-{self.path.name}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            repo = init_repository(tmp, bare=True)
            self._check_location(repo, tmp)
            self._fetch(repo)
            fsck = repo.fsck()
            if not fsck.ok:
                raise CorruptObjectError(
                    f"{self.display} failed `git fsck --strict` on its first fetch: {fsck.message[:300]}"
                )
            self._reconcile(repo)
            self._write_state(tmp, {"created_at": rfc3339()})
            os.rename(tmp, self.path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _fetch(self, repo: Repository) -> None:
        timeout = float(os.environ.get(FETCH_TIMEOUT_ENV) or 120)
        try:
            fetched = repo.fetch(self.url, REFSPECS, check_objects=True, keep_packed=True, timeout=timeout)
        except GitCommandError as exc:
            raise RemoteError(f"cannot fetch {self.display}: {exc}") from None
        if fetched.ok:
            return
        detail = fetched.message[:300]
        if fetched.corrupt:
            raise CorruptObjectError(f"{self.display} sent objects that fail git's checks: {detail}")
        raise RemoteError(f"cannot fetch {self.display}: {detail}")

    def _sync(self, repo: Repository) -> bool:
        try:
            self._fetch(repo)
        except RemoteError as exc:
            self.record_failure(str(exc))
            fetched = self.state().get("fetched_at", "an unknown time")
            warnings.warn(
                StaleSourceWarning(f"{exc}; serving the mirror as last fetched at {fetched}"), stacklevel=4
            )
            return False
        self._reconcile(repo)
        self._write_state(self.path, {"last_error": None, "failed_at": None})
        return True

    def record_failure(self, message: str) -> None:
        """Note a failed refresh in the mirror's state (fetched_at stays: it says how old the copy is)."""
        if not self.exists():
            return
        doc = {**self.state(), "last_error": message, "failed_at": rfc3339()}
        atomic_write(self._state_file, json.dumps(doc, sort_keys=True).encode() + b"\n")

    def _reconcile(self, repo: Repository) -> None:
        """Move the mirror's refs to what was fetched, within the rules above, all or nothing."""
        incoming = {"refs/" + n[len(INCOMING) :]: t for n, t in repo.refs(INCOMING).items()}
        local = {n: t for n, t in repo.refs("refs/").items() if not n.startswith(INCOMING)}
        updates: list[RefUpdate] = []
        moved: list[tuple[str, str, str]] = []
        kept: list[str] = []
        for name, target in sorted(incoming.items()):
            old = local.get(name)
            if old == target:
                continue
            if old is None:
                updates.append(RefUpdate(name, target, None))
            elif name.startswith("refs/tags/"):
                moved.append((name, old, target))
            elif (name in FAST_FORWARD_ONLY or name.startswith(CHANNELS)) and not _fast_forward(
                repo, old, target
            ):
                kept.append(f"{name} was rewritten at the remote (not a fast-forward of {old[:12]})")
            else:
                updates.append(RefUpdate(name, target, old))
        for name, old in sorted(local.items()):
            if name in incoming:
                continue
            if name.startswith("refs/tags/") or name in FAST_FORWARD_ONLY:
                kept.append(f"{name} was deleted at the remote")
            elif name.startswith("refs/heads/"):
                updates.append(RefUpdate(name, None, old))
        if moved:
            name, old, new = moved[0]
            others = f" ({len(moved) - 1} more tags moved too)" if len(moved) > 1 else ""
            raise TagMovedError(
                name[len("refs/tags/") :], old, new, what=f"its tag object at {self.display}{others}"
            )
        repo.update_refs(updates, f"canonry: fetch {self.display}")
        for problem in kept:
            warnings.warn(
                HistoryRewrittenWarning(f"{self.display}: {problem}; the mirror keeps its copy"), stacklevel=5
            )

    def _write_state(self, git_dir: Path, fields: dict[str, Any]) -> None:
        doc = {**self.state(), **fields, "format": STATE_FORMAT, "url": self.display, "fetched_at": rfc3339()}
        atomic_write(git_dir / "canonry" / "mirror.json", json.dumps(doc, sort_keys=True).encode() + b"\n")


def _fast_forward(repo: Repository, old: str, new: str) -> bool:
    try:
        return repo.is_ancestor(old, new)
    except Exception:  # not commits (a ref that points at a blob): not a fast-forward
        return False


def _summary(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["no output"])[0][:300]
