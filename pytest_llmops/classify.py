"""``classify_error``: is a provider failure worth retrying, fatal, or a problem with the content?

The three kinds a retry-and-fallback policy needs:

* ``transient`` — retry (later, or on another model/provider): 408, 409, 429, 5xx, 529, timeouts,
  dropped connections, streams cut mid-way, a mid-stream ``overloaded_error``.
* ``fatal`` — retrying sends the same failing request again: 400, 401, 402, 403, 404, 413, 422, the
  prompt too long for the context window, an exhausted quota or spend limit (a 429 that waiting
  does not cure).
* ``content`` — the call worked but the answer is unusable: truncated at the token limit, refused or
  filtered, malformed JSON or output that does not fit the schema. Retrying the same request may help
  (with more tokens, or a repair prompt): ``retryable`` is True, with a reason to act on.

Anything else is ``unknown`` (not retryable). Exceptions are recognised by class and module, without
importing an SDK that the application does not use; wrapped errors are followed through
``__cause__`` / ``__context__``, so ``raise AppError(...) from sdk_error`` still classifies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ErrorClass", "classify_error", "classify_response"]


@dataclass(frozen=True)
class ErrorClass:
    """What ``classify_error`` found. ``kind``: "fatal", "transient", "content" or "unknown"."""

    kind: str
    status: int | None
    request_id: str | None
    provider: str | None  # "openai", "anthropic", or None (not from an SDK)
    retryable: bool
    reason: str

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    @property
    def fatal(self) -> bool:
        return self.kind == "fatal"

    @property
    def content(self) -> bool:
        return self.kind == "content"

    def __str__(self) -> str:
        parts = [f"{self.kind} ({self.reason})"]
        if self.provider:
            parts.append(self.provider)
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return ", ".join(parts)


_FATAL_STATUS = {400: "bad_request", 401: "authentication", 402: "billing", 403: "permission", 404: "not_found",
                 405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type",
                 422: "unprocessable"}
_TRANSIENT_STATUS = {408: "timeout", 409: "conflict", 429: "rate_limit", 500: "server_error", 502: "bad_gateway",
                     503: "service_unavailable", 504: "gateway_timeout", 529: "overloaded"}
_ANTHROPIC_TYPES = {  # error.type of a body without a telling status (e.g. an SSE error event after a 200)
    "overloaded_error": ("transient", "overloaded"),
    "api_error": ("transient", "server_error"),
    "rate_limit_error": ("transient", "rate_limit"),
    "timeout_error": ("transient", "timeout"),
    "invalid_request_error": ("fatal", "bad_request"),
    "authentication_error": ("fatal", "authentication"),
    "billing_error": ("fatal", "billing"),
    "permission_error": ("fatal", "permission"),
    "not_found_error": ("fatal", "not_found"),
    "request_too_large": ("fatal", "request_too_large"),
}
_CONTEXT_MARKERS = ("context_length_exceeded", "maximum context length", "prompt is too long",
                    "context window", "too many tokens", "string_above_max_length")
_QUOTA_MARKERS = ("insufficient_quota", "exceeded your current quota", "spend_limit", "credit balance is too low",
                  "billing_hard_limit")
_MAX_CHAIN = 16


def classify_error(exc: BaseException) -> ErrorClass:
    """Classify an exception from the ``openai`` or ``anthropic`` SDK (or from parsing their output).

    Returns an ``ErrorClass(kind, status, request_id, provider, retryable, reason)``; see the module
    docstring and ``docs/faults.md`` for the table.
    """
    for candidate in _chain(exc):
        found = _classify_one(candidate)
        if found is not None:
            return found
    return ErrorClass("unknown", None, None, None, False, type(exc).__name__)


def classify_response(response: Any) -> ErrorClass | None:
    """A successful call whose answer is unusable, as an ``ErrorClass`` of kind "content" — OpenAI
    ``finish_reason`` "length" / "content_filter" or a ``refusal``; Responses API ``status`` "incomplete"
    or a refusal part; Anthropic ``stop_reason`` "max_tokens" / "refusal" /
    "model_context_window_exceeded" — or None when the answer is complete."""
    provider = _provider(response)
    request_id = getattr(response, "_request_id", None)
    if not isinstance(request_id, str):
        request_id = None

    def content(reason: str) -> ErrorClass:
        return ErrorClass("content", None, request_id, provider, True, reason)

    choices = getattr(response, "choices", None)
    if isinstance(choices, list):
        for choice in choices:
            finish = getattr(choice, "finish_reason", None)
            if finish in ("length", "content_filter"):
                return content(finish)
            if getattr(getattr(choice, "message", None), "refusal", None):
                return content("refusal")
        return None
    stop = getattr(response, "stop_reason", None)
    if stop in ("max_tokens", "model_context_window_exceeded"):
        return content("length")
    if stop == "refusal":
        return content("refusal")
    if getattr(response, "object", None) == "response":
        details = getattr(response, "incomplete_details", None)
        if getattr(response, "status", None) == "incomplete":
            reason = getattr(details, "reason", None)
            return content("content_filter" if reason == "content_filter" else "length")
        for item in getattr(response, "output", None) or []:
            for part in getattr(item, "content", None) or []:
                if getattr(part, "type", None) == "refusal":
                    return content("refusal")
    return None


# -- one exception ---------------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < _MAX_CHAIN and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _provider(obj: Any) -> str | None:
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".", 1)[0]
        if root in ("openai", "anthropic"):
            return root
    return None


def _classify_one(exc: BaseException) -> ErrorClass | None:
    names = _names(exc)
    provider = _provider(exc)
    if "LLMOpsError" in names:
        reason = "cassette_miss" if "CassetteMiss" in names else "llmops"
        return ErrorClass("fatal", None, None, None, False, reason)
    if provider is not None:
        return _classify_sdk(exc, names, provider)
    root = type(exc).__module__.split(".", 1)[0]
    if root in ("httpx2", "httpx", "httpcore", "anyio"):
        if "TimeoutException" in names or "TimeoutError" in names:
            return ErrorClass("transient", None, None, None, True, "timeout")
        if names & {"TransportError", "NetworkError", "ProtocolError", "RemoteProtocolError", "EndOfStream",
                    "BrokenResourceError", "ClosedResourceError"}:
            reason = "stream_cut" if "RemoteProtocolError" in names and "incomplete" in str(exc) else "connection"
            return ErrorClass("transient", None, None, None, True, reason)
        return None
    if root.startswith("pydantic") and "ValidationError" in names:
        return ErrorClass("content", None, None, None, True, _validation_reason(exc))
    if isinstance(exc, json.JSONDecodeError):
        return ErrorClass("content", None, None, None, True, "malformed_json")
    if isinstance(exc, ValueError) and str(exc).startswith("Unable to parse tool parameter JSON from model"):
        return ErrorClass("content", None, None, "anthropic", True, "malformed_json")
    if isinstance(exc, ValueError):
        parser = _sdk_parser(exc)  # the SDKs' stream helpers parse JSON as it arrives (jiter)
        if parser is not None:
            return ErrorClass("content", None, None, parser, True, "malformed_json")
    if isinstance(exc, TimeoutError):
        return ErrorClass("transient", None, None, None, True, "timeout")
    if isinstance(exc, ConnectionError):
        return ErrorClass("transient", None, None, None, True, "connection")
    return None


def _sdk_parser(exc: BaseException) -> str | None:
    """"openai"/"anthropic" if ``exc`` was raised while the SDK's helpers parsed model output."""
    import os

    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    if last is None:
        return None
    parts = last.split(os.sep)
    for provider in ("openai", "anthropic"):
        if provider in parts and "lib" in parts[parts.index(provider):]:
            return provider
    return None


