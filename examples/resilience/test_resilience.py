"""One test per provider fault: the policy in app.py holds when the provider fails.

Faults are injected with ``llm_faults`` (in the providers' real wire format, through the real SDKs);
calls that are not faulted replay from cassettes/test_resilience/ (recorded against the loopback
server, see README.md). Retries never sleep: a 20 s retry-after costs nothing here.
"""

import pytest

from resilience.app import MORE_TOKENS, REFUSED, Answerer, AnswerError

QUESTION = "Context: The Eiffel Tower is 330 metres tall. It is in Paris.\nQuestion: How tall is the Eiffel Tower?"
ANSWER = "The Eiffel Tower is 330 metres tall."


@pytest.fixture
def answerer():
    return Answerer()


@pytest.mark.llm
def test_answers(answerer):
    assert answerer.ask(QUESTION).text == ANSWER


# -- transient faults: the SDK retries, then the fallback takes over -------------------------------
def test_rate_limit_is_retried_by_the_sdk(answerer, llm_faults):
    llm_faults.rate_limit(times=2, retry_after=20, provider="openai")
    answer = answerer.ask(QUESTION)
    assert (answer.provider, answer.text, answer.incidents) == ("openai", ANSWER, [])
    assert llm_faults.calls == 3 and llm_faults.waits == [20.0, 20.0]  # asked for, never slept


def test_rate_limit_that_outlasts_the_retries_falls_back(answerer, llm_faults):
    llm_faults.rate_limit(times=3, provider="openai")
    answer = answerer.ask(QUESTION)
    assert (answer.provider, answer.text) == ("anthropic", ANSWER)
    assert answer.incidents[0].startswith("transient (rate_limit), openai, HTTP 429, request id req_")


@pytest.mark.llm_faults("server_error", times=3, provider="openai")
def test_server_error_falls_back(answerer):
    assert answerer.ask(QUESTION).provider == "anthropic"


@pytest.mark.llm_faults("bad_gateway", times=3, provider="openai")
def test_bad_gateway_falls_back(answerer):
    assert answerer.ask(QUESTION).provider == "anthropic"


@pytest.mark.llm_faults("service_unavailable", times=3, provider="openai")
def test_service_unavailable_falls_back(answerer):
    assert answerer.ask(QUESTION).provider == "anthropic"


def test_timeout_once_is_retried_by_the_sdk(answerer, llm_faults):
    llm_faults.timeout(provider="openai")
    assert answerer.ask(QUESTION).provider == "openai"
    assert [r.outcome for r in llm_faults.history] == ["ReadTimeout", "passed through"]


def test_connection_resets_fall_back(answerer, llm_faults):
    llm_faults.connection_reset(times=3, provider="openai")
    answer = answerer.ask(QUESTION)
    assert answer.provider == "anthropic"
    assert answer.incidents == ["transient (connection), openai"]


@pytest.mark.llm_faults("overloaded", times=6)  # OpenAI 503 "engine overloaded", then Anthropic 529
def test_both_providers_overloaded_is_an_answer_error(answerer, llm_faults):
    with pytest.raises(AnswerError) as raised:
        answerer.ask(QUESTION)
    openai_incident, anthropic_incident = raised.value.incidents
    assert openai_incident.startswith("transient (overloaded), openai, HTTP 503")
    assert anthropic_incident.startswith("transient (overloaded), anthropic, HTTP 529, request id req_011C")
    assert llm_faults.calls == 6


# -- streams ---------------------------------------------------------------------------------------
def test_stream_cut_is_finished_by_the_fallback(answerer, llm_faults):
    llm_faults.stream_cut(provider="openai")
    streamed = "".join(answerer.stream_answer(QUESTION))
    assert streamed.endswith("\n" + ANSWER)


def test_stream_that_ends_without_its_final_chunk_is_finished_by_the_fallback(answerer, llm_faults):
    llm_faults.stream_cut(abrupt=False, provider="openai")
    assert "".join(answerer.stream_answer(QUESTION)).endswith("\n" + ANSWER)


# -- content faults --------------------------------------------------------------------------------
def test_truncated_answer_is_asked_again_with_more_tokens(answerer, llm_faults, llm_cassette):
    llm_faults.truncated(provider="openai")
    answer = answerer.ask(QUESTION)
    assert (answer.provider, answer.text) == ("openai", ANSWER)
    assert answer.incidents == ["content (length), openai"]
    assert llm_cassette.recording or f'"max_completion_tokens": {MORE_TOKENS}' in llm_cassette.path.read_text()


def test_malformed_json_falls_back(answerer, llm_faults):
    llm_faults.malformed_json(style="fenced", provider="openai")
    answer = answerer.ask(QUESTION)
    assert (answer.provider, answer.incidents) == ("anthropic", ["content (malformed_json)"])


def test_refusal_is_respected_not_routed_around(answerer, llm_faults):
    llm_faults.refusal(provider="openai")
    assert answerer.ask(QUESTION).text == REFUSED
    assert llm_faults.calls == 1  # no fallback call


def test_content_filter_is_respected(answerer, llm_faults):
    llm_faults.refusal(content_filter=True, provider="openai")
    assert answerer.ask(QUESTION).provider == "none"


def test_truncated_fallback_is_an_answer_error(answerer, llm_faults):
    llm_faults.server_error(times=3, provider="openai").truncated(provider="anthropic")
    # Anthropic's messages.parse validates the cut JSON before the app sees stop_reason "max_tokens":
    # the truncation arrives as a pydantic ValidationError (OpenAI raises LengthFinishReasonError).
    with pytest.raises(AnswerError, match=r"^both providers failed: transient \(server_error\), openai, HTTP 500, "
                                          r"request id req_\w+; content \(malformed_json\)$"):
        answerer.ask(QUESTION)


# -- fatal faults: no retry, no fallback -----------------------------------------------------------
def test_context_too_long_is_fatal(answerer, llm_faults):
    llm_faults.context_length(provider="openai")
    with pytest.raises(AnswerError, match=r"^the request cannot succeed as it is: fatal \(context_length\), openai"):
        answerer.ask(QUESTION)
    assert llm_faults.calls == 1


@pytest.mark.llm_faults("error", 401)
def test_bad_key_is_fatal(answerer, llm_faults):
    with pytest.raises(AnswerError, match=r"fatal \(authentication\), openai, HTTP 401"):
        answerer.ask(QUESTION)
    assert llm_faults.calls == 1
