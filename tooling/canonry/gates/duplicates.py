"""duplicates: exact and near duplicates of the draft's new or changed entries, against the whole library.

Exact: the library's `duplicates.exact` fields, each normalized (NFKC, case
folded, whitespace collapsed and stripped; non-strings as canonical JSON),
equal to another entry's. An error.

Near: the `duplicates.near.fields` text (NFKC, case folded, punctuation and
symbols as spaces, whitespace collapsed; several fields joined by a space)
with a similarity of at least `near.threshold` to another entry's: the ratio
of difflib.SequenceMatcher (autojunk off), or 1.0 when both have the same set
of words. A warning: a steward decides whether "steel rebars" and "steel
rebar" should both exist.

Cost: only the draft's changed entries are checked, each against an index of
the library. The index describes the merge-base (the state every draft of the
same main shares) and is cached by that library's tree id, in memory and in
the repository's cache; what the draft changed, and what main changed since
the draft began, is laid over it. Near duplicates use a character-trigram
inverted index with a prefix filter (only the rarest trigrams of an entry are
looked up, as many as a pair above the threshold must share one of), then a
length filter and a trigram count filter, so a similarity is computed only
for a handful of candidate pairs: the work grows with the draft, not with
the square of the library.

This module also holds what the content gates (conflicts, append-only,
scope) share: the libraries under every rule set in force, the draft's
changed entries parsed once, field positions, and the library as the draft
would land.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import json
import math
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..entries import Library, parse_blob, store_for
from ..errors import EntrySyntaxError
from ..registry import LibrarySpec
from ..repo import BLOB_MODE, Repository
from ..states import FileRef, State
from ..yamlio import Path, load_yaml_with_positions, position_of
from .engine import GateContext
from .findings import ERROR, WARNING, Finding

NAME = "duplicates"
INDEX_VERSION = "4"
MAX_REPORTED = 5  # other entries named per finding kind and entry
_MEMORY: dict[str, Any] = {}
_MEMORY_SIZE = 32


# --- shared by the content gates -------------------------------------------------------


def content_specs(ctx: GateContext) -> list[LibrarySpec]:
    """Each library as every rule set in force declares it (base, and the draft's when it changes them)."""
    out: list[LibrarySpec] = []
    for rules in ctx.rule_sets():
        registry = rules.registry
        if registry is None:
            continue
        for name in ctx.only_libraries or tuple(registry.names()):
            spec = registry.libraries.get(name)
            if spec is not None and spec not in out:
                out.append(spec)
    return out


@dataclass(frozen=True)
class ChangedEntry:
    """A new or changed entry of the draft that parses (the yaml gate reports those that don't)."""

    entry_id: str
    ref: FileRef
    doc: dict[str, Any]
    old: FileRef | None

    @property
    def path(self) -> str:
        return self.ref.path


def entry_id_of(spec: LibrarySpec, path: str) -> str | None:
    if not path.startswith(spec.path + "/"):
        return None
    return spec.id_from_relative_path(path[len(spec.path) + 1 :])


def changed_entries(ctx: GateContext, spec: LibrarySpec) -> list[ChangedEntry]:
    """The draft's new or changed, well-placed, parseable entries of a library, by path."""
    out = []
    for change in ctx.changed_entries(spec):
        new = change.new
        if new is None or new.mode != BLOB_MODE:
            continue
        entry_id = entry_id_of(spec, new.path)
        if entry_id is None:
            continue  # the identity gate reports misplaced files
        try:
            doc = parse_blob(ctx.repo, ctx.head, new)
        except EntrySyntaxError:
            continue
        out.append(ChangedEntry(entry_id, new, doc, change.old))
    return out


class Positions:
    """Line and column of nodes in a state's blobs, parsed only for entries that have findings."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._cache: dict[str, dict[Path, tuple[int, int]]] = {}

    def of(self, ref: FileRef, path: Path) -> tuple[int | None, int | None]:
        positions = self._cache.get(ref.oid)
        if positions is None:
            try:
                _, positions = load_yaml_with_positions(self.state.read(ref), ref.path)
            except EntrySyntaxError:
                positions = {}
            self._cache[ref.oid] = positions
        return position_of(positions, path) or (None, None)


@dataclass
class Landing:
    """A library as the draft would land: an index of the merge-base, plus what is newer than it.

    `fresh` holds the draft's versions and those main gained since the draft
    began (ids the draft did not touch); `stale` the ids whose indexed version
    no longer stands (changed or deleted on either side).
    """

    spec: LibrarySpec
    index_state: State
    changed: list[ChangedEntry]
    fresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    on_main: set[str] = field(default_factory=set)

    def describe(self, ctx: GateContext, entry_id: str) -> str:
        """`<id> (<title>)`, saying so when main gained it since the draft began."""
        doc: Any = self.fresh.get(entry_id)
        if doc is None:
            library = _library(ctx, self.spec)
            _ = library.index  # one listing (the engine counts entries with it anyway), no path lookups
            try:
                doc = library[entry_id]
            except (KeyError, EntrySyntaxError):
                doc = {"id": entry_id}
        text = f"{entry_id} ({self.spec.summary(doc)})"
        return text + (", on main since this draft began" if entry_id in self.on_main else "")


def landing(ctx: GateContext, spec: LibrarySpec) -> Landing:
    changed = changed_entries(ctx, spec)
    out = Landing(spec, ctx.base or ctx.head, changed)
    touched: set[str] = set()
    for change in ctx.changed_entries(spec):
        for ref in (change.old, change.new):
            entry_id = entry_id_of(spec, ref.path) if ref is not None else None
            if entry_id is not None:
                touched.add(entry_id)
    out.stale |= touched
    for entry in changed:
        out.fresh[entry.entry_id] = entry.doc
    tip = ctx.options.get("base_tip")
    if isinstance(tip, State) and ctx.base is not None and tip.commit != ctx.base.commit:
        for entry_id, doc in _main_changes(ctx.repo, ctx.base, tip, spec):
            if entry_id in touched:
                continue  # the draft's version stands (the conflicts gate compares them)
            out.stale.add(entry_id)
            if doc is not None:
                out.fresh[entry_id] = doc
                out.on_main.add(entry_id)
    return out


def _main_changes(
    repo: Repository, base: State, tip: State, spec: LibrarySpec
) -> Iterable[tuple[str, dict[str, Any] | None]]:
    old_tree, new_tree = base.tree_id(spec.path), tip.tree_id(spec.path)
    if old_tree == new_tree:
        return
    for change in repo.diff_trees(old_tree, new_tree):
        entry_id = spec.id_from_relative_path(change.path)
        if entry_id is None:
            continue
        doc = None
        if change.new_oid is not None and change.new_mode == BLOB_MODE:
            path = f"{spec.path}/{change.path}"
            try:
                doc = parse_blob(repo, tip, FileRef(path, change.new_oid, change.new_mode))
            except EntrySyntaxError:
                doc = None
        yield entry_id, doc


def _library(ctx: GateContext, spec: LibrarySpec) -> Library:
    base_spec = ctx.rules.registry.libraries.get(spec.name) if ctx.rules.registry else None
    return ctx.head_library(spec) if base_spec == spec else Library(ctx.head, spec)


def cached_index(
    repo: Repository,
    state: State,
    spec: LibrarySpec,
    kind: str,
    params: Any,
    build: Callable[[dict[str, dict[str, Any]]], Any],
) -> Any:
    """build({id: entry}) over a library at a state, cached by the library's tree id.

    The value must be marshal-able (it is kept in the repository's cache).
    """
    tree = state.tree_id(spec.path)
    if tree is None:
        return build(_docs(state, spec)) if state.files(spec.path) else build({})
    key = f"{kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(params)}:{tree}"
    memory_key = f"{repo.git_dir}\0{key}"
    value = _MEMORY.get(memory_key)
    if value is None:
        store = store_for(repo)
        value = store.get_result(key)
        if value is None:
            value = build(_docs(state, spec))
            store.put_result(key, value)
        _remember(memory_key, value)
    return value


def keyed_lookup(
    repo: Repository,
    state: State,
    spec: LibrarySpec,
    kind: str,
    params: Any,
    build: Callable[[dict[str, dict[str, Any]]], dict[str, Any]],
    keys: Iterable[str],
) -> dict[str, Any]:
    """{key: value} for the wanted keys of a keyed index build({id: entry}) of a library at a state.

    The index is built once per library tree id and kept row by row in the
    repository's cache, so a lookup reads the draft's keys, not the whole index.
    """
    wanted = sorted(set(keys))
    tree = state.tree_id(spec.path)
    if tree is None:
        everything = build(_docs(state, spec)) if state.files(spec.path) else {}
        return {k: everything[k] for k in wanted if k in everything}
    prefix = f"{kind}/{INDEX_VERSION}:{spec.path}:{spec.layout}:{json.dumps(params)}:{tree}"
    memory_key = f"{repo.git_dir}\0{prefix}"
    full = _MEMORY.get(memory_key)
    if full is None:
        store = store_for(repo)
        if store.get_result(prefix + "#built") is not None:
            rows = store.get_results([f"{prefix}={k}" for k in wanted])
            return {k: rows[f"{prefix}={k}"] for k in wanted if f"{prefix}={k}" in rows}
        full = build(_docs(state, spec))
        # the marker goes last: an interrupted write leaves an index that is rebuilt
        store.put_results([(f"{prefix}={k}", v) for k, v in full.items()] + [(prefix + "#built", 1)])
        _remember(memory_key, full)
    return {k: full[k] for k in wanted if k in full}


def _remember(key: str, value: Any) -> None:
    if len(_MEMORY) >= _MEMORY_SIZE:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = value


def _docs(state: State, spec: LibrarySpec) -> dict[str, dict[str, Any]]:
    parsed = Library(state, spec).parse_all()
    return {eid: doc for eid, doc in parsed.items() if isinstance(doc, dict)}


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


# --- the gate ------------------------------------------------------------------------


def check(ctx: GateContext) -> list[Finding]:
    out: list[Finding] = []
    positions = Positions(ctx.head)
    for spec in content_specs(ctx):
        dup = spec.duplicates
        if not dup.exact and not dup.near_fields:
            continue
        land = landing(ctx, spec)
        if not land.changed:
            continue
        exact = _exact(ctx, land, positions) if dup.exact else {}
        for found in exact.values():
            out.extend(found.values())
        if dup.near_fields:
            out.extend(_near(ctx, land, positions, exact))
    return out


def _exact(ctx: GateContext, land: Landing, positions: Positions) -> dict[str, dict[str, Finding]]:
    """{changed entry id: {duplicate's id: finding}}."""
    spec = land.spec
    fields = list(spec.duplicates.exact)

    def build(docs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for entry_id in sorted(docs):
            key = key_of(docs[entry_id], fields)
            if key is not None:
                index.setdefault(key, []).append(entry_id)
        return index

    mine = {e.entry_id: key_of(e.doc, fields) for e in land.changed}
    wanted = [k for k in mine.values() if k is not None]
    index = keyed_lookup(ctx.repo, land.index_state, spec, "exact-keys", fields, build, wanted)
    fresh = build(land.fresh)
    out: dict[str, dict[str, Finding]] = {}
    for entry in land.changed:
        key = mine[entry.entry_id]
        if key is None:
            continue
        others = [i for i in index.get(key, ()) if i not in land.stale] + fresh.get(key, [])
        others = sorted(set(others) - {entry.entry_id})
        if not others:
            continue
        line, column = positions.of(entry.ref, (fields[0],))
        out[entry.entry_id] = {
            other: Finding(
                entry.path,
                line,
                column,
                NAME,
                ERROR,
                f"exact duplicate of {land.describe(ctx, other)}: same {', '.join(fields)}"
                " (after case folding, NFKC and whitespace)",
                spec.name,
                entry.entry_id,
            )
            for other in others[:MAX_REPORTED]
        }
    return out


def _near(
    ctx: GateContext, land: Landing, positions: Positions, exact: dict[str, dict[str, Finding]]
) -> list[Finding]:
    spec = land.spec
    fields = list(spec.duplicates.near_fields)
    threshold = spec.duplicates.near_threshold

    def build(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return NearIndex.build({i: t for i, d in docs.items() if (t := near_text(d, fields))})

    base = NearIndex(cached_index(ctx.repo, land.index_state, spec, "near-trigrams", fields, build))
    fresh = NearIndex(build(land.fresh))
    out: list[Finding] = []
    compared = 0
    for entry in land.changed:
        text = near_text(entry.doc, fields)
        if not text:
            continue
        already = {entry.entry_id, *exact.get(entry.entry_id, {})}
        matches: dict[str, float] = {}
        for index, excluded in ((base, already | land.stale), (fresh, already)):
            for other, score in index.similar(text, threshold, excluded):
                matches[other] = max(score, matches.get(other, 0.0))
            compared += index.last_compared
        ranked = sorted(matches.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            continue
        line, column = positions.of(entry.ref, (fields[0],))
        for other, score in ranked[:MAX_REPORTED]:
            message = (
                f"near duplicate of {land.describe(ctx, other)}: {', '.join(fields)}"
                f" similarity {math.floor(score * 100) / 100:.2f} (threshold {threshold:g})"
            )
            out.append(Finding(entry.path, line, column, NAME, WARNING, message, spec.name, entry.entry_id))
    ctx.metrics["near_duplicate_comparisons"] = ctx.metrics.get("near_duplicate_comparisons", 0) + compared
    return out


# --- near duplicates -----------------------------------------------------------------


def normalize_text(value: str) -> str:
    """The matching form of text: NFKC, case folded, punctuation and symbols as spaces."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    chars = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded]
    return " ".join("".join(chars).split())


def near_text(doc: dict[str, Any], fields: Iterable[str]) -> str:
    parts = [normalize_text(v) for f in fields if isinstance(v := doc.get(f), str)]
    return " ".join(p for p in parts if p)


def trigrams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def word_set(text: str) -> str:
    return " ".join(sorted(set(text.split())))


def similarity(a: str, b: str) -> float:
    """1.0 for the same set of words, else difflib's ratio (autojunk off)."""
    if word_set(a) == word_set(b):
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class NearIndex:
    """Texts by position (ordered by length), a trigram -> positions inverted index, word sets -> positions.

    Positions run in order of text length, so the part of a posting list within a
    length window is one slice, found by bisection. Everything is kept in a few
    strings and byte arrays, so a cached index of 100,000 texts loads in milliseconds.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self._ids: str = data["ids"]
        self._texts: str = data["texts"]
        self._id_at = _ints("I", data["id_offsets"])
        self._text_at = _ints("I", data["text_offsets"])
        self.lengths = _ints("I", data["lengths"])
        self.sizes = _ints("I", data["sizes"])
        self.grams: dict[str, bytes] = data["grams"]
        self._word_hashes = _ints("Q", data["word_hashes"])
        self._word_positions = _ints("I", data["word_positions"])
        self.last_compared = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def id(self, position: int) -> str:
        return self._ids[self._id_at[position] : self._id_at[position + 1] - 1]

    def text(self, position: int) -> str:
        return self._texts[self._text_at[position] : self._text_at[position + 1] - 1]

    @staticmethod
    def build(texts: dict[str, str]) -> dict[str, Any]:
        """The marshal-able form of an index over {id: normalized text} (no newlines in either)."""
        ids = sorted(texts, key=lambda i: (len(texts[i]), i))
        ordered = [texts[i] for i in ids]
        postings: dict[str, array[int]] = {}
        words: list[tuple[int, int]] = []
        sizes = array("I")
        for position, text in enumerate(ordered):
            grams = trigrams(text)
            sizes.append(len(grams))
            for gram in grams:
                got = postings.get(gram)
                if got is None:
                    got = postings[gram] = array("I")
                got.append(position)
            words.append((_word_hash(word_set(text)), position))
        words.sort()
        return {
            "ids": "\n".join(ids) + "\n",
            "id_offsets": _offsets(ids),
            "texts": "\n".join(ordered) + "\n",
            "text_offsets": _offsets(ordered),
            "lengths": array("I", (len(t) for t in ordered)).tobytes(),
            "sizes": sizes.tobytes(),
            "grams": {g: p.tobytes() for g, p in sorted(postings.items())},
            "word_hashes": array("Q", (h for h, _ in words)).tobytes(),
            "word_positions": array("I", (p for _, p in words)).tobytes(),
        }

    def same_words(self, text: str) -> list[int]:
        """Positions of the texts made of the same set of words as text."""
        key = word_set(text)
        h = _word_hash(key)
        out = []
        i = bisect.bisect_left(self._word_hashes, h)
        while i < len(self._word_hashes) and self._word_hashes[i] == h:
            position = self._word_positions[i]
            if word_set(self.text(position)) == key:
                out.append(position)
            i += 1
        return out

    def similar(self, text: str, threshold: float, excluded: set[str]) -> list[tuple[str, float]]:
        """(id, similarity) of the indexed texts at least threshold similar to text.

        Exact for similarity() above: the filters only drop pairs that cannot reach the threshold.
        """
        self.last_compared = 0
        if not len(self):
            return []
        t = max(threshold, 1e-9)
        grams = trigrams(text)
        n, g = len(text), len(grams)
        # The ratio is at most 2 min(n, m) / (n + m): a length window. Within it, a pair at
        # or above the threshold differs by at most (1 - t)(n + m) insertions and deletions
        # (difflib's matches are a common subsequence), and each breaks at most 3 trigrams
        # of either text: a text of length m and `size` trigrams shares at least
        # need[m] + max(0, size - g) of text's trigrams.
        low, high = math.ceil(n * t / (2 - t) - 1e-9), math.floor(n * (2 - t) / t + 1e-9)
        breaks = [3 * math.floor((1 - t) * (n + m) + 1e-9) for m in range(high + 1)]
        need = [g - b for b in breaks]
        start, stop = bisect.bisect_left(self.lengths, low), bisect.bisect_right(self.lengths, high)
        candidates: Iterable[int]
        if need[high] > 0:  # count shared trigrams per text within the window, in C
            shared: Counter[int] = Counter()
            for gram in grams:
                posting = self.grams.get(gram)
                if posting:
                    view = memoryview(posting).cast("I")
                    shared.update(view[bisect.bisect_left(view, start) : bisect.bisect_left(view, stop)])
            lengths, sizes = self.lengths, self.sizes
            candidates = [
                p for p, c in shared.items() if c >= need[m := lengths[p]] and c + breaks[m] >= sizes[p]
            ]
        else:  # a short text and a low threshold: trigrams prove nothing, take the whole window
            candidates = range(start, stop)
        same_words = set(self.same_words(text))
        out = [(self.id(p), 1.0) for p in same_words if self.id(p) not in excluded]
        for position in candidates:
            if position in same_words or (entry_id := self.id(position)) in excluded:
                continue
            matcher = difflib.SequenceMatcher(None, text, self.text(position), autojunk=False)
            self.last_compared += 1
            if matcher.quick_ratio() >= threshold and (score := matcher.ratio()) >= threshold:
                out.append((entry_id, score))
        return sorted(out)


def _ints(kind: str, data: bytes) -> array[int]:
    out = array(kind)
    out.frombytes(data)
    return out


def _offsets(items: list[str]) -> bytes:
    """Start offsets of items joined by one separator each, and the end."""
    out = array("I", [0])
    for item in items:
        out.append(out[-1] + len(item) + 1)
    return out.tobytes()


def _word_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
