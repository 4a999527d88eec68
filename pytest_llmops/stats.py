"""Statistics for noisy scores: is a change of mean score bigger than run-to-run noise?

LLM scores move between runs even at temperature 0. Given the samples of a score in the baseline
and in this run, :func:`compare_means` estimates the change of mean (new - old) and a confidence
interval around it; the change is *unlikely to be noise* when the interval leaves out 0. Two methods:

* ``"welch"`` (the default): Welch's unequal-variances t interval. The Student t distribution is
  computed here through the regularized incomplete beta function (Lentz continued fraction, as in
  Numerical Recipes 6.4), its quantile by bisection: no scipy.
* ``"bootstrap"``: a percentile bootstrap of the difference of means, each side resampled with
  replacement, ``resamples`` times, from ``random.Random(seed)``: the same samples always give the
  same interval. With few samples per side (under ~10) it is narrower than it should be (the
  resampled spread underestimates the true one); prefer Welch there.

:func:`paired` does the same for paired values (the cases of a dataset, old and new score of each
case): a one-sample t interval on the differences, or a bootstrap of their mean.

Everything is pure Python (``math``, ``random``, ``statistics``) and deterministic. Inputs must be
finite numbers; anything else raises ``ValueError`` naming what is wrong.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .scores import format_change, format_score

__all__ = [
    "METHODS",
    "Interval",
    "StatSettings",
    "Summary",
    "betainc",
    "bootstrap",
    "compare_means",
    "paired",
    "summarize",
    "t_cdf",
    "t_ppf",
    "welch",
]

#: The methods of ``llm_stat_method``.
METHODS = ("welch", "bootstrap")
DEFAULT_METHOD = "welch"
DEFAULT_ALPHA = 0.05
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
#: Above this many degrees of freedom the t distribution is the normal one (to 1e-9).
_NORMAL_DF = 1e7


# -- summaries -------------------------------------------------------------------------------------
def _finite(samples: Sequence[float], what: str) -> list[float]:
    values = list(samples)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{what}: every sample must be a finite number, got {value!r}")
    return [float(v) for v in values]


@dataclass(frozen=True)
class Summary:
    """``n``, ``mean`` and ``sd`` (the sample standard deviation, n - 1 in the denominator; 0 for
    a single sample) of a list of samples."""

    n: int
    mean: float
    sd: float

    @property
    def variance(self) -> float:
        return self.sd * self.sd


def summarize(samples: Sequence[float]) -> Summary:
    values = _finite(samples, "summarize")
    if not values:
        raise ValueError("summarize: no samples")
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(1, mean, 0.0)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Summary(n, mean, math.sqrt(variance))


# -- the t distribution ----------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")  # pragma: no cover


def _log_gamma_ratio(a: float, b: float) -> float:
    """log(Gamma(a + b) / Gamma(a)) for a >= 100, without the cancellation of two huge lgammas
    (Stirling's series; its error is below 1e-17 there)."""
    c = a + b

    def tail(x: float) -> float:
        return 1.0 / (12.0 * x) - 1.0 / (360.0 * x ** 3) + 1.0 / (1260.0 * x ** 5)

    return (a - 0.5) * math.log1p(b / a) + b * math.log(c) - b + tail(c) - tail(a)


def _log_beta(a: float, b: float) -> float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), accurate when one of them is large."""
    big, small = (a, b) if a >= b else (b, a)
    if big >= 100.0:
        return math.lgamma(small) - _log_gamma_ratio(big, small)
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0) or not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: needs a > 0, b > 0 and 0 <= x <= 1, got a={a!r}, b={b!r}, x={x!r}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = -_log_beta(a, b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _check_df(df: float) -> None:
    if isinstance(df, bool) or not isinstance(df, (int, float)) or math.isnan(df) or df <= 0:
        raise ValueError(f"degrees of freedom must be a number > 0, got df={df!r}")


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (any real df > 0; inf: normal)."""
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t_cdf: t is NaN")
    if df > _NORMAL_DF:
        from statistics import NormalDist

        return NormalDist().cdf(t)
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    t2 = t * t
    if t2 < df:  # near 0: from P(|T| <= |t|), which keeps its precision there
        tail = 0.5 * (1.0 - betainc(0.5, df / 2.0, t2 / (df + t2)))
    else:
        tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t2))  # P(T > |t|)
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (0 < q < 1)."""
    _check_df(df)
    if not 0.0 < q < 1.0:
        raise ValueError(f"t_ppf: q must be strictly between 0 and 1, got {q!r}")
    if df > _NORMAL_DF:
        from statistics import NormalDist

        return NormalDist().inv_cdf(q)
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        low, high = high, high * 2.0
        if high > 1e300:  # pragma: no cover - q within 1e-300 of 1
            return math.inf
    for _ in range(200):
        mid = (low + high) / 2.0
        if mid in (low, high):
            break
        if t_cdf(mid, df) < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


# -- intervals -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """The change of mean (``estimate`` = new - old) and its ``confidence`` interval [``low``,
    ``high``], from ``method`` on ``n_old`` and ``n_new`` samples (for a paired comparison: ``n_new``
    pairs, ``n_old`` the same). ``p_value``: two-sided, for "no change"."""

    method: str  # "welch", "bootstrap", "paired t", "paired bootstrap"
    estimate: float
    low: float
    high: float
    confidence: float
    p_value: float
    n_old: int
    n_new: int
    mean_old: float
    mean_new: float
    sd_old: float = 0.0
    sd_new: float = 0.0
    df: float | None = None  # t methods
    resamples: int | None = None  # bootstrap methods
    seed: int | None = None

    @property
    def alpha(self) -> float:
        return round(1.0 - self.confidence, 12)

    @property
    def excludes_zero(self) -> bool:
        """The interval leaves out 0: the change is unlikely to be noise (at level ``alpha``)."""
        return self.high < 0.0 or self.low > 0.0

    def describe(self, fmt: Any = None) -> str:
        """``95% CI [-0.26, -0.12]``."""
        fmt = fmt or _signed
        return f"{_percent(self.confidence)} CI [{fmt(self.low)}, {fmt(self.high)}]"

    def method_text(self) -> str:
        """``welch t, df 7.6, p 0.0004`` / ``bootstrap, 2000 resamples, seed 0, p 0.001``."""
        parts = [("welch t" if self.method == "welch" else self.method)]
        if self.df is not None:
            parts.append(f"df {_short_number(self.df)}")
        if self.resamples is not None:
            parts.append(f"{self.resamples} resamples, seed {self.seed}")
        parts.append(f"p {_p_text(self.p_value)}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Interval:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _percent(confidence: float) -> str:
    text = f"{confidence * 100:.3f}".rstrip("0").rstrip(".")
    return f"{text}%"


_short_number, _signed = format_score, format_change


def _p_text(p: float) -> str:
    if p < 0.0001:
        return "< 0.0001"
    return f"{p:.4f}".rstrip("0").rstrip(".") if p < 1 else "1"


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be a number strictly between 0 and 1 (e.g. 0.05), got {alpha!r}")
    return float(alpha)


def _two_sided_t(t: float, df: float) -> float:
    return min(1.0, 2.0 * t_cdf(-abs(t), df))


def _interval(method: str, estimate: float, low: float, high: float, alpha: float, p_value: float, old: Summary,
              new: Summary, *, df: float | None = None, resamples: int | None = None, seed: int | None = None) -> Interval:
    return Interval(method=method, estimate=estimate, low=low, high=high, confidence=1.0 - alpha, p_value=p_value,
                    n_old=old.n, n_new=new.n, mean_old=old.mean, mean_new=new.mean, sd_old=old.sd, sd_new=new.sd,
                    df=df, resamples=resamples, seed=seed)


def welch(old: Sequence[float], new: Sequence[float], alpha: float = DEFAULT_ALPHA) -> Interval:
    """Welch's t interval for mean(new) - mean(old); needs at least 2 samples per side.

    Degrees of freedom by Welch-Satterthwaite. When both sides have no spread at all the change is
    known exactly: the interval is the single point ``estimate`` (p 0 if it is not 0, else 1)."""
    alpha = _check_alpha(alpha)
    a, b = summarize(_finite(old, "welch: old")), summarize(_finite(new, "welch: new"))
    if a.n < 2 or b.n < 2:
        raise ValueError(f"welch: needs at least 2 samples per side, got {a.n} old and {b.n} new")
    estimate = b.mean - a.mean
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    if se == 0.0 or se < 1e-12 * max(1.0, abs(a.mean), abs(b.mean)):
        return _interval("welch", estimate, estimate, estimate, alpha, 0.0 if estimate else 1.0, a, b,
                         df=float(a.n + b.n - 2))
    df = (va + vb) ** 2 / ((va * va / (a.n - 1) if va else 0.0) + (vb * vb / (b.n - 1) if vb else 0.0))
    margin = t_ppf(1.0 - alpha / 2.0, df) * se
    return _interval("welch", estimate, estimate - margin, estimate + margin, alpha, _two_sided_t(estimate / se, df),
                     a, b, df=df)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (type 7, numpy's default)."""
    position = (len(sorted_values) - 1) * q
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


