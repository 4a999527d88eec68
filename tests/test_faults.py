"""Fault injection drives the real SDKs through their error paths: one test per fault per provider.

Direct tests use the ``llm_faults`` fixture of this very session (replay mode, no cassette: any call
that is not faulted would fail with "no cassette"), so every provider answer here is an injected one;
recoveries end with ``llm_faults.respond(<a valid body>)``. The pytester tests at the end cover the
plugin wiring: the marker, recovery replayed from a cassette recorded live against the loopback server,
faulted calls kept out of cassettes, no sleeping in live mode, and the messages.

No test sleeps: the faults ask for retry-after waits of 30 s and more, and the SDKs' retries run at once.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest

from pytest_llmops import classify_error, wire

DEAD = "http://127.0.0.1:9"  # nothing listens: only injected faults can answer
OA = openai.OpenAI(base_url=DEAD + "/v1", api_key="sk-test")
AN = anthropic.Anthropic(base_url=DEAD, api_key="sk-ant-test")
MODEL, CLAUDE = "gpt-4o-mini", "claude-sonnet-5-5"
ASK = [{"role": "user", "content": "What is the capital of France?"}]
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OA_TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": CITY}}]
AN_TOOLS = [{"name": "lookup", "input_schema": CITY}]


class Answer(pydantic.BaseModel):
    answer: str


def call(provider: str, stream: bool = False, **extra: Any) -> Any:
    """One call through the real SDK; a stream is consumed whole (a list of its events)."""
    if provider == "openai":
        result = OA.chat.completions.create(model=MODEL, messages=ASK, stream=stream, **extra)
    else:
        result = AN.messages.create(model=CLAUDE, max_tokens=100, messages=ASK, stream=stream, **extra)
    return list(result) if stream else result


def ok(provider: str, stream: bool, text: str = "Paris.") -> Any:
    """A valid answer in the provider's wire format, for ``llm_faults.respond``."""
    completion = wire.Completion(model=MODEL if provider == "openai" else CLAUDE, text=text)
    if provider == "openai":
        return wire.chat_chunks(completion) if stream else wire.chat_completion(completion)
    return wire.message_events(completion) if stream else wire.message(completion)


def text_of(provider: str, result: Any) -> str:
    if isinstance(result, list):
        if provider == "openai":
            return "".join(chunk.choices[0].delta.content or "" for chunk in result if chunk.choices)
        return "".join(e.delta.text for e in result if e.type == "content_block_delta" and e.delta.type == "text_delta")
    return result.choices[0].message.content if provider == "openai" else result.content[0].text


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    """Every sleep the SDKs ask for during these tests must be 0 s (the retry waits are patched)."""
    import time

    import anyio

    asked: list[float] = []
    real_sleep, real_anyio_sleep = time.sleep, anyio.sleep

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        real_sleep(0)

    async def anyio_sleep(seconds: float) -> None:
        asked.append(seconds)
        await real_anyio_sleep(0)

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(anyio, "sleep", anyio_sleep)
    yield
    assert all(seconds == 0 for seconds in asked), f"slept for real: {asked}"


REQUEST_ID = {"openai": re.compile(r"req_[0-9a-f]{32}"), "anthropic": re.compile(r"req_011C\w{20}")}
BOTH = pytest.mark.parametrize("provider", ["openai", "anthropic"])
SYNC_AND_STREAM = pytest.mark.parametrize("stream", [False, True], ids=["sync", "stream"])

# fault -> (exception class per provider, status per provider, kind, retried?)
HTTP_FAULTS = {
    "rate_limit": ({"openai": openai.RateLimitError, "anthropic": anthropic.RateLimitError},
                   {"openai": 429, "anthropic": 429}, "transient"),
    "overloaded": ({"openai": openai.InternalServerError, "anthropic": anthropic.OverloadedError},
                   {"openai": 503, "anthropic": 529}, "transient"),
    "server_error": ({"openai": openai.InternalServerError, "anthropic": anthropic.InternalServerError},
                     {"openai": 500, "anthropic": 500}, "transient"),
    "bad_gateway": ({"openai": openai.InternalServerError, "anthropic": anthropic.InternalServerError},
                    {"openai": 502, "anthropic": 502}, "transient"),
    "service_unavailable": ({"openai": openai.InternalServerError, "anthropic": anthropic.ServiceUnavailableError},
                            {"openai": 503, "anthropic": 503}, "transient"),
    "context_length": ({"openai": openai.BadRequestError, "anthropic": anthropic.BadRequestError},
                       {"openai": 400, "anthropic": 400}, "fatal"),
}


