"""The indexes the gates derive from a library tree: what they hold, built and shipped in git.

Each section is a function of one library tree, the library's spec and (for
confidence) the policy: exact keys (duplicates), the near-duplicate trigram
index, conflict keys, citation counts (evidence), confidence thresholds, the
matcher's pattern rows (holdout) and the folder's listing (identity, entry
counts). Sections are bytes that open
without decoding the whole value (canonry.store.packed): a gate that needs 150
keys of a 100,000-entry library reads 150 rows. They are cached locally by tree
id (content.py) and shipped as one object per tree (canonry.store.index,
docs/index-format.md). A shipped section is used only after the store checked
the object (key, version, digests) and index_audit.py checked its form and
re-derived a random sample of the tree's own entries from their blobs.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..store import index as shipped
from ..store.entries import Library
from ..store.packed import KeyedTable
from ..store.registry import ConfidencePolicy, LibrarySpec
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import State
from .context import nfc_casefold
from .near import NearIndex, near_text
from .thresholds import Thresholds

INDEX_VERSION = "6"


def normalize_key(value: Any) -> str:
    """A key field's matching form: NFKC, case folded, whitespace collapsed; others as JSON."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def key_of(doc: Mapping[str, Any], fields: Iterable[str]) -> str | None:
    """The normalized key of an entry, or None when it has none of the key fields."""
    values = [doc.get(f) for f in fields]
    if all(v is None for v in values):
        return None
    return "\x1f".join(normalize_key(v) for v in values)


def conflict_values(doc: Mapping[str, Any], fields: Iterable[str]) -> str:
    return json.dumps([doc.get(f) for f in fields], sort_keys=True, ensure_ascii=False)


# --- what a section holds, as plain values (also laid over an index for newer entries) ----


def exact_index(docs: Mapping[str, Mapping[str, Any]], fields: list[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for entry_id in sorted(docs):
        key = key_of(docs[entry_id], fields)
        if key is not None:
            index.setdefault(key, []).append(entry_id)
    return index


def conflict_index(docs: Mapping[str, Mapping[str, Any]], params: list[Any]) -> dict[str, list[list[str]]]:
    keys, values = params
    index: dict[str, list[list[str]]] = {}
    for entry_id in sorted(docs):
        key = key_of(docs[entry_id], keys)
        if key is not None:
            index.setdefault(key, []).append([entry_id, conflict_values(docs[entry_id], values)])
    return index


def near_index(docs: Mapping[str, Mapping[str, Any]], fields: list[str]) -> bytes:
    return NearIndex.build({i: t for i, d in docs.items() if (t := near_text(d, fields))})


def citations_of(doc: Mapping[str, Any]) -> list[str]:
    """The distinct override ids an entry cites, sorted."""
    from ..learning import override_ids_of

    return sorted(set(override_ids_of(doc)))


def cited_tally(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """{override id: how many entries cite it}."""
    tally: Counter[str] = Counter()
    for doc in docs.values():
        tally.update(citations_of(doc))
    return dict(sorted(tally.items()))


def listing(paths: Iterable[str], spec: LibrarySpec) -> dict[str, Any]:
    """The folder's files: how many, how many are entries, and those whose name case folding changes."""
    paths = list(paths)
    odd = sorted(p for p in paths if nfc_casefold(f"{spec.path}/{p}") != f"{spec.path}/{p}")
    entries = sum(1 for p in paths if spec.id_from_relative_path(p) is not None)
    return {"files": len(paths), "entries": entries, "odd": odd}


# --- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What a section is built from: the library's parsed entries and its files' relative paths."""

    docs: dict[str, dict[str, Any]]
    paths: list[str]


@dataclass(frozen=True)
class Section:
    kind: str
    params: Any
    make: Callable[[Source], bytes]
    open: Callable[[bytes], Any]

    def key(self, spec: LibrarySpec) -> str:
        """The section's name: what it is and what it depends on besides the tree."""
        return f"{self.kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(self.params)}"


def _table(build: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Callable[[Source], bytes]:
    return lambda src: KeyedTable.encode(build(src.docs))


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def exact_section(spec: LibrarySpec) -> Section:
    fields = list(spec.duplicates.exact)
    return Section("exact-keys", fields, _table(lambda d: exact_index(d, fields)), KeyedTable)


def near_section(spec: LibrarySpec) -> Section:
    fields = list(spec.duplicates.near_fields)
    return Section("near-trigrams", fields, lambda src: near_index(src.docs, fields), NearIndex)


def conflict_section(spec: LibrarySpec) -> Section:
    assert spec.conflicts is not None
    params = [list(spec.conflicts.key), list(spec.conflicts.values)]
    return Section("conflict-keys", params, _table(lambda d: conflict_index(d, params)), KeyedTable)


def rows_section(spec: LibrarySpec) -> Section:
    """The matcher's pattern table of a library a holdout set examines: {entry id: row}."""
    return Section("pattern-rows", [], lambda src: _json(pattern_table(src.docs)), json.loads)


def pattern_table(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    from ..learning.matching import row_of

    return {i: list(row) for i in sorted(docs) if (row := row_of(i, docs[i])) is not None}


def tally_section() -> Section:
    return Section("cited-tally", [], lambda src: _json(cited_tally(src.docs)), json.loads)


def listing_section(spec: LibrarySpec) -> Section:
    return Section("listing", [], lambda src: _json(listing(src.paths, spec)), json.loads)


def thresholds_section(spec: LibrarySpec, policy: ConfidencePolicy) -> Section:
    field = spec.confidence_field or "confidence"
    params = Thresholds.params(policy, field)
    return Section(
        "confidence-thresholds",
        params,
        lambda src: Thresholds.build(src.docs, policy, field),
        Thresholds,
    )


def sections_for(spec: LibrarySpec, policy: ConfidencePolicy | None = None) -> list[Section]:
    """Every section built for a library (by its spec and the library's confidence policy)."""
    out = [listing_section(spec), tally_section()]
    if spec.duplicates.exact:
        out.append(exact_section(spec))
    if spec.duplicates.near_fields:
        out.append(near_section(spec))
    if spec.conflicts is not None:
        out.append(conflict_section(spec))
    if spec.confidence_field is not None and policy is not None:
        out.append(thresholds_section(spec, policy))
    if spec.holdout is not None:
        out.append(rows_section(spec))
    return out


def source_of(state: State, spec: LibrarySpec) -> Source:
    """Every entry of a library at a state, parsed (the slow path a shipped index saves)."""
    parsed = Library(state, spec).parse_all()
    base = len(spec.path) + 1
    paths = [p[base:] for p in state.files(spec.path)]
    return Source({eid: doc for eid, doc in parsed.items() if isinstance(doc, dict)}, paths)


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
        src = source_of(state, spec)
        sections = {s.key(spec): s.make(src) for s in sections_for(spec, registry.policy.confidence)}
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


def has_section(repo: Repository, spec: LibrarySpec, tree: str, section: Section) -> bool:
    opened = shipped.read(repo, tree)
    return opened is not None and section.key(spec) in opened
