"""The assistant's answers, replayed offline from cassettes/ (recorded against the loopback server).

Re-record after a prompt or model change:  pytest examples --llm-live   (needs OPENAI_API_KEY and
ANTHROPIC_API_KEY; see examples/README.md for recording against the local loopback server instead).
"""

import pytest

from ragapp import Assistant

PROVIDERS = ["openai", "anthropic"]


@pytest.mark.llm
@pytest.mark.parametrize("provider", PROVIDERS)
def test_return_window(provider):
    answer = Assistant(provider).ask("How many days do I have to return an unused bike?")
    assert "30 days" in answer.text
    assert answer.sources[0] == "returns"


@pytest.mark.llm
@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_answer_is_the_same_answer(provider):
    assistant = Assistant(provider)
    question = "How long does express delivery take?"
    streamed = "".join(assistant.stream(question))
    assert "1 working day" in streamed
    assert streamed == assistant.ask(question).text


@pytest.mark.llm
def test_shipping_exclusions():
    answer = Assistant("openai").ask("Does Northwind ship to Canada?")
    assert "does not ship" in answer.text


@pytest.mark.llm
def test_prompt_version_is_pinned(llm_cassette):
    answer = Assistant("anthropic").ask("How much does a standard service cost?")
    assert answer.prompt == "answer-claude@v1"
    assert "60 pounds" in answer.text
    assert llm_cassette.play_count == 1 or llm_cassette.recording
