"""Holdout sets, evaluators, and the paired comparison of two evaluations.

A holdout set is data, not entries: `knowledge/holdout/<library>.yaml`,

    format: canonry.holdout/v1
    library: mapping
    cases:
      - text: "Expansion of a seawater reverse osmosis plant"
        sector_code: E36

(`expected` is accepted in place of `sector_code`, and a bare list in place of
`cases:`; a case may also carry `id`, `language`, `note` and `source`). Texts
are unique after normalization and codes are ISIC Rev.4 divisions.

An evaluator is `module:function`, called as `evaluator(library, cases)`. It
returns one prediction per case (a sequence of codes or None), or an
`Evaluation`, or a mapping with `predictions` or `outcomes` (one bool per
case) and optionally `metric`. Anything else is refused with a clear message:
paired outcomes are what the flips and the McNemar test are computed from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EntrySyntaxError, HoldoutError
from ..store.entries import Library, store_for
from ..store.states import State
from ..store.yamlio import load_yaml_with_positions
from .matching import SECTOR_CODE_RE, is_isic_division, pattern_index, tokens

HOLDOUT_FORMAT = "canonry.holdout/v1"
_TOP_KEYS = {"format", "library", "description", "source", "cases"}
_CASE_KEYS = {"text", "sector_code", "expected", "id", "language", "note", "source"}


@dataclass(frozen=True)
class HoldoutCase:
    text: str
    expected: str
    line: int | None = None
    tokens: tuple[str, ...] = ()

    @property
    def normalized(self) -> str:
        return " ".join(self.tokens)


@dataclass(frozen=True)
class HoldoutSet:
    path: str
    cases: tuple[HoldoutCase, ...]
    problems: tuple[tuple[int | None, str], ...] = ()

    def texts(self) -> set[str]:
        """The normalized texts (what leakage is checked against)."""
        return {c.normalized for c in self.cases}

    def to_plain(self) -> tuple[Any, ...]:
        """Plain data to cache (marshal-able)."""
        return (self.path, [(c.text, c.expected, c.line, c.tokens) for c in self.cases], list(self.problems))

    @classmethod
    def from_plain(cls, plain: Any) -> HoldoutSet:
        path, cases, problems = plain
        return cls(path, tuple(HoldoutCase(*c) for c in cases), tuple(tuple(p) for p in problems))


HOLDOUT_CACHE = "holdout-set:v1"


def read_holdout(state: State, path: str) -> HoldoutSet | None:
    """The holdout set at a state (parsed once per blob, then cached), or None when the file is absent."""
    parent = path.rsplit("/", 1)[0]
    ref = state.files(parent).get(path)
    if ref is None:
        return None
    store = store_for(state.repo)
    key = f"{HOLDOUT_CACHE}:{path}:{ref.oid}"
    cached = store.get_result(key)
    if cached is not None:
        return HoldoutSet.from_plain(cached)
    holdout = parse_holdout(state.read(ref), path)
    store.put_result(key, holdout.to_plain())
    return holdout


def parse_holdout(data: bytes | str, path: str) -> HoldoutSet:
    """Read a holdout file; every problem is collected with its line, none raised."""
    try:
        doc, positions = load_yaml_with_positions(data, path)
    except EntrySyntaxError as exc:
        return HoldoutSet(path, (), ((exc.line, exc.problem),))
    problems: list[tuple[int | None, str]] = []

    def line_of(*where: str | int) -> int | None:
        pos = positions.get(tuple(where))
        return pos[0] if pos else None

    if isinstance(doc, list):
        raw_cases: Any = doc
        prefix: tuple[str, ...] = ()
    elif isinstance(doc, dict):
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            problems.append((line_of(unknown[0]), f"unknown key {unknown[0]!r} (known: {sorted(_TOP_KEYS)})"))
        if doc.get("format", HOLDOUT_FORMAT) != HOLDOUT_FORMAT:
            problems.append((line_of("format"), f"format must be {HOLDOUT_FORMAT}"))
        raw_cases = doc.get("cases")
        prefix = ("cases",)
        if not isinstance(raw_cases, list):
            problems.append((line_of("cases") or 1, "expected `cases:` with a list of {text, sector_code}"))
            return HoldoutSet(path, (), tuple(problems))
    else:
        return HoldoutSet(
            path, (), ((1, "expected a mapping with `cases:` (a list of {text, sector_code})"),)
        )
    cases: list[HoldoutCase] = []
    first_line: dict[str, int | None] = {}
    for i, raw in enumerate(raw_cases):
        line = line_of(*prefix, i)
        if not isinstance(raw, dict):
            problems.append((line, f"case {i + 1}: expected a mapping {{text, sector_code}}"))
            continue
        unknown = sorted(set(raw) - _CASE_KEYS)
        if unknown:
            problems.append((line, f"case {i + 1}: unknown key {unknown[0]!r}"))
            continue
        text = raw.get("text")
        code = raw.get("sector_code", raw.get("expected"))
        if "sector_code" in raw and "expected" in raw:
            problems.append((line, f"case {i + 1}: give sector_code or expected, not both"))
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append((line, f"case {i + 1}: `text` must be a non-empty string"))
            continue
        if not isinstance(code, str) or not SECTOR_CODE_RE.fullmatch(code):
            problems.append(
                (
                    line,
                    f"case {i + 1}: unknown sector code {code!r} (a section letter and two digits, e.g. C24)",
                )
            )
            continue
        if not is_isic_division(code):
            problems.append((line, f"case {i + 1}: unknown sector code {code!r}: not an ISIC Rev.4 division"))
            continue
        toks = tuple(tokens(text))
        if not toks:
            problems.append((line, f"case {i + 1}: text {text!r} has no words"))
            continue
        norm = " ".join(toks)
        if norm in first_line:
            problems.append(
                (line, f"case {i + 1}: duplicate text {text!r} (first at line {first_line[norm]})")
            )
            continue
        first_line[norm] = line
        cases.append(HoldoutCase(text, code, line, toks))
    return HoldoutSet(path, tuple(cases), tuple(problems))


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a library on a holdout set: a metric and one outcome per case."""

    metric: str
    outcomes: tuple[bool, ...]
    predictions: tuple[str | None, ...] | None = None

    @property
    def value(self) -> float:
        return sum(self.outcomes) / len(self.outcomes) if self.outcomes else 0.0


