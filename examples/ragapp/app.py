"""The assistant: retrieve the policy documents a question needs, then ask the model.

The prompt is not in the code: it is a versioned file under ``prompts/`` (model, parameters, template,
and how many documents to retrieve: ``retrieval.k``), so a prompt change is a reviewed change with a new
version, and the tests can pin the version or compare versions (``@pytest.mark.llm_prompt``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmops.prompts import Prompt, PromptRegistry

from .retriever import Retriever

PROMPTS = Path(__file__).parent.parent / "prompts"
#: The prompt version the application ships, per provider. A new version (answer/v2.yaml) is compared
#: with the shipped one in tests/test_prompt_versions.py before it replaces it here.
PROMPT_FOR = {"openai": ("answer", "v1"), "anthropic": ("answer-claude", "v1")}


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
                 retriever: Retriever | None = None) -> None:
        if provider not in PROMPT_FOR:
            raise ValueError(f"provider must be one of {sorted(PROMPT_FOR)}, got {provider!r}")
        self.provider = provider
        self.prompt = prompt or PromptRegistry(PROMPTS).get(*PROMPT_FOR[provider])
        self.client = client or _client(provider)
        self.retriever = retriever or Retriever()

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

    def stream(self, question: str) -> Iterator[str]:
        """The answer as it is generated (chat completions / messages streams)."""
        kwargs, _ = self._request(question)
        if self.provider == "openai":
            for chunk in self.client.chat.completions.create(**kwargs, stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        else:
            with self.client.messages.stream(**kwargs) as events:
                yield from events.text_stream


def _client(provider: str) -> Any:
    if provider == "openai":
        import openai

        return openai.OpenAI()
    import anthropic

    return anthropic.Anthropic()
