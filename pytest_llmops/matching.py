"""Which recorded request answers a request: the match key, and the explanation of a miss.

A request matches a recorded one when the method, the URL path, the query (order ignored) and the
body are the same, the body compared as parsed JSON (key order, whitespace and ``1.0`` vs ``1``
ignored; a multipart body with its random boundary made fixed). Host and port are ignored (a
cassette recorded against one base URL replays against another), and so are all headers:
``user-agent``, ``x-stainless-*``, idempotency keys and auth change between SDK versions and machines
and never decide what the model answers.

The key is computed once per recorded interaction when a cassette is loaded, and once per request
sent, so a lookup is one dict access whatever the cassette's size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["RequestKey", "request_key", "canonical_body", "parse_body", "explain_miss", "Candidate"]

RequestKey = tuple[str, str, str, Any]


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_body(body: bytes | str) -> Any:
    """The body as JSON data if it is JSON, else ``None``."""
    if not body:
        return None
    head = body.lstrip()[:1]
    if head not in ("{", "[", b"{", b"["):
        return None
    try:
        return json.loads(body, parse_float=_number)
    except ValueError:
        return None


def canonical_body(body: bytes | str) -> Any:
    """A hashable form of the body: canonical JSON text for JSON, else the bytes themselves (a
    multipart body with its random boundary replaced by a fixed one)."""
    data = parse_body(body)
    if data is not None:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    if body[:2] == b"--":
        return _fixed_boundary(bytes(body))
    return bytes(body)


def _fixed_boundary(body: bytes) -> bytes:
    """multipart/form-data: each request draws a random boundary; it never decides the answer."""
    boundary = body[2:].split(b"\r\n", 1)[0]
    if not 1 <= len(boundary) <= 200 or b"--" + boundary + b"--" not in body:
        return body
    return body.replace(b"--" + boundary, b"--pytest-llmops-boundary")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    return "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(query, keep_blank_values=True)))


def request_key(method: str, url: str, body: bytes | str) -> RequestKey:
    """The match key of a request given as method, full URL and body."""
    parts = urlsplit(url)
    return (method.upper(), parts.path or "/", canonical_query(parts.query), canonical_body(body))


# -- explaining a miss -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A recorded request shown as the nearest to a request that matched nothing."""

    index: int
    method: str
    uri: str
    body: bytes | str


def _describe(method: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{method.upper()} {parts.path}" + (f"?{parts.query}" if parts.query else "")


def _closeness(sent: RequestKey, recorded: RequestKey) -> tuple[int, float]:
    from difflib import SequenceMatcher

    same_route = int(sent[0] == recorded[0]) + int(sent[1] == recorded[1]) + int(sent[2] == recorded[2])
    a, b = sent[3], recorded[3]
    if isinstance(a, str) and isinstance(b, str):
        ratio = SequenceMatcher(None, a, b, autojunk=False).quick_ratio()
    else:
        ratio = float(a == b)
    return same_route, ratio


def _body_diff(recorded: Any, sent: Any, limit: int = 20) -> list[str]:
    """Readable differences, recorded -> sent, one line each (deepdiff on parsed JSON)."""
    from deepdiff import DeepDiff

    diff = DeepDiff(recorded, sent, verbose_level=2)
    lines: list[str] = []
    for change, items in diff.items():
        for path, detail in dict(items).items() if isinstance(items, dict) else ((p, None) for p in items):
            path = path.replace("root", "body", 1)
            if change == "values_changed" or change == "type_changes":
                old, new = _short(detail.get("old_value")), _short(detail.get("new_value"))
                lines.append(f"{path}: recorded {old}, sent {new}")
            elif change.endswith("_added"):
                lines.append(f"{path}: only in the request sent ({_short(detail)})")
            elif change.endswith("_removed"):
                lines.append(f"{path}: only in the recording ({_short(detail)})")
            else:
                lines.append(f"{path}: {change.replace('_', ' ')}")
    lines.sort()  # by path, so the output reads top to bottom like the body
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more differences"]
    return lines


def _short(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def explain_miss(
    method: str,
    url: str,
    body: bytes | str,
    candidates: Sequence[Candidate],
    *,
    redact: Any = None,
) -> str:
    """Lines describing the request sent, the closest recorded request, and how they differ."""
    sent_key = request_key(method, url, body)
    lines = [f"request sent:      {_describe(method, url)}"]
    if not candidates:
        lines.append("the cassette holds no recorded requests")
        return "\n".join(lines)
    best = max(candidates, key=lambda c: _closeness(sent_key, request_key(c.method, c.uri, c.body)))
    best_key = request_key(best.method, best.uri, best.body)
    lines.append(f"closest recorded:  {_describe(best.method, best.uri)}  (interaction #{best.index + 1} "
                 f"of {len(candidates)})")
    if best_key == sent_key:
        return "\n".join(lines)
    diffs: list[str] = []
    for i, what in ((0, "method"), (1, "path"), (2, "query")):
        if best_key[i] != sent_key[i]:
            diffs.append(f"{what}: recorded {best_key[i]!r}, sent {sent_key[i]!r}")
    recorded_data, sent_data = parse_body(best.body), parse_body(body)
    if best_key[3] != sent_key[3]:
        if recorded_data is not None and sent_data is not None:
            diffs.extend(_body_diff(recorded_data, sent_data))
        else:
            diffs.append(f"body: recorded {_short(best.body)}, sent {_short(body)}")
    lines.append("how they differ (recorded -> sent):")
    text = "\n".join(lines + ["  " + d for d in diffs])
    return redact(text) if redact else text
