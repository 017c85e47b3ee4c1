"""Lock files (`canonry.lock`, format canonry.lock/v1): versions pinned by their objects.

A pin records what a version tag named when it was pinned: the tag object,
the commit it peels to and the tree of the library's own folder. A tag that
no longer names all three raises TagMovedError and nothing is served from it.

    # Written by `canonry pin` ...
    format: canonry.lock/v1
    source: git://example.org/knowledge.git
    libraries:
      mapping: {version: 4, tag: mapping/v4, tag_object: ..., commit: ..., tree: ...}
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    DowngradeError,
    EntrySyntaxError,
    LockFileError,
    RegistryError,
    TagMovedError,
    UnknownLibraryError,
    UnknownRefError,
)
from ..publication.deprecation import deprecation as verified_deprecation
from ..store.registry import LIBRARY_NAME_RE
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.versions import (
    TAG_PREFIX,
    Version,
    list_versions,
    main_commit,
    tag_name,
)
from ..store.yamlio import dump_yaml, load_yaml
from .files import atomic_write

LOCK_FORMAT = "canonry.lock/v1"
DEFAULT_LOCK = "canonry.lock"
_OID = re.compile(r"[0-9a-f]{40}")
_PIN_KEYS = ("version", "tag", "tag_object", "commit", "tree")
_HEADER = (
    "# Written by `canonry pin`; checked by `canonry verify --lock` and canonry.open(..., lock=...).\n"
    "# Each pin names a version tag by its tag object, commit and library tree: a tag that moved\n"
    "# is refused. Change it with `canonry pin LIBRARY@VERSION`, not by hand.\n"
)


@dataclass(frozen=True)
class Pin:
    library: str
    version: int
    tag: str
    tag_object: str
    commit: str
    tree: str | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PIN_KEYS}


@dataclass(frozen=True)
class Lock:
    source: str | None
    pins: Mapping[str, Pin] = field(default_factory=dict)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "source": self.source,
            "libraries": {name: self.pins[name].to_dict() for name in sorted(self.pins)},
        }

    @property
    def label(self) -> str:
        return self.path or DEFAULT_LOCK


# --- the registry, library trees and deprecation at a commit -----------------------


def library_tree(repo: Repository, commit: str, library: str) -> str | None:
    """The id of the library's own folder at a commit (None when the folder is empty)."""
    spec = registry_at(repo, commit).library(library)
    return repo.subtree(repo.tree_of(commit), spec.path)


def known_libraries(repo: Repository) -> set[str]:
    """Libraries with a version tag, plus those the registry on main (or HEAD) declares."""
    names = {v.library for v in list_versions(repo)}
    commit = main_commit(repo)
    if commit is not None:
        with contextlib.suppress(RegistryError):
            names.update(registry_at(repo, commit).names())
    return names


def signatures_required(repo: Repository, *commits: str) -> bool:
    """Whether the policy at main, or at any of the given commits, requires signed tags."""
    for commit in (main_commit(repo), *commits):
        if commit is None:
            continue
        try:
            if registry_at(repo, commit).policy.require_signed_tags:
                return True
        except RegistryError:
            continue
    return False


def deprecation(repo: Repository, version: Version) -> str | None:
    """Why a version is deprecated, or None: only a verified decision of its steward counts.

    The one reader is canonry.publication.deprecation; this gives its reason
    as the text consumers print.
    """
    found = verified_deprecation(repo, version)
    return None if found is None else str(found.get("reason") or "deprecated")


# --- pins ----------------------------------------------------------------------------


def pin_of(repo: Repository, version: Version) -> Pin:
    """What the version's tag names now."""
    return Pin(
        library=version.library,
        version=version.number,
        tag=version.tag,
        tag_object=version.target,
        commit=version.commit,
        tree=library_tree(repo, version.commit, version.library),
    )


def check_pin(repo: Repository, pin: Pin, lock: Lock | None = None) -> None:
    """Raise TagMovedError unless the tag still names the pinned tag object, commit and tree."""
    target = repo.ref_target(TAG_PREFIX + pin.tag)
    if target != pin.tag_object:
        raise TagMovedError(pin.tag, pin.tag_object, target, what="its tag object")
    try:
        commit = repo.resolve_commit(target)
    except UnknownRefError:
        commit = None
    if commit != pin.commit:
        raise TagMovedError(pin.tag, pin.commit, commit, what="its commit")
    try:
        tree = library_tree(repo, commit, pin.library)
    except UnknownLibraryError:
        raise LockFileError(
            f"{lock.label if lock else DEFAULT_LOCK}: {pin.tag} has no library {pin.library!r}"
        ) from None
    if pin.tree is not None and tree != pin.tree:
        raise TagMovedError(pin.tag, pin.tree, tree, what="its library tree")


