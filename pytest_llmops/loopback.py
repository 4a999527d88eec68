"""A loopback fake of the OpenAI and Anthropic HTTP APIs for offline tests.

`LoopbackProvider` runs a tiny HTTP server (stdlib only) on 127.0.0.1 that
speaks each provider's wire format closely enough for the official ``openai``
and ``anthropic`` SDKs to parse every response, stream and error exactly as
they would from the real services. This module decides *what* to answer (the
default model, routing, validation); `pytest_llmops.wire` builds the bodies,
streams, error bodies and headers, the same ones ``llm_faults`` serves::

    from pytest_llmops.loopback import LoopbackProvider, Reply, ToolCall

    with LoopbackProvider() as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url)
        claude = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url)
        server.reply = lambda request, provider: Reply(text="Hi!")
        ...
        server.requests[-1].json       # what the SDK sent

Endpoints
---------
OpenAI (``server.openai_base_url`` = ``server.url + "/v1"``):

* ``POST /v1/chat/completions``: JSON, or SSE chunks when ``stream`` is true
  (``stream_options.include_usage`` adds the final usage chunk; tool calls are
  streamed as index/id/name deltas followed by argument fragments); ``n``.
* ``POST /v1/responses``: a Response object, or the real event sequence when
  ``stream`` is true (created, in_progress, output_item.added,
  content_part.added, output_text.delta..., output_text.done,
  content_part.done, output_item.done, completed/incomplete; function calls
  use the function_call_arguments events; refusals the refusal events).
* ``POST /v1/embeddings``: ``encoding_format`` "float" or "base64"
  (little-endian float32), ``dimensions``.
* ``GET /v1/models`` and ``GET /v1/models/{id}``.

Anthropic (``server.anthropic_base_url`` = ``server.url``):

* ``POST /v1/messages`` (also with ``?beta=true``): a Message, or SSE events
  (message_start, content_block_start, ping, content_block_delta with
  text_delta / input_json_delta, content_block_stop, message_delta,
  message_stop) when ``stream`` is true.
* ``POST /v1/messages/count_tokens``, ``GET /v1/models``, ``GET /v1/models/{id}``.

Requests whose path starts with ``/v1/messages`` or that carry an
``anthropic-version`` or ``x-api-key`` header are treated as Anthropic
requests, all others as OpenAI requests. Authentication, unknown paths,
malformed JSON and missing required fields produce each provider's real error
bodies (401, 404, 400).

Replies
-------
Every request is recorded in ``server.requests`` (a `ReceivedRequest`). The
answer comes from ``server.reply(request, provider)`` if set (``provider`` is
"openai" or "anthropic"); it returns a `Reply`, or None to fall back to
`default_reply`. For endpoints without generated text (embeddings, models,
count_tokens) only the status, error and header fields of the `Reply` are used
(and ``input_tokens`` for count_tokens). A `Reply` with ``status >= 400``
produces the provider's error response (`pytest_llmops.wire.error_content`:
the status's usual message, type and code; without an error message, type or
code, OpenAI's 502 and Anthropic's 502/503 are the edges' HTML / plain-text
pages, as the real services send them); 429 also gets ``retry-after: 1``
(override with ``Reply.headers``, e.g. ``{"retry-after-ms": "10"}`` for fast
SDK retries).
An exception raised by the reply function (or by the server while building
a body) becomes a 500 error whose message names the exception; the traceback
goes to stderr.

The default reply is a deterministic, extractive "model":

1. If the request has tools, ``tool_choice`` is not "none" and the last
   message is a user message (not a tool result), it calls one tool: the tool
   named by ``tool_choice``, else the first one. The arguments fill the first
   required string property with the last user text and every other required
   property with a type default ("", 0, false, [], first enum value, ...).
2. Otherwise it computes an answer:

   * after tool results, the tool-result sentence sharing the most words with
     the last user text (or the start of the tool results);
   * if the last user text contains a question (a line ``Question: ...`` or a
     sentence ending in "?") and some context (other sentences of the user
     text or the system prompt), the context sentence sharing the most
     non-stopword words with the question (the earliest one on ties; at
     least one shared word, else the echo below);
   * else ``"Echo: <last user text>"`` (whitespace collapsed, cut to 50
     words with "...").

3. With a JSON-schema response format (OpenAI ``response_format`` /
   ``text.format``, Anthropic ``output_config.format``) the text is JSON
   that fits the schema: required strings hold the answer, numbers are 0
   (or their minimum), booleans false, arrays empty, enums their first value,
   ``$ref``/``anyOf`` are followed. JSON mode
   (``json_object``) gives ``{"answer": ...}``.
4. If ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` is
   smaller than the answer's word count, the text is cut to that many words
   and the finish reason is "length" (OpenAI), "max_tokens" (Anthropic) or
   status "incomplete" (Responses API).

Token usage defaults to word counts: input tokens are the whitespace-separated
words of the system prompt, all messages and the tool definitions (JSON);
output tokens the words of the text, refusal and tool-call arguments (at least
1 each). Ids in bodies (chatcmpl-..., resp_..., msg_..., call_..., toolu_...)
are derived from a hash of the request, ignoring ``stream`` and
``stream_options`` so that streamed and plain replies share ids; timestamps
are the fixed `CREATED`. Identical requests get identical bodies. Response
headers carry realistic, random per-server/per-response secrets (request ids,
organization ids, Cloudflare cookies) so scrubbing has real things to scrub.
JSON bodies are gzip-compressed when the client accepts gzip; SSE bodies use chunked
transfer encoding.

Run ``python -m pytest_llmops.loopback --port 8765`` to serve until Ctrl-C,
e.g. to record example cassettes by hand; ``--reply MODULE:FUNCTION`` answers
with a reply function of your own (``fn(request, provider) -> Reply | None``).
"""

