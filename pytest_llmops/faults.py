"""Fault injection: the next provider calls fail the way OpenAI and Anthropic really fail.

``Faults`` holds a queue of pending faults. Hooked into the test's transport
(``Interceptor.before_request``), it answers the next matching HTTP attempts itself, in the provider's
wire format, so the real SDK runs its real code: status errors with the provider's body, headers and
request id; ``httpx2`` timeouts and connection resets raised from the transport; 200 responses whose
SSE stream breaks off; complete, valid 200 bodies carrying a truncation, malformed JSON or a refusal.
Each HTTP attempt consumes one use of a fault, so ``rate_limit(times=2)`` fails the first call and
its first retry, and the SDK's second retry goes through to the cassette (or the live provider).

Faulted attempts are not recorded and do not consume replay positions. While a ``Faults`` is attached,
a retry that follows an injected fault waits 0 s; the wait the SDK asked for is kept in ``waits``.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import wire
from .cassette import provider_of

if TYPE_CHECKING:
    import httpx2
    import pytest

    from .transport import Interceptor

__all__ = ["Faults", "FaultRecord", "FAULT_KINDS", "MALFORMED_STYLES"]

MALFORMED_STYLES = (
    "trailing_prose",
    "leading_prose",
    "fenced",
    "single_quotes",
    "unescaped_newline",
    "truncated",
    "trailing_comma",
    "python_literals",
)

#: Names accepted by ``Faults.inject`` and the ``llm_faults`` marker.
FAULT_KINDS = (
    "rate_limit",
    "overloaded",
    "server_error",
    "bad_gateway",
    "service_unavailable",
    "timeout",
    "connection_reset",
    "stream_cut",
    "truncated",
    "malformed_json",
    "refusal",
    "context_length",
    "error",
    "respond",
)

_DEFAULT_TEXT = ("Here is a complete answer to your question, with every detail you asked for, "
                 "written out in full so that nothing is missing at the end.")
_CUT_TEXT = "The answer to your question is a long one, and the model ran out of tokens before it could fin"
_REFUSAL = "I'm sorry, but I can't help with that."
_STREAM_CUT_ERROR = "peer closed connection without sending complete message body (incomplete chunked read)"


# -- the intercepted call --------------------------------------------------------------------------
@dataclass
class Call:
    """One HTTP attempt as a fault sees it."""

    request: httpx2.Request
    provider: str  # "openai" | "anthropic"
    endpoint: str | None  # "chat" | "responses" | "messages" | None
    body: dict[str, Any]

    @classmethod
    def of(cls, request: httpx2.Request, provider: str) -> Call:
        try:
            body = json.loads(request.read() or b"{}")
        except ValueError:
            body = {}
        return cls(request, provider, wire.endpoint_of(request.method, str(request.url)),
                   body if isinstance(body, dict) else {})

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else "gpt-4o-mini" if self.provider == "openai" else "claude-sonnet-5-5"

    def request_id(self) -> str:
        return wire.anthropic_request_id() if self.provider == "anthropic" else wire.openai_request_id()

    # What the request asks for: JSON output, a forced tool call.
    def json_schema(self) -> tuple[bool, Any]:
        """(JSON output requested, its schema or None)."""
        body = self.body
        if self.endpoint == "chat":
            fmt = body.get("response_format") or {}
            if fmt.get("type") == "json_schema":
                return True, (fmt.get("json_schema") or {}).get("schema")
            return fmt.get("type") == "json_object", None
        if self.endpoint == "responses":
            fmt = (body.get("text") or {}).get("format") or {}
            return fmt.get("type") in ("json_schema", "json_object"), fmt.get("schema")
        fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
        return fmt.get("type") == "json_schema", fmt.get("schema")

    def tools(self) -> list[tuple[str, Any]]:
        """(name, parameters schema) of each function tool of the request."""
        found: list[tuple[str, Any]] = []
        for tool in self.body.get("tools") or []:
            if not isinstance(tool, dict):
                continue
            if self.endpoint == "chat" and isinstance(tool.get("function"), dict):
                found.append((tool["function"].get("name", "tool"), tool["function"].get("parameters")))
            elif self.endpoint == "responses" and tool.get("type") == "function":
                found.append((tool.get("name", "tool"), tool.get("parameters")))
            elif self.endpoint == "messages" and "name" in tool:
                found.append((tool["name"], tool.get("input_schema")))
        return found

    def forced_tool(self) -> tuple[str, Any] | None:
        """The tool the request forces the model to call (tool_choice required/any/named), if any."""
        tools = self.tools()
        if not tools:
            return None
        choice = self.body.get("tool_choice")
        named = None
        if isinstance(choice, dict):
            named = choice.get("name") or (choice.get("function") or {}).get("name")
            if not named and choice.get("type") not in ("any", "required"):
                return None
        elif choice not in ("required", "any"):
            return None
        for name, schema in tools:
            if named in (None, name):
                return name, schema
        return tools[0]

    def first_tool(self) -> tuple[str, Any] | None:
        tools = self.tools()
        return tools[0] if tools else None


@dataclass(frozen=True)
class FaultRecord:
    """One provider HTTP attempt seen while faults were attached."""

    fault: str | None  # the fault served, or None if the attempt went through
    provider: str
    method: str
    url: str
    outcome: str  # "429", "ReadTimeout", "200 stream cut", "passed through", ...


@dataclass
class _Fault:
    kind: str
    times: int
    provider: str | None
    build: Callable[[Call], httpx2.Response]
    generation_only: bool = False  # needs a chat/responses/messages call (content faults)
    used: int = 0

    def matches(self, provider: str, endpoint: str | None) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return endpoint is not None or not self.generation_only

    def describe(self) -> str:
        where = f" ({self.provider})" if self.provider else ""
        return f"{self.kind} x{self.times - self.used}{where}"


# -- response bodies -------------------------------------------------------------------------------
def _byte_stream_class() -> type:
    import httpx2

    class FaultStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
        """A response body served chunk by chunk, optionally breaking off with a transport error."""

        def __init__(self, chunks: list[bytes], error: Callable[[], BaseException] | None) -> None:
            self.chunks = chunks
            self.error = error

        def __iter__(self) -> Iterator[bytes]:
            yield from self.chunks
            if self.error is not None:
                raise self.error()

        async def __aiter__(self) -> Any:
            for chunk in self.chunks:
                yield chunk
            if self.error is not None:
                raise self.error()

    return FaultStream


_STREAM_CLASS: type | None = None


def _response(call: Call, status: int, headers: list[tuple[str, str]], chunks: list[bytes],
              error: Callable[[], BaseException] | None = None) -> httpx2.Response:
    import httpx2

    global _STREAM_CLASS
    if _STREAM_CLASS is None:
        _STREAM_CLASS = _byte_stream_class()
    if error is None and len(chunks) <= 1:
        return httpx2.Response(status, headers=headers, content=b"".join(chunks), request=call.request)
    return httpx2.Response(status, headers=headers, stream=_STREAM_CLASS(chunks, error), request=call.request)


def _cut_error(call: Call) -> Callable[[], BaseException]:
    import httpx2

    return lambda: httpx2.RemoteProtocolError(_STREAM_CUT_ERROR, request=call.request)


def _error(call: Call, status: int, *, message: str | None = None, type: str | None = None,
           code: str | None = None, param: str | None = None, headers: dict[str, str] | None = None,
           wait: str = "1s") -> httpx2.Response:
    request_id = call.request_id()
    content_type, body = wire.error_content(call.provider, status, message=message, type=type, code=code,
                                            param=param, request_id=request_id, model=call.model, wait=wait)
    return _response(call, status, wire.error_headers(call.provider, status, request_id, content_type, headers),
                     [body])


def _success(call: Call, completion: wire.Completion) -> tuple[list[tuple[str, str]], list[dict[str, Any]] | dict[str, Any]]:
    """Headers, and the body (a dict) or the stream events (a list) answering ``call`` with ``completion``."""
    completion.model = call.model
    headers = wire.success_headers(call.provider, call.request_id(), call.stream)
    if call.endpoint == "chat":
        if call.stream:
            include_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
            return headers, wire.chat_chunks(completion, include_usage)
        return headers, wire.chat_completion(completion)
    if call.endpoint == "responses":
        final = wire.response_object(completion, call.body)
        return headers, wire.response_events(final) if call.stream else final
    return headers, wire.message_events(completion) if call.stream else wire.message(completion)


def _serve(call: Call, completion: wire.Completion) -> httpx2.Response:
    headers, payload = _success(call, completion)
    if isinstance(payload, list):
        return _response(call, 200, headers, wire.sse_frames(call.endpoint or "messages", payload))
    return _response(call, 200, headers, [json.dumps(payload).encode("utf-8")])


def _sample_document(schema: Any, text: str) -> dict[str, Any]:
    return {wire.first_property(schema): text}


def malform(document: dict[str, Any], style: str) -> str:
    """``document`` as a model breaks it: JSON that ``json.loads`` rejects, in one of ``MALFORMED_STYLES``."""
    text = json.dumps(document, ensure_ascii=False)
    if style == "trailing_prose":
        return text + "\n\nLet me know if you need anything else!"
    if style == "leading_prose":
        return "Sure! Here is the JSON you asked for:\n" + text
    if style == "fenced":
        return "```json\n" + json.dumps(document, indent=2, ensure_ascii=False) + "\n```"
    if style == "single_quotes":
        return repr(_as_python(document))
    if style == "unescaped_newline":
        return _with_raw_newline(document)
    if style == "truncated":
        return text[: max(1, (len(text) * 2) // 3)]
    if style == "trailing_comma":
        return text[:-1] + ",}" if text.endswith("}") else text[:-1] + ",]"
    if style == "python_literals":
        return repr({**_as_python(document), "verified": True, "source": None})
    raise ValueError(f"unknown malformed JSON style {style!r}; expected one of: {', '.join(MALFORMED_STYLES)}")


def _as_python(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_python(v) for v in value]
    return value


def _with_raw_newline(document: dict[str, Any]) -> str:
    parts = []
    for key, value in document.items():
        if isinstance(value, str):
            words = value.split(" ")
            middle = max(1, len(words) // 2)
            value_text = " ".join(words[:middle]) + "\n" + " ".join(words[middle:])
            rendered = '"' + value_text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            rendered = json.dumps(value)
        parts.append(json.dumps(key) + ": " + rendered)
    if not any(isinstance(v, str) for v in document.values()):
        parts.append('"note": "first line\nsecond line"')
    return "{" + ", ".join(parts) + "}"


# -- the queue -------------------------------------------------------------------------------------
class Faults:
    """Pending provider faults for one test; see the module docstring and ``docs/faults.md``.

    Every method schedules a fault for the next ``times`` matching HTTP attempts (retries included)
    and returns the ``Faults`` object, so calls chain in order: ``llm_faults.timeout().rate_limit(2)``.
    ``provider="openai"`` / ``"anthropic"`` limits a fault to one provider's calls.
    """

    def __init__(self) -> None:
        self._queue: list[_Fault] = []
        self._lock = threading.Lock()
        self._after_fault: contextvars.ContextVar[bool] = contextvars.ContextVar("llm_faults_after_fault",
                                                                                 default=False)
        self._previous: Callable[[httpx2.Request], httpx2.Response | None] | None = None
        self._interceptor: Interceptor | None = None
        #: Every provider HTTP attempt seen while attached, in order (faulted or passed through).
        self.history: list[FaultRecord] = []
        #: The retry waits (seconds) the SDKs asked for after injected faults; none were slept.
        self.waits: list[float] = []

    # -- state ---------------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Provider HTTP attempts made while attached (SDK retries count: 1 call + 2 retries = 3)."""
        return len(self.history)

    @property
    def faulted(self) -> int:
        """Attempts answered with an injected fault."""
        return sum(1 for record in self.history if record.fault is not None)

    @property
    def pending(self) -> int:
        """Fault uses not yet consumed."""
        with self._lock:
            return sum(f.times - f.used for f in self._queue)

    def describe_pending(self) -> str:
        with self._lock:
            return ", ".join(f.describe() for f in self._queue)

    def clear(self) -> Faults:
        """Drop every pending fault."""
        with self._lock:
            self._queue.clear()
        return self

    def __repr__(self) -> str:
        pending = self.describe_pending() or "none"
        return f"<Faults pending: {pending}; calls={self.calls}, faulted={self.faulted}>"

    def unserved_message(self) -> str | None:
        """Why a passing test fails when faults are left: they were scheduled, never served (None if
        every fault was served)."""
        if not self.pending:
            return None
        return (
            f"pytest-llmops: the test passed, but {self.pending} injected fault(s) were never served: "
            f"{self.describe_pending()}.\nThe code under test made fewer provider calls than faults were "
            f"scheduled ({self.calls} call(s) seen), so those failure paths were not exercised. Lower `times`, "
            f"or call llm_faults.clear() once the faults are no longer wanted."
        )

    # -- scheduling ----------------------------------------------------------------------------
    @classmethod
    def from_markers(cls, item: Any) -> Faults:
        """The faults of a test's ``llm_faults`` markers, applied in order: module, class, then the
        test's, each top to bottom. A bad marker raises ValueError naming it."""
        import pytest

        faults = cls()
        for node in item.listchain():
            own = [mark for mark in getattr(node, "own_markers", []) if mark.name == "llm_faults"]
            for marker in own if isinstance(node, pytest.Module) else reversed(own):  # decorators apply bottom-up
                try:
                    faults.inject(*marker.args, **marker.kwargs)
                except (TypeError, ValueError) as exc:
                    arguments = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
                    raise ValueError(f"@pytest.mark.llm_faults({arguments}): {exc}") from None
        return faults

    def _add(self, kind: str, times: int, provider: str | None, build: Callable[[Call], httpx2.Response],
             generation_only: bool = False) -> Faults:
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError(f"llm_faults.{kind}(times={times!r}): times must be an integer >= 1")
        if provider not in (None, "openai", "anthropic"):
            raise ValueError(f"llm_faults.{kind}(provider={provider!r}): expected 'openai', 'anthropic' or None")
        with self._lock:
            self._queue.append(_Fault(kind, times, provider, build, generation_only))
        return self

    def inject(self, kind: str, *args: Any, **kwargs: Any) -> Faults:
        """Schedule a fault by name (what the ``llm_faults`` marker calls): ``inject("rate_limit", times=2)``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of: {', '.join(FAULT_KINDS)}")
        method: Callable[..., Faults] = getattr(self, kind)
        return method(*args, **kwargs)

    def rate_limit(self, times: int = 1, *, retry_after: float | None = 1, retry_after_ms: float | None = None,
                   provider: str | None = None) -> Faults:
        """HTTP 429 (OpenAI ``rate_limit_exceeded``, Anthropic ``rate_limit_error``) with ``retry-after``
        (seconds) and/or ``retry-after-ms``; None leaves a header out. SDK: ``RateLimitError``."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = _number(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = _number(retry_after_ms)
        wait = f"{_number(retry_after_ms)}ms" if retry_after_ms is not None else f"{_number(retry_after or 1)}s"
        return self._add("rate_limit", times, provider, lambda call: _error(call, 429, headers=headers, wait=wait))

    def overloaded(self, times: int = 1, *, mid_stream: bool = False, provider: str | None = None) -> Faults:
        """The provider is overloaded: Anthropic HTTP 529 ``overloaded_error`` (``OverloadedError``); OpenAI,
        which has no 529, HTTP 503 "The engine is currently overloaded" (``InternalServerError``).

        ``mid_stream=True``: on a streamed call, a 200 stream that starts, then carries the error event
        (Anthropic ``event: error`` overloaded_error, raised as ``APIStatusError`` with status 200; OpenAI
        chat ``data: {"error": ...}``, raised as ``APIError``; Responses API ``error`` + ``response.failed``
        events). Non-streamed calls get the HTTP error."""

        def build(call: Call) -> httpx2.Response:
            if mid_stream and call.stream and call.endpoint is not None:
                return _mid_stream_error(call)
            if call.provider == "anthropic":
                return _error(call, 529)
            return _error(call, 503, message="The engine is currently overloaded, please try again later.")

        return self._add("overloaded", times, provider, build)

    def server_error(self, times: int = 1, *, status: int = 500, provider: str | None = None) -> Faults:
        """HTTP 5xx in the provider's format (500 by default). SDK: ``InternalServerError`` (Anthropic
        503: ``ServiceUnavailableError``, 504: ``GatewayTimeoutError``)."""
        if not 500 <= status <= 599:
            raise ValueError(f"llm_faults.server_error(status={status}): expected a 5xx status")
        return self._add("server_error", times, provider, lambda call: _error(call, status))

    def bad_gateway(self, times: int = 1, *, provider: str | None = None) -> Faults:
        """HTTP 502 from the provider's edge: Cloudflare's HTML page, not JSON. SDK: ``InternalServerError``."""
        return self._add("bad_gateway", times, provider, lambda call: _error(call, 502))

    def service_unavailable(self, times: int = 1, *, provider: str | None = None) -> Faults:
        """HTTP 503: OpenAI's JSON ``server_error``; Anthropic's edge (Envoy) plain-text "upstream connect
        error". SDK: openai ``InternalServerError``, anthropic ``ServiceUnavailableError``."""
        return self._add("service_unavailable", times, provider, lambda call: _error(call, 503))

    def timeout(self, times: int = 1, *, provider: str | None = None) -> Faults:
        """The response never comes: ``httpx2.ReadTimeout`` from the transport. SDK: ``APITimeoutError``."""
        import httpx2

        def build(call: Call) -> httpx2.Response:
            raise httpx2.ReadTimeout("The read operation timed out", request=call.request)

        return self._add("timeout", times, provider, build)

    def connection_reset(self, times: int = 1, *, provider: str | None = None) -> Faults:
        """The peer resets the connection: ``httpx2.ReadError`` (ECONNRESET). SDK: ``APIConnectionError``."""
        import httpx2

        def build(call: Call) -> httpx2.Response:
            raise httpx2.ReadError("[Errno 104] Connection reset by peer", request=call.request)

        return self._add("connection_reset", times, provider, build)

    def stream_cut(self, times: int = 1, *, after: int | None = None, abrupt: bool = True,
                   text: str | None = None, provider: str | None = None) -> Faults:
        """A 200 stream that ends before its final event (no finish chunk, ``[DONE]``, ``message_stop`` or
        ``response.completed``). ``after``: events delivered first (default: half of them).

        ``abrupt=True`` (default): the connection drops, ``httpx2.RemoteProtocolError`` mid-body (OpenAI
        raises ``APIConnectionError``; Anthropic lets the ``httpx2`` error through). ``abrupt=False``: the
        body ends cleanly and the SDKs end the stream without an error, finish/stop reason ``None``.
        A non-streamed call gets a body that breaks off (a connection error, retried by the SDK)."""

        def build(call: Call) -> httpx2.Response:
            headers, payload = _success(call, _whole_answer(call, text))
            if not isinstance(payload, list):
                data = json.dumps(payload).encode("utf-8")
                return _response(call, 200, headers, [data[: len(data) // 2]], _cut_error(call))
            keep = _cut_point(call.endpoint, payload, after)
            frames = wire.sse_frames(call.endpoint or "messages", payload[:keep], done=False)
            return _response(call, 200, headers, frames, _cut_error(call) if abrupt else None)

        return self._add("stream_cut", times, provider, build, generation_only=True)

    def truncated(self, times: int = 1, *, text: str | None = None, provider: str | None = None) -> Faults:
        """A complete 200 whose answer hit the token limit: OpenAI ``finish_reason: "length"`` (Responses
        API: ``status: "incomplete"``, ``max_output_tokens``), Anthropic ``stop_reason: "max_tokens"``.
        The text is cut mid-word; cut JSON when the request asks for JSON; cut tool arguments when it
        forces a tool call. ``chat.completions.parse`` raises ``LengthFinishReasonError``."""

        def build(call: Call) -> httpx2.Response:
            return _serve(call, _content_completion(call, "length", text, lambda doc: malform(doc, "truncated"),
                                                    cut=True))

        return self._add("truncated", times, provider, build, generation_only=True)

    def malformed_json(self, times: int = 1, *, style: str = "trailing_prose", text: str | None = None,
                       target: str = "auto", provider: str | None = None) -> Faults:
        """A complete 200 (finish reason stop) whose JSON does not parse, broken the way models break it:
        ``style`` in ``MALFORMED_STYLES`` (or your own ``text``). ``target``: "content", "tool_call", or
        "auto" (the tool call when the request forces one, else the content). Anthropic's non-streamed
        tool input is an object on the wire and cannot be malformed: there the text goes in a text block."""
        if style not in MALFORMED_STYLES:
            raise ValueError(f"llm_faults.malformed_json(style={style!r}): expected one of: {', '.join(MALFORMED_STYLES)}")
        if target not in ("auto", "content", "tool_call"):
            raise ValueError(f"llm_faults.malformed_json(target={target!r}): expected 'auto', 'content' or 'tool_call'")

        def build(call: Call) -> httpx2.Response:
            return _serve(call, _content_completion(call, "stop", text, lambda doc: malform(doc, style),
                                                    target=target, json_always=True))

        return self._add("malformed_json", times, provider, build, generation_only=True)

    def refusal(self, times: int = 1, *, message: str = _REFUSAL, content_filter: bool = False,
                provider: str | None = None) -> Faults:
        """A safety refusal in a 200: OpenAI ``message.refusal`` (Responses API: a ``refusal`` content
        part), Anthropic ``stop_reason: "refusal"``. ``content_filter=True``: OpenAI ``finish_reason:
        "content_filter"`` instead (``parse`` raises ``ContentFilterFinishReasonError``)."""

        def build(call: Call) -> httpx2.Response:
            if call.provider == "anthropic":  # one way to refuse: stop_reason "refusal"
                completion = wire.Completion(text="", finish="refusal")
            elif content_filter:
                completion = wire.Completion(text="", finish="content_filter")
            else:
                completion = wire.Completion(text=None, refusal=message, finish="refusal")
            return _serve(call, completion)

        return self._add("refusal", times, provider, build, generation_only=True)

    def context_length(self, times: int = 1, *, provider: str | None = None) -> Faults:
        """HTTP 400, the prompt is longer than the model's context window (OpenAI
        ``context_length_exceeded``; Anthropic "prompt is too long"). SDK: ``BadRequestError``."""

        def build(call: Call) -> httpx2.Response:
            if call.provider == "anthropic":
                return _error(call, 400, message="prompt is too long: 215431 tokens > 200000 maximum")
            return _error(call, 400, code="context_length_exceeded", param="messages",
                          message="This model's maximum context length is 128000 tokens. However, your messages "
                                  "resulted in 131072 tokens. Please reduce the length of the messages.")

        return self._add("context_length", times, provider, build)

    def error(self, status: int, times: int = 1, *, message: str | None = None, type: str | None = None,
              code: str | None = None, headers: dict[str, str] | None = None, provider: str | None = None) -> Faults:
        """Any HTTP error status in the provider's format (400, 401, 403, 404, 409, 422, ...): the default
        message and type are the provider's for that status; ``code`` is OpenAI's ``error.code`` /
        Anthropic's ``error.details.error_code``."""
        if not 400 <= status <= 599:
            raise ValueError(f"llm_faults.error({status}): expected an HTTP error status (400-599)")
        return self._add("error", times, provider,
                         lambda call: _error(call, status, message=message, type=type, code=code, headers=headers))

    def respond(self, body: Any, *, status: int | None = None, headers: dict[str, str] | None = None,
                times: int = 1, provider: str | None = None) -> Faults:
        """Serve ``body`` as the provider's response: a dict as JSON, a list of events as an SSE stream
        framed for the endpoint (Chat Completions ``data:`` lines and ``[DONE]``; Responses API and
        Anthropic named events), str/bytes as they are. Also takes a ``wire.ProviderResponse`` (what
        the error strategies generate). ``status`` defaults to 200."""
        def build(call: Call) -> httpx2.Response:
            payload, code, extra = body, status, dict(headers or {})
            if isinstance(body, wire.ProviderResponse):
                payload = body.body
                code = body.status if status is None else status
                extra = {**dict(body.headers), **extra}
            code = 200 if code is None else code
            request_id = call.request_id()
            if code >= 400:
                base = wire.error_headers(call.provider, code, request_id,
                                          "application/json" if isinstance(payload, dict) else "text/plain", extra)
            else:
                base = wire.success_headers(call.provider, request_id, isinstance(payload, list))
                names = {k.lower() for k in extra}
                base = [(k, v) for k, v in base if k not in names] + [(k.lower(), str(v)) for k, v in extra.items()]
            if isinstance(payload, list):
                frames = wire.sse_frames(call.endpoint or ("messages" if call.provider == "anthropic" else "chat"),
                                         payload)
                return _response(call, code, base, frames)
            if isinstance(payload, (dict, int, float, bool)) or payload is None:
                data = json.dumps(payload).encode("utf-8")
            else:
                data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
            return _response(call, code, base, [data])

        return self._add("respond", times, provider, build)

    def transport(self) -> httpx2.MockTransport:
        """An in-memory ``httpx2`` transport serving this object's faults, for code outside a test's
        cassette (e.g. a Hypothesis test feeding generated bodies to an SDK client):
        ``openai.OpenAI(api_key="x", http_client=httpx2.Client(transport=faults.transport()))``.
        A request with no fault pending raises ``LLMOpsError``. Retry waits are not patched here:
        build the client with ``max_retries=0`` or use the ``llm_faults`` fixture."""
        import httpx2

        from .errors import LLMOpsError, sdk_compatible

        def handler(request: httpx2.Request) -> httpx2.Response:
            response = self.intercept(request)
            if response is None:
                raise sdk_compatible(LLMOpsError, f"pytest-llmops: no fault pending for {request.method} "
                                                  f"{request.url}; schedule one (e.g. faults.respond(body)) first.")
            return response

        return httpx2.MockTransport(handler)

    # -- serving -------------------------------------------------------------------------------
    def intercept(self, request: httpx2.Request) -> httpx2.Response | None:
        """``Interceptor.before_request``: the fault answering ``request``, or None to let it through."""
        __tracebackhide__ = True
        provider = provider_of(str(request.url), request.headers)
        fault = None
        if provider in ("openai", "anthropic"):
            endpoint = wire.endpoint_of(request.method, str(request.url))
            with self._lock:
                for candidate in self._queue:
                    if candidate.matches(provider, endpoint):
                        fault = candidate
                        fault.used += 1
                        if fault.used >= fault.times:
                            self._queue.remove(fault)
                        break
        self._after_fault.set(fault is not None)
        if fault is None:
            if provider in ("openai", "anthropic"):
                self.history.append(FaultRecord(None, provider, request.method, str(request.url), "passed through"))
            return self._previous(request) if self._previous is not None else None
        try:
            response = fault.build(Call.of(request, provider))
        except Exception as exc:
            self.history.append(FaultRecord(fault.kind, provider, request.method, str(request.url),
                                            type(exc).__name__))
            raise
        outcome = str(response.status_code)
        if fault.kind == "stream_cut":
            outcome += " stream cut"
        self.history.append(FaultRecord(fault.kind, provider, request.method, str(request.url), outcome))
        return response

    def attach(self, interceptor: Interceptor, monkeypatch: pytest.MonkeyPatch) -> None:
        """Hook into the test's transport and make the SDKs' retries after a fault wait 0 s."""
        self._interceptor = interceptor
        self._previous = interceptor.before_request
        interceptor.before_request = self.intercept
        self._patch_waits(monkeypatch)

    def detach(self) -> None:
        if self._interceptor is not None and self._interceptor.before_request == self.intercept:
            self._interceptor.before_request = self._previous
        self._interceptor = None

    def _patch_waits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib

        from .transport import ORIGINAL_RETRY_TIMEOUT, _zero_wait

        for package in ("openai", "anthropic"):
            module_name = f"{package}._base_client"
            try:
                base_client = sys.modules.get(module_name) or importlib.import_module(module_name)
            except ImportError:
                continue
            cls = getattr(base_client, "BaseClient", None)
            current = cls.__dict__.get("_calculate_retry_timeout") if cls is not None else None
            if current is None:
                continue
            original = ORIGINAL_RETRY_TIMEOUT.get(module_name, current) if current is _zero_wait else current
            monkeypatch.setattr(cls, "_calculate_retry_timeout", self._retry_timeout(current, original))

    def _retry_timeout(self, current: Callable[..., float], original: Callable[..., float]) -> Callable[..., float]:
        after_fault = self._after_fault
        waits = self.waits

        def _calculate_retry_timeout(client: Any, remaining_retries: int, options: Any,
                                     response_headers: Any = None) -> float:
            if after_fault.get():
                waits.append(original(client, remaining_retries, options, response_headers))
                return 0.0
            return current(client, remaining_retries, options, response_headers)

        return _calculate_retry_timeout


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _cut_point(endpoint: str | None, events: list[dict[str, Any]], after: int | None) -> int:
    """How many events a cut stream delivers: ``after``, or half, but always before the final events."""
    if endpoint == "chat":  # the finish chunk (and the usage chunk after it) are final
        limit = next(i for i in range(len(events) - 1, -1, -1)
                     if events[i]["choices"] and events[i]["choices"][0].get("finish_reason"))
    elif endpoint == "messages":  # message_delta (stop_reason) and message_stop
        limit = next(i for i, e in enumerate(events) if e["type"] == "message_delta")
    else:  # response.completed / response.incomplete
        limit = len(events) - 1
    keep = limit // 2 if after is None else after
    return max(1, min(keep, limit))


def _mid_stream_error(call: Call) -> httpx2.Response:
    """A 200 stream that starts normally, then carries the provider's error event."""
    headers, events = _success(call, _whole_answer(call, None))
    assert isinstance(events, list)
    keep = _cut_point(call.endpoint, events, None)
    frames = wire.sse_frames(call.endpoint or "messages", events[:keep], done=False)
    if call.provider == "anthropic":
        frames.append(wire.sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                               "error"))
    elif call.endpoint == "chat":
        frames.append(wire.sse({"error": {"message": "The engine is currently overloaded, please try again later.",
                                          "type": "server_error", "param": None, "code": None}}))
    else:
        number = events[keep - 1]["sequence_number"] + 1
        frames.append(wire.sse({"type": "error", "code": "server_error", "param": None, "sequence_number": number,
                                "message": "The engine is currently overloaded, please try again later."}, "error"))
        failed = dict(events[0]["response"], status="failed",
                      error={"code": "server_error",
                             "message": "The engine is currently overloaded, please try again later."})
        frames.append(wire.sse({"type": "response.failed", "sequence_number": number + 1, "response": failed},
                               "response.failed"))
    return _response(call, 200, headers, frames)


def _whole_answer(call: Call, text: str | None) -> wire.Completion:
    """A complete, valid answer to ``call`` (JSON or a tool call when asked for): what a cut stream
    was on its way to deliver."""
    return _content_completion(call, "stop", text, lambda doc: json.dumps(doc, ensure_ascii=False))


def _content_completion(call: Call, finish: str, text: str | None, breaker: Callable[[dict[str, Any]], str], *,
                        cut: bool = False, target: str = "auto", json_always: bool = False) -> wire.Completion:
    """The answer of a content fault: ``breaker`` applied to the JSON the request asks for (tool arguments
    or content), or plain text cut mid-word (truncation) when no JSON is asked for."""
    wants_json, schema = call.json_schema()
    tool = call.forced_tool() if target == "auto" else call.first_tool() if target == "tool_call" else None
    completion = wire.Completion(finish=finish)
    if tool is not None and not (call.provider == "anthropic" and not call.stream):
        name, parameters = tool
        arguments = text if text is not None else breaker(_sample_document(parameters, "Paris, France"))
        completion.text = None
        completion.tool_calls = [wire.ToolCall(name=name, arguments=arguments)]
        if finish == "stop":
            completion.finish = "tool_calls"
        return completion
    if tool is not None and call.provider == "anthropic" and finish == "length":
        # Anthropic cut a tool call short: the non-streamed input arrives as an empty object.
        completion.tool_calls = [wire.ToolCall(name=tool[0], arguments="{}")]
        completion.text = None
        return completion
    if text is not None:
        completion.text = text
    elif wants_json or json_always or tool is not None:
        completion.text = breaker(_sample_document(schema, "The capital of France is Paris, a city of two "
                                                                 "million people on the Seine."))
    else:
        completion.text = _CUT_TEXT if cut else _DEFAULT_TEXT
    return completion

