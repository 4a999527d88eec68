"""The providers' wire formats: response bodies, SSE streams, error bodies and headers.

Everything ``llm_faults`` serves and everything ``pytest_llmops.strategies`` generates is built here, so
an injected response and a generated one look alike and both look like what OpenAI and Anthropic send:

* ``Completion`` describes one model answer (text, tool calls, refusal, finish reason, usage) in
  provider-neutral terms; ``chat_completion`` / ``chat_chunks`` (OpenAI Chat Completions),
  ``response_object`` / ``response_events`` (OpenAI Responses API) and ``message`` / ``message_events``
  (Anthropic Messages) render it as JSON bodies and stream events, ``sse`` frames the events.
* ``error_body`` / ``error_headers`` give each provider's error response for a status code, with a
  request id where the provider puts it (OpenAI: ``x-request-id`` header; Anthropic: ``request-id``
  header and ``request_id`` in the body).

Plain data in, plain data (dicts, bytes) out: no SDK import, no network.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Completion",
    "ToolCall",
    "ProviderResponse",
    "success_headers",
    "first_property",
    "GENERIC_FINISH",
    "endpoint_of",
    "chat_completion",
    "chat_chunks",
    "response_object",
    "response_events",
    "message",
    "message_events",
    "sse",
    "sse_frames",
    "error_body",
    "error_headers",
    "error_content",
    "openai_request_id",
    "anthropic_request_id",
    "split_text",
    "CREATED",
]

CREATED = 1_700_000_000
GENERIC_FINISH = ("stop", "length", "tool_calls", "content_filter", "refusal")
_ALNUM = string.ascii_letters + string.digits
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# -- ids -------------------------------------------------------------------------------------------
def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def openai_request_id() -> str:
    """``req_`` and 32 hex digits, as in OpenAI's ``x-request-id`` header."""
    return "req_" + secrets.token_hex(16)


def anthropic_request_id() -> str:
    """``req_011C...`` (28 characters), as in Anthropic's ``request-id`` header and error bodies."""
    return "req_011C" + _token(_BASE58, 20)


@dataclass(frozen=True)
class ProviderResponse:
    """A whole HTTP response as a provider sends it: what the error strategies generate and
    ``llm_faults.respond`` serves. ``body``: a dict (JSON), text, or a list of stream events."""

    provider: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: Any


