"""Tests for pytest_llmops.loopback: the real openai/anthropic SDKs against the fake server.

Plain pytest (no plugin features). Run with:
    python -m pytest tests/test_loopback.py -p no:llmops -q
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import math
import socket
import struct
import subprocess
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

import anthropic
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import Message, MessageTokensCount, ModelInfo, RawMessageStreamEvent
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from pytest_llmops.loopback import (
    CREATED,
    LoopbackProvider,
    ReceivedRequest,
    Reply,
    ToolCall,
    default_reply,
)

GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"

RAG_PROMPT = (
    "Context: The Eiffel Tower is in Paris. It was completed in 1889. "
    "The Eiffel Tower is 330 metres tall.\n"
    "Question: How tall is the Eiffel Tower?"
)
RAG_ANSWER = "The Eiffel Tower is 330 metres tall."

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"},
    },
    "required": ["unit", "city", "days"],
}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
WEATHER_ARGS = {"unit": "celsius", "city": "Weather in Paris", "days": 0}


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _running_server() -> Iterator[LoopbackProvider]:
    with LoopbackProvider() as server:
        yield server


@pytest.fixture
def server(_running_server: LoopbackProvider) -> Iterator[LoopbackProvider]:
    """The shared server with a clean reply function and request log per test."""
    _running_server.reply = None
    _running_server.requests.clear()
    yield _running_server
    _running_server.reply = None


# Clients are module-scoped: building one (and its SSL context) costs ~50 ms.


@pytest.fixture(scope="module")
def _oai(_running_server: LoopbackProvider) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key="sk-test-123", base_url=_running_server.openai_base_url, max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="module")
def _claude(_running_server: LoopbackProvider) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=_running_server.anthropic_base_url, max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="module")
def _http(_running_server: LoopbackProvider) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=_running_server.url) as client:
        yield client


@pytest.fixture
def oai(server: LoopbackProvider, _oai: openai.OpenAI) -> openai.OpenAI:
    return _oai


@pytest.fixture
def claude(server: LoopbackProvider, _claude: anthropic.Anthropic) -> anthropic.Anthropic:
    return _claude


@pytest.fixture
def http(server: LoopbackProvider, _http: httpx2.Client) -> httpx2.Client:
    """A raw HTTP client with ``base_url=server.url``."""
    return _http


def user(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


def sse_frames(text: str) -> List[Tuple[Optional[str], str]]:
    """(event, data) pairs of an SSE body."""
    frames = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        frames.append((event, "\n".join(data)))
    return frames


@functools.lru_cache(maxsize=None)
def _adapter(model: Any) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(model)


def validate(model: Any, value: Any) -> None:
    """Strict pydantic validation against an SDK type (not the SDKs' lenient construct)."""
    _adapter(model).validate_python(value)


def request_for(path: str, body: Dict[str, Any]) -> ReceivedRequest:
    raw = json.dumps(body).encode()
    return ReceivedRequest("POST", path, {}, {}, body, raw)


# --------------------------------------------------------------------------
# Default model (no HTTP)
# --------------------------------------------------------------------------


def test_default_reply_extracts_answer_from_context() -> None:
    reply = default_reply(request_for("/v1/chat/completions", {"model": GPT, "messages": user(RAG_PROMPT)}), "openai")
    assert reply.text == RAG_ANSWER
    assert reply.finish_reason is None and reply.tool_calls == []


def test_default_reply_uses_system_text_as_context() -> None:
    body = {
        "model": CLAUDE,
        "max_tokens": 50,
        "system": "Bananas are yellow. Cherries are red.",
        "messages": user("What colour are cherries?"),
    }
    assert default_reply(request_for("/v1/messages", body), "anthropic").text == "Cherries are red."


def test_default_reply_echo_depends_on_prompt_and_is_truncated() -> None:
    first = default_reply(request_for("/v1/responses", {"model": GPT, "input": "hello   world"}), "openai")
    second = default_reply(request_for("/v1/responses", {"model": GPT, "input": "goodbye world"}), "openai")
    assert first.text == "Echo: hello world"
    assert second.text == "Echo: goodbye world"
    long = default_reply(request_for("/v1/responses", {"model": GPT, "input": "word " * 80}), "openai")
    assert long.text == "Echo: " + " ".join(["word"] * 50) + "..."


def test_default_reply_max_tokens_cuts_words() -> None:
    body = {"model": GPT, "messages": user("one two three four five"), "max_completion_tokens": 3}
    reply = default_reply(request_for("/v1/chat/completions", body), "openai")
    assert reply.text == "Echo: one two"
    assert reply.finish_reason == "length"


def test_default_reply_tool_call_and_tool_choice() -> None:
    body = {"model": GPT, "messages": user("Weather in Paris"), "tools": OPENAI_TOOLS}
    reply = default_reply(request_for("/v1/chat/completions", body), "openai")
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("get_weather", WEATHER_ARGS)]
    none = default_reply(request_for("/v1/chat/completions", dict(body, tool_choice="none")), "openai")
    assert none.tool_calls == [] and none.text == "Echo: Weather in Paris"


