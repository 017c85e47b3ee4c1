"""Where the running Canonry came from, as a pip requirement that CI can install.

Canonry is not on the Python package index yet, so the workflows `canonry init`
writes install the very Canonry that ran it: the git URL and commit that pip
recorded when it installed Canonry (PEP 610's direct_url.json), or, for an
install from a local clone, the clone's `origin` and its HEAD commit when that
commit is on a branch of origin. When neither is known the workflows' install
step fails with a message saying which line to edit, and init says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from .._version import __version__
from ..errors import CanonryError, UsageError

# scp-like git addresses (git@host:owner/repo.git), which pip only takes as ssh:// URLs
_SCP = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_REMOTE = ("https://", "http://", "ssh://", "git://")


@dataclass(frozen=True)
class CanonrySource:
    """A requirement pip can install in CI (None when unknown) and how it was found."""

    requirement: str | None
    how: str


def given_source(spec: str) -> CanonrySource:
    """A requirement the user passed (`canonry init --canonry-from SPEC`), checked for shape."""
    spec = spec.strip()
    if not spec or any(c in spec for c in "\"'\n\r$`\\"):
        raise UsageError(
            f"--canonry-from {spec!r}: give a pip requirement such as"
            " 'canonry @ git+https://git.example.org/tools/canonry@<commit>' (no quotes)"
        )
    if not spec.lower().startswith("canonry"):
        spec = f"canonry @ {spec}"  # a bare URL
    return CanonrySource(spec, "as given with --canonry-from")


def installed_source() -> CanonrySource:
    """Where the installed Canonry came from, if CI can install the same."""
    try:
        dist = metadata.distribution("canonry")
        installer = dist.read_text("INSTALLER")
        raw = dist.read_text("direct_url.json") if installer else None
    except (metadata.PackageNotFoundError, NotImplementedError, OSError):
        installer = None
    if installer is None:  # not installed by pip: a source folder (or setuptools' egg-info in one)
        return _clone_source(Path(__file__).resolve().parents[1])
    return source_from_direct_url(raw)


def source_from_direct_url(raw: str | None) -> CanonrySource:
    """The requirement for an install that pip recorded as raw (direct_url.json; None: from an index)."""
    if raw is None:  # installed from a package index: that index has this version
        return CanonrySource(f"canonry=={__version__}", "the package index Canonry was installed from")
    try:
        direct = json.loads(raw)
    except ValueError:
        return CanonrySource(None, "pip's record of where Canonry came from is unreadable")
    url = str(direct.get("url", ""))
    vcs = direct.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and vcs.get("commit_id"):
        if url.startswith(_REMOTE):
            return CanonrySource(
                f"canonry @ git+{url}@{vcs['commit_id']}", f"pip's record: installed from {url}"
            )
        return CanonrySource(None, f"Canonry was installed from a local repository ({url})")
    if "dir_info" in direct and url.startswith("file://"):
        return _clone_source(Path(unquote(urlparse(url).path)))
    return CanonrySource(None, f"Canonry was installed from a file ({url})")


def _clone_source(folder: Path) -> CanonrySource:
    """A local clone's origin and HEAD, when HEAD is on one of origin's branches."""
    from .repo import Repository

    try:
        repo = Repository(folder, allow_shallow=True)
        origin = repo.config_value("remote.origin.url")
        head = repo.resolve_commit("HEAD")
        pushed = any(repo.is_ancestor(head, tip) for tip in repo.refs("refs/remotes/origin/").values())
    except CanonryError:
        return CanonrySource(None, f"Canonry comes from {folder}, which is not in a git clone")
    if not origin:
        return CanonrySource(None, f"Canonry comes from {folder}, in a clone without an origin")
    scp = _SCP.match(origin)
    if scp:
        origin = f"ssh://{scp['user']}@{scp['host']}/{scp['path']}"
    if not origin.startswith(_REMOTE):
        return CanonrySource(None, f"the origin of {folder} is not a network address ({origin})")
    if not pushed:
        return CanonrySource(None, f"the HEAD of {folder} ({head[:12]}) is on no branch of its origin")
    return CanonrySource(f"canonry @ git+{origin}@{head}", f"the clone Canonry was installed from ({folder})")
