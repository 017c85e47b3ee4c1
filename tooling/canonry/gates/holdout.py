"""holdout: the draft must not make the library worse on its holdout set.

For every library that declares `holdout` in the base's libraries.yaml, the
evaluator runs on the base tip and on the head with the same cases; the gate
passes when `head >= base + min_delta` and `head >= threshold`. The holdout set
itself is read from the base, so a draft cannot edit its own exam: a draft that
changes a holdout file together with entries of the library it examines is
refused; a draft that changes only the holdout file is measured with the base's
set, its new set is checked for shape and leakage, and a warning says that it
applies from the next draft on.

Leakage is an error: a new or changed entry whose text fields equal a holdout
text (after normalization) or are a near copy of one (the near-duplicate gate's
normalization, similarity and threshold: `leak_finder`), or that cites an
override whose text is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import HoldoutError
from ..learning import override_ids_of, override_texts
from ..learning.evaluators import (
    Comparison,
    HoldoutCase,
    HoldoutSet,
    compare,
    describe_case,
    read_holdout,
)
from ..learning.matching import read_entries
from ..store.entries import Library
from ..store.registry import LibrarySpec, Registry
from ..store.states import State
from ..store.text import normalize_text
from .context import GateContext
from .findings import ERROR, WARNING, Finding
from .holdout_measure import evaluate_cached, seed_rows_from_index
from .near import NearIndex

NAME = "holdout"
OVERRIDES = "overrides"
MAX_LISTED = 50
DEFAULT_THRESHOLD = 0.9  # when the examined library declares no near-duplicate threshold


class LeakFinder:
    """Holdout texts a text equals or nearly copies, through the near-duplicate gate's similarity index."""

    def __init__(self, holdout: HoldoutSet, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.holdout = holdout
        self.threshold = threshold
        self._cases = {c.normalized: c for c in holdout.cases}
        self._by_position = list(holdout.cases)
        self._index = NearIndex(NearIndex.build({str(i): c.normalized for i, c in enumerate(holdout.cases)}))

    def find(self, text: str) -> tuple[HoldoutCase, float] | None:
        """(case, similarity) of the holdout case the text copies (1.0: the same text), or None."""
        norm = normalize_text(text)
        if not norm:
            return None
        exact = self._cases.get(norm)
        if exact is not None:
            return exact, 1.0
        hits = self._index.similar(norm, self.threshold, set())
        if not hits:
            return None
        position, score = max(hits, key=lambda h: (h[1], -int(h[0])))
        return self._by_position[int(position)], score

    def describe(self, text: str, exact: str = "the text of ") -> str | None:
        """'<exact>holdout case at PATH:LINE', or 'a near copy (similarity S, ...) of ...', or None."""
        found = self.find(text)
        if found is None:
            return None
        case, score = found
        where = f"holdout case at {self.holdout.path}:{case.line}"
        if score >= 1.0 and normalize_text(text) == case.normalized:
            return exact + where
        return f"a near copy (similarity {score:.2f}, threshold {self.threshold:g}) of {where}: {case.text!r}"


_FINDERS: dict[tuple[str, float, int], LeakFinder] = {}


def leak_finder(holdout: HoldoutSet, spec: LibrarySpec | None = None) -> LeakFinder:
    """The leak finder of a holdout set at the examined library's near-duplicate threshold (memoized)."""
    threshold = DEFAULT_THRESHOLD
    if spec is not None and spec.duplicates.near_fields:
        threshold = spec.duplicates.near_threshold
    key = (holdout.path, threshold, hash(holdout.cases))
    finder = _FINDERS.get(key)
    if finder is None:
        if len(_FINDERS) > 8:
            _FINDERS.clear()
        finder = _FINDERS[key] = LeakFinder(holdout, threshold)
    return finder


def check(ctx: GateContext) -> list[Finding]:
    base = ctx.options.base_tip or ctx.base
    out: list[Finding] = []
    for spec in ctx.specs():
        if spec.holdout is not None:
            out.extend(_check_library(ctx, spec, base))
    return out


def _blob(state: State, path: str) -> str | None:
    ref = state.files(path.rsplit("/", 1)[0]).get(path)
    return ref.oid if ref else None


def _finding(
    spec: LibrarySpec,
    path: str,
    *,
    severity: str,
    message: str,
    line: int | None = None,
    entry_id: str | None = None,
) -> Finding:
    """Build a holdout finding about a file (or entry) of spec's library."""
    return Finding(
        path=path,
        line=line,
        gate=NAME,
        severity=severity,
        message=message,
        library=spec.name,
        entry_id=entry_id,
    )


def _check_library(ctx: GateContext, spec: LibrarySpec, base: State | None) -> list[Finding]:
    assert spec.holdout is not None
    path = spec.holdout.data
    exam_state = base if base is not None else ctx.head

    def finding(message: str, severity: str = ERROR, line: int | None = None, where: str = path) -> Finding:
        return _finding(spec, where, severity=severity, message=message, line=line)

    holdout = read_holdout(exam_state, path)
    if holdout is None:  # nothing to measure with yet; a set arriving with this draft is checked
        missing = finding(f"no holdout set at {exam_state.label}: nothing measured", WARNING)
        return [missing, *_holdout_changes(ctx, spec, base, HoldoutSet(path, ()))]
    out = [finding(problem, line=line) for line, problem in holdout.problems]
    if out:
        return out  # a broken exam measures nothing

    out.extend(_holdout_changes(ctx, spec, base, holdout))
    if not holdout.cases:  # a new repository's empty set: nothing to measure yet
        return [
            *out,
            finding(f"the holdout set at {exam_state.label} has no cases: nothing measured", WARNING),
        ]
    out.extend(_leaks(ctx, spec, holdout))

    head_lib = ctx.head_library(spec)
    base_lib = Library(base, spec) if base is not None else None
    if base_lib is not None:
        seed_rows_from_index(ctx, spec, base_lib)
    exam = _blob(exam_state, path)
    try:
        # the base first: the head's patterns are then derived from its through a tree diff
        base_eval = evaluate_cached(ctx, spec, base_lib, holdout, exam) if base_lib is not None else None
        if base_eval is not None and base_lib is not None and base_lib.tree == head_lib.tree is not None:
            head_eval = base_eval
        else:
            head_eval = evaluate_cached(ctx, spec, head_lib, holdout, exam)
    except HoldoutError as exc:
        return [*out, finding(f"{exc.problem}: the holdout gate cannot measure this draft")]
    comparison = compare(holdout.cases, base_eval, head_eval)
    ctx.metrics.setdefault("holdout", {})[spec.name] = comparison.to_metrics()
    out.extend(_verdict(spec, comparison, path))
    return out


def _verdict(spec: LibrarySpec, c: Comparison, path: str) -> list[Finding]:
    assert spec.holdout is not None
    min_delta, threshold = spec.holdout.min_delta, spec.holdout.threshold
    ok = c.passes(min_delta, threshold)
    severity = WARNING if ok else ERROR
    out: list[Finding] = []
    if not ok:
        flips = (
            f"{len(c.flipped_to_wrong)} cases flipped to wrong, {len(c.flipped_to_correct)} to correct;"
            f" exact McNemar p = {c.p_value:.4g}"
        )
        if c.value < threshold - 1e-12:
            reason = f"below the threshold {threshold:g}"
        else:
            reason = f"below the base's {c.baseline:.4f} + min_delta {min_delta:g} (delta {c.delta:+.4f})"
        out.append(
            _finding(
                spec,
                path,
                severity=ERROR,
                message=f"{c.metric} {c.value:.4f}{_interval(c)} on {c.cases} cases is {reason}; {flips}",
            )
        )
    for flip in c.flipped_to_wrong[:MAX_LISTED]:
        out.append(
            _finding(
                spec,
                path,
                severity=severity,
                message="flipped to wrong: " + describe_case(flip),
                line=flip["line"],
            )
        )
    if len(c.flipped_to_wrong) > MAX_LISTED:
        more = len(c.flipped_to_wrong) - MAX_LISTED
        out.append(
            _finding(spec, path, severity=severity, message=f"... and {more} more cases flipped to wrong")
        )
    return out


def _interval(c: Comparison) -> str:
    interval = c.interval
    return f" (95% interval {interval[0]:.3f}-{interval[1]:.3f})" if interval else ""


def _holdout_changes(
    ctx: GateContext, spec: LibrarySpec, base: State | None, exam: HoldoutSet
) -> list[Finding]:
    """A draft may not change its own exam; a holdout-only draft is checked and applies later."""
    assert spec.holdout is not None
    path = spec.holdout.data
    if base is None or _blob(base, path) == _blob(ctx.head, path):
        return []
    if ctx.changes(spec.path):
        return [
            _finding(
                spec,
                path,
                severity=ERROR,
                message=f"the draft changes both the holdout set and {spec.name} entries: a draft cannot edit"
                " its own exam (change the holdout set in a draft of its own)",
            )
        ]
    new = read_holdout(ctx.head, path)
    if new is None:
        return [_finding(spec, path, severity=ERROR, message="the draft deletes the holdout set")]
    out = [
        _finding(
            spec,
            path,
            severity=WARNING,
            message="the draft changes the holdout set: measured with the base's set;"
            " the new one applies from the next draft (it needs a policy owner's approval)",
        )
    ]
    out.extend(
        _finding(spec, path, severity=ERROR, message=f"draft's holdout set: {p}", line=line)
        for line, p in new.problems
    )
    if not new.problems:
        lib = ctx.head_library(spec)
        out.extend(_entry_leaks(spec, read_entries(lib, lib.index), new, only_new_texts=exam.texts()))
    return out


def _leaks(ctx: GateContext, spec: LibrarySpec, holdout: HoldoutSet) -> list[Finding]:
    """New or changed entries whose text is a holdout text, or that cite an override whose text is."""
    entries = ctx.changed_docs(spec)  # unreadable ones: the yaml and schema gates
    if not entries:
        return []
    return _entry_leaks(spec, entries, holdout) + _override_leaks(ctx, spec, entries, holdout)


def _text_fields(spec: LibrarySpec) -> list[str]:
    return sorted(set(spec.natural_key) | set(spec.duplicates.exact) | set(spec.duplicates.near_fields))


def _entry_leaks(
    spec: LibrarySpec,
    entries: Mapping[str, Mapping[str, Any]],
    holdout: HoldoutSet,
    only_new_texts: set[str] | None = None,
) -> list[Finding]:
    exam = holdout
    if only_new_texts is not None:
        exam = HoldoutSet(holdout.path, tuple(c for c in holdout.cases if c.normalized not in only_new_texts))
    if not exam.cases:
        return []
    finder = leak_finder(exam, spec)
    fields = _text_fields(spec)
    out: list[Finding] = []
    for entry_id, entry in entries.items():
        for name in fields:
            value = entry.get(name)
            if isinstance(value, str) and (what := finder.describe(value)) is not None:
                out.append(
                    _finding(
                        spec,
                        spec.entry_path(entry_id),
                        severity=ERROR,
                        message=f"leakage: {name} {value!r} is {what}",
                        entry_id=entry_id,
                    )
                )
    return out


def _override_leaks(
    ctx: GateContext, spec: LibrarySpec, entries: Mapping[str, Mapping[str, Any]], holdout: HoldoutSet
) -> list[Finding]:
    registry = ctx.rules.registry
    if registry is None or OVERRIDES not in registry.libraries or spec.name == OVERRIDES:
        return []
    cited = {entry_id: override_ids_of(entry) for entry_id, entry in entries.items()}
    wanted = [i for ids in cited.values() for i in ids]
    if not wanted:
        return []
    texts = override_texts(ctx.head_library(registry.libraries[OVERRIDES]))
    finder = leak_finder(holdout, spec)
    out: list[Finding] = []
    for entry_id, ids in cited.items():
        for override_id in ids:
            norm = texts.get(override_id)
            what = finder.describe(norm, exact="the ") if norm is not None else None
            if what is not None:
                out.append(
                    _finding(
                        spec,
                        spec.entry_path(entry_id),
                        severity=ERROR,
                        message=f"leakage: learned from override {override_id}, whose text is {what}",
                        entry_id=entry_id,
                    )
                )
    return out


def screen_entries(
    state: State, registry: Registry | None, spec: LibrarySpec, entries: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """(entry id, message) for entries about to be written that copy a holdout text (`import`'s screen).

    A library's own text fields are compared with its holdout set; an override's
    text with the holdout sets of every library (what a learner would cite it for).
    """
    if registry is None:
        return []
    out: list[tuple[str, str]] = []
    for examined in registry.libraries.values():
        if examined.holdout is None:
            continue
        if examined.name == spec.name:
            fields = _text_fields(spec)
        elif spec.name == OVERRIDES:
            fields = ["text"]
        else:
            continue
        holdout = read_holdout(state, examined.holdout.data)
        if holdout is None or holdout.problems or not holdout.cases:
            continue
        finder = leak_finder(holdout, examined)
        for entry_id, entry in sorted(entries.items()):
            for name in fields:
                value = entry.get(name)
                if isinstance(value, str) and (what := finder.describe(value)) is not None:
                    out.append((entry_id, f"leakage: {name} {value!r} is {what}"))
    return out
