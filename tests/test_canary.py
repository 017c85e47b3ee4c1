"""Canary routing, outcomes and the report: deterministic assignment, exact tests, bad outcomes refused."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import canonry
import pytest
from canonry.errors import OutcomesError, UsageError
from canonry.runtime.canary import assign, canary_report, parse_outcomes, read_outcomes
from canonry.runtime.stats import betainc, t_cdf, t_ppf, t_sf2, two_proportions, welch
from conftest import run

# --- the numerical routine against closed forms ---------------------------------------------------


@pytest.mark.parametrize("x", [1e-6, 0.01, 0.2, 0.5, 0.77, 0.999])
def test_incomplete_beta_closed_forms(x: float) -> None:
    for a in (0.5, 1.0, 3.7, 40.0):
        assert betainc(a, 1.0, x) == pytest.approx(x**a, rel=1e-12, abs=1e-300)
        assert betainc(1.0, a, x) == pytest.approx(1.0 - (1.0 - x) ** a, rel=1e-12)
    assert betainc(0.5, 0.5, x) == pytest.approx(2.0 / math.pi * math.asin(math.sqrt(x)), rel=1e-12)
    assert betainc(2.5, 7.0, x) == pytest.approx(1.0 - betainc(7.0, 2.5, 1.0 - x), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("t", [-30.0, -2.5, -0.3, 0.0, 0.7, 1.96, 12.0])
def test_t_distribution_closed_forms(t: float) -> None:
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, rel=1e-12)  # Cauchy
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2.0 * math.sqrt(2.0 + t * t)), rel=1e-12)
    # many degrees of freedom: the normal distribution
    assert t_cdf(t, 1e7) == pytest.approx(0.5 * math.erfc(-t / math.sqrt(2)), rel=1e-5, abs=1e-12)


def test_t_quantiles_and_a_table_value() -> None:
    assert t_ppf(0.975, 10) == pytest.approx(2.228138852, abs=1e-8)  # the textbook table value
    assert t_sf2(2.228138852, 10) == pytest.approx(0.05, abs=1e-9)
    assert t_ppf(0.975, math.inf) == pytest.approx(1.959963985, abs=1e-8)
    for p in (0.01, 0.3, 0.9):
        assert t_cdf(t_ppf(p, 7.3), 7.3) == pytest.approx(p, abs=1e-10)


def test_welch_and_two_proportions_by_hand() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]
    c = welch(a, b)
    # mean 2.5 var 5/3, mean 6 var 10: t = 3.5 / sqrt(5/12 + 2), df by Welch-Satterthwaite
    se2 = 5 / 12 + 2.0
    df = se2**2 / ((5 / 12) ** 2 / 3 + 2.0**2 / 4)
    assert c.delta == pytest.approx(3.5) and c.statistic == pytest.approx(3.5 / math.sqrt(se2))
    assert c.df == pytest.approx(df)
    assert c.p_value == pytest.approx(t_sf2(3.5 / math.sqrt(se2), df))
    z = two_proportions(80, 100, 90, 100)
    pooled = 170 / 200
    stat = 0.1 / math.sqrt(pooled * (1 - pooled) * 0.02)
    assert z.statistic == pytest.approx(stat) and z.p_value == pytest.approx(math.erfc(stat / math.sqrt(2)))
    assert z.low < 0.1 < z.high


# --- routing and recording ------------------------------------------------------------------------


def test_router_is_deterministic_and_splits_by_share(two_versions: Path, tmp_path: Path) -> None:
    out = tmp_path / "outcomes.jsonl"
    canon = canonry.open(str(two_versions))
    router = canon.router("mapping", control="v1", candidate="v2", share=0.2, outcomes=out)
    arms = [router.arm(f"run-{i}") for i in range(2000)]
    assert 0.17 < arms.count("candidate") / 2000 < 0.23
    again = canonry.open(str(two_versions)).router("mapping", control="v1", candidate="v2", share=0.2)
    assert [again.arm(f"run-{i}") for i in range(2000)] == arms  # the same key, the same side
    key = next(f"run-{i}" for i, a in enumerate(arms) if a == "candidate")
    assert router.library(key).version == 2 and router.shadow(key) is None
    row = router.record(key, ok=True, metric=0.5)
    assert row["arm"] == "candidate" and row["tag"] == "mapping/v2"
    assert assign("mapping", "mapping/v1", "mapping/v3", key, 0.2) in ("control", "candidate")
    shadow = canon.router("mapping", control="v1", candidate="v2", share=0.2, mode="shadow", outcomes=out)
    assert shadow.library(key).version == 1 and shadow.shadow(key).version == 2  # type: ignore[union-attr]
    seen: list[int] = []
    assert shadow.evaluate(key, lambda lib: seen.append(lib.version) or lib.version) == 1
    assert seen == [1, 2]
    shadow.record(key, ok=False, arm="candidate")
    rows = read_outcomes(out)
    assert [(r["arm"], r["mode"]) for r in rows] == [("candidate", "canary"), ("candidate", "shadow")]
    with pytest.raises(UsageError):
        router.record(key)
    with pytest.raises(UsageError):
        router.record(key, metric=float("nan"))
    with pytest.raises(UsageError):
        canon.router("mapping", control="v1", candidate="v2", share=1.5)
    with pytest.raises(UsageError):
        canon.router("mapping", control="v1", candidate="v2", mode="blue-green")


# --- outcomes and the report ---------------------------------------------------------------------


def outcomes(
    n_control: int, n_candidate: int, p_control: float, p_candidate: float, seed: int = 7
) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for arm, n, p, tag in (("control", n_control, p_control, "mapping/v1"),
                           ("candidate", n_candidate, p_candidate, "mapping/v2")):  # fmt: skip
        for i in range(n):
            row = {"format": "canonry.outcomes/v1", "library": "mapping", "key": f"{arm}-{i}", "arm": arm,
                   "tag": tag, "ok": rng.random() < p, "metric": rng.gauss(p, 0.05)}  # fmt: skip
            lines.append(json.dumps(row))
    return lines


def test_recommendations() -> None:
    promote = canary_report(parse_outcomes(outcomes(2000, 2000, 0.80, 0.90)), min_samples=500)
    assert promote["recommendation"] == "promote", promote["reasons"]
    assert promote["measures"]["pass_rate"]["low"] > 0 and promote["measures"]["metric"]["p_value"] < 1e-6
    rollback = canary_report(parse_outcomes(outcomes(2000, 2000, 0.90, 0.80)), min_samples=500)
    assert rollback["recommendation"] == "rollback"
    undecided = canary_report(parse_outcomes(outcomes(300, 300, 0.85, 0.85)), min_samples=100)
    assert undecided["recommendation"] in ("continue", "rollback", "promote")
    tolerant = canary_report(
        parse_outcomes(outcomes(3000, 3000, 0.85, 0.85)), min_samples=100, max_degradation=0.05
    )
    assert tolerant["recommendation"] == "promote"
    worse_is_lower = canary_report(
        parse_outcomes(outcomes(2000, 2000, 0.80, 0.90)), min_samples=500, lower_is_better=True
    )
    assert worse_is_lower["verdicts"]["metric"] == "rollback"


def test_below_minimum_sample_size_says_continue_and_why(tmp_path: Path) -> None:
    doc = canary_report(parse_outcomes(outcomes(40, 30, 0.5, 0.99)), min_samples=100)
    assert doc["recommendation"] == "continue"
    assert "candidate has 30 outcome(s)" in doc["reasons"][0] and "at least 100" in doc["reasons"][0]
    only_control = canary_report(parse_outcomes(outcomes(200, 0, 0.5, 0.5)), min_samples=100)
    assert only_control["recommendation"] == "continue" and only_control["measures"] == {}
    path = tmp_path / "o.jsonl"
    path.write_text("\n".join(outcomes(40, 30, 0.5, 0.99)) + "\n")
    result = run(["canary", "report", "--outcomes", str(path)])
    assert result.exit_code == 0 and "recommendation: continue" in result.stdout
    assert "at least 100 per side" in result.stdout


def test_bad_outcomes_are_refused(tmp_path: Path) -> None:
    good = outcomes(2, 2, 0.5, 0.5)
    bad = [
        good[0].replace('"ok"', '"okay"'),  # an unknown key
        json.dumps({"format": "canonry.outcomes/v1", "library": "mapping", "key": "k", "arm": "control"}),
        json.dumps(
            {
                "format": "canonry.outcomes/v1",
                "library": "mapping",
                "key": "k",
                "arm": "left",
                "tag": "mapping/v1",
                "ok": True,
            }
        ),  # fmt: skip
        good[1].replace('"ok": true', '"ok": "yes"').replace('"ok": false', '"ok": "no"'),
        "{not json",
    ]
    with pytest.raises(OutcomesError) as caught:
        parse_outcomes(bad, "o.jsonl")
    message = str(caught.value)
    for expected in ("o.jsonl:1: unknown key(s): okay", "o.jsonl:2: missing tag", "o.jsonl:3: arm 'left'",
                     "o.jsonl:4: ok must be true or false", "o.jsonl:5: not JSON"):  # fmt: skip
        assert expected in message
    with pytest.raises(OutcomesError, match="no outcomes for either side"):
        canary_report(parse_outcomes(["", "  "]))
    mixed = [*good, good[0].replace("mapping/v1", "mapping/v3")]
    with pytest.raises(OutcomesError, match="mixes versions"):
        parse_outcomes(mixed)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad))
    result = run(["canary", "report", "--outcomes", str(path)])
    assert result.exit_code == 2 and "nothing was reported" in result.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(["canary", "report", "--outcomes", str(empty)]).exit_code == 2
    assert run(["canary", "report", "--outcomes", str(tmp_path / "missing.jsonl")]).exit_code == 2
