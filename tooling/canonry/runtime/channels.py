"""Channels at runtime: `canon.library("mapping", channel="stable")` and `canonry pin mapping@stable`.

A channel resolves to the version its latest move names, after the move is
checked as a consumer must (signed by a steward of the library at the main
commit it names, that commit still on main, the tag unmoved): see
canonry.publication.channels. Checks are cached per move for the process.
"""

from __future__ import annotations

import re

from ..errors import ChannelError, UsageError
from ..publication.channels import check_record, current, declared_channels
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.versions import Version, is_version_selector, main_commit, parse_library_spec, resolve_version

_CHECKED: set[tuple[str, str]] = set()  # (git dir, move commit) verified in this process
_SPEC = re.compile(r"(?P<lib>[a-z0-9][a-z0-9-]{0,62})@(?P<channel>[a-z][a-z0-9-]{0,31})")


def resolve_channel(repo: Repository, library: str, channel: str) -> Version:
    """The version a channel points at, its move verified; ChannelError when it cannot be trusted."""
    record = current(repo, library, channel)
    if record is None:
        commit = main_commit(repo)
        known = declared_channels(registry_at(repo, commit).library(library)) if commit else ()
        hint = f" (channels of {library}: {', '.join(known)})" if known else ""
        raise ChannelError(f"channel {channel!r} of {library} is not set{hint}")
    key = (str(repo.git_dir), record.record)
    if key not in _CHECKED:
        check_record(repo, record)
        _CHECKED.add(key)
    version = resolve_version(repo, library, record.version)
    if version.target != record.tag_object:
        raise ChannelError(f"{library}@{channel}: {version.tag} no longer names the tag object signed")
    return version


def resolve_spec(repo: Repository, spec: str) -> Version:
    """`mapping@v4`, `mapping@latest`, `mapping` or `mapping@stable` (a channel) -> the version."""
    m = _SPEC.fullmatch(spec)
    if m and not is_version_selector(m["channel"]):
        return resolve_channel(repo, m["lib"], m["channel"])
    name, selector = parse_library_spec(spec)
    return resolve_version(repo, name, selector)


def resolve_target(repo: Repository, library: str, selector: str) -> Version:
    """A version selector (`v4`, `4`, `latest`) or a channel name of library."""
    if is_version_selector(selector):
        return resolve_version(repo, library, selector)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", selector):
        raise UsageError(f"{selector!r} is neither a version (vN, latest) nor a channel name")
    return resolve_channel(repo, library, selector)
