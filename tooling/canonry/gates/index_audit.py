"""Reading a shipped index section: its form checked, then entries of the tree re-derived from their blobs.

A section read from an index object (derived.py, canonry.store.index) is used
only when its form is what its kind says (its JSON is untrusted data) and 32
random entries of the library tree itself, picked by position without listing
the folder, give the same rows: their keys under their ids in the tables, their
text and trigram postings in the near-duplicate index, their blocked-from
moments, their citations, their pattern rows. The same tree gets the same
sample for the rest of the process.
"""

from __future__ import annotations

import bisect
import random
from typing import Any

from ..errors import EntrySyntaxError
from ..store import index as shipped
from ..store.entries import store_for
from ..store.packed import PackedError
from ..store.registry import LibrarySpec
from ..store.repo import Repository
from ..store.states import FileRef
from .context import nfc_casefold
from .derived import Section, citations_of, conflict_index, exact_index, pattern_table
from .near import NearIndex, near_text, trigrams
from .thresholds import Thresholds

AUDIT_SAMPLE = 32  # entries of the tree re-derived from their blobs before a shipped section is used
_SAMPLES: dict[tuple[str, str], list[tuple[str, str, int]]] = {}


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
