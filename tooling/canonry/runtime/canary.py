"""Canary and shadow routing between two versions of a library, its outcomes and their report.

    router = canon.router("mapping", control="stable", candidate="canary", share=0.1,
                          mode="canary", outcomes="outcomes.jsonl")
    lib = router.library(run_key)            # the version this run uses
    router.record(run_key, ok=True, metric=0.91)

A run key lands on the candidate when the first 8 bytes of SHA-256 of
(library, control tag, candidate tag, key), read as a fraction of 2^64, fall
below `share`: the same key always lands on the same side for the same pair of
versions, and a new pair reshuffles. In shadow mode `library()` always gives
the control and `shadow()` gives the candidate for the keys in the share, to
evaluate alongside (record its outcome with `arm="candidate"`).

`canary_report` compares the two sides (two-proportion z-test for `ok`,
Welch's t-test for `metric`; exact p-values, see stats.py) and recommends
`promote` (every interval of candidate minus control lies above
-max_degradation), `rollback` (some interval lies wholly below it) or
`continue` (too few outcomes, or undecided). Promotion is `canonry channel
set`, never automatic.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import OutcomesError, UsageError
from ..store.entries import Library
from ..store.times import rfc3339
from ..store.versions import is_version_selector
from .stats import Comparison, two_proportions, welch

OUTCOMES_FORMAT = "canonry.outcomes/v1"
REPORT_FORMAT = "canonry.canary/v1"
MODES = ("canary", "shadow")
ARMS = ("control", "candidate")
_REQUIRED = ("format", "library", "key", "arm", "tag")
_OPTIONAL = ("mode", "at", "ok", "metric")
_MAX_PROBLEMS = 20
T = TypeVar("T")


def assign(library: str, control_tag: str, candidate_tag: str, key: str, share: float) -> str:
    """`candidate` or `control` for a run key: a pure function of the key and the two versions."""
    digest = hashlib.sha256("\0".join((library, control_tag, candidate_tag, key)).encode("utf-8")).digest()
    return "candidate" if int.from_bytes(digest[:8], "big") / 2.0**64 < share else "control"


class Router:
    """Routes run keys between a control and a candidate version (or channel) of one library."""

    def __init__(
        self,
        canon: Any,
        library: str,
        control: str = "stable",
        candidate: str = "canary",
        share: float = 0.1,
        mode: str = "canary",
        outcomes: str | os.PathLike[str] | None = None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
            raise UsageError(f"share must be a number from 0 to 1, not {share!r}")
        self.name = library
        self.mode = mode
        self.share = float(share)
        # the router holds both sides on purpose: neither is a downgrade of the other
        self.control = _load(canon, library, control)
        self.candidate = _load(canon, library, candidate)
        self.outcomes = Path(outcomes) if outcomes is not None else None
        self._lock = threading.Lock()

    @property
    def tags(self) -> dict[str, str]:
        return {"control": _tag(self.control), "candidate": _tag(self.candidate)}

    def arm(self, key: str) -> str:
        """The side the key is assigned to (in shadow mode: the side it is *evaluated* on as well)."""
        return assign(self.name, _tag(self.control), _tag(self.candidate), str(key), self.share)

    def library(self, key: str) -> Library:
        """The library this run uses: the assigned side in canary mode, always the control in shadow mode."""
        if self.mode == "shadow":
            return self.control
        return self.candidate if self.arm(key) == "candidate" else self.control

    def shadow(self, key: str) -> Library | None:
        """In shadow mode, the candidate to evaluate alongside for keys in the share; else None."""
        if self.mode == "shadow" and self.arm(key) == "candidate":
            return self.candidate
        return None

    def evaluate(self, key: str, fn: Callable[[Library], T]) -> T:
        """fn on the library to use; in shadow mode also on the candidate, whose result is discarded."""
        result = fn(self.library(key))
        shadow = self.shadow(key)
        if shadow is not None:
            fn(shadow)
        return result

    def record(
        self, key: str, *, metric: float | None = None, ok: bool | None = None, arm: str | None = None
    ) -> dict[str, Any]:
        """Append one outcome (canonry.outcomes/v1) to the outcomes file; return it."""
        if ok is None and metric is None:
            raise UsageError("record an outcome with ok=True/False, metric=NUMBER or both")
        if ok is not None and not isinstance(ok, bool):
            raise UsageError(f"ok must be True or False, not {ok!r}")
        if metric is not None and (isinstance(metric, bool) or not _finite(metric)):
            raise UsageError(f"metric must be a finite number, not {metric!r}")
        side = arm or ("control" if self.mode == "shadow" else self.arm(key))
        if side not in ARMS:
            raise UsageError(f"arm must be control or candidate, not {side!r}")
        row: dict[str, Any] = {
            "format": OUTCOMES_FORMAT,
            "library": self.name,
            "key": str(key),
            "arm": side,
            "tag": self.tags[side],
            "mode": self.mode,
            "at": rfc3339(),
        }
        if ok is not None:
            row["ok"] = ok
        if metric is not None:
            row["metric"] = float(metric)
        if self.outcomes is not None:
            line = (json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
            with self._lock:  # one write per line, appended: lines of several processes do not interleave
                fd = os.open(self.outcomes, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        return row


def _load(canon: Any, library: str, selector: str) -> Library:
    if is_version_selector(selector):
        return canon.library(library, selector, allow_downgrade=True)
    return canon.library(library, channel=selector)


def _tag(lib: Library) -> str:
    return str(lib.tag or lib.commit)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


# --- reading outcomes ----------------------------------------------------------------------------


def read_outcomes(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Parse and check an outcomes file; OutcomesError listing every problem (by line) when it is bad."""
    label = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutcomesError(f"{label}: no such outcomes file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutcomesError(f"{label}: cannot read it ({exc})") from None
    return parse_outcomes(text.splitlines(), label)


def parse_outcomes(lines: Iterable[str], label: str = "outcomes") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((where, f"not JSON ({exc.msg})"))
            continue
        problem = _row_problem(row)
        if problem:
            problems.append((where, problem))
        else:
            rows.append(row)
    if not problems:
        for field in ("library",):
            seen = sorted({r[field] for r in rows})
            if len(seen) > 1:
                problems.append((label, f"outcomes of several libraries ({', '.join(seen)}): one per report"))
        for side in ARMS:
            tags = sorted({r["tag"] for r in rows if r["arm"] == side})
            if len(tags) > 1:
                problems.append(
                    (label, f"the {side} side mixes versions ({', '.join(tags)}): one pair per report")
                )
    if problems:
        shown = problems[:_MAX_PROBLEMS]
        more = f" (showing {_MAX_PROBLEMS})" if len(problems) > _MAX_PROBLEMS else ""
        raise OutcomesError(f"{label}: {len(problems)} problem(s){more}; nothing was reported", shown)
    return rows


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    unknown = sorted(set(row) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        return f"unknown key(s): {', '.join(unknown)} (known: {', '.join(_REQUIRED + _OPTIONAL)})"
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        return f"missing {', '.join(missing)}"
    if row["format"] != OUTCOMES_FORMAT:
        return f"format {row['format']!r} is not {OUTCOMES_FORMAT!r}"
    if row["arm"] not in ARMS:
        return f"arm {row['arm']!r} is not control or candidate"
    for key in ("library", "key", "tag"):
        if not isinstance(row[key], str) or not row[key]:
            return f"{key} must be a non-empty string"
    if "ok" not in row and "metric" not in row:
        return "neither ok nor metric: an outcome needs at least one"
    if "ok" in row and not isinstance(row["ok"], bool):
        return f"ok must be true or false, not {row['ok']!r}"
    if "metric" in row and (isinstance(row["metric"], bool) or not _finite(row["metric"])):
        return f"metric must be a finite number, not {row['metric']!r}"
    return None


# --- the report ---------------------------------------------------------------------------------


def canary_report(
    rows: list[dict[str, Any]],
    *,
    min_samples: int = 100,
    max_degradation: float = 0.0,
    confidence: float = 0.95,
    lower_is_better: bool = False,
) -> dict[str, Any]:
    """canonry.canary/v1: the comparison per measure and a recommendation with its reasons."""
    if min_samples < 2:
        raise UsageError("--min-samples must be at least 2")
    if not _finite(max_degradation) or max_degradation < 0:
        raise UsageError("--max-degradation must be a number >= 0 (how much worse the candidate may be)")
    if not 0.5 <= confidence < 1.0:
        raise UsageError("--confidence must be from 0.5 to below 1")
    side = {arm: [r for r in rows if r["arm"] == arm] for arm in ARMS}
    if not side["control"] and not side["candidate"]:
        raise OutcomesError("no outcomes for either side: nothing to compare")
    oks = {arm: [r["ok"] for r in side[arm] if "ok" in r] for arm in ARMS}
    metrics = {arm: [float(r["metric"]) for r in side[arm] if "metric" in r] for arm in ARMS}
    measures: dict[str, Comparison] = {}
    reasons: list[str] = []
    short = [f"{arm} has {len(side[arm])} outcome(s)" for arm in ARMS if len(side[arm]) < min_samples]
    if short:
        reasons.append(f"{' and '.join(short)}; at least {min_samples} per side are needed (--min-samples)")
    if oks["control"] and oks["candidate"]:
        measures["pass_rate"] = two_proportions(
            sum(oks["control"]), len(oks["control"]), sum(oks["candidate"]), len(oks["candidate"]), confidence
        )
    if len(metrics["control"]) >= 2 and len(metrics["candidate"]) >= 2:
        measures["metric"] = welch(metrics["control"], metrics["candidate"], confidence)
    verdicts: dict[str, str] = {}
    for name, c in measures.items():
        flip = -1.0 if name == "metric" and lower_is_better else 1.0
        low, high = sorted((flip * c.low, flip * c.high))
        what = f"{name} {'(lower is better) ' if flip < 0 else ''}delta {c.delta:+.4g}"
        interval = f"{confidence:.0%} interval [{c.low:+.4g}, {c.high:+.4g}], p = {c.p_value:.4g}"
        if high < -max_degradation:
            verdicts[name] = "rollback"
            reasons.append(f"{what}: the candidate is worse by more than {max_degradation:g} ({interval})")
        elif low >= -max_degradation:
            verdicts[name] = "promote"
            reasons.append(f"{what}: the candidate is no worse than {max_degradation:g} ({interval})")
        else:
            verdicts[name] = "continue"
            reasons.append(
                f"{what}: undecided, the interval crosses {-max_degradation or 0.0:g} ({interval})"
            )
    if not measures:
        reasons.append("no measure has outcomes on both sides (ok on both, or metric twice on each)")
    if short:
        recommendation = "continue"
    elif "rollback" in verdicts.values():
        recommendation = "rollback"
    elif measures and all(v == "promote" for v in verdicts.values()):
        recommendation = "promote"
    else:
        recommendation = "continue"
    library = (side["control"] or side["candidate"])[0]["library"]
    tags = {arm: (side[arm][0]["tag"] if side[arm] else None) for arm in ARMS}
    return {
        "format": REPORT_FORMAT,
        "library": library,
        "control": {"tag": tags["control"], "outcomes": len(side["control"])},
        "candidate": {"tag": tags["candidate"], "outcomes": len(side["candidate"])},
        "min_samples": min_samples,
        "max_degradation": max_degradation,
        "confidence": confidence,
        "lower_is_better": lower_is_better,
        "measures": {name: c.to_dict() for name, c in measures.items()},
        "verdicts": verdicts,
        "recommendation": recommendation,
        "reasons": reasons,
    }
