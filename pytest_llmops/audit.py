"""Audit cassettes: what each one holds, in which format, which secrets, and whether tests still use it.

``python -m pytest_llmops audit [PATH...]`` (see ``docs/audit.md``) lists every cassette under the
paths given with its providers, endpoints, models, interactions, size and format (see ``formats``),
and every secret found in it:

* credential headers (``authorization``, ``x-api-key``, ...), cookies (``cookie``, ``set-cookie``),
  organisation and project ids (``openai-organization``, ``openai-project``,
  ``anthropic-organization-id``), headers named in ``--filter-header``, and other headers whose
  name says secret (``session``, ``token``, ... but not the rate-limit counters);
* credentials in URLs: ``user:password@``, query parameters named like a key or token;
* JSON fields named like a credential (``api_key``, ``access_token``, ...) in request and response
  bodies, server-sent events included;
* anything shaped like a provider key (``sk-...``, ``sk-ant-...``, ``Bearer ...``) anywhere;
* a secret value from a header repeated anywhere else in the interaction.

The rules are ``scrubbing``'s (what recording keeps off disk). Values that are obviously fake
(``test_openai_api_key``, ``REDACTED``, ``<redacted>``, ``dummy``, ...) are reported as placeholders,
not as secrets. Values are never printed whole: four characters and the length.

``--fix`` rewrites each file holding secrets in place and atomically, in its own layout (vcrpy,
pydantic-ai, JSON, gzip...): secret request headers removed, secret response headers set to
``REDACTED``, secret values replaced by ``REDACTED`` wherever they occur (compressed bodies are
decompressed, scrubbed and compressed again). ``--convert`` rewrites files into pytest-llmops' own
format (canonical vcrpy YAML, readable bodies, scrubbed as a recording is). Both keep replay working:
the plugin matches a request against a scrubbed recording by scrubbing the request the same way.

Which cassettes the last test run used comes from pytest's cache (``.pytest_cache``): the plugin
writes the list at the end of each run that used cassettes (``USED_CASSETTES_KEY``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import formats
from .errors import CassetteError
from .scrubbing import (
    _KEY_SHAPES,
    _SECRET_FIELD,
    _SECRET_NAME,
    _SECRET_QUERY,
    REDACTED,
    SECRET_REQUEST_HEADERS,
    SECRET_RESPONSE_HEADERS,
    Scrubber,
    _header_secret_values,
)

__all__ = [
    "COMMAND",
    "USED_CASSETTES_KEY",
    "CassetteReport",
    "Finding",
    "audit_file",
    "audit_paths",
    "convert_file",
    "find_cassettes",
    "fix_file",
    "used_cassettes",
    "used_cassettes_value",
]

#: Key in pytest's cache (``config.cache``) of the cassettes the last run used: paths relative to
#: the root folder (absolute if outside it), sorted.
USED_CASSETTES_KEY = "llmops/used_cassettes"

_HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
#: Header names that match the secret-name pattern but carry no secret.
_BENIGN_HEADER = re.compile(r"ratelimit|rate-limit|^x-stainless-|^www-authenticate$|^access-control-", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"redacted|filtered|scrubbed|dummy|placeholder|x{4,}|\*{3,}|^<.*>$|\$\{|\{\{|(?:^|[^a-z0-9])(?:test|fake|mock|"
    r"example|sample|your)(?:[^a-z0-9]|$)|^(?:none|null|undefined|secret|changeme|replay)$|pytest-llmops",
    re.IGNORECASE,
)
_ID_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_\-.]{12,}$|^[a-z]+[-_][A-Za-z0-9]{8,}$")

KINDS = {
    "auth": "auth header",
    "cookie": "cookie",
    "organization": "organisation id",
    "project": "project id",
    "header": "secret header",
    "url": "credentials in URL",
    "query": "key in query string",
    "field": "credential field in body",
    "key": "key-shaped value",
    "repeated": "secret value repeated",
}


# -- what is secret --------------------------------------------------------------------------------
def header_kind(name: str, filter_headers: frozenset[str] = frozenset()) -> str | None:
    """The kind of secret a header of this name carries (a ``KINDS`` key), or ``None``."""
    name = name.lower()
    if name in _AUTH_HEADERS:
        return "auth"
    if name in _COOKIE_HEADERS:
        return "cookie"
    if "organi" in name:
        return "organization"
    if "project" in name:
        return "project"
    if name in filter_headers:
        return "header"
    if _BENIGN_HEADER.search(name):
        return None
    if name in SECRET_REQUEST_HEADERS or name in SECRET_RESPONSE_HEADERS or _SECRET_NAME.search(name):
        return "header"
    return None


def is_placeholder(value: str) -> bool:
    """An obviously fake or already scrubbed value (not a secret)."""
    value = value.strip()
    if value.lower().startswith(("bearer ", "basic ")):
        value = value.split(" ", 1)[1].strip()
    return len(value) < 4 or value == REDACTED or bool(_PLACEHOLDER.search(value))


def mask(value: str) -> str:
    """Enough of a secret to recognise it, never the secret: four characters and the length."""
    value = value.strip()
    return f"{value[:4]}... ({len(value)} chars)"


@dataclass(frozen=True)
class Finding:
    """One secret in one place of a cassette. ``value`` is the secret itself (never printed)."""

    kind: str  # a KINDS key
    interaction: int  # 1-based
    where: str  # "request header authorization", "response body field user.api_key", ...
    value: str
    placeholder: bool = False

    def describe(self) -> str:
        return f"interaction #{self.interaction} {self.where}: {KINDS[self.kind]} ({mask(self.value)})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": KINDS[self.kind], "interaction": self.interaction, "where": self.where,
                "value": mask(self.value), "placeholder": self.placeholder}


def _texts(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else ""


#: A JSON text that may hold a credential field (cheap test before parsing it).
_FIELD_HINT = re.compile(r'"(?:' + _SECRET_FIELD.pattern.strip("^$") + r')"\s*:', re.IGNORECASE)
#: Blocks whose ``signature`` is Anthropic's signature of the model's thinking, not a credential.
_SIGNED_BLOCKS = frozenset({"thinking", "redacted_thinking", "signature_delta"})


def _json_fields(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """(dotted path, value) of every string field whose name means a credential."""
    if isinstance(value, dict):
        signed = value.get("type") in _SIGNED_BLOCKS
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if signed and key == "signature":
                continue
            if isinstance(child, str) and child and _SECRET_FIELD.match(str(key)):
                yield where, child
            else:
                yield from _json_fields(child, where)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _json_fields(child, f"{path}[{i}]")


def _body_json(text: str) -> list[Any]:
    """The JSON documents of a body: the body itself, or each ``data:`` line of an event stream."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return [json.loads(text)]
        except ValueError:
            return []
    if stripped.startswith(("event:", "data:", ":")):
        out = []
        for line in text.split("\n"):
            if line.startswith("data:") and line[5:].strip()[:1] in ("{", "["):
                try:
                    out.append(json.loads(line[5:]))
                except ValueError:
                    pass
        return out
    return []


