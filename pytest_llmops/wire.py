"""The providers' wire formats: response bodies, SSE streams, error bodies and headers.

The single place that builds what OpenAI and Anthropic send: ``llm_faults`` serves it,
``pytest_llmops.strategies`` generates it, and the loopback server (``pytest_llmops.loopback``)
answers the SDKs with it, so an injected, a generated and a recorded response all look alike and
all look like the real services':

* ``Completion`` describes one model answer (text, tool calls, refusal, finish reason, usage) in
  provider-neutral terms; ``chat_completion`` / ``chat_chunks`` (OpenAI Chat Completions),
  ``response_object`` / ``response_events`` (OpenAI Responses API) and ``message`` / ``message_events``
  (Anthropic Messages) render it as JSON bodies and stream events, ``sse`` / ``sse_frames`` frame the
  events. Ids are random, or derived from ``Completion.seed`` (the same seed, the same ids).
* ``error_body`` / ``error_content`` give each provider's error response for a status code;
  ``success_headers`` / ``error_headers`` the headers around a body: the request id where the provider
  puts it (OpenAI: ``x-request-id``; Anthropic: ``request-id``, also ``request_id`` in error bodies),
  organisation ids, rate-limit state, processing times and Cloudflare's headers.

Plain data in, plain data (dicts, bytes) out: no SDK import, no network.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import string
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
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
    "merge_headers",
    "provider_headers",
    "openai_request_id",
    "anthropic_request_id",
    "openai_organization_id",
    "openai_project_id",
    "anthropic_organization_id",
    "split_text",
    "CREATED",
]

CREATED = 1_700_000_000
"""Fixed ``created`` / ``created_at`` timestamp of every body (unless a ``Completion`` says otherwise)."""

GENERIC_FINISH = ("stop", "length", "tool_calls", "content_filter", "refusal")
_ALNUM = string.ascii_letters + string.digits
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_HEX = "0123456789abcdef"


# -- ids -------------------------------------------------------------------------------------------
def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _derived_id(prefix: str, seed: str, length: int, alphabet: str = _ALNUM) -> str:
    """A deterministic id: ``prefix`` + ``length`` characters derived from ``seed``."""
    chars: list[str] = []
    for counter in itertools.count():
        digest = hashlib.sha256(f"{seed}\x00{counter}".encode()).digest()
        chars.extend(alphabet[b % len(alphabet)] for b in digest)
        if len(chars) >= length:
            break
    return prefix + "".join(chars[:length])


def openai_request_id() -> str:
    """``req_`` and 32 hex digits, as in OpenAI's ``x-request-id`` header."""
    return "req_" + secrets.token_hex(16)


def anthropic_request_id() -> str:
    """``req_011C...`` (28 characters), as in Anthropic's ``request-id`` header and error bodies."""
    return "req_011C" + _token(_BASE58, 20)


def openai_organization_id() -> str:
    """``org-`` and 24 letters and digits, as in OpenAI's ``openai-organization`` header."""
    return "org-" + _token(_ALNUM, 24)


def openai_project_id() -> str:
    """``proj_`` and 24 letters and digits, as in OpenAI's ``openai-project`` header."""
    return "proj_" + _token(_ALNUM, 24)


def anthropic_organization_id() -> str:
    """A UUID, as in Anthropic's ``anthropic-organization-id`` header."""
    return str(uuid.uuid4())


