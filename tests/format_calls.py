"""The calls an application makes in tests/test_formats.py: both SDKs, plain and streamed, embeddings and a
beta call. Copied into pytester projects as ``format_calls.py``; clients read base URL and key from the
environment. ``run_all()`` returns everything the app would look at, as JSON-able data.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai

MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-5-5"
QUESTION = "Context: The Eiffel Tower is 330 metres tall.\nQuestion: How tall is the Eiffel Tower?"
BETA = "interleaved-thinking-2025-05-14"


def dump(obj: Any) -> Any:
    return obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj


def run_all() -> dict[str, Any]:
    oa = openai.OpenAI(max_retries=0)
    an = anthropic.Anthropic(max_retries=0)
    question = [{"role": "user", "content": QUESTION}]
    return {
        "chat": dump(oa.chat.completions.create(model=MODEL, messages=question, temperature=0)),
        "chat_stream": [dump(c) for c in oa.chat.completions.create(model=MODEL, messages=question, stream=True)],
        "embeddings": dump(oa.embeddings.create(model="text-embedding-3-small", input="hello")),
        "messages": dump(an.messages.create(model=CLAUDE, max_tokens=64, messages=question)),
        "messages_stream": [dump(e) for e in an.messages.create(model=CLAUDE, max_tokens=64, messages=question,
                                                                 stream=True)],
        "beta": dump(an.beta.messages.create(model=CLAUDE, max_tokens=64, messages=question, betas=[BETA])),
    }