def scan_interaction(data: dict[str, Any], number: int, filter_headers: frozenset[str] = frozenset()) -> list[Finding]:
    """Every secret in one normalised interaction (``formats.normalise_interaction``)."""
    found: list[Finding] = []
    learned: dict[str, str] = {}  # secret value -> where it was first seen

    def add(kind: str, where: str, value: str) -> None:
        value = value.strip()
        if value:
            found.append(Finding(kind, number, where, value, is_placeholder(value)))

    for side in ("request", "response"):
        for name, values in data[side]["headers"].items():
            kind = header_kind(name, filter_headers)
            if kind is None:
                continue
            for value in values:
                add(kind, f"{side} header {name}", value)
                if not is_placeholder(value):
                    for part in _header_secret_values(name, value):
                        if len(part) >= 8 and not is_placeholder(part):
                            learned.setdefault(part, f"{side} header {name}")
    uri = data["request"]["uri"]
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        add("url", "request URL user info", parts.netloc.rsplit("@", 1)[0])
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_QUERY.search(key) and value:
            add("query", f"request URL query parameter {key}", value)
    places = [("request URL", uri), ("request body", _texts(data["request"]["body"])),
              ("response body", _texts(data["response"]["body"]["string"]))]
    for side in ("request", "response"):
        for name, values in data[side]["headers"].items():
            if header_kind(name, filter_headers) is None:
                places.extend((f"{side} header {name}", v) for v in values)
    for where, text in places:
        if not text:
            continue
        if where.endswith("body") and _FIELD_HINT.search(text):
            for document in _body_json(text):
                for path, value in _json_fields(document):
                    add("field", f"{where} field {path}", value)
        for match in _KEY_SHAPES.finditer(text):
            add("key", where, match.group(0))
        for secret, origin in learned.items():
            if secret in text:
                add("repeated", f"{where} (value of the {origin})", secret)
    unique: dict[tuple[str, str, str], Finding] = {}
    for finding in found:
        unique.setdefault((finding.kind, finding.where, finding.value), finding)
    return list(unique.values())


