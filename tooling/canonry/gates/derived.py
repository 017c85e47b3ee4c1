"""The indexes the gates derive from a library tree: built, shipped in git, audited.

Each section is a function of one library tree, the library's spec and (for
confidence) the policy: exact keys (duplicates), the near-duplicate trigram
index, conflict keys, citation counts (evidence), confidence thresholds and the
folder's listing (identity, entry counts). Sections are bytes that open
without decoding the whole value (canonry.store.packed): a gate that needs 150
keys of a 100,000-entry library reads 150 rows. They are cached locally by tree
id (content.py) and shipped as one object per tree (canonry.store.index,
docs/index-format.md). A shipped section is used only after the store checked
the object (key, version, digests) and `audit` re-derived a random sample of
the tree's own entries from their blobs.
"""

from __future__ import annotations

import bisect
import json
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import EntrySyntaxError
from ..store import index as shipped
from ..store.entries import Library, store_for
from ..store.packed import KeyedTable, PackedError
from ..store.registry import ConfidencePolicy, LibrarySpec
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import FileRef, State
from .context import nfc_casefold
from .near import NearIndex, near_text, trigrams
from .thresholds import Thresholds

INDEX_VERSION = "6"
AUDIT_SAMPLE = 32  # entries of the tree re-derived from their blobs before a shipped section is used
_SAMPLES: dict[tuple[str, str], list[tuple[str, str, int]]] = {}


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


def shipped_section(repo: Repository, spec: LibrarySpec, tree: str, section: Section) -> bytes | None:
    """The bytes of a verified, audited shipped section of a library tree, or None."""
    opened = shipped.read(repo, tree)
    if opened is None:
        return None
    name = section.key(spec)
    try:
        raw = opened.section(name)
        if raw is None:
            return None
        problem = audit(repo, spec, tree, section, section.open(raw))
    except shipped.IndexProblem as exc:
        problem = str(exc)
    except PackedError as exc:
        problem = f"{section.kind}: {exc}"
    if problem:
        shipped.warn(f"{shipped.ref_name(tree)}: ignored ({problem}); building the index from the entries")
        shipped.reject(repo, tree)
        return None
    return raw


def has_section(repo: Repository, spec: LibrarySpec, tree: str, section: Section) -> bool:
    opened = shipped.read(repo, tree)
    return opened is not None and section.key(spec) in opened


# --- the audit ----------------------------------------------------------------------------


def audit(repo: Repository, spec: LibrarySpec, tree: str, section: Section, value: Any) -> str | None:
    """Re-derive a random sample of the tree's entries from their blobs; why the section is wrong, or None."""
    shape = _shape_problem(section, value)
    if shape:
        return f"{section.kind}: {shape}"
    sample = sample_files(repo, tree, AUDIT_SAMPLE)
    docs = _parse_sample(repo, spec, sample)
    present = {i: d for i, d in docs.items() if d is not None}
    try:
        if section.kind == "near-trigrams":
            return _audit_near(value, docs, section.params)
        if section.kind == "listing":
            odd = set(value["odd"])
            for rel, _, _ in sample:
                if (rel in odd) != (nfc_casefold(f"{spec.path}/{rel}") != f"{spec.path}/{rel}"):
                    return f"listing: {rel} is not what the tree says"
            return None
        if section.kind == "pattern-rows":
            table = pattern_table(present)
            if any(value.get(i) != table.get(i) for i in docs):
                return "pattern-rows: an entry is not what its blob says"
            return None
        if section.kind == "cited-tally":
            for doc in present.values():
                if any(value.get(i, 0) < 1 for i in citations_of(doc)):
                    return "cited-tally: a citation is missing"
            return None
        if section.kind == "confidence-thresholds":
            return value.audit(present)
        expected = (
            exact_index(present, section.params)
            if section.kind == "exact-keys"
            else conflict_index(present, section.params)
        )
        for key, rows in expected.items():
            indexed = value.get(key) or []
            if any(row not in indexed for row in rows):
                return f"{section.kind}: an entry is not what its blob says"
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, PackedError):
        return f"{section.kind}: malformed"
    return None