def mapping_accuracy(library: Library, cases: Sequence[HoldoutCase]) -> Evaluation:
    """Classify each case's text with the library's patterns; accuracy against the expected codes."""
    index = pattern_index(library)
    predictions: list[str | None] = []
    for case in cases:
        found = index.match_tokens(case.tokens or tuple(tokens(case.text)))
        predictions.append(found.sector_code if found else None)
    outcomes = tuple(p == c.expected for p, c in zip(predictions, cases, strict=True))
    return Evaluation("accuracy", outcomes, tuple(predictions))


def coerce_evaluation(raw: Any, cases: Sequence[HoldoutCase], name: str, path: str) -> Evaluation:
    """An Evaluation from whatever an evaluator returned, or HoldoutError saying what is wrong."""
    n = len(cases)

    def bad(what: str) -> HoldoutError:
        return HoldoutError(
            f"evaluator {name} {what}; it must return one prediction per case"
            " (a list of codes or null), or {predictions: [...]} / {outcomes: [true|false, ...]}",
            path,
        )

    metric: Any
    predictions: Any
    outcomes: Any
    if isinstance(raw, Evaluation):
        metric, predictions, outcomes = raw.metric, raw.predictions, raw.outcomes
    elif isinstance(raw, Mapping):
        metric = raw.get("metric", "accuracy")
        predictions, outcomes = raw.get("predictions"), raw.get("outcomes")
        if predictions is None and outcomes is None:
            raise bad(f"returned a mapping without predictions or outcomes (keys: {sorted(map(str, raw))})")
    elif isinstance(raw, Sequence) and not isinstance(raw, str | bytes):
        metric, predictions, outcomes = "accuracy", raw, None
    else:
        raise bad(f"returned {type(raw).__name__} {_short(raw)}")
    if not isinstance(metric, str) or not metric:
        raise bad(f"returned metric {metric!r}, not a name")
    if predictions is not None:
        if not isinstance(predictions, Sequence) or isinstance(predictions, str | bytes):
            raise bad(f"returned predictions of type {type(predictions).__name__}")
        predictions = tuple(predictions)
        if len(predictions) != n:
            raise bad(f"returned {len(predictions)} predictions for {n} cases")
        for i, p in enumerate(predictions):
            if p is not None and not isinstance(p, str):
                raise bad(f"returned prediction {_short(p)} for case {i + 1} (line {cases[i].line})")
        derived = tuple(p == c.expected for p, c in zip(predictions, cases, strict=True))
        if outcomes is not None and tuple(outcomes) != derived:
            raise bad("returned outcomes that disagree with its own predictions")
        outcomes = derived
    else:
        if not isinstance(outcomes, Sequence) or isinstance(outcomes, str | bytes):
            raise bad(f"returned outcomes of type {type(outcomes).__name__}")
        outcomes = tuple(outcomes)
        if len(outcomes) != n:
            raise bad(f"returned {len(outcomes)} outcomes for {n} cases")
        for i, o in enumerate(outcomes):
            if not isinstance(o, bool):
                raise bad(f"returned outcome {_short(o)} for case {i + 1}, not true or false")
    return Evaluation(metric, outcomes, predictions)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the paired comparison -------------------------------------------------------------------


