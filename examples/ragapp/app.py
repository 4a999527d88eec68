"""The assistant: retrieve the policy documents a question needs, then ask the model.

The prompt is not in the code: it is a versioned file under ``prompts/`` (model, parameters, template,
and how many documents to retrieve: ``retrieval.k``), so a prompt change is a reviewed change with a new
version, and the tests can pin the version or compare versions (``@pytest.mark.llm_prompt``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from pytest_llmops.prompts import Prompt, PromptRegistry

from .retriever import Retriever

PROMPTS = Path(__file__).parent.parent / "prompts"
#: The prompt version the application ships, per provider. A new version (answer/v2.yaml) is compared
#: with the shipped one in tests/test_prompt_versions.py before it replaces it here.
PROMPT_FOR = {"openai": ("answer", "v1"), "anthropic": ("answer-claude", "v1")}
#: The structured variant (``ask_structured``): OpenAI structured output, a JSON schema in the prompt file.
STRUCTURED_PROMPT = ("answer-json", "v1")


class CitedAnswer(pydantic.BaseModel):
    """What ``ask_structured`` returns, as the help widget reads it: the answer and the titles (lower
    case, which are also the document names) of the documents it comes from."""

    model_config = pydantic.ConfigDict(extra="forbid")

    answer: str = pydantic.Field(min_length=1)
    sources: list[str] = pydantic.Field(min_length=1)


@dataclass
class Answer:
    text: str
    sources: list[str]
    model: str
    prompt: str  # name@version
    usage: dict[str, int] = field(default_factory=dict)
    context: list[str] = field(default_factory=list)  # the retrieved documents' text


class Assistant:
    """Answers customer questions about Northwind Bikes from its policy documents."""

    def __init__(self, provider: str = "openai", *, prompt: Prompt | None = None, client: Any = None,
                 retriever: Retriever | None = None, structured_prompt: Prompt | None = None) -> None:
        if provider not in PROMPT_FOR:
            raise ValueError(f"provider must be one of {sorted(PROMPT_FOR)}, got {provider!r}")
        self.provider = provider
        self.prompt = prompt or PromptRegistry(PROMPTS).get(*PROMPT_FOR[provider])
        self.client = client or _client(provider)
        self.retriever = retriever or Retriever()
        self.structured_prompt = structured_prompt

    def _request(self, question: str) -> tuple[dict[str, Any], list[Any]]:
        documents = self.retriever.search(question, k=self.prompt.retrieval.get("k", 2))
        context = "\n\n".join(d.text for d in documents) or "(no matching documents)"
        kwargs = self.prompt.call_kwargs(self.provider, context=context, question=question)
        return kwargs, documents

    def ask(self, question: str) -> Answer:
        kwargs, documents = self._request(question)
        if self.provider == "openai":
            reply = self.client.chat.completions.create(**kwargs)
            text = reply.choices[0].message.content or ""
            usage = {"input": reply.usage.prompt_tokens, "output": reply.usage.completion_tokens}
        else:
            reply = self.client.messages.create(**kwargs)
            text = "".join(block.text for block in reply.content if block.type == "text")
            usage = {"input": reply.usage.input_tokens, "output": reply.usage.output_tokens}
        return Answer(text, [d.name for d in documents], reply.model, self.prompt.ref, usage,
                      [d.text for d in documents])

    def ask_structured(self, question: str) -> Answer:
        """The answer as JSON text, ``{"answer": ..., "sources": [...]}`` (``CitedAnswer``), for the help
        widget: OpenAI structured output with the versioned prompt ``answer-json``. ``Answer.text`` is
        the JSON the model wrote; ``Answer.sources`` the documents retrieved (what the model may cite)."""
        if self.provider != "openai":
            raise ValueError("ask_structured uses OpenAI structured output: build Assistant('openai')")
        prompt = self.structured_prompt or PromptRegistry(PROMPTS).get(*STRUCTURED_PROMPT)
        documents = self.retriever.search(question, k=prompt.retrieval.get("k", 2))
        context = "\n\n".join(d.text for d in documents) or "(no matching documents)"
        reply = self.client.chat.completions.create(**prompt.call_kwargs("openai", context=context, question=question))
        usage = {"input": reply.usage.prompt_tokens, "output": reply.usage.completion_tokens}
        return Answer(reply.choices[0].message.content or "", [d.name for d in documents], reply.model, prompt.ref,
                      usage, [d.text for d in documents])

    def stream(self, question: str) -> Iterator[str]:
        """The answer as it is generated (chat completions / messages streams)."""
        kwargs, _ = self._request(question)
        if self.provider == "openai":
            # include_usage: the last chunk reports the tokens, so the stream's cost is known (docs/usage.md)
            for chunk in self.client.chat.completions.create(**kwargs, stream=True,
                                                             stream_options={"include_usage": True}):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        else:
            with self.client.messages.stream(**kwargs) as events:
                yield from events.text_stream


@functools.cache
def _client(provider: str) -> Any:
    """One client per provider for the process: a client holds a connection pool, and building one
    costs tens of milliseconds (it loads the CA certificates)."""
    if provider == "openai":
        import openai

        return openai.OpenAI()
    import anthropic

    return anthropic.Anthropic()
