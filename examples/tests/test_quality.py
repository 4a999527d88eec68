"""Scoring the assistant's answers: faithfulness to the retrieved documents (offline, and checked by a
judge model) and a rubric graded by the LLM judge (docs/assertions.md, docs/judge.md).

The judge model is pinned in pytest.ini (``llm_judge_model``). Its calls are recorded in the cassettes
like the assistant's, so these tests replay offline with no key. The cassettes here were recorded
against the loopback server with a toy judge that scores word overlap (examples/loopback_model.py):
its verdicts only show the mechanics. Re-record:  examples/record.sh tests/test_quality.py
"""

import pytest
from ragapp import Assistant
from ragapp.retriever import Retriever

from pytest_llmops import FaithfulnessAssertionError, assert_faithful, assert_judge

PROVIDERS = ["openai", "anthropic"]


@pytest.mark.llm
@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_is_faithful_to_the_documents(provider):
    answer = Assistant(provider).ask("How many days do I have to return an unused bike?")
    result = assert_faithful(answer.text, answer.context)  # offline: no model call
    assert result.score >= 0.9


def test_a_made_up_number_is_caught():
    question = "How many days do I have to return an unused bike?"
    context = [d.text for d in Retriever().search(question)]
    with pytest.raises(FaithfulnessAssertionError) as failure:
        assert_faithful("Unused bikes can be returned within 45 days of delivery.", context)
    assert failure.value.result.unsupported[0].reasons == ("number 45 not in context",)


def test_answer_is_faithful_by_judge(llm_judge):
    answer = Assistant("openai").ask("Does Northwind ship to Canada?")
    result = assert_faithful(answer.text, answer.context, method="judge")
    assert all(claim.evidence for claim in result.claims)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_meets_the_rubric(llm_judge, provider):
    question = "How much does a standard service cost?"
    answer = Assistant(provider).ask(question)
    score = assert_judge(
        answer.text,
        rubric="Answers the question with the price stated in the documents, and invents nothing.",
        min_score=4,
        question=question,
        context=answer.context,
        n=3,
    )
    assert score.spread <= 1  # three samples of the judge agree
