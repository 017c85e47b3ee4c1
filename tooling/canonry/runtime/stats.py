"""Exact tests for canary reports: two proportions (normal), Welch's t (Student's t via the incomplete beta).

Standard library only. Student's t distribution function is computed from the
regularized incomplete beta function, evaluated with its continued fraction
(modified Lentz's method, as in Numerical Recipes 6.4) to a relative error of
1e-14; tests check it against closed forms (t with 1 and 2 degrees of freedom,
I_x(a, 1) = x^a, I_x(1/2, 1/2) = 2/pi asin(sqrt x)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

_EPS = 1e-15
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges fast for x < (a+1)/(a+b+2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0 or not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1 (a={a}, b={b}, x={x})")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided p-value of Student's t: P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2)."""
    if math.isinf(df):
        return math.erfc(abs(t) / math.sqrt(2.0))
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function."""
    half = t_sf2(t, df) / 2.0
    return 1.0 - half if t >= 0 else half


def t_ppf(p: float, df: float) -> float:
    """The quantile of Student's t (bisection on the distribution function; |error| < 1e-10)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    while hi - lo > 1e-11:
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2.0


def norm_sf2(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    return t_ppf(p, math.inf)


@dataclass(frozen=True)
class Comparison:
    """Candidate minus control: the delta, its confidence interval and the test's exact p-value."""

    test: str
    n_control: int
    n_candidate: int
    control: float  # pass rate or mean
    candidate: float
    delta: float
    low: float
    high: float
    p_value: float
    statistic: float
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def two_proportions(
    pass_control: int, n_control: int, pass_candidate: int, n_candidate: int, confidence: float = 0.95
) -> Comparison:
    """Two-proportion z-test (pooled variance for the test, unpooled for the Wald interval)."""
    if n_control < 1 or n_candidate < 1:
        raise ValueError("both groups need at least one outcome")
    p1, p2 = pass_control / n_control, pass_candidate / n_candidate
    pooled = (pass_control + pass_candidate) / (n_control + n_candidate)
    se_test = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_control + 1.0 / n_candidate))
    delta = p2 - p1
    z = delta / se_test if se_test > 0 else 0.0
    p_value = norm_sf2(z) if se_test > 0 else 1.0
    se = math.sqrt(p1 * (1.0 - p1) / n_control + p2 * (1.0 - p2) / n_candidate)
    half = norm_ppf(0.5 + confidence / 2.0) * se
    return Comparison("two-proportion z", n_control, n_candidate, p1, p2, delta, delta - half, delta + half,
                      p_value, z)  # fmt: skip


def welch(control: list[float], candidate: list[float], confidence: float = 0.95) -> Comparison:
    """Welch's unequal-variance t-test with the Welch-Satterthwaite degrees of freedom."""
    n1, n2 = len(control), len(candidate)
    if n1 < 2 or n2 < 2:
        raise ValueError("Welch's t-test needs at least two values per group")
    m1, m2 = math.fsum(control) / n1, math.fsum(candidate) / n2
    v1 = math.fsum((x - m1) ** 2 for x in control) / (n1 - 1)
    v2 = math.fsum((x - m2) ** 2 for x in candidate) / (n2 - 1)
    a, b = v1 / n1, v2 / n2
    delta = m2 - m1
    se = math.sqrt(a + b)
    if se == 0.0:
        return Comparison("welch t", n1, n2, m1, m2, delta, delta, delta, 1.0 if delta == 0 else 0.0,
                          0.0 if delta == 0 else math.copysign(math.inf, delta), None)  # fmt: skip
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = delta / se
    half = t_ppf(0.5 + confidence / 2.0, df) * se
    return Comparison("welch t", n1, n2, m1, m2, delta, delta - half, delta + half, t_sf2(t, df), t, df)