from __future__ import annotations

import argparse
import base64
import functools
import gzip
import hashlib
import json
import math
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

from . import wire

__all__ = [
    "CREATED",
    "LoopbackProvider",
    "ReceivedRequest",
    "Reply",
    "ReplyFn",
    "ToolCall",
    "default_reply",
    "load_reply",
    "main",
]

CREATED = wire.CREATED
"""Fixed ``created`` / ``created_at`` timestamp used in every body."""

ECHO_WORDS = 50
"""Echo answers are cut to this many words."""

OPENAI = "openai"
ANTHROPIC = "anthropic"


# --------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------


@dataclass
class ToolCall:
    """One tool/function call made by the fake model.

    ``arguments`` may be a dict or a JSON string (Anthropic needs a JSON
    object, so a string that does not parse as one is sent as
    ``{"input": <string>}``). ``id`` defaults to a deterministic
    ``call_...`` (OpenAI) or ``toolu_...`` (Anthropic) id.
    """

    name: str
    arguments: Union[Dict[str, Any], str] = field(default_factory=dict)
    id: Optional[str] = None


@dataclass
class Reply:
    """What the fake model answers; see the module docstring.

    ``finish_reason`` is generic ("stop", "length", "tool_calls",
    "content_filter", "refusal"; provider-native names such as "end_turn" or
    "max_tokens" are accepted too) and mapped to each provider's vocabulary
    (`pytest_llmops.wire.Completion`): "refusal" is OpenAI's "stop" with a
    ``refusal`` and Anthropic's "refusal", "content_filter" OpenAI's
    "content_filter" (Responses API: incomplete) and Anthropic's "refusal".
    None means "tool_calls" when there are tool calls, else "stop", or
    "refusal" when ``refusal`` is set. Anthropic has no refusal field: its
    text block carries the refusal (and ``stop_details.explanation``).
    For ``status >= 400`` the error fields build the provider's error body
    (defaults depend on the status, see `pytest_llmops.wire.error_body`).
    ``error_code`` is OpenAI's ``error.code`` / Anthropic's
    ``error.details.error_code`` (``""``: none), ``error_param`` OpenAI's
    ``error.param``. ``headers`` are added to (and override) the default
    response headers. ``model`` defaults to the request's model.
    """

    text: str = ""
    tool_calls: List[ToolCall] = field(default_factory=list)
    finish_reason: Optional[str] = None
    refusal: Optional[str] = None
    input_tokens: Optional[int] = None
    output_tokens: Optional[int] = None
    status: int = 200
    error_type: Optional[str] = None
    error_message: Optional[str] = None
    error_code: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    model: Optional[str] = None
    error_param: Optional[str] = None


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request as the server received it.

    ``path`` excludes the query string, ``query`` maps each parameter to its
    last value, ``headers`` has lower-case keys, ``json`` is the parsed body
    (None if the body is empty or not JSON) and ``body`` the raw bytes.
    """

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    json: Any
    body: bytes


ReplyFn = Callable[[ReceivedRequest, str], Optional[Reply]]
"""``fn(request, provider) -> Reply | None``; ``provider`` is "openai" or "anthropic"."""


# --------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a an the is are was were be been being am of to in on at for by with and or
    not no it its this that these those what which who whom whose when where why how
    do does did i you he she we they me my your our their as from than then so if
    there here into about can could would should will shall may might must has have
    had please tell""".split()
)
_QUESTION_LINE = re.compile(r"^[ \t]*(?:question|query|q)[ \t]*:[ \t]*(.+?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_CONTEXT_LABEL = re.compile(
    r"^\s*(?:context|documents?|passages?|background|sources?|text|information|facts?|answer)\s*:\s*",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


def _word_count(text: str) -> int:
    return len(text.split())


def _content_words(text: str) -> set:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def _sentences(text: str) -> List[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if s and s.strip()]


def _first_words(text: str, limit: int) -> str:
    """The first ``limit`` words of ``text`` with the original spacing kept."""
    return "".join(wire.split_text(text)[:limit]).strip()


def _truncate_words(text: str, limit: int = ECHO_WORDS) -> str:
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]) + "..."