def _validation_reason(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    try:
        types = {error.get("type") for error in errors()} if callable(errors) else set()
    except Exception:  # noqa: BLE001 - a foreign ValidationError
        types = set()
    return "malformed_json" if "json_invalid" in types else "schema_mismatch"


def _classify_sdk(exc: BaseException, names: set[str], provider: str) -> ErrorClass | None:
    if "LengthFinishReasonError" in names:
        return ErrorClass("content", None, _completion_request_id(exc), provider, True, "length")
    if "ContentFilterFinishReasonError" in names:
        return ErrorClass("content", None, _completion_request_id(exc), provider, True, "content_filter")
    if "APITimeoutError" in names:
        return ErrorClass("transient", None, None, provider, True, "timeout")
    if "APIConnectionError" in names:
        cause = exc.__cause__
        reason = "stream_cut" if cause is not None and "incomplete" in str(cause) else "connection"
        return ErrorClass("transient", None, None, provider, True, reason)
    if "APIResponseValidationError" in names:
        return ErrorClass("content", getattr(exc, "status_code", None), _header_request_id(exc, provider),
                          provider, True, "invalid_response")
    if "APIStatusError" in names:
        return _classify_status(exc, provider)
    if "APIError" in names:  # an error event inside a 200 stream (OpenAI ``data: {"error": ...}``)
        body = getattr(exc, "body", None)
        kind, reason = _from_error_type(_error_field(body, "type"), _error_field(body, "code"))
        return ErrorClass(kind, None, None, provider, kind != "fatal", reason)
    return None


def _classify_status(exc: BaseException, provider: str) -> ErrorClass:
    status = getattr(exc, "status_code", None)
    request_id = getattr(exc, "request_id", None) or _header_request_id(exc, provider)
    body = getattr(exc, "body", None)
    text = " ".join(str(part) for part in (
        _error_field(body, "code"), _error_field(body, "message"), getattr(exc, "error_code", None),
        getattr(exc, "code", None), body if isinstance(body, str) else None) if part).lower()
    error_type = getattr(exc, "type", None) or _error_field(body, "type")

    def make(kind: str, reason: str) -> ErrorClass:
        retryable = kind != "fatal"
        response = getattr(exc, "response", None)
        header = response.headers.get("x-should-retry") if response is not None else None
        if header in ("true", "false") and kind != "fatal":
            retryable = header == "true"
        return ErrorClass(kind, status, request_id, provider, retryable, reason)

    if status == 402 or error_type == "billing_error":
        return make("fatal", "billing")
    if any(marker in text for marker in _QUOTA_MARKERS):
        return make("fatal", "quota")
    if status in (400, 413, 422) and any(marker in text for marker in _CONTEXT_MARKERS):
        return make("fatal", "context_length")
    if isinstance(status, int) and 200 <= status < 300:  # Anthropic: an ``event: error`` after HTTP 200
        kind, reason = _from_error_type(error_type, None)
        return make(kind, reason)
    if status in _TRANSIENT_STATUS:
        reason = _TRANSIENT_STATUS[status]
        if status == 503 and "overloaded" in text:
            reason = "overloaded"
        return make("transient", reason)
    if status in _FATAL_STATUS:
        return make("fatal", _FATAL_STATUS[status])
    if isinstance(status, int) and status >= 500:
        return make("transient", "server_error")
    if isinstance(status, int) and status >= 400:
        return make("fatal", "client_error")
    return make("unknown", f"status_{status}")


def _from_error_type(error_type: Any, code: Any) -> tuple[str, str]:
    if error_type in _ANTHROPIC_TYPES:
        return _ANTHROPIC_TYPES[error_type]
    if error_type == "server_error" or code == "server_error":
        return "transient", "server_error"
    if code == "rate_limit_exceeded":
        return "transient", "rate_limit"
    if error_type == "invalid_request_error":
        return "fatal", "bad_request"
    return "transient", "stream_error"


def _error_field(body: Any, name: str) -> Any:
    if not isinstance(body, dict):
        return None
    inner = body.get("error")
    error = inner if isinstance(inner, dict) else body
    return error.get(name)


def _header_request_id(exc: BaseException, provider: str) -> str | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    return response.headers.get("request-id" if provider == "anthropic" else "x-request-id")


def _completion_request_id(exc: BaseException) -> str | None:
    completion = getattr(exc, "completion", None)
    request_id = getattr(completion, "_request_id", None) if completion is not None else None
    return request_id if isinstance(request_id, str) else None
