"""The answer in a provider response, and how close two answers are.

``Answer`` is what a model said, whatever the API and whether it streamed: its text, its tool calls
(name and parsed arguments), its finish reason and the model that answered. It is read the same way
from a recorded response body (JSON, or server-sent events) and from the SDKs' own objects
(``model_dump`` of a completion, or the list of streamed chunks/events), so a captured answer and
the answer of a later run compare like with like. Promote (reference vs new), review (old vs new)
and shadow (champion vs challenger) all use it.

APIs read: OpenAI chat completions and the Responses API, Anthropic messages (plain and streamed).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "KINDS",
    "Answer",
    "answer_from_body",
    "answer_from_events",
    "answer_from_interaction",
    "answer_from_json",
    "answer_from_sdk",
    "asked",
    "kind_of",
    "last_user_text",
    "similarity",
    "text_diff",
]

#: API kind -> (provider, SDK call). What promote can re-send and every function here can read.
KINDS = {
    "openai.chat": ("openai", "chat.completions.create"),
    "openai.responses": ("openai", "responses.create"),
    "anthropic.messages": ("anthropic", "messages.create"),
}


@dataclass
class Answer:
    """What the model answered. ``tool_calls``: ``[{"name": ..., "arguments": {...}}]`` in order."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    error: str | None = None
    #: Only the text is known (an app returned a string): finish reason and tool calls are not compared.
    text_only: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "tool_calls": self.tool_calls, "finish_reason": self.finish_reason,
                                "model": self.model}
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(str(data.get("text") or ""), list(data.get("tool_calls") or []), data.get("finish_reason"),
                   data.get("model"), data.get("error"))

    def structure(self) -> dict[str, Any]:
        """The parts of the answer that must not move at all: finish reason, tool calls, and the data of
        an answer that is JSON (structured output). Free text is compared by ``similarity`` instead."""
        data: dict[str, Any] = {} if self.text_only else {"finish_reason": self.finish_reason,
                                                          "tool_calls": self.tool_calls}
        stripped = self.text.strip()
        if stripped[:1] in ("{", "["):
            try:
                data["json"] = json.loads(stripped)
            except ValueError:
                pass
        return data

    def shown(self) -> str:
        """The answer as a person reads it: the text, then one line per tool call."""
        lines = [self.text] if self.text else []
        for call in self.tool_calls:
            lines.append(f"[tool call] {call.get('name')}({json.dumps(call.get('arguments'), ensure_ascii=False, sort_keys=True)})")
        if self.error:
            lines.append(f"[error] {self.error}")
        return "\n".join(lines)


def kind_of(method: str, uri: str) -> str | None:
    """``"openai.chat"``, ``"openai.responses"``, ``"anthropic.messages"``, or None (another endpoint)."""
    if method.upper() != "POST":
        return None
    path = urlsplit(uri).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai.chat"
    if path.endswith("/responses"):
        return "openai.responses"
    if path.endswith("/v1/messages") or path == "/messages":
        return "anthropic.messages"
    return None


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return raw
    return raw if raw is not None else {}


# -- from one JSON document -------------------------------------------------------------------------
def answer_from_json(kind: str, data: Any) -> Answer:
    """The answer in a whole (not streamed) response body, parsed."""
    if not isinstance(data, Mapping):
        return Answer(error="the response is not a JSON object")
    if isinstance(data.get("error"), Mapping) and not data.get("choices") and not data.get("content"):
        error = data["error"]
        return Answer(error=f"{error.get('type') or error.get('code') or 'error'}: {error.get('message') or ''}")
    model = data.get("model") if isinstance(data.get("model"), str) else None
    if kind == "openai.chat":
        choices = data.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
        message = choice.get("message") or {}
        calls = [{"name": (c.get("function") or {}).get("name"), "arguments": _arguments((c.get("function") or {}).get("arguments"))}
                 for c in message.get("tool_calls") or [] if isinstance(c, Mapping)]
        text = message.get("content") or message.get("refusal") or ""
        return Answer(text if isinstance(text, str) else json.dumps(text), calls, choice.get("finish_reason"), model)
    if kind == "openai.responses":
        return _responses_answer(data)
    if kind == "anthropic.messages":
        texts, calls = [], []
        for block in data.get("content") or []:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "text":
                texts.append(block.get("text") or "")
            elif block.get("type") in ("tool_use", "server_tool_use"):
                calls.append({"name": block.get("name"), "arguments": block.get("input") or {}})
        return Answer("".join(texts), calls, data.get("stop_reason"), model)
    return Answer(model=model, error=f"answers of {kind} are not read")


def _responses_answer(data: Mapping[str, Any]) -> Answer:
    texts, calls = [], []
    for item in data.get("output") or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, Mapping) and part.get("type") in ("output_text", "refusal"):
                    texts.append(part.get("text") or part.get("refusal") or "")
        elif item.get("type") == "function_call":
            calls.append({"name": item.get("name"), "arguments": _arguments(item.get("arguments"))})
    status = data.get("status")
    incomplete = (data.get("incomplete_details") or {}).get("reason") if isinstance(data.get("incomplete_details"), Mapping) else None
    finish = f"incomplete:{incomplete}" if status == "incomplete" and incomplete else status
    return Answer("".join(texts), calls, finish, data.get("model") if isinstance(data.get("model"), str) else None)