def _split_question(text: str) -> Optional[Tuple[str, str]]:
    """Split a user text into (context, question), or None without a question."""
    matches = list(_QUESTION_LINE.finditer(text))
    if matches:
        match = matches[-1]
        return text[: match.start()] + text[match.end() :], match.group(1).strip()
    questions = [s for s in _sentences(text) if s.endswith("?")]
    if not questions:
        return None
    question = questions[-1]
    at = text.rfind(question)
    return text[:at] + text[at + len(question) :], question


def _best_sentence(context: str, question: str) -> Optional[str]:
    """The context sentence sharing the most content words with the question."""
    wanted = _content_words(question)
    best: Optional[str] = None
    best_score = 0
    for sentence in _sentences(context):
        sentence = _CONTEXT_LABEL.sub("", sentence).strip()
        if not sentence or sentence.endswith("?"):
            continue
        score = len(wanted & _content_words(sentence))
        if score > best_score:
            best, best_score = sentence, score
    return best


# --------------------------------------------------------------------------
# Deterministic ids
# --------------------------------------------------------------------------


def _request_seed(request: ReceivedRequest) -> str:
    """Seed for body ids: the request minus its streaming flags.

    A streamed and a non-streamed request for the same prompt therefore get
    the same ids, which makes their recordings easy to compare.
    """
    if isinstance(request.json, dict):
        body = {k: v for k, v in request.json.items() if k not in ("stream", "stream_options")}
        content = json.dumps(body, sort_keys=True).encode("utf-8")
    else:
        content = request.body
    return request.method + " " + request.path + "\x00" + hashlib.sha256(content).hexdigest()


# --------------------------------------------------------------------------
# JSON-schema filling (structured outputs and tool arguments)
# --------------------------------------------------------------------------


