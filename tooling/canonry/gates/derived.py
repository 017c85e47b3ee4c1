"""The indexes the content gates derive from a library tree: built, shipped in git, audited.

Each section is a function of one library tree and the library's spec: exact
keys (duplicates), the near-duplicate trigram index, conflict keys. They are
cached locally by tree id (content.py) and shipped as one object per tree
(canonry.store.index, docs/index-format.md). A shipped section is used only after
the store verified the object (key, version, digest, file list hashing to the
tree) and `audit` re-derived a random sample of its entries from their blobs.
"""

from __future__ import annotations

import bisect
import json
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..errors import EntrySyntaxError
from ..store import index as shipped
from ..store.entries import Library, parse_blob, store_for
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import FileRef, State
from .near import NearIndex, near_text, trigrams

INDEX_VERSION = "5"
AUDIT_SAMPLE = 32  # entries re-derived from their blobs before a shipped section is used


def normalize_key(value: Any) -> str:
    """A key field's matching form: NFKC, case folded, whitespace collapsed; others as JSON."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def key_of(doc: dict[str, Any], fields: Iterable[str]) -> str | None:
    """The normalized key of an entry, or None when it has none of the key fields."""
    values = [doc.get(f) for f in fields]
    if all(v is None for v in values):
        return None
    return "\x1f".join(normalize_key(v) for v in values)


def conflict_values(doc: dict[str, Any], fields: Iterable[str]) -> str:
    return json.dumps([doc.get(f) for f in fields], sort_keys=True, ensure_ascii=False)


# --- the sections --------------------------------------------------------------------


def exact_index(docs: dict[str, dict[str, Any]], fields: list[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for entry_id in sorted(docs):
        key = key_of(docs[entry_id], fields)
        if key is not None:
            index.setdefault(key, []).append(entry_id)
    return index


def conflict_index(docs: dict[str, dict[str, Any]], params: list[Any]) -> dict[str, list[list[str]]]:
    keys, values = params
    index: dict[str, list[list[str]]] = {}
    for entry_id in sorted(docs):
        key = key_of(docs[entry_id], keys)
        if key is not None:
            index.setdefault(key, []).append([entry_id, conflict_values(docs[entry_id], values)])
    return index


def near_index(docs: dict[str, dict[str, Any]], fields: list[str]) -> dict[str, Any]:
    return NearIndex.build({i: t for i, d in docs.items() if (t := near_text(d, fields))})


@dataclass(frozen=True)
class Section:
    kind: str
    params: Any
    build: Callable[[dict[str, dict[str, Any]]], Any]

    def key(self, spec: LibrarySpec) -> str:
        """The section's name: what it is and what it depends on besides the tree."""
        return f"{self.kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(self.params)}"


def sections_for(spec: LibrarySpec) -> list[Section]:
    """The sections the content gates use for a library (by its spec)."""
    out = []
    dup = spec.duplicates
    if dup.exact:
        out.append(Section("exact-keys", list(dup.exact), partial(_with, exact_index, list(dup.exact))))
    if dup.near_fields:
        near = list(dup.near_fields)
        out.append(Section("near-trigrams", near, partial(_with, near_index, near)))
    if spec.conflicts is not None:
        params = [list(spec.conflicts.key), list(spec.conflicts.values)]
        out.append(Section("conflict-keys", params, partial(_with, conflict_index, params)))
    return out


def _with(build: Callable[[dict[str, dict[str, Any]], Any], Any], params: Any, docs: dict[str, Any]) -> Any:
    return build(docs, params)


# --- values per entry (learning.matching.per_entry), shipped and seeded ---------------------