def _shape_problem(section: Section, value: Any) -> str | None:
    """What is wrong with the form of an opened section (its JSON sections are untrusted data)."""
    kind = section.kind
    if kind == "listing":
        if not (
            isinstance(value, dict)
            and all(type(value.get(k)) is int and value[k] >= 0 for k in ("files", "entries"))
            and isinstance(value.get("odd"), list)
            and all(isinstance(p, str) for p in value["odd"])
        ):
            return "not a listing"
    elif kind == "cited-tally":
        if not (isinstance(value, dict) and all(type(n) is int and n > 0 for n in value.values())):
            return "not a tally"
    elif kind == "pattern-rows":
        if not (isinstance(value, dict) and all(_is_row(i, r) for i, r in value.items())):
            return "not a pattern table"
    elif kind == "confidence-thresholds" and Thresholds.params(value.policy, value.field) != section.params:
        return "made for another policy than its name says"
    return None


def _is_row(entry_id: str, row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 5
        and row[0] == entry_id
        and all(isinstance(row[k], str) for k in (1, 2, 4))
        and type(row[3]) in (int, float)
    )


def sample_files(repo: Repository, tree: str, count: int) -> list[tuple[str, str, int]]:
    """Up to count random (relative path, blob id, mode) files of a tree, picked without listing it.

    Items are picked by position (a flat folder), descending into a random item of a
    picked folder (a sharded one). The same tree gets the same sample for the rest
    of the process, so every section of it is checked against one set of parses.
    """
    key = (str(repo.git_dir), tree)
    if key in _SAMPLES:
        return _SAMPLES[key]
    rng = random.Random()
    out: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    top = repo.tree_size(tree)
    starts = list(range(top)) if top <= count else [rng.randrange(top) for _ in range(count * 2)]
    for start in starts:
        if len(out) >= count:
            break
        path, node, position = "", tree, start
        for _depth in range(4):
            size = repo.tree_size(node)
            if not size:
                break
            item = repo.tree_item(node, position if node == tree else rng.randrange(size))
            if item.is_tree:
                path, node = f"{path}{item.name}/", item.oid
                continue
            if path + item.name not in seen:
                seen.add(path + item.name)
                out.append((path + item.name, item.oid, item.mode))
            break
    if len(_SAMPLES) >= 16:
        _SAMPLES.pop(next(iter(_SAMPLES)))
    _SAMPLES[key] = out
    return out


def _parse_sample(
    repo: Repository, spec: LibrarySpec, sample: list[tuple[str, str, int]]
) -> dict[str, dict[str, Any] | None]:
    docs: dict[str, dict[str, Any] | None] = {}
    store = store_for(repo)
    for rel, oid, mode in sample:
        entry_id = spec.id_from_relative_path(rel)
        if entry_id is None:
            continue
        try:
            docs[entry_id] = store.parse_blob(repo, FileRef(f"{spec.path}/{rel}", oid, mode))
        except EntrySyntaxError:
            docs[entry_id] = None
    return docs


def _audit_near(value: Any, docs: dict[str, dict[str, Any] | None], fields: list[str]) -> str | None:
    index: NearIndex = value
    for entry_id, doc in docs.items():
        text = near_text(doc, fields) if doc is not None else ""
        position = index.position_of(entry_id, text)
        if not text:
            if position is not None:
                return f"near-trigrams: entry {entry_id} has no text but is indexed"
            continue
        if position is None:
            return f"near-trigrams: entry {entry_id} is not what its blob says"
        for gram in trigrams(text):
            posting = index.posting(gram)
            at = bisect.bisect_left(posting, position)
            if at >= len(posting) or posting[at] != position:
                return f"near-trigrams: entry {entry_id} is missing from the trigram postings"
    return None
