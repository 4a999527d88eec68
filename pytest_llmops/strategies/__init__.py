"""Hypothesis strategies for provider responses and for the broken payloads models produce.

Valid responses (each validates against the SDK's own pydantic type; ``llm_faults.respond(...)``
serves any of them to the real SDK)::

    openai_chat_completion()          -> dict   openai.types.chat.ChatCompletion
    openai_chat_completion_chunks()   -> [dict] openai.types.chat.ChatCompletionChunk each
    openai_response()                 -> dict   openai.types.responses.Response
    openai_response_events()          -> [dict] openai.types.responses.ResponseStreamEvent each
    anthropic_message()               -> dict   anthropic.types.Message
    anthropic_message_events()        -> [dict] anthropic.types.RawMessageStreamEvent each

Errors: ``openai_error_response()``, ``anthropic_error_response()``, ``provider_error_response()`` give
``wire.ProviderResponse(provider, status, headers, body)``.

Payloads: ``json_documents()`` (valid JSON objects), ``malformed_json()`` (text ``json.loads`` rejects,
broken the ways models break it), ``tool_calls()``, ``json_values()``, ``texts()``.

Example::

    from hypothesis import given
    from pytest_llmops.strategies import malformed_json

    @given(malformed_json())
    def test_parser_never_crashes(text):
        assert parse_answer(text) is None or isinstance(parse_answer(text), Answer)
"""

from ..faults import MALFORMED_STYLES
from ..wire import ProviderResponse
from ._anthropic import anthropic_message, anthropic_message_events
from ._common import json_documents, json_values, texts, tool_calls
from ._errors import anthropic_error_response, openai_error_response, provider_error_response
from ._json import malformed_json
from ._openai import openai_chat_completion, openai_chat_completion_chunks, openai_response, openai_response_events

__all__ = [
    "openai_chat_completion",
    "openai_chat_completion_chunks",
    "openai_response",
    "openai_response_events",
    "anthropic_message",
    "anthropic_message_events",
    "openai_error_response",
    "anthropic_error_response",
    "provider_error_response",
    "json_documents",
    "json_values",
    "malformed_json",
    "tool_calls",
    "texts",
    "MALFORMED_STYLES",
    "ProviderResponse",
]
