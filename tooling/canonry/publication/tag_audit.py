"""The tag audit of `canonry verify`: versions unmoved, gapless, on main, as named, content passing."""

from __future__ import annotations

from ..errors import RegistryError, UnknownVersionError
from ..gates.findings import ERROR, Finding
from ..store.commits import parse_trailers
from ..store.repo import Repository
from ..store.rules import try_registry_at
from ..store.versions import (
    TAG_PREFIX,
    Version,
    list_versions,
    parse_tag_message,
    parse_tag_name,
    read_metadata,
)

GATE = "verify"


def verify_tags(repo: Repository, main: str = "main", content: bool = True) -> list[Finding]:
    """Check every version tag: unmoved, gapless, on main, named as its message says, content passing.

    Content: every version's files pass the per-file gates under the rules it
    was published with (cached by tree, so a second run is cheap), and each
    library's latest version passes again the gates its metadata lists,
    measured against its parent version.
    """
    main_tip = repo.resolve_commit(main)
    found: list[Finding] = []
    by_library: dict[str, list[Version]] = {}
    for v in list_versions(repo):
        by_library.setdefault(v.library, []).append(v)
    recorded = _recorded_versions(repo, main_tip)
    for tag, commit in sorted(recorded.items()):
        parsed = parse_tag_name(tag)
        assert parsed is not None
        have = {v.number: v for v in by_library.get(parsed[0], [])}.get(parsed[1])
        if have is None:
            found.append(
                _finding(tag, parsed[0], f"{tag} was published by {commit[:12]} but the tag is gone")
            )
        elif have.commit != commit:
            found.append(
                _finding(
                    tag, parsed[0], f"{tag} was published on {commit[:12]} but now names {have.commit[:12]}"
                )
            )
    for library, versions in sorted(by_library.items()):
        numbers = {v.number for v in versions}
        for missing in sorted(set(range(1, max(numbers) + 1)) - numbers):
            found.append(
                _finding(
                    f"{library}/v{missing}",
                    library,
                    f"{library}/v{missing} is missing: numbers must be gapless",
                )
            )
        previous: Version | None = None
        for v in versions:
            found.extend(_check_version(repo, v, previous, main, main_tip))
            previous = v
        if content:
            found.extend(_check_content(repo, versions))
    return sorted(found, key=lambda f: (f.path or "", f.message))


def _finding(tag: str, library: str | None, message: str) -> Finding:
    return Finding(
        path=TAG_PREFIX + tag,
        line=None,
        column=None,
        gate=GATE,
        severity=ERROR,
        message=message,
        library=library,
    )


def _recorded_versions(repo: Repository, main_tip: str) -> dict[str, str]:
    """{tag: commit} named by the Canonry-Versions trailers of main's publication commits."""
    out: dict[str, str] = {}
    for c in repo.walk(main_tip):
        value = parse_trailers(c.message).get("Canonry-Versions")
        if value:
            for tag in (t.strip() for t in value.split(",")):
                if parse_tag_name(tag):
                    out[tag] = c.oid
    return out


def _check_version(
    repo: Repository, v: Version, previous: Version | None, main: str, main_tip: str
) -> list[Finding]:
    out: list[Finding] = []
    info = repo.tag(v.target)
    if info is None:
        return [
            _finding(v.tag, v.library, f"{v.tag} is not an annotated tag: a version carries its metadata")
        ]
    if info.name != v.tag:
        out.append(_finding(v.tag, v.library, f"{v.tag} points at a tag object named {info.name!r}"))
    meta = parse_tag_message(info.message)
    if meta.get("library") != v.library or meta.get("version") != v.number:
        out.append(
            _finding(
                v.tag,
                v.library,
                f"{v.tag}'s metadata says {meta.get('library')}/v{meta.get('version')}",
            )
        )
    registry = try_registry_at(repo, v.commit)
    spec = registry.libraries.get(v.library) if registry else None
    if spec is None:
        out.append(_finding(v.tag, v.library, f"{v.tag}'s commit has no library {v.library} in its registry"))
    elif repo.subtree(repo.tree_of(v.commit), spec.path) != meta.get("tree"):
        out.append(
            _finding(
                v.tag, v.library, f"{v.tag} moved: its commit's content is not the tree its metadata records"
            )
        )
    if not repo.is_ancestor(v.commit, main_tip):
        out.append(
            _finding(v.tag, v.library, f"{v.tag} is not on {main}'s history (was {main} force-pushed?)")
        )
    expected_parent = previous.tag if previous and previous.number == v.number - 1 else None
    if v.number > 1 and previous is not None and meta.get("parent") != expected_parent:
        out.append(
            _finding(v.tag, v.library, f"{v.tag}'s parent is {meta.get('parent')}, not {expected_parent}")
        )
    if previous is not None and not repo.is_ancestor(previous.commit, v.commit):
        out.append(_finding(v.tag, v.library, f"{v.tag} does not descend from {previous.tag}"))
    return out


def _check_content(repo: Repository, versions: list[Version]) -> list[Finding]:
    from ..gates.engine import PER_FILE_GATES, default_gates, run_gates, validate

    out: list[Finding] = []
    for v in versions:
        try:
            result = validate(repo, ref=v.commit, libraries=[v.library])
        except (UnknownVersionError, RegistryError) as exc:
            out.append(_finding(v.tag, v.library, f"{v.tag}: content cannot be checked: {exc}"))
            continue
        for f in result.errors:
            out.append(_finding(v.tag, v.library, f"{v.tag}: {f.location()}: [{f.gate}] {f.message}"))
    latest = versions[-1]
    meta = read_metadata(repo, latest)
    gates = [g for g in meta.get("gates") or [] if g in default_gates() and g not in PER_FILE_GATES]
    if latest.number > 1 and gates:
        parent = next((v for v in versions if v.number == latest.number - 1), None)
        if parent is not None:
            try:
                result = run_gates(
                    repo, parent.commit, latest.commit, gates=gates, libraries=[latest.library]
                )
            except RegistryError as exc:
                return [*out, _finding(latest.tag, latest.library, f"{latest.tag}: {exc}")]
            for f in result.errors:
                out.append(
                    _finding(
                        latest.tag, latest.library, f"{latest.tag}: no longer passes [{f.gate}] {f.message}"
                    )
                )
    return out
