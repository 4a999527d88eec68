"""pytest_llmops.strategies: everything generated validates against the SDKs' own types, parses through
the real SDKs when served, and the malformed JSON is rejected by the parsers it is meant to break."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.shared import ErrorObject

from pytest_llmops import Faults
from pytest_llmops import strategies as S

FAST = settings(max_examples=40, deadline=None)
EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
RAW_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def clients(faults: Faults) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    http = httpx2.Client(transport=faults.transport())
    return (openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", http_client=http, max_retries=0),
            anthropic.Anthropic(api_key="sk-ant", base_url="http://127.0.0.1:9", http_client=http, max_retries=0))


FAULTS = Faults()
OA, AN = clients(FAULTS)
ASK = [{"role": "user", "content": "hi"}]


def test_public_names():
    assert set(S.__all__) >= {
        "openai_chat_completion", "openai_chat_completion_chunks", "openai_response", "openai_response_events",
        "anthropic_message", "anthropic_message_events", "openai_error_response", "anthropic_error_response",
        "provider_error_response", "json_documents", "malformed_json", "tool_calls"}
    assert all(hasattr(S, name) for name in S.__all__)


# -- valid against the SDKs' types -----------------------------------------------------------------
@FAST
@given(S.openai_chat_completion())
def test_chat_completion_validates(body):
    completion = ChatCompletion.model_validate(body)
    choice = completion.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls", "content_filter")
    if choice.finish_reason == "tool_calls":
        for call in choice.message.tool_calls:
            assert isinstance(json.loads(call.function.arguments), dict)


@FAST
@given(S.openai_chat_completion_chunks())
def test_chat_chunks_validate(chunks):
    parsed = [ChatCompletionChunk.model_validate(chunk) for chunk in chunks]
    assert len({chunk.id for chunk in parsed}) == 1
    assert [c.choices[0].finish_reason for c in parsed if c.choices][-1] is not None


@FAST
@given(S.openai_response())
def test_response_validates(body):
    response = Response.model_validate(body)
    assert response.status in ("completed", "incomplete")


@FAST
@given(S.openai_response_events())
def test_response_events_validate(events):
    parsed = [EVENT.validate_python(event) for event in events]
    assert parsed[0].type == "response.created"
    assert parsed[-1].type in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in parsed] == list(range(len(parsed)))


@FAST
@given(S.anthropic_message())
def test_message_validates(body):
    assert Message.model_validate(body).stop_reason in ("end_turn", "max_tokens", "tool_use", "refusal",
                                                        "stop_sequence")


@FAST
@given(S.anthropic_message_events())
def test_message_events_validate(events):
    # ``ping`` is a real wire event the SDK drops before parsing; it has no type of its own.
    parsed = [RAW_EVENT.validate_python(event) for event in events if event["type"] != "ping"]
    assert parsed[0].type == "message_start" and parsed[-1].type == "message_stop"


@FAST
@given(S.openai_error_response(), S.anthropic_error_response())
def test_error_bodies_validate(openai_error, anthropic_error):
    ErrorObject.model_validate(openai_error.body["error"])
    anthropic.types.ErrorResponse.model_validate(anthropic_error.body)
    assert dict(anthropic_error.headers)["request-id"] == anthropic_error.body["request_id"]


@FAST
@given(S.openai_chat_completion(finish_reasons=["tool_calls"], tools=True),
       S.anthropic_message(stop_reasons=["refusal"]))
def test_options_narrow_what_is_generated(chat, message):
    assert chat["choices"][0]["finish_reason"] == "tool_calls" and chat["choices"][0]["message"]["tool_calls"]
    assert message["stop_reason"] == "refusal"


def test_unknown_options_say_what_is_expected():
    @given(S.openai_chat_completion(finish_reasons=["end_turn"]))
    def generate(body):
        pass

    with pytest.raises(ValueError, match=r"finish_reasons: unknown \['end_turn'\]; expected some of"):
        generate()


# -- served to the real SDKs -----------------------------------------------------------------------
def dumped(obj: Any) -> Any:
    return obj.model_dump(mode="json", exclude_unset=True)


@FAST
@given(S.openai_chat_completion())
def test_generated_chat_completion_through_the_sdk(body):
    FAULTS.respond(body)
    got = OA.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert dumped(got) == dumped(ChatCompletion.model_validate(body))


@FAST
@given(S.openai_chat_completion_chunks())
def test_generated_chunks_through_the_sdk_stream(chunks):
    FAULTS.respond(chunks)
    got = list(OA.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True))
    assert [dumped(c) for c in got] == [dumped(ChatCompletionChunk.model_validate(c)) for c in chunks]


@FAST
@given(S.openai_response_events())
def test_generated_response_events_through_the_sdk_helper(events):
    FAULTS.respond(events)
    with OA.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        seen = [event.type for event in stream]
        final = stream.get_final_response() if seen[-1] == "response.completed" else None
    assert seen == [event["type"] for event in events]
    if final is not None:
        assert final.output_text == Response.model_validate(events[-1]["response"]).output_text


@FAST
@given(S.anthropic_message_events())
def test_generated_message_events_through_the_sdk_helper(events):
    FAULTS.respond(events)
    with AN.messages.stream(model="claude-sonnet-5-5", max_tokens=10, messages=ASK) as stream:
        final = stream.get_final_message()
    final_delta = next(e for e in events if e["type"] == "message_delta")["delta"]
    assert final.stop_reason == final_delta["stop_reason"]
    streamed = "".join(e["delta"]["text"] for e in events
                       if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta")
    assert "".join(block.text for block in final.content if block.type == "text") == streamed


STATUS_CLASSES = {
    ("openai", 400): openai.BadRequestError, ("openai", 401): openai.AuthenticationError,
    ("openai", 403): openai.PermissionDeniedError, ("openai", 404): openai.NotFoundError,
    ("openai", 409): openai.ConflictError, ("openai", 422): openai.UnprocessableEntityError,
    ("openai", 429): openai.RateLimitError,
    ("anthropic", 400): anthropic.BadRequestError, ("anthropic", 401): anthropic.AuthenticationError,
    ("anthropic", 402): anthropic.PaymentRequiredError, ("anthropic", 403): anthropic.PermissionDeniedError,
    ("anthropic", 404): anthropic.NotFoundError, ("anthropic", 413): anthropic.ContentTooLargeError,
    ("anthropic", 429): anthropic.RateLimitError, ("anthropic", 503): anthropic.ServiceUnavailableError,
    ("anthropic", 504): anthropic.GatewayTimeoutError, ("anthropic", 529): anthropic.OverloadedError,
}


@FAST
@given(S.provider_error_response(edge_pages=True))
def test_generated_errors_raise_the_sdk_exception_for_their_status(error):
    FAULTS.respond(error)
    expected = STATUS_CLASSES.get((error.provider, error.status),
                                  openai.InternalServerError if error.provider == "openai"
                                  else anthropic.InternalServerError)
    with pytest.raises(expected) as raised:
        if error.provider == "openai":
            OA.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        else:
            AN.messages.create(model="claude-sonnet-5-5", max_tokens=10, messages=ASK)
    assert type(raised.value) is expected
    assert raised.value.status_code == error.status


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=S.anthropic_message())
def test_generated_message_through_the_llm_faults_fixture(llm_faults, body):
    """The documented pattern: a Hypothesis test serving generated bodies with the fixture."""
    llm_faults.respond(body)
    client = anthropic.Anthropic(api_key="sk-ant", base_url="http://127.0.0.1:9")
    message = client.messages.create(model="claude-sonnet-5-5", max_tokens=10, messages=ASK)
    assert dumped(message) == dumped(Message.model_validate(body))


# -- malformed JSON --------------------------------------------------------------------------------
class Answer(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")


@settings(max_examples=100, deadline=None)
@given(S.malformed_json())
def test_malformed_json_breaks_the_parsers(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(pydantic.ValidationError):
        Answer.model_validate_json(text)


@pytest.mark.parametrize("style", S.MALFORMED_STYLES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_each_style_is_broken_its_own_way(style, data):
    document = data.draw(S.json_documents())
    text = data.draw(S.malformed_json(documents=st.just(document), styles=[style]))
    with pytest.raises(ValueError):
        json.loads(text)
    if style == "fenced":
        assert text.startswith("```json\n") and text.rstrip().endswith("```")
        assert json.loads(text.removeprefix("```json\n").rstrip().removesuffix("```")) == document
    if style == "trailing_prose":
        assert json.loads(text[: text.index("\n\n")]) == document
    if style == "truncated":
        assert json.dumps(document, ensure_ascii=False).startswith(text)


@FAST
@given(S.json_documents(), S.tool_calls())
def test_documents_and_tool_calls_are_valid_json(document, calls):
    assert json.loads(json.dumps(document)) == document
    assert all(isinstance(json.loads(call.arguments), dict) for call in calls)