def per_entry_kinds(spec: LibrarySpec) -> dict[str, Callable[[str, Any], Any]]:
    """{per_entry kind: fn} the gates compute over a whole library (evidence and confidence).

    The kinds and functions are those of learning (citations, override texts) and of
    the confidence gate; shipping them lets a fresh clone derive the head's values
    from the base's by a tree diff instead of parsing every entry.
    """
    from .. import learning
    from .confidence import _INPUTS

    field = spec.confidence_field or "confidence"

    def inputs(_entry_id: str, entry: Any) -> tuple[Any, ...]:  # as the confidence gate's
        return (entry.get(field), entry.get("source"), entry.get("updated_at"))

    kinds: dict[str, Callable[[str, Any], Any]] = {learning._CITED_VERSION: learning._citations}
    if spec.name == learning.OVERRIDES:
        kinds[learning._TEXTS_VERSION] = learning._override_text
    if spec.confidence_field is not None:
        kinds[f"{_INPUTS}:{field}"] = inputs
    return kinds


PER_ENTRY = "per-entry/1:"  # section name prefix: PER_ENTRY + kind


def _per_entry_sections(library: Library) -> dict[str, Any]:
    from ..learning.matching import per_entry

    return {
        PER_ENTRY + kind: per_entry(library, kind, fn) for kind, fn in per_entry_kinds(library.spec).items()
    }


def seed_per_entry(repo: Repository, spec: LibrarySpec, tree: str) -> None:
    """Hand the shipped per-entry values of a tree to learning's cache (audited first).

    learning.matching derives a tree it has not seen from the last tree seen for the
    same library and kind; marking the shipped tree as seen makes the head's values
    one tree diff away. (It reaches into matching's cache: a public `seed()` there
    would be cleaner.)
    """
    from ..learning import matching

    kinds = per_entry_kinds(spec)
    last = {kind: (str(repo.git_dir), spec.path, kind) for kind in kinds}
    if store_for(repo).has_results([f"{kind}:{tree}" for kind in kinds]):  # matching's cache key
        for key in last.values():
            matching._LAST_TREE.setdefault(key, tree)
        return
    sections = shipped.read(repo, tree)
    if sections is None:
        return
    for kind, fn in kinds.items():
        values = sections.get(PER_ENTRY + kind)
        if not isinstance(values, dict):
            continue
        if matching._load(repo, kind, tree) is None:
            problem = _audit_per_entry(repo, spec, sections[shipped.FILES], kind, fn, values)
            if problem:
                shipped.warn(f"{shipped.ref_name(tree)}: ignored its {kind} values ({problem})")
                continue
            matching._save(repo, kind, tree, values)
        matching._LAST_TREE.setdefault(last[kind], tree)


def _audit_per_entry(
    repo: Repository,
    spec: LibrarySpec,
    files: list[Any],
    kind: str,
    fn: Callable[[str, Any], Any],
    values: Any,
) -> str | None:
    for entry_id, doc in _sample_docs(repo, spec, files).items():
        expected = fn(entry_id, doc) if doc is not None else None
        expected = json.loads(json.dumps(expected)) if expected is not None else None
        if values.get(entry_id) != expected:
            return f"entry {entry_id} is not what its blob says"
    return None


def docs_of(state: State, spec: LibrarySpec) -> dict[str, dict[str, Any]]:
    parsed = Library(state, spec).parse_all()
    return {eid: doc for eid, doc in parsed.items() if isinstance(doc, dict)}


# --- building and shipping -------------------------------------------------------------


def build(repo: Repository, state: State, libraries: Iterable[str] = ()) -> dict[str, str]:
    """Write the index object of each library tree at state; {library: tree id}."""
    registry = load_rules(state).require_registry()
    out: dict[str, str] = {}
    for name in libraries or registry.names():
        spec = registry.library(name)
        tree = state.tree_id(spec.path)
        if tree is None:
            continue
        library = Library(state, spec)
        base = len(spec.path) + 1
        sections: dict[str, Any] = {
            shipped.FILES: sorted([p[base:], r.oid, r.mode] for p, r in library.files.items())
        }
        docs = docs_of(state, spec)
        for section in sections_for(spec):
            sections[section.key(spec)] = section.build(docs)
        sections.update(_per_entry_sections(library))
        shipped.write(repo, tree, sections)
        out[name] = tree
    return out


