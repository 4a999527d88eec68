"""Usage, cost and latency: one record per provider call, their sums, and the live-run budget.

Every call the plugin sees (``transport.Exchange``, live or replayed) becomes one record of the
per-call log schema (docs/usage.md), read from the recorded response itself:

* tokens from the response's ``usage``: OpenAI chat completions (for streams, the final usage chunk
  sent with ``stream_options={"include_usage": True}``), Responses API objects and their
  ``response.completed``/``response.incomplete`` events, embeddings, Anthropic messages (for streams,
  ``message_start`` then the cumulative ``message_delta`` usage). ``input_tokens`` counts every input
  token, cache reads and writes included (Anthropic reports those apart; they are added back).
  A response with no usage (an OpenAI stream without ``include_usage``) has ``None`` tokens, not 0;
* the finish reason (chat ``finish_reason``, Responses ``status`` + ``incomplete_details``, Anthropic
  ``stop_reason``), the error (status >= 400, or an error event inside a stream), the request id
  (``x-request-id`` / ``request-id``);
* the cost from the price table (``pricing``): ``None`` when the model has no price or the
  response reported no usage, never 0. Failed calls (status >= 400) are not billed: 0 tokens, $0;
* the latency: for a live call the time the provider took, for a replayed call the latency recorded
  when it was live (``latency_ms``; the time replay took is ``replay_ms``).

``Usage`` sums records (a test's, a session's) and supports ``+``. ``Budget`` stops live calls
before they are sent once the estimated spend reaches ``--llm-budget``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import LiveModeError, sdk_compatible
from .pricing import PricingTable, TokenCounts

__all__ = ["RECORD_KEYS", "Budget", "ResponseFacts", "Usage", "UsageLog", "UsageState", "call_record", "parse_response"]

#: The per-call log schema (design.md), in order; the plugin's extra keys follow.
RECORD_KEYS = (
    "ts", "test", "provider", "model", "prompt", "prompt_digest", "request_id", "input_tokens",
    "output_tokens", "latency_ms", "cost_usd", "finish_reason", "error", "replayed",
)
EXTRA_KEYS = (
    "status", "endpoint", "response_model", "cached_input_tokens", "cache_write_tokens", "priced_as",
    "cost_note", "replay_ms",
)
_TOKEN_ENDPOINTS = ("/chat/completions", "/responses", "/responses/compact", "/embeddings", "/completions",
                    "/v1/messages")
_FREE_ENDPOINTS = ("/count_tokens", "/input_tokens", "/moderations", "/cancel")
_MAX_ERROR = 300


# -- reading a response ----------------------------------------------------------------------------
@dataclass
class ResponseFacts:
    """What a response body says about the call."""

    tokens: TokenCounts | None = None
    finish_reason: str | None = None
    error: str | None = None
    model: str | None = None
    unpriced: str | None = None  # a part of the usage the price table cannot price (audio tokens)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _one_line(text: Any, limit: int = _MAX_ERROR) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _openai_tokens(usage: Mapping[str, Any], facts: ResponseFacts) -> TokenCounts:
    """Chat completions, legacy completions, embeddings (``prompt_tokens``) or Responses (``input_tokens``)."""
    if "prompt_tokens" in usage:
        inp, out = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        in_details, out_details = usage.get("prompt_tokens_details"), usage.get("completion_tokens_details")
    else:
        inp, out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        in_details, out_details = usage.get("input_tokens_details"), usage.get("output_tokens_details")
    if _int(_get(in_details, "audio_tokens")) or _int(_get(out_details, "audio_tokens")):
        facts.unpriced = "audio tokens have no price in the table"
    return TokenCounts(
        input=inp,
        output=out,
        cached_input=_int(_get(in_details, "cached_tokens")),
        cache_write=_int(_get(in_details, "cache_write_tokens")),
    )


def _anthropic_tokens(usage: Mapping[str, Any]) -> TokenCounts:
    base = _int(usage.get("input_tokens"))
    read = _int(usage.get("cache_read_input_tokens"))
    written = _int(usage.get("cache_creation_input_tokens"))
    one_hour = min(_int(_get(usage, "cache_creation", "ephemeral_1h_input_tokens")), written)
    return TokenCounts(
        input=base + read + written,
        output=_int(usage.get("output_tokens")),
        cached_input=read,
        cache_write=written - one_hour,
        cache_write_1h=one_hour,
    )


def _error_text(status: int, reason: str, data: Any) -> str:
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping):
        kind = error.get("type") or error.get("code") or "error"
        message = error.get("message") or ""
        return _one_line(f"{status} {kind}: {message}" if status else f"{kind}: {message}")
    if isinstance(error, str):
        return _one_line(f"{status} {error}" if status else error)
    return _one_line(f"{status} {reason}".strip()) if status else "error"


def _responses_outcome(response: Mapping[str, Any], facts: ResponseFacts) -> None:
    status = response.get("status")
    if status == "incomplete":
        reason = _get(response, "incomplete_details", "reason")
        facts.finish_reason = f"incomplete:{reason}" if reason else "incomplete"
    elif isinstance(status, str):
        facts.finish_reason = status
    error = response.get("error")
    if isinstance(error, Mapping):
        facts.error = _one_line(f"{error.get('code') or 'error'}: {error.get('message') or ''}")
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        facts.tokens = _openai_tokens(usage, facts)
    if isinstance(response.get("model"), str):
        facts.model = response["model"]


def _choices_finish(choices: Any, seen: dict[int, str]) -> None:
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        reason = _get(choice, "finish_reason")
        if isinstance(reason, str):
            index = choice.get("index", position) if isinstance(choice, Mapping) else position
            seen[index if isinstance(index, int) else position] = reason


def _finish_text(seen: dict[int, str]) -> str | None:
    reasons = list(dict.fromkeys(seen[i] for i in sorted(seen)))
    return ",".join(reasons) if reasons else None


def _from_json(provider: str, data: Any, facts: ResponseFacts) -> None:
    if not isinstance(data, Mapping):
        return
    kind = data.get("object") or data.get("type")
    if isinstance(data.get("model"), str):
        facts.model = data["model"]
    if kind == "response":
        _responses_outcome(data, facts)
        return
    if kind == "message" or (provider == "anthropic" and "stop_reason" in data):
        facts.finish_reason = data.get("stop_reason")
        if isinstance(data.get("usage"), Mapping):
            facts.tokens = _anthropic_tokens(data["usage"])
        return
    seen: dict[int, str] = {}
    _choices_finish(data.get("choices"), seen)
    facts.finish_reason = _finish_text(seen)
    usage = data.get("usage")
    if isinstance(usage, Mapping):
        anthropic_shape = provider == "anthropic" and "prompt_tokens" not in usage
        facts.tokens = _anthropic_tokens(usage) if anthropic_shape else _openai_tokens(usage, facts)


#: What a stream event that can carry usage, a finish reason or an error looks like; the other events
#: (text deltas: most of a stream) are skipped without being parsed.
_WANTED_EVENT = re.compile(
    r'"(?:usage|error)"\s*:\s*[{"]|"finish_reason"\s*:\s*"'
    r'|"type"\s*:\s*"(?:message_start|message_delta|error|response\.(?:completed|incomplete|failed))"'
)


def sse_events(text: str, wanted: bool = False) -> Iterator[tuple[str | None, Any]]:
    """``(event name, parsed data)`` of each server-sent event (``[DONE]`` and non-JSON data skipped).

    ``wanted=True`` skips, unparsed, the events that cannot carry usage, a finish reason or an error.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        if wanted and _WANTED_EVENT.search(block) is None:
            continue
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
        payload = "\n".join(data)
        if not data or payload.strip() == "[DONE]":
            continue
        try:
            yield event, json.loads(payload)
        except ValueError:
            continue