def test_default_reply_json_schema_fills_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"$ref": "#/$defs/Kind"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["answer", "score", "ok", "tags", "kind", "note"],
        "$defs": {"Kind": {"type": "string", "enum": ["fact", "opinion"]}},
    }
    body = {
        "model": GPT,
        "messages": user(RAG_PROMPT),
        "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}},
    }
    reply = default_reply(request_for("/v1/chat/completions", body), "openai")
    assert json.loads(reply.text) == {
        "answer": RAG_ANSWER,
        "score": 0,
        "ok": False,
        "tags": [],
        "kind": "fact",
        "note": RAG_ANSWER,
    }


# --------------------------------------------------------------------------
# OpenAI chat completions
# --------------------------------------------------------------------------


def test_chat_completion_plain(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model=GPT,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": RAG_PROMPT}],
    )
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.created == CREATED
    assert completion.model == GPT
    choice = completion.choices[0]
    assert choice.message.content == RAG_ANSWER
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    prompt_words = len("Be brief.".split()) + len(RAG_PROMPT.split())
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == prompt_words
    assert completion.usage.completion_tokens == len(RAG_ANSWER.split())
    assert completion.usage.total_tokens == prompt_words + len(RAG_ANSWER.split())

    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test-123"
    assert request.json["model"] == GPT
    assert json.loads(request.body) == request.json


