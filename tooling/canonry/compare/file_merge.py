"""The three-way merge of one file: an entry field by field, anything else as text by git."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import EntrySyntaxError
from ..store.repo import Repository
from ..store.yamlio import dump_yaml, load_mapping, load_yaml
from .entry_merge import ABSENT, FILE, SYNTAX, TEXT, FieldConflict, field_keys, merge_entry
from .values import same_value

_TEXT_CHECKED = ("knowledge/", "schemas/")


@dataclass(frozen=True)
class FileMerge:
    """One file merged: its bytes (None: deleted) and what could not be decided.

    With conflicts, `data` is what a person resolves: the entry with each
    conflicting top-level field between conflict markers, or git's text merge.
    """

    data: bytes | None
    conflicts: tuple[FieldConflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


def merge_versions(
    repo: Repository,
    path: str,
    entry: tuple[str, str] | None,
    base: bytes | None,
    ours: bytes | None,
    theirs: bytes | None,
    labels: tuple[str, str] = ("ours", "theirs"),
) -> FileMerge:
    """Merge three versions of one file (None: absent on that side).

    `entry` is (library, id) for an entry file, merged field by field; any
    other file is merged as text.
    """
    if entry is None:
        return _merge_text(repo, path, None, base, ours, theirs, labels)
    library, entry_id = entry
    docs: list[dict[str, Any] | None] = []
    for side, data in (("base", base), (labels[0], ours), (labels[1], theirs)):
        if data is None:
            docs.append(None)
            continue
        try:
            docs.append(load_mapping(data, f"{path} ({side})"))
        except EntrySyntaxError:
            return _merge_text(repo, path, entry, base, ours, theirs, labels)
    merged, conflicts = merge_entry(*docs)
    conflicts = [replace(c, library=library, path=path) for c in conflicts]
    if conflicts:
        return FileMerge(_marked(merged, docs[1], docs[2], conflicts, labels), tuple(conflicts))
    if merged is None:
        return FileMerge(None)
    for data, doc in ((ours, docs[1]), (theirs, docs[2])):
        if data is not None and same_value(merged, doc):
            return FileMerge(data)  # untouched bytes stay untouched
    return FileMerge(dump_yaml(merged).encode("utf-8"))


def _merge_text(
    repo: Repository,
    path: str,
    entry: tuple[str, str] | None,
    base: bytes | None,
    ours: bytes | None,
    theirs: bytes | None,
    labels: tuple[str, str],
) -> FileMerge:
    library, entry_id = entry if entry else (None, None)
    if ours is None or theirs is None:
        return FileMerge(
            ours,
            (
                FieldConflict(
                    library, entry_id, path, None, ABSENT, ABSENT, ABSENT, FILE, _deleted(ours, labels)
                ),
            ),
        )
    data, clean = repo.merge_file(base or b"", ours, theirs, (labels[0], "base", labels[1]))
    if not clean:
        detail = "changed on both sides; git's text merge left conflict markers"
        return FileMerge(
            data, (FieldConflict(library, entry_id, path, None, ABSENT, ABSENT, ABSENT, TEXT, detail),)
        )
    if entry is not None or (path.endswith((".yaml", ".yml")) and path.startswith(_TEXT_CHECKED)):
        try:
            (load_mapping if entry is not None else load_yaml)(data, path)
        except EntrySyntaxError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            conflict = FieldConflict(
                library, entry_id, path, None, ABSENT, ABSENT, ABSENT, SYNTAX, where + exc.problem
            )
            return FileMerge(data, (conflict,))
    return FileMerge(data)


def _deleted(ours: bytes | None, labels: tuple[str, str]) -> str:
    gone, kept = (labels[0], labels[1]) if ours is None else (labels[1], labels[0])
    return f"deleted by {gone}, changed by {kept}"


def _marked(
    merged: dict[str, Any] | None,
    ours: dict[str, Any] | None,
    theirs: dict[str, Any] | None,
    conflicts: list[FieldConflict],
    labels: tuple[str, str],
) -> bytes:
    """The merged entry with each conflicting top-level field between conflict markers."""
    o, t, m = ours or {}, theirs or {}, merged or {}
    contested = {field_keys(c.field)[0] for c in conflicts if c.field}
    keys = sorted(set(o) | set(t) | set(m))
    if "id" in keys:
        keys.remove("id")
        keys.insert(0, "id")
    out: list[str] = []
    for key in keys:
        if key in contested:
            out.append(f"<<<<<<< {labels[0]}\n")
            if key in o:
                out.append(dump_yaml({key: o[key]}))
            out.append("=======\n")
            if key in t:
                out.append(dump_yaml({key: t[key]}))
            out.append(f">>>>>>> {labels[1]}\n")
        elif key in m:
            out.append(dump_yaml({key: m[key]}))
    return "".join(out).encode("utf-8")