Z_95 = 1.959963984540054  # the standard normal quantile of 0.975


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default), rounded to 6 places; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    term = 1  # C(n, 0)
    total = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    # exact integers until the one division, so a large n loses no precision
    return min(1.0, 2 * total / (1 << n))


@dataclass
class Comparison:
    metric: str
    value: float
    baseline: float | None
    cases: int
    flipped_to_correct: list[dict[str, Any]] = field(default_factory=list)
    flipped_to_wrong: list[dict[str, Any]] = field(default_factory=list)
    p_value: float = 1.0
    per_sector: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_section: dict[str, dict[str, Any]] = field(default_factory=dict)
    correct: int = 0
    baseline_correct: int | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the head's value."""
        return wilson_interval(self.correct, self.cases)

    @property
    def baseline_interval(self) -> tuple[float, float] | None:
        return None if self.baseline_correct is None else wilson_interval(self.baseline_correct, self.cases)

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else round(self.value - self.baseline, 6)

    def passes(self, min_delta: float, threshold: float) -> bool:
        eps = 1e-12
        if self.value < threshold - eps:
            return False
        return self.baseline is None or self.value >= self.baseline + min_delta - eps

    def to_metrics(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": round(self.value, 6),
            "baseline": None if self.baseline is None else round(self.baseline, 6),
            "delta": self.delta,
            "cases": self.cases,
            "flipped_to_correct": self.flipped_to_correct,
            "flipped_to_wrong": self.flipped_to_wrong,
            "p_value": self.p_value,
            "interval": list(self.interval) if self.interval else None,
            "baseline_interval": list(self.baseline_interval) if self.baseline_interval else None,
            "confidence_level": 0.95,
            "per_section": self.per_section,
            "per_sector": self.per_sector,
        }


def compare(cases: Sequence[HoldoutCase], base: Evaluation | None, head: Evaluation) -> Comparison:
    """Pair the outcomes case by case: flips each way, McNemar, accuracy per expected sector."""
    result = Comparison(head.metric, head.value, base.value if base else None, len(cases))
    sectors: dict[str, list[int]] = {}
    for i, case in enumerate(cases):
        now = head.outcomes[i]
        before = base.outcomes[i] if base else now
        counts = sectors.setdefault(case.expected, [0, 0, 0])
        counts[0] += 1
        counts[1] += before
        counts[2] += now
        if now != before:
            flip = {
                "text": case.text,
                "expected": case.expected,
                "line": case.line,
                "baseline_prediction": base.predictions[i] if base and base.predictions else None,
                "prediction": head.predictions[i] if head.predictions else None,
            }
            (result.flipped_to_correct if now else result.flipped_to_wrong).append(flip)
    result.p_value = mcnemar_exact(len(result.flipped_to_correct), len(result.flipped_to_wrong))
    result.correct = sum(head.outcomes)
    result.baseline_correct = sum(base.outcomes) if base else None
    sections: dict[str, list[int]] = {}
    for code in sorted(sectors):
        n, before_ok, now_ok = sectors[code]
        result.per_sector[code] = {
            "cases": n,
            "value": round(now_ok / n, 6),
            "baseline": round(before_ok / n, 6) if base else None,
        }
        totals = sections.setdefault(code[:1], [0, 0, 0])
        for i, count in enumerate((n, before_ok, now_ok)):
            totals[i] += count
    for letter, (n, before_ok, now_ok) in sorted(sections.items()):
        interval = wilson_interval(now_ok, n)
        result.per_section[letter] = {
            "cases": n,
            "value": round(now_ok / n, 6),
            "interval": list(interval) if interval else None,
            "baseline": round(before_ok / n, 6) if base else None,
        }
    return result


def describe_case(flip: Mapping[str, Any]) -> str:
    """One flipped case in words: text, expected code, before and after."""
    before = flip.get("baseline_prediction") or "no match"
    after = flip.get("prediction") or "no match"
    return f"{flip['text']!r}: expected {flip['expected']}, base said {before}, head says {after}"
