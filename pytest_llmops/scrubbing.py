"""Keep secrets off disk: what is removed from a request/response pair before it is written.

Rules, applied on record (and by the audit's ``--fix``):

* Request headers are kept only if they are on an allow-list (content type, accept, the providers'
  version and beta headers). Everything else is dropped: auth headers, cookies, organisation and
  project ids, custom headers, and the volatile ``user-agent`` / ``x-stainless-*`` noise.
* Response headers are kept unless their name looks secret (cookie, organisation, project, auth,
  key, token, session, workspace) or is in ``llm_filter_headers``; those are kept with the value
  ``REDACTED`` so a reader sees they were there. Transport noise (date, content-length, cf-ray, ...) is
  dropped.
* Every secret value seen in the exchange (the API key from the auth header, cookie values,
  organisation/project ids, values of filtered headers) is replaced by ``REDACTED`` wherever it occurs:
  in the URL, in the bodies, in kept headers.
* Query parameters and JSON body fields whose name means a credential (``api_key``, ``token``, ...)
  get ``REDACTED`` as their value, and anything shaped like a provider key (``sk-...``) is redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "Scrubber",
    "SECRET_REQUEST_HEADERS",
    "SECRET_RESPONSE_HEADERS",
]

REDACTED = "REDACTED"

#: Request headers written to a cassette; every other request header is dropped.
KEPT_REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta", "api-version"}
)
#: Headers known to carry credentials or identifiers (the issue's list, plus the usual suspects).
SECRET_REQUEST_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "cookie", "openai-organization", "openai-project",
     "anthropic-organization-id", "proxy-authorization", "x-goog-api-key"}
)
SECRET_RESPONSE_HEADERS = frozenset(
    {"set-cookie", "cookie", "openai-organization", "openai-project", "anthropic-organization-id",
     "authorization", "x-api-key", "api-key", "www-authenticate"}
)
_SECRET_NAME = re.compile(r"cookie|organi[sz]ation|project|auth|api[-_]?key|token|secret|session|workspace|"
                          r"password|credential|signature", re.I)
#: Response headers that are transport noise: they change on every call and mean nothing on replay.
_NOISE_RESPONSE_HEADERS = frozenset(
    {"date", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
     "cf-ray", "cf-cache-status", "alt-svc", "server", "strict-transport-security", "via", "age",
     "x-envoy-upstream-service-time", "server-timing", "vary"}
)
_SECRET_FIELD = re.compile(
    r"^(api[-_]?key|apikey|x[-_]api[-_]key|access[-_]?token|refresh[-_]?token|id[-_]?token|auth[-_]?token|"
    r"client[-_]?secret|secret|password|passwd|authorization|session[-_]?(id|token)|cookie|"
    r"organization[-_]id|project[-_]id)$",
    re.I,
)
_SECRET_QUERY = re.compile(r"key|token|secret|sig|password|auth|credential|session", re.I)
#: Shapes of provider credentials, redacted wherever they appear.
_KEY_SHAPES = re.compile(
    r"(?:sk|rk|pk)-(?:proj-|ant-(?:api|admin)\d*-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"
    r"|sess-[A-Za-z0-9]{20,}"
    r"|Bearer\s+[A-Za-z0-9._~+/\-]{16,}=*"
)
_MIN_SECRET = 4  # shorter values cannot be replaced in text without mangling it


def _header_secret_values(name: str, value: str) -> Iterable[str]:
    """The secret parts of a header value: the token of ``Bearer x``, each cookie's value."""
    if name in ("cookie", "set-cookie"):
        for part in value.split(";") if name == "cookie" else value.split(";")[:1]:
            _, _, cookie_value = part.strip().partition("=")
            yield cookie_value
    elif name in ("authorization", "proxy-authorization") and " " in value:
        yield value.split(" ", 1)[1].strip()
    yield value.strip()


class Scrubber:
    """Removes secrets from one recorded exchange. Build one per exchange (it collects the values)."""

    def __init__(self, filter_headers: Iterable[str] = ()) -> None:
        self.filter_headers = frozenset(h.lower() for h in filter_headers)
        self.secrets: set[str] = set()

    # -- what is secret -------------------------------------------------------------------------
    def is_secret_header(self, name: str) -> bool:
        name = name.lower()
        if "ratelimit" in name and name not in self.filter_headers:
            return False  # x-ratelimit-remaining-tokens & co. are counters, not credentials
        return (
            name in self.filter_headers
            or name in SECRET_REQUEST_HEADERS
            or name in SECRET_RESPONSE_HEADERS
            or bool(_SECRET_NAME.search(name))
        )

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the secret values carried by these headers, to redact them anywhere else."""
        for name, value in headers:
            name = name.lower()
            if self.is_secret_header(name):
                self.secrets.update(v for v in _header_secret_values(name, value) if len(v) >= _MIN_SECRET)

    def add_secrets(self, values: Iterable[str]) -> None:
        self.secrets.update(v for v in values if v and len(v) >= _MIN_SECRET)

    # -- scrubbing ------------------------------------------------------------------------------
    def text(self, text: str) -> str:
        """Redact known secret values and key-shaped tokens in free text."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)

    def request_headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        kept: dict[str, list[str]] = {}
        for name, value in headers:
            name = name.lower()
            if name in KEPT_REQUEST_HEADERS and name not in self.filter_headers:
                kept.setdefault(name, []).append(self.text(value))
        return kept

    def response_headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        kept: dict[str, list[str]] = {}
        for name, value in headers:
            name = name.lower()
            if name in _NOISE_RESPONSE_HEADERS:
                continue
            kept.setdefault(name, []).append(REDACTED if self.is_secret_header(name) else self.text(value))
        return kept

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, REDACTED if _SECRET_QUERY.search(k) else self.text(v)) for k, v in pairs])
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def json_value(self, value: object) -> object:
        """Redact credential-named fields and secret values inside parsed JSON."""
        if isinstance(value, dict):
            return {
                k: (REDACTED if isinstance(v, str) and v and _SECRET_FIELD.match(k) else self.json_value(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, body: str) -> str:
        """Scrub a text body: JSON is parsed and its fields scrubbed; SSE and other text by value."""
        stripped = body.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(body)
            except ValueError:
                return self.text(body)
            return json.dumps(self.json_value(parsed), indent=2, ensure_ascii=False)
        if stripped.startswith(("event:", "data:")):
            return "\n".join(self._sse_line(line) for line in body.split("\n"))
        return self.text(body)

    def _sse_line(self, line: str) -> str:
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload[:1] in ("{", "["):
                try:
                    parsed = json.loads(payload)
                except ValueError:
                    return self.text(line)
                return "data: " + json.dumps(self.json_value(parsed), ensure_ascii=False, separators=(",", ":"))
        return self.text(line)


def scrub_headers_mapping(headers: Mapping[str, list[str]], scrubber: Scrubber) -> dict[str, list[str]]:
    """Scrub a cassette's stored response headers (used when fixing existing cassettes)."""
    return scrubber.response_headers((k, v) for k, vs in headers.items() for v in vs)
