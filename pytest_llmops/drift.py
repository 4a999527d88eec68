"""SDK drift rules: request differences today's SDKs introduce by themselves.

A cassette recorded by an older ``openai`` / ``anthropic`` release holds requests that today's release
sends a little differently, though the application asked for exactly the same thing. The differences
below, and only these, are tolerated when a request matches no recording exactly. Everything else is
a miss, explained with the nearest recorded request as usual.

The rules are consulted on the miss path only (``Cassette.play`` after the exact lookup failed), so
replaying a request that matches costs one dict lookup as before. Each rule rewrites the request
sent into what the older SDK sent for the same call; the rewritten request's match key is then looked
up in the cassette's index. Rules combine (a request may need two of them). Every match made through
a rule is recorded on the cassette (``Cassette.drift``) and shown by pytest in verbose mode, naming
the rule, so a tolerated difference is never silent.

The rules (``RULES``):

``anthropic-beta-query``
    older anthropic releases (0.84, for one) posted beta calls (``client.beta.messages.create``,
    beta ``count_tokens``, the files API, ...) to ``<path>?beta=true``; anthropic 2.x posts them to
    ``<path>`` and says "beta" in the ``anthropic-beta`` header only. A request with no ``beta``
    query parameter matches a recording of the same request with ``?beta=true``.

``openai-embeddings-encoding-format``
    openai 3.x sends ``"encoding_format": "base64"`` on ``/embeddings`` when the caller passed none
    (and decodes a base64 answer back to floats); older releases (1.26, for one) sent no
    ``encoding_format``, and the API
    answered floats, which today's SDK reads unchanged. A sent embeddings request whose
    ``encoding_format`` is ``"base64"`` matches a recording of the same request without the field.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .matching import RequestKey, parse_body, request_key

__all__ = ["RULES", "DriftMatch", "DriftRule", "lookup", "summary_lines"]

#: A request as sent: (method, url, body).
Request = tuple[str, str, "bytes | str"]


@dataclass(frozen=True)
class DriftRule:
    """One tolerated SDK difference. ``backport(request)`` is the request as the older SDK sent it,
    or ``None`` when the rule does not apply to this request."""

    name: str
    description: str  # one line, shown in verbose output
    backport: Callable[[Request], Request | None]


@dataclass(frozen=True)
class DriftMatch:
    """A request answered by a recording through drift rules."""

    interaction: int  # index in the cassette
    method: str
    path: str
    rules: tuple[str, ...]

    @property
    def descriptions(self) -> list[str]:
        return [RULE_BY_NAME[name].description for name in self.rules]

    def to_record(self, test: str, cassette: str) -> dict[str, Any]:
        """As builtins (xdist workers send these to the controller)."""
        return {"test": test, "cassette": cassette, "interaction": self.interaction + 1,
                "request": f"{self.method} {self.path}", "rules": list(self.rules)}


def summary_lines(records: list[dict[str, Any]], *, verbose: bool) -> list[str]:
    """What the terminal summary says about requests matched through drift rules (see ``to_record``).

    Verbose: one line per request (test, request, cassette and interaction), then one per rule used.
    Otherwise: one line with the count, if any.
    """
    if not records:
        return []
    if not verbose:
        return [(f"llmops: {len(records)} request(s) matched a recording only through SDK drift rules "
                 f"(differences today's SDKs introduce by themselves); pytest -v lists them")]
    lines = []
    for record in records:
        lines.append(f"{record['test']}: {record['request']} matched {record['cassette']} "
                     f"interaction #{record['interaction']} despite SDK drift:")
        lines.extend(f"    {name}: {RULE_BY_NAME[name].description}" for name in record["rules"]
                     if name in RULE_BY_NAME)
    return lines


def _add_beta_query(request: Request) -> Request | None:
    method, url, body = request
    parts = urlsplit(url)
    if any(name == "beta" for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return None
    query = f"{parts.query}&beta=true" if parts.query else "beta=true"
    return method, urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), body


def _drop_default_encoding_format(request: Request) -> Request | None:
    method, url, body = request
    if method.upper() != "POST" or not urlsplit(url).path.endswith("/embeddings"):
        return None
    data = parse_body(body)
    if not isinstance(data, dict) or data.get("encoding_format") != "base64":
        return None
    older = {k: v for k, v in data.items() if k != "encoding_format"}
    return method, url, json.dumps(older)


RULES: tuple[DriftRule, ...] = (
    DriftRule(
        "anthropic-beta-query",
        "anthropic 2.x no longer adds ?beta=true to beta calls; the recording has it",
        _add_beta_query,
    ),
    DriftRule(
        "openai-embeddings-encoding-format",
        'openai 3.x adds "encoding_format": "base64" to embeddings requests; the recording has none',
        _drop_default_encoding_format,
    ),
)
RULE_BY_NAME = {rule.name: rule for rule in RULES}


def lookup(
    method: str, url: str, body: bytes | str, index: Mapping[RequestKey, Any],
    rules: tuple[DriftRule, ...] | None = None,
    available: Callable[[RequestKey], bool] | None = None,
) -> tuple[RequestKey, tuple[str, ...]] | None:
    """The key of a recording this request matches once SDK drift is undone, and the rules used
    (``rules`` defaults to ``RULES``). ``available(key)`` says whether recordings of that key are
    left to play (an older SDK may have sent a beta and a plain call to two URLs that are one now).
    Single rules are tried before combinations, so the explanation is the smallest one that works.
    """
    rules = RULES if rules is None else rules
    for size in range(1, len(rules) + 1):
        for combination in itertools.combinations(rules, size):
            request: Request | None = (method, url, body)
            for rule in combination:
                request = rule.backport(request) if request is not None else None
            if request is None:
                continue
            key = request_key(*request)
            if key in index and (available is None or available(key)):
                return key, tuple(rule.name for rule in combination)
    return None
