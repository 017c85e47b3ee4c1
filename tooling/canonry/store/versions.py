"""Published versions: tags `<library>/v<N>` and the metadata in their messages."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from ..errors import (
    CanonryError,
    EntrySyntaxError,
    RegistryError,
    UnknownLibraryError,
    UnknownRefError,
    UnknownVersionError,
    UsageError,
)
from .repo import Repository
from .yamlio import load_yaml

TAG_PREFIX = "refs/tags/"
_TAG_RE = re.compile(r"(?P<lib>[a-z0-9][a-z0-9-]{0,62})/v(?P<n>[1-9][0-9]{0,8})")
_SPEC_RE = re.compile(r"(?P<lib>[a-z0-9][a-z0-9-]{0,62})@(?P<ver>v?[0-9]+|latest)")


@dataclass(frozen=True)
class Version:
    library: str
    number: int
    tag: str  # short name, "mapping/v4"
    target: str  # what the tag ref points at (the tag object for annotated tags)
    commit: str

    @property
    def ref(self) -> str:
        return TAG_PREFIX + self.tag


def tag_name(library: str, number: int) -> str:
    return f"{library}/v{number}"


def parse_tag_name(name: str) -> tuple[str, int] | None:
    """("mapping", 4) for "mapping/v4" or "refs/tags/mapping/v4"; else None."""
    short = name[len(TAG_PREFIX) :] if name.startswith(TAG_PREFIX) else name
    m = _TAG_RE.fullmatch(short)
    return (m["lib"], int(m["n"])) if m else None


def list_versions(repo: Repository, library: str | None = None) -> list[Version]:
    """Published versions (of one library or all), sorted by library then number."""
    prefix = TAG_PREFIX + (f"{library}/v" if library else "")
    out: list[Version] = []
    for ref, target in repo.refs(prefix).items():
        parsed = parse_tag_name(ref)
        if parsed is None or (library and parsed[0] != library):
            continue
        try:
            commit = repo.resolve_commit(target)
        except UnknownRefError:
            continue
        out.append(Version(parsed[0], parsed[1], ref[len(TAG_PREFIX) :], target, commit))
    out.sort(key=lambda v: (v.library, v.number))
    return out


def latest_version(repo: Repository, library: str) -> Version | None:
    versions = list_versions(repo, library)
    return versions[-1] if versions else None


def parse_library_spec(text: str) -> tuple[str, str]:
    """Split `mapping@v4`, `mapping@4`, `mapping@latest`, `mapping` into (library, version)."""
    if "@" not in text:
        return text, "latest"
    m = _SPEC_RE.fullmatch(text)
    if not m:
        raise UsageError(f"{text!r} is not LIBRARY@VERSION (e.g. mapping@v4, mapping@4, mapping@latest)")
    return m["lib"], m["ver"]


def resolve_version(repo: Repository, library: str, version: str | int) -> Version:
    """The published version named by `v4`, `4`, 4 or `latest`.

    Raises UnknownLibraryError (with the known libraries) for a library that is
    neither declared nor published, else UnknownVersionError with the versions
    that exist.
    """
    if isinstance(version, str) and version == "latest":
        latest = latest_version(repo, library)
        if latest is None:
            raise unknown_version(repo, library, "latest")
        return latest
    text = str(version)
    number = text[1:] if text.startswith("v") else text
    if not number.isdigit():
        raise unknown_version(repo, library, text)
    tag = tag_name(library, int(number))
    target = repo.ref_target(TAG_PREFIX + tag)
    if target is None:
        raise unknown_version(repo, library, text)
    return Version(library, int(number), tag, target, repo.resolve_commit(target))


def known_library_names(repo: Repository) -> list[str]:
    """Libraries with a version tag, plus those the registry on main (or HEAD) declares."""
    names = {v.library for v in list_versions(repo)}
    with contextlib.suppress(RegistryError):
        names.update(_main_registry_names(repo))
    return sorted(names)


def _main_registry_names(repo: Repository) -> list[str]:
    """The libraries schemas/libraries.yaml declares on main (or HEAD); RegistryError if missing or broken."""
    from .rules import registry_at  # only on the error paths: the registry loads jsonschema

    commit = repo.try_resolve_commit("refs/heads/main") or repo.try_resolve_commit("HEAD")
    return list(registry_at(repo, commit).names()) if commit is not None else []


def unknown_version(repo: Repository, library: str, version: str) -> CanonryError:
    """The error for LIBRARY@VERSION that does not resolve: an unknown library, or the versions there are."""
    versions = list_versions(repo, library)
    if not versions:
        known = known_library_names(repo)
        if not known:  # no version tags and no registry: say what is wrong with the repository
            try:
                _main_registry_names(repo)
            except RegistryError as exc:
                return exc
        if library not in known:
            return UnknownLibraryError(library, known)
    return UnknownVersionError(library, version, known=[f"v{v.number}" for v in versions])


def is_version_selector(text: str | int) -> bool:
    return isinstance(text, int) or text == "latest" or bool(re.fullmatch(r"v?[0-9]+", text))


def read_metadata(repo: Repository, version: Version) -> dict[str, Any]:
    """The YAML after the summary line of a version's tag message ({} when absent)."""
    info = repo.tag(version.target)
    if info is None:
        return {}
    return parse_tag_message(info.message)


def parse_tag_message(message: str) -> dict[str, Any]:
    _summary, _sep, body = message.partition("\n\n")
    # A signature block, when the tag is signed, follows the YAML.
    body = body.split("-----BEGIN ", 1)[0]
    if not body.strip():
        return {}
    try:
        meta = load_yaml(body, "tag message")
    except EntrySyntaxError:
        return {}
    return meta if isinstance(meta, dict) else {}


def main_commit(repo: Repository) -> str | None:
    """The tip of main (else HEAD), or None in a repository without either."""
    return repo.try_resolve_commit("refs/heads/main") or repo.try_resolve_commit("HEAD")