# -- one cassette ----------------------------------------------------------------------------------
@dataclass
class CassetteReport:
    """What the audit found in one file."""

    path: Path
    display: str
    size: int = 0
    format: formats.Format | None = None
    interactions: int = 0
    providers: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    used: bool | None = None  # None: unknown (no record of the last run)
    action: str | None = None  # "fixed", "converted", or why it was not

    @property
    def secrets(self) -> list[Finding]:
        return [f for f in self.findings if not f.placeholder]

    @property
    def placeholders(self) -> list[Finding]:
        return [f for f in self.findings if f.placeholder]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.display,
            "size": self.size,
            "format": self.format.to_json() if self.format else None,
            "interactions": self.interactions,
            "providers": self.providers,
            "endpoints": self.endpoints,
            "models": self.models,
            "secrets": [f.to_json() for f in self.secrets],
            "placeholders": [f.to_json() for f in self.placeholders],
            "used_by_last_run": self.used,
            "error": self.error,
            "action": self.action,
        }


def _provider(uri: str, headers: dict[str, list[str]]) -> str:
    from .cassette import provider_of

    host = (urlsplit(uri).hostname or "").lower()
    if host in _HOSTS:
        return _HOSTS[host]
    if host.endswith(("openai.com", "openai.azure.com")):
        return "openai"
    if host.endswith("anthropic.com"):
        return "anthropic"
    return provider_of(uri, headers) if host in ("localhost", "127.0.0.1", "::1", "") else "other"


def _endpoint(method: str, uri: str) -> str:
    parts = urlsplit(uri)
    segments = ["{id}" if _ID_SEGMENT.match(s) and not s.startswith("v1") else s for s in parts.path.split("/")]
    host = parts.hostname or ""
    prefix = "" if host in _HOSTS or host in ("localhost", "127.0.0.1") else host
    return f"{method} {prefix}{'/'.join(segments)}"


def audit_file(path: Path, *, filter_headers: Iterable[str] = (), display: str | None = None) -> CassetteReport:
    """Audit one cassette file (a ``CassetteReport`` with ``error`` set if it cannot be read)."""
    path = Path(path)
    report = CassetteReport(path, display or str(path))
    try:
        report.size = path.stat().st_size
        loaded = formats.load(path)
    except (CassetteError, OSError) as exc:
        report.error = str(exc)
        return report
    filters = frozenset(h.lower() for h in filter_headers)
    providers: Counter[str] = Counter()
    endpoints: dict[str, None] = {}
    models: dict[str, None] = {}
    from .matching import parse_body

    for number, interaction in enumerate(loaded.interactions, 1):
        request = interaction["request"]
        providers[_provider(request["uri"], request["headers"])] += 1
        endpoints.setdefault(_endpoint(request["method"], request["uri"]), None)
        body = parse_body(request["body"]) if isinstance(request["body"], str) else None
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            models.setdefault(body["model"], None)
        report.findings.extend(scan_interaction(interaction, number, filters))
    report.format = loaded.format
    report.interactions = len(loaded.interactions)
    report.providers = [p for p, _ in providers.most_common()]
    report.endpoints = list(endpoints)
    report.models = list(models)
    return report


