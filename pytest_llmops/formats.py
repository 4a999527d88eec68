"""Read the cassettes projects already commit, in every layout real recorders wrote, safely.

``load(path)`` reads one file and returns its interactions in one canonical shape (the layout vcrpy
writes today, with bodies decoded), with a ``Format`` saying what the file was. Formats read:

* canonical vcrpy YAML (``version: 1``, ``interactions``), bodies as strings; our own files are this;
* vcrpy's JSON serializer (the same document as JSON);
* ``!!binary`` bodies, compressed with gzip, deflate, brotli or zstd (named by ``content-encoding``, or
  recognised by their magic bytes when the header was dropped);
* vcrpy's legacy httpx layout: ``response.status_code`` / ``response.content`` instead of
  ``status`` / ``body``;
* pydantic-ai's serializer: request and response bodies stored as a parsed YAML mapping under
  ``parsed_body`` (vcrpy's own loader rejects these files);
* aiohttp recordings by older vcrpy, whose header names are tagged
  ``!!python/object/apply:multidict._multidict.istr``: read as plain strings;
* requests recorded with no headers at all (a body is JSON when it parses as JSON; responses with no
  content type get one from their content, so the SDKs parse them);
* ``content-encoding: gzip`` left on a body a tool already decompressed (the text is kept);
* gzip-compressed files (``.yaml.gz``, or any file starting with gzip's magic bytes).

Safety: YAML is read with a safe loader. The only Python tags accepted are the harmless ones vcrpy
writes (``python/str``, ``python/unicode``, ``python/tuple``) and multidict's ``istr`` (made a plain
string); any other ``!!python/...`` tag is refused, nothing is ever executed. Files larger than
``MAX_CASSETTE_BYTES`` are refused before they are read; a gzip file may not inflate past the same
limit; a document whose YAML aliases expand it more than ``MAX_EXPANSION`` times (a "billion laughs"
bomb) or refer to themselves is refused. Every refusal is a ``CassetteError`` that names the file.
Reading never writes anything.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .errors import CassetteError

__all__ = [
    "MAX_CASSETTE_BYTES",
    "MAX_EXPANSION",
    "Format",
    "Loaded",
    "MissingDecoder",
    "Raw",
    "decompress",
    "is_cassette_name",
    "load",
    "normalise_interaction",
    "read_raw",
]

#: Largest cassette read (bytes, on disk and after gunzip). ``PYTEST_LLMOPS_MAX_CASSETTE_MB`` overrides.
MAX_CASSETTE_BYTES = 64 * 1024 * 1024
#: How many times YAML aliases may multiply a document's size before it counts as a bomb.
MAX_EXPANSION = 10
_EXPANSION_SLACK = 100_000  # small documents may alias freely

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_REDO = "Fix the file by hand, or delete it and re-record with --llm-live."

#: Short descriptions of what a file held, in the order they are shown.
FEATURES = {
    "gzip-file": "gzip-compressed file",
    "binary": "!!binary bodies",
    "gzip": "gzip bodies",
    "deflate": "deflate bodies",
    "br": "brotli bodies",
    "zstd": "zstd bodies",
    "httpx-legacy": "legacy httpx layout",
    "parsed-body": "parsed_body mappings",
    "istr": "multidict istr header tags",
    "no-request-headers": "requests without headers",
    "stale-content-encoding": "content-encoding on decoded bodies",
}
SERIALIZERS = {
    "pytest-llmops": "pytest-llmops YAML",
    "vcrpy": "vcrpy YAML",
    "vcrpy-json": "vcrpy JSON",
    "pydantic-ai": "pydantic-ai YAML",
}


def max_bytes() -> int:
    value = os.environ.get("PYTEST_LLMOPS_MAX_CASSETTE_MB")
    if value:
        try:
            return int(float(value) * 1024 * 1024)
        except ValueError:
            pass
    return MAX_CASSETTE_BYTES


@dataclass(frozen=True)
class Format:
    """What a cassette file was: its serializer and the peculiarities found in it."""

    serializer: str = "vcrpy"
    features: frozenset[str] = frozenset()

    @property
    def native(self) -> bool:
        """Written the way pytest-llmops writes (a ``--convert`` would change nothing of substance)."""
        return self.serializer == "pytest-llmops" and not self.features

    def __str__(self) -> str:
        notes = [text for key, text in FEATURES.items() if key in self.features]
        name = SERIALIZERS.get(self.serializer, self.serializer)
        return f"{name} ({', '.join(notes)})" if notes else name

    def to_json(self) -> dict[str, Any]:
        return {"serializer": self.serializer, "features": sorted(self.features), "label": str(self)}


@dataclass
class Loaded:
    """A cassette file read: canonical interactions (see ``normalise_interaction``), the document's
    other top-level keys, and its format."""

    path: Path
    interactions: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    format: Format = field(default_factory=Format)


def is_cassette_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".yaml", ".yml", ".yaml.gz", ".yml.gz", ".json", ".json.gz"))


# -- the file --------------------------------------------------------------------------------------
def _read_bytes(path: Path, notes: set[str]) -> bytes:
    limit = max_bytes()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc.strerror or exc}") from None
    if size > limit:
        raise CassetteError(
            f"cassette {path} is {_human(size)}, over the {_human(limit)} limit for a cassette; it was not read.\n"
            f"A recording this large is not a cassette of provider calls: point the test at the right file, or "
            f"raise the limit with PYTEST_LLMOPS_MAX_CASSETTE_MB."
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc.strerror or exc}") from None
    if len(raw) > limit:  # grew while we looked
        raise CassetteError(f"cassette {path} is over the {_human(limit)} limit for a cassette; it was not read.")
    if raw[:2] == _GZIP_MAGIC:
        notes.add("gzip-file")
        raw = _gunzip_file(raw, path, limit)
    elif path.suffix == ".gz":
        raise CassetteError(f"cassette {path} is not a valid gzip file (it does not start with gzip's magic bytes).\n"
                            f"{_REDO}")
    return raw


def _gunzip_file(raw: bytes, path: Path, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise CassetteError(
                f"cassette {path} inflates to over the {_human(limit)} limit for a cassette; it was not read.\n"
                f"Raise the limit with PYTEST_LLMOPS_MAX_CASSETTE_MB if the file is genuine."
            )
        if not inflater.eof:
            raise CassetteError(f"cassette {path} is a truncated gzip file (it ends before the compressed data "
                                f"does).\n{_REDO}")
    except zlib.error as exc:
        raise CassetteError(f"cassette {path} is not a valid gzip file: {exc}.\n{_REDO}") from None
    return out


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"  # pragma: no cover


# -- parsing ---------------------------------------------------------------------------------------
_LOADERS: dict[int, Any] = {}


def _loader() -> Any:
    """A safe YAML loader (libyaml's when present) that also reads the Python tags vcrpy wrote."""
    import yaml

    cached = _LOADERS.get(id(yaml))
    if cached is not None:
        return cached
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class CassetteLoader(base):  # type: ignore[misc, valid-type]
        """Safe loading, plus: ``python/str``, ``python/unicode``, ``python/tuple`` (vcrpy wrote
        them) and multidict's ``istr`` (aiohttp header names), all as plain data."""

        istr_seen = False

    def plain_str(loader: Any, node: Any) -> str:
        return str(loader.construct_scalar(node))

    def plain_tuple(loader: Any, node: Any) -> list[Any]:
        return list(loader.construct_sequence(node))

    def multidict(loader: Any, suffix: str, node: Any) -> str:
        if not suffix.endswith("istr"):
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported Python tag !!python/object/apply:multidict.{suffix}", node.start_mark
            )
        loader.istr_seen = True
        if isinstance(node, yaml.SequenceNode):
            args = loader.construct_sequence(node)
        elif isinstance(node, yaml.MappingNode):
            args = loader.construct_mapping(node).get("args") or [""]
        else:
            args = [loader.construct_scalar(node)]
        return str(args[0]) if args else ""

    CassetteLoader.add_constructor("tag:yaml.org,2002:python/str", plain_str)
    CassetteLoader.add_constructor("tag:yaml.org,2002:python/unicode", plain_str)
    CassetteLoader.add_constructor("tag:yaml.org,2002:python/tuple", plain_tuple)
    CassetteLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:multidict.", multidict)
    _LOADERS[id(yaml)] = CassetteLoader
    return CassetteLoader


