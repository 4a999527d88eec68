"""LLM-as-judge: score an output against a rubric with a pinned model, through the test's cassette.

``Judge`` is a plain object: a provider (``"openai"`` or ``"anthropic"``), a pinned model, an SDK
client (the SDK's default client from the environment, built on first use, or one passed in) and
two versioned prompts:

* ``judge`` (the rubric prompt) for :meth:`Judge.score`: grade one output against a rubric on a
  numeric scale; the verdict is ``{"reason": ..., "score": ...}``;
* ``faithfulness-claims`` for :meth:`Judge.check_faithfulness` (``assert_faithful(...,
  method="judge")``): split an answer into claims and check each one against the context.

Both ship with the package (``pytest_llmops/data/prompts/<name>/v1.yaml``); a prompt of the same
name in the project's ``llm_prompt_dir`` replaces them (its latest version is used, and it is locked
like any other prompt). Each call asks for structured output: with Anthropic the prompt's tool is
forced (``tool_choice`` names it); with OpenAI the tool's JSON schema becomes ``response_format``
``json_schema``. A verdict that comes back as text anyway is read with
:func:`pytest_llmops.jsonparse.extract_json_with_info` (fences, prose, cheap repairs). A verdict that
cannot be read, or a score outside the scale, raises :class:`JudgeError`: never a silent 0, and the
score is recorded as unscored.

Judge calls are ordinary SDK calls made inside the test: the cassette records and replays them like
the application's own calls (``n`` samples are ``n`` identical requests, replayed in recorded order).

Importing this module imports neither SDK; the client is built on first use.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import TestContext, current
from .errors import LLMOpsError
from .faithfulness import DEFAULT_THRESHOLD, ClaimCheck, FaithfulnessResult
from .jsonparse import JSONExtractionError, extract_json_with_info
from .scores import record_score

if TYPE_CHECKING:  # pragma: no cover
    from .prompts import Prompt, PromptRegistry

__all__ = [
    "CLAIMS_PROMPT",
    "DEFAULT_SCALE",
    "PACKAGED_PROMPTS",
    "RUBRIC_PROMPT",
    "Judge",
    "JudgeConfigError",
    "JudgeError",
    "JudgeFaithfulnessResult",
    "JudgeScore",
    "Verdict",
    "judge_from_config",
    "parse_claims",
    "parse_model",
    "parse_verdict",
    "running_judge",
]

#: Folder of the prompts shipped with the package.
PACKAGED_PROMPTS = Path(__file__).parent / "data" / "prompts"
#: Name of the rubric prompt (:meth:`Judge.score`).
RUBRIC_PROMPT = "judge"
#: Name of the claim-checking prompt (:meth:`Judge.check_faithfulness`).
CLAIMS_PROMPT = "faithfulness-claims"
#: Scale of :meth:`Judge.score` when none is given.
DEFAULT_SCALE: tuple[int, int] = (1, 5)
#: Value of a template variable that was not given (question, context).
NOT_GIVEN = "(none)"
#: The ``model:`` of the packaged prompts: not a model, the judge's comes from ``llm_judge_model``.
MODEL_PLACEHOLDER = "llm_judge_model"
PROVIDERS = ("openai", "anthropic")

_INI_EXAMPLE = 'llm_judge_model = "openai:gpt-4o-mini"'
_OPENAI_NAME = re.compile(r"(gpt|chatgpt|o\d|ft:|text-|davinci|babbage|codex|computer-use)", re.IGNORECASE)
_ANTHROPIC_NAME = re.compile(r"claude", re.IGNORECASE)
_CLAIM_VERDICTS = {"supported": 1.0, "partial": 0.5, "unsupported": 0.0}
_RAW_SHOWN = 300


# --------------------------------------------------------------------------------------------------
# Errors


class JudgeError(LLMOpsError, AssertionError):
    """The judge gave no usable verdict: unreadable output, a score outside the scale, a refusal.

    An ``AssertionError``, so the test fails (it does not error) and a live recording is kept: the
    replay then shows the same verdict. Attributes: ``raw`` (what the judge wrote), ``model``,
    ``prompt`` (``name@version`` of the judge prompt), ``sample`` (1-based).
    """

    def __init__(
        self, message: str, *, raw: str | None = None, model: str | None = None, prompt: str | None = None,
        sample: int | None = None,
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.model = model
        self.prompt = prompt
        self.sample = sample


class JudgeConfigError(LLMOpsError, ValueError):
    """The judge cannot be set up: no model configured, an unknown provider, a judge prompt without
    the variables the judge fills, no cassette for a judge call in a test."""


JudgeError.__module__ = JudgeConfigError.__module__ = "pytest_llmops"


# --------------------------------------------------------------------------------------------------
# Model


def parse_model(spec: str, provider: str | None = None) -> tuple[str, str]:
    """``"openai:gpt-4o-mini"`` -> ``("openai", "gpt-4o-mini")``; a bare name gets its provider from
    its family (``gpt-*``, ``o1``/``o3``/``o4*``, ``ft:*`` -> openai; ``claude*`` -> anthropic)."""
    text = (spec or "").strip()
    head, sep, rest = text.partition(":")
    if sep and head.strip().lower() in PROVIDERS:
        named, text = head.strip().lower(), rest.strip()
        if provider is not None and provider != named:
            raise JudgeConfigError(f"judge model {spec!r} names provider {named!r}, but provider={provider!r} was given")
        provider = named
    if not text:
        raise JudgeConfigError(f"judge model {spec!r} names no model; write it as provider:model, e.g. {_INI_EXAMPLE}")
    if provider is None:
        if _ANTHROPIC_NAME.match(text):
            provider = "anthropic"
        elif _OPENAI_NAME.match(text):
            provider = "openai"
        else:
            raise JudgeConfigError(
                f"cannot tell the provider of judge model {text!r}: write it as openai:{text} or anthropic:{text} "
                f"(llm_judge_model = \"openai:{text}\")"
            )
    if provider not in PROVIDERS:
        raise JudgeConfigError(f"judge provider must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    return provider, text


def _provider_of_client(client: Any) -> str | None:
    module = type(client).__module__.split(".")[0]
    return module if module in PROVIDERS else None


_clients: dict[tuple[str | None, ...], Any] = {}


def _default_client(provider: str) -> Any:
    """The SDK's default client for ``provider`` (base URL and key from the environment), one per
    environment: building a client loads the CA bundle, which costs tens of milliseconds."""
    names = ("OPENAI_BASE_URL", "OPENAI_API_KEY") if provider == "openai" else ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")
    key = (provider, *(os.environ.get(n) for n in names))
    if key not in _clients:
        if provider == "openai":
            import openai

            _clients[key] = openai.OpenAI()
        else:
            import anthropic

            _clients[key] = anthropic.Anthropic()
    return _clients[key]


# --------------------------------------------------------------------------------------------------
# Prompts


_packaged_registry: PromptRegistry | None = None


def _packaged() -> PromptRegistry:
    global _packaged_registry
    if _packaged_registry is None:
        from .prompts import PromptRegistry

        _packaged_registry = PromptRegistry(PACKAGED_PROMPTS)
    return _packaged_registry


#: (ref, digest) of every prompt a judge has used: their calls are not the output under test.
_JUDGE_LINEAGES: set[tuple[str, str]] = set()


def subject_model(ctx: TestContext | None = None) -> str | None:
    """The model of the test's last provider call that was not a judge's: the model whose output a
    score is about (``None`` when the test made no such call)."""
    ctx = ctx if ctx is not None else current()
    for exchange in reversed(ctx.exchanges if ctx is not None else []):
        lineage = getattr(exchange, "prompt", None) or {}
        if (lineage.get("prompt"), lineage.get("prompt_digest")) in _JUDGE_LINEAGES:
            continue
        model = getattr(exchange, "model", None)
        if model:
            return model
    return None


# --------------------------------------------------------------------------------------------------
# Verdicts


@dataclass(frozen=True)
class Verdict:
    """One verdict read from a judge: ``score`` on the scale, ``reason``, and ``found`` (where the
    JSON came from when it was not clean structured output, e.g. "the ```json fenced block at line 2")."""

    score: float
    reason: str
    found: str = ""


def _clip(text: str, limit: int = _RAW_SHOWN) -> str:
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_json(raw: str | Mapping[str, Any]) -> tuple[Any, str]:
    """The JSON value of a verdict and where it was found ("" for clean JSON or tool arguments)."""
    if isinstance(raw, Mapping):
        return dict(raw), ""
    try:
        value, info = extract_json_with_info(raw)
    except JSONExtractionError as exc:
        raise JudgeError(f"no JSON verdict in the judge's answer: {str(exc).splitlines()[0].rstrip('.')}") from None
    found = "" if info.source == "whole" and not info.repairs else info.describe()
    return value, found


def _check_scale(scale: Any) -> tuple[float, float]:
    try:
        lo, hi = scale
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a pair (lowest, highest), e.g. (1, 5), got {scale!r}") from None
    if not (_is_number(lo) and _is_number(hi) and math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"scale must be two finite numbers, lowest first, e.g. (1, 5), got {scale!r}")
    return lo, hi


def parse_verdict(raw: str | Mapping[str, Any], scale: Sequence[float] = DEFAULT_SCALE) -> Verdict:
    """Read a rubric verdict: tool arguments (a mapping) or the judge's text, which may hold the JSON
    object bare, in a fence or inside prose, possibly needing a cheap repair.

    The object needs a ``score``: a number (or a numeric string) within ``scale``; ``reason`` is a
    string (optional). Raises :class:`JudgeError` saying what is wrong, never returns a made-up score.
    """
    lo, hi = _check_scale(scale)
    data, found = _read_json(raw)
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else f"a {type(data).__name__}"
        raise JudgeError(f'the judge\'s verdict is {kind}, not an object {{"reason": ..., "score": ...}}')
    if "score" not in data:
        keys = ", ".join(repr(k) for k in data) or "none"
        raise JudgeError(f'the judge\'s verdict has no "score" (keys: {keys})')
    score = data["score"]
    if isinstance(score, str):
        try:
            score = float(score.strip())
        except ValueError:
            raise JudgeError(f'the judge\'s "score" is {data["score"]!r}, not a number') from None
        found = ", ".join(x for x in (found, "score given as a string") if x)
    if not _is_number(score):
        raise JudgeError(f'the judge\'s "score" is {json.dumps(data["score"])}, not a number')
    if not math.isfinite(score):
        raise JudgeError(f'the judge\'s "score" is {score!r}, not a finite number')
    if not lo <= score <= hi:
        raise JudgeError(f"the judge's score {_fmt(score)} is outside the scale {_fmt(lo)}-{_fmt(hi)}")
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        reason = json.dumps(reason, ensure_ascii=False)
    return Verdict(float(score), reason.strip(), found)


def parse_claims(raw: str | Mapping[str, Any]) -> tuple[list[ClaimCheck], str]:
    """Read a faithfulness-claims verdict: ``{"claims": [{"claim", "verdict", "evidence", "reason"}]}``
    (``verdict`` supported / partial / unsupported, or ``"supported": true/false``). Returns the
    claims as :class:`~pytest_llmops.faithfulness.ClaimCheck` (scores 1, 0.5, 0) and where the JSON
    was found. Raises :class:`JudgeError`."""
    data, found = _read_json(raw)
    claims = data.get("claims") if isinstance(data, dict) else data if isinstance(data, list) else None
    if not isinstance(claims, list):
        raise JudgeError('the judge\'s verdict has no "claims" list')
    checks: list[ClaimCheck] = []
    for i, item in enumerate(claims, 1):
        if not isinstance(item, dict):
            raise JudgeError(f"claim {i} of the judge's verdict is not an object: {_clip(json.dumps(item), 80)}")
        claim = item.get("claim")
        if not isinstance(claim, str) or not claim.strip():
            raise JudgeError(f'claim {i} of the judge\'s verdict has no "claim" text')
        verdict = item.get("verdict")
        if isinstance(verdict, str) and verdict.strip().lower() in _CLAIM_VERDICTS:
            score = _CLAIM_VERDICTS[verdict.strip().lower()]
        elif verdict is None and isinstance(item.get("supported"), bool):
            score = 1.0 if item["supported"] else 0.0
        else:
            raise JudgeError(
                f'claim {i} of the judge\'s verdict has "verdict" {json.dumps(verdict)}; expected one of '
                + ", ".join(_CLAIM_VERDICTS)
            )
        evidence = item.get("evidence") or ""
        reason = item.get("reason") or ""
        checks.append(
            ClaimCheck(
                claim=claim.strip(),
                supported=score > 0,
                score=score,
                evidence=evidence.strip() if isinstance(evidence, str) else json.dumps(evidence),
                reasons=((reason.strip() if isinstance(reason, str) else json.dumps(reason)),) if reason else (),
            )
        )
    return checks, found


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, eq=False)
class JudgeScore:
    """What :meth:`Judge.score` measured.

    ``value`` is the median of ``samples`` (one per call, ``n`` calls); ``spread`` their range
    (max - min, 0 for one sample); ``reason`` the judge's reason for the sample nearest the median
    (``reasons`` has them all); ``model`` the model that answered; ``raw`` what the judge wrote for
    each sample; ``prompt`` the judge prompt's lineage (``{"prompt": "judge@v1", "prompt_digest": ...}``).

    Compares with numbers by ``value`` (``assert score >= 4``; a failure shows the rubric, samples,
    reason and model), and ``float(score)`` is ``value``.
    """

    value: float
    samples: tuple[float, ...]
    spread: float
    reason: str
    model: str
    rubric: str = ""
    scale: tuple[float, float] = DEFAULT_SCALE
    reasons: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()
    prompt: dict[str, str] = field(default_factory=dict)
    #: Where a verdict was found when it was not clean structured output (one note per such sample).
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def stdev(self) -> float:
        """Population standard deviation of the samples (0 for one sample)."""
        return statistics.pstdev(self.samples) if len(self.samples) > 1 else 0.0

    @property
    def normalized(self) -> float:
        """``value`` mapped onto 0..1 (the scale's lowest -> 0, highest -> 1)."""
        lo, hi = self.scale
        return (self.value - lo) / (hi - lo)

    def describe(self) -> str:
        """``4`` or ``4 (median of 3 samples: 3, 4, 5; spread 2)``."""
        if len(self.samples) <= 1:
            return _fmt(self.value)
        shown = ", ".join(_fmt(s) for s in self.samples)
        return f"{_fmt(self.value)} (median of {len(self.samples)} samples: {shown}; spread {_fmt(self.spread)})"

    def explain(self) -> list[str]:
        """Lines for a failure message: rubric, score, reason, model."""
        lines = [
            f"rubric: {_clip(self.rubric)}",
            f"score:  {self.describe()} on the scale {_fmt(self.scale[0])}-{_fmt(self.scale[1])}",
            f"reason: {_clip(self.reason) or '(none given)'}",
            f"model:  {self.model}" + (f" (judge prompt {self.prompt['prompt']})" if self.prompt.get("prompt") else ""),
        ]
        lines.extend(f"note:   {note}" for note in self.notes)
        return lines

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return f"JudgeScore({self.describe()}, scale {_fmt(self.scale[0])}-{_fmt(self.scale[1])}, model {self.model})"

    def _key(self) -> tuple[Any, ...]:
        return (self.value, self.samples, self.reasons, self.model, self.rubric, self.scale)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JudgeScore):
            return self._key() == other._key()
        if _is_number(other):
            return self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Any) -> bool:
        return self.value < float(other) if _is_number(other) or isinstance(other, JudgeScore) else NotImplemented

    def __le__(self, other: Any) -> bool:
        return self.value <= float(other) if _is_number(other) or isinstance(other, JudgeScore) else NotImplemented

    def __gt__(self, other: Any) -> bool:
        return self.value > float(other) if _is_number(other) or isinstance(other, JudgeScore) else NotImplemented

    def __ge__(self, other: Any) -> bool:
        return self.value >= float(other) if _is_number(other) or isinstance(other, JudgeScore) else NotImplemented