#: The account behind responses that name no organisation (one per process, as one API key has one).
_ORGANIZATION = {"openai": openai_organization_id(), "anthropic": anthropic_organization_id()}
_PROJECT = openai_project_id()


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
    """One model answer, provider-neutral. ``finish`` is one of ``GENERIC_FINISH`` ("refusal": OpenAI
    finishes with "stop" and a ``refusal``, Anthropic with ``stop_reason: "refusal"``; "content_filter":
    OpenAI's filter, Anthropic "refusal" too). ``seed``: derive every id from it (the same seed gives
    the same ids) instead of drawing random ones."""

    model: str = "gpt-4o-mini"
    text: str | None = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"
    refusal: str | None = None
    input_tokens: int = 12
    output_tokens: int | None = None  # None: count the words produced
    id: str | None = None
    created: int = CREATED
    seed: str | None = None

    def produced_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        words = len((self.text or "").split()) + len((self.refusal or "").split())
        words += sum(len(call.arguments.split()) for call in self.tool_calls)
        return max(words, 1)

    def new_id(self, prefix: str, alphabet: str, length: int, tag: str = "") -> str:
        """``prefix`` and ``length`` characters of ``alphabet``: derived from ``seed`` + ``tag``, or random."""
        if self.seed is None:
            return prefix + _token(alphabet, length)
        return _derived_id(prefix, self.seed + tag, length, alphabet)


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
    """Fixed-size pieces of a string (streamed JSON arguments)."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def _call_ids(completion: Completion, provider: str) -> list[str]:
    if provider == "anthropic":
        return [call.id or completion.new_id("toolu_01", _BASE58, 22, f":toolu:{i}")
                for i, call in enumerate(completion.tool_calls)]
    return [call.id or completion.new_id("call_", _ALNUM, 24, f":call:{i}")
            for i, call in enumerate(completion.tool_calls)]


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
        "id": completion.id or completion.new_id("chatcmpl-", _ALNUM, 29),
        "object": obj,
        "created": completion.created,
        "model": completion.model,
        "service_tier": "default",
        "system_fingerprint": completion.new_id("fp_", _HEX, 10, ":fp"),
    }


def _chat_message(completion: Completion) -> dict[str, Any]:
    content = completion.text
    if not content and (completion.tool_calls or completion.refusal is not None):
        content = None
    msg: dict[str, Any] = {"role": "assistant", "content": content, "refusal": completion.refusal,
                           "annotations": []}
    if completion.tool_calls:
        msg["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call_id, call in zip(_call_ids(completion, "openai"), completion.tool_calls)
        ]
    return msg


def chat_completion(completion: Completion, n: int = 1) -> dict[str, Any]:
    """A ``chat.completion`` body with ``n`` (identical) choices."""
    msg = _chat_message(completion)
    body = _chat_base(completion, "chat.completion")
    finish = _chat_finish(completion.finish)
    body["choices"] = [{"index": i, "message": msg, "logprobs": None, "finish_reason": finish} for i in range(n)]
    body["usage"] = _chat_usage(completion)
    return body


def chat_chunks(completion: Completion, include_usage: bool = False, n: int = 1) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer with ``n`` choices, one after the other
    (``[DONE]`` is added by ``sse_frames``); ``include_usage`` adds the final usage chunk."""
    base = _chat_base(completion, "chat.completion.chunk")
    msg = _chat_message(completion)
    has_content = bool(completion.text) or not (completion.tool_calls or completion.refusal is not None)
    chunks: list[dict[str, Any]] = []

    def emit(index: int, delta: dict[str, Any], finish: str | None = None) -> None:
        chunk = dict(base, choices=[{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)

    for index in range(n):
        emit(index, {"role": "assistant", "content": "" if has_content else None, "refusal": None})
        for piece in split_text(completion.text or ""):
            emit(index, {"content": piece})
        for piece in split_text(completion.refusal or ""):
            emit(index, {"refusal": piece})
        for position, call in enumerate(msg.get("tool_calls", [])):
            function = call["function"]
            emit(index, {"tool_calls": [{"index": position, "id": call["id"], "type": "function",
                                         "function": {"name": function["name"], "arguments": ""}}]})
            for fragment in _fragments(function["arguments"]):
                emit(index, {"tool_calls": [{"index": position, "function": {"arguments": fragment}}]})
        emit(index, {}, _chat_finish(completion.finish))
    if include_usage:
        chunks.append(dict(base, choices=[], usage=_chat_usage(completion)))
    return chunks


# -- OpenAI Responses API --------------------------------------------------------------------------
def _response_tools(tools: Any) -> list[Any]:
    """The request's tools echoed the way the API does (function tools get their defaults)."""
    return [dict({"description": None, "strict": True}, **tool)
            if isinstance(tool, dict) and tool.get("type") == "function" else tool
            for tool in (tools if isinstance(tools, list) else [])]


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
        output.append({"id": completion.new_id("msg_", _HEX, 48, ":msg"), "type": "message", "status": status,
                       "role": "assistant", "content": content})
    for i, (call_id, call) in enumerate(zip(_call_ids(completion, "openai"), completion.tool_calls)):
        output.append({"id": completion.new_id("fc_", _HEX, 48, f":fc:{i}"), "type": "function_call",
                       "status": "completed", "arguments": call.arguments, "call_id": call_id, "name": call.name})
    output_tokens = completion.produced_tokens()
    text = dict(body.get("text") or {})
    text.setdefault("format", {"type": "text"})
    text.setdefault("verbosity", "medium")
    return {
        "id": completion.id or completion.new_id("resp_", _HEX, 48),
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
        "tools": _response_tools(body.get("tools")),
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
    """An Anthropic ``message`` body. Tool inputs are objects on this wire: malformed arguments become
    ``{}``. A refusal is ``stop_reason: "refusal"`` with ``stop_details`` (``refusal`` is its explanation)."""
    content: list[dict[str, Any]] = []
    if completion.text or (not completion.tool_calls and completion.finish != "refusal"):
        content.append({"type": "text", "text": completion.text or ""})
    for call_id, call in zip(_call_ids(completion, "anthropic"), completion.tool_calls):
        content.append({"type": "tool_use", "id": call_id, "name": call.name, "input": _tool_input(call.arguments)})
    stop = _STOP.get(completion.finish, completion.finish)
    details = {"type": "refusal", "category": None, "explanation": completion.refusal} if stop == "refusal" else None
    return {
        "id": completion.id or completion.new_id("msg_01", _BASE58, 22),
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": details,
        "usage": _anthropic_usage(completion.input_tokens, completion.produced_tokens()),
    }


def message_events(completion: Completion) -> list[dict[str, Any]]:
    """The SSE events of a streamed Anthropic message: ``ping`` after the first content block starts,
    tool input streamed as the raw arguments (``partial_json``, after an empty first delta), cumulative
    usage in ``message_delta``."""
    final = message(completion)
    usage = final["usage"]
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, **fields})

    emit("message_start", message=dict(final, content=[], stop_reason=None, stop_sequence=None, stop_details=None,
                                       usage=dict(usage, output_tokens=min(1, usage["output_tokens"]))))
    if not final["content"]:
        emit("ping")
    calls = iter(completion.tool_calls)
    for index, block in enumerate(final["content"]):
        if block["type"] == "text":
            emit("content_block_start", index=index, content_block=dict(block, text=""))
            if index == 0:
                emit("ping")
            for piece in split_text(block["text"]):
                emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        else:
            emit("content_block_start", index=index, content_block=dict(block, input={}))
            if index == 0:
                emit("ping")
            for fragment in ["", *_fragments(next(calls).arguments)]:
                emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": fragment})
        emit("content_block_stop", index=index)
    emit("message_delta",
         delta={"stop_reason": final["stop_reason"], "stop_sequence": None, "stop_details": final["stop_details"]},
         usage={"input_tokens": usage["input_tokens"], "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": usage["output_tokens"]})
    emit("message_stop")
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
#: The requests-per-minute limit the rate-limit headers and the 429 messages speak of.
_RPM = {"openai": 10000, "anthropic": 4000}

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
          "Rate limit reached for {model} in organization {organization} on requests per min (RPM): Limit {limit}, "
          "Used {limit}, Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits "
          "to learn more."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
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
          "This request would exceed the rate limit for your organization of {limit} requests per minute. For "
          "details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers "
          "for current usage. Please reduce the prompt length or the maximum tokens requested, or try again "
          "later."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

_BAD_GATEWAY_PAGE = ("text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                                  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                                  "</body>\r\n</html>\r\n")

#: Statuses answered by the edge (Cloudflare, Envoy) rather than the API: not JSON.
_EDGE_PAGES: dict[tuple[str, int], tuple[str, str]] = {
    ("openai", 502): _BAD_GATEWAY_PAGE,
    ("anthropic", 502): _BAD_GATEWAY_PAGE,
    ("anthropic", 503): ("text/plain",
                         "upstream connect error or disconnect/reset before headers. reset reason: overflow"),
}


def error_content(provider: str, status: int, *, edge: bool = True, **fields: Any) -> tuple[str, bytes]:
    """``(content type, body)`` of ``provider``'s error response for ``status``; ``fields`` as for
    ``error_body``. Statuses the providers' edges answer (502; Anthropic 503) are HTML or plain-text pages
    (``edge=True``) unless a message, type or code is given."""
    page = _EDGE_PAGES.get((provider, status)) if edge else None
    if page is not None and all(fields.get(name) is None for name in ("message", "type", "code")):
        return page[0], page[1].encode("utf-8")
    return "application/json", json.dumps(error_body(provider, status, **fields)).encode("utf-8")


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
    organization: str | None = None,
) -> dict[str, Any]:
    """The JSON error body ``provider`` sends with ``status`` (OpenAI: ``{"error": {message, type, param,
    code}}``; Anthropic: ``{"type": "error", "error": {type, message}, "request_id": ...}``). What is not
    given is the status's usual value; ``code=""`` means no code (OpenAI ``null``, Anthropic no
    ``details``)."""
    names = {"model": model, "wait": wait, "limit": _RPM.get(provider, 0),
             "organization": organization or _ORGANIZATION["openai"]}
    if provider == "anthropic":
        default_type, default_message = _ANTHROPIC_ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", f"Error {status}")
        )
        error: dict[str, Any] = {"type": type or default_type, "message": message or default_message.format(**names)}
        if code:
            error["details"] = {"error_code": code}
        return {"type": "error", "error": error, "request_id": request_id or anthropic_request_id()}
    default_type, default_code, default_message = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status}")
    )
    return {"error": {"message": message or default_message.format(**names),
                      "type": type or default_type, "param": param,
                      "code": (default_code if code is None else code) or None}}


