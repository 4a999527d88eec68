"""Strategies for OpenAI responses: Chat Completions and the Responses API, whole or streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from .. import wire
from ._common import _ALNUM, _HEX, completions, ids

__all__ = [
    "openai_chat_completion",
    "openai_chat_completion_chunks",
    "openai_response",
    "openai_response_events",
]

CHAT_FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")
RESPONSE_OUTCOMES = ("stop", "length", "tool_calls", "content_filter", "refusal")


def _chat_finishes(finish_reasons: Sequence[str] | None, refusals: bool | None) -> list[str]:
    finishes = list(finish_reasons or CHAT_FINISH_REASONS)
    unknown = set(finishes) - set(CHAT_FINISH_REASONS)
    if unknown:
        raise ValueError(f"finish_reasons: unknown {sorted(unknown)}; expected some of {CHAT_FINISH_REASONS}")
    if refusals and "stop" not in finishes:
        finishes.append("stop")
    return finishes


@st.composite
def _chat_completion(draw: st.DrawFn, finishes: list[str], tools: bool | None, refusals: bool | None) -> wire.Completion:
    completion = draw(completions("openai", finishes, tools, refusals if refusals is not None else None))
    if refusals is None and completion.finish == "stop" and not completion.tool_calls and draw(st.booleans()):
        completion.text, completion.refusal, completion.finish = None, "I'm sorry, but I can't help with that.", "refusal"
    completion.id = draw(ids("chatcmpl-", _ALNUM, 29))
    return completion


def _vary_chat(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    body["service_tier"] = draw(st.sampled_from(["default", "auto", "flex", "priority", None]))
    body["system_fingerprint"] = draw(st.none() | ids("fp_", _HEX, 10))
    return body


@st.composite
def openai_chat_completion(draw: st.DrawFn, *, finish_reasons: Sequence[str] | None = None,
                           tools: bool | None = None, refusals: bool | None = None) -> dict[str, Any]:
    """A ``chat.completion`` body as the API sends it (validates as ``openai.types.chat.ChatCompletion``).

    ``finish_reasons``: some of "stop", "length", "tool_calls", "content_filter" (default all);
    ``tools``: True always / False never / None sometimes tool calls; ``refusals``: likewise for a
    ``message.refusal`` (finish reason "stop")."""
    completion = draw(_chat_completion(_chat_finishes(finish_reasons, refusals), tools, refusals))
    return _vary_chat(draw, wire.chat_completion(completion))


@st.composite
def openai_chat_completion_chunks(draw: st.DrawFn, *, finish_reasons: Sequence[str] | None = None,
                                  tools: bool | None = None, refusals: bool | None = None,
                                  include_usage: bool | None = None) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of one streamed answer, in order (each validates as
    ``ChatCompletionChunk``); ``llm_faults.respond(chunks)`` frames them as SSE with ``[DONE]``."""
    completion = draw(_chat_completion(_chat_finishes(finish_reasons, refusals), tools, refusals))
    usage = draw(st.booleans()) if include_usage is None else include_usage
    chunks = wire.chat_chunks(completion, usage)
    fingerprint = draw(st.none() | ids("fp_", _HEX, 10))
    for chunk in chunks:
        chunk["system_fingerprint"] = fingerprint
    return chunks


@st.composite
def _response(draw: st.DrawFn, outcomes: Sequence[str] | None, tools: bool | None) -> dict[str, Any]:
    chosen = list(outcomes or RESPONSE_OUTCOMES)
    unknown = set(chosen) - set(RESPONSE_OUTCOMES)
    if unknown:
        raise ValueError(f"outcomes: unknown {sorted(unknown)}; expected some of {RESPONSE_OUTCOMES}")
    completion = draw(completions("openai", chosen, tools, None))
    completion.id = draw(ids("resp_", _HEX, 48))
    if completion.finish == "refusal" and completion.refusal is None:
        completion.refusal = "I'm sorry, but I can't help with that."
    request: dict[str, Any] = {"temperature": draw(st.sampled_from([0.0, 0.7, 1.0])), "store": draw(st.booleans())}
    if draw(st.booleans()):
        request["max_output_tokens"] = draw(st.integers(16, 32_000))
    if draw(st.booleans()):
        request["instructions"] = "You are a helpful assistant."
    return wire.response_object(completion, request)


def openai_response(*, outcomes: Sequence[str] | None = None, tools: bool | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A Responses API ``response`` object (validates as ``openai.types.responses.Response``).

    ``outcomes``: some of "stop" (completed), "length" (incomplete: max_output_tokens), "tool_calls"
    (function calls), "content_filter" (incomplete: content_filter), "refusal" (a refusal part)."""
    return _response(outcomes, tools)


def openai_response_events(*, outcomes: Sequence[str] | None = None,
                           tools: bool | None = None) -> st.SearchStrategy[list[dict[str, Any]]]:
    """The stream events delivering one response, ``response.created`` to ``response.completed`` /
    ``response.incomplete`` (each validates as ``ResponseStreamEvent``)."""
    return _response(outcomes, tools).map(wire.response_events)
