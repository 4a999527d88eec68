"""Scores: what an assertion or a judge measured, recorded against the running test.

Every built-in assertion (``assert_faithful``, ``assert_judge``, ``assert_schema``) and
``llm_baseline.check`` produce a ``Score``. A score that could not be computed (an unparseable judge
verdict, a provider error) is ``Score.unscored(...)``: its value is ``None``, never a fake 0, and the
baseline and reports count it separately.

A repeated test (``--llm-repeat N``, ``@pytest.mark.llm(repeat=N)``) runs its body N times; the k-th
score of a metric in each repetition is merged into one ``Score`` whose ``samples`` are those of
every repetition (``unscored_samples`` counts the repetitions that could not score it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .context import current

__all__ = ["Score", "format_change", "format_score", "merge_scores", "record_score"]


@dataclass(frozen=True)
class Score:
    """One measured metric of one test.

    ``value`` is the score (the mean of ``samples`` when there are several; a judge's is their
    median), or ``None`` when the metric could not be computed (then ``reason`` says why).
    ``unscored_samples``: how many samples could not be computed (never counted as 0; a score
    recorded as ``None`` has 1).
    """

    metric: str
    value: float | None
    samples: tuple[float, ...] = ()
    test: str = ""
    model: str | None = None
    prompt: str | None = None
    prompt_digest: str | None = None
    source: str = ""  # what produced it: "faithfulness", "judge", "schema", "check"
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    ts: float = field(default_factory=time.time, compare=False)
    unscored_samples: int = 0

    @property
    def scored(self) -> bool:
        return self.value is not None

    @classmethod
    def unscored(cls, metric: str, reason: str, **kwargs: Any) -> Score:
        kwargs.setdefault("unscored_samples", 1)
        return cls(metric=metric, value=None, reason=reason, **kwargs)


def format_score(value: float | None) -> str:
    """A score as people read it: 0.92, 4, 0.8333 (never 0.9200000000000002); ``?`` when unscored."""
    if value is None:
        return "?"
    text = f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.3g}"
    return "0" if text in ("-0", "") else text


def format_change(value: float, zero: str = "0") -> str:
    """A change with its sign: +0.03, -0.2, and ``zero`` for no change."""
    text = format_score(abs(value))
    return zero if text == "0" else ("+" if value > 0 else "-") + text


def _check_number(metric: str, value: float, where: str = "") -> float:
    __tracebackhide__ = True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"score {metric!r}{where} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(
            f"score {metric!r}{where} is {value!r}: a score must be a finite number. "
            f"If it could not be computed, record it as unscored instead: None (llm_baseline.check({metric!r}, None), "
            f"or None in a list of samples), never 0."
        )
    return float(value)


def _samples(metric: str, values: Sequence[Any]) -> tuple[tuple[float, ...], int]:
    """The numbers of a list of samples, and how many are None (unscored samples)."""
    __tracebackhide__ = True
    if not values:
        raise ValueError(
            f"score {metric!r}: the list of samples is empty; give at least one number, "
            f"or None if the score could not be computed"
        )
    numbers = []
    for i, v in enumerate(values):
        if v is not None:
            numbers.append(_check_number(metric, v, f" (sample {i + 1} of {len(values)})"))
    return tuple(numbers), len(values) - len(numbers)


def merge_scores(first: Score, later: Score) -> Score:
    """One score from two recordings of the same metric (repetitions of a test): the samples of
    both, the unscored samples of both; the value is the mean of all samples (``None`` if none was
    scored). Lineage and details come from ``first``. ``reason``: a scored sample's reason (a
    judge's), or why nothing was scored; ``details["unscored_reason"]`` keeps the first reason a
    sample could not be scored."""
    samples = first.samples + later.samples
    value = math.fsum(samples) / len(samples) if samples else None
    details = dict(first.details)
    if "unscored_reason" not in details:
        why = first.reason if first.value is None else (later.reason if later.value is None else "")
        if why:
            details["unscored_reason"] = why
    if value is None:
        reason = first.reason or later.reason
    else:
        reason = first.reason if first.value is not None else later.reason
    return replace(first, value=value, samples=samples, unscored_samples=first.unscored_samples + later.unscored_samples,
                   reason=reason, details=details, model=first.model or later.model,
                   prompt=first.prompt or later.prompt, prompt_digest=first.prompt_digest or later.prompt_digest)


def _add(ctx: Any, score: Score) -> Score:
    """Record ``score`` in the running test; in repetition k > 1 of a repeated test, the j-th score
    of a metric joins the j-th score of that metric recorded so far. Returns what was stored."""
    episode = getattr(ctx, "episode", None)
    if not episode or episode <= 1:
        ctx.scores.append(score)
        return score
    counts = ctx.episode_counts
    ordinal = counts[score.metric] = counts.get(score.metric, 0) + 1
    same = [i for i, s in enumerate(ctx.scores) if s.metric == score.metric]
    if len(same) < ordinal:
        ctx.scores.append(score)
        return score
    index = same[ordinal - 1]
    merged = merge_scores(ctx.scores[index], score)
    ctx.scores[index] = merged
    return merged


_FROM_CONTEXT: Any = object()


def record_score(
    metric: str,
    value: float | Sequence[float | None] | None,
    *,
    source: str = "check",
    reason: str = "",
    details: dict[str, Any] | None = None,
    samples: Sequence[float] | None = None,
    model: Any = _FROM_CONTEXT,
) -> Score:
    """Build a ``Score`` for the running test (lineage filled from its context) and record it.

    ``value`` may be one number, a list of samples (the value is their mean; a ``None`` in it is an
    unscored sample, counted apart, never as 0), or ``None`` for an unscored metric (give
    ``reason``). NaN, infinities and an empty list raise ``ValueError``. Outside a pytest test
    nothing is recorded. Returns the score as stored (in a repeated test: merged with the earlier
    repetitions' samples).
    ``samples`` keeps the samples behind a single ``value`` computed otherwise (a judge's median of
    n samples); ``model`` overrides the model taken from the test's calls (the model whose output
    was scored, when the test also called a judge model).
    """
    __tracebackhide__ = True
    unscored = 0
    if value is None:
        samples = ()
        mean = None
        unscored = 1
    elif isinstance(value, (list, tuple)):
        samples, unscored = _samples(metric, value)
        mean = math.fsum(samples) / len(samples) if samples else None
        if mean is None and not reason:
            reason = f"none of the {len(value)} samples could be scored"
    else:
        mean = _check_number(metric, value)  # type: ignore[arg-type]
        samples = (mean,) if samples is None else tuple(_check_number(metric, v) for v in samples)
    ctx = current()
    lineage = ((ctx.prompt_under_test or ctx.active_prompt) if ctx else None) or {}
    models = ctx.models if ctx else []
    score = Score(
        metric=metric,
        value=mean,
        samples=samples,
        test=ctx.nodeid if ctx else "",
        model=(models[-1] if models else None) if model is _FROM_CONTEXT else model,
        prompt=lineage.get("prompt"),
        prompt_digest=lineage.get("prompt_digest"),
        source=source,
        reason=reason,
        details=details or {},
        unscored_samples=unscored,
    )
    if ctx is not None:
        score = _add(ctx, score)
    return score