@dataclass(frozen=True)
class JudgeFaithfulnessResult(FaithfulnessResult):
    """A :class:`~pytest_llmops.faithfulness.FaithfulnessResult` whose claims a judge model checked:
    claim scores are 1 (supported), 0.5 (partial) or 0 (unsupported); ``score`` is their mean."""

    model: str = ""
    prompt: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    notes: tuple[str, ...] = ()

    def explain(self) -> str:
        text = super().explain()
        by = f"judged by {self.model}" + (f" with prompt {self.prompt['prompt']}" if self.prompt.get("prompt") else "")
        return text + ("\n  " if "\n" in text else "; ") + by + "".join(f"\n  note: {n}" for n in self.notes)


def assertrepr_compare(op: str, left: Any, right: Any) -> list[str] | None:
    """For ``pytest_assertrepr_compare``: a JudgeScore compared with a number."""
    if op not in ("<", "<=", ">", ">=", "==", "!="):
        return None
    if isinstance(left, JudgeScore) and _is_number(right):
        score = left
    elif isinstance(right, JudgeScore) and _is_number(left):
        score = right
    else:
        return None
    shown = [_fmt(x) if _is_number(x) else f"judge score {_fmt(x.value)}" for x in (left, right)]
    return [f"{shown[0]} {op} {shown[1]}", *score.explain()]