def test_chat_completion_is_deterministic_and_prompt_dependent(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(model=GPT, messages=user("alpha"))
    again = oai.chat.completions.create(model=GPT, messages=user("alpha"))
    other = oai.chat.completions.create(model=GPT, messages=user("beta"))
    assert first.model_dump() == again.model_dump()
    assert first.choices[0].message.content == "Echo: alpha"
    assert other.choices[0].message.content == "Echo: beta"
    assert other.id != first.id


def test_chat_completion_max_tokens_gives_length(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model=GPT, messages=user("a b c d e f"), max_tokens=2)
    assert completion.choices[0].message.content == "Echo: a"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 2


def test_chat_completion_tool_call_then_tool_result(oai: openai.OpenAI) -> None:
    messages: List[Dict[str, Any]] = user("Weather in Paris")
    completion = oai.chat.completions.create(model=GPT, messages=messages, tools=OPENAI_TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS

    messages += [
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny all day. Paris weather is 21 degrees."},
    ]
    answer = oai.chat.completions.create(model=GPT, messages=messages, tools=OPENAI_TOOLS)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == "Paris weather is 21 degrees."


def test_chat_stream_matches_non_stream(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=GPT, messages=user(RAG_PROMPT))
    chunks = list(oai.chat.completions.create(model=GPT, messages=user(RAG_PROMPT), stream=True))
    assert all(chunk.object == "chat.completion.chunk" and chunk.id == plain.id for chunk in chunks)
    assert len(chunks) > 3
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == plain.choices[0].message.content == RAG_ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)


def test_chat_stream_include_usage(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=GPT, messages=user("count my words please"))
    stream = oai.chat.completions.create(
        model=GPT, messages=user("count my words please"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None and plain.usage is not None
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_chat_stream_tool_calls_accumulate(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=GPT, messages=user("Weather in Paris"), tools=OPENAI_TOOLS)
    chunks = list(oai.chat.completions.create(model=GPT, messages=user("Weather in Paris"), tools=OPENAI_TOOLS, stream=True))
    deltas = [tc for chunk in chunks for tc in (chunk.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == (plain.choices[0].message.tool_calls or [])[0].id
    assert deltas[0].function is not None and deltas[0].function.name == "get_weather"
    assert len(deltas) > 2 and all(d.index == 0 for d in deltas)
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == WEATHER_ARGS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    with oai.chat.completions.stream(model=GPT, messages=user("Weather in Paris"), tools=OPENAI_TOOLS) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS
    assert final.choices[0].finish_reason == "tool_calls"


def test_chat_parse_with_pydantic_model(oai: openai.OpenAI) -> None:
    class Answer(pydantic.BaseModel):
        answer: str
        confidence: float
        sources: List[str]

    completion = oai.chat.completions.parse(model=GPT, messages=user(RAG_PROMPT), response_format=Answer)
    parsed = completion.choices[0].message.parsed
    assert parsed == Answer(answer=RAG_ANSWER, confidence=0.0, sources=[])

    with oai.chat.completions.stream(model=GPT, messages=user(RAG_PROMPT), response_format=Answer) as stream:
        streamed = stream.get_final_completion()
    assert streamed.choices[0].message.parsed == parsed


def test_chat_custom_reply_refusal_and_finish_reasons(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    server.reply = lambda request, provider: Reply(refusal="I can't help with that.")
    refused = oai.chat.completions.create(model=GPT, messages=user("bad"))
    assert refused.choices[0].message.refusal == "I can't help with that."
    assert refused.choices[0].message.content is None
    streamed = list(oai.chat.completions.create(model=GPT, messages=user("bad"), stream=True))
    assert "".join(c.choices[0].delta.refusal or "" for c in streamed) == "I can't help with that."

    for generic, expected in [("length", "length"), ("content_filter", "content_filter"), ("max_tokens", "length")]:
        server.reply = lambda request, provider, g=generic: Reply(text="x", finish_reason=g, model="gpt-real-0613")
        completion = oai.chat.completions.create(model=GPT, messages=user("hi"))
        assert completion.choices[0].finish_reason == expected
        assert completion.model == "gpt-real-0613"


def test_chat_custom_reply_tokens_and_multiple_tools(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    calls = [ToolCall("a", {"x": 1}, id="call_fixed"), ToolCall("b", '{"y": 2}')]
    server.reply = lambda request, provider: Reply(text="Let me check.", tool_calls=calls, input_tokens=11, output_tokens=7)
    completion = oai.chat.completions.create(model=GPT, messages=user("hi"), n=2)
    assert len(completion.choices) == 2
    message = completion.choices[1].message
    assert message.content == "Let me check."
    first, second = message.tool_calls or []
    assert (first.id, first.function.name, first.function.arguments) == ("call_fixed", "a", '{"x":1}')
    assert second.id.startswith("call_") and second.id != first.id
    assert (second.function.name, second.function.arguments) == ("b", '{"y": 2}')
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 7)

    with oai.chat.completions.stream(model=GPT, messages=user("hi")) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Let me check."
    assert [c.function.name for c in final.choices[0].message.tool_calls or []] == ["a", "b"]


# --------------------------------------------------------------------------
# OpenAI responses
# --------------------------------------------------------------------------


def test_responses_plain(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model=GPT, instructions="Be brief.", input=RAG_PROMPT)
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == RAG_ANSWER
    assert response.model == GPT
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert response.usage is not None
    assert response.usage.input_tokens == len(("Be brief. " + RAG_PROMPT).split())
    assert response.usage.output_tokens == len(RAG_ANSWER.split())
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_stream_events(oai: openai.OpenAI) -> None:
    plain = oai.responses.create(model=GPT, input=RAG_PROMPT)
    events = list(oai.responses.create(model=GPT, input=RAG_PROMPT, stream=True))
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == plain.output_text
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == plain.output_text
    assert final.response.usage == plain.usage


def test_responses_stream_helper(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model=GPT, input="stream me") as stream:
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == "Echo: stream me"


def test_responses_function_call(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model=GPT, input="Weather in Paris", tools=RESPONSES_TOOLS)
    (call,) = response.output
    assert call.type == "function_call"
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads(call.arguments) == WEATHER_ARGS

    follow_up = oai.responses.create(
        model=GPT,
        input=[
            {"role": "user", "content": "Weather in Paris"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "Paris weather is sunny."},
        ],
        tools=RESPONSES_TOOLS,
    )
    assert follow_up.output_text == "Paris weather is sunny."

    events = list(oai.responses.create(model=GPT, input="Weather in Paris", tools=RESPONSES_TOOLS, stream=True))
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(arguments) == WEATHER_ARGS
    assert [e.type for e in events if "arguments.done" in e.type] == ["response.function_call_arguments.done"]


def test_responses_max_output_tokens_is_incomplete(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model=GPT, input="one two three four", max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "Echo: one"
    events = list(oai.responses.create(model=GPT, input="one two three four", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete"


def test_responses_parse_with_pydantic_model(oai: openai.OpenAI) -> None:
    class Answer(pydantic.BaseModel):
        answer: str

    response = oai.responses.parse(model=GPT, input=RAG_PROMPT, text_format=Answer)
    assert response.output_parsed == Answer(answer=RAG_ANSWER)


# --------------------------------------------------------------------------
# OpenAI embeddings and models
# --------------------------------------------------------------------------


def test_embeddings_default_base64_and_float(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    inputs = ["the cat sat on the mat", "the cat sat on a mat", "quantum chromodynamics"]
    default = oai.embeddings.create(model="text-embedding-3-small", input=inputs)
    assert server.requests[-1].json["encoding_format"] == "base64"
    floats = oai.embeddings.create(model="text-embedding-3-small", input=inputs, encoding_format="float")
    assert server.requests[-1].json["encoding_format"] == "float"
    assert [d.index for d in default.data] == [0, 1, 2]
    assert default.usage.prompt_tokens == sum(len(text.split()) for text in inputs)
    for a, b in zip(default.data, floats.data):
        assert len(a.embedding) == len(b.embedding) == 1536
        assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a.embedding, b.embedding))
    vectors = [d.embedding for d in floats.data]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0, rel_tol=1e-6)
    similar = sum(x * y for x, y in zip(vectors[0], vectors[1]))
    unrelated = sum(x * y for x, y in zip(vectors[0], vectors[2]))
    assert similar > 0.5 > unrelated
    again = oai.embeddings.create(model="text-embedding-3-small", input=inputs[0], encoding_format="float")
    assert again.data[0].embedding == vectors[0]


def test_embeddings_dimensions_and_raw_base64(http: httpx2.Client) -> None:
    response = http.post(
        "/v1/embeddings",
        json={"model": "text-embedding-3-large", "input": "hi", "encoding_format": "base64", "dimensions": 8},
        headers={"Authorization": "Bearer sk"},
    )
    vector = struct.unpack("<8f", base64.b64decode(response.json()["data"][0]["embedding"]))
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)
    large = http.post(
        "/v1/embeddings",
        json={"model": "text-embedding-3-large", "input": [[1, 2, 3]], "encoding_format": "float"},
        headers={"Authorization": "Bearer sk"},
    ).json()
    assert len(large["data"][0]["embedding"]) == 3072
    assert large["usage"]["prompt_tokens"] == 3


def test_models(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    ids = [model.id for model in oai.models.list()]
    assert GPT in ids and "text-embedding-3-small" in ids
    assert oai.models.retrieve("gpt-4o").owned_by == "system"
    claude_models = list(claude.models.list())
    assert claude_models and all(m.type == "model" for m in claude_models)
    assert claude.models.retrieve(CLAUDE).id == CLAUDE


# --------------------------------------------------------------------------
# Anthropic messages
# --------------------------------------------------------------------------


def test_messages_plain(server: LoopbackProvider, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model=CLAUDE, max_tokens=100, system="Be brief.", messages=user(RAG_PROMPT))
    assert message.id.startswith("msg_01")
    assert message.type == "message" and message.role == "assistant"
    assert message.model == CLAUDE
    assert [(block.type, getattr(block, "text", None)) for block in message.content] == [("text", RAG_ANSWER)]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == len(("Be brief. " + RAG_PROMPT).split())
    assert message.usage.output_tokens == len(RAG_ANSWER.split())
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0

    request = server.requests[-1]
    assert request.path == "/v1/messages"
    assert "anthropic-version" in request.headers


def test_messages_tool_use_then_tool_result(claude: anthropic.Anthropic) -> None:
    messages: List[Dict[str, Any]] = user("Weather in Paris")
    message = claude.messages.create(model=CLAUDE, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_01") and block.name == "get_weather"
    assert block.input == WEATHER_ARGS

    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "Rainy. Paris weather is mild."}],
        },
    ]
    answer = claude.messages.create(model=CLAUDE, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].type == "text" and answer.content[0].text == "Paris weather is mild."


def test_messages_stream_matches_create(claude: anthropic.Anthropic) -> None:
    plain = claude.messages.create(model=CLAUDE, max_tokens=100, messages=user(RAG_PROMPT))
    events = list(claude.messages.create(model=CLAUDE, max_tokens=100, messages=user(RAG_PROMPT), stream=True))
    types = [event.type for event in events]
    assert types[0] == "message_start" and types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == RAG_ANSWER
    delta = events[-2]
    assert delta.type == "message_delta"
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == plain.usage.output_tokens

    with claude.messages.stream(model=CLAUDE, max_tokens=100, messages=user(RAG_PROMPT)) as stream:
        streamed_text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed_text == RAG_ANSWER
    assert final.content[0].type == "text" and final.content[0].text == RAG_ANSWER
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.stop_reason == "end_turn" and final.id == plain.id


def test_messages_stream_tool_use(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=CLAUDE, max_tokens=100, messages=user("Weather in Paris"), tools=ANTHROPIC_TOOLS
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == WEATHER_ARGS


def test_messages_max_tokens_and_beta_query(server: LoopbackProvider, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=CLAUDE, max_tokens=2, messages=user("one two three"), extra_query={"beta": "true"}
    )
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "Echo: one"
    assert server.requests[-1].query == {"beta": "true"}
    assert server.requests[-1].path == "/v1/messages"
    beta = claude.beta.messages.create(model=CLAUDE, max_tokens=2, messages=user("one two three"))
    assert beta.stop_reason == "max_tokens" and beta.id == message.id


def test_messages_parse_output_format(claude: anthropic.Anthropic) -> None:
    class Answer(pydantic.BaseModel):
        answer: str
        year: int

    message = claude.messages.parse(model=CLAUDE, max_tokens=100, messages=user(RAG_PROMPT), output_format=Answer)
    assert message.parsed_output == Answer(answer=RAG_ANSWER, year=0)


def test_messages_refusal(server: LoopbackProvider, claude: anthropic.Anthropic) -> None:
    server.reply = lambda request, provider: Reply(refusal="I won't do that.")
    message = claude.messages.create(model=CLAUDE, max_tokens=100, messages=user("bad"))
    assert message.stop_reason == "refusal"
    assert message.content[0].type == "text" and message.content[0].text == "I won't do that."


def test_count_tokens_matches_usage(claude: anthropic.Anthropic) -> None:
    kwargs: Dict[str, Any] = dict(model=CLAUDE, system="Short system.", messages=user("four words right here"))
    counted = claude.messages.count_tokens(**kwargs)
    message = claude.messages.create(max_tokens=50, **kwargs)
    assert counted.input_tokens == message.usage.input_tokens == 6


# --------------------------------------------------------------------------
# Async clients
# --------------------------------------------------------------------------


def test_async_openai(server: LoopbackProvider) -> None:
    async def run() -> None:
        async with openai.AsyncOpenAI(api_key="sk", base_url=server.openai_base_url, max_retries=0) as client:
            prompts = [f"question number {i}" for i in range(5)]
            results = await asyncio.gather(
                *(client.chat.completions.create(model=GPT, messages=user(p)) for p in prompts)
            )
            assert [r.choices[0].message.content for r in results] == [f"Echo: {p}" for p in prompts]

            stream = await client.chat.completions.create(
                model=GPT, messages=user(RAG_PROMPT), stream=True, stream_options={"include_usage": True}
            )
            chunks = [chunk async for chunk in stream]
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == RAG_ANSWER
            assert chunks[-1].usage is not None

            async with client.responses.stream(model=GPT, input=RAG_PROMPT) as rstream:
                final = await rstream.get_final_response()
            assert final.output_text == RAG_ANSWER

            embedding = await client.embeddings.create(model="text-embedding-3-small", input="x")
            assert len(embedding.data[0].embedding) == 1536

    asyncio.run(run())


def test_async_anthropic(server: LoopbackProvider) -> None:
    async def run() -> None:
        async with anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0) as client:
            message = await client.messages.create(model=CLAUDE, max_tokens=50, messages=user(RAG_PROMPT))
            assert message.content[0].type == "text" and message.content[0].text == RAG_ANSWER

            stream = await client.messages.create(model=CLAUDE, max_tokens=50, messages=user(RAG_PROMPT), stream=True)
            events = [event async for event in stream]
            assert events[-1].type == "message_stop"

            async with client.messages.stream(
                model=CLAUDE, max_tokens=50, messages=user("Weather in Paris"), tools=ANTHROPIC_TOOLS
            ) as mstream:
                final = await mstream.get_final_message()
            assert final.content[0].type == "tool_use" and final.content[0].input == WEATHER_ARGS

    asyncio.run(run())


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_missing_keys_are_rejected(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as oai_error:
        oai.chat.completions.create(model=GPT, messages=user("hi"), extra_headers={"Authorization": openai.Omit()})
    assert oai_error.value.status_code == 401
    assert oai_error.value.code == "invalid_api_key"
    assert oai_error.value.request_id is not None and oai_error.value.request_id.startswith("req_")

    keyless = anthropic.Anthropic(
        api_key=None, auth_token=None, base_url=server.anthropic_base_url, max_retries=0,
        default_headers={"Authorization": anthropic.Omit()},
    )
    with pytest.raises(anthropic.AuthenticationError) as claude_error:
        keyless.messages.create(model=CLAUDE, max_tokens=10, messages=user("hi"))
    assert claude_error.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert claude_error.value.request_id == claude_error.value.body["request_id"]  # type: ignore[index]

    x_api_key = anthropic.Anthropic(
        api_key=None, base_url=server.anthropic_base_url, max_retries=0,
        default_headers={"x-api-key": "sk-ant-legacy", "Authorization": anthropic.Omit()},
    )
    assert x_api_key.messages.create(model=CLAUDE, max_tokens=10, messages=user("hi")).stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("status", "exception"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError), (503, openai.InternalServerError)],
)
def test_openai_error_status(server: LoopbackProvider, oai: openai.OpenAI, status: int, exception: type) -> None:
    server.reply = lambda request, provider: Reply(status=status)
    with pytest.raises(exception) as info:
        oai.chat.completions.create(model=GPT, messages=user("hi"), stream=True)
    error = info.value
    assert error.status_code == status
    assert error.request_id.startswith("req_")
    assert error.response.headers["x-request-id"] == error.request_id
    assert set(error.body) == {"message", "type", "param", "code"}
    if status == 429:
        assert error.code == "rate_limit_exceeded"
        assert error.response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_anthropic_error_status(
    server: LoopbackProvider, claude: anthropic.Anthropic, status: int, exception: type, error_type: str
) -> None:
    server.reply = lambda request, provider: Reply(status=status, error_message="custom failure")
    with pytest.raises(exception) as info:
        claude.messages.create(model=CLAUDE, max_tokens=10, messages=user("hi"))
    error = info.value
    assert error.status_code == status
    assert error.request_id.startswith("req_011C")
    assert error.body == {
        "type": "error",
        "error": {"type": error_type, "message": "custom failure"},
        "request_id": error.request_id,
    }


def test_custom_error_type_code_and_headers(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    server.reply = lambda request, provider: Reply(
        status=429, error_type="insufficient_quota", error_code="insufficient_quota",
        error_message="You exceeded your current quota.", headers={"retry-after": "7", "x-custom": "yes"},
    )
    with pytest.raises(openai.RateLimitError) as info:
        oai.responses.create(model=GPT, input="hi")
    assert info.value.code == "insufficient_quota" and info.value.type == "insufficient_quota"
    assert info.value.message.endswith("You exceeded your current quota.")
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.response.headers["x-custom"] == "yes"


def test_reply_function_exception_becomes_500(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    def broken(request: ReceivedRequest, provider: str) -> Reply:
        raise ValueError("boom")

    server.reply = broken
    with pytest.raises(openai.InternalServerError, match="boom"):
        oai.chat.completions.create(model=GPT, messages=user("hi"))


def test_server_error_while_building_a_body_is_a_500(http: httpx2.Client) -> None:
    odd = http.post("/v1/responses", json={"model": GPT, "input": [{"type": 5}]}, headers={"Authorization": "Bearer sk"})
    assert odd.status_code == 500
    assert "loopback server failed" in odd.json()["error"]["message"]
    fine = http.post("/v1/responses", json={"model": GPT, "input": "still alive"}, headers={"Authorization": "Bearer sk"})
    assert fine.json()["output"][0]["content"][0]["text"] == "Echo: still alive"


def test_reply_function_none_falls_back_and_sees_provider(server: LoopbackProvider, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    seen: List[Tuple[str, str]] = []

    def spy(request: ReceivedRequest, provider: str) -> Optional[Reply]:
        seen.append((provider, request.path))
        return None

    server.reply = spy
    assert oai.chat.completions.create(model=GPT, messages=user("hi")).choices[0].message.content == "Echo: hi"
    claude.messages.create(model=CLAUDE, max_tokens=10, messages=user("hi"))
    assert seen == [("openai", "/v1/chat/completions"), ("anthropic", "/v1/messages")]


def test_unknown_path_bad_json_and_missing_fields(http: httpx2.Client) -> None:
    bearer = {"Authorization": "Bearer sk"}
    claude_headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    missing = http.post("/v1/nope", json={}, headers=bearer)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
    claude_missing = http.get("/v1/files/x", headers=claude_headers)
    assert claude_missing.status_code == 404 and claude_missing.json()["error"]["type"] == "not_found_error"

    bad_json = http.post("/v1/chat/completions", content=b"{nope", headers=bearer)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    no_messages = http.post("/v1/chat/completions", json={"model": GPT}, headers=bearer)
    assert no_messages.json()["error"]["message"] == "Missing required parameter: 'messages'."
    no_max_tokens = http.post(
        "/v1/messages", json={"model": CLAUDE, "messages": user("x")}, headers=claude_headers
    )
    assert no_max_tokens.status_code == 400
    assert no_max_tokens.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}


# --------------------------------------------------------------------------
# Wire format: strict schema conformance, headers, gzip
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        None,
        Reply(refusal="No."),
        Reply(text="Calling tools.", tool_calls=[ToolCall("f", {"q": "x"}), ToolCall("g", '{"a": 1}')]),
        Reply(text="cut", finish_reason="length"),
    ],
    ids=["default", "refusal", "text+tools", "length"],
)
def test_bodies_and_events_validate_against_sdk_types(
    server: LoopbackProvider, http: httpx2.Client, reply: Optional[Reply]
) -> None:
    server.reply = None if reply is None else (lambda request, provider: reply)
    bearer = {"Authorization": "Bearer sk"}
    claude_headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    chat = {"model": GPT, "messages": user("Weather in Paris"), "tools": OPENAI_TOOLS}
    responses = {"model": GPT, "input": "Weather in Paris", "tools": RESPONSES_TOOLS}
    messages = {"model": CLAUDE, "max_tokens": 50, "messages": user("Weather in Paris"), "tools": ANTHROPIC_TOOLS}

    validate(ChatCompletion, http.post("/v1/chat/completions", json=chat, headers=bearer).json())
    validate(Response, http.post("/v1/responses", json=responses, headers=bearer).json())
    validate(Message, http.post("/v1/messages", json=messages, headers=claude_headers).json())

    stream_chat = dict(chat, stream=True, stream_options={"include_usage": True})
    frames = sse_frames(http.post("/v1/chat/completions", json=stream_chat, headers=bearer).text)
    assert frames[-1] == (None, "[DONE]")
    for _, data in frames[:-1]:
        validate(ChatCompletionChunk, json.loads(data))

    for event, data in sse_frames(http.post("/v1/responses", json=dict(responses, stream=True), headers=bearer).text):
        payload = json.loads(data)
        assert payload["type"] == event
        validate(ResponseStreamEvent, payload)

    stream_messages = dict(messages, stream=True)
    for event, data in sse_frames(http.post("/v1/messages", json=stream_messages, headers=claude_headers).text):
        payload = json.loads(data)
        assert payload["type"] == event
        if event != "ping":
            validate(RawMessageStreamEvent, payload)


def test_other_bodies_validate_against_sdk_types(http: httpx2.Client) -> None:
    bearer = {"Authorization": "Bearer sk"}
    claude_headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    embeddings = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"}
    validate(CreateEmbeddingResponse, http.post("/v1/embeddings", json=embeddings, headers=bearer).json())
    for model in http.get("/v1/models", headers=bearer).json()["data"]:
        validate(Model, model)
    for model in http.get("/v1/models", headers=claude_headers).json()["data"]:
        validate(ModelInfo, model)
    count = {"model": CLAUDE, "messages": user("a b c")}
    validate(MessageTokensCount, http.post("/v1/messages/count_tokens", json=count, headers=claude_headers).json())


def test_provider_headers_and_gzip(server: LoopbackProvider, http: httpx2.Client) -> None:
    body = {"model": GPT, "messages": user("hi")}
    gzipped = http.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk", "Accept-Encoding": "gzip"})
    plain = http.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk", "Accept-Encoding": "identity"})
    streamed = http.post(
        "/v1/chat/completions", json=dict(body, stream=True), headers={"Authorization": "Bearer sk", "Accept-Encoding": "gzip"}
    )
    claude = http.post(
        "/v1/messages",
        json={"model": CLAUDE, "max_tokens": 5, "messages": user("hi")},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )

    assert gzipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert gzipped.json() == plain.json()
    assert "content-encoding" not in streamed.headers
    assert streamed.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert plain.headers["content-type"] == "application/json"

    headers = plain.headers
    assert headers["x-request-id"].startswith("req_") and headers["x-request-id"] != gzipped.headers["x-request-id"]
    assert headers["openai-organization"] == server.openai_organization and headers["openai-organization"].startswith("org-")
    assert headers["openai-project"].startswith("proj_")
    assert headers["openai-version"] == "2020-10-01"
    assert int(headers["openai-processing-ms"]) > 0
    assert headers["x-ratelimit-limit-requests"] == "10000"
    cookies = headers.get_list("set-cookie")
    assert [c.split("=", 1)[0] for c in cookies] == ["__cf_bm", "_cfuvid"]
    assert all("domain=127.0.0.1; HttpOnly; Secure; SameSite=None" in c for c in cookies)

    assert claude.headers["request-id"].startswith("req_011C")
    assert claude.headers["anthropic-organization-id"] == server.anthropic_organization_id
    assert claude.headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert claude.headers.get_list("set-cookie")


# --------------------------------------------------------------------------
# Lifecycle, concurrency and command line
# --------------------------------------------------------------------------


def test_start_stop_and_reply_argument() -> None:
    provider = LoopbackProvider(reply=lambda request, kind: Reply(text=f"hello from {kind}"))
    with pytest.raises(RuntimeError):
        provider.url
    provider.start()
    port = provider.port
    assert provider.url == f"http://127.0.0.1:{port}"
    assert provider.openai_base_url == provider.url + "/v1"
    assert provider.anthropic_base_url == provider.url
    client = openai.OpenAI(api_key="sk", base_url=provider.openai_base_url, max_retries=0)
    assert client.chat.completions.create(model=GPT, messages=user("x")).choices[0].message.content == "hello from openai"
    provider.stop()
    provider.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    client.close()


def test_concurrent_requests_are_all_recorded(server: LoopbackProvider, oai: openai.OpenAI) -> None:
    answers: List[str] = []

    def worker(i: int) -> None:
        completion = oai.chat.completions.create(model=GPT, messages=user(f"thread {i}"))
        answers.append(completion.choices[0].message.content or "")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted(f"Echo: thread {i}" for i in range(8))
    assert len(server.requests) == 8


def test_command_line_serves_until_interrupted() -> None:
    import signal

    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmops.loopback", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("pytest-llmops loopback provider listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert process.stdout.readline().strip() == f"OpenAI:    OPENAI_BASE_URL={url}/v1"
        assert process.stdout.readline().strip() == f"Anthropic: ANTHROPIC_BASE_URL={url}"
        client = openai.OpenAI(api_key="sk", base_url=url + "/v1", max_retries=0)
        assert client.chat.completions.create(model=GPT, messages=user("cli")).choices[0].message.content == "Echo: cli"
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
