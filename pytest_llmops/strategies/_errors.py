"""Strategies for provider error responses (status, headers, body) as OpenAI and Anthropic send them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from hypothesis import strategies as st

from .. import wire
from ._common import texts

__all__ = ["openai_error_response", "anthropic_error_response", "provider_error_response"]

OPENAI_STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
# 413 is left out: Anthropic's ``request_too_large`` error type is not in the SDK's ``ErrorType``.
ANTHROPIC_STATUSES = (400, 401, 402, 403, 404, 429, 500, 502, 503, 504, 529)
_OPENAI_CODES: dict[int, list[str | None]] = {400: [None, "context_length_exceeded", "invalid_value"], 429: ["rate_limit_exceeded", "insufficient_quota"],
                 401: ["invalid_api_key"], 404: ["model_not_found", None]}


@st.composite
def _error_response(draw: st.DrawFn, provider: str, statuses: Sequence[int] | None, edge_pages: bool) -> wire.ProviderResponse:
    default: Sequence[int] = OPENAI_STATUSES if provider == "openai" else ANTHROPIC_STATUSES
    choices: list[int] = list(statuses) if statuses else list(default)
    status: int = draw(st.sampled_from(choices))
    request_id = wire.anthropic_request_id() if provider == "anthropic" else wire.openai_request_id()
    edge = edge_pages and (provider, status) in (("openai", 502), ("anthropic", 502), ("anthropic", 503)) \
        and draw(st.booleans())
    message = None if edge or draw(st.booleans()) else draw(texts(80).filter(str.strip))
    code = None
    if provider == "openai" and not edge:
        code = draw(st.sampled_from(_OPENAI_CODES.get(status, [None])))
    content_type, body = wire.error_content(provider, status, message=message, code=code, request_id=request_id,
                                            edge=edge)
    extra: dict[str, str] = {}
    if status in (429, 529, 503) and draw(st.booleans()):
        extra["retry-after"] = str(draw(st.integers(0, 60)))
    if status == 429 and draw(st.booleans()):
        extra["retry-after-ms"] = str(draw(st.integers(0, 60_000)))
    headers = tuple(wire.error_headers(provider, status, request_id, content_type, extra))
    text = body.decode("utf-8")
    parsed = json.loads(text) if content_type == "application/json" else text
    return wire.ProviderResponse(provider, status, headers, parsed)


def openai_error_response(*, statuses: Sequence[int] | None = None,
                          edge_pages: bool = False) -> st.SearchStrategy[wire.ProviderResponse]:
    """An OpenAI error response: ``ProviderResponse(provider, status, headers, body)`` with the JSON body
    ``{"error": {message, type, param, code}}`` and ``x-request-id``; ``edge_pages=True`` may give
    Cloudflare's HTML 502 page instead. Serve it with ``llm_faults.respond(response)``."""
    return _error_response("openai", statuses, edge_pages)


def anthropic_error_response(*, statuses: Sequence[int] | None = None,
                             edge_pages: bool = False) -> st.SearchStrategy[wire.ProviderResponse]:
    """An Anthropic error response: JSON ``{"type": "error", "error": {type, message}, "request_id"}``
    with the ``request-id`` header (529 ``overloaded_error`` included); ``edge_pages=True`` may give the
    edge's HTML 502 or plain-text 503."""
    return _error_response("anthropic", statuses, edge_pages)


def provider_error_response(*, edge_pages: bool = False) -> st.SearchStrategy[wire.ProviderResponse]:
    """An error response from either provider."""
    return openai_error_response(edge_pages=edge_pages) | anthropic_error_response(edge_pages=edge_pages)
