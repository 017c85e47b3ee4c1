"""Impact of a new version on past runs: `canonry impact RUN.json... --to LIB@VERSION` (canonry.impact/v1).

A run record (canonry.run/v1, `runtime/reads.py`) names, per library, the tag
and commit it was served and the entries it read with their blob ids. For each
run and each library named by `--to`, impact lists the entries it read that
changed (with the field changes, as `canonry diff` gives them), were removed,
or were added since (looked up by the run and absent then), and whether the
version it read is now deprecated; with the commits that made each change (as
`canonry explain` gives them).

Cost follows the change, not the runs: runs are grouped by (library, from
commit, to commit), each group is diffed once (a tree-to-tree diff that parses
only what differs), each changed entry is explained once, and each run is
then intersected with the group's change set.

Every record is checked first: a library or version that does not exist, or
a tag that no longer names the recorded tag object and commit (a tampered or
rewritten record), raises RunRecordError and nothing is reported.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compare.diff import library_diff
from ..errors import CanonryError, RunRecordError, UnknownEntryError, UsageError
from ..publication.audit import deprecation, explain
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.states import TreeState
from ..store.versions import TAG_PREFIX, Version, list_versions, parse_tag_name
from .channels import resolve_target
from .pins import known_libraries
from .reads import RUN_FORMAT

FORMAT = "canonry.impact/v1"
_OID = re.compile(r"[0-9a-f]{40}")


@dataclass
class LibraryRead:
    library: str
    tag: str | None
    commit: str
    all: bool
    entries: dict[str, str | None]  # id -> blob id read (None: asked for, absent)
    recorded: bool  # whether the run recorded its reads at all


@dataclass
class Run:
    label: str
    run: str | None
    libraries: dict[str, LibraryRead] = field(default_factory=dict)


# --- reading run records ---------------------------------------------------------------------------


def record_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; folders as the *.json files in them (sorted, not recursive)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix == ".json" and x.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise RunRecordError(f"{p}: no such run record or folder")
    if not out:
        raise RunRecordError("no run records (*.json) in " + ", ".join(map(str, paths)))
    return out


def read_run(path: Path) -> Run:
    """Parse one run record; RunRecordError naming the file and the problem."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunRecordError(f"{path}: not a JSON run record ({exc})") from None
    return parse_run(doc, str(path))


def parse_run(doc: Any, label: str) -> Run:
    def bad(problem: str) -> RunRecordError:
        return RunRecordError(f"{label}: {problem}")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    if "format" in doc:
        if doc["format"] != RUN_FORMAT:
            raise bad(f"format {doc['format']!r} is not {RUN_FORMAT!r}")
        libraries, run_id = doc.get("libraries"), doc.get("run")
    else:  # a bare canon.snapshot(reads=True)
        libraries, run_id = doc, None
    if not isinstance(libraries, dict) or not libraries:
        raise bad("no libraries (a run record holds canon.snapshot(reads=True) under `libraries`)")
    run = Run(label, str(run_id) if run_id is not None else None)
    for name, lib in libraries.items():
        if not isinstance(lib, dict):
            raise bad(f"libraries/{name}: not an object")
        commit, tag = lib.get("commit"), lib.get("tag")
        if not isinstance(commit, str) or not _OID.fullmatch(commit):
            raise bad(f"libraries/{name}/commit: {commit!r} is not a commit id")
        if tag is not None and (
            not isinstance(tag, str) or parse_tag_name(tag) != (name, lib.get("version"))
        ):
            raise bad(f"libraries/{name}: tag {tag!r} and version {lib.get('version')!r} disagree")
        reads = lib.get("reads")
        if reads is None:
            run.libraries[name] = LibraryRead(name, tag, commit, True, {}, False)
            continue
        entries = reads.get("entries") if isinstance(reads, dict) else None
        if not isinstance(entries, dict) or not isinstance(reads.get("all"), bool):
            raise bad(f"libraries/{name}/reads: not {{all: bool, entries: {{id: blob id}}}}")
        for entry_id, blob in entries.items():
            if blob is not None and not (isinstance(blob, str) and _OID.fullmatch(blob)):
                raise bad(f"libraries/{name}/reads/entries/{entry_id}: {blob!r} is not a blob id")
        run.libraries[name] = LibraryRead(name, tag, commit, reads["all"], dict(entries), True)
    return run


def check_run(repo: Repository, run: Run, known: set[str]) -> None:
    """Refuse a record naming what does not exist, or whose tag no longer names its tag object and commit."""
    for name, lib in run.libraries.items():
        if name not in known:
            raise RunRecordError(
                f"{run.label}: names library {name!r}, which the repository does not have"
                f" (known: {', '.join(sorted(known)) or 'none'})"
            )
        if lib.tag is None:
            if not repo.has_object(lib.commit):
                raise RunRecordError(
                    f"{run.label}: {name} was read at {lib.commit[:12]}, which does not exist"
                )
            continue
        target = repo.ref_target(TAG_PREFIX + lib.tag)
        if target is None:
            raise RunRecordError(f"{run.label}: names {lib.tag}, which does not exist")
        commit = repo.try_resolve_commit(target)
        if commit != lib.commit:
            raise RunRecordError(
                f"{run.label}: {lib.tag} names commit {str(commit)[:12]}, but the record says"
                f" {lib.commit[:12]} (a tampered record, or the tag moved)"
            )


# --- targets ---------------------------------------------------------------------------------------


