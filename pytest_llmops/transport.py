"""The seam between the SDKs and the cassette: ``httpx2``'s transports, patched for one test.

Both SDKs send every request through ``httpx2.HTTPTransport.handle_request`` (sync) or
``httpx2.AsyncHTTPTransport.handle_async_request`` (async). While a test's cassette is active those two
methods are replaced (through ``pytest.MonkeyPatch``, undone at teardown), so the real SDK builds the
request, parses the response, runs its retries and raises its own exceptions, and only the network is
swapped for the cassette:

* replay: the request is looked up in the cassette's index and the recorded response is returned;
  nothing reaches the network, whatever the URL.
* live: the request goes out through the original transport; the response is read whole, decoded,
  scrubbed and recorded, and handed to the SDK.

In replay the SDKs' retry back-off is set to zero, so a recorded 429 or 5xx retries at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .cassette import Cassette, Interaction, provider_of
from .errors import LiveModeError, sdk_compatible
from .matching import parse_body
from .scrubbing import Scrubber
from .settings import KEY_VARIABLES, MISSING_KEY

if TYPE_CHECKING:
    import httpx2
    import pytest

__all__ = ["Exchange", "Interceptor", "scrubbed_interaction"]


@dataclass
class Exchange:
    """One provider call as the plugin saw it: what the per-call log and usage are built from."""

    interaction: Interaction
    replayed: bool
    latency_ms: float
    substituted_model: tuple[str, str] | None = None  # (asked for, sent) under --llm-model
    test: str = ""  # node id of the test that made the call
    prompt: dict[str, str] | None = None  # lineage of the prompt in use when the call was made
    ts: float = field(default_factory=time.time)

    @property
    def provider(self) -> str:
        return self.interaction.provider

    @property
    def model(self) -> str | None:
        """The model the request asked for (after any ``--llm-model`` substitution)."""
        data = parse_body(self.interaction.request_body)
        model = data.get("model") if isinstance(data, dict) else None
        return model if isinstance(model, str) else None


class Interceptor:
    """Routes the patched transports' requests to one test's cassette."""

    def __init__(
        self,
        cassette: Cassette,
        *,
        filter_headers: tuple[str, ...] = (),
        model_map: dict[str, str] | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.cassette = cassette
        self.filter_headers = filter_headers
        self.model_map = model_map or {}
        self.on_exchange = on_exchange
        #: Called before each request with (request); may return a response to serve instead
        #: (fault injection) or raise. ``None`` when nothing intercepts.
        self.before_request: Callable[[httpx2.Request], httpx2.Response | None] | None = None
        #: Send checks: called with (request) just before a request goes out to the real provider
        #: (live only, never on replay); raise to stop it (``--llm-budget``). Each refusal is kept in
        #: ``refused``, and a test with a refusal never saves its recording (``LLMSession._finish``).
        self.send_checks: list[Callable[[httpx2.Request], None]] = []
        self.refused: list[BaseException] = []

    # -- installing ----------------------------------------------------------------------------
    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import httpx2

        original_sync = httpx2.HTTPTransport.handle_request
        original_async = httpx2.AsyncHTTPTransport.handle_async_request
        interceptor = self

        def handle_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
            return interceptor.handle(request, lambda req: original_sync(transport, req))

        async def handle_async_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
            return await interceptor.handle_async(request, lambda req: original_async(transport, req))

        monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle_request)
        monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", handle_async_request)
        if not self.cassette.recording:
            no_backoff(monkeypatch)

    # -- the two paths -------------------------------------------------------------------------
    def handle(self, request: httpx2.Request, send: Callable[[httpx2.Request], httpx2.Response]) -> httpx2.Response:
        __tracebackhide__ = True
        request, substituted, answered = self._without_network(request)
        if answered is not None:
            return answered
        started = time.perf_counter()
        response = send(request)
        try:
            body = response.read()
        finally:
            response.close()
        return self._recorded(request, response, body, started, substituted)

    async def handle_async(self, request: httpx2.Request, send: Callable[[httpx2.Request], Any]) -> httpx2.Response:
        __tracebackhide__ = True
        request, substituted, answered = self._without_network(request)
        if answered is not None:
            return answered
        started = time.perf_counter()
        response = await send(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return self._recorded(request, response, body, started, substituted)

    def _without_network(
        self, request: httpx2.Request
    ) -> tuple[httpx2.Request, tuple[str, str] | None, httpx2.Response | None]:
        """Everything before the network, shared by the sync and async paths: the model substitution,
        an injected fault, the replayed response; or, live, the checks that must pass before sending."""
        __tracebackhide__ = True
        request, substituted = self._substitute(request)
        if self.before_request is not None:
            injected = self.before_request(request)
            if injected is not None:
                return request, substituted, injected
        if not self.cassette.recording:
            return request, substituted, self._replay(request, substituted)
        self._check_credentials(request)
        self._run_send_checks(request)
        return request, substituted, None

    def _replay(self, request: httpx2.Request, substituted: tuple[str, str] | None) -> httpx2.Response:
        __tracebackhide__ = True
        import httpx2

        started = time.perf_counter()
        interaction = self.cassette.play(request.method, str(request.url), request.read())
        body = interaction.response_body
        response = httpx2.Response(
            interaction.status,
            headers=interaction.replay_headers,
            content=body.encode("utf-8") if isinstance(body, str) else body,
            request=request,
        )
        if self.on_exchange is not None:
            self.on_exchange(Exchange(interaction, True, (time.perf_counter() - started) * 1000, substituted))
        return response

    def _recorded(
        self,
        request: httpx2.Request,
        response: httpx2.Response,
        body: bytes,
        started: float,
        substituted: tuple[str, str] | None,
    ) -> httpx2.Response:
        import httpx2

        latency = (time.perf_counter() - started) * 1000
        interaction = self._scrubbed(request, response, body, latency)
        self.cassette.record(interaction)
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        served = httpx2.Response(response.status_code, headers=headers, content=body, request=request,
                                 extensions={k: v for k, v in response.extensions.items()
                                             if k in ("http_version", "reason_phrase")})
        if self.on_exchange is not None:
            self.on_exchange(Exchange(interaction, False, latency, substituted))
        return served

    # -- helpers -------------------------------------------------------------------------------
    def _scrubbed(self, request: httpx2.Request, response: httpx2.Response, body: bytes, latency: float) -> Interaction:
        return scrubbed_interaction(
            request.method, str(request.url), request.headers.multi_items(), request.content,
            response.status_code, response.reason_phrase, response.headers.multi_items(), body, latency,
            filter_headers=self.filter_headers,
        )

    def _run_send_checks(self, request: httpx2.Request) -> None:
        __tracebackhide__ = True
        for check in self.send_checks:
            try:
                check(request)
            except BaseException as exc:
                self.refused.append(exc)
                raise

    def _check_credentials(self, request: httpx2.Request) -> None:
        __tracebackhide__ = True
        headers = request.headers
        credential = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer").strip()
        if credential and MISSING_KEY not in credential:
            return
        provider = provider_of(str(request.url), headers)
        variable = KEY_VARIABLES.get(provider, "the provider's API key variable")
        raise sdk_compatible(
            LiveModeError,
            f"pytest-llmops: --llm-live calls the real {provider} API, but the request carries no API key.\n"
            f"Set {variable} in the environment, or run without --llm-live to replay the cassette.",
        )

    def _substitute(self, request: httpx2.Request) -> tuple[httpx2.Request, tuple[str, str] | None]:
        """Apply ``--llm-model OLD=NEW`` to the request body's ``model``."""
        if not self.model_map:
            return request, None
        import httpx2

        content = request.read()
        if b'"model"' not in content:
            return request, None
        try:
            data = json.loads(content)
        except ValueError:
            return request, None
        asked = data.get("model") if isinstance(data, dict) else None
        if asked not in self.model_map:
            return request, None
        data["model"] = self.model_map[asked]
        new_content = json.dumps(data).encode("utf-8")
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
        rewritten = httpx2.Request(request.method, request.url, headers=headers, content=new_content,
                                   extensions=request.extensions)
        return rewritten, (asked, data["model"])