# -- HTTP error statuses ---------------------------------------------------------------------------
@pytest.mark.parametrize("fault", HTTP_FAULTS)
@SYNC_AND_STREAM
@BOTH
def test_http_fault_raises_the_sdk_exception_after_the_sdk_retries(llm_faults, provider, stream, fault):
    classes, statuses, kind = HTTP_FAULTS[fault]
    llm_faults.inject(fault, times=3)
    with pytest.raises(classes[provider]) as raised:
        call(provider, stream)
    error = raised.value
    assert type(error) is classes[provider]
    assert error.status_code == statuses[provider]
    assert REQUEST_ID[provider].fullmatch(error.request_id)
    retried = kind == "transient"
    assert llm_faults.calls == (3 if retried else 1)  # 1 call + the SDK's 2 retries
    assert len(llm_faults.waits) == (2 if retried else 0)
    assert classify_error(error).kind == kind
    llm_faults.clear()


@BOTH
@SYNC_AND_STREAM
def test_rate_limit_then_recovery_honours_retry_after_without_sleeping(llm_faults, provider, stream):
    llm_faults.rate_limit(times=2, retry_after=30).respond(ok(provider, stream))
    assert text_of(provider, call(provider, stream)) == "Paris."
    assert llm_faults.calls == 3
    assert llm_faults.waits == [30.0, 30.0]  # what the SDK asked for; not slept
    assert [record.fault for record in llm_faults.history] == ["rate_limit", "rate_limit", "respond"]


@BOTH
def test_rate_limit_retry_after_ms_is_what_the_sdk_waits_for(llm_faults, provider):
    llm_faults.rate_limit(retry_after=None, retry_after_ms=1500).respond(ok(provider, False))
    assert text_of(provider, call(provider)) == "Paris."
    assert llm_faults.waits == [1.5]


@BOTH
def test_rate_limit_wire_format(llm_faults, provider):
    llm_faults.rate_limit(retry_after=7)
    with pytest.raises((openai.RateLimitError, anthropic.RateLimitError)) as raised:
        if provider == "openai":
            OA.with_options(max_retries=0).chat.completions.create(model=MODEL, messages=ASK)
        else:
            AN.with_options(max_retries=0).messages.create(model=CLAUDE, max_tokens=10, messages=ASK)
    response = raised.value.response
    assert response.headers["retry-after"] == "7"
    body = response.json()
    if provider == "openai":
        assert response.headers["x-request-id"] == raised.value.request_id
        assert body["error"]["type"] == "requests" and body["error"]["code"] == "rate_limit_exceeded"
        assert set(body["error"]) == {"message", "type", "param", "code"}
    else:
        assert response.headers["request-id"] == body["request_id"] == raised.value.request_id
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
        assert response.headers["x-should-retry"] == "true"


def test_anthropic_overloaded_is_529_overloaded_error_and_recovers(llm_faults):
    llm_faults.overloaded(times=2).respond(ok("anthropic", False))
    assert text_of("anthropic", call("anthropic")) == "Paris."
    assert [r.outcome for r in llm_faults.history] == ["529", "529", "200"]
    assert len(llm_faults.waits) == 2  # the SDK's exponential backoff (no retry-after on a 529)