def _stream_error(data: Mapping[str, Any]) -> str:
    """An error event inside a stream (the HTTP status was 200)."""
    inner = data["error"] if isinstance(data.get("error"), Mapping) else data
    kind = inner.get("type")
    if kind in (None, "error"):
        kind = inner.get("code") or "error"
    return _one_line(f"stream error: {kind}: {inner.get('message') or ''}")


def _from_stream(provider: str, text: str, facts: ResponseFacts) -> None:
    seen: dict[int, str] = {}
    anthropic_usage: dict[str, Any] = {}
    for event, data in sse_events(text, wanted=True):
        if not isinstance(data, Mapping):
            continue
        kind = data.get("type") or event
        if kind == "error" or (isinstance(data.get("error"), Mapping) and "choices" not in data):
            facts.error = _stream_error(data)
            continue
        if isinstance(kind, str) and kind.startswith("response.") and isinstance(data.get("response"), Mapping):
            _responses_outcome(data["response"], facts)
            continue
        if kind == "message_start":
            message = data.get("message") or {}
            if isinstance(message.get("model"), str):
                facts.model = message["model"]
            if isinstance(message.get("usage"), Mapping):
                anthropic_usage.update(message["usage"])
            continue
        if kind == "message_delta":
            stop = _get(data, "delta", "stop_reason")
            if stop is not None:
                facts.finish_reason = stop
            usage = data.get("usage")
            if isinstance(usage, Mapping):  # cumulative: later values replace earlier ones
                anthropic_usage.update({k: v for k, v in usage.items() if v is not None})
            continue
        if "choices" in data or data.get("object") in ("chat.completion.chunk", "text_completion"):
            if isinstance(data.get("model"), str):
                facts.model = data["model"]
            _choices_finish(data.get("choices"), seen)
            if isinstance(data.get("usage"), Mapping):
                facts.tokens = _openai_tokens(data["usage"], facts)
    if seen:
        facts.finish_reason = _finish_text(seen)
    if anthropic_usage:
        facts.tokens = _anthropic_tokens(anthropic_usage)