# -- headers ---------------------------------------------------------------------------------------
def merge_headers(headers: Iterable[tuple[str, str]], extra: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``headers`` without those named in ``extra`` (any case), then ``extra`` (names in lower case)."""
    names = {name.lower() for name in extra or {}}
    return [(k, v) for k, v in headers if k.lower() not in names] + \
        [(k.lower(), str(v)) for k, v in (extra or {}).items()]


def _cloudflare_headers(cookie_domain: str | None) -> list[tuple[str, str]]:
    now = time.time()
    headers = [("cf-cache-status", "DYNAMIC")]
    if cookie_domain is not None:
        expires = time.strftime("%a, %d-%b-%y %H:%M:%S GMT", time.gmtime(now + 1800))
        bm = f"{secrets.token_urlsafe(32)}-{int(now)}-1.0.1.1-{secrets.token_urlsafe(60)}"
        cfuvid = f"{secrets.token_urlsafe(32)}-{int(now * 1000)}-0.0.1.1-604800000"
        headers += [
            ("set-cookie", f"__cf_bm={bm}; path=/; expires={expires}; domain={cookie_domain}; HttpOnly; Secure; "
                           "SameSite=None"),
            ("set-cookie", f"_cfuvid={cfuvid}; path=/; domain={cookie_domain}; HttpOnly; Secure; SameSite=None"),
        ]
    return headers + [
        ("x-content-type-options", "nosniff"),
        ("server", "cloudflare"),
        ("cf-ray", f"{secrets.token_hex(8)}-SJC"),
        ("alt-svc", 'h3=":443"; ma=86400'),
    ]


def provider_headers(
    provider: str,
    request_id: str,
    *,
    organization: str | None = None,
    project: str | None = None,
    cookie_domain: str | None = None,
) -> list[tuple[str, str]]:
    """The headers ``provider`` sends with every response (content type aside): the request id where the
    provider puts it, organisation (and OpenAI project) ids, the rate-limit budget, processing times and
    Cloudflare's headers. ``organization`` / ``project`` default to one account per process; Cloudflare's
    ``set-cookie`` headers only come with a ``cookie_domain`` (a client keeps cookies and sends them on)."""
    processing_ms = 40 + secrets.randbelow(861)
    limit = _RPM.get(provider, 0)
    if provider == "anthropic":
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        headers = [("request-id", request_id),
                   ("anthropic-organization-id", organization or _ORGANIZATION["anthropic"])]
        for kind, budget in (("requests", limit), ("input-tokens", 2000000), ("output-tokens", 400000),
                             ("tokens", 2400000)):
            headers += [
                (f"anthropic-ratelimit-{kind}-limit", str(budget)),
                (f"anthropic-ratelimit-{kind}-remaining", str(budget - 1)),
                (f"anthropic-ratelimit-{kind}-reset", reset),
            ]
        headers += [("x-envoy-upstream-service-time", str(processing_ms)), ("via", "1.1 google"),
                    ("x-robots-tag", "none")]
    else:
        headers = [
            ("x-request-id", request_id),
            ("openai-organization", organization or _ORGANIZATION["openai"]),
            ("openai-project", project or _PROJECT),
            ("openai-processing-ms", str(processing_ms)),
            ("openai-version", "2020-10-01"),
            ("x-envoy-upstream-service-time", str(processing_ms + 3)),
            ("x-ratelimit-limit-requests", str(limit)),
            ("x-ratelimit-limit-tokens", "30000000"),
            ("x-ratelimit-remaining-requests", str(limit - 1)),
            ("x-ratelimit-remaining-tokens", "29999980"),
            ("x-ratelimit-reset-requests", "6ms"),
            ("x-ratelimit-reset-tokens", "0s"),
            ("access-control-expose-headers", "X-Request-ID"),
            ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
        ]
    return headers + _cloudflare_headers(cookie_domain)


def error_headers(
    provider: str,
    status: int,
    request_id: str,
    content_type: str = "application/json",
    extra: Mapping[str, Any] | None = None,
    **identity: str | None,
) -> list[tuple[str, str]]:
    """Response headers of an error: ``provider_headers`` (``identity``: its keyword arguments) with the
    rate-limit budget spent on a 429 and ``x-should-retry`` where Anthropic sends it; ``extra`` added
    last (and overriding)."""
    if provider == "openai" and content_type == "application/json":
        content_type = "application/json; charset=utf-8"
    state: dict[str, str] = {}
    if status == 429:
        state["anthropic-ratelimit-requests-remaining" if provider == "anthropic"
              else "x-ratelimit-remaining-requests"] = "0"
    if provider == "anthropic" and (status in (408, 409, 429) or status >= 500):
        state["x-should-retry"] = "true"
    headers = merge_headers(provider_headers(provider, request_id, **identity), state)
    return merge_headers([("content-type", content_type), *headers], extra)


def success_headers(provider: str, request_id: str, stream: bool, **identity: str | None) -> list[tuple[str, str]]:
    """Headers of a 200 (JSON, or an SSE stream): ``provider_headers`` (``identity``: its keyword
    arguments) after the content type."""
    head = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")] if stream \
        else [("content-type", "application/json")]
    return head + provider_headers(provider, request_id, **identity)


def first_property(schema: Any) -> str:
    """The first required (else first) property of a JSON schema's object, or ``"answer"``."""
    if isinstance(schema, dict):
        required: Sequence[Any] = schema.get("required") or []
        props = schema.get("properties") or {}
        for name in [*required, *props]:
            if isinstance(name, str):
                return name
    return "answer"
