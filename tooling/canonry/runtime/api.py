"""The runtime entry point: `canonry.open(...)` and library versions at tags.

    canon = canonry.open("git://example.org/knowledge.git", lock="canonry.lock")
    lib = canon.library("mapping")          # the pinned version (else the latest)
    lib[entry_id], len(lib), iter(lib), lib.confidence(entry_id)
    canon.snapshot()                        # {library: {tag, version, tag_object, commit, tree}}

WORKSPACE_ONLY entries are handed out only to a caller that names their
workspace (`workspace=`); entries carry their effective confidence and band.
A version opened without a lock is still checked against its own metadata
(see published.py): a tag re-created elsewhere raises TagMovedError.

Reads go straight to the object database at the tag (no checkout); entries are
parsed once per blob id and cached in the repository (shared with the CLI).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import (
    DeprecatedVersionWarning,
    LockFileError,
    UnknownLibraryError,
    UnknownVersionError,
    UsageError,
)
from ..publication.signing import SignatureInfo, resolve_allowed_signers, verify_tag
from ..store.entries import Library
from ..store.repo import Repository
from ..store.states import TreeState
from ..store.versions import Version, is_version_selector, list_versions, resolve_version
from .mirror import Mirror, is_remote, redact
from .pins import (
    Lock,
    check_lock,
    check_pin,
    deprecation,
    read_lock,
    registry_at,
    signatures_required,
)
from .published import check_published
from .reads import ReadingLibrary
from .scoped import ScopedLibrary
from .watermark import Watermark


class Canon:
    """A knowledge repository opened for reading at tags (or any ref). Never writes to it.

    With a lock, `library(name)` serves the pinned version and a tag that moved
    is refused; with a watermark, no version below the highest seen is served
    unless `allow_downgrade`; signatures are checked when required (by
    `require_signed=True`, or by the policy at main or at the version).
    """

    def __init__(
        self,
        repo: Repository,
        source: str,
        *,
        lock: Lock | None = None,
        watermark: Watermark | None = None,
        allow_downgrade: bool = False,
        require_signed: bool | None = None,
        allowed_signers: str | os.PathLike[str] | None = None,
        mirror: Mirror | None = None,
        workspace: str | None = None,
        all_scopes: bool = False,
    ) -> None:
        self.repo = repo
        self.workspace = workspace
        self.all_scopes = all_scopes  # stewards' tools (canonry show) see every scope
        self.source = source
        self.lock = lock
        self.watermark = watermark
        self.allow_downgrade = allow_downgrade
        self.require_signed = require_signed
        self.mirror = mirror
        self._allowed_signers_arg = allowed_signers
        self._allowed_signers: str | None = None
        self._signers_resolved = False
        self._libraries: dict[tuple[str, str], ScopedLibrary] = {}
        self._published: set[str] = set()  # tag objects checked against their metadata
        self._targets: dict[str, str] = {}  # tag -> tag object, for the snapshot
        self._used: dict[str, ScopedLibrary] = {}
        self._signatures: dict[str, SignatureInfo] = {}
        self._warned: set[str] = set()
        self._refreshed = False

    # --- reading -------------------------------------------------------------------

    def library(
        self,
        name: str,
        version: str | int | None = None,
        *,
        channel: str | None = None,
        allow_downgrade: bool | None = None,
    ) -> ScopedLibrary:
        """A library at a version (`latest`, `v4`, 4) or at any git ref (`main`, `draft/x`).

        Without a version: the version the lock pins, else the latest. The
        version's tag must name what its metadata records (TagMovedError).
        """
        if channel is not None:  # a channel's signed move is the decision to serve it, lower or not
            from .channels import resolve_channel

            if version is not None:
                raise UsageError(f"ask for {name} by version or by channel, not both")
            version = resolve_channel(self.repo, name, channel).number
            allow_downgrade = True if allow_downgrade is None else allow_downgrade
        pin = self.lock.pins.get(name) if self.lock else None
        if version is None:
            version = pin.version if pin else "latest"
        elif pin is not None and _version_number(version) != pin.version:
            assert self.lock is not None
            raise LockFileError(
                f"{name} is pinned to {pin.tag} by {self.lock.label}; ask for it without a version"
                f" (or pin another with `canonry pin {name}@VERSION`)"
            )
        if not is_version_selector(version):
            return self._at_ref(name, str(version))
        resolved = self._resolve(name, version)
        if pin is not None:
            check_pin(self.repo, pin, self.lock)
        if self._signatures_required(resolved):
            self.signature(resolved)  # first: a replayed signed tag is named as such
        self.check_published(resolved)
        allowed = self.allow_downgrade if allow_downgrade is None else allow_downgrade
        self._admit(resolved, allowed)
        key = (name, resolved.target)  # by tag object: what the tag names, not its name
        lib = self._libraries.get(key)
        if lib is None:
            state = TreeState(self.repo, resolved.commit, resolved.tag)
            spec = registry_at(self.repo, resolved.commit).library(name)
            inner = Library(state, spec, version=resolved.number, tag=resolved.tag)
            lib = self._libraries[key] = ReadingLibrary(inner, self.workspace, self.all_scopes)
            self._targets[resolved.tag] = resolved.target
        self._used[name] = lib
        return lib

    def check_published(self, version: Version) -> None:
        """Raise TagMovedError unless the version's tag names what its metadata records, on main."""
        if version.target not in self._published:
            check_published(self.repo, version)
            self._published.add(version.target)

    def router(self, name: str, **options: Any) -> Any:
        """A canary or shadow router between two versions or channels of a library (runtime/canary.py)."""
        from .canary import Router

        return Router(self, name, **options)

    def versions(self, name: str | None = None) -> list[Version]:
        return list_versions(self.repo, name)

    def snapshot(self, reads: bool = False) -> dict[str, dict[str, Any]]:
        """{library: {tag, version, tag_object, commit, tree}} of what was served, for a run record.

        With reads=True each library also has `reads`: {"all": bool, "entries": {id: blob id}}
        (see runtime/reads.py; `canonry impact` reads it).
        """
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(self._used):
            lib = self._used[name]
            out[name] = {
                "tag": lib.tag,
                "version": lib.version,
                "tag_object": self._targets.get(lib.tag) if lib.tag else None,
                "commit": lib.commit,
                "tree": lib.tree,
            }
            if reads and isinstance(lib, ReadingLibrary):
                out[name]["reads"] = lib.read_record()
        return out

    def refresh(self) -> bool:
        """Fetch a remote source again (False when it could not be reached); a no-op for paths."""
        if self.mirror is None:
            return True
        self._refreshed = True
        return self.mirror.refresh()

    def check_lock(self) -> None:
        """Check every pin now: tags unmoved, no downgrade, signatures; warn on deprecated pins."""
        if self.lock is None:
            return
        check_lock(self.repo, self.lock)
        for name in sorted(self.lock.pins):
            pin = self.lock.pins[name]
            version = Version(name, pin.version, pin.tag, pin.tag_object, pin.commit)
            self._admit(version, self.allow_downgrade)

    def signature(self, version: Version) -> SignatureInfo:
        """Verify a version's signature (cached per tag object); raise SignatureError."""
        cached = self._signatures.get(version.target)
        if cached is None:
            if not self._signers_resolved:
                self._allowed_signers = resolve_allowed_signers(self.repo, self._allowed_signers_arg)
                self._signers_resolved = True
            cached = verify_tag(self.repo, version.ref, version.target, self._allowed_signers)
            self._signatures[version.target] = cached
        return cached

    def __repr__(self) -> str:
        return f"<Canon {self.source}>"

    # --- internals -----------------------------------------------------------------

    def _at_ref(self, name: str, ref: str) -> ScopedLibrary:
        commit = self.repo.resolve_commit(ref)
        key = (name, commit)
        lib = self._libraries.get(key)
        if lib is None:
            spec = registry_at(self.repo, commit).library(name)
            inner = Library(TreeState(self.repo, commit, ref), spec)
            lib = self._libraries[key] = ReadingLibrary(inner, self.workspace, self.all_scopes)
        self._used[name] = lib
        return lib

    def _resolve(self, name: str, version: str | int) -> Version:
        try:
            return resolve_version(self.repo, name, version)
        except (UnknownVersionError, UnknownLibraryError):
            if self.mirror is None or self._refreshed:
                raise
        self.refresh()  # on demand: the version may have been published since the last fetch
        return resolve_version(self.repo, name, version)

    def _admit(self, version: Version, allow_downgrade: bool) -> None:
        """Let a version be served: no downgrade, signed when required; warn when deprecated."""
        if self.watermark is not None:
            self.watermark.check(version.library, version.number, allow_downgrade)
        if self._signatures_required(version):
            self.signature(version)
        if version.tag not in self._warned:
            self._warned.add(version.tag)
            reason = deprecation(self.repo, version)
            if reason is not None:
                message = f"{version.tag} is deprecated: {reason}"
                warnings.warn(DeprecatedVersionWarning(message), stacklevel=4)
        if self.watermark is not None:
            self.watermark.record(version.library, version.number)

    def _signatures_required(self, version: Version) -> bool:
        if self.require_signed is not None:
            return self.require_signed
        return signatures_required(self.repo, version.commit)