def _check_resamples(resamples: int) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples must be a whole number >= 100, got {resamples!r}")
    return resamples


def _bootstrap_p(diffs: Sequence[float]) -> float:
    below = sum(1 for d in diffs if d <= 0.0)
    above = sum(1 for d in diffs if d >= 0.0)
    return min(1.0, 2.0 * (min(below, above) + 1) / (len(diffs) + 1))


def bootstrap(old: Sequence[float], new: Sequence[float], alpha: float = DEFAULT_ALPHA, *,
              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval:
    """Percentile bootstrap interval for mean(new) - mean(old): each side resampled with replacement
    from ``random.Random(seed)``, ``resamples`` times. Deterministic for given inputs and seed."""
    alpha = _check_alpha(alpha)
    resamples = _check_resamples(resamples)
    a_values, b_values = _finite(old, "bootstrap: old"), _finite(new, "bootstrap: new")
    a, b = summarize(a_values), summarize(b_values)
    if a.n < 2 or b.n < 2:
        raise ValueError(f"bootstrap: needs at least 2 samples per side, got {a.n} old and {b.n} new")
    rng = random.Random(seed)
    choices, fsum = rng.choices, math.fsum
    diffs = sorted(fsum(choices(b_values, k=b.n)) / b.n - fsum(choices(a_values, k=a.n)) / a.n
                   for _ in range(resamples))
    return _interval("bootstrap", b.mean - a.mean, _quantile(diffs, alpha / 2.0), _quantile(diffs, 1.0 - alpha / 2.0),
                     alpha, _bootstrap_p(diffs), a, b, resamples=resamples, seed=seed)


def paired(old: Sequence[float], new: Sequence[float], alpha: float = DEFAULT_ALPHA, *, method: str = DEFAULT_METHOD,
           resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval:
    """Interval for the mean of the paired differences new[i] - old[i] (at least 2 pairs):
    ``method`` "welch" gives the paired t interval (one-sample t on the differences, n - 1 df),
    "bootstrap" a percentile bootstrap of their mean."""
    alpha = _check_alpha(alpha)
    old_values, new_values = _finite(old, "paired: old"), _finite(new, "paired: new")
    if len(old_values) != len(new_values):
        raise ValueError(f"paired: needs as many old as new values, got {len(old_values)} and {len(new_values)}")
    if len(old_values) < 2:
        raise ValueError(f"paired: needs at least 2 pairs, got {len(old_values)}")
    diffs = [n - o for o, n in zip(old_values, new_values)]
    d, a, b = summarize(diffs), summarize(old_values), summarize(new_values)
    if method == "bootstrap":
        resamples = _check_resamples(resamples)
        rng = random.Random(seed)
        means = sorted(math.fsum(rng.choices(diffs, k=d.n)) / d.n for _ in range(resamples))
        return _interval("paired bootstrap", d.mean, _quantile(means, alpha / 2.0), _quantile(means, 1.0 - alpha / 2.0),
                         alpha, _bootstrap_p(means), a, b, resamples=resamples, seed=seed)
    _check_method(method)
    se = d.sd / math.sqrt(d.n)
    df = float(d.n - 1)
    if se == 0.0 or se < 1e-12 * max(1.0, abs(d.mean)):
        return _interval("paired t", d.mean, d.mean, d.mean, alpha, 0.0 if d.mean else 1.0, a, b, df=df)
    margin = t_ppf(1.0 - alpha / 2.0, df) * se
    return _interval("paired t", d.mean, d.mean - margin, d.mean + margin, alpha, _two_sided_t(d.mean / se, df), a, b,
                     df=df)


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"the statistical method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


# -- settings --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatSettings:
    """How noisy scores are compared (ini ``llm_stat_method``, ``llm_alpha``,
    ``llm_bootstrap_resamples``, ``llm_bootstrap_seed``)."""

    method: str = DEFAULT_METHOD
    alpha: float = DEFAULT_ALPHA
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    @classmethod
    def from_ini(cls, method: Any = "", alpha: Any = "", resamples: Any = "", seed: Any = "") -> StatSettings:
        """Values as read from the ini file (strings; empty: the default). Raises ValueError naming
        the setting."""
        method_text = str(method or DEFAULT_METHOD).strip().lower()
        if method_text not in METHODS:
            raise ValueError(f"llm_stat_method must be one of {', '.join(METHODS)}, got {str(method)!r}")

        def number(name: str, text: Any, default: Any, kind: type, check: Any, expected: str) -> Any:
            raw = str(text).strip() if text not in (None, "") else ""
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be {expected}, got {raw!r}") from None
            if not check(value):
                raise ValueError(f"{name} must be {expected}, got {raw!r}")
            return value

        return cls(
            method=method_text,
            alpha=number("llm_alpha", alpha, DEFAULT_ALPHA, float, lambda v: 0.0 < v < 1.0,
                         "a number strictly between 0 and 1 (e.g. 0.05)"),
            resamples=number("llm_bootstrap_resamples", resamples, DEFAULT_RESAMPLES, int, lambda v: v >= 100,
                             "a whole number >= 100"),
            seed=number("llm_bootstrap_seed", seed, DEFAULT_SEED, int, lambda v: True, "a whole number"),
        )


def compare_means(old: Sequence[float], new: Sequence[float], settings: StatSettings | None = None) -> Interval:
    """The interval of mean(new) - mean(old) by the configured method (at least 2 samples per side)."""
    settings = settings or StatSettings()
    if _check_method(settings.method) == "bootstrap":
        return bootstrap(old, new, settings.alpha, resamples=settings.resamples, seed=settings.seed)
    return welch(old, new, settings.alpha)
