"""The assertions a test imports from ``pytest_llmops``: ``assert_schema``, ``assert_faithful`` and
``assert_judge``.

Each one checks, records a score against the running test (``scores.record_score``: metric, value,
source, the lineage of the prompt under test and the model whose output was checked), and fails
like pytest's own assertions: an ``AssertionError`` whose message says what was expected and what
came, with the library's frames hidden from the traceback. Outside a pytest test they work the same
and record nothing.

| assertion | metric | value |
| --- | --- | --- |
| ``assert_schema`` | ``schema`` | 1.0 pass, 0.0 fail |
| ``assert_faithful`` | ``faithfulness`` | the faithfulness score (0..1) |
| ``assert_judge`` | ``judge`` (``metric=``) | the judge's median score on its scale |

A score that could not be computed (the judge's verdict unreadable, a provider error) is recorded
unscored (value ``None``), never as 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .faithfulness import DEFAULT_THRESHOLD, FaithfulnessResult, check_faithfulness
from .judge import (
    DEFAULT_SCALE,
    Judge,
    JudgeScore,
    _check_scale,
    _clip,
    _fmt,
    running_judge,
    subject_model,
)
from .scores import record_score

if TYPE_CHECKING:  # pragma: no cover
    import pydantic

__all__ = [
    "FaithfulnessAssertionError",
    "JudgeAssertionError",
    "assert_faithful",
    "assert_judge",
    "assert_schema",
]

METHODS = ("offline", "judge")


class FaithfulnessAssertionError(AssertionError):
    """``assert_faithful`` failed: ``result`` is the :class:`~pytest_llmops.faithfulness.FaithfulnessResult`
    (its ``unsupported`` claims, each with its nearest evidence and reasons)."""

    def __init__(self, message: str, result: FaithfulnessResult) -> None:
        super().__init__(message)
        self.result = result


class JudgeAssertionError(AssertionError):
    """``assert_judge`` failed: the judge's score is below ``min_score``. ``score`` is the
    :class:`~pytest_llmops.judge.JudgeScore`."""

    def __init__(self, message: str, score: JudgeScore, min_score: float) -> None:
        super().__init__(message)
        self.score = score
        self.min_score = min_score


FaithfulnessAssertionError.__module__ = JudgeAssertionError.__module__ = "pytest_llmops"


def assert_schema(
    value: Any,
    schema: Mapping[str, Any] | bool | type[pydantic.BaseModel],
    *,
    extract: bool = True,
) -> Any:
    """Assert that ``value`` (JSON text, parsed data or a Pydantic instance) matches ``schema`` (a
    JSON Schema dict or a Pydantic model class) and return the validated data; see
    :func:`pytest_llmops.schema.assert_schema` and docs/schema.md.

    Records metric ``schema``: 1.0 when it matches, 0.0 when it does not (then it raises
    :class:`~pytest_llmops.schema.SchemaAssertionError` listing every violation). A broken schema
    (``InvalidSchemaError``) records nothing: the test is wrong, not the output.
    """
    __tracebackhide__ = True
    from . import schema as _schema

    try:
        data = _schema.assert_schema(value, schema, extract=extract)
    except _schema.SchemaAssertionError as exc:
        record_score(
            "schema",
            0.0,
            source="schema",
            reason=str(exc).splitlines()[0],
            details={"violations": [str(v) for v in exc.violations]},
            model=subject_model(),
        )
        raise
    record_score("schema", 1.0, source="schema", model=subject_model())
    return data


def assert_faithful(
    answer: str,
    context: str | Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    method: str = "offline",
    judge: Judge | None = None,
) -> FaithfulnessResult:
    """Assert that ``context`` (a text, or retrieved passages) supports every claim of ``answer``.

    ``method="offline"`` (default): :func:`pytest_llmops.faithfulness.check_faithfulness`, no model
    call (docs/faithfulness.md). ``method="judge"``: a judge model lists the claims and checks each
    against the context (``judge``, else the running test's ``llm_judge``; the call is recorded in
    the cassette like any other). Passes when the score reaches ``threshold`` and no claim is
    unsupported.

    Records metric ``faithfulness`` (the score, 0..1) and returns the result. Fails with
    :class:`FaithfulnessAssertionError`, listing each unsupported claim with its nearest evidence
    and the reasons.
    """
    __tracebackhide__ = True
    if method == "offline":
        result = check_faithfulness(answer, context, threshold=threshold)
        record_score(
            "faithfulness",
            result.score,
            source="faithfulness",
            details={
                "method": "offline",
                "threshold": threshold,
                "claims": len(result.claims),
                "unsupported": [c.claim for c in result.unsupported],
            },
            model=subject_model(),
        )
    elif method == "judge":
        judge = judge if judge is not None else running_judge('assert_faithful(method="judge")')
        result = judge.check_faithfulness(answer, context, threshold=threshold, metric="faithfulness")
    else:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if not result.passed:
        raise FaithfulnessAssertionError(result.explain(), result)
    return result


def assert_judge(
    output: Any,
    *,
    rubric: str,
    min_score: float,
    judge: Judge | None = None,
    **score_kwargs: Any,
) -> JudgeScore:
    """Assert that a judge model scores ``output`` at least ``min_score`` against ``rubric``.

    ``judge`` defaults to the running test's (the ``llm_judge`` fixture's, or one built from
    ``llm_judge_model``; the test needs its cassette, so its judge calls record and replay).
    ``score_kwargs`` go to :meth:`Judge.score`: ``scale=(1, 5)``, ``n`` samples (median),
    ``context``, ``question``, ``metric="judge"``.

    Records the score and returns the :class:`~pytest_llmops.judge.JudgeScore`. Fails with
    :class:`JudgeAssertionError` showing the rubric, score (samples and spread), min_score, the
    judge's reason and model; a verdict that cannot be read raises ``JudgeError`` (recorded unscored).
    """
    __tracebackhide__ = True
    lo, hi = _check_scale(score_kwargs.get("scale", DEFAULT_SCALE))
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not lo <= min_score <= hi:
        raise ValueError(f"min_score must be a number on the scale {_fmt(lo)}-{_fmt(hi)}, got {min_score!r}")
    judge = judge if judge is not None else running_judge("assert_judge")
    details = dict(score_kwargs.pop("details", None) or {})
    details["min_score"] = min_score
    score = judge.score(output, rubric=rubric, details=details, **score_kwargs)
    if score.value < min_score:
        lines = [f"judge score {_fmt(score.value)} is below min_score {_fmt(min_score)}"]
        lines.extend("  " + line for line in score.explain())
        text = output if isinstance(output, str) else repr(output)
        lines.append(f"  output: {_clip(text)!r}")
        raise JudgeAssertionError("\n".join(lines), score, min_score)
    return score