def parse_response(provider: str, status: int, reason: str, headers: Mapping[str, list[str]],
                   body: str | bytes) -> ResponseFacts:
    """What the (decoded) response says: tokens, finish reason, error, model. Never raises."""
    facts = ResponseFacts()
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        text = ""
    content_type = " ".join(headers.get("content-type", [])).lower()
    stream = "text/event-stream" in content_type or text.lstrip().startswith(("event:", "data:"))
    try:
        if stream:
            _from_stream(provider, text, facts)
            if status >= 400 and facts.error is None:
                facts.error = _error_text(status, reason, None)
        else:
            try:
                data = json.loads(text) if text.strip() else None
            except ValueError:
                data = None
            if status >= 400:
                facts.error = _error_text(status, reason, data)
            else:
                _from_json(provider, data, facts)
    except Exception as exc:  # noqa: BLE001 - a body we do not understand must never break the user's test
        facts.unpriced = f"the response could not be read ({type(exc).__name__})"
    if status >= 400:
        facts.tokens = TokenCounts()  # failed calls are not billed
    return facts


# -- one record per call ---------------------------------------------------------------------------
def _iso(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _header(headers: Mapping[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = headers.get(name)
        if values:
            return values[0]
    return None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def call_record(exchange: Any, pricing: PricingTable) -> dict[str, Any]:
    """The per-call log record of one ``transport.Exchange``."""
    interaction = exchange.interaction
    provider = exchange.provider
    path = urlsplit(interaction.uri).path
    method = interaction.method.upper()
    facts = parse_response(provider, interaction.status, interaction.reason, interaction.response_headers,
                           interaction.response_body)
    model = exchange.model or facts.model
    tokens = facts.tokens
    cost: float | None = None
    priced_as: str | None = None
    note: str | None = None
    if interaction.status >= 400:
        cost = 0.0
    elif method in ("GET", "DELETE", "HEAD") or path.endswith(_FREE_ENDPOINTS):
        tokens, cost = TokenCounts(), 0.0
    elif not path.endswith(_TOKEN_ENDPOINTS):
        note = f"{method} {path} is not priced by tokens"
    elif tokens is None:
        note = "the response reported no token usage"
        if provider == "openai" and "/chat/completions" in path:
            note += " (OpenAI streams report it with stream_options={'include_usage': True})"
    elif facts.unpriced:
        note = facts.unpriced
    else:
        found = pricing.lookup(provider, model) or pricing.lookup(provider, facts.model)
        if found is None:
            note = f"no price for {provider} model {model!r}"
        else:
            priced_as, price = found
            cost = price.cost(tokens)
    prompt = exchange.prompt or {}
    latency = interaction.latency_ms if exchange.replayed else exchange.latency_ms
    record: dict[str, Any] = {
        "ts": _iso(exchange.ts),
        "test": exchange.test,
        "provider": provider,
        "model": model,
        "prompt": prompt.get("prompt"),
        "prompt_digest": prompt.get("prompt_digest"),
        "request_id": _header(interaction.response_headers, "x-request-id", "request-id"),
        "input_tokens": tokens.input if tokens else None,
        "output_tokens": tokens.output if tokens else None,
        "latency_ms": _round(latency),
        "cost_usd": cost,
        "finish_reason": facts.finish_reason,
        "error": facts.error,
        "replayed": bool(exchange.replayed),
        "status": interaction.status,
        "endpoint": f"{method} {path}",
        "response_model": facts.model,
        "cached_input_tokens": tokens.cached_input if tokens else None,
        "cache_write_tokens": tokens.cache_write + tokens.cache_write_1h if tokens else None,
        "priced_as": priced_as,
        "cost_note": note,
        "replay_ms": _round(exchange.latency_ms, 2) if exchange.replayed else None,
    }
    if exchange.substituted_model:
        record["model_substituted_from"] = exchange.substituted_model[0]
    return record


# -- sums ------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Usage:
    """Tokens, estimated cost and latency of some provider calls (a test's, a run's).

    ``cost_usd`` is ``None`` as soon as one call's cost is unknown (a model without a price, a
    response without usage): ``known_cost_usd`` then holds the part that is known and
    ``unknown_cost_calls`` how many calls are missing from it. Replayed calls count with the latency
    recorded when they were live. ``a + b`` adds two usages; ``sum(usages, Usage())`` works too.
    """

    calls: int = 0
    live_calls: int = 0
    replayed_calls: int = 0
    error_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    no_usage_calls: int = 0  # calls whose response reported no token counts
    known_cost_usd: float = 0.0
    unknown_cost_calls: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    replay_ms: float = 0.0  # time spent serving replayed calls from cassettes

    @property
    def cost_usd(self) -> float | None:
        return None if self.unknown_cost_calls else round(self.known_cost_usd, 10)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def latency_percentile(self, q: float) -> float | None:
        return percentile(self.latencies_ms, q)

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ms, 99)

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one per-call record."""
        self.calls += 1
        if record.get("replayed"):
            self.replayed_calls += 1
            self.replay_ms += record.get("replay_ms") or 0.0
        else:
            self.live_calls += 1
        if record.get("error"):
            self.error_calls += 1
        if record.get("input_tokens") is None:
            self.no_usage_calls += 1
        else:
            self.input_tokens += record["input_tokens"]
            self.output_tokens += record.get("output_tokens") or 0
            self.cached_input_tokens += record.get("cached_input_tokens") or 0
        if record.get("cost_usd") is None:
            self.unknown_cost_calls += 1
        else:
            self.known_cost_usd += record["cost_usd"]
        if record.get("latency_ms") is not None:
            self.latencies_ms.append(record["latency_ms"])

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Usage:
        usage = cls()
        for record in records:
            usage.add(record)
        return usage

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            calls=self.calls + other.calls,
            live_calls=self.live_calls + other.live_calls,
            replayed_calls=self.replayed_calls + other.replayed_calls,
            error_calls=self.error_calls + other.error_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            no_usage_calls=self.no_usage_calls + other.no_usage_calls,
            known_cost_usd=self.known_cost_usd + other.known_cost_usd,
            unknown_cost_calls=self.unknown_cost_calls + other.unknown_cost_calls,
            latencies_ms=self.latencies_ms + other.latencies_ms,
            replay_ms=self.replay_ms + other.replay_ms,
        )

    def __radd__(self, other: Any) -> Usage:
        if other == 0:  # sum(usages)
            return self + Usage()
        return NotImplemented


# -- budget ----------------------------------------------------------------------------------------
def money(usd: float | None) -> str:
    """``$0.0123``; small amounts keep their significant digits; ``?`` when unknown."""
    if usd is None:
        return "?"
    if usd == 0:
        return "$0"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    if abs(usd) >= 0.01:
        return f"${usd:.4f}"
    return f"${usd:.6f}".rstrip("0").rstrip(".") if abs(usd) >= 0.000001 else "<$0.000001"


def ledger_path(session_id: str) -> Path:
    """Where xdist workers of one run add up their live spend (one small file, appended to)."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"pytest-llmops-spend-{session_id}.log"


class Budget:
    """``--llm-budget``: refuse live calls, before they are sent, once the estimated spend reaches it.

    The spend counts live calls of known cost. Under xdist the workers share it through an
    append-only ledger file (one line per call, appended atomically), so the limit holds for the run,
    give or take the calls already in flight.
    """

    def __init__(self, limit_usd: float, ledger: Path | None = None) -> None:
        self.limit_usd = limit_usd
        self.ledger = ledger
        self.spent_here = 0.0
        self.refused = 0

    def spend(self, record: Mapping[str, Any]) -> None:
        cost = record.get("cost_usd")
        if record.get("replayed") or not cost:
            return
        self.spent_here += cost
        if self.ledger is not None:
            fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{cost!r}\n".encode())
            finally:
                os.close(fd)

    def spent(self) -> float:
        if self.ledger is None:
            return self.spent_here
        try:
            lines = self.ledger.read_text().split()
        except OSError:
            return self.spent_here
        total = 0.0
        for line in lines:
            try:
                total += float(line)
            except ValueError:
                continue
        return total

    def check(self, request: Any, item: Any = None) -> None:
        """A send check (``LLMSession.send_checks``): raise before sending once the budget is spent."""
        __tracebackhide__ = True
        spent = self.spent()
        if spent < self.limit_usd:
            return
        self.refused += 1
        from .cassette import provider_of
        from .matching import parse_body

        data = parse_body(request.content)
        model = data.get("model") if isinstance(data, dict) else None
        what = provider_of(str(request.url), request.headers) + (f" ({model})" if isinstance(model, str) else "")
        raise sdk_compatible(
            LiveModeError,
            f"pytest-llmops: the --llm-budget of {money(self.limit_usd)} is used up (an estimated {money(spent)} "
            f"spent on live calls so far), so this call to {what} was not sent.\n"
            "Raise --llm-budget, or run without --llm-live to replay the recorded tests.",
        )


# -- the session's log -----------------------------------------------------------------------------
class UsageLog:
    """The run's per-call records: fed by the session's listener, merged from xdist workers."""

    def __init__(self, pricing: PricingTable, budget: Budget | None = None) -> None:
        self.pricing = pricing
        self.budget = budget
        self.records: list[dict[str, Any]] = []
        self.by_test: dict[str, Usage] = {}
        self.refused = 0  # calls refused by the budget on workers (merged); see ``refused_calls``

    def on_exchange(self, exchange: Any, item: Any = None) -> None:
        """``LLMSession.listeners`` entry: record one call."""
        try:
            record = call_record(exchange, self.pricing)
        except Exception as exc:  # noqa: BLE001 - never fail the user's test over bookkeeping
            record = {key: None for key in RECORD_KEYS + EXTRA_KEYS}
            record.update(ts=_iso(exchange.ts), test=getattr(exchange, "test", ""), replayed=bool(exchange.replayed),
                          cost_note=f"the call could not be read: {type(exc).__name__}: {exc}")
        self.records.append(record)
        self.for_test(record["test"] or "").add(record)
        if self.budget is not None:
            self.budget.spend(record)

    def for_test(self, nodeid: str) -> Usage:
        """The (live) usage of one test: updated as the test makes calls."""
        usage = self.by_test.get(nodeid)
        if usage is None:
            usage = self.by_test[nodeid] = Usage()
        return usage

    @property
    def refused_calls(self) -> int:
        return self.refused + (self.budget.refused if self.budget is not None else 0)

    def totals(self) -> Usage:
        return Usage.of(self.records)

    # xdist channel: builtins only
    def collect(self) -> dict[str, Any]:
        return {"records": self.records, "refused": self.refused_calls}

    def merge(self, data: Mapping[str, Any]) -> None:
        self.records.extend(data.get("records") or [])
        self.refused += int(data.get("refused") or 0)


class UsageState:
    """The run's usage log, and where to report it (``plugin.py`` makes it on first use: a session
    whose tests make no provider call never reads the price table)."""

    def __init__(self, log: UsageLog, report_path: Path | None, budget_usd: float | None) -> None:
        self.log = log
        self.report_path = report_path
        self.budget_usd = budget_usd  # --llm-budget of a live run (None otherwise)
        self.report_written: str | None = None

    @classmethod
    def start(cls, *, rootpath: Path, pricing_file: str, budget_usd: float | None, live: bool,
              ledger: Path | None, report_path: Path | None) -> UsageState:
        """The price table (built in, with ``llm_pricing`` relative to ``rootpath`` merged over it:
        ``PricingError`` if it cannot be read), the budget of a live run (``ledger``: the file the
        xdist workers share), an empty log."""
        from .pricing import load_pricing

        user_file = None
        if pricing_file:
            user_file = Path(pricing_file)
            user_file = user_file if user_file.is_absolute() else rootpath / user_file
        pricing = load_pricing(user_file)
        budget = Budget(budget_usd, ledger) if budget_usd is not None and live else None
        return cls(UsageLog(pricing, budget), report_path, budget_usd if live else None)

    # the session's listener and xdist channel
    def on_exchange(self, exchange: Any, item: Any = None) -> None:
        self.log.on_exchange(exchange, item)

    def collect(self) -> dict[str, Any]:
        return self.log.collect()

    def merge(self, data: Mapping[str, Any]) -> None:
        self.log.merge(data)

    def finish(self, report_option: str, session_id: str) -> None:
        """Controller (or a run without xdist): write the per-call log (``--llm-report``); drop the
        budget's ledger."""
        import contextlib

        from .report import write_usage_jsonl

        if self.report_path is not None:
            write_usage_jsonl(self.report_path, self.log.records)
            self.report_written = report_option
        if self.budget_usd is not None:
            with contextlib.suppress(OSError):
                ledger_path(session_id).unlink()

    def summary_lines(self) -> list[str]:
        """The ``llm usage`` section of the terminal summary."""
        from .report import usage_summary_lines

        pricing = self.log.pricing
        return usage_summary_lines(
            self.log.records,
            prices_as_of=pricing.as_of,
            price_overrides=bool(pricing.overrides),
            budget_usd=self.budget_usd,
            refused=self.log.refused_calls,
            report_path=self.report_written,
        )
