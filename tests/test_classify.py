"""classify_error / classify_response on the SDKs' real exception and response types.

Status errors are built by the SDKs' own factories from responses in the providers' wire format
(``pytest_llmops.wire``), so the exception classes, bodies and request ids are what an application
catches; the fault tests check the same end to end through the retry loops.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest
from hypothesis import given, settings
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from pytest_llmops import ErrorClass, classify_error, classify_response, wire
from pytest_llmops.errors import CassetteMiss, sdk_compatible
from pytest_llmops.strategies import anthropic_error_response, openai_error_response

OA = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test")
AN = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="sk-ant-test")
URL = {"openai": "http://127.0.0.1:9/v1/chat/completions", "anthropic": "http://127.0.0.1:9/v1/messages"}


def status_error(provider: str, status: int, *, body: Any = None, headers: dict[str, str] | None = None,
                 **fields: Any) -> Exception:
    """The exception the SDK raises for this error response."""
    request_id = wire.anthropic_request_id() if provider == "anthropic" else wire.openai_request_id()
    if body is None:
        content_type, content = wire.error_content(provider, status, request_id=request_id, **fields)
    else:
        content_type, content = "application/json", json.dumps(body).encode()
    response = httpx2.Response(status, headers=wire.error_headers(provider, status, request_id, content_type, headers),
                               content=content, request=httpx2.Request("POST", URL[provider]))
    client = OA if provider == "openai" else AN
    return client._make_status_error_from_response(response)


BOTH = pytest.mark.parametrize("provider", ["openai", "anthropic"])


@pytest.mark.parametrize("status, kind, reason", [
    (400, "fatal", "bad_request"),
    (401, "fatal", "authentication"),
    (403, "fatal", "permission"),
    (404, "fatal", "not_found"),
    (422, "fatal", "unprocessable"),
    (408, "transient", "timeout"),
    (409, "transient", "conflict"),
    (429, "transient", "rate_limit"),
    (500, "transient", "server_error"),
    (502, "transient", "bad_gateway"),
    (503, "transient", "service_unavailable"),
    (504, "transient", "gateway_timeout"),
    (529, "transient", "overloaded"),
])
@BOTH
def test_status_table(provider, status, kind, reason):
    error = status_error(provider, status)
    found = classify_error(error)
    if (provider, status) == ("openai", 503):  # "The server is overloaded or not ready yet."
        reason = "overloaded"
    assert found == ErrorClass(kind, status, error.request_id, provider, kind == "transient", reason)
    assert found.request_id.startswith("req_")


@BOTH
def test_context_length_is_fatal(provider):
    message = ("This model's maximum context length is 128000 tokens." if provider == "openai"
               else "prompt is too long: 215431 tokens > 200000 maximum")
    code = "context_length_exceeded" if provider == "openai" else None
    found = classify_error(status_error(provider, 400, message=message, code=code))
    assert (found.kind, found.reason, found.retryable) == ("fatal", "context_length", False)


def test_openai_insufficient_quota_is_a_fatal_429():
    error = status_error("openai", 429, code="insufficient_quota", type="insufficient_quota",
                         message="You exceeded your current quota, please check your plan and billing details.")
    assert isinstance(error, openai.RateLimitError)
    found = classify_error(error)
    assert (found.kind, found.reason, found.retryable, found.status) == ("fatal", "quota", False, 429)


def test_anthropic_spend_limit_is_a_fatal_429():
    found = classify_error(status_error("anthropic", 429, code="enforced_spend_limit_reached"))
    assert (found.kind, found.reason) == ("fatal", "quota")


def test_anthropic_402_billing():
    found = classify_error(status_error("anthropic", 402))
    assert (found.kind, found.reason) == ("fatal", "billing")


def test_x_should_retry_false_makes_a_transient_error_not_retryable():
    found = classify_error(status_error("anthropic", 500, headers={"x-should-retry": "false"}))
    assert (found.kind, found.retryable) == ("transient", False)


@BOTH
def test_timeouts_and_connection_errors(provider):
    module = openai if provider == "openai" else anthropic
    request = httpx2.Request("POST", URL[provider])
    assert classify_error(module.APITimeoutError(request=request)) == ErrorClass(
        "transient", None, None, provider, True, "timeout")
    assert classify_error(module.APIConnectionError(request=request)) == ErrorClass(
        "transient", None, None, provider, True, "connection")


def test_raw_transport_errors():
    request = httpx2.Request("POST", URL["anthropic"])
    cut = httpx2.RemoteProtocolError("peer closed connection without sending complete message body "
                                     "(incomplete chunked read)", request=request)
    assert classify_error(cut) == ErrorClass("transient", None, None, None, True, "stream_cut")
    assert classify_error(httpx2.ReadTimeout("timed out", request=request)).reason == "timeout"
    assert classify_error(httpx2.ConnectError("refused", request=request)).reason == "connection"
    assert classify_error(ConnectionResetError()).kind == "transient"


def test_anthropic_mid_stream_error_event_after_200():
    response = httpx2.Response(200, headers={"request-id": "req_011CAbCdEfGhIjKlMnOpQrSt"},
                               request=httpx2.Request("POST", URL["anthropic"]))
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = AN._make_status_error(str(body), body=body, response=response)
    assert type(error) is anthropic.APIStatusError
    assert classify_error(error) == ErrorClass("transient", 200, "req_011CAbCdEfGhIjKlMnOpQrSt", "anthropic", True,
                                               "overloaded")


def test_openai_mid_stream_error_data():
    body = {"message": "The server had an error", "type": "server_error", "param": None, "code": None}
    error = openai.APIError("The server had an error", httpx2.Request("POST", URL["openai"]), body=body)
    assert classify_error(error) == ErrorClass("transient", None, None, "openai", True, "server_error")


def completion(finish: str, refusal: str | None = None) -> ChatCompletion:
    body = wire.chat_completion(wire.Completion(text=None if refusal else "x", refusal=refusal, finish=finish))
    return ChatCompletion.model_validate(body)


def test_openai_finish_reason_errors():
    assert classify_error(openai.LengthFinishReasonError(completion=completion("length"))) == ErrorClass(
        "content", None, None, "openai", True, "length")
    assert classify_error(openai.ContentFilterFinishReasonError()) == ErrorClass(
        "content", None, None, "openai", True, "content_filter")


class Answer(pydantic.BaseModel):
    answer: str


def test_pydantic_and_json_errors():
    with pytest.raises(pydantic.ValidationError) as bad_json:
        Answer.model_validate_json('{"answer": "x"} thanks!')
    with pytest.raises(pydantic.ValidationError) as bad_shape:
        Answer.model_validate_json('{"reply": "x"}')
    with pytest.raises(json.JSONDecodeError) as decode:
        json.loads("```json\n{}\n```")
    assert classify_error(bad_json.value) == ErrorClass("content", None, None, None, True, "malformed_json")
    assert classify_error(bad_shape.value) == ErrorClass("content", None, None, None, True, "schema_mismatch")
    assert classify_error(decode.value).reason == "malformed_json"


class AppError(Exception):
    pass


def test_wrapped_errors_are_followed():
    error = status_error("anthropic", 529)
    try:
        try:
            raise error
        except anthropic.APIStatusError as inner:
            raise AppError("summary failed") from inner
    except AppError as outer:
        found = classify_error(outer)
    assert (found.kind, found.reason, found.request_id) == ("transient", "overloaded", error.request_id)


def test_unknown_and_plugin_errors():
    assert classify_error(KeyError("x")) == ErrorClass("unknown", None, None, None, False, "KeyError")
    miss = sdk_compatible(CassetteMiss, "no recorded response")
    assert classify_error(miss) == ErrorClass("fatal", None, None, None, False, "cassette_miss")


def test_str_is_a_log_line():
    error = status_error("openai", 429)
    assert str(classify_error(error)) == f"transient (rate_limit), openai, HTTP 429, request id {error.request_id}"


# -- classify_response -----------------------------------------------------------------------------
def test_classify_response():
    assert classify_response(completion("stop")) is None
    assert classify_response(completion("length")).reason == "length"
    assert classify_response(completion("content_filter")).reason == "content_filter"
    assert classify_response(completion("refusal", refusal="No.")).reason == "refusal"
    message = anthropic.types.Message.model_validate
    assert classify_response(message(wire.message(wire.Completion(text="x")))) is None
    assert classify_response(message(wire.message(wire.Completion(text="x", finish="length")))).reason == "length"
    refused = classify_response(message(wire.message(wire.Completion(text="", finish="refusal"))))
    assert refused == ErrorClass("content", None, None, "anthropic", True, "refusal")
    response = Response.model_validate
    assert classify_response(response(wire.response_object(wire.Completion(text="x")))) is None
    assert classify_response(response(wire.response_object(wire.Completion(text="x", finish="length")))).reason \
        == "length"
    assert classify_response(response(wire.response_object(wire.Completion(text=None, refusal="No.",
                                                                           finish="refusal")))).reason == "refusal"


# -- any error response the providers send ---------------------------------------------------------
TRANSIENT = {408, 409, 429, 500, 502, 503, 504, 529}


@settings(max_examples=150, deadline=None)
@given(openai_error_response(edge_pages=True) | anthropic_error_response(edge_pages=True))
def test_every_generated_error_response_classifies(generated):
    response = httpx2.Response(generated.status, headers=list(generated.headers),
                               content=generated.body if isinstance(generated.body, str) else json.dumps(generated.body),
                               request=httpx2.Request("POST", URL[generated.provider]))
    error = (OA if generated.provider == "openai" else AN)._make_status_error_from_response(response)
    found = classify_error(error)
    quota = isinstance(generated.body, dict) and "insufficient_quota" in json.dumps(generated.body)
    assert found.kind == ("transient" if generated.status in TRANSIENT and not quota else "fatal")
    assert found.status == generated.status and found.provider == generated.provider
    assert found.request_id == dict(generated.headers)["x-request-id" if generated.provider == "openai" else "request-id"]