def resolve_targets(repo: Repository, specs: Sequence[str], libraries: Iterable[str]) -> dict[str, Version]:
    """{library: target version} from `LIB@VERSION`, `LIB@CHANNEL`, or a bare `CHANNEL`/`latest` for all."""
    if not specs:
        raise UsageError("say what to compare with: --to LIB@VERSION, LIB@CHANNEL, or a channel for all")
    out: dict[str, Version] = {}
    named = sorted(set(libraries))
    for spec in specs:
        lib, at, selector = spec.partition("@")
        if at:
            out[lib] = resolve_target(repo, lib, selector)
        else:
            for name in named:
                out.setdefault(name, resolve_target(repo, name, spec))
    return out


# --- the report -------------------------------------------------------------------------------------


def impact(repo: Repository, paths: Sequence[str | os.PathLike[str]], to: Sequence[str]) -> dict[str, Any]:
    """The canonry.impact/v1 document for the run records under paths."""
    runs = [read_run(p) for p in record_paths(paths)]
    known = known_libraries(repo)
    for run in runs:
        check_run(repo, run, known)
    targets = resolve_targets(repo, to, {n for r in runs for n in r.libraries})
    groups: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        for name, lib in run.libraries.items():
            if name in targets:
                groups[(name, lib.commit, targets[name].commit)].append(run)
    changes = {key: _change(repo, *key) for key in groups}
    explained: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    versions = {(v.library, v.tag): v for v in list_versions(repo)}
    rows = []
    for run in runs:
        row: dict[str, Any] = {"record": run.label, "run": run.run, "affected": False, "libraries": {}}
        for name, lib in sorted(run.libraries.items()):
            if name not in targets:
                continue
            target = targets[name]
            change = changes[(name, lib.commit, target.commit)]
            version = versions.get((name, lib.tag)) if lib.tag else None
            gone = deprecation(repo, version) if version else None
            hits = _intersect(lib, change)
            for hit in hits:
                key = (hit["entry_id"], lib.commit, target.commit)
                if key not in explained:
                    explained[key] = _commits(repo, *key)
                hit["commits"] = explained[key]
            row["libraries"][name] = {
                "from": {"tag": lib.tag, "commit": lib.commit},
                "to": {"tag": target.tag, "commit": target.commit},
                "reads_recorded": lib.recorded,
                "read_all": lib.all,
                "entries_read": len(lib.entries),
                "deprecated": gone,
                "changed": [h for h in hits if h["change"] == "changed"],
                "removed": [h for h in hits if h["change"] == "removed"],
                "added": [h for h in hits if h["change"] == "added"],
            }
            if hits or gone:
                row["affected"] = True
        rows.append(row)
    return {
        "format": FORMAT,
        "to": {name: {"tag": v.tag, "commit": v.commit} for name, v in sorted(targets.items())},
        "runs": rows,
        "summary": {
            "runs": len(rows),
            "affected": sum(1 for r in rows if r["affected"]),
            "diffs": len(changes),
            "entries_explained": len(explained),
        },
    }


@dataclass
class Change:
    """One library's change from one commit to another, by entry id."""

    changed: dict[str, list[dict[str, Any]]]  # id -> diff rows
    removed: set[str]
    added: set[str]


def _change(repo: Repository, library: str, start: str, end: str) -> Change:
    try:
        spec_a = registry_at(repo, start).library(library)
        spec_b = registry_at(repo, end).library(library)
    except CanonryError as exc:
        raise RunRecordError(f"{library} cannot be compared from {start[:12]} to {end[:12]}: {exc}") from None
    state_a, state_b = TreeState(repo, start, start), TreeState(repo, end, end)
    doc = library_diff(repo, state_a, state_b, spec_a, spec_b)
    changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in doc["changed_entries"]:
        changed[r["entry_id"]].append({k: r[k] for k in ("field", "path", "op", "old", "new")})
    return Change(dict(changed), set(doc["removed_entry_ids"]), set(doc["added_entry_ids"]))


def _intersect(lib: LibraryRead, change: Change) -> list[dict[str, Any]]:
    """The hits of one run: the smaller side is iterated, so a big change costs a small run little."""
    out: list[dict[str, Any]] = []
    if lib.all:
        ids: Iterable[str] = sorted(change.changed.keys() | change.removed | change.added)
    else:
        ids = sorted(lib.entries)
    for entry_id in ids:
        if entry_id in change.changed and (lib.all or lib.entries.get(entry_id) is not None):
            out.append({"entry_id": entry_id, "change": "changed", "fields": change.changed[entry_id]})
        elif entry_id in change.removed and (lib.all or lib.entries.get(entry_id) is not None):
            out.append({"entry_id": entry_id, "change": "removed", "fields": []})
        elif entry_id in change.added and (lib.all or lib.entries.get(entry_id, "x") is None):
            out.append({"entry_id": entry_id, "change": "added", "fields": []})
    for hit in out:
        hit["blob_read"] = lib.entries.get(hit["entry_id"])
    return out


def _commits(repo: Repository, entry_id: str, start: str, end: str) -> list[dict[str, Any]]:
    """The commits that changed the entry from start to end, with their fields (from `explain`)."""
    try:
        rows = explain(repo, entry_id, from_ref=start, to_ref=end)["changes"]
    except UnknownEntryError:
        return []
    by_commit: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = by_commit.setdefault(
            r["commit"],
            {k: r[k] for k in ("commit", "at", "actor", "source", "reason", "version")} | {"paths": []},
        )
        c["paths"].append(r["path"])
    return list(by_commit.values())
