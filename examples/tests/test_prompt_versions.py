"""Comparing two versions of the answer prompt in one run (docs/prompts.md, "Testing several versions").

``@pytest.mark.llm_prompt("answer", versions=["v1", "v2"])`` runs each test once per version
(ids ``[answer@v1]``, ``[answer@v2]``); the ``llm_prompt`` fixture is that run's ``Prompt``, handed to the
assistant. Each run has its own cassette, and the scores it records carry the version and its digest,
so the two versions' results sit side by side and never mix.

Re-record after adding a version (against the local loopback server):  examples/record.sh tests/test_prompt_versions.py
"""

import pytest
from ragapp import Assistant

from pytest_llmops.faithfulness import check_faithfulness
from pytest_llmops.scores import record_score

QUESTIONS = {
    "returns": ("How many days do I have to return an unused bike?", "30 days"),
    "shipping": ("How long does express delivery take?", "1 working day"),
}


@pytest.mark.llm
@pytest.mark.llm_prompt("answer", versions=["v1", "v2"])
@pytest.mark.parametrize("topic", QUESTIONS)
def test_answer_is_correct_and_faithful(llm_prompt, topic):
    question, expected = QUESTIONS[topic]
    answer = Assistant("openai", prompt=llm_prompt).ask(question)
    assert answer.prompt == llm_prompt.ref
    assert expected in answer.text

    faithfulness = check_faithfulness(answer.text, answer.context)
    score = record_score("faithfulness", faithfulness.score, source="faithfulness")
    assert score.prompt == llm_prompt.ref and score.prompt_digest == llm_prompt.digest
    assert faithfulness.passed, faithfulness.explain()


@pytest.mark.llm
@pytest.mark.llm_prompt("answer", versions=["v1", "v2"])
def test_retrieval_is_part_of_the_version(llm_prompt):
    answer = Assistant("openai", prompt=llm_prompt).ask("Does Northwind ship to Canada?")
    assert answer.sources[0] == "shipping"
    assert len(answer.sources) == llm_prompt.retrieval.get("k", 2)  # v2 retrieves one document
    assert "does not ship" in answer.text
