"""The audit trail: who changed what and why (log, explain), published versions, deprecation, verify.

Git history is the log: commits carry Canonry-* trailers (actor, source,
source ref, reason), review decisions are notes under refs/notes/canonry-reviews,
versions are annotated tags whose message is their metadata, deprecations are
notes on those tags under refs/notes/canonry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..compare.diff import field_changes
from ..errors import (
    EntrySyntaxError,
    RefMovedError,
    RegistryError,
    UnknownEntryError,
    UnknownVersionError,
    UsageError,
)
from ..gates.findings import ERROR, Finding
from ..store.commits import Provenance, actor_identity, message_with_trailers, parse_trailers
from ..store.registry import REGISTRY_PATH, LibrarySpec, Registry
from ..store.repo import CommitInfo, Repository
from ..store.rules import registry_at as rules_registry_at
from ..store.times import rfc3339
from ..store.versions import (
    TAG_PREFIX,
    Version,
    list_versions,
    parse_library_spec,
    parse_tag_message,
    parse_tag_name,
    read_metadata,
    resolve_version,
)
from ..store.yamlio import dump_yaml, load_mapping, load_yaml
from .review import all_decisions

NOTES_REF = "refs/notes/canonry"  # notes on version tags (deprecations)
GATE = "verify"


def registry_at(repo: Repository, commit: str) -> Registry | None:
    """The registry in a commit, or None when it is missing or broken."""
    try:
        return rules_registry_at(repo, commit)
    except RegistryError:
        return None


# --- versions and deprecation -------------------------------------------------------------------


def deprecation(repo: Repository, version: Version) -> dict[str, Any] | None:
    """{reason, by, at} when the version is deprecated (pinning it should warn), else None."""
    text = repo.read_note(NOTES_REF, version.target)
    if not text:
        return None
    try:
        doc = load_yaml(text, f"note on {version.tag}")
    except EntrySyntaxError:
        return None
    found = doc.get("deprecated") if isinstance(doc, dict) else None
    return dict(found) if isinstance(found, dict) else None


def deprecate(repo: Repository, spec: str, reason: str, by: str | None = None) -> dict[str, Any]:
    """Mark LIBRARY@vN deprecated: a note on its tag object; the tag itself never changes."""
    if not reason or not reason.strip():
        raise UsageError("a deprecation needs a reason (--reason TEXT)")
    library, selector = parse_library_spec(spec)
    if selector == "latest" and "@" not in spec:
        raise UsageError(f"name the version to deprecate: {library}@vN")
    version = resolve_version(repo, library, selector)
    who = actor_identity(repo, by)
    record = {"reason": " ".join(reason.split()), "by": who.email, "at": rfc3339()}
    for attempt in range(5):
        doc: dict[str, Any] = {}
        existing = repo.read_note(NOTES_REF, version.target)
        if existing:
            try:
                loaded = load_yaml(existing, f"note on {version.tag}")
            except EntrySyntaxError:
                loaded = None
            if not isinstance(loaded, dict):
                raise UsageError(
                    f"the note on {version.tag} under {NOTES_REF} is not Canonry's; not touching it"
                )
            doc = loaded
        if isinstance(doc.get("deprecated"), dict):
            return {"tag": version.tag, "already": True, **doc["deprecated"]}
        doc["deprecated"] = record
        try:
            prov = Provenance("deprecate", who.email, record["reason"], version.tag)
            message = message_with_trailers(f"Deprecate {version.tag}", prov)
            repo.write_note(NOTES_REF, version.target, dump_yaml(doc), who, message)
            return {"tag": version.tag, "already": False, **record}
        except RefMovedError:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def versions_report(repo: Repository, library: str) -> dict[str, Any]:
    """Every published version of a library with its metadata and deprecation (canonry.versions/v1)."""
    versions = list_versions(repo, library)
    if not versions:
        main = repo.try_resolve_commit("main")
        registry = registry_at(repo, main) if main else None
        if registry is not None:
            registry.library(library)  # UnknownLibraryError for a name that is not a library
    rows = []
    for v in versions:
        info = repo.tag(v.target)
        rows.append(
            {
                "tag": v.tag,
                "version": v.number,
                "commit": v.commit,
                "tag_object": v.target if info else None,
                "summary": info.message.split("\n", 1)[0] if info else None,
                "metadata": parse_tag_message(info.message) if info else {},
                "deprecated": deprecation(repo, v),
            }
        )
    return {"format": "canonry.versions/v1", "library": library, "versions": rows}


# --- log ----------------------------------------------------------------------------------------


def _object_at(repo: Repository, tree: str, path: str) -> str | None:
    item = repo.entry_at(tree, path)
    return item.oid if item is not None else None


def _touched(repo: Repository, c: CommitInfo, path: str, tree_cache: dict[str, str]) -> list[tuple[str, str]]:
    """[(status, relative path)] of what c changed under path; merges report only what is new in them."""

    def tree(oid: str) -> str:
        if oid not in tree_cache:
            tree_cache[oid] = repo.tree_of(oid)
        return tree_cache[oid]

    new = _object_at(repo, c.tree, path)
    olds = [_object_at(repo, tree(p), path) for p in c.parents] or [None]
    if new in olds:
        return []
    item = repo.entry_at(c.tree, path) if new else None
    is_tree = (
        item.is_tree
        if item
        else any((i := repo.entry_at(tree(p), path)) is not None and i.is_tree for p in c.parents)
    )
    if not is_tree:
        status = "A" if olds[0] is None else "D" if new is None else "M"
        return [(status, "")]
    first = {ch.path: ch for ch in repo.diff_trees(olds[0], new)}
    for other in olds[1:]:
        again = {ch.path for ch in repo.diff_trees(other, new)}
        first = {p: ch for p, ch in first.items() if p in again}
    return sorted((ch.status, p) for p, ch in first.items())


_STATUS = {"A": "added", "D": "removed", "M": "changed"}


def _commit_record(c: CommitInfo, entries: list[dict[str, Any]]) -> dict[str, Any]:
    trailers = parse_trailers(c.message)

    def trailer(key: str) -> str | None:
        value = trailers.get(key)
        return None if value in (None, "", "-") else value

    return {
        "kind": "change",
        "at": rfc3339(c.author_time),
        "commit": c.oid,
        "author": c.author.email,
        "actor": trailer("Canonry-Actor") or c.author.email,
        "source": trailer("Canonry-Source") or "git",
        "source_ref": trailer("Canonry-Source-Ref"),
        "reason": trailer("Canonry-Reason"),
        "summary": c.message.split("\n", 1)[0],
        "entries": entries,
    }


def _paths(registry: Registry, library: str | None, entry: str | None) -> dict[str, LibrarySpec]:
    specs = [registry.library(library)] if library else [registry.libraries[n] for n in registry.names()]
    if entry:
        return {spec.entry_path(entry): spec for spec in specs}
    return {spec.path: spec for spec in specs}


def history(
    repo: Repository, tip: str, paths: dict[str, LibrarySpec], hide: Iterable[str] = ()
) -> list[tuple[CommitInfo, list[dict[str, Any]]]]:
    """Commits reachable from tip (not from hide) that changed entries under paths, newest first."""
    out = []
    cache: dict[str, str] = {}
    for c in repo.walk(tip, hide=list(hide)):
        cache[c.oid] = c.tree
        entries = []
        for path, spec in paths.items():
            for status, rel in _touched(repo, c, path, cache):
                if rel:
                    entry_id = spec.id_from_relative_path(rel)
                else:
                    entry_id = spec.id_from_relative_path(path[len(spec.path) + 1 :])
                if entry_id is not None:
                    entries.append({"library": spec.name, "entry_id": entry_id, "change": _STATUS[status]})
        if entries:
            out.append((c, entries))
    return out


def log(
    repo: Repository, library: str | None = None, entry: str | None = None, ref: str = "main"
) -> dict[str, Any]:
    """Who changed what, when, why and from which source; publications, reviews, deprecations too."""
    tip = repo.resolve_commit(ref)
    registry = registry_at(repo, tip)
    if registry is None:
        raise RegistryError("missing or broken: cannot tell libraries apart", REGISTRY_PATH)
    paths = _paths(registry, library, entry)
    records = [_commit_record(c, entries) for c, entries in history(repo, tip, paths)]
    names = sorted({spec.name for spec in paths.values()})
    for name in names:
        for v in list_versions(repo, name):
            if entry and not _version_touches(repo, v, paths):
                continue
            records.append(_publication_record(repo, v))
            gone = deprecation(repo, v)
            if gone:
                records.append(
                    {
                        "kind": "deprecation",
                        "tag": v.tag,
                        "library": name,
                        "actor": gone.get("by"),
                        "at": gone.get("at"),
                        "reason": gone.get("reason"),
                    }
                )
    for d in all_decisions(repo):
        if library and library not in d.libraries:
            continue
        if entry and not _draft_touches(repo, tip, d.commit, paths):
            continue
        records.append({"kind": "review", **d.to_dict(), "actor": d.reviewer})
    # newest first; within one second, what happens later in a publication comes first
    rank = {"change": 0, "review": 1, "publication": 2, "deprecation": 3}
    records.sort(
        key=lambda r: (str(r.get("at") or ""), rank[r["kind"]], r.get("commit") or r.get("tag") or "")
    )
    records.reverse()
    return {"format": "canonry.log/v1", "ref": ref, "library": library, "entry": entry, "records": records}


def _publication_record(repo: Repository, v: Version) -> dict[str, Any]:
    meta = read_metadata(repo, v)
    info = repo.tag(v.target)
    return {
        "kind": "publication",
        "tag": v.tag,
        "library": v.library,
        "version": v.number,
        "commit": v.commit,
        "at": meta.get("published_at") or (rfc3339(info.tag_time) if info and info.tag_time else None),
        "actor": meta.get("published_by") or (info.tagger.email if info and info.tagger else None),
        "approved_by": meta.get("approved_by") or [],
        "draft": meta.get("draft"),
        "rollback_of": meta.get("rollback_of"),
        "summary": info.message.split("\n", 1)[0] if info else v.tag,
    }


def _version_touches(repo: Repository, v: Version, paths: dict[str, LibrarySpec]) -> bool:
    parent = resolve_version(repo, v.library, v.number - 1) if v.number > 1 else None
    for path in paths:
        now = _object_at(repo, repo.tree_of(v.commit), path)
        before = _object_at(repo, repo.tree_of(parent.commit), path) if parent else None
        if now != before:
            return True
    return False


def _draft_touches(repo: Repository, tip: str, head: str, paths: dict[str, LibrarySpec]) -> bool:
    if not repo.has_object(head):
        return False
    base = repo.merge_base(tip, head)
    return any(
        _object_at(repo, repo.tree_of(head), p) != (_object_at(repo, repo.tree_of(base), p) if base else None)
        for p in paths
    )


# --- explain ------------------------------------------------------------------------------------


def explain(
    repo: Repository, entry_id: str, from_ref: str | None = None, to_ref: str = "main"
) -> dict[str, Any]:
    """Each field change of an entry between two refs, with commit, actor, source, reason and version."""
    to = repo.resolve_commit(to_ref)
    start = repo.resolve_commit(from_ref) if from_ref else None
    registry = registry_at(repo, to)
    if registry is None:
        raise RegistryError("missing or broken: cannot find the entry's library", REGISTRY_PATH)
    paths = _paths(registry, None, entry_id)
    found = history(repo, to, paths, hide=[start] if start else [])
    libraries = sorted({e["library"] for _c, entries in found for e in entries})
    here = [spec for path, spec in paths.items() if _object_at(repo, repo.tree_of(to), path)]
    if not found and not here:
        raise UnknownEntryError("any library", entry_id, to_ref)
    spec = here[0] if here else registry.library(libraries[0])
    path = spec.entry_path(entry_id)
    versions = list_versions(repo, spec.name)
    rows: list[dict[str, Any]] = []
    for c, _entries in reversed(found):
        new = _read(repo, c.tree, path)
        olds = [_read(repo, repo.tree_of(p), path) for p in c.parents] or [None]
        changes = field_changes(olds[0], new, entry_id)
        for other in olds[1:]:  # a merge: only what differs from every parent is its own doing
            keep = {(r["path"], repr(r["new"])) for r in field_changes(other, new, entry_id)}
            changes = [r for r in changes if (r["path"], repr(r["new"])) in keep]
        record = _commit_record(c, [])
        published = next((v.tag for v in versions if repo.is_ancestor(c.oid, v.commit)), None)
        for row in changes:
            rows.append(
                {
                    **{k: row[k] for k in ("field", "path", "op", "old", "new")},
                    **{k: record[k] for k in ("commit", "at", "author", "actor", "source", "source_ref")},
                    "reason": record["reason"] or record["summary"],
                    "version": published,
                }
            )
    current = _read(repo, repo.tree_of(to), path)
    return {
        "format": "canonry.explain/v1",
        "entry_id": entry_id,
        "library": spec.name,
        "title": spec.summary(current) if current else None,
        "from": {"ref": from_ref, "commit": start},
        "to": {"ref": to_ref, "commit": to},
        "changes": rows,
    }


def _read(repo: Repository, tree: str, path: str) -> dict[str, Any] | None:
    oid = _object_at(repo, tree, path)
    if oid is None:
        return None
    try:
        return load_mapping(repo.read_blob(oid), path)
    except EntrySyntaxError:
        return {"(unreadable)": True}


# --- verify -------------------------------------------------------------------------------------


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
    return Finding(TAG_PREFIX + tag, None, None, GATE, ERROR, message, library)


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
    registry = registry_at(repo, v.commit)
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