def _parse(raw: bytes, path: Path, notes: set[str]) -> Any:
    import yaml

    if b"\x00" in raw[:4096]:
        raise CassetteError(
            f"{path} is not a cassette: it holds binary data, not YAML or JSON text.\n"
            f"Point the test at the cassette file, or delete this one and re-record with --llm-live."
        )
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            data = json.loads(raw)
        except ValueError:
            pass
        except RecursionError:
            raise CassetteError(f"cassette {path} nests too deeply to be read; it is not a cassette.\n{_REDO}") from None
        else:
            notes.add("json")
            return data
    loader_class = _loader()
    try:
        loader = loader_class(raw)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.constructor.ConstructorError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise CassetteError(
            f"cassette {where} uses a YAML tag that is refused for safety ({exc.problem}).\n"
            f"Only plain data, !!binary and the Python string/tuple/istr tags vcrpy wrote are read; nothing "
            f"in a cassette is ever executed. Re-record the file, or rewrite that value as plain YAML."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CassetteError(f"cassette {where} is not valid YAML ({problem}).\n{_REDO}") from None
    except (RecursionError, MemoryError):
        raise CassetteError(f"cassette {path} nests too deeply to be read; it is not a cassette.\n{_REDO}") from None
    if loader.istr_seen:
        notes.add("istr")
    _check_expansion(data, path)
    return data


def _check_expansion(data: Any, path: Path) -> None:
    """Refuse documents whose aliases multiply their size (billion laughs) or point at themselves.

    Cost of a value: 1 per node plus the length of its strings. Shared (aliased) values count once in
    ``unique`` and once per reference in ``expanded``; both are computed with one visit per object.
    """
    expanded_cost: dict[int, int] = {}
    unique = 0
    active: set[int] = set()

    def leaf(value: Any) -> int:
        return 1 + len(value) // 16 if isinstance(value, (str, bytes)) else 1

    def visit(value: Any) -> int:
        nonlocal unique
        key = id(value)
        known = expanded_cost.get(key)
        if known is not None:
            return known
        if key in active:
            raise CassetteError(f"cassette {path} holds a YAML alias that refers to itself; it is not a cassette.\n"
                                f"{_REDO}")
        active.add(key)
        total = own = 1
        children = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                total += visit(child)
            else:
                cost = leaf(child)
                total += cost
                own += cost
        active.discard(key)
        unique += own
        expanded_cost[key] = total
        return total

    try:
        expanded = visit(data) if isinstance(data, (dict, list)) else 1
    except RecursionError:
        raise CassetteError(f"cassette {path} nests too deeply to be read; it is not a cassette.\n{_REDO}") from None
    if expanded > MAX_EXPANSION * unique + _EXPANSION_SLACK:
        raise CassetteError(
            f"cassette {path} was refused: its YAML aliases expand it {expanded // max(unique, 1)}-fold "
            f"(a 'billion laughs' bomb?).\nRecorders never write such aliases; re-record the file with --llm-live."
        )


# -- the document ----------------------------------------------------------------------------------
def _serializer(data: Any, path: Path, notes: set[str]) -> str:
    if isinstance(data, dict) and isinstance(data.get("interactions"), list):
        recorded_with = data.get("recorded_with")
        if (isinstance(recorded_with, dict) and "pytest-llmops" in recorded_with) or "converted_from" in data:
            return "pytest-llmops"
        if any(isinstance(i, dict) and any(isinstance(part, dict) and "parsed_body" in part for part in i.values())
               for i in data["interactions"]):
            return "pydantic-ai"
        return "vcrpy-json" if "json" in notes else "vcrpy"
    if isinstance(data, dict) and "http_interactions" in data:
        recorder = data.get("recorded_with") or "Ruby VCR / Betamax"
        raise CassetteError(
            f"{path} was written by an unknown serializer ({recorder}: 'http_interactions' layout), not vcrpy.\n"
            f"pytest-llmops reads vcrpy YAML/JSON and pydantic-ai cassettes; re-record it with --llm-live."
        )
    if isinstance(data, list) and data and isinstance(data[0], dict) and "request" in data[0]:
        raise CassetteError(
            f"{path} is a cassette of vcrpy before 1.0 (a bare list of interactions), an unknown serializer now.\n"
            f"Migrate it with `python -m vcr.migration {path}` or re-record it with --llm-live."
        )
    if isinstance(data, dict) and "interactions" in data:
        raise CassetteError(
            f"{path} is not a cassette: its 'interactions' is a {type(data['interactions']).__name__}, "
            f"expected a list (vcrpy format).\n{_REDO}"
        )
    found = f" (found {type(data).__name__}" + (f" with keys {', '.join(map(str, list(data)[:5]))})" if
                                                isinstance(data, dict) else ")")
    raise CassetteError(
        f"{path} is not a cassette: expected a mapping with an 'interactions' list (vcrpy format){found}.\n"
        f"Delete it and re-record with --llm-live, or point the test at the right file."
    )


@dataclass
class Raw:
    """A cassette document as parsed, before normalisation (what ``--fix`` edits in place)."""

    path: Path
    data: dict[str, Any]
    serializer: str
    notes: set[str]
    gzipped: bool  # the file is gzip-compressed
    json: bool  # the document is JSON (vcrpy's JSON serializer)


def read_raw(path: Path) -> Raw:
    """Read and parse a cassette file, and say which serializer wrote it; no normalisation."""
    path = Path(path)
    notes: set[str] = set()
    raw = _read_bytes(path, notes)
    data = _parse(raw, path, notes)
    if data is None or (isinstance(data, str) and not data.strip()):
        data = {"interactions": []}
    serializer = _serializer(data, path, notes)
    return Raw(path, data, serializer, notes, "gzip-file" in notes, "json" in notes)


def load(path: Path) -> Loaded:
    """Read a cassette in any supported format. Raises ``CassetteError`` naming the file."""
    raw = read_raw(path)
    path, data, serializer, notes = raw.path, raw.data, raw.serializer, set(raw.notes)
    interactions = []
    for i, item in enumerate(data["interactions"]):
        try:
            interactions.append(normalise_interaction(item, notes))
        except MissingDecoder as exc:
            raise CassetteError(f"cassette {path}: interaction #{i + 1}: {exc}.") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CassetteError(f"cassette {path}: interaction #{i + 1} is malformed ({detail}).\n{_REDO}") from None
    notes.discard("json")
    meta = {k: v for k, v in data.items() if k != "interactions"}
    return Loaded(path, interactions, meta, Format(serializer, frozenset(notes)))


# -- one interaction -------------------------------------------------------------------------------
def normalise_interaction(data: Any, notes: set[str] | None = None) -> dict[str, Any]:
    """One interaction, whatever its layout, as canonical vcrpy data with decoded bodies::

        {"request": {"method", "uri", "headers": {name: [values]}, "body": str | bytes},
         "response": {"status": {"code", "message"}, "headers": {...}, "body": {"string": str | bytes}},
         "latency_ms": float (if recorded)}

    Header names are lower-cased. A compressed body is decompressed and its ``content-encoding`` /
    ``content-length`` headers dropped (they described the bytes on the wire, not the text kept).
    ``notes`` collects what was found (see ``FEATURES``).
    """
    notes = set() if notes is None else notes
    if not isinstance(data, dict) or "request" not in data or "response" not in data:
        raise ValueError("an interaction needs a 'request' and a 'response'")
    req, resp = data["request"], data["response"]
    if not isinstance(req, dict) or not isinstance(resp, dict):
        raise TypeError("'request' and 'response' must be mappings")
    request_headers = _headers(req.get("headers"))
    if not request_headers:
        notes.add("no-request-headers")
    if "parsed_body" in req:
        notes.add("parsed-body")
        request_body: str | bytes = _dump_json(req["parsed_body"])
    else:
        request_body = _request_body(req.get("body"), request_headers, notes)

    if "status_code" in resp or ("content" in resp and "body" not in resp):
        notes.add("httpx-legacy")
        status_code, message, raw_body = resp.get("status_code", 200), "", resp.get("content")
    else:
        status = resp.get("status", {})
        status_code = status.get("code", 200) if isinstance(status, dict) else status
        message = status.get("message", "") if isinstance(status, dict) else ""
        raw_body = resp.get("body")
    response_headers = _headers(resp.get("headers"))
    if "parsed_body" in resp:
        notes.add("parsed-body")
        raw_body = _dump_json(resp["parsed_body"])
    response_body = _response_body(raw_body, response_headers, notes)
    if "content-type" not in response_headers and response_body:
        guessed = _content_type(response_body)
        if guessed:
            response_headers["content-type"] = [guessed]
    out: dict[str, Any] = {
        "request": {
            "method": str(req["method"]).upper(),
            "uri": str(req["uri"]),
            "headers": request_headers,
            "body": request_body,
        },
        "response": {
            "status": {"code": int(status_code), "message": str(message or "")},
            "headers": response_headers,
            "body": {"string": response_body},
        },
    }
    if data.get("latency_ms") is not None:
        out["latency_ms"] = float(data["latency_ms"])
    if isinstance(data.get("episode"), int) and not isinstance(data["episode"], bool):
        out["episode"] = data["episode"]  # the repetition of a repeated test that made the call
    return out


def _headers(raw: Any) -> dict[str, list[str]]:
    if not raw:
        return {}
    if isinstance(raw, list):  # [[name, value], ...]
        pairs = []
        for pair in raw:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise TypeError("headers must be a mapping or a list of [name, value] pairs")
            pairs.append((pair[0], pair[1]))
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise TypeError(f"headers must be a mapping, found {type(raw).__name__}")
    out: dict[str, list[str]] = {}
    for name, values in pairs:
        values = values if isinstance(values, list) else [values]
        out.setdefault(str(name).lower(), []).extend(_text_value(v) for v in values)
    return out


def _text_value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _dump_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def _request_body(body: Any, headers: dict[str, list[str]], notes: set[str]) -> str | bytes:
    if body is None:
        return ""
    if isinstance(body, dict):
        if "string" in body:  # {"string": ...} as some recorders wrote request bodies
            body = body["string"]
        else:  # a parsed mapping
            return _dump_json(body)
    elif isinstance(body, list):
        return _dump_json(body)
    if isinstance(body, bytes):
        notes.add("binary")
        body = _decode(body, _encodings(headers), notes)
    return body if isinstance(body, (str, bytes)) else str(body)


def _response_body(raw: Any, headers: dict[str, list[str]], notes: set[str]) -> str | bytes:
    body = raw.get("string", "") if isinstance(raw, dict) and "string" in raw else raw
    if body is None:
        body = ""
    elif isinstance(body, (dict, list)):
        body = _dump_json(body)
    encodings = _encodings(headers)
    if isinstance(body, bytes):
        notes.add("binary")
        body = _decode(body, encodings, notes)
    elif encodings and body:  # text a tool already decompressed, the header kept: it describes nothing now
        notes.add("stale-content-encoding")
    for name in ("content-encoding", "content-length"):
        headers.pop(name, None)
    return body if isinstance(body, (str, bytes)) else str(body)


def _encodings(headers: dict[str, list[str]]) -> list[str]:
    """The ``content-encoding`` tokens, in the order they were applied."""
    tokens = [e.strip().lower() for value in headers.get("content-encoding", []) for e in value.split(",")]
    return [e for e in tokens if e and e != "identity"]


def _decode(body: bytes, encodings: list[str], notes: set[str]) -> str | bytes:
    """Bytes as text: decompressed per ``content-encoding`` (outermost last) or magic bytes."""
    for encoding in reversed(encodings):
        decoded = decompress(body, encoding)
        if decoded is not None:
            notes.add(encoding if encoding in FEATURES else "binary")
            body = decoded
    if body[:2] == _GZIP_MAGIC or body[:4] == _ZSTD_MAGIC:  # compressed, the header dropped
        encoding = "gzip" if body[:2] == _GZIP_MAGIC else "zstd"
        decoded = decompress(body, encoding)
        if decoded is not None:
            notes.add(encoding)
            body = decoded
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def decompress(body: bytes, encoding: str) -> bytes | None:
    """``body`` decompressed per one ``content-encoding`` token, or ``None`` if it is not that."""
    limit = max_bytes()
    try:
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out = inflater.decompress(body, limit)
            return out if inflater.eof else None
        if encoding == "deflate":
            try:
                return zlib.decompressobj().decompress(body, limit)
            except zlib.error:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, limit)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]

            decompressor = brotli.Decompressor()
            out = decompressor.process(body, output_buffer_limit=limit + 1)
            return bytes(out) if len(out) <= limit and decompressor.is_finished() else None
        if encoding == "zstd":
            import io

            import zstandard  # type: ignore[import-not-found]

            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)) as reader:
                out = reader.read(limit + 1)
            return out if len(out) <= limit else None
    except ImportError:
        raise MissingDecoder(encoding) from None
    except Exception:  # noqa: BLE001 - zlib.error, brotli.error, ZstdError...: "not that encoding"
        return None
    return None


class MissingDecoder(Exception):
    """A body is compressed with brotli or zstd and the package that reads it is not installed."""

    PACKAGES: ClassVar[dict[str, tuple[str, str]]] = {"br": ("brotli", "brotli"), "zstd": ("zstd", "zstandard")}

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        name, package = self.PACKAGES.get(encoding, (encoding, encoding))
        super().__init__(f"a body is {name}-compressed and the '{package}' package is not installed: "
                         f"pip install 'pytest-llmops[compression]'")


def _content_type(body: str | bytes) -> str | None:
    text = body.lstrip()[:64] if isinstance(body, str) else ""
    if text[:1] in ("{", "["):
        return "application/json"
    if text.startswith(("event:", "data:")):
        return "text/event-stream"
    return None

