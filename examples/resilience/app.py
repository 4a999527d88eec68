"""A question-answering service that stays up when its provider does not.

The policy, decided by ``pytest_llmops.classify_error`` on what the SDKs raise:

1. Ask OpenAI (structured output: ``Reply``). The SDK itself retries transient errors (429, 5xx,
   timeouts, dropped connections) twice, honouring ``retry-after``.
2. The answer was cut at the token limit  -> ask OpenAI once more with a larger token budget.
3. The model refused (or the content filter stopped it)
                                           -> return a refusal; never route around a safety refusal.
4. Still transient after the SDK's retries, or the JSON is malformed
                                           -> fall back to Anthropic (same structured output).
5. Fatal (400/401/403/404/422, context too long, quota) -> raise ``AnswerError`` at once: retrying or
   falling back would send the same broken request.
6. Both providers failed                   -> ``AnswerError`` naming both failures (with request ids).

``stream_answer`` streams the OpenAI answer; a stream cut mid-way (or an error event inside it) is
answered again, whole, by the fallback.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import anthropic
import openai
import pydantic

from pytest_llmops import classify_error, classify_response

PRIMARY_MODEL = "gpt-4o-mini"
FALLBACK_MODEL = "claude-sonnet-5-5"
TOKENS = 200
MORE_TOKENS = 800
REFUSED = "Sorry, I can't help with that request."


class Reply(pydantic.BaseModel):
    answer: str


@dataclass
class Answer:
    text: str
    provider: str  # "openai", "anthropic", or "none" (refused)
    incidents: list[str] = field(default_factory=list)  # what went wrong on the way, for the logs


class AnswerError(Exception):
    """No answer: a fatal error, or every provider failed. ``incidents`` says what happened."""

    def __init__(self, message: str, incidents: list[str]) -> None:
        super().__init__(message + ": " + "; ".join(incidents))
        self.incidents = incidents


class Answerer:
    def __init__(self, primary: openai.OpenAI | None = None, fallback: anthropic.Anthropic | None = None) -> None:
        self.primary = primary or _openai_client()
        self.fallback = fallback or _anthropic_client()

    # -- the policy ----------------------------------------------------------------------------
    def ask(self, question: str) -> Answer:
        incidents: list[str] = []
        tokens = TOKENS
        for _ in range(2):  # a second try only after a truncation
            try:
                completion = self.primary.chat.completions.parse(
                    model=PRIMARY_MODEL, max_completion_tokens=tokens, response_format=Reply,
                    messages=[{"role": "user", "content": question}])
            except Exception as exc:
                found = self._classify(exc, incidents)
                if found.reason == "length" and tokens == TOKENS:
                    tokens = MORE_TOKENS
                    continue
                if found.reason == "content_filter":
                    return Answer(REFUSED, "none", incidents)
                break
            message = completion.choices[0].message
            if message.refusal:
                incidents.append(str(classify_response(completion)))
                return Answer(REFUSED, "none", incidents)
            return Answer(message.parsed.answer, "openai", incidents)
        return self._fall_back(question, incidents)

    def stream_answer(self, question: str) -> Iterator[str]:
        """The answer's text as it arrives; if the stream breaks, the fallback's whole answer follows."""
        incidents: list[str] = []
        try:
            stream = self.primary.chat.completions.create(
                model=PRIMARY_MODEL, max_completion_tokens=TOKENS, stream=True,
                messages=[{"role": "user", "content": question}])
            finished = False
            for chunk in stream:
                if chunk.choices:
                    finished = finished or chunk.choices[0].finish_reason is not None
                    yield chunk.choices[0].delta.content or ""
            if not finished:  # ended without its final chunk: the answer is incomplete
                incidents.append("content (stream_cut), openai")
                yield "\n"
                yield self._fall_back(question, incidents).text
        except Exception as exc:
            self._classify(exc, incidents)
            yield "\n"
            yield self._fall_back(question, incidents).text

    # -- helpers -------------------------------------------------------------------------------
    def _classify(self, exc: Exception, incidents: list[str]):
        found = classify_error(exc)
        incidents.append(str(found))
        if found.kind in ("fatal", "unknown"):
            raise AnswerError("the request cannot succeed as it is", incidents) from exc
        return found

    def _fall_back(self, question: str, incidents: list[str]) -> Answer:
        try:
            message = self.fallback.messages.parse(
                model=FALLBACK_MODEL, max_tokens=MORE_TOKENS, output_format=Reply,
                messages=[{"role": "user", "content": question}])
        except Exception as exc:
            self._classify(exc, incidents)
            raise AnswerError("both providers failed", incidents) from exc
        problem = classify_response(message)
        if problem is not None:
            incidents.append(str(problem))
            if problem.reason == "refusal":
                return Answer(REFUSED, "none", incidents)
            raise AnswerError("both providers failed", incidents)
        return Answer(message.parsed_output.answer, "anthropic", incidents)


@functools.cache
def _openai_client() -> openai.OpenAI:
    """One client per process (a client holds a connection pool; building one loads the CA certificates)."""
    return openai.OpenAI(max_retries=2, timeout=20)


@functools.cache
def _anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(max_retries=2, timeout=20)


def main() -> None:  # pragma: no cover - a manual check against real providers
    print(Answerer().ask(os.environ.get("QUESTION", "How tall is the Eiffel Tower?")))


if __name__ == "__main__":  # pragma: no cover
    main()