def on_publish(repo: Repository, commit: str, libraries: Iterable[str]) -> list[str]:
    """Build the indexes of the given libraries' trees at a published commit; the refs to push.

    For publish and release: call it once the version tags are written, and push
    the returned refs with the tags (they are content-addressed: `+` refspecs are safe).
    """
    from ..store.states import TreeState

    built = build(repo, TreeState(repo, commit), tuple(libraries))
    return shipped.refs_for(repo, built.values())


def shipped_section(repo: Repository, spec: LibrarySpec, tree: str, section: Section) -> Any:
    """A verified, audited shipped section of a library tree, or None."""
    sections = shipped.read(repo, tree)
    if sections is None:
        return None
    value = sections.get(section.key(spec))
    if value is None:
        return None
    problem = _audit(repo, spec, sections[shipped.FILES], section, value)
    if problem:
        shipped.warn(f"{shipped.ref_name(tree)}: ignored ({problem}); building the index from the entries")
        shipped.reject(repo, tree)
        return None
    return value


def _audit(repo: Repository, spec: LibrarySpec, files: list[Any], section: Section, value: Any) -> str | None:
    """Re-derive a random sample of entries from their blobs; why the section is wrong, or None."""
    docs = _sample_docs(repo, spec, files)
    try:
        if section.kind == "near-trigrams":
            return _audit_near(value, docs, section.params)
        expected = section.build({i: d for i, d in docs.items() if d is not None})
        seen: Counter[str] = Counter()
        for key, rows in value.items():
            for row in rows:
                entry_id = row if isinstance(row, str) else row[0]
                if entry_id in docs:
                    seen[entry_id] += 1
                    if key not in expected or row not in expected[key]:
                        return f"{section.kind}: entry {entry_id} is not what its blob says"
        if sum(len(rows) for rows in expected.values()) != sum(seen.values()):
            return f"{section.kind}: entries missing"
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return f"{section.kind}: malformed"
    return None


def _sample_docs(repo: Repository, spec: LibrarySpec, files: list[Any]) -> dict[str, dict[str, Any] | None]:
    """{entry id: its entry, None if it does not parse} for a random sample of the files."""
    docs: dict[str, dict[str, Any] | None] = {}
    store = store_for(repo)
    for rel, oid, mode in random.sample(files, min(AUDIT_SAMPLE, len(files))):
        entry_id = spec.id_from_relative_path(rel)
        if entry_id is None:
            continue
        try:
            docs[entry_id] = store.parse_blob(repo, FileRef(f"{spec.path}/{rel}", oid, mode))
        except EntrySyntaxError:
            docs[entry_id] = None
    return docs


def _audit_near(value: Any, docs: dict[str, dict[str, Any] | None], fields: list[str]) -> str | None:
    index = NearIndex(value)
    positions = {index.id(p): p for p in range(len(index))}
    for entry_id, doc in docs.items():
        text = near_text(doc, fields) if doc is not None else ""
        position = positions.get(entry_id)
        if not text:
            if position is not None:
                return f"near-trigrams: entry {entry_id} has no text but is indexed"
            continue
        if position is None or index.text(position) != text:
            return f"near-trigrams: entry {entry_id} is not what its blob says"
        for gram in trigrams(text):
            posting = memoryview(index.grams.get(gram, b"")).cast("I")
            at = bisect.bisect_left(posting, position)
            if at >= len(posting) or posting[at] != position:
                return f"near-trigrams: entry {entry_id} is missing from the trigram postings"
    return None


def tree_changes(
    repo: Repository, old_tree: str, new_tree: str | None, spec: LibrarySpec, state: State
) -> list[tuple[str, dict[str, Any] | None]]:
    """(entry id, its entry at new_tree or None) for every entry that differs between two library trees."""
    out = []
    for change in repo.diff_trees(old_tree, new_tree):
        entry_id = spec.id_from_relative_path(change.path)
        if entry_id is None:
            continue
        doc = None
        if change.new_oid is not None and change.new_mode is not None:
            try:
                doc = parse_blob(
                    repo, state, FileRef(f"{spec.path}/{change.path}", change.new_oid, change.new_mode)
                )
            except EntrySyntaxError:
                doc = None
        out.append((entry_id, doc))
    return out
