"""Building blocks shared by the provider strategies: text, ids, JSON values, tool calls, answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from .. import wire

__all__ = ["texts", "json_values", "json_documents", "tool_calls", "completions", "ids"]

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEX = "0123456789abcdef"

OPENAI_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3", "o4-mini")
ANTHROPIC_MODELS = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-sonnet-4-6")


def texts(max_size: int = 200) -> st.SearchStrategy[str]:
    """Model output text: any Unicode that survives UTF-8 (quotes, newlines, emoji, RTL...)."""
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=max_size)


def ids(prefix: str, alphabet: str, length: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=length, max_size=length).map(lambda s: prefix + s)


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value (finite numbers only, as JSON has no NaN)."""
    leaves = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | \
        st.floats(allow_nan=False, allow_infinity=False) | texts(40)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(12), inner, max_size=3),
                        max_leaves=max_leaves)


def json_documents(min_keys: int = 1, max_keys: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object as a structured output or tool arguments would be: string keys, any values."""
    keys = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
    return st.dictionaries(keys, json_values(), min_size=min_keys, max_size=max_keys)


def tool_calls(provider: str = "openai", min_size: int = 1, max_size: int = 3) -> st.SearchStrategy[list[wire.ToolCall]]:
    """Tool calls with valid JSON object arguments and provider-style ids."""
    call_id = ids("call_", _ALNUM, 24) if provider == "openai" else ids("toolu_01", _BASE58, 22)
    call = st.builds(
        wire.ToolCall,
        name=st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,40}", fullmatch=True),
        arguments=json_documents(0, 4).map(lambda doc: json.dumps(doc, ensure_ascii=False)),
        id=call_id,
    )
    return st.lists(call, min_size=min_size, max_size=max_size, unique_by=lambda c: c.id)  # ids never repeat


@st.composite
def completions(draw: st.DrawFn, provider: str, finishes: Sequence[str], tools: bool | None,
                refusals: bool | None) -> wire.Completion:
    """A provider-neutral answer (``wire.Completion``) ending with one of ``finishes`` (generic names).

    Tool calls come with finish "tool_calls", and sometimes with "length" (a call cut short);
    ``tools=True`` keeps only the finishes that carry tool calls (when any is allowed), ``tools=False``
    drops "tool_calls"."""
    allowed = list(finishes)
    if tools is True and {"tool_calls", "length"} & set(allowed):
        allowed = [f for f in allowed if f in ("tool_calls", "length")]
    elif tools is False and len(allowed) > 1:
        allowed = [f for f in allowed if f != "tool_calls"] or allowed
    finish = draw(st.sampled_from(allowed))
    with_tools = finish == "tool_calls" or (finish == "length" and tools is not False
                                            and (tools is True or draw(st.booleans())))
    completion = wire.Completion(
        model=draw(st.sampled_from(OPENAI_MODELS if provider == "openai" else ANTHROPIC_MODELS)),
        finish=finish,
        input_tokens=draw(st.integers(0, 200_000)),
        output_tokens=draw(st.integers(0, 32_000)),
        created=draw(st.integers(1_600_000_000, 2_000_000_000)),
    )
    if with_tools:
        completion.tool_calls = draw(tool_calls(provider))
        completion.text = draw(st.none() | texts()) if provider == "openai" else draw(st.just("") | texts())
    elif finish == "refusal" or (refusals and provider == "openai" and finish == "stop"):
        completion.finish = "refusal"
        completion.text = None if provider == "openai" else draw(st.just("") | texts())
        completion.refusal = draw(texts(120).filter(bool)) if provider == "openai" else None
    else:
        completion.text = draw(texts())
    return completion
