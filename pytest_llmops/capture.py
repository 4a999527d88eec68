"""Production capture: record a sample of an application's real SDK calls, scrubbed, to rotating files.

    import pytest_llmops

    with pytest_llmops.capture("captures/", sample=0.05):      # a context manager ...
        serve()

    pytest_llmops.capture.install("captures/", sample=0.05)    # ... or an install/uninstall pair
    ...
    pytest_llmops.capture.uninstall()

    with pytest_llmops.capture.tag(question=question, user_tier="pro"):   # app-level inputs, kept with
        assistant.ask(question)                                          # the calls made inside

The module itself is callable (``capture(path, ...)`` is ``Capture(path, ...)``, a context manager), so
``pytest_llmops.capture`` is both the function and the namespace of ``install`` / ``uninstall`` / ``tag``.

How it stays out of the application's way
-----------------------------------------
* It wraps ``httpx2.HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request`` (the
  seam both SDKs send through, as ``transport`` does for tests). A call that is not sampled goes
  straight to the real transport: the cost is one random draw.
* A sampled call gets the real response, untouched, with one change: its byte stream is a *tee* that
  hands every chunk to the application as it arrives and keeps a reference to it. Nothing is buffered
  ahead of the application and nothing is re-read, so streaming behaves exactly as without capture
  (chunk timing, early close, errors mid-stream). When the application has read the body to its end
  and closed it, the chunks are queued. A body the application never finishes (it stops reading a
  stream half-way, or the connection drops) is not captured: it would not replay as a whole answer.
* The call path only samples and enqueues, on a bounded queue: when it is full the record is dropped
  and counted (``stats().dropped_queue_full``), never waited for. A background thread decodes
  (gzip, ...), scrubs and writes. Any failure inside capture is logged (logger
  ``pytest_llmops.capture``, rate-limited) and counted; the application's call never sees it.

What is written
---------------
Scrubbed exactly as cassettes are (``transport.scrubbed_interaction``: request headers on an
allow-list, secret response headers redacted, secret values and key-shaped tokens removed from URL and
bodies). The values given to ``tag`` are scrubbed the same way.

Files are JSON Lines, one self-contained record per line, appended:
``<path>/capture-YYYYmmdd-HHMMSS-<pid>-<n>.jsonl``. A record::

    {"format": "pytest-llmops-capture", "version": 1, "ts": "2026-11-26T10:00:00.123Z", "seq": 7,
     "sdk": {"package": "openai", "version": "3.57.0"}, "stream": false, "ttfb_ms": 412.3,
     "tags": {"question": "..."}, "interaction": {<one vcrpy cassette interaction>}}

``interaction`` is exactly what a cassette's ``interactions`` list holds, so converting a capture file to
a cassette is copying these objects into a YAML document (``to_cassette``, or ``python -m pytest_llmops
promote FILE --cassette out.yaml``).

Why JSON Lines and not a YAML cassette: a YAML document cannot be appended to atomically (its list
must be closed), so each write would rewrite the whole file, at a cost growing with the file. Here
each batch of records is one ``write()`` on a file opened for appending: when the process dies, what
is lost is what was still queued (at most ``queue_size`` records, usually a few) plus, after a power
loss, a partial last line, which readers report and skip. A file is never left unreadable. A file
is closed and a new one started before it would pass ``max_bytes``; ``max_files`` deletes the oldest.
Each process writes its own files (the pid is in the name), so several workers can share a folder.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import datetime
import json
import logging
import os
import queue
import random
import sys
import threading
import time
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "Capture",
    "CaptureError",
    "CaptureRecord",
    "CaptureSet",
    "CaptureStats",
    "Problem",
    "active",
    "install",
    "read_captures",
    "tag",
    "to_cassette",
    "uninstall",
]

CAPTURE_FORMAT = "pytest-llmops-capture"
#: Version of the record format written here; a record with a higher one is refused by readers.
CAPTURE_VERSION = 1
FILE_PREFIX = "capture-"
FILE_SUFFIX = ".jsonl"

log = logging.getLogger("pytest_llmops.capture")

_tags: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("pytest_llmops_capture_tags",
                                                                                  default=None)


class CaptureError(Exception):
    """A capture setting is wrong (raised by ``install``; nothing raised later reaches the app)."""


@dataclass(frozen=True)
class CaptureStats:
    """Counters of one capture (a snapshot): ``seen`` calls, ``sampled``, ``written`` records, and
    the records dropped on the way, by reason."""

    seen: int = 0
    sampled: int = 0
    written: int = 0
    dropped_queue_full: int = 0
    dropped_incomplete: int = 0  # the application did not read the body to its end
    dropped_too_large: int = 0  # body above max_body_bytes
    errors: int = 0  # failures inside capture (logged), each losing one record or batch
    files: tuple[str, ...] = ()

    @property
    def dropped(self) -> int:
        return self.dropped_queue_full + self.dropped_incomplete + self.dropped_too_large

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


# -- one sampled call, from the call path to the writer ----------------------------------------------
@dataclass
class _Pending:
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    started: float
    ts: float
    tags: Mapping[str, Any] | None
    status: int = 0
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    ttfb_ms: float = 0.0
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    over: bool = False
    done: bool = False
    finished: bool = False
    latency_ms: float = 0.0


class Capture:
    """Captures a sample of the SDK calls made while it is installed. Build it through ``install``
    (or ``with capture(path, ...)``); one is active at a time per process.

    ``path``: the folder of the capture files (made if missing). ``sample``: the share of calls kept
    (0..1). ``max_bytes``: size at which a file is closed and the next one started. ``max_files``: keep
    at most this many capture files of this process's naming in the folder (oldest deleted; ``None``:
    keep all). ``queue_size``: records waiting for the writer before new ones are dropped.
    ``max_body_bytes``: responses larger than this are not kept. ``filter_headers``: headers scrubbed on
    top of the built-in list (like the ``llm_filter_headers`` ini). ``tags``: added to every record
    (``{"env": "staging", "release": "1.4.2"}``). ``seed``: make the sampling reproducible.
    ``fsync``: force each batch to disk (survives power loss, costs a disk flush per batch).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample: float = 0.05,
        max_bytes: int = 8 * 1024 * 1024,
        max_files: int | None = None,
        queue_size: int = 1000,
        max_body_bytes: int = 4 * 1024 * 1024,
        filter_headers: Iterable[str] = (),
        tags: Mapping[str, Any] | None = None,
        seed: int | None = None,
        fsync: bool = False,
        flush_interval: float = 0.2,
    ) -> None:
        if isinstance(sample, bool) or not isinstance(sample, (int, float)) or not 0.0 <= sample <= 1.0:
            raise CaptureError(f"capture: sample is the share of calls kept, a number from 0 to 1; got {sample!r}")
        for name, value in (("max_bytes", max_bytes), ("queue_size", queue_size), ("max_body_bytes", max_body_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CaptureError(f"capture: {name} must be a positive number, got {value!r}")
        if max_files is not None and (isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1):
            raise CaptureError(f"capture: max_files must be a positive number or None, got {max_files!r}")
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"capture: cannot create the capture folder {self.path}: {exc.strerror or exc}") from None
        if not os.access(self.path, os.W_OK):
            raise CaptureError(f"capture: the capture folder {self.path} is not writable by this process")
        self.sample = float(sample)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.max_body_bytes = max_body_bytes
        self.filter_headers = tuple(h.lower() for h in filter_headers)
        self.tags = dict(tags or {})
        self.fsync = fsync
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._counts = {k: 0 for k in ("seen", "sampled", "written", "dropped_queue_full", "dropped_incomplete",
                                       "dropped_too_large", "errors")}
        self._files: list[str] = []
        self._seq = 0
        self._fd: int | None = None
        self._file_size = 0
        self._file_number = 0
        self._last_log = 0.0
        self._closed = False
        self._start_writer()

    def __repr__(self) -> str:
        return f"<Capture {self.path} sample={self.sample:g}>"

    # -- the call path: sample, tee, enqueue ------------------------------------------------------
    def should_sample(self) -> bool:
        with self._lock:
            self._counts["seen"] += 1
            if self.sample <= 0.0 or self._closed:
                return False
            keep = self.sample >= 1.0 or self._random.random() < self.sample
            if keep:
                self._counts["sampled"] += 1
            return keep

    def begin(self, request: Any) -> _Pending | None:
        """What is kept of a sampled request before it is sent (None: not capturable)."""
        try:
            body = request.content
        except Exception:  # noqa: BLE001 - a streaming upload that was not read: not capturable
            self._count("dropped_too_large")
            return None
        if len(body) > self.max_body_bytes:
            self._count("dropped_too_large")
            return None
        return _Pending(request.method, str(request.url), list(request.headers.multi_items()), body,
                        time.perf_counter(), time.time(), _tags.get())

    def attach(self, response: Any, pending: _Pending, asynchronous: bool = False) -> Any:
        """Give the response a stream that tees its bytes; the response is otherwise the same object."""
        pending.status = response.status_code
        pending.reason = response.reason_phrase
        pending.response_headers = list(response.headers.multi_items())
        pending.ttfb_ms = (time.perf_counter() - pending.started) * 1000
        tee = (_AsyncTee if asynchronous else _SyncTee)(response.stream, self, pending)
        response.stream = tee
        return response

    def finish(self, pending: _Pending) -> None:
        """The application closed the body: queue it if it was read whole (never blocks)."""
        if pending.finished:
            return
        pending.finished = True
        if pending.over:
            self._count("dropped_too_large")
            return
        pending.latency_ms = (time.perf_counter() - pending.started) * 1000
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            self._count("dropped_queue_full")

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def failed(self, exc: BaseException, where: str) -> None:
        """A failure inside capture: counted and logged (at most once a second), never raised."""
        self._count("errors")
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            self._last_log = now
            with contextlib.suppress(Exception):
                log.warning("pytest-llmops capture: %s failed, record dropped (%s: %s); the application's call was "
                            "not affected. Capture counters: %s", where, type(exc).__name__, exc, self.stats().to_json())

    def stats(self) -> CaptureStats:
        with self._lock:
            counts = dict(self._counts)
            files = tuple(self._files)
        return CaptureStats(**counts, files=files)

    # -- the writer thread ------------------------------------------------------------------------
    def _start_writer(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(self.queue_size)
        self._thread = threading.Thread(target=self._run, name="pytest-llmops-capture", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child (gunicorn, multiprocessing): own files, a fresh queue and writer."""
        self._lock = threading.Lock()
        self._fd = None
        self._files = []
        self._file_size = 0
        if not self._closed:
            self._start_writer()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.flush_interval)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < 256:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            records = [item for item in batch if item is not _STOP]
            try:
                self._write_batch(records)
            except BaseException as exc:  # noqa: BLE001 - the writer never dies
                self.failed(exc, "writing a batch")
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                self._close_file()
                return

    def _write_batch(self, records: Sequence[_Pending]) -> None:
        lines: list[bytes] = []
        for pending in records:
            try:
                line = self._encode(pending)
            except Exception as exc:  # noqa: BLE001
                self.failed(exc, "scrubbing a record")
                continue
            if line:
                lines.append(line)
        written = 0
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            if self._file_size + size + len(line) > self.max_bytes and (self._file_size or size):
                written += self._flush(chunk)
                chunk, size = [], 0
                self._close_file()
            chunk.append(line)
            size += len(line)
        written += self._flush(chunk)
        if written:
            self._count("written", written)

    def _flush(self, lines: list[bytes]) -> int:
        if not lines:
            return 0
        if self._fd is None:
            self._open_file()
        data = b"".join(lines)
        assert self._fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if self.fsync:
            os.fsync(self._fd)
        self._file_size += len(data)
        return len(lines)

    def _open_file(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        while True:
            self._file_number += 1
            name = f"{FILE_PREFIX}{stamp}-{os.getpid()}-{self._file_number}{FILE_SUFFIX}"
            try:
                fd = os.open(self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            break
        self._fd = fd
        self._file_size = 0
        with self._lock:
            self._files.append(str(self.path / name))
        self._prune()

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
            self._file_size = 0

    def _prune(self) -> None:
        if self.max_files is None:
            return
        current = self._files[-1] if self._files else None
        files = sorted(p for p in self.path.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}") if str(p) != current)
        for old in files[: max(0, len(files) - (self.max_files - 1))]:
            with contextlib.suppress(OSError):
                old.unlink()

    def _encode(self, pending: _Pending) -> bytes:
        from .scrubbing import Scrubber
        from .transport import scrubbed_interaction

        raw = b"".join(pending.chunks)
        pending.chunks = []
        body = _decoded(raw, pending.response_headers)
        if not pending.done and not _complete(body, pending.response_headers):
            self._count("dropped_incomplete")
            return b""
        interaction = scrubbed_interaction(
            pending.method, pending.url, pending.request_headers, pending.request_body, pending.status,
            pending.reason, pending.response_headers, body, pending.latency_ms, filter_headers=self.filter_headers,
        )
        tags = {**self.tags, **dict(pending.tags or {})}
        if tags:
            scrubber = Scrubber(self.filter_headers)
            scrubber.learn_headers(pending.request_headers)
            tags = scrubber.json_value(json.loads(json.dumps(tags, default=str)))  # type: ignore[assignment]
        self._seq += 1
        content_type = " ".join(v for k, v in pending.response_headers if k.lower() == "content-type")
        record = {
            "format": CAPTURE_FORMAT,
            "version": CAPTURE_VERSION,
            "ts": _iso(pending.ts),
            "seq": self._seq,
            "pid": os.getpid(),
            "sdk": _sdk_of(pending.request_headers),
            "stream": "text/event-stream" in content_type.lower(),
            "ttfb_ms": round(pending.ttfb_ms, 1),
            "tags": tags,
            "interaction": _jsonable_interaction(interaction.to_dict()),
        }
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    # -- shutting down ----------------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._queue.all_tasks_done.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 5.0) -> CaptureStats:
        """Stop sampling, write what is queued (waiting at most ``timeout`` s), close the file."""
        if self._closed:
            return self.stats()
        self._closed = True
        deadline = time.monotonic() + timeout
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return self.stats()


_STOP = object()


# -- the tee streams ---------------------------------------------------------------------------------
def _stream_bases() -> tuple[type, type]:
    import httpx2

    return httpx2.SyncByteStream, httpx2.AsyncByteStream


class _Tee:
    """Common part of the tee streams: keep each chunk the application reads (no copy, no re-read)."""

    def __init__(self, inner: Any, capture: Capture, pending: _Pending) -> None:
        self._inner = inner
        self._capture = capture
        self._pending = pending

    def _keep(self, chunk: bytes) -> None:
        pending = self._pending
        if pending.over:
            return
        pending.size += len(chunk)
        if pending.size > self._capture.max_body_bytes:
            pending.over = True
            pending.chunks = []
        else:
            pending.chunks.append(chunk)

    def _done(self) -> None:
        try:
            self._capture.finish(self._pending)
        except Exception as exc:  # noqa: BLE001
            self._capture.failed(exc, "queueing a record")


def _make_tees() -> tuple[type, type]:
    sync_base, async_base = _stream_bases()

    class SyncTee(_Tee, sync_base):  # type: ignore[misc, valid-type]
        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                self._keep(chunk)
                yield chunk
            self._pending.done = True

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._done()

    class AsyncTee(_Tee, async_base):  # type: ignore[misc, valid-type]
        async def __aiter__(self) -> Any:
            async for chunk in self._inner:
                self._keep(chunk)
                yield chunk
            self._pending.done = True

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._done()

    return SyncTee, AsyncTee


class _LazyTee:
    def __init__(self, index: int) -> None:
        self.index = index
        self.cls: type | None = None

    def __call__(self, *args: Any) -> Any:
        if self.cls is None:
            self.cls = _make_tees()[self.index]
        return self.cls(*args)


_SyncTee = _LazyTee(0)
_AsyncTee = _LazyTee(1)


# -- helpers of the writer ---------------------------------------------------------------------------
def _iso(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _decoded(raw: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    """The body as the application saw it (content-encoding undone by httpx2's own decoders)."""
    encodings = [v for k, v in headers if k.lower() == "content-encoding"]
    if not encodings or not raw:
        return raw
    import httpx2

    return httpx2.Response(200, headers=[("content-encoding", v) for v in encodings], content=raw).read()


#: The last event of a whole stream, per API: a stream the application closed right after it (the
#: SDKs stop reading at it) is complete even though the byte iterator was never drained.
_STREAM_ENDS = (b"[DONE]", b"message_stop", b"response.completed", b"response.incomplete", b"response.failed")


def _complete(body: bytes, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether a body the application closed before the stream said it ended is still whole."""
    found = {k.lower(): v for k, v in headers}
    if "text/event-stream" in found.get("content-type", "").lower():
        last = body.replace(b"\r\n", b"\n").rstrip().rsplit(b"\n\n", 1)[-1][:300]
        return any(end in last for end in _STREAM_ENDS)
    length = found.get("content-length")
    if length is not None and not found.get("content-encoding"):
        return length.strip().isdigit() and int(length) == len(body)
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _sdk_of(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Which SDK sent the request, from the headers the SDKs add (``x-stainless-*``, user-agent)."""
    found = {k.lower(): v for k, v in headers}
    sdk: dict[str, str] = {}
    agent = found.get("user-agent", "")
    name = agent.split("/", 1)[0].strip().lower().removeprefix("async") if "/" in agent else ""
    if name in ("openai", "anthropic"):
        sdk["package"] = name
    version = found.get("x-stainless-package-version")
    if version:
        sdk["version"] = version
    runtime = found.get("x-stainless-runtime-version")
    if runtime:
        sdk["python"] = runtime
    return sdk


def _jsonable_interaction(data: dict[str, Any]) -> dict[str, Any]:
    """Binary bodies (rare: audio, images) become ``{"base64": ...}``; text stays text."""
    import base64

    request, response = data["request"], data["response"]
    if isinstance(request.get("body"), bytes):
        request["body"] = {"base64": base64.b64encode(request["body"]).decode("ascii")}
    body = response["body"]
    if isinstance(body.get("string"), bytes):
        body["string"] = {"base64": base64.b64encode(body["string"]).decode("ascii")}
    return data


# -- installing: the process-wide patch --------------------------------------------------------------
_active: Capture | None = None
_install_lock = threading.Lock()
_originals: dict[str, Any] = {}
_wrappers: dict[str, Any] = {}


def _patch() -> None:
    import httpx2

    if _wrappers:  # patched earlier and never unpatched (something patched on top of us): reuse
        return
    original_sync = httpx2.HTTPTransport.handle_request
    original_async = httpx2.AsyncHTTPTransport.handle_async_request

    def handle_request(transport: Any, request: Any) -> Any:
        capture = _active
        if capture is None:
            return original_sync(transport, request)
        try:
            pending = capture.begin(request) if capture.should_sample() else None
        except Exception as exc:  # noqa: BLE001 - capture never breaks the call
            capture.failed(exc, "sampling a request")
            pending = None
        response = original_sync(transport, request)
        if pending is None:
            return response
        try:
            return capture.attach(response, pending)
        except Exception as exc:  # noqa: BLE001
            capture.failed(exc, "attaching to a response")
            return response

    async def handle_async_request(transport: Any, request: Any) -> Any:
        capture = _active
        if capture is None:
            return await original_async(transport, request)
        try:
            pending = capture.begin(request) if capture.should_sample() else None
        except Exception as exc:  # noqa: BLE001
            capture.failed(exc, "sampling a request")
            pending = None
        response = await original_async(transport, request)
        if pending is None:
            return response
        try:
            return capture.attach(response, pending, asynchronous=True)
        except Exception as exc:  # noqa: BLE001
            capture.failed(exc, "attaching to a response")
            return response

    _originals.update(sync=original_sync, async_=original_async)
    _wrappers.update(sync=handle_request, async_=handle_async_request)
    httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign, assignment]
    httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign, assignment]


def _unpatch() -> None:
    import httpx2

    if not _wrappers:
        return
    if httpx2.HTTPTransport.__dict__.get("handle_request") is _wrappers["sync"] and \
            httpx2.AsyncHTTPTransport.__dict__.get("handle_async_request") is _wrappers["async_"]:
        httpx2.HTTPTransport.handle_request = _originals["sync"]  # type: ignore[method-assign]
        httpx2.AsyncHTTPTransport.handle_async_request = _originals["async_"]  # type: ignore[method-assign]
        _wrappers.clear()
        _originals.clear()
    # else: something patched over ours (a test's cassette): our wrapper stays in its chain and passes
    # calls straight through while no capture is active.


def install(path: str | os.PathLike[str], **options: Any) -> Capture:
    """Start capturing (replacing the active capture, if any); returns the ``Capture``. Options as
    for ``Capture``. Raises ``CaptureError`` for a wrong setting; nothing raised later reaches the app."""
    global _active
    capture = Capture(path, **options)
    with _install_lock:
        previous, _active = _active, capture
        _patch()
    if previous is not None:
        previous.close()
    return capture


def uninstall(timeout: float = 5.0) -> CaptureStats | None:
    """Stop capturing: write what is queued (at most ``timeout`` s) and restore the transports.
    Returns the final counters (None if nothing was installed)."""
    global _active
    with _install_lock:
        capture, _active = _active, None
        _unpatch()
    return capture.close(timeout) if capture is not None else None


def active() -> Capture | None:
    """The installed capture, if any."""
    return _active


@contextlib.contextmanager
def tag(**values: Any) -> Iterator[None]:
    """Values kept with every call captured inside the block (the app-level inputs of a request:
    the user's question, a tenant, a feature flag), for ``promote`` and your own app hook. Scrubbed
    like the rest. Nested blocks add to the outer ones; asyncio tasks inherit them."""
    current = _tags.get() or {}
    token = _tags.set({**current, **values})
    try:
        yield
    finally:
        _tags.reset(token)


def _at_exit() -> None:
    with contextlib.suppress(Exception):
        uninstall(timeout=2.0)


def _after_fork_in_child() -> None:
    if _active is not None:
        _active._after_fork()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- reading capture files ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A part of a capture file that could not be read; the rest of the file still is."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class CaptureRecord:
    """One captured call: ``index`` (1-based, across the files read, in order), where it is, the
    record as written, and its ``Interaction``."""

    index: int
    file: str
    line: int
    data: dict[str, Any]
    interaction: Any

    @property
    def ts(self) -> str:
        return str(self.data.get("ts") or "")

    @property
    def tags(self) -> dict[str, Any]:
        tags = self.data.get("tags")
        return tags if isinstance(tags, dict) else {}

    @property
    def sdk(self) -> dict[str, str]:
        sdk = self.data.get("sdk")
        return sdk if isinstance(sdk, dict) else {}

    @property
    def provider(self) -> str:
        return str(self.interaction.provider)

    @property
    def request(self) -> Any:
        from .matching import parse_body

        return parse_body(self.interaction.request_body)

    @property
    def model(self) -> str | None:
        data = self.request
        model = data.get("model") if isinstance(data, dict) else None
        return model if isinstance(model, str) else None

    @property
    def endpoint(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.interaction.uri).path

    def fields(self) -> dict[str, str]:
        """What ``--where`` filters on: model, provider, endpoint, status, stream, sdk, date, tag.<name>."""
        values = {
            "model": self.model or "",
            "provider": self.provider,
            "endpoint": self.endpoint,
            "status": str(self.interaction.status),
            "stream": "true" if self.data.get("stream") else "false",
            "sdk": self.sdk.get("package", ""),
            "sdk_version": self.sdk.get("version", ""),
            "date": self.ts[:10],
            "file": Path(self.file).name,
        }
        for key, value in self.tags.items():
            values[f"tag.{key}"] = value if isinstance(value, str) else json.dumps(value)
        return values


@dataclass
class CaptureSet:
    records: list[CaptureRecord]
    problems: list[Problem]
    files: list[str]


def capture_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    """The capture files named or found in the folders named (capture-*.jsonl, oldest first)."""
    found: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(path.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
            if not files:
                problems.append(Problem(str(path), None, f"no capture files ({FILE_PREFIX}*{FILE_SUFFIX}) in this folder"))
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Problem(str(path), None, "no such file or folder"))
    return list(dict.fromkeys(found)), problems


def read_captures(paths: Sequence[str | os.PathLike[str]]) -> CaptureSet:
    """Every readable record of the capture files (JSON Lines written by ``capture``; vcrpy YAML
    cassettes are read too, one record per interaction). Unreadable lines and files are listed in
    ``problems`` with file and line; they never stop the others from being read."""
    files, problems = capture_files(paths)
    records: list[CaptureRecord] = []
    for path in files:
        if path.name.lower().endswith((".yaml", ".yml", ".yaml.gz", ".yml.gz")):
            _read_cassette(path, records, problems)
        else:
            _read_jsonl(path, records, problems)
    return CaptureSet(records, problems, [str(p) for p in files])


def _read_jsonl(path: Path, records: list[CaptureRecord], problems: list[Problem]) -> None:
    from .cassette import interaction_from_dict

    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(shown, None, f"cannot read it: {exc.strerror or exc}"))
        return
    lines = raw.split(b"\n")
    last = len(lines) - 1
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        final = number - 1 == last  # no newline after it: the writer was stopped mid-line
        try:
            data = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            message = ("truncated record (the process stopped while writing it); skipped" if final
                       else "not a JSON record (the line is damaged); skipped")
            problems.append(Problem(shown, number, message))
            continue
        if not isinstance(data, dict) or data.get("format") != CAPTURE_FORMAT:
            problems.append(Problem(shown, number, f"not a pytest-llmops capture record (no \"format\": "
                                                   f"\"{CAPTURE_FORMAT}\"); skipped"))
            continue
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            problems.append(Problem(shown, number, f"the record has no valid format version ({version!r}); skipped"))
            continue
        if version > CAPTURE_VERSION:
            problems.append(Problem(shown, number, f"written by a newer pytest-llmops (capture format version "
                                                   f"{version}; this version reads {CAPTURE_VERSION}); upgrade "
                                                   f"pytest-llmops to read it (pip install -U pytest-llmops); skipped"))
            continue
        try:
            interaction = interaction_from_dict(_from_jsonable(data.get("interaction")))
        except Exception as exc:  # noqa: BLE001 - say which record, keep the others
            problems.append(Problem(shown, number, f"the record's interaction cannot be read ({exc}); skipped"))
            continue
        records.append(CaptureRecord(len(records) + 1, shown, number, data, interaction))


def _read_cassette(path: Path, records: list[CaptureRecord], problems: list[Problem]) -> None:
    from .cassette import load_cassette

    try:
        data = load_cassette(path)
    except Exception as exc:  # noqa: BLE001
        problems.append(Problem(str(path), None, str(exc)))
        return
    recorded = data.meta.get("recorded_with")
    versions: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    for number, interaction in enumerate(data.interactions, 1):
        provider = interaction.provider
        sdk = {"package": provider, "version": str(versions.get(provider))} if versions.get(provider) else {}
        record = {"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, "ts": "", "sdk": sdk,
                  "stream": interaction.response_body.lstrip().startswith(("event:", "data:"))
                  if isinstance(interaction.response_body, str) else False,
                  "tags": {}, "cassette_interaction": number}
        records.append(CaptureRecord(len(records) + 1, str(path), number, record, interaction))


def _from_jsonable(data: Any) -> Any:
    import base64

    if not isinstance(data, dict):
        raise TypeError(f"expected an object with request and response, got {type(data).__name__}")
    request = data.get("request") or {}
    body = request.get("body")
    if isinstance(body, dict) and set(body) == {"base64"}:
        request["body"] = base64.b64decode(body["base64"])
    response_body = (data.get("response") or {}).get("body") or {}
    if isinstance(response_body.get("string"), dict) and set(response_body["string"]) == {"base64"}:
        response_body["string"] = base64.b64decode(response_body["string"]["base64"])
    return data


def to_cassette(records: Sequence[CaptureRecord], out: str | os.PathLike[str]) -> None:
    """Write the records' interactions as one vcrpy-format cassette (atomically)."""
    from .cassette import recorded_with, save_cassette

    save_cassette(Path(out), [r.interaction for r in records],
                  {"recorded_with": recorded_with(), "captured_from": sorted({r.file for r in records})})


# -- ``capture(path, ...)``: the module is callable ---------------------------------------------------
class _Session:
    """``with capture(path, ...) as cap:`` installs on entry and uninstalls (flushing) on exit."""

    def __init__(self, path: str | os.PathLike[str], options: dict[str, Any]) -> None:
        self.path = path
        self.options = options
        self.capture: Capture | None = None
        self.final: CaptureStats | None = None

    def __enter__(self) -> Capture:
        self.capture = install(self.path, **self.options)
        return self.capture

    def __exit__(self, *exc: object) -> None:
        if _active is self.capture:
            self.final = uninstall()
        elif self.capture is not None:
            self.final = self.capture.close()


class _CallableModule(types.ModuleType):
    def __call__(self, path: str | os.PathLike[str], **options: Any) -> _Session:
        """``with pytest_llmops.capture(path, sample=0.05): ...`` (see the module's documentation)."""
        return _Session(path, options)


sys.modules[__name__].__class__ = _CallableModule
