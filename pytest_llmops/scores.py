"""Scores: what an assertion or a judge measured, recorded against the running test.

Every built-in assertion (``assert_faithful``, ``assert_judge``, ``assert_schema``) and
``llm_baseline.check`` produce a ``Score``. A score that could not be computed (an unparseable judge
verdict, a provider error) is ``Score.unscored(...)``: its value is ``None``, never a fake 0, and the
baseline and reports count it separately.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .context import current

__all__ = ["Score", "record_score"]


@dataclass(frozen=True)
class Score:
    """One measured metric of one test.

    ``value`` is the score (the mean of ``samples`` when there are several; a judge's is their
    median), or ``None`` when the metric could not be computed (then ``reason`` says why).
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

    @property
    def scored(self) -> bool:
        return self.value is not None

    @classmethod
    def unscored(cls, metric: str, reason: str, **kwargs: Any) -> Score:
        return cls(metric=metric, value=None, reason=reason, **kwargs)


def _check_number(metric: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"score {metric!r} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(
            f"score {metric!r} is {value!r}: a score must be a finite number. "
            f"If it could not be computed, record it as unscored (Score.unscored) instead."
        )
    return float(value)


_FROM_CONTEXT: Any = object()


def record_score(
    metric: str,
    value: float | Sequence[float] | None,
    *,
    source: str = "check",
    reason: str = "",
    details: dict[str, Any] | None = None,
    samples: Sequence[float] | None = None,
    model: Any = _FROM_CONTEXT,
) -> Score:
    """Build a ``Score`` for the running test (lineage filled from its context) and record it.

    ``value`` may be one number, a list of samples (the value is their mean), or ``None`` for an
    unscored metric (give ``reason``). Outside a pytest test nothing is recorded.
    ``samples`` keeps the samples behind a single ``value`` computed otherwise (a judge's median of
    n samples); ``model`` overrides the model taken from the test's calls (the model whose output
    was scored, when the test also called a judge model).
    """
    if value is None:
        samples = ()
        mean = None
    elif isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"score {metric!r}: the list of samples is empty")
        samples = tuple(_check_number(metric, v) for v in value)
        mean = sum(samples) / len(samples)
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
    )
    if ctx is not None:
        ctx.scores.append(score)
    return score
