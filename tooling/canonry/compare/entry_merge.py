"""The three-way merge of one entry, field by field, and what it cannot decide (`FieldConflict`).

Entries merge by id, field by field: a field changed on one side only takes
that change; the same field changed the same way on both sides is taken once;
nested mappings merge key by key; lists and scalars are whole values. The same
field changed two ways, or changed on one side and deleted (or its entry
deleted) on the other, is a `FieldConflict` naming the entry, the field, and
the base, ours and theirs values (`ABSENT` where a side has none). Values are
compared with `compare.values.same_value`, the rule `diff` uses too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .values import same_value

same = same_value  # the merge's historical name for the shared rule

# kinds of conflict
FIELD = "field"  # the same field changed two ways (or added two ways)
DELETE = "delete"  # a field changed on one side, deleted on the other
DELETE_ENTRY = "delete-entry"  # an entry deleted on one side, this field changed on the other
SYNTAX = "syntax"  # a side, or the textual merge, does not parse with the strict loader
TEXT = "text"  # a file that is not an entry: git's text merge left conflict markers
FILE = "file"  # modes, links or a file against a folder: nothing to merge field by field


class _Absent:
    """A field (or an entry) one side does not have."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldConflict:
    """One thing a merge could not decide; `field` is a "/"-joined path of keys (RFC 6901 escapes)."""

    library: str | None
    entry_id: str | None
    path: str | None
    field: str | None
    base: Any
    ours: Any
    theirs: Any
    kind: str = FIELD
    detail: str = ""  # the problem (syntax, text, file); for delete-entry, the side that deleted

    def describe(self, ours: str = "ours", theirs: str = "theirs") -> str:
        """`entry X: field F changed two ways: base 1, ours 2, theirs 3`, with the given side names."""
        what = f"entry {self.entry_id}" if self.entry_id else (self.path or "(tree)")
        if self.kind == SYNTAX:
            return f"{what}: does not parse after merging: {self.detail}"
        if self.kind in (TEXT, FILE):
            return f"{what}: {self.detail}"
        values = f"base {_show(self.base)}, {ours} {_show(self.ours)}, {theirs} {_show(self.theirs)}"
        if self.kind == DELETE_ENTRY:
            gone, kept = (ours, theirs) if self.detail == "ours" else (theirs, ours)
            value = self.theirs if self.detail == "ours" else self.ours
            return (
                f"{what}: deleted by {gone}, but {kept} changed field {self.field}:"
                f" base {_show(self.base)}, {kept} {_show(value)}"
            )
        if self.kind == DELETE:
            return f"{what}: field {self.field} deleted on one side, changed on the other: {values}"
        return f"{what}: field {self.field} changed two ways: {values}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; an absent value is null and listed under `absent`."""
        sides = {"base": self.base, "ours": self.ours, "theirs": self.theirs}
        return {
            "library": self.library,
            "entry_id": self.entry_id,
            "path": self.path,
            "field": self.field,
            "kind": self.kind,
            **{k: None if v is ABSENT else v for k, v in sides.items()},
            "absent": [k for k, v in sides.items() if v is ABSENT],
            "detail": self.detail,
        }

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.path or "", self.field or "", self.kind, self.detail)


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def merge_entry(
    base: Mapping[str, Any] | None, ours: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, list[FieldConflict]]:
    """Merge one entry's three versions (None: the entry is absent on that side).

    Returns the merged entry (None when deleted) and the conflicts; where there
    are conflicts the merged entry holds ours at each conflicting field. The
    result shares nested values with its inputs: copy it before changing it.
    """
    b, o, t = _plain(base), _plain(ours), _plain(theirs)
    entry_id = next((str(d["id"]) for d in (o, t, b) if d is not None and "id" in d), None)
    if same(o, t):
        return o, []
    if same(b, o):
        return t, []
    if same(b, t):
        return o, []
    if o is None or t is None:
        changed = o if t is None else t
        assert changed is not None
        conflicts = []
        gone = "ours" if o is None else "theirs"
        for key, old, new in _changed_fields(b or {}, changed, ()):
            ours_v, theirs_v = (new, ABSENT) if t is None else (ABSENT, new)
            conflicts.append(
                FieldConflict(None, entry_id, None, key, old, ours_v, theirs_v, DELETE_ENTRY, gone)
            )
        return o, conflicts
    found: list[FieldConflict] = []
    merged = _merge_mapping(b or {}, o, t, (), entry_id, found)
    return merged, found


def _plain(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if doc is None or isinstance(doc, dict):
        return doc
    to_dict = getattr(doc, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(doc)


def _merge_mapping(
    b: dict[str, Any],
    o: dict[str, Any],
    t: dict[str, Any],
    at: tuple[str, ...],
    entry_id: str | None,
    found: list[FieldConflict],
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in _ordered_keys(o, t, b):
        bv, ov, tv = b.get(key, ABSENT), o.get(key, ABSENT), t.get(key, ABSENT)
        if same(ov, tv) or same(bv, tv):
            value = ov
        elif same(bv, ov):
            value = tv
        elif isinstance(ov, dict) and isinstance(tv, dict) and (bv is ABSENT or isinstance(bv, dict)):
            value = _merge_mapping(bv if isinstance(bv, dict) else {}, ov, tv, (*at, key), entry_id, found)
        else:
            kind = DELETE if ABSENT in (ov, tv) and bv is not ABSENT else FIELD
            found.append(FieldConflict(None, entry_id, None, _pointer((*at, key)), bv, ov, tv, kind))
            value = ov
        if value is not ABSENT:
            merged[key] = value
    return merged


def _ordered_keys(*docs: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for doc in docs:
        for key in doc:
            seen.setdefault(key, None)
    return list(seen)


def _changed_fields(
    old: dict[str, Any], new: dict[str, Any], at: tuple[str, ...]
) -> Iterable[tuple[str, Any, Any]]:
    for key in _ordered_keys(new, old):
        ov, nv = old.get(key, ABSENT), new.get(key, ABSENT)
        if same(ov, nv):
            continue
        if isinstance(ov, dict) and isinstance(nv, dict):
            yield from _changed_fields(ov, nv, (*at, key))
        else:
            yield _pointer((*at, key)), ov, nv


def _pointer(keys: tuple[str, ...]) -> str:
    return "/".join(str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def field_keys(field: str) -> list[str]:
    """The keys of a conflict's field path, from the top."""
    return [k.replace("~1", "/").replace("~0", "~") for k in field.split("/")]