def test_bad_gateway_is_the_edge_html_page(llm_faults):
    llm_faults.bad_gateway(times=3)
    with pytest.raises(openai.InternalServerError) as raised:
        call("openai")
    assert raised.value.response.headers["content-type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in raised.value.response.text


def test_anthropic_service_unavailable_is_envoys_plain_text(llm_faults):
    llm_faults.service_unavailable(times=3)
    with pytest.raises(anthropic.ServiceUnavailableError) as raised:
        call("anthropic")
    assert raised.value.message.startswith("upstream connect error or disconnect/reset before headers")


@BOTH
def test_context_length_is_fatal_and_not_retried(llm_faults, provider):
    llm_faults.context_length()
    with pytest.raises((openai.BadRequestError, anthropic.BadRequestError)) as raised:
        call(provider)
    found = classify_error(raised.value)
    assert (found.kind, found.reason, found.retryable) == ("fatal", "context_length", False)
    assert llm_faults.calls == 1


@pytest.mark.parametrize("status, openai_class, anthropic_class", [
    (401, openai.AuthenticationError, anthropic.AuthenticationError),
    (403, openai.PermissionDeniedError, anthropic.PermissionDeniedError),
    (404, openai.NotFoundError, anthropic.NotFoundError),
    (422, openai.UnprocessableEntityError, anthropic.UnprocessableEntityError),
])
@BOTH
def test_any_error_status_in_the_providers_format(llm_faults, provider, status, openai_class, anthropic_class):
    llm_faults.error(status)
    with pytest.raises(openai_class if provider == "openai" else anthropic_class):
        call(provider)
    assert llm_faults.calls == 1  # fatal: the SDK does not retry


# -- transport failures ----------------------------------------------------------------------------
@pytest.mark.parametrize("fault, openai_class, anthropic_class", [
    ("timeout", openai.APITimeoutError, anthropic.APITimeoutError),
    ("connection_reset", openai.APIConnectionError, anthropic.APIConnectionError),
])
@SYNC_AND_STREAM
@BOTH
def test_transport_failure_raises_after_retries(llm_faults, provider, stream, fault, openai_class, anthropic_class):
    expected = openai_class if provider == "openai" else anthropic_class
    llm_faults.inject(fault, times=3)
    with pytest.raises(expected) as raised:
        call(provider, stream)
    assert type(raised.value) is expected
    assert isinstance(raised.value.__cause__, httpx2.ReadTimeout if fault == "timeout" else httpx2.ReadError)
    assert llm_faults.calls == 3
    assert [r.outcome for r in llm_faults.history] == ["ReadTimeout" if fault == "timeout" else "ReadError"] * 3
    assert classify_error(raised.value).kind == "transient"


@BOTH
def test_timeout_then_recovery(llm_faults, provider):
    llm_faults.timeout().respond(ok(provider, False))
    assert text_of(provider, call(provider)) == "Paris."
    assert llm_faults.calls == 2 and len(llm_faults.waits) == 1


# -- streams cut and failing mid-way -------------------------------------------------------------
def test_openai_stream_cut_raises_connection_error_mid_stream(llm_faults):
    llm_faults.stream_cut(after=3)
    stream = OA.chat.completions.create(model=MODEL, messages=ASK, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError) as raised:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3  # what arrived before the cut
    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    assert classify_error(raised.value).reason == "stream_cut"
    assert llm_faults.calls == 1  # the SDKs never retry a stream that has started


def test_anthropic_stream_cut_raises_the_httpx2_error(llm_faults):
    llm_faults.stream_cut()
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        with AN.messages.stream(model=CLAUDE, max_tokens=100, messages=ASK) as stream:
            stream.get_final_message()
    assert llm_faults.calls == 1


@BOTH
def test_clean_stream_cut_ends_without_a_finish_reason(llm_faults, provider):
    llm_faults.stream_cut(abrupt=False)
    events = call(provider, stream=True)
    if provider == "openai":
        assert all(chunk.choices[0].finish_reason is None for chunk in events)
    else:
        assert "message_stop" not in [event.type for event in events]
        assert "message_delta" not in [event.type for event in events]


def test_openai_responses_stream_cut_never_completes(llm_faults):
    llm_faults.stream_cut(abrupt=False)
    with pytest.raises(RuntimeError, match="Didn't receive a `response.completed` event"):
        with OA.responses.stream(model=MODEL, input="hi") as stream:
            stream.get_final_response()


def test_anthropic_mid_stream_overload_is_status_200_api_status_error(llm_faults):
    llm_faults.overloaded(mid_stream=True)
    with pytest.raises(anthropic.APIStatusError) as raised:
        call("anthropic", stream=True)
    assert raised.value.status_code == 200
    assert raised.value.body["error"]["type"] == "overloaded_error"
    found = classify_error(raised.value)
    assert (found.kind, found.reason, found.status) == ("transient", "overloaded", 200)
    assert REQUEST_ID["anthropic"].fullmatch(found.request_id)


def test_openai_mid_stream_error_is_api_error(llm_faults):
    llm_faults.overloaded(mid_stream=True)
    with pytest.raises(openai.APIError) as raised:
        call("openai", stream=True)
    assert not isinstance(raised.value, openai.APIStatusError)
    assert raised.value.message == "The engine is currently overloaded, please try again later."
    assert classify_error(raised.value).kind == "transient"


def test_openai_responses_mid_stream_error_ends_with_response_failed(llm_faults):
    llm_faults.overloaded(mid_stream=True)
    events = list(OA.responses.create(model=MODEL, input="hi", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"


# -- truncation ------------------------------------------------------------------------------------
@SYNC_AND_STREAM
def test_openai_truncated_finish_reason_length(llm_faults, stream):
    llm_faults.truncated()
    result = call("openai", stream)
    finish = result[-1].choices[0].finish_reason if stream else result.choices[0].finish_reason
    assert finish == "length"
    assert text_of("openai", result).endswith("before it could fin")


@SYNC_AND_STREAM
def test_anthropic_truncated_stop_reason_max_tokens(llm_faults, stream):
    llm_faults.truncated()
    if stream:
        with AN.messages.stream(model=CLAUDE, max_tokens=100, messages=ASK) as events:
            message = events.get_final_message()
    else:
        message = call("anthropic")
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text.endswith("before it could fin")


@SYNC_AND_STREAM
def test_openai_parse_of_a_truncated_answer_raises_length_finish_reason_error(llm_faults, stream):
    llm_faults.truncated()
    with pytest.raises(openai.LengthFinishReasonError) as raised:
        if stream:
            with OA.chat.completions.stream(model=MODEL, messages=ASK, response_format=Answer) as events:
                events.get_final_completion()
        else:
            OA.chat.completions.parse(model=MODEL, messages=ASK, response_format=Answer)
    assert classify_error(raised.value).reason == "length"


def test_openai_truncated_json_mode_content_is_cut_json(llm_faults):
    llm_faults.truncated()
    result = call("openai", response_format={"type": "json_object"})
    assert result.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.choices[0].message.content)


def test_openai_truncated_forced_tool_call_has_cut_arguments(llm_faults):
    llm_faults.truncated()
    result = call("openai", tools=OA_TOOLS, tool_choice="required")
    arguments = result.choices[0].message.tool_calls[0].function.arguments
    assert result.choices[0].finish_reason == "length" and arguments.startswith('{"city": ')
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


def test_anthropic_truncated_streamed_tool_input_is_silently_empty(llm_faults):
    llm_faults.truncated()
    with AN.messages.stream(model=CLAUDE, max_tokens=100, messages=ASK, tools=AN_TOOLS,
                            tool_choice={"type": "any"}) as events:
        message = events.get_final_message()
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "tool_use" and message.content[0].input == {}


def test_openai_responses_truncated_is_incomplete(llm_faults):
    llm_faults.truncated()
    response = OA.responses.create(model=MODEL, input="hi")
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


# -- malformed JSON --------------------------------------------------------------------------------
def test_openai_structured_output_with_malformed_json_raises_validation_error(llm_faults):
    llm_faults.malformed_json(style="fenced")
    with pytest.raises(pydantic.ValidationError) as raised:
        OA.chat.completions.parse(model=MODEL, messages=ASK, response_format=Answer)
    assert classify_error(raised.value).reason == "malformed_json"


def test_openai_streamed_structured_output_with_malformed_json_fails_partial_parsing(llm_faults):
    """The stream helper parses the JSON as it arrives: a fence breaks it at the first chunk, ValueError."""
    llm_faults.malformed_json(style="fenced")
    with pytest.raises(ValueError, match="^expected value at line 1 column 1$") as raised:
        with OA.chat.completions.stream(model=MODEL, messages=ASK, response_format=Answer) as events:
            events.get_final_completion()
    found = classify_error(raised.value)
    assert (found.kind, found.reason, found.provider) == ("content", "malformed_json", "openai")


@pytest.mark.parametrize("style", ["trailing_prose", "single_quotes", "unescaped_newline", "truncated"])
def test_openai_malformed_tool_call_arguments(llm_faults, style):
    llm_faults.malformed_json(style=style)
    result = call("openai", tools=OA_TOOLS, tool_choice="required")
    assert result.choices[0].finish_reason == "tool_calls"
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.choices[0].message.tool_calls[0].function.arguments)


@SYNC_AND_STREAM
def test_anthropic_malformed_json_text(llm_faults, stream):
    llm_faults.malformed_json(style="single_quotes")
    text = text_of("anthropic", call("anthropic", stream))
    assert text.startswith("{'answer': ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_anthropic_parse_with_malformed_json_raises_validation_error(llm_faults):
    llm_faults.malformed_json()
    with pytest.raises(pydantic.ValidationError):
        AN.messages.parse(model=CLAUDE, max_tokens=100, messages=ASK, output_format=Answer)


def test_anthropic_malformed_streamed_tool_input_raises_value_error(llm_faults):
    llm_faults.malformed_json(style="fenced")
    with pytest.raises(ValueError, match="^Unable to parse tool parameter JSON from model") as raised:
        with AN.messages.stream(model=CLAUDE, max_tokens=100, messages=ASK, tools=AN_TOOLS,
                                tool_choice={"type": "any"}) as events:
            events.get_final_message()
    found = classify_error(raised.value)
    assert (found.kind, found.reason, found.provider) == ("content", "malformed_json", "anthropic")


# -- refusals --------------------------------------------------------------------------------------
@SYNC_AND_STREAM
def test_openai_refusal(llm_faults, stream):
    llm_faults.refusal()
    result = call("openai", stream)
    if stream:
        refusal = "".join(chunk.choices[0].delta.refusal or "" for chunk in result)
    else:
        refusal = result.choices[0].message.refusal
        assert result.choices[0].message.content is None
    assert refusal == "I'm sorry, but I can't help with that."


def test_openai_parse_of_a_refusal_has_no_parsed_value(llm_faults):
    llm_faults.refusal()
    message = OA.chat.completions.parse(model=MODEL, messages=ASK, response_format=Answer).choices[0].message
    assert message.parsed is None and message.refusal


def test_openai_content_filter_raises_on_parse(llm_faults):
    llm_faults.refusal(content_filter=True)
    with pytest.raises(openai.ContentFilterFinishReasonError) as raised:
        OA.chat.completions.parse(model=MODEL, messages=ASK, response_format=Answer)
    assert classify_error(raised.value).reason == "content_filter"


@SYNC_AND_STREAM
def test_anthropic_refusal_stop_reason(llm_faults, stream):
    llm_faults.refusal()
    if stream:
        with AN.messages.stream(model=CLAUDE, max_tokens=100, messages=ASK) as events:
            message = events.get_final_message()
    else:
        message = call("anthropic")
    assert message.stop_reason == "refusal"
    assert message.content == []


def test_openai_responses_refusal_part(llm_faults):
    llm_faults.refusal()
    response = OA.responses.create(model=MODEL, input="hi")
    assert response.output[0].content[-1].type == "refusal"


# -- async -----------------------------------------------------------------------------------------
def test_async_clients_get_the_same_faults(llm_faults):
    async def scenario() -> list[str]:
        oa = openai.AsyncOpenAI(base_url=DEAD + "/v1", api_key="sk-test")
        an = anthropic.AsyncAnthropic(base_url=DEAD, api_key="sk-ant-test")
        seen = []
        llm_faults.rate_limit(times=3, provider="openai")
        try:
            await oa.chat.completions.create(model=MODEL, messages=ASK)
        except openai.RateLimitError:
            seen.append("RateLimitError")
        llm_faults.overloaded(provider="anthropic").respond(ok("anthropic", True))
        stream = await an.messages.create(model=CLAUDE, max_tokens=10, messages=ASK, stream=True)
        seen.append("".join([e.delta.text async for e in stream if e.type == "content_block_delta"]))
        llm_faults.stream_cut()
        stream = await an.messages.create(model=CLAUDE, max_tokens=10, messages=ASK, stream=True)
        try:
            async for _ in stream:
                pass
        except httpx2.RemoteProtocolError:
            seen.append("cut")
        return seen

    assert asyncio.run(scenario()) == ["RateLimitError", "Paris.", "cut"]
    assert len(llm_faults.waits) == 3


# -- scheduling ------------------------------------------------------------------------------------
def test_faults_are_served_in_order_and_only_to_their_provider(llm_faults):
    llm_faults.timeout(provider="anthropic").respond(ok("openai", False), provider="openai")
    llm_faults.respond(ok("anthropic", False, "Bonjour."), provider="anthropic")
    assert text_of("openai", call("openai")) == "Paris."
    assert text_of("anthropic", call("anthropic")) == "Bonjour."
    assert [(r.provider, r.fault) for r in llm_faults.history] == [
        ("openai", "respond"), ("anthropic", "timeout"), ("anthropic", "respond")]
    assert llm_faults.pending == 0


def test_content_faults_wait_for_a_generation_call(llm_faults):
    """An embeddings or models call is not a place for a truncation: it passes, the fault waits."""
    llm_faults.truncated().respond({"object": "list", "data": []}, provider="openai")
    assert OA.models.list().data == []  # served by respond: truncation skipped this call
    assert llm_faults.pending == 1
    assert call("openai").choices[0].finish_reason == "length"


def test_bad_arguments_say_what_is_expected(llm_faults):
    with pytest.raises(ValueError, match=r"^llm_faults.rate_limit\(times=0\): times must be an integer >= 1$"):
        llm_faults.rate_limit(times=0)
    with pytest.raises(ValueError, match=r"^unknown fault 'ratelimit'; expected one of: rate_limit, overloaded"):
        llm_faults.inject("ratelimit")
    with pytest.raises(ValueError, match=r"^llm_faults.malformed_json\(style='xml'\): expected one of: "):
        llm_faults.malformed_json(style="xml")


# -- plugin wiring (pytester) ----------------------------------------------------------------------
RECOVERY = """
import openai, anthropic, pytest

@pytest.mark.llm_faults("rate_limit", times=2, retry_after=60)
def test_openai_recovers(llm_faults):
    reply = openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}])
    assert reply.choices[0].message.content == "Echo: Say hi"
    assert llm_faults.calls == 3 and llm_faults.waits == [60.0, 60.0]

@pytest.mark.llm_faults("overloaded", times=2)
def test_anthropic_recovers(llm_faults):
    reply = anthropic.Anthropic().messages.create(
        model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "Say hi"}])
    assert reply.content[0].text == "Echo: Say hi"
    assert [r.outcome for r in llm_faults.history] == ["529", "529", "passed through"]
"""


def test_marker_faults_then_recovery_records_live_and_replays(project):
    project.pytester.makepyfile(test_app=RECOVERY)
    project.run("--llm-live", live=True).assert_outcomes(passed=2)  # no sleep though retry-after is 60 s
    cassette = project.cassette("test_app/test_openai_recovers.yaml").read_text()
    assert cassette.count("uri:") == 1  # the two 429s were not recorded
    assert "429" not in cassette
    project.run().assert_outcomes(passed=2)  # replay: faults again, then the recorded success


def test_faulted_calls_do_not_consume_replay_positions(project):
    project.pytester.makepyfile(test_app="""
import openai

def ask(client):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])

def test_twice(llm_faults):
    client = openai.OpenAI(max_retries=0)
    assert ask(client).choices[0].message.content == "Echo: x"
    llm_faults.timeout()
    try:
        ask(client)
    except openai.APITimeoutError:
        pass
    assert ask(client).choices[0].message.content == "Echo: x"
""")
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)


def test_unserved_faults_fail_a_passing_test(project):
    project.pytester.makepyfile(test_app="""
import pytest

@pytest.mark.llm_faults("rate_limit", times=2, provider="openai")
def test_never_calls(llm_faults):
    pass
""")
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*pytest-llmops: the test passed, but 2 injected fault(s) were never served: rate_limit x2 (openai).",
        "*The code under test made fewer provider calls than faults were scheduled (0 call(s) seen), so those "
        "failure paths were not exercised. Lower `times`, or call llm_faults.clear() once the faults are no longer "
        "wanted.",
    ])


def test_marker_with_an_unknown_fault_is_an_error_naming_the_choices(project):
    project.pytester.makepyfile(test_app="""
import pytest

@pytest.mark.llm_faults("rate_limits", times=2)
def test_x():
    pass
""")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.llm_faults('rate_limits', times=2): unknown fault 'rate_limits'; expected one of: rate_limit, "
        "overloaded, server_error, bad_gateway, service_unavailable, timeout, connection_reset, stream_cut, truncated, "
        "malformed_json, refusal, context_length, error, respond",
    ])


def test_marker_is_registered_with_help(project):
    result = project.run("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.llm_faults(kind, times=1, **options): the test's next provider "
                                 "calls fail the way the provider fails them*"])
    project.pytester.makepyfile(test_app="""
import pytest

@pytest.mark.llm_faults("timeout")
def test_x(llm_faults):
    llm_faults.clear()
""")
    project.run("--strict-markers").assert_outcomes(passed=1)