# --------------------------------------------------------------------------------------------------
# The judge


@dataclass
class _Answer:
    raw: str
    data: Any  # tool arguments (a dict) or None: read ``raw``
    model: str
    finish: str | None
    refusal: str | None


class Judge:
    """An LLM judge: a pinned model, its client, and its versioned prompts.

    ``Judge("openai:gpt-4o-mini")``, ``Judge("claude-haiku-4-5")`` (provider from the name) or
    ``Judge("my-model", provider="openai", client=openai.OpenAI(base_url=...))``. ``prompts`` is the
    project's prompt registry (or folder): a ``judge`` / ``faithfulness-claims`` prompt there replaces
    the packaged one. ``prompt`` / ``claims_prompt`` pick other prompts (``"name"``, ``"name@v2"`` or
    a ``Prompt``). Without ``model``, the ``model:`` of a project's own judge prompt is used; the
    packaged prompts name none.

    In a pytest test, take the ``llm_judge`` fixture: it builds the judge from ``llm_judge_model`` and
    the test's cassette records and replays its calls.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        provider: str | None = None,
        client: Any = None,
        prompts: PromptRegistry | str | os.PathLike[str] | None = None,
        prompt: str | Prompt = RUBRIC_PROMPT,
        claims_prompt: str | Prompt = CLAIMS_PROMPT,
        _where: str = "",
    ) -> None:
        from .prompts import PromptRegistry

        if prompts is None or isinstance(prompts, PromptRegistry):
            self.prompts = prompts
        else:
            self.prompts = PromptRegistry(Path(prompts))
        self.rubric_prompt = self._resolve(prompt, ("output", "rubric"))
        self._claims_spec = claims_prompt
        self._claims_prompt: Prompt | None = None
        if provider is None and client is not None:
            provider = _provider_of_client(client)
        if not model and self.rubric_prompt.original_model != MODEL_PLACEHOLDER:
            model = self.rubric_prompt.model
        if not model:
            raise JudgeConfigError(
                "no judge model is set" + (f" ({_where})" if _where else "") + ": add llm_judge_model to the pytest "
                f"configuration, e.g. under [tool.pytest.ini_options] in pyproject.toml:\n    {_INI_EXAMPLE}\n"
                "or `llm_judge_model = openai:gpt-4o-mini` under [pytest] in pytest.ini (provider:model; a bare "
                "gpt-*/o*/claude-* name names its provider). Or pass Judge(model=...)."
            )
        self.provider, self.model = parse_model(model, provider)
        self._client = client

    def __repr__(self) -> str:
        return f"<Judge {self.provider}:{self.model} prompt={self.rubric_prompt.ref}>"

    # -- set-up ---------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The SDK client (the SDK's default one from the environment unless one was given)."""
        if self._client is None:
            self._client = _default_client(self.provider)
        return self._client

    @property
    def claims_prompt(self) -> Prompt:
        if self._claims_prompt is None:
            self._claims_prompt = self._resolve(self._claims_spec, ("answer", "context"))
        return self._claims_prompt

    def _resolve(self, spec: str | Prompt, needs: tuple[str, ...]) -> Prompt:
        from .prompts import Prompt

        if isinstance(spec, Prompt):
            prompt = spec
        else:
            name, _, version = str(spec).partition("@")
            registry = self.prompts if self.prompts is not None and name in self.prompts else _packaged()
            prompt = registry.get(name, version or None)
        missing = [v for v in needs if v not in prompt.variables]
        if missing:
            where = f" ({prompt.path})" if prompt.path else ""
            raise JudgeConfigError(
                f"judge prompt {prompt.ref}{where} has no {' and '.join('{{ ' + m + ' }}' for m in missing)}: "
                f"the judge fills {', '.join(needs)} (docs/judge.md)"
            )
        return prompt

    # -- scoring --------------------------------------------------------------------------------
    def score(
        self,
        output: Any,
        *,
        rubric: str,
        scale: Sequence[float] = DEFAULT_SCALE,
        n: int = 1,
        context: str | Sequence[str] | None = None,
        question: str | None = None,
        metric: str | None = "judge",
        details: Mapping[str, Any] | None = None,
    ) -> JudgeScore:
        """Grade ``output`` against ``rubric`` on ``scale`` (lowest, highest); ``n`` calls, the value
        is their median. ``question`` and ``context`` help the judge understand the task.

        Inside a test the score is recorded as ``metric`` (``None``: not recorded), with the judge's
        model, prompt, samples and reason in its details (plus ``details``). Raises
        :class:`JudgeError` (recorded as unscored) when a verdict cannot be read or is off the scale.
        """
        __tracebackhide__ = True
        lo, hi = _check_scale(scale)
        if not isinstance(rubric, str) or not rubric.strip():
            raise ValueError("rubric must be a non-empty string: what the output should do")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n!r}")
        prompt = self.rubric_prompt
        variables = {
            "output": _as_text(output, "output"),
            "rubric": rubric.strip(),
            "scale_min": _fmt(lo),
            "scale_max": _fmt(hi),
            "question": question if question else NOT_GIVEN,
            "context": _context_text(context) or NOT_GIVEN,
        }
        extra = {"rubric": rubric.strip(), "scale": [lo, hi], **(details or {})}
        verdicts: list[Verdict] = []
        answers: list[_Answer] = []
        try:
            for i in range(n):
                answer = self._ask(prompt, variables)
                try:
                    verdicts.append(parse_verdict(answer.data if answer.data is not None else answer.raw, (lo, hi)))
                except JudgeError as exc:
                    raise self._unreadable(exc, answer, prompt, i + 1, n) from None
                answers.append(answer)
        except BaseException as exc:
            if metric and isinstance(exc, Exception):
                self._record_unscored(metric, exc, prompt, extra)
            raise
        samples = tuple(v.score for v in verdicts)
        value = float(statistics.median(samples))
        nearest = min(range(len(samples)), key=lambda i: abs(samples[i] - value))
        notes = tuple(
            (f"sample {i + 1}: " if n > 1 else "") + f"verdict read from {v.found}" for i, v in enumerate(verdicts) if v.found
        )
        result = JudgeScore(
            value=value,
            samples=samples,
            spread=max(samples) - min(samples),
            reason=verdicts[nearest].reason,
            model=answers[nearest].model,
            rubric=rubric.strip(),
            scale=(lo, hi),
            reasons=tuple(v.reason for v in verdicts),
            raw=tuple(a.raw for a in answers),
            prompt=dict(prompt.lineage),
            notes=notes,
        )
        if metric:
            record_score(
                metric,
                value,
                samples=samples,
                source="judge",
                reason=result.reason,
                details={
                    **extra,
                    "judge_model": result.model,
                    "judge_prompt": prompt.ref,
                    "judge_prompt_digest": prompt.digest,
                    "spread": result.spread,
                    "reasons": list(result.reasons),
                    **({"notes": list(notes)} if notes else {}),
                },
                model=subject_model(),
            )
        return result

    def check_faithfulness(
        self,
        answer: str,
        context: str | Sequence[str],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        metric: str | None = None,
    ) -> JudgeFaithfulnessResult:
        """The judge's take on :func:`pytest_llmops.faithfulness.check_faithfulness`: the model splits
        ``answer`` into claims and checks each against ``context`` (supported 1, partial 0.5,
        unsupported 0; the score is their mean, 1.0 for an answer without claims). ``passed`` as
        offline: score >= threshold and no unsupported claim. ``metric``: record the score under
        that name (``assert_faithful`` records "faithfulness")."""
        __tracebackhide__ = True
        if not isinstance(answer, str):
            raise TypeError(f"answer must be str, got {type(answer).__name__}")
        if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
            raise ValueError(f"threshold must be within 0..1, got threshold={threshold!r}")
        extra = {"method": "judge", "threshold": threshold}
        prompt = None
        try:
            prompt = self.claims_prompt
            reply = self._ask(prompt, {"answer": answer, "context": _context_text(context) or NOT_GIVEN})
            try:
                checks, found = parse_claims(reply.data if reply.data is not None else reply.raw)
            except JudgeError as exc:
                raise self._unreadable(exc, reply, prompt, 1, 1) from None
        except BaseException as exc:
            if metric and isinstance(exc, Exception):
                self._record_unscored(metric, exc, prompt, extra)
            raise
        score = sum(c.score for c in checks) / len(checks) if checks else 1.0
        result = JudgeFaithfulnessResult(
            score=round(score, 4),
            threshold=threshold,
            claims=tuple(checks),
            model=reply.model,
            prompt=dict(prompt.lineage),
            raw=reply.raw,
            notes=(f"verdict read from {found}",) if found else (),
        )
        if metric:
            record_score(
                metric,
                result.score,
                source="judge",
                details={
                    **extra,
                    "claims": len(checks),
                    "unsupported": [c.claim for c in result.unsupported],
                    "judge_model": result.model,
                    "judge_prompt": prompt.ref,
                    "judge_prompt_digest": prompt.digest,
                },
                model=subject_model(),
            )
        return result

    # -- calls ----------------------------------------------------------------------------------
    def request(self, prompt: Prompt, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the SDK call for ``prompt`` (``chat.completions.create`` or
        ``messages.create``): the judge's model, and the prompt's first tool (or the one its
        ``tool_choice`` names) as forced tool (Anthropic) or ``response_format`` json_schema (OpenAI)."""
        shape = "openai" if self.provider == "openai" else "anthropic"
        used = {k: v for k, v in variables.items() if k in prompt.variables}
        kwargs = prompt.call_kwargs(shape, **used)
        kwargs["model"] = self.model
        if shape == "openai" and prompt.tools:
            choice = prompt.params.get("tool_choice")
            name = choice.get("name") if isinstance(choice, dict) else None
            tool = next((t for t in prompt.tools if t["name"] == name), prompt.tools[0])
            for key in ("tools", "tool_choice", "parallel_tool_calls"):
                kwargs.pop(key, None)
            schema: dict[str, Any] = {"name": tool["name"]}
            if tool.get("description"):
                schema["description"] = tool["description"]
            schema["schema"] = tool["parameters"]
            schema["strict"] = _strict_compatible(tool["parameters"])
            kwargs["response_format"] = {"type": "json_schema", "json_schema": schema}
        return kwargs

    @contextmanager
    def _as_judge(self, prompt: Prompt) -> Iterator[None]:
        """The call is the judge's: its exchange carries the judge prompt's lineage, and the test's
        active prompt (the lineage of its later calls and scores) is left as it was."""
        _JUDGE_LINEAGES.add((prompt.ref, prompt.digest))
        ctx = current()
        saved = ctx.active_prompt if ctx is not None else None
        try:
            yield
        finally:
            if ctx is not None:
                ctx.active_prompt = saved

    def _ask(self, prompt: Prompt, variables: Mapping[str, Any]) -> _Answer:
        __tracebackhide__ = True
        with self._as_judge(prompt):
            kwargs = self.request(prompt, variables)
            if self.provider == "openai":
                return self._openai(kwargs)
            return self._anthropic(kwargs)

    def _openai(self, kwargs: dict[str, Any]) -> _Answer:
        reply = self.client.chat.completions.create(**kwargs)
        model = getattr(reply, "model", None) or self.model
        if not reply.choices:
            return _Answer("", None, model, None, None)
        choice = reply.choices[0]
        message = choice.message
        calls = getattr(message, "tool_calls", None) or []
        if calls and getattr(calls[0], "function", None) is not None:
            return _Answer(calls[0].function.arguments or "", None, model, choice.finish_reason, None)
        return _Answer(message.content or "", None, model, choice.finish_reason, getattr(message, "refusal", None))

    def _anthropic(self, kwargs: dict[str, Any]) -> _Answer:
        reply = self.client.messages.create(**kwargs)
        model = getattr(reply, "model", None) or self.model
        text = "".join(getattr(b, "text", "") for b in reply.content if getattr(b, "type", "") == "text")
        refusal = text if reply.stop_reason == "refusal" else None
        for block in reply.content:
            if getattr(block, "type", "") == "tool_use":
                data = block.input if isinstance(block.input, dict) else None
                return _Answer(json.dumps(block.input, ensure_ascii=False), data, model, reply.stop_reason, refusal)
        return _Answer(text, None, model, reply.stop_reason, refusal)

    def _unreadable(self, exc: JudgeError, answer: _Answer, prompt: Prompt, sample: int, n: int) -> JudgeError:
        where = f"sample {sample} of {n}, " if n > 1 else ""
        lines = [f"{exc} ({where}model {answer.model}, judge prompt {prompt.ref})"]
        if answer.refusal:
            lines[0] = f"the judge refused to give a verdict ({where}model {answer.model}, judge prompt {prompt.ref})"
        if answer.finish in ("length", "max_tokens"):
            lines.append(
                f"  the judge's answer was cut off by its token limit (finish reason {answer.finish!r}): raise "
                f"max_completion_tokens in a new version of the {prompt.name} prompt"
            )
        lines.append(f"  the judge wrote: {_clip(answer.raw or answer.refusal or '')!r}")
        lines.append("  No score was given (recorded as unscored, not as 0).")
        return JudgeError("\n".join(lines), raw=answer.raw, model=answer.model, prompt=prompt.ref, sample=sample)

    def _record_unscored(self, metric: str, exc: Exception, prompt: Prompt | None, extra: Mapping[str, Any]) -> None:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        record_score(
            metric,
            None,
            source="judge",
            reason=f"{type(exc).__name__}: {first}",
            details={
                **extra,
                "judge_model": self.model,
                **({"judge_prompt": prompt.ref, "judge_prompt_digest": prompt.digest} if prompt else {}),
            },
            model=subject_model(),
        )


def _strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict structured outputs accept ``schema``: every object closed
    (``additionalProperties: false``) with all its properties required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties") is not False or set(schema.get("required", [])) != set(props):
                return False
        return all(_strict_compatible(v) for v in schema.values())
    if isinstance(schema, list):
        return all(_strict_compatible(v) for v in schema)
    return True


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "model_dump_json"):
        return value.model_dump_json(indent=2)
    if isinstance(value, (dict, list, tuple, int, float, bool)) or value is None:
        return json.dumps(value, indent=2, ensure_ascii=False)
    raise TypeError(
        f"{what} must be text (or JSON-able data), got {type(value).__name__}; pass the text, "
        "e.g. reply.choices[0].message.content"
    )


def _context_text(context: str | Sequence[str] | None) -> str:
    if context is None:
        return ""
    if isinstance(context, str):
        return context.strip()
    if isinstance(context, Sequence):
        return "\n\n".join(str(c).strip() for c in context if str(c).strip())
    raise TypeError(f"context must be str or a sequence of str, got {type(context).__name__}")


# --------------------------------------------------------------------------------------------------
# pytest


def judge_from_config(config: Any) -> Judge:
    """The judge of a pytest session: model ``llm_judge_model``, the project's prompt registry."""
    from .plugin import PROMPTS_KEY, SESSION_KEY

    settings = config.stash[SESSION_KEY].settings
    lazy_prompts = config.stash.get(PROMPTS_KEY, None)
    prompts = lazy_prompts.get() if lazy_prompts is not None else None
    where = f"in {config.inipath}" if getattr(config, "inipath", None) else "no configuration file found"
    return Judge(
        settings.judge_model,
        prompts=prompts.registry if prompts is not None else settings.prompt_dir,
        _where=f"llm_judge_model is empty; {where}",
    )


def running_judge(what: str) -> Judge:
    """The running test's judge: the ``llm_judge`` fixture's, else one built from the session's
    settings (stored on the test's context). ``what`` names the caller in errors."""
    __tracebackhide__ = True
    ctx = current()
    if ctx is None:
        raise JudgeConfigError(
            f"{what} outside a pytest test has no judge: pass judge=Judge(\"openai:gpt-4o-mini\") (pytest_llmops.Judge)"
        )
    if ctx.judge is not None:
        return ctx.judge
    item = ctx.item
    config = getattr(item, "config", None)
    if config is None:
        raise JudgeConfigError(f"{what}: the running test has no pytest configuration; pass judge=Judge(...)")
    from .session import INTERCEPTOR_KEY

    if INTERCEPTOR_KEY not in item.stash:
        raise JudgeConfigError(
            f"{what} calls the judge model, but {ctx.nodeid} has no cassette, so the call would be neither "
            "recorded nor replayed: mark the test @pytest.mark.llm, or take the llm_judge fixture."
        )
    ctx.judge = judge_from_config(config)
    return ctx.judge