_REPOSITORIES: dict[str, Repository] = {}


def _repository(path: str) -> Repository:
    """One Repository per path and process, so libgit2's object cache outlives a Canon."""
    key = os.path.realpath(path)
    repo = _REPOSITORIES.get(key)
    if repo is None:
        if len(_REPOSITORIES) >= 16:  # bounded: each handle holds its packs open
            del _REPOSITORIES[next(iter(_REPOSITORIES))]
        repo = _REPOSITORIES[key] = Repository(path, allow_shallow=True)
    return repo


def _version_number(version: str | int) -> int | None:
    text = str(version)
    text = text[1:] if text.startswith("v") else text
    return int(text) if text.isdigit() else None


def open(  # noqa: A001 - the public name the design fixes: canonry.open
    source: str | os.PathLike[str] | None = None,
    lock: str | os.PathLike[str] | Lock | None = None,
    *,
    fetch: bool = True,
    allow_downgrade: bool = False,
    require_signed: bool | None = None,
    allowed_signers: str | os.PathLike[str] | None = None,
    workspace: str | None = None,
) -> Canon:
    """Open a knowledge repository (a path, or a file://, git://, http(s):// URL) for reading at tags.

    A URL is kept as a bare mirror under $CANONRY_CACHE and fetched now (unless
    `fetch=False`; a version not in the mirror is then fetched on demand). An
    unreachable remote serves the last fetched state with a StaleSourceWarning.
    With `lock`, every pin is checked before anything is served (TagMovedError,
    LockFileError), and `source` defaults to the lock's. WORKSPACE_ONLY entries
    are served only to the workspace named by `workspace`.
    """
    lock_obj = lock if isinstance(lock, Lock) else read_lock(lock) if lock is not None else None
    lock_path = Path(lock_obj.path) if lock_obj is not None and lock_obj.path else None
    if source is None:
        source = lock_obj.source if lock_obj is not None and lock_obj.source else "."
    text = os.fspath(source)
    mirror: Mirror | None = None
    if is_remote(text):
        mirror = Mirror(text)
        mirror.open(fetch=fetch)
        repo = _repository(str(mirror.path))
        identity = redact(text)
    else:
        repo = _repository(text)
        identity = str(repo.git_dir.resolve())
    canon = Canon(
        repo,
        redact(text),
        lock=lock_obj,
        watermark=Watermark.for_consumer(identity, lock_path),
        allow_downgrade=allow_downgrade,
        require_signed=require_signed,
        allowed_signers=allowed_signers,
        mirror=mirror,
        workspace=workspace,
    )
    canon.check_lock()
    return canon
