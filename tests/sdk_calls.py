"""The SDK call patterns the record/replay matrix drives: each returns what a test would look at.

Copied into pytester projects (``pytester.makepyfile(sdk_calls=...)``). Clients read their base URL
and key from the environment (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, *_API_KEY), as users' apps do.
Every function returns JSON-able data: the SDK objects dumped whole, so "the same as live" means the
same text, usage, finish/stop reason and tool calls, field by field.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import anthropic
import openai

QUESTION = "Context: The Eiffel Tower is 330 metres tall. It is in Paris.\nQuestion: How tall is the Eiffel Tower?"
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look a city up",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ANTHROPIC_TOOLS = [{"name": "lookup", "description": "Look a city up",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                     "required": ["city"]}}]
MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-5-5"


_clients: dict[tuple[Any, ...], Any] = {}


def _client(cls: Any) -> Any:
    """One client per class and environment: building one loads the CA bundle (~75 ms)."""
    key = (cls, *(os.environ.get(v) for v in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL",
                                              "ANTHROPIC_API_KEY")))
    if key not in _clients:
        _clients[key] = cls()
    return _clients[key]


def dump(obj: Any) -> Any:
    return obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj


# -- OpenAI ----------------------------------------------------------------------------------------
def openai_chat_sync() -> Any:
    client = _client(openai.OpenAI)
    return dump(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}]))


def openai_chat_tools() -> Any:
    client = _client(openai.OpenAI)
    result = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS
    )
    assert result.choices[0].message.tool_calls, "expected a tool call"
    return dump(result)


def openai_chat_stream() -> Any:
    client = _client(openai.OpenAI)
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True},
    )
    return [dump(chunk) for chunk in stream]


def openai_chat_async() -> Any:
    async def call() -> Any:
        async with openai.AsyncOpenAI() as client:
            return dump(await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}]))

    return asyncio.run(call())


def openai_chat_async_stream() -> Any:
    async def call() -> Any:
        async with openai.AsyncOpenAI() as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            return [dump(chunk) async for chunk in stream]

    return asyncio.run(call())


def openai_responses_sync() -> Any:
    client = _client(openai.OpenAI)
    return dump(client.responses.create(model=MODEL, input=QUESTION))


def openai_responses_stream() -> Any:
    client = _client(openai.OpenAI)
    return [dump(event) for event in client.responses.create(model=MODEL, input=QUESTION, stream=True)]


def openai_responses_async_stream() -> Any:
    async def call() -> Any:
        async with openai.AsyncOpenAI() as client:
            stream = await client.responses.create(model=MODEL, input=QUESTION, stream=True)
            return [dump(event) async for event in stream]

    return asyncio.run(call())


def openai_embeddings() -> Any:
    client = _client(openai.OpenAI)
    return dump(client.embeddings.create(model="text-embedding-3-small", input=["a", "b"]))


# -- Anthropic -------------------------------------------------------------------------------------
def anthropic_messages_sync() -> Any:
    client = _client(anthropic.Anthropic)
    return dump(client.messages.create(model=CLAUDE, max_tokens=200, messages=[{"role": "user", "content": QUESTION}]))


def anthropic_messages_tools() -> Any:
    client = _client(anthropic.Anthropic)
    result = client.messages.create(
        model=CLAUDE, max_tokens=200, tools=ANTHROPIC_TOOLS,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert result.stop_reason == "tool_use"
    return dump(result)


def anthropic_messages_stream_events() -> Any:
    client = _client(anthropic.Anthropic)
    stream = client.messages.create(
        model=CLAUDE, max_tokens=200, messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    return [dump(event) for event in stream]


def anthropic_messages_stream_helper() -> Any:
    client = _client(anthropic.Anthropic)
    with client.messages.stream(model=CLAUDE, max_tokens=200,
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return {"text": text, "final": dump(final)}


def anthropic_messages_async() -> Any:
    async def call() -> Any:
        async with anthropic.AsyncAnthropic() as client:
            return dump(await client.messages.create(model=CLAUDE, max_tokens=200,
                                                     messages=[{"role": "user", "content": QUESTION}]))

    return asyncio.run(call())


def anthropic_messages_async_stream_helper() -> Any:
    async def call() -> Any:
        async with anthropic.AsyncAnthropic() as client:
            async with client.messages.stream(model=CLAUDE, max_tokens=200,
                                              messages=[{"role": "user", "content": QUESTION}]) as stream:
                text = "".join([t async for t in stream.text_stream])
                final = await stream.get_final_message()
        return {"text": text, "final": dump(final)}

    return asyncio.run(call())


PATTERNS = [name for name in dir() if name.startswith(("openai_", "anthropic_"))]
