"""The assistant serving customer questions in staging, with production capture on (docs/production-loop.md).

    python staging.py            # from examples/; the SDKs' base URLs and keys come from the environment

``pytest_llmops.capture`` records a sample of the real SDK calls (here all of them: staging traffic is
small; 0.05 is a production setting) into ``captures/``, scrubbed like cassettes, without slowing or
changing a single answer. ``capture.tag(question=...)`` keeps the question each call answered, so a
promoted case can put it to the app again (``tests/promoted/conftest.py`` in the walkthrough).
"""

from __future__ import annotations

import sys

from ragapp import Assistant

import pytest_llmops

#: A day of staging traffic, each question asked through the provider it was routed to.
TRAFFIC = [
    ("openai", "How many days do I have to return an unused bike?"),
    ("openai", "Does Northwind ship to Canada?"),
    ("anthropic", "How much does a standard service cost?"),
    ("openai", "How long does express delivery take?"),
    ("anthropic", "Can I return a bike I have ridden?"),
]


def serve(sample: float = 1.0) -> None:
    assistants = {provider: Assistant(provider) for provider in ("openai", "anthropic")}
    with pytest_llmops.capture("captures", sample=sample, tags={"env": "staging"}) as capture:
        for provider, question in TRAFFIC:
            with pytest_llmops.capture.tag(question=question):
                answer = assistants[provider].ask(question)
            print(f"{provider:<9} {question}\n          -> {answer.text}")
    stats = capture.stats()
    print(f"captured {stats.written} of {stats.seen} calls ({stats.dropped} dropped) into captures/")


if __name__ == "__main__":
    serve(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
