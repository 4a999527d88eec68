"""The assistant's structured answers (``Assistant.ask_structured``, OpenAI structured output): the JSON
is checked with ``assert_schema`` against the schema the provider was asked to enforce and against the
Pydantic model the help widget reads (docs/schema.md), and its stable part is kept as a snapshot
(``llm_baseline.snapshot``, docs/baseline.md).

Re-record (against the local loopback server):  examples/record.sh tests/test_structured.py
"""

import pytest
from ragapp import Assistant, CitedAnswer
from ragapp.app import STRUCTURED_PROMPT

from pytest_llmops import SchemaAssertionError, assert_faithful, assert_schema


@pytest.mark.llm
def test_structured_answer_matches_its_schema(llm_prompts):
    answer = Assistant("openai").ask_structured("How much does a standard service cost?")
    prompt = llm_prompts.get(*STRUCTURED_PROMPT)
    assert_schema(answer.text, prompt.params["response_format"]["json_schema"]["schema"])  # a JSON Schema dict
    cited = assert_schema(answer.text, CitedAnswer)  # the widget's model: also at least one source
    assert set(cited.sources) <= set(answer.sources), "cites a document that was not retrieved"
    assert_faithful(cited.answer, answer.context)


@pytest.mark.llm
def test_structured_answer_snapshot(llm_baseline):
    answer = Assistant("openai").ask_structured("Does Northwind ship to Canada?")
    cited = assert_schema(answer.text, CitedAnswer)
    # The whole answer, compared with llm-snapshots/tests/test_structured/test_structured_answer_snapshot.json:
    # any change to the text or the sources shows as a diff; accept one with --llm-update-baseline.
    llm_baseline.snapshot("cited_answer", cited)


def test_an_answer_without_sources_is_caught():
    with pytest.raises(SchemaAssertionError) as failure:
        assert_schema('{"answer": "Express delivery takes 1 working day.", "sources": []}', CitedAnswer)
    assert [v.path for v in failure.value.violations] == ["$.sources"]