def _resolve_ref(schema: Dict[str, Any], root: Dict[str, Any]) -> Dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _schema_type(schema: Dict[str, Any]) -> Optional[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "properties" in schema:
        kind = "object"
    return kind


_STRING_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def _fill_schema(schema: Any, text: str, root: Dict[str, Any], depth: int = 0) -> Any:
    """A value valid for ``schema``: strings are ``text``, numbers 0, and so on."""
    if not isinstance(schema, dict) or depth > 12:
        return text
    schema = _resolve_ref(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if isinstance(o, dict) and o.get("type") != "null"), options[0])
            return _fill_schema(chosen, text, root, depth + 1)
    kind = _schema_type(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: _fill_schema(properties.get(name, {}), text, root, depth + 1)
            for name in schema.get("required") or []
        }
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [_fill_schema(schema.get("items", {}), text, root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _fill_number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "string" and schema.get("format") in _STRING_FORMATS:
        return _STRING_FORMATS[schema["format"]]
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if isinstance(min_length, int) and len(text) < min_length:
        text += "x" * (min_length - len(text))
    if isinstance(max_length, int):
        text = text[:max_length]
    return text


def _fill_number(schema: Dict[str, Any], integer: bool) -> Union[int, float]:
    """0, or the smallest allowed value when 0 is out of range."""
    value: Union[int, float] = 0
    minimum, exclusive = schema.get("minimum"), schema.get("exclusiveMinimum")
    if isinstance(minimum, (int, float)) and minimum > value:
        value = minimum
    if isinstance(exclusive, (int, float)) and exclusive >= value:
        value = exclusive + 1
    maximum = schema.get("maximum")
    if isinstance(maximum, (int, float)) and maximum < value:
        value = maximum
    return int(math.ceil(value)) if integer else value


def _tool_arguments(parameters: Dict[str, Any], text: str) -> Dict[str, Any]:
    """Arguments for a default tool call (see the module docstring)."""
    properties = parameters.get("properties") or {}
    arguments: Dict[str, Any] = {}
    text_used = False
    for name in parameters.get("required") or []:
        prop = _resolve_ref(properties.get(name) or {}, parameters)
        is_plain_string = _schema_type(prop) == "string" and not prop.get("enum") and "const" not in prop
        if is_plain_string and not text_used and "format" not in prop:
            arguments[name] = text
            text_used = True
        else:
            arguments[name] = _fill_schema(prop, "", parameters)
    return arguments


# --------------------------------------------------------------------------
# Prompt normalisation: one view of chat / responses / messages requests
# --------------------------------------------------------------------------


@dataclass
class _Turn:
    role: str  # "system", "user", "assistant" or "tool"
    text: str


@dataclass
class _Prompt:
    """The parts of a generation request that the default model looks at."""

    model: str = ""
    system: str = ""
    texts: List[str] = field(default_factory=list)  # everything the model reads
    last_user: str = ""
    last_role: str = ""
    tool_results: List[str] = field(default_factory=list)  # since the last user turn
    tools: List[Tuple[str, Dict[str, Any]]] = field(default_factory=list)
    tool_choice: Optional[str] = None  # None (auto), "none", "required" or a tool name
    max_tokens: Optional[int] = None
    json_schema: Optional[Dict[str, Any]] = None
    json_object: bool = False

    def add_turns(self, turns: List[_Turn]) -> None:
        systems: List[str] = []
        for turn in turns:
            if turn.text:
                self.texts.append(turn.text)
            if turn.role == "system":
                systems.append(turn.text)
                continue
            if turn.role == "tool":
                self.tool_results.append(turn.text)
            elif turn.role == "user":
                self.last_user = turn.text
                self.tool_results = []
            self.last_role = turn.role
        self.system = "\n".join(s for s in systems if s)

    def add_tools(self, tools: List[Tuple[str, Dict[str, Any]]], raw: Any) -> None:
        self.tools = [(name, params if isinstance(params, dict) else {}) for name, params in tools if name]
        if raw:
            self.texts.append(json.dumps(raw))

    def input_tokens(self) -> int:
        return max(1, sum(_word_count(t) for t in self.texts))


def _openai_text(content: Any) -> str:
    """Text of an OpenAI message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _anthropic_text(content: Any) -> str:
    """Text of an Anthropic content (string or list of blocks)."""
    if isinstance(content, str):
        return content
    texts: List[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.append(_anthropic_text(block.get("content")))
        elif block.get("type") == "tool_use":
            texts.append(json.dumps(block.get("input", {})))
    return "\n".join(t for t in texts if t)


def _max_tokens(*values: Any) -> Optional[int]:
    given = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return min(given) if given else None


def _openai_tool_choice(choice: Any) -> Optional[str]:
    if choice in ("none", "required"):
        return choice
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        return name if isinstance(name, str) else None
    return None


def _chat_prompt(body: Dict[str, Any]) -> _Prompt:
    prompt = _Prompt(model=str(body.get("model", "")))
    turns: List[_Turn] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = message.get("role", "user")
        text = _openai_text(message.get("content"))
        if role in ("system", "developer"):
            turns.append(_Turn("system", text))
        elif role in ("tool", "function"):
            turns.append(_Turn("tool", text))
        elif role == "assistant":
            calls = [c.get("function", {}).get("arguments", "") for c in message.get("tool_calls") or []]
            turns.append(_Turn("assistant", "\n".join([text, *calls]).strip()))
        else:
            turns.append(_Turn("user", text))
    prompt.add_turns(turns)
    raw_tools = body.get("tools") or []
    tools = [
        (t.get("function", {}).get("name", ""), t.get("function", {}).get("parameters") or {})
        for t in raw_tools
        if isinstance(t, dict) and t.get("type", "function") == "function"
    ]
    prompt.add_tools(tools, raw_tools)
    prompt.tool_choice = _openai_tool_choice(body.get("tool_choice"))
    prompt.max_tokens = _max_tokens(body.get("max_completion_tokens"), body.get("max_tokens"))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        prompt.json_schema = (response_format.get("json_schema") or {}).get("schema") or {}
    prompt.json_object = response_format.get("type") == "json_object"
    return prompt


def _responses_prompt(body: Dict[str, Any]) -> _Prompt:
    prompt = _Prompt(model=str(body.get("model", "")))
    turns: List[_Turn] = []
    if isinstance(body.get("instructions"), str):
        turns.append(_Turn("system", body["instructions"]))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            role = item.get("role", "user")
            role = "system" if role in ("system", "developer") else role
            turns.append(_Turn(role, _openai_text(item.get("content"))))
        elif kind.endswith("_call_output"):
            turns.append(_Turn("tool", _openai_text(item.get("output"))))
        elif kind.endswith("_call"):
            turns.append(_Turn("assistant", str(item.get("arguments") or item.get("input") or "")))
    prompt.add_turns(turns)
    raw_tools = body.get("tools") or []
    tools = [
        (t.get("name", ""), t.get("parameters") or {})
        for t in raw_tools
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    prompt.add_tools(tools, raw_tools)
    prompt.tool_choice = _openai_tool_choice(body.get("tool_choice"))
    prompt.max_tokens = _max_tokens(body.get("max_output_tokens"))
    text_format = (body.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema":
        prompt.json_schema = text_format.get("schema") or {}
    prompt.json_object = text_format.get("type") == "json_object"
    return prompt


def _anthropic_prompt(body: Dict[str, Any]) -> _Prompt:
    prompt = _Prompt(model=str(body.get("model", "")))
    turns: List[_Turn] = [_Turn("system", _anthropic_text(body.get("system")))]
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            turns.append(_Turn("tool", _anthropic_text(blocks)))
        else:
            turns.append(_Turn(message.get("role", "user"), _anthropic_text(content)))
    prompt.add_turns(turns)
    raw_tools = body.get("tools") or []
    tools = [
        (t.get("name", ""), t.get("input_schema") or {})
        for t in raw_tools
        if isinstance(t, dict) and "input_schema" in t
    ]
    prompt.add_tools(tools, raw_tools)
    choice = body.get("tool_choice") or {}
    prompt.tool_choice = {"none": "none", "any": "required"}.get(choice.get("type"))
    if choice.get("type") == "tool":
        prompt.tool_choice = choice.get("name")
    prompt.max_tokens = _max_tokens(body.get("max_tokens"))
    output_format = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        prompt.json_schema = output_format.get("schema") or {}
    return prompt


def _prompt_for(request: ReceivedRequest) -> Optional[_Prompt]:
    """The prompt of a generation request, or None for other endpoints."""
    body = request.json if isinstance(request.json, dict) else {}
    parsers = {
        "/v1/chat/completions": _chat_prompt,
        "/v1/responses": _responses_prompt,
        "/v1/messages": _anthropic_prompt,
        "/v1/messages/count_tokens": _anthropic_prompt,
    }
    parser = parsers.get(_normalize_path(request.path))
    return parser(body) if parser else None


# --------------------------------------------------------------------------
# The default (extractive) model
# --------------------------------------------------------------------------


def _answer(prompt: _Prompt) -> str:
    if prompt.tool_results and prompt.last_role == "tool":
        context = "\n".join(prompt.tool_results)
        return _best_sentence(context, prompt.last_user) or _truncate_words(context)
    split = _split_question(prompt.last_user)
    if split is not None:
        context, question = split
        best = _best_sentence(prompt.system + "\n" + context, question)
        if best:
            return best
    return ("Echo: " + _truncate_words(prompt.last_user)).strip()


def _default_model(prompt: _Prompt) -> Reply:
    if prompt.tools and prompt.last_role == "user" and prompt.tool_choice != "none":
        names = [name for name, _ in prompt.tools]
        index = names.index(prompt.tool_choice) if prompt.tool_choice in names else 0
        name, parameters = prompt.tools[index]
        return Reply(tool_calls=[ToolCall(name, _tool_arguments(parameters, prompt.last_user))])
    answer = _answer(prompt)
    if prompt.json_schema is not None:
        text = json.dumps(_fill_schema(prompt.json_schema, answer, prompt.json_schema))
    elif prompt.json_object:
        text = json.dumps({"answer": answer})
    else:
        text = answer
    finish = None
    if prompt.max_tokens is not None and _word_count(text) > max(prompt.max_tokens, 1):
        text = _first_words(text, max(prompt.max_tokens, 1))
        finish = "length"
    return Reply(text=text, finish_reason=finish)


def default_reply(request: ReceivedRequest, provider: str) -> Reply:
    """The deterministic reply used when no reply function answers.

    Useful for wrapping: ``server.reply = lambda r, p: tweak(default_reply(r, p))``.
    Non-generation endpoints get a plain ``Reply()``.
    """
    prompt = _prompt_for(request)
    return _default_model(prompt) if prompt is not None else Reply()


# --------------------------------------------------------------------------
# Provider-independent reply helpers
# --------------------------------------------------------------------------

_GENERIC_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "completed": "stop",
    "length": "length",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "incomplete": "length",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "refusal",
}


def _generic_finish(reply: Reply) -> str:
    """The generic finish reason of a reply (unknown values pass through)."""
    if reply.finish_reason:
        return _GENERIC_FINISH.get(reply.finish_reason, reply.finish_reason)
    if reply.tool_calls:
        return "tool_calls"
    return "refusal" if reply.refusal is not None else "stop"


def _arguments_json(call: ToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(call.arguments, separators=(",", ":"), ensure_ascii=False)


def _arguments_dict(call: ToolCall) -> Dict[str, Any]:
    if isinstance(call.arguments, dict):
        return call.arguments
    try:
        value = json.loads(call.arguments)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"input": call.arguments}


def _output_tokens(reply: Reply) -> int:
    if reply.output_tokens is not None:
        return reply.output_tokens
    words = _word_count(reply.text) + _word_count(reply.refusal or "")
    words += sum(_word_count(_arguments_json(call)) for call in reply.tool_calls)
    return max(1, words)


def _input_tokens(reply: Reply, prompt: _Prompt) -> int:
    return reply.input_tokens if reply.input_tokens is not None else prompt.input_tokens()


def _completion(request: ReceivedRequest, reply: Reply, prompt: _Prompt, provider: str) -> wire.Completion:
    """The reply as a `wire.Completion`, with ids derived from the request (see the module docstring)."""
    finish = _generic_finish(reply)
    if reply.refusal is not None and finish == "stop":
        finish = "refusal"
    text: Optional[str] = reply.text
    if provider == ANTHROPIC:  # no refusal field: the text says it; tool input is always an object
        text = reply.text or reply.refusal or ""
        calls = [wire.ToolCall(c.name, json.dumps(_arguments_dict(c), ensure_ascii=False), c.id) for c in reply.tool_calls]
    else:
        calls = [wire.ToolCall(c.name, _arguments_json(c), c.id) for c in reply.tool_calls]
    return wire.Completion(
        model=reply.model or prompt.model,
        text=text,
        tool_calls=calls,
        finish=finish,
        refusal=reply.refusal,
        input_tokens=_input_tokens(reply, prompt),
        output_tokens=_output_tokens(reply),
        seed=_request_seed(request),
    )


Payload = Union[Dict[str, Any], List[bytes]]
"""A handler result: a JSON object, or the frames of an SSE stream."""


# --------------------------------------------------------------------------
# Generation endpoints: bodies and streams come from pytest_llmops.wire
# --------------------------------------------------------------------------


def _openai_chat(request: ReceivedRequest, reply: Reply) -> Payload:
    body: Dict[str, Any] = request.json
    completion = _completion(request, reply, _chat_prompt(body), OPENAI)
    choices = body["n"] if isinstance(body.get("n"), int) and body["n"] > 0 else 1
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return wire.sse_frames("chat", wire.chat_chunks(completion, include_usage, choices))
    return wire.chat_completion(completion, choices)


def _openai_responses(request: ReceivedRequest, reply: Reply) -> Payload:
    body: Dict[str, Any] = request.json
    final = wire.response_object(_completion(request, reply, _responses_prompt(body), OPENAI), body)
    return wire.sse_frames("responses", wire.response_events(final)) if body.get("stream") else final


def _anthropic_messages(request: ReceivedRequest, reply: Reply) -> Payload:
    body: Dict[str, Any] = request.json
    completion = _completion(request, reply, _anthropic_prompt(body), ANTHROPIC)
    return wire.sse_frames("messages", wire.message_events(completion)) if body.get("stream") else wire.message(completion)


# --------------------------------------------------------------------------
# OpenAI: embeddings and models
# --------------------------------------------------------------------------

_EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}


@functools.lru_cache(maxsize=4096)
def _word_vector(word: str, dimensions: int) -> Tuple[float, ...]:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    return tuple(rng.uniform(-1.0, 1.0) for _ in range(dimensions))


def _embed(text: str, dimensions: int) -> List[float]:
    """Normalised sum of per-word pseudo-random vectors (texts sharing words are similar)."""
    total = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()) or [text]:
        for i, value in enumerate(_word_vector(word, dimensions)):
            total[i] += value
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [round(v / norm, 8) for v in total]


def _embedding_inputs(value: Any) -> List[Tuple[str, int]]:
    """Each input as (text, token count); token-id arrays become their digits."""
    if isinstance(value, str) or (isinstance(value, list) and value and isinstance(value[0], int)):
        value = [value]
    inputs: List[Tuple[str, int]] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, list):
            inputs.append((" ".join(str(token) for token in item), len(item)))
        else:
            inputs.append((str(item), _word_count(str(item))))
    return inputs


def _openai_embeddings(request: ReceivedRequest, reply: Reply) -> Payload:
    body: Dict[str, Any] = request.json
    model = reply.model or str(body.get("model", ""))
    dimensions = body.get("dimensions") or _EMBEDDING_DIMENSIONS.get(model, 1536)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    inputs = _embedding_inputs(body.get("input"))
    for index, (text, _) in enumerate(inputs):
        vector: Any = _embed(text, int(dimensions))
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = reply.input_tokens if reply.input_tokens is not None else max(1, sum(n for _, n in inputs))
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


_OPENAI_MODELS = [
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4.1", 1744316542, "system"),
    ("gpt-4.1-mini", 1744318173, "system"),
    ("gpt-5", 1754425777, "system"),
    ("gpt-5-mini", 1754425928, "system"),
    ("o4-mini", 1744225351, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
    ("text-embedding-3-large", 1705953180, "system"),
]


def _openai_model(model_id: str, created: int = CREATED, owner: str = "system") -> Dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owner}


def _openai_models(request: ReceivedRequest, reply: Reply) -> Payload:
    return {"object": "list", "data": [_openai_model(*row) for row in _OPENAI_MODELS]}


def _openai_model_get(request: ReceivedRequest, reply: Reply) -> Payload:
    model_id = request.path.rstrip("/").split("/v1/models/", 1)[1]
    known = {row[0]: row for row in _OPENAI_MODELS}
    return _openai_model(*known.get(model_id, (model_id,)))


# --------------------------------------------------------------------------
# Anthropic: count_tokens and models
# --------------------------------------------------------------------------

def _anthropic_count_tokens(request: ReceivedRequest, reply: Reply) -> Payload:
    prompt = _anthropic_prompt(request.json)
    return {"input_tokens": _input_tokens(reply, prompt)}


_ANTHROPIC_MODELS = [
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
]


def _anthropic_model(model_id: str, name: Optional[str] = None, created: str = "2025-01-01T00:00:00Z") -> Dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": name or model_id,
        "created_at": created,
        "lifecycle": "active",
    }


def _anthropic_models(request: ReceivedRequest, reply: Reply) -> Payload:
    data = [_anthropic_model(*row) for row in _ANTHROPIC_MODELS]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}


def _anthropic_model_get(request: ReceivedRequest, reply: Reply) -> Payload:
    model_id = request.path.rstrip("/").split("/v1/models/", 1)[1]
    known = {row[0]: row for row in _ANTHROPIC_MODELS}
    return _anthropic_model(*known.get(model_id, (model_id,)))


# --------------------------------------------------------------------------
# Routing, authentication and errors
# --------------------------------------------------------------------------

Handler = Callable[[ReceivedRequest, Reply], Payload]


@dataclass(frozen=True)
class _Route:
    provider: str
    method: str
    path: str  # exact path, or a prefix ending in "/" for ".../{id}"
    handler: Handler
    required: Tuple[str, ...] = ()


_ROUTES = [
    _Route(OPENAI, "POST", "/v1/chat/completions", _openai_chat, ("model", "messages")),
    _Route(OPENAI, "POST", "/v1/responses", _openai_responses, ("model",)),
    _Route(OPENAI, "POST", "/v1/embeddings", _openai_embeddings, ("model", "input")),
    _Route(OPENAI, "GET", "/v1/models", _openai_models),
    _Route(OPENAI, "GET", "/v1/models/", _openai_model_get),
    _Route(ANTHROPIC, "POST", "/v1/messages", _anthropic_messages, ("model", "max_tokens", "messages")),
    _Route(ANTHROPIC, "POST", "/v1/messages/count_tokens", _anthropic_count_tokens, ("model", "messages")),
    _Route(ANTHROPIC, "GET", "/v1/models", _anthropic_models),
    _Route(ANTHROPIC, "GET", "/v1/models/", _anthropic_model_get),
]


def _normalize_path(path: str) -> str:
    return path.rstrip("/") or "/"


def _find_route(provider: str, method: str, path: str) -> Optional[_Route]:
    path = _normalize_path(path)
    for route in _ROUTES:
        if route.provider != provider or route.method != method:
            continue
        if route.path == path or (route.path.endswith("/") and path.startswith(route.path)):
            return route
    return None


def _detect_provider(request: ReceivedRequest) -> str:
    if request.path.startswith("/v1/messages"):
        return ANTHROPIC
    if "anthropic-version" in request.headers or "x-api-key" in request.headers:
        return ANTHROPIC
    return OPENAI


def _bearer_token(headers: Dict[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _auth_error(request: ReceivedRequest, provider: str) -> Optional[Reply]:
    """A 401 reply if the request lacks credentials, else None."""
    if provider == OPENAI:
        if _bearer_token(request.headers):
            return None
        if "authorization" not in request.headers:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
                "(with blank username) if you're accessing the API from your browser and are prompted for a "
                "username and password. You can obtain an API key from https://platform.openai.com/account/api-keys."
            )
        else:
            message = (
                "Incorrect API key provided: ''. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
        return Reply(status=401, error_message=message)
    if request.headers.get("x-api-key", "").strip() or _bearer_token(request.headers):
        return None
    return Reply(status=401, error_message="x-api-key header is required")


def _validation_error(request: ReceivedRequest, route: _Route, provider: str) -> Optional[Reply]:
    """A 400 reply for an unparsable body or missing required fields, else None."""
    if route.method != "POST":
        return None
    if not isinstance(request.json, dict):
        if provider == OPENAI:
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
            )
        else:
            message = "There was an issue with your request body. Please check that it is valid JSON."
        return Reply(status=400, error_message=message)
    for name in route.required:
        if name not in request.json:
            if provider == OPENAI:
                return Reply(
                    status=400,
                    error_message=f"Missing required parameter: '{name}'.",
                    error_code="missing_required_parameter",
                    error_param=name,
                )
            return Reply(status=400, error_message=f"{name}: Field required")
    return None


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    headers: List[Tuple[str, str]]
    body: bytes = b""
    frames: Optional[List[bytes]] = None  # SSE frames, sent with chunked encoding


def _accepts_gzip(headers: Dict[str, str]) -> bool:
    for item in headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], provider: "LoopbackProvider") -> None:
        self.provider = provider
        self.open_connections: set = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def close_open_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY,
        # Nagle's algorithm plus delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def send_response(self, code: int, message: Optional[str] = None) -> None:
        # Like the stdlib's, without its Server header: the provider's headers carry one.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the stdlib
        if self.server.provider.log:
            sys.stderr.write(f"[loopback] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _received(self) -> ReceivedRequest:
        body = self._read_body()
        parts = urlsplit(self.path)
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        return ReceivedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            json=parsed,
            body=body,
        )

    def _handle(self) -> None:
        request = self._received()
        response = self.server.provider._respond(request)
        try:
            self._send(response, _accepts_gzip(request.headers))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, response: _Response, gzip_ok: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.frames is None:
            body = response.body
            if gzip_ok and body:
                body = gzip.compress(body, mtime=0)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for frame in response.frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        self.wfile.write(b"0\r\n\r\n")


class LoopbackProvider:
    """A fake OpenAI + Anthropic server on 127.0.0.1 (see the module docstring).

    Use as a context manager, or call `start` / `stop`. ``reply`` (also
    settable as the attribute ``server.reply``) decides the answers; every
    request lands in ``server.requests``.
    """

    def __init__(
        self,
        reply: Optional[ReplyFn] = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: bool = False,
    ) -> None:
        self.reply: Optional[ReplyFn] = reply
        self.host = host
        self.port = port
        self.log = log
        self.requests: List[ReceivedRequest] = []
        self.openai_organization = wire.openai_organization_id()
        self.openai_project = wire.openai_project_id()
        self.anthropic_organization_id = wire.anthropic_organization_id()
        self._lock = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "LoopbackProvider":
        """Bind the socket and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llmops-loopback-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "LoopbackProvider":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"<LoopbackProvider {state} requests={len(self.requests)}>"

    # -- addresses ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while started)."""
        if self._server is None:
            raise RuntimeError("LoopbackProvider is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Pass as ``OpenAI(base_url=...)``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Pass as ``Anthropic(base_url=...)``."""
        return self.url

    # -- request handling ----------------------------------------------------

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _choose_reply(self, request: ReceivedRequest, provider: str) -> Reply:
        """The reply function's answer, else the default reply."""
        reply_fn = self.reply
        reply = None
        if reply_fn is not None:
            try:
                reply = reply_fn(request, provider)
            except Exception as exc:  # report a broken reply function to the client
                traceback.print_exc()
                return Reply(status=500, error_message=f"loopback reply function raised {exc!r}")
        return reply if reply is not None else default_reply(request, provider)

    def _identity(self, provider: str) -> Dict[str, Any]:
        """This server's account, as `wire.provider_headers` takes it."""
        if provider == OPENAI:
            organization, project = self.openai_organization, self.openai_project
        else:
            organization, project = self.anthropic_organization_id, None
        return {"organization": organization, "project": project, "cookie_domain": self.host}

    def _respond(self, request: ReceivedRequest) -> _Response:
        """Turn one request into a response (everything except socket I/O)."""
        self._record(request)
        provider = _detect_provider(request)
        request_id = wire.openai_request_id() if provider == OPENAI else wire.anthropic_request_id()
        try:
            return self._route(request, provider, request_id)
        except Exception as exc:  # a bug or an odd request body must not kill the connection
            traceback.print_exc()
            reply = Reply(status=500, error_message=f"loopback server failed: {exc!r}")
            return self._error_response(request, provider, reply, request_id)

    def _route(self, request: ReceivedRequest, provider: str, request_id: str) -> _Response:
        route = _find_route(provider, request.method, request.path)
        if route is None:
            message = f"Invalid URL ({request.method} {request.path})" if provider == OPENAI else "Not Found"
            return self._error_response(request, provider, Reply(status=404, error_message=message, error_code=""), request_id)
        reply = _auth_error(request, provider) or _validation_error(request, route, provider)
        if reply is None:
            reply = self._choose_reply(request, provider)
        if reply.status >= 400:
            return self._error_response(request, provider, reply, request_id)

        payload = route.handler(request, reply)
        stream = isinstance(payload, list)
        headers = wire.merge_headers(
            wire.success_headers(provider, request_id, stream, **self._identity(provider)), reply.headers
        )
        if isinstance(payload, list):
            return _Response(reply.status, headers, frames=payload)
        return _Response(reply.status, headers, body=json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def _error_response(self, request: ReceivedRequest, provider: str, reply: Reply, request_id: str) -> _Response:
        """The provider's error response for ``reply`` (see `pytest_llmops.wire.error_content`)."""
        identity = self._identity(provider)
        model = request.json.get("model") if isinstance(request.json, dict) else None
        content_type, body = wire.error_content(
            provider,
            reply.status,
            message=reply.error_message,
            type=reply.error_type,
            code=reply.error_code,
            param=reply.error_param,
            request_id=request_id,
            model=model if isinstance(model, str) else "the model",
            organization=identity["organization"],
        )
        extra = {"retry-after": "1"} if reply.status == 429 else {}
        extra.update((name.lower(), value) for name, value in reply.headers.items())
        headers = wire.error_headers(provider, reply.status, request_id, content_type, extra, **identity)
        return _Response(reply.status, headers, body=body)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def load_reply(spec: str) -> ReplyFn:
    """``"module:function"`` -> the reply function (the current directory is importable)."""
    import importlib
    import os

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise ValueError("expected MODULE:FUNCTION, e.g. loopback_model:reply")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    target: Any = importlib.import_module(module_name.strip())
    for part in attribute.strip().split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{attribute} in {module_name} is not callable")
    return target  # type: ignore[no-any-return]


def main(argv: Optional[List[str]] = None) -> int:
    """Serve until Ctrl-C: ``python -m pytest_llmops.loopback --port 8765``."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_llmops.loopback",
        description="Serve the pytest-llmops fake OpenAI/Anthropic API on the loopback interface.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind, 0 for any (default: 8765)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument(
        "--reply",
        metavar="MODULE:FUNCTION",
        help="answer with FUNCTION(request, provider) -> Reply | None from MODULE (importable from the "
        "current directory); None falls back to the default reply",
    )
    args = parser.parse_args(argv)
    reply: Optional[ReplyFn] = None
    if args.reply:
        try:
            reply = load_reply(args.reply)
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            parser.error(f"--reply {args.reply}: {exc}")

    # Stop cleanly on Ctrl-C and on `kill` (SIGINT is ignored in background jobs of non-interactive shells).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = LoopbackProvider(reply, host=args.host, port=args.port, log=not args.quiet).start()
    print(f"pytest-llmops loopback provider listening on {server.url}")
    if args.reply:
        print(f"  replies:   {args.reply}")
    print(f"  OpenAI:    OPENAI_BASE_URL={server.openai_base_url}")
    print(f"  Anthropic: ANTHROPIC_BASE_URL={server.anthropic_base_url}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