def check_lock(repo: Repository, lock: Lock) -> None:
    """Check every pin (unknown libraries first: they are a lock problem, not a moved tag)."""
    known = known_libraries(repo)
    for name in sorted(lock.pins):
        if name not in known:
            raise LockFileError(
                f"{lock.label}: names library {name!r}, which {lock.source or 'the source'} does not have"
                f" (known: {', '.join(sorted(known)) or 'none'})"
            )
    for name in sorted(lock.pins):
        check_pin(repo, lock.pins[name], lock)


def pin(
    repo: Repository,
    specs: Sequence[str],
    lock: Lock | None,
    source: str,
    allow_downgrade: bool = False,
) -> tuple[Lock, list[tuple[Pin | None, Pin]]]:
    """The lock with each LIBRARY@VERSION pinned: (new lock, [(old pin, new pin)]).

    Going below a version the lock already pins needs allow_downgrade.
    """
    if lock is not None and lock.source and lock.source != source:
        raise LockFileError(
            f"{lock.label} pins versions of {lock.source}, not of {source} (use another --lock file)"
        )
    pins = dict(lock.pins) if lock else {}
    changes: list[tuple[Pin | None, Pin]] = []
    from .channels import resolve_spec  # `mapping@stable` pins the channel's current version

    for spec in specs:
        new = pin_of(repo, resolve_spec(repo, spec))
        name = new.library
        old = pins.get(name)
        if old is not None and new.version < old.version and not allow_downgrade:
            raise DowngradeError(
                f"{lock.label if lock else DEFAULT_LOCK} pins {old.tag}; pinning {new.tag} goes below it"
                " (pass --allow-downgrade to do it on purpose)",
                library=name,
                version=new.version,
                highest=old.version,
            )
        pins[name] = new
        changes.append((old, new))
    return Lock(source, pins, lock.path if lock else None), changes


# --- the file ------------------------------------------------------------------------


def read_lock(path: str | os.PathLike[str]) -> Lock:
    """Parse and check a lock file; LockFileError (with line and column) when it is not one."""
    label = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        hint = "write one with `canonry pin LIBRARY@VERSION`"
        raise LockFileError(f"{label}: no such lock file ({hint})") from None
    except OSError as exc:
        raise LockFileError(f"{label}: cannot read it ({exc.strerror})") from None
    try:
        doc = load_yaml(data, label)
    except EntrySyntaxError as exc:
        raise LockFileError(f"{exc} (a lock file is the YAML `canonry pin` writes)") from None
    return parse_lock(doc, label)


def parse_lock(doc: Any, label: str = DEFAULT_LOCK) -> Lock:
    def bad(where: str, problem: str) -> LockFileError:
        return LockFileError(f"{label}: {where}: {problem}")

    if not isinstance(doc, dict):
        raise bad("top", "not a mapping")
    if doc.get("format") != LOCK_FORMAT:
        raise bad("format", f"{doc.get('format')!r} is not {LOCK_FORMAT!r}")
    unknown = sorted(set(doc) - {"format", "source", "libraries"})
    if unknown:
        raise bad(unknown[0], "unknown key")
    source = doc.get("source")
    if source is not None and not isinstance(source, str):
        raise bad("source", "not a string")
    libraries = doc.get("libraries")
    if not isinstance(libraries, dict):
        raise bad("libraries", "not a mapping of library name to pin")
    pins: dict[str, Pin] = {}
    for name, body in libraries.items():
        where = f"libraries/{name}"
        if not re.fullmatch(LIBRARY_NAME_RE, name):
            raise bad(where, "not a library name")
        if not isinstance(body, dict) or set(body) != set(_PIN_KEYS):
            raise bad(where, f"a pin has exactly the keys {', '.join(_PIN_KEYS)}")
        version = body["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise bad(f"{where}/version", "not a positive integer")
        if body["tag"] != tag_name(name, version):
            raise bad(f"{where}/tag", f"{body['tag']!r} is not {tag_name(name, version)!r}")
        for key in ("tag_object", "commit", "tree"):
            value = body[key]
            absent_tree = key == "tree" and value is None
            if not (isinstance(value, str) and _OID.fullmatch(value)) and not absent_tree:
                raise bad(f"{where}/{key}", f"{value!r} is not an object id")
        pins[name] = Pin(name, version, body["tag"], body["tag_object"], body["commit"], body["tree"])
    return Lock(source, pins, label)


def dump_lock(lock: Lock) -> str:
    return _HEADER + dump_yaml(lock.to_dict())


def write_lock(path: str | os.PathLike[str], lock: Lock) -> None:
    atomic_write(Path(path), dump_lock(lock).encode("utf-8"))