# -- what the model answered -----------------------------------------------------------------------
@dataclass
class ToolCall:
    """One tool call. ``arguments`` is the raw JSON text the model produced (it may be malformed)."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass
class Completion:
    """One model answer, provider-neutral. ``finish`` is one of ``GENERIC_FINISH``."""

    model: str = "gpt-4o-mini"
    text: str | None = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"
    refusal: str | None = None
    input_tokens: int = 12
    output_tokens: int | None = None  # None: count the words produced
    id: str | None = None
    created: int = CREATED

    def produced_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        words = len((self.text or "").split()) + len((self.refusal or "").split())
        words += sum(len(call.arguments.split()) for call in self.tool_calls)
        return max(words, 1)


def endpoint_of(method: str, url: str) -> str | None:
    """``"chat"``, ``"responses"`` or ``"messages"`` for the three generation endpoints, else None."""
    if method.upper() != "POST":
        return None
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/v1/messages"):
        return "messages"
    return None


_PIECE = re.compile(r"\s*\S+|\s+")


def split_text(text: str, words: int = 1) -> list[str]:
    """``text`` as stream deltas of ``words`` words each (joined back, they give ``text``)."""
    pieces = _PIECE.findall(text)
    return ["".join(pieces[i:i + words]) for i in range(0, len(pieces), words)] or ([text] if text else [])


def _fragments(text: str, size: int = 8) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _call_ids(completion: Completion, prefix: str, length: int) -> list[str]:
    return [call.id or prefix + _token(_ALNUM, length) for call in completion.tool_calls]


# -- OpenAI Chat Completions -----------------------------------------------------------------------
def _chat_finish(finish: str) -> str:
    return "stop" if finish == "refusal" else finish


def _chat_usage(completion: Completion) -> dict[str, Any]:
    output = completion.produced_tokens()
    return {
        "prompt_tokens": completion.input_tokens,
        "completion_tokens": output,
        "total_tokens": completion.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_base(completion: Completion, obj: str) -> dict[str, Any]:
    return {
        "id": completion.id or "chatcmpl-" + _token(_ALNUM, 29),
        "object": obj,
        "created": completion.created,
        "model": completion.model,
        "service_tier": "default",
        "system_fingerprint": "fp_" + secrets.token_hex(5),
    }


def chat_completion(completion: Completion) -> dict[str, Any]:
    """A ``chat.completion`` body (one choice)."""
    ids = _call_ids(completion, "call_", 24)
    content = completion.text
    if not content and (completion.tool_calls or completion.refusal is not None):
        content = None
    msg: dict[str, Any] = {"role": "assistant", "content": content, "refusal": completion.refusal,
                           "annotations": []}
    if completion.tool_calls:
        msg["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call_id, call in zip(ids, completion.tool_calls)
        ]
    body = _chat_base(completion, "chat.completion")
    body["choices"] = [{"index": 0, "message": msg, "logprobs": None, "finish_reason": _chat_finish(completion.finish)}]
    body["usage"] = _chat_usage(completion)
    return body


def chat_chunks(completion: Completion, include_usage: bool = False) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer (``[DONE]`` is added by ``sse``)."""
    base = _chat_base(completion, "chat.completion.chunk")
    chunks: list[dict[str, Any]] = []

    def emit(delta: dict[str, Any], finish: str | None = None) -> None:
        chunk = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)

    has_content = bool(completion.text) or not (completion.tool_calls or completion.refusal is not None)
    emit({"role": "assistant", "content": "" if has_content else None, "refusal": None})
    for piece in split_text(completion.text or ""):
        emit({"content": piece})
    for piece in split_text(completion.refusal or ""):
        emit({"refusal": piece})
    for index, (call_id, call) in enumerate(zip(_call_ids(completion, "call_", 24), completion.tool_calls)):
        emit({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                              "function": {"name": call.name, "arguments": ""}}]})
        for fragment in _fragments(call.arguments):
            emit({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    emit({}, _chat_finish(completion.finish))
    if include_usage:
        chunks.append(dict(base, choices=[], usage=_chat_usage(completion)))
    return chunks


# -- OpenAI Responses API --------------------------------------------------------------------------
def response_object(completion: Completion, request: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``response`` object; ``request`` (the request body) supplies the echoed settings."""
    body = request or {}
    status, incomplete = "completed", None
    if completion.finish == "length":
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    elif completion.finish == "content_filter":
        status, incomplete = "incomplete", {"reason": "content_filter"}
    output: list[dict[str, Any]] = []
    if completion.text or completion.refusal is not None or not completion.tool_calls:
        content: list[dict[str, Any]] = []
        if completion.text or completion.refusal is None:
            content.append({"type": "output_text", "text": completion.text or "", "annotations": [], "logprobs": []})
        if completion.refusal is not None:
            content.append({"type": "refusal", "refusal": completion.refusal})
        output.append({"id": "msg_" + secrets.token_hex(24), "type": "message", "status": status,
                       "role": "assistant", "content": content})
    for call_id, call in zip(_call_ids(completion, "call_", 24), completion.tool_calls):
        output.append({"id": "fc_" + secrets.token_hex(24), "type": "function_call", "status": "completed",
                       "arguments": call.arguments, "call_id": call_id, "name": call.name})
    output_tokens = completion.produced_tokens()
    text = dict(body.get("text") or {})
    text.setdefault("format", {"type": "text"})
    text.setdefault("verbosity", "medium")
    tools = [dict({"description": None, "strict": True}, **tool) if isinstance(tool, dict) and tool.get("type") == "function"
             else tool for tool in body.get("tools") or []]
    return {
        "id": completion.id or "resp_" + secrets.token_hex(24),
        "object": "response",
        "created_at": completion.created,
        "status": status,
        "background": bool(body.get("background", False)),
        "completed_at": completion.created + 1 if status == "completed" else None,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": completion.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools,
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": {
            "input_tokens": completion.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": completion.input_tokens + output_tokens,
        },
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def response_events(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events that deliver ``final`` (a response object), ending with completed/incomplete."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    pending = dict(final, status="in_progress", output=[], usage=None, incomplete_details=None, completed_at=None)
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for out_index, item in enumerate(final["output"]):
        where = {"item_id": item["id"], "output_index": out_index}
        if item["type"] == "message":
            emit("response.output_item.added", output_index=out_index,
                 item=dict(item, status="in_progress", content=[]))
            for c_index, part in enumerate(item["content"]):
                at = dict(where, content_index=c_index)
                if part["type"] == "output_text":
                    emit("response.content_part.added", **at, part=dict(part, text=""))
                    for piece in split_text(part["text"]):
                        emit("response.output_text.delta", **at, delta=piece, logprobs=[])
                    emit("response.output_text.done", **at, text=part["text"], logprobs=[])
                else:
                    emit("response.content_part.added", **at, part=dict(part, refusal=""))
                    for piece in split_text(part["refusal"]):
                        emit("response.refusal.delta", **at, delta=piece)
                    emit("response.refusal.done", **at, refusal=part["refusal"])
                emit("response.content_part.done", **at, part=part)
        else:
            emit("response.output_item.added", output_index=out_index,
                 item=dict(item, status="in_progress", arguments=""))
            for fragment in _fragments(item["arguments"]):
                emit("response.function_call_arguments.delta", **where, delta=fragment)
            emit("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
        emit("response.output_item.done", output_index=out_index, item=item)
    emit("response.completed" if final["status"] == "completed" else "response.incomplete", response=final)
    return events


# -- Anthropic Messages ----------------------------------------------------------------------------
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "refusal": "refusal",
         "content_filter": "refusal"}


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's input as Anthropic sends it (an object; what does not parse as one is dropped)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message(completion: Completion) -> dict[str, Any]:
    """An Anthropic ``message`` body. Tool inputs are objects on this wire: malformed arguments become ``{}``."""
    content: list[dict[str, Any]] = []
    if completion.text or (not completion.tool_calls and completion.finish != "refusal"):
        content.append({"type": "text", "text": completion.text or ""})
    for call_id, call in zip(_call_ids(completion, "toolu_01", 22), completion.tool_calls):
        content.append({"type": "tool_use", "id": call_id, "name": call.name, "input": _tool_input(call.arguments)})
    stop = _STOP.get(completion.finish, completion.finish)
    return {
        "id": completion.id or "msg_01" + _token(_BASE58, 22),
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": {"type": "refusal", "category": None, "explanation": None} if stop == "refusal" else None,
        "usage": _anthropic_usage(completion.input_tokens, completion.produced_tokens()),
    }


def message_events(completion: Completion) -> list[dict[str, Any]]:
    """The SSE events of a streamed Anthropic message (tool input streamed as raw ``partial_json``)."""
    final = message(completion)
    events: list[dict[str, Any]] = [{
        "type": "message_start",
        "message": dict(final, content=[], stop_reason=None, stop_details=None,
                        usage=_anthropic_usage(completion.input_tokens, 1)),
    }]
    index = 0
    blocks = [block for block in final["content"] if block["type"] == "text"]
    for block in blocks:
        events.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
        if index == 0:
            events.append({"type": "ping"})
        for piece in split_text(block["text"]):
            events.append({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": piece}})
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    tool_blocks = [block for block in final["content"] if block["type"] == "tool_use"]
    for block, call in zip(tool_blocks, completion.tool_calls):
        events.append({"type": "content_block_start", "index": index,
                       "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
        for fragment in _fragments(call.arguments):
            events.append({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": fragment}})
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    events.append({
        "type": "message_delta",
        "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None, "stop_details": final["stop_details"]},
        "usage": {"output_tokens": final["usage"]["output_tokens"]},
    })
    events.append({"type": "message_stop"})
    return events


# -- server-sent events ----------------------------------------------------------------------------
def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE frame (``data`` is JSON-encoded unless it is already text)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return ((f"event: {event}\n" if event else "") + f"data: {text}\n\n").encode("utf-8")


def sse_frames(endpoint: str, events: Iterable[dict[str, Any]], *, done: bool = True) -> list[bytes]:
    """Frame events the way ``endpoint`` streams them: Chat Completions sends ``data:`` lines only and ends
    with ``data: [DONE]`` (when ``done``); the Responses API and Anthropic name each event."""
    if endpoint == "chat":
        frames = [sse(event) for event in events]
        return frames + [b"data: [DONE]\n\n"] if done else frames
    return [sse(event, event.get("type")) for event in events]


# -- errors ----------------------------------------------------------------------------------------
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key",
          "Incorrect API key provided: sk-proj-****. You can find your API key at "
          "https://platform.openai.com/account/api-keys."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found",
          "The model `{model}` does not exist or you do not have access to it."),
    408: ("server_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for {model} in organization org-llmops on requests per min (RPM): Limit 500, "
          "Used 500, Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits "
          "to learn more."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
    504: ("server_error", None, "Gateway timeout."),
}

_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: {model}"),
    408: ("timeout_error", "Request timed out"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error",
          "This request would exceed the rate limit for your organization of 50 requests per minute. For "
          "details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers "
          "for current usage. Please reduce the prompt length or the maximum tokens requested, or try again "
          "later."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

#: Statuses answered by the edge (Cloudflare, Envoy) rather than the API: not JSON.
_EDGE_PAGES: dict[tuple[str, int], tuple[str, str]] = {
    ("openai", 502): ("text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                                   "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                                   "</body>\r\n</html>\r\n"),
    ("anthropic", 502): ("text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                                      "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                                      "</body>\r\n</html>\r\n"),
    ("anthropic", 503): ("text/plain",
                         "upstream connect error or disconnect/reset before headers. reset reason: overflow"),
}


def error_content(
    provider: str,
    status: int,
    *,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    request_id: str | None = None,
    model: str = "the model",
    wait: str = "1s",
    edge: bool = True,
) -> tuple[str, bytes]:
    """``(content type, body)`` of ``provider``'s error response for ``status``. Statuses the providers'
    edges answer (502; Anthropic 503) are HTML or plain-text pages (``edge=True``) unless a message,
    type or code is given."""
    page = _EDGE_PAGES.get((provider, status)) if edge else None
    if page is not None and message is None and type is None and code is None:
        return page[0], page[1].encode("utf-8")
    body = error_body(provider, status, message=message, type=type, code=code, param=param,
                      request_id=request_id, model=model, wait=wait)
    return "application/json", json.dumps(body).encode("utf-8")


def error_body(
    provider: str,
    status: int,
    *,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    request_id: str | None = None,
    model: str = "the model",
    wait: str = "1s",
) -> dict[str, Any]:
    """The JSON error body ``provider`` sends with ``status`` (OpenAI: ``{"error": {message, type, param,
    code}}``; Anthropic: ``{"type": "error", "error": {type, message}, "request_id": ...}``)."""
    if provider == "anthropic":
        default_type, default_message = _ANTHROPIC_ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", f"Error {status}")
        )
        error: dict[str, Any] = {"type": type or default_type,
                                 "message": message or default_message.format(model=model)}
        if code:
            error["details"] = {"error_code": code}
        return {"type": "error", "error": error, "request_id": request_id or anthropic_request_id()}
    default_type, default_code, default_message = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status}")
    )
    return {"error": {"message": message or default_message.format(model=model, wait=wait),
                      "type": type or default_type, "param": param, "code": code or default_code}}


def error_headers(
    provider: str,
    status: int,
    request_id: str,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Response headers of an error: the request id where the provider puts it, rate-limit state on a
    429, ``x-should-retry`` where Anthropic sends it; ``extra`` added last (and overriding)."""
    if provider == "anthropic":
        headers = [("content-type", content_type), ("request-id", request_id),
                   ("anthropic-organization-id", "00000000-0000-4000-8000-000000000000")]
        if status == 429:
            headers += [("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "0")]
        if status in (408, 409, 429) or status >= 500:
            headers.append(("x-should-retry", "true"))
        headers += [("via", "1.1 google"), ("server", "cloudflare"), ("cf-ray", secrets.token_hex(8) + "-SJC")]
    else:
        if content_type == "application/json":
            content_type = "application/json; charset=utf-8"
        headers = [("content-type", content_type), ("x-request-id", request_id),
                   ("openai-processing-ms", str(20 + secrets.randbelow(400))), ("openai-version", "2020-10-01")]
        if status == 429:
            headers += [("x-ratelimit-limit-requests", "500"), ("x-ratelimit-remaining-requests", "0"),
                        ("x-ratelimit-reset-requests", "120ms")]
        headers += [("server", "cloudflare"), ("cf-ray", secrets.token_hex(8) + "-SJC")]
    names = {name.lower() for name in extra or {}}
    return [(k, v) for k, v in headers if k not in names] + [(k.lower(), str(v)) for k, v in (extra or {}).items()]


def success_headers(provider: str, request_id: str, stream: bool) -> list[tuple[str, str]]:
    """Headers of a 200 (JSON or an SSE stream)."""
    content_type = "text/event-stream; charset=utf-8" if stream else "application/json"
    name = "request-id" if provider == "anthropic" else "x-request-id"
    return [("content-type", content_type), (name, request_id), ("server", "cloudflare")]


def first_property(schema: Any) -> str:
    """The first required (else first) property of a JSON schema's object, or ``"answer"``."""
    if isinstance(schema, dict):
        required: Sequence[Any] = schema.get("required") or []
        props = schema.get("properties") or {}
        for name in [*required, *props]:
            if isinstance(name, str):
                return name
    return "answer"