# -- fixing ----------------------------------------------------------------------------------------
def _dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value and not any(c in value for c in "\r\t") and value == value.strip(" ") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def _encode(document: Any, raw: formats.Raw) -> bytes:
    import yaml

    if raw.json:
        data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    else:
        data = yaml.dump(document, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=120).encode("utf-8")
    return gzip.compress(data, mtime=0) if raw.gzipped else data


def _compress(body: bytes, encodings: list[str]) -> bytes | None:
    for encoding in encodings:
        if encoding in ("gzip", "x-gzip"):
            body = gzip.compress(body, mtime=0)
        elif encoding == "deflate":
            import zlib

            body = zlib.compress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.compress(body)
        elif encoding == "zstd":
            import zstandard  # type: ignore[import-not-found]

            body = zstandard.ZstdCompressor().compress(body)
        else:
            return None
    return body


def _raw_headers(part: dict[str, Any]) -> dict[Any, Any]:
    headers = part.get("headers")
    return headers if isinstance(headers, dict) else {}


def _scrub_value(value: Any, scrubber: Scrubber, encodings: list[str]) -> Any:
    """A stored body (text, bytes, {"string": ...}, parsed mapping) with secrets replaced."""
    if isinstance(value, dict) and set(value) == {"string"}:
        return {"string": _scrub_value(value["string"], scrubber, encodings)}
    if isinstance(value, dict):
        return {k: _scrub_value(v, scrubber, encodings) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, scrubber, encodings) for v in value]
    if isinstance(value, str):
        return scrubber.text(value)
    if isinstance(value, bytes):
        decoded: bytes | None = value
        applied: list[str] = []
        for encoding in reversed(encodings):
            out = formats.decompress(decoded, encoding) if decoded is not None else None
            if out is not None:
                decoded = out
                applied.insert(0, encoding)
        try:
            text = (decoded or value).decode("utf-8")
        except UnicodeDecodeError:
            return value
        scrubbed = scrubber.text(text)
        if scrubbed == text:
            return value
        recompressed = _compress(scrubbed.encode("utf-8"), applied)
        return recompressed if recompressed is not None else scrubbed.encode("utf-8")
    return value


def _scrub_raw_interaction(item: dict[str, Any], secrets: set[str], filters: frozenset[str]) -> None:
    """Scrub one interaction of a raw document in place, keeping its layout."""
    scrubber = Scrubber(filters)
    scrubber.add_secrets(secrets)
    for side in ("request", "response"):
        part = item.get(side)
        if not isinstance(part, dict):
            continue
        headers = _raw_headers(part)
        for name in list(headers):
            if header_kind(str(name), filters) is None:
                values = headers[name]
                headers[name] = [scrubber.text(str(v)) for v in values] if isinstance(values, list) else \
                    scrubber.text(str(values))
            elif side == "request":
                del headers[name]
            else:
                headers[name] = [REDACTED] * len(headers[name]) if isinstance(headers[name], list) else REDACTED
        encodings = [e.strip().lower() for k, v in headers.items() if str(k).lower() == "content-encoding"
                     for value in (v if isinstance(v, list) else [v]) for e in str(value).split(",") if e.strip()]
        for key in ("body", "content", "parsed_body"):
            if key in part and part[key] is not None:
                part[key] = _scrub_value(part[key], scrubber, encodings)
    request = item.get("request")
    if isinstance(request, dict) and isinstance(request.get("uri"), str):
        uri = request["uri"]
        if scrubber.text(uri) != uri or "@" in urlsplit(uri).netloc or any(
                _SECRET_QUERY.search(k) for k, _ in parse_qsl(urlsplit(uri).query)):
            request["uri"] = scrubber.url(uri)


