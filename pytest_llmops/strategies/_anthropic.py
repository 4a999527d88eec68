"""Strategies for Anthropic Messages responses, whole or streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from .. import wire
from ._common import _BASE58, completions, ids, texts

__all__ = ["anthropic_message", "anthropic_message_events"]

STOP_REASONS = ("end_turn", "max_tokens", "tool_use", "refusal", "stop_sequence")
_GENERIC = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "refusal": "refusal",
            "stop_sequence": "stop"}


@st.composite
def _completion(draw: st.DrawFn, stop_reasons: Sequence[str] | None, tools: bool | None) -> tuple[wire.Completion, str]:
    chosen = list(stop_reasons or STOP_REASONS)
    unknown = set(chosen) - set(STOP_REASONS)
    if unknown:
        raise ValueError(f"stop_reasons: unknown {sorted(unknown)}; expected some of {STOP_REASONS}")
    stop = draw(st.sampled_from(chosen))
    completion = draw(completions("anthropic", [_GENERIC[stop]], tools, None))
    completion.id = draw(ids("msg_01", _BASE58, 22))
    return completion, stop


def _with_stop_sequence(draw: st.DrawFn, stop: str) -> str | None:
    return draw(texts(12).filter(bool)) if stop == "stop_sequence" else None


@st.composite
def anthropic_message(draw: st.DrawFn, *, stop_reasons: Sequence[str] | None = None,
                      tools: bool | None = None) -> dict[str, Any]:
    """An Anthropic ``message`` body (validates as ``anthropic.types.Message``).

    ``stop_reasons``: some of "end_turn", "max_tokens", "tool_use", "refusal", "stop_sequence";
    ``tools``: True always / False never / None sometimes ``tool_use`` blocks."""
    completion, stop = draw(_completion(stop_reasons, tools))
    body = wire.message(completion)
    if stop == "stop_sequence":
        body["stop_reason"], body["stop_sequence"] = "stop_sequence", _with_stop_sequence(draw, stop)
    return body


@st.composite
def anthropic_message_events(draw: st.DrawFn, *, stop_reasons: Sequence[str] | None = None,
                             tools: bool | None = None) -> list[dict[str, Any]]:
    """The SSE events of one streamed message, ``message_start`` to ``message_stop`` (each validates as
    ``RawMessageStreamEvent``); ``llm_faults.respond(events)`` frames them with their event names."""
    completion, stop = draw(_completion(stop_reasons, tools))
    events = wire.message_events(completion)
    if stop == "stop_sequence":
        sequence = _with_stop_sequence(draw, stop)
        for event in events:
            if event["type"] == "message_delta":
                event["delta"].update(stop_reason="stop_sequence", stop_sequence=sequence)
    return events