def scrubbed_interaction(
    method: str,
    url: str,
    request_headers: Iterable[tuple[str, str]],
    request_body: bytes,
    status: int,
    reason: str,
    response_headers: Iterable[tuple[str, str]],
    response_body: bytes,
    latency_ms: float | None,
    *,
    filter_headers: Iterable[str] = (),
) -> Interaction:
    """THE way one exchange becomes a scrubbed ``Interaction`` (what is written to disk): recording here,
    production capture (``capture``) and shadow calls (``shadow``) all go through it. ``response_body``
    is the decoded body (no content-encoding)."""
    request_headers, response_headers = list(request_headers), list(response_headers)
    scrubber = Scrubber(filter_headers)
    scrubber.learn_headers(request_headers)
    scrubber.learn_headers(response_headers)
    return Interaction(
        method=method,
        uri=scrubber.url(url),
        request_headers=scrubber.request_headers(request_headers),
        request_body=_scrub_body(scrubber, request_body),
        status=status,
        reason=reason,
        response_headers=scrubber.response_headers(response_headers),
        response_body=_scrub_body(scrubber, response_body),
        latency_ms=latency_ms,
    )


def _scrub_body(scrubber: Scrubber, body: bytes) -> str | bytes:
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    return scrubber.body(text)


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the SDKs' retries wait 0 s (replayed and injected errors must not sleep for real)."""
    import sys

    for module in ("openai._base_client", "anthropic._base_client"):
        base_client = sys.modules.get(module)
        if base_client is not None and hasattr(base_client, "BaseClient"):
            current = base_client.BaseClient.__dict__.get("_calculate_retry_timeout")
            if current is not None and current is not _zero_wait:
                ORIGINAL_RETRY_TIMEOUT.setdefault(module, current)  # llm_faults records the SDK's waits
            monkeypatch.setattr(base_client.BaseClient, "_calculate_retry_timeout", _zero_wait)


#: The SDKs' own ``BaseClient._calculate_retry_timeout`` by module, kept when ``no_backoff`` replaces it.
ORIGINAL_RETRY_TIMEOUT: dict[str, Any] = {}


def _zero_wait(self: Any, remaining_retries: int, options: Any, response_headers: Any = None) -> float:
    return 0.0