def fix_file(path: Path, *, filter_headers: Iterable[str] = ()) -> int:
    """Scrub the secrets out of one cassette in place, atomically, keeping its format.

    Returns how many secrets were removed (0: the file was left untouched). Raises ``CassetteError``
    if the file cannot be read (it is then left untouched).
    """
    from .cassette import atomic_write

    filters = frozenset(h.lower() for h in filter_headers)
    raw = formats.read_raw(path)
    removed = 0
    for number, item in enumerate(raw.data["interactions"], 1):
        try:
            normal = formats.normalise_interaction(item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CassetteError(f"cassette {path}: interaction #{number} is malformed ({exc}); not fixed.") from None
        secrets = [f for f in scan_interaction(normal, number, filters) if not f.placeholder]
        if not secrets:
            continue
        values = {f.value for f in secrets}
        for f in secrets:
            if f.kind in ("auth", "cookie", "organization", "project", "header"):
                name = f.where.rsplit(" ", 1)[-1]
                values.update(p for p in _header_secret_values(name, f.value) if len(p) >= 4)
        _scrub_raw_interaction(item, values, filters)
        removed += len(secrets)
    if removed:
        atomic_write(path, _encode(raw.data, raw))
    return removed


def convert_file(path: Path, *, filter_headers: Iterable[str] = ()) -> None:
    """Rewrite one cassette in pytest-llmops' own format (canonical vcrpy YAML, readable bodies), scrubbed
    as a recording is. The path stays (a ``.gz`` stays gzip-compressed, a JSON file JSON)."""
    from .cassette import Interaction, atomic_write, dump_cassette

    raw = formats.read_raw(path)
    loaded = formats.load(path)
    interactions = []
    for data in loaded.interactions:
        request, response = data["request"], data["response"]
        scrubber = Scrubber(filter_headers)
        pairs = [(k, v) for k, vs in request["headers"].items() for v in vs]
        response_pairs = [(k, v) for k, vs in response["headers"].items() for v in vs]
        scrubber.learn_headers(pairs)
        scrubber.learn_headers(response_pairs)
        interactions.append(Interaction(
            method=request["method"],
            uri=scrubber.url(request["uri"]),
            request_headers=scrubber.request_headers(pairs),
            request_body=_readable(scrubber, request["body"]),
            status=response["status"]["code"],
            reason=response["status"]["message"],
            response_headers=scrubber.response_headers(response_pairs),
            response_body=_readable(scrubber, response["body"]["string"]),
            latency_ms=data.get("latency_ms"),
            episode=data.get("episode"),
        ))
    meta = {k: v for k, v in loaded.meta.items() if k not in ("version", "interactions")}
    if loaded.format.serializer != "pytest-llmops":
        meta["converted_from"] = str(loaded.format)
    if raw.json:
        document = {"interactions": [i.to_dict() for i in interactions], **meta, "version": 1}
        if any(isinstance(i.request_body, bytes) or isinstance(i.response_body, bytes) for i in interactions):
            raise CassetteError(f"cassette {path} holds binary bodies, which a JSON cassette cannot; convert it "
                                f"to YAML first (rename it to .yaml and point the test at the new name).")
        data_bytes = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    else:
        data_bytes = dump_cassette(interactions, meta).encode("utf-8")
    atomic_write(path, gzip.compress(data_bytes, mtime=0) if raw.gzipped else data_bytes)


def _readable(scrubber: Scrubber, body: str | bytes) -> str | bytes:
    if isinstance(body, bytes) or not body:
        return body
    return scrubber.body(body)


# -- finding cassettes and the last run ------------------------------------------------------------
_SKIP_DIRS = frozenset({".git", ".hg", ".tox", ".nox", ".venv", "venv", "env", "node_modules", "site-packages",
                        "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", "dist"})


def find_cassettes(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(cassette files, paths that do not exist). A file named is always audited; in a folder, files
    with a cassette's name that mention ``interactions`` are."""
    found: list[Path] = []
    missing: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if any(part in _SKIP_DIRS for part in candidate.relative_to(path).parts[:-1]):
                    continue
                if candidate.is_file() and formats.is_cassette_name(candidate) and _looks_like_cassette(candidate):
                    found.append(candidate)
        else:
            missing.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, missing


def _looks_like_cassette(path: Path) -> bool:
    if path.name.endswith(".gz"):
        return True
    try:
        if path.stat().st_size > formats.max_bytes():
            return True  # let the audit say why it is refused
        with open(path, "rb") as handle:
            return b"interactions" in handle.read()
    except OSError:
        return True


def used_cassettes_value(paths: Iterable[Path], root: Path) -> list[str]:
    """The cache value for the cassettes a run used: existing files, relative to ``root`` if inside it."""
    out = set()
    for path in paths:
        if not path.exists():
            continue
        try:
            out.add(path.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            out.add(str(path.resolve()))
    return sorted(out)


def used_cassettes(cache_dir: Path) -> set[Path] | None:
    """The cassettes the last test run used, from pytest's cache folder; ``None`` if not recorded."""
    entry = cache_dir / "v" / USED_CASSETTES_KEY
    try:
        value = json.loads(entry.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, list):
        return None
    root = cache_dir.resolve().parent
    return {(root / p).resolve() if not Path(p).is_absolute() else Path(p).resolve() for p in value if
            isinstance(p, str)}


def _find_cache_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".pytest_cache").is_dir():
            return folder / ".pytest_cache"
    return None


# -- the command -----------------------------------------------------------------------------------
@dataclass
class AuditRun:
    reports: list[CassetteReport]
    missing: list[Path]
    used_known: bool
    cache_dir: Path | None

    @property
    def secrets(self) -> int:
        return sum(len(r.secrets) for r in self.reports)

    def summary(self) -> dict[str, Any]:
        readable = [r for r in self.reports if r.error is None]
        kinds: Counter[str] = Counter()
        files_by_kind: Counter[str] = Counter()
        for report in readable:
            seen = {f.kind for f in report.secrets}
            kinds.update(f.kind for f in report.secrets)
            files_by_kind.update(seen)
        formats_count = Counter(str(r.format) for r in readable)
        return {
            "cassettes": len(self.reports),
            "unreadable": len(self.reports) - len(readable),
            "interactions": sum(r.interactions for r in readable),
            "bytes": sum(r.size for r in self.reports),
            "formats": dict(formats_count.most_common()),
            "providers": dict(Counter(p for r in readable for p in r.providers).most_common()),
            "files_with_secrets": sum(1 for r in readable if r.secrets),
            "secrets": sum(kinds.values()),
            "secrets_by_kind": {KINDS[k]: n for k, n in _ranked(kinds)},
            "files_by_kind": {KINDS[k]: n for k, n in _ranked(files_by_kind)},
            "files_with_placeholders_only": sum(1 for r in readable if r.placeholders and not r.secrets),
            "unused": None if not self.used_known else sum(1 for r in self.reports if r.used is False),
            "fixed": sum(1 for r in self.reports if r.action == "fixed"),
            "converted": sum(1 for r in self.reports if r.action == "converted"),
        }


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most frequent first; ties in the order of ``KINDS`` (output must not depend on set order)."""
    order = list(KINDS)
    return sorted(counts.items(), key=lambda item: (-item[1], order.index(item[0])))


def audit_paths(
    paths: Sequence[Path],
    *,
    filter_headers: Iterable[str] = (),
    cache_dir: Path | None = None,
    fix: bool = False,
    convert: bool = False,
    relative_to: Path | None = None,
) -> AuditRun:
    """Audit (and with ``fix`` / ``convert``, rewrite) every cassette under ``paths``."""
    base = (relative_to or Path.cwd()).resolve()
    files, missing = find_cassettes(paths)
    cache_dir = cache_dir if cache_dir is not None else _find_cache_dir(base)
    used = used_cassettes(cache_dir) if cache_dir is not None else None
    filters = tuple(filter_headers)
    reports = []
    for path in files:
        try:
            display = path.relative_to(base).as_posix()
        except ValueError:
            display = str(path)
        report = audit_file(path, filter_headers=filters, display=display)
        report.used = None if used is None else path.resolve() in used
        if report.error is None and (convert or (fix and report.secrets)):
            try:
                if convert and not (report.format and report.format.native and not report.secrets):
                    convert_file(path, filter_headers=filters)
                    report.action = "converted"
                elif fix_file(path, filter_headers=filters):
                    report.action = "fixed"
            except (CassetteError, OSError) as exc:
                report.action = f"not rewritten: {exc}"
            if report.action in ("fixed", "converted"):
                after = audit_file(path, filter_headers=filters, display=display)
                after.used, after.action = report.used, report.action
                if after.error is None and after.secrets:
                    after.action = f"{report.action}, but {len(after.secrets)} secret(s) remain"
                report = after
        reports.append(report)
    return AuditRun(reports, missing, used is not None, cache_dir)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def render_text(run: AuditRun, *, verbose: bool = False) -> list[str]:
    lines: list[str] = []
    for report in run.reports:
        if report.error is not None:
            lines.append(f"{report.display}: UNREADABLE")
            lines.extend("    " + line for line in report.error.splitlines())
            continue
        lines.append(f"{report.display}  [{report.format}]  {report.interactions} interaction(s), "
                     f"{_human(report.size)}")
        if report.providers:
            lines.append(f"    {', '.join(report.providers)}: {', '.join(report.endpoints)}")
        if report.models:
            lines.append(f"    models: {', '.join(report.models)}")
        if report.secrets:
            lines.append(f"    {len(report.secrets)} secret(s):")
            shown = report.secrets if verbose else report.secrets[:10]
            lines.extend(f"      {f.describe()}" for f in shown)
            if len(shown) < len(report.secrets):
                lines.append(f"      ... and {len(report.secrets) - len(shown)} more (--verbose lists them all)")
        if report.placeholders:
            lines.append(f"    {len(report.placeholders)} placeholder value(s) (fake credentials, not secrets)")
        if report.used is False:
            lines.append("    not used by the last test run")
        if report.action:
            lines.append(f"    {report.action}")
    for path in run.missing:
        lines.append(f"{path}: no such file or folder")
    summary = run.summary()
    lines.append("")
    lines.append(f"{summary['cassettes']} cassette(s), {summary['interactions']} interaction(s), "
                 f"{_human(summary['bytes'])}" + (f", {summary['unreadable']} unreadable" if summary["unreadable"]
                                                  else ""))
    if summary["formats"]:
        lines.append("formats: " + "; ".join(f"{name}: {n}" for name, n in summary["formats"].items()))
    if summary["secrets"]:
        by_kind = ", ".join(f"{kind} in {n}" for kind, n in summary["files_by_kind"].items())
        lines.append(f"secrets: {summary['secrets']} in {summary['files_with_secrets']} cassette(s) ({by_kind})")
    else:
        lines.append("secrets: none found")
    if summary["fixed"] or summary["converted"]:
        lines.append(f"rewritten: {summary['fixed']} fixed, {summary['converted']} converted")
    if summary["unused"] is None:
        lines.append("unused: unknown (no record of a test run in .pytest_cache; run pytest with the plugin first)")
    else:
        lines.append(f"unused by the last test run: {summary['unused']} cassette(s)")
    return lines


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="cassette files or folders (default: ./cassettes, or . if there is none)")
    parser.add_argument("--fix", action="store_true",
                        help="scrub the secrets out of the cassettes in place (atomically, keeping their format)")
    parser.add_argument("--convert", action="store_true",
                        help="rewrite the cassettes in pytest-llmops' own format (readable vcrpy YAML), scrubbed")
    parser.add_argument("--json", action="store_true", help="print one JSON document for machines")
    parser.add_argument("--filter-header", action="append", default=[], metavar="NAME",
                        help="also count this header as secret (like the llm_filter_headers ini); repeatable")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="pytest's cache folder holding the last run's record (default: the nearest "
                             ".pytest_cache above the current folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every secret, not the first ten")


def _run(args: argparse.Namespace) -> int:
    paths = list(args.paths)
    if not paths:
        paths = [Path("cassettes")] if Path("cassettes").is_dir() else [Path(".")]
    run = audit_paths(paths, filter_headers=args.filter_header, cache_dir=args.cache_dir, fix=args.fix,
                      convert=args.convert)
    if args.json:
        document = {"summary": run.summary(), "cassettes": [r.to_json() for r in run.reports],
                    "missing": [str(p) for p in run.missing]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render_text(run, verbose=args.verbose)) + "\n")
    if run.secrets:
        return 1
    if run.missing or any(r.error for r in run.reports) or any(
            r.action and r.action not in ("fixed", "converted") for r in run.reports):
        return 3
    return 0


def _command() -> Any:
    from .cli import Command

    return Command(
        name="audit",
        help="list cassettes (format, provider, endpoints, models) and the secrets they hold; --fix scrubs them",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        configure=_configure,
        run=_run,
    )


COMMAND = _command
