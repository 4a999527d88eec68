"""Replay a recorded cassette through today's SDKs: turn each recorded request back into the SDK call
that makes it, and see whether the recording answers that call.

Used by tests/test_formats.py (the shared real corpus) and bench/corpus.py (the figures). Each
recorded request to api.openai.com / api.anthropic.com becomes a call of the SDK method that sends it
(``chat.completions.create``, ``responses.create``, ``embeddings.create``, ``messages.create``,
``beta.messages.create`` for ``?beta=true``, ...), with the recorded JSON body as arguments (fields the
method does not name go in ``extra_body``), streamed when the body says ``"stream": true``. Endpoints
with no dedicated method go through the client's own ``post`` / ``get``. So the SDK builds each request
itself, as an application's call would: today's defaults, key order and paths included.

An interaction counts as replayed when the call returns what the recording says: a parsed answer, or
the SDK's ``APIStatusError`` with the recorded status.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anthropic
import openai

from pytest_llmops.matching import parse_body

HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}
DEAD = "http://127.0.0.1:9"


@dataclass
class Outcome:
    replayed: bool
    why: str = ""  # for a failure: the exception


@dataclass
class FileResult:
    path: Path
    outcomes: list[Outcome] = field(default_factory=list)
    load_error: str = ""
    drift: list[Any] = field(default_factory=list)
    targets: int = 0

    @property
    def replayed(self) -> int:
        return sum(o.replayed for o in self.outcomes)


def target(uri: str) -> str | None:
    return HOSTS.get(urlsplit(uri).hostname or "")


def _split(method: Any, data: dict[str, Any]) -> dict[str, Any]:
    names = set(inspect.signature(method).parameters)
    kwargs = {k: v for k, v in data.items() if k in names and k not in ("extra_body", "extra_headers")}
    extra = {k: v for k, v in data.items() if k not in kwargs}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def _consume(result: Any) -> Any:
    if isinstance(result, (openai.Stream, anthropic.Stream)):
        return [event for event in result]
    return result


def _resource(provider: str, client: Any, verb: str, path: str, beta: bool) -> Any:
    if verb != "POST":
        return None
    if provider == "openai":
        return {
            "/chat/completions": client.chat.completions.create,
            "/responses": client.responses.create,
            "/responses/input_tokens": client.responses.input_tokens.count,
            "/embeddings": client.embeddings.create,
            "/completions": client.completions.create,
            "/images/generations": client.images.generate,
            "/moderations": client.moderations.create,
        }.get(path)
    messages = client.beta.messages if beta else client.messages
    return {
        "/messages": messages.create,
        "/messages/count_tokens": messages.count_tokens,
        "/messages/batches": messages.batches.create,
    }.get(path)


def call(clients: dict[str, Any], method: str, uri: str, body: str | bytes, headers: dict[str, list[str]]) -> Any:
    """Make, through the SDK, the call that sent this recorded request."""
    provider = target(uri)
    assert provider is not None
    client = clients[provider]
    parts = urlsplit(uri)
    path = parts.path[3:] if parts.path.startswith("/v1/") else parts.path
    query = dict(parse_qsl(parts.query))
    beta = query.pop("beta", None) == "true"
    data = parse_body(body)
    resource = _resource(provider, client, method.upper(), path, beta)
    if resource is not None and isinstance(data, dict):
        kwargs = _split(resource, data)
        if beta and "betas" in inspect.signature(resource).parameters:
            betas = [b.strip() for v in headers.get("anthropic-beta", []) for b in v.split(",") if b.strip()]
            if betas:
                kwargs["betas"] = betas
        return _consume(resource(**kwargs))
    options: dict[str, Any] = {"params": query} if query else {}
    if provider == "anthropic":
        path = parts.path  # the Anthropic client's base URL has no /v1
        if beta:
            betas = ",".join(headers.get("anthropic-beta", [])) or "files-api-2025-04-14"
            options["headers"] = {"anthropic-beta": betas}
    verb = method.upper()
    if verb == "GET":
        return client.get(path, cast_to=object, options=options)
    if verb == "DELETE":
        return client.delete(path, cast_to=object, options=options)
    if isinstance(data, (dict, list)):
        return client.post(path, cast_to=object, body=data, options=options)
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    content_type = headers.get("content-type", ["application/octet-stream"])[0]
    if content_type.startswith("multipart/form-data"):  # the SDK builds it again, with its own boundary
        fields, files = _multipart(raw)
        options.setdefault("headers", {})["Content-Type"] = "multipart/form-data"
        return client.post(path, cast_to=object, body=fields, files=files, options=options)
    options.setdefault("headers", {})["Content-Type"] = content_type
    return client.post(path, cast_to=object, content=raw, options=options)


def _multipart(raw: bytes) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """The form fields and files of a recorded multipart/form-data body."""
    boundary = raw[2:].split(b"\r\n", 1)[0]
    fields: dict[str, str] = {}
    files: list[tuple[str, Any]] = []
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part[2:].partition(b"\r\n\r\n")
        content = content[:-2] if content.endswith(b"\r\n") else content
        params = {}
        ctype = "application/octet-stream"
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "content-disposition":
                for item in value.split(";")[1:]:
                    key, _, val = item.strip().partition("=")
                    params[key] = val.strip('"')
            elif name.lower() == "content-type":
                ctype = value.strip()
        if "filename" in params:
            files.append((params["name"], (params["filename"], content, ctype)))
        else:
            fields[params.get("name", "")] = content.decode("utf-8", "replace")
    return fields, files


_CLIENTS: dict[str | None, dict[str, Any]] = {}


def clients(base: str | None = None) -> dict[str, Any]:
    """One pair of clients per base URL (building one loads the CA bundle, ~75 ms)."""
    if base not in _CLIENTS:
        _CLIENTS[base] = _build(base)
    return _CLIENTS[base]


def _build(base: str | None) -> dict[str, Any]:
    return {
        "openai": openai.OpenAI(api_key="sk-replay", base_url=(base or "https://api.openai.com") + "/v1", max_retries=0),
        "anthropic": anthropic.Anthropic(api_key="sk-ant-replay", base_url=base or "https://api.anthropic.com",
                                         max_retries=0),
    }


def _attempt(sdk: dict[str, Any], interaction: Any) -> Outcome:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # recorded models that are deprecated now
            call(sdk, interaction.method, interaction.uri, interaction.request_body, interaction.request_headers)
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        if exc.status_code == interaction.status:
            return Outcome(True)
        return Outcome(False, f"{type(exc).__name__} {exc.status_code}, recorded {interaction.status}")
    except Exception as exc:  # noqa: BLE001 - every failure is a result here
        return Outcome(False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    if interaction.status >= 400:
        return Outcome(False, f"no error raised, recorded {interaction.status}")
    return Outcome(True)


@contextlib.contextmanager
def _plugin(path: Path, data: Any) -> Iterator[Any]:
    import pytest

    from pytest_llmops.cassette import Cassette
    from pytest_llmops.transport import Interceptor

    cassette = Cassette(path, recording=False, data=data, record_command="pytest --llm-live")
    monkeypatch = pytest.MonkeyPatch()
    try:
        Interceptor(cassette).install(monkeypatch)
        yield cassette
    finally:
        monkeypatch.undo()


def replay_with_plugin(path: Path, *, use_drift: bool = True) -> FileResult:
    """Replay every OpenAI/Anthropic interaction of ``path`` through pytest-llmops (host ignored)."""
    from pytest_llmops import drift as drift_module
    from pytest_llmops.cassette import load_cassette
    from pytest_llmops.errors import CassetteError

    result = FileResult(path)
    try:
        data = load_cassette(path)
    except CassetteError as exc:
        result.load_error = str(exc)
        return result
    wanted = [i for i in data.interactions if target(i.uri)]
    result.targets = len(wanted)
    sdk = clients(DEAD)
    saved = drift_module.RULES
    if not use_drift:
        drift_module.RULES = ()
    try:
        with _plugin(path, data) as cassette:
            result.outcomes = [_attempt(sdk, i) for i in wanted]
            result.drift = list(cassette.drift)
    finally:
        drift_module.RULES = saved
    return result


def replay_with_vcrpy(path: Path) -> FileResult:
    """Replay the same calls through plain vcrpy (its own loader), matching on the body too."""
    import vcr

    from pytest_llmops.cassette import load_cassette
    from pytest_llmops.errors import CassetteError

    result = FileResult(path)
    try:
        data = load_cassette(path)  # only to know which calls to make
    except CassetteError as exc:
        result.load_error = str(exc)
        return result
    wanted = [i for i in data.interactions if target(i.uri)]
    result.targets = len(wanted)
    recorder = vcr.VCR(record_mode="none", match_on=["method", "scheme", "host", "port", "path", "query", "body"],
                       decode_compressed_response=False)
    sdk = clients()
    try:
        with recorder.use_cassette(str(path)):
            result.outcomes = [_attempt(sdk, i) for i in wanted]
    except Exception as exc:  # noqa: BLE001 - vcrpy refusing the file is a result
        result.load_error = f"{type(exc).__name__}: {exc}"
        result.outcomes = [Outcome(False, "vcrpy could not load the cassette") for _ in wanted]
    return result