# -- from a stream -----------------------------------------------------------------------------------
def answer_from_events(kind: str, events: Iterable[Any]) -> Answer:
    """The answer in a stream: parsed chunks (OpenAI chat) or events (Responses API, Anthropic)."""
    answer = Answer()
    texts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, Mapping):
            continue
        kind_of_event = event.get("type")
        if kind_of_event == "error" or (isinstance(event.get("error"), Mapping) and "choices" not in event):
            error: Mapping[str, Any] = event["error"] if isinstance(event.get("error"), Mapping) else event
            answer.error = f"stream error: {error.get('type') or 'error'}: {error.get('message') or ''}"
            continue
        if kind == "openai.chat":
            if isinstance(event.get("model"), str):
                answer.model = event["model"]
            for choice in event.get("choices") or []:
                if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    texts.append(delta["content"])
                elif isinstance(delta.get("refusal"), str):
                    texts.append(delta["refusal"])
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(call.get("index", len(calls)), {"name": None, "arguments": ""})
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot["name"] = function["name"]
                    slot["arguments"] += function.get("arguments") or ""
                if choice.get("finish_reason"):
                    answer.finish_reason = choice["finish_reason"]
        elif kind == "openai.responses":
            if kind_of_event in ("response.completed", "response.incomplete", "response.failed") and \
                    isinstance(event.get("response"), Mapping):
                final = _responses_answer(event["response"])
                final.error = answer.error
                return final
            if kind_of_event == "response.output_text.delta":
                texts.append(event.get("delta") or "")
        elif kind == "anthropic.messages":
            if kind_of_event == "message_start":
                message = event.get("message") or {}
                if isinstance(message.get("model"), str):
                    answer.model = message["model"]
            elif kind_of_event == "content_block_start":
                block = event.get("content_block") or {}
                if block.get("type") in ("tool_use", "server_tool_use"):
                    calls[event.get("index", len(calls))] = {"name": block.get("name"), "arguments": ""}
            elif kind_of_event == "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta":
                    texts.append(delta.get("text") or "")
                elif delta.get("type") == "input_json_delta" and event.get("index") in calls:
                    calls[event["index"]]["arguments"] += delta.get("partial_json") or ""
            elif kind_of_event == "message_delta":
                stop = (event.get("delta") or {}).get("stop_reason")
                if stop:
                    answer.finish_reason = stop
    answer.text = "".join(texts)
    answer.tool_calls = [{"name": c["name"], "arguments": _arguments(c["arguments"])} for _, c in sorted(calls.items())]
    return answer


def answer_from_body(kind: str, body: str | bytes, status: int = 200) -> Answer:
    """The answer in a recorded (decoded) response body: JSON, or server-sent events."""
    from .usage import sse_events

    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        return Answer(error="the response body is not text")
    if text.lstrip().startswith(("event:", "data:")):
        answer = answer_from_events(kind, (data for _, data in sse_events(text)))
    else:
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            return Answer(error="the response body is not JSON")
        answer = answer_from_json(kind, data)
    if status >= 400 and not answer.error:
        answer.error = f"HTTP {status}"
    return answer


def answer_from_interaction(interaction: Any) -> Answer | None:
    """The answer of a recorded ``Interaction`` (None when its endpoint has no answer to read)."""
    kind = kind_of(interaction.method, interaction.uri)
    if kind is None:
        return None
    return answer_from_body(kind, interaction.response_body, interaction.status)


def answer_from_sdk(kind: str, value: Any) -> Answer:
    """The answer in what an SDK call returned: a completion/message/response object, or the list of
    chunks/events of a stream that was consumed; plain text is taken as the answer's text."""
    if isinstance(value, Answer):
        return value
    if isinstance(value, str):
        return Answer(value, text_only=True)
    if isinstance(value, (list, tuple)):
        return answer_from_events(kind, [_dump(v) for v in value])
    return answer_from_json(kind, _dump(value))


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


# -- comparing ---------------------------------------------------------------------------------------
_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def similarity(a: str, b: str) -> float:
    """How close two texts are, 0..1: the word-level match ratio (difflib), case and spacing ignored.
    1.0 for the same words in the same order; two empty texts are the same."""
    left, right = _tokens(a), _tokens(b)
    if not left and not right:
        return 1.0
    return round(difflib.SequenceMatcher(None, left, right, autojunk=False).ratio(), 4)


def text_diff(old: str, new: str, old_label: str = "old", new_label: str = "new", width: int = 100) -> list[str]:
    """A unified diff of two answers, line by line (long lines wrapped at sentence ends first)."""
    return list(difflib.unified_diff(_lines(old, width), _lines(new, width), old_label, new_label, lineterm="", n=2))


def _lines(text: str, width: int) -> list[str]:
    out: list[str] = []
    for line in text.splitlines() or [""]:
        if len(line) <= width:
            out.append(line)
            continue
        out.extend(s for s in re.split(r"(?<=[.!?])\s+", line) if s)
    return out


_QUESTION_LINE = re.compile(r"^\s*Question:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


def asked(request: Any) -> str:
    """What was asked, for people to read: the last user message, or only its ``Question: ...`` line when
    the message also carries retrieved context (the usual RAG layout)."""
    text = last_user_text(request)
    found = _QUESTION_LINE.findall(text)
    return found[-1] if found else text


def last_user_text(request: Any) -> str:
    """The text of the last user message of a chat/messages/responses request (what was asked)."""
    if not isinstance(request, Mapping):
        return ""
    messages: Sequence[Any] = request.get("messages") or []
    if isinstance(request.get("input"), str):
        return request["input"]
    if not messages and isinstance(request.get("input"), list):
        messages = request["input"]
    for message in reversed(list(messages)):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping)
                           and p.get("type") in ("text", "input_text"))
    return ""
