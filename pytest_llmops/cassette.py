"""Cassettes: load, index, replay, record and atomically save recorded provider traffic.

A cassette is a vcrpy-format YAML file (``version: 1``, a list of ``interactions`` each holding a
``request`` and a ``response``), so vcrpy and pytest-recording read ours and we read theirs, in every
layout they wrote (see ``formats``). Bodies are written human-readable: JSON pretty-printed,
server-sent events as text, no compression.

Loading parses a file once per session (``CassetteStore``) and indexes its interactions by match key
(see ``matching``), so replaying a call is a dict lookup whatever the size of the cassette. Each test
gets its own ``Cassette`` over the shared parsed data, with its own playback positions: identical
requests are answered in recorded order.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import drift, formats
from .errors import CassetteError, CassetteMiss, sdk_compatible
from .matching import Candidate, RequestKey, explain_miss, request_key

__all__ = ["Interaction", "CassetteData", "CassetteStore", "Cassette", "load_cassette", "save_cassette"]

FORMAT_VERSION = 1


@dataclass(slots=True)
class Interaction:
    """One recorded request/response pair, with bodies decoded to text where they are text."""

    method: str
    uri: str
    request_body: str | bytes
    status: int
    response_body: str | bytes
    request_headers: dict[str, list[str]] = field(default_factory=dict)
    response_headers: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""
    latency_ms: float | None = None
    episode: int | None = None  # the repetition of a repeated test that made this call (1-based)
    _key: RequestKey | None = None
    _replay_headers: list[tuple[str, str]] | None = None

    @property
    def key(self) -> RequestKey:
        if self._key is None:
            self._key = request_key(self.method, self.uri, self.request_body)
        return self._key

    @property
    def replay_headers(self) -> list[tuple[str, str]]:
        """Response headers to serve on replay (no content-encoding/length: the body is decoded)."""
        if self._replay_headers is None:
            self._replay_headers = [
                (name, value)
                for name, values in self.response_headers.items()
                if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
                for value in values
            ]
        return self._replay_headers

    @property
    def provider(self) -> str:
        return provider_of(self.uri, self.request_headers)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "request": {
                "method": self.method,
                "uri": self.uri,
                "headers": self.request_headers,
                "body": self.request_body or None,
            },
            "response": {
                "status": {"code": self.status, "message": self.reason},
                "headers": self.response_headers,
                "body": {"string": self.response_body},
            },
        }
        if self.latency_ms is not None:
            data["latency_ms"] = round(self.latency_ms, 1)
        if self.episode is not None:
            data["episode"] = self.episode
        return data


def provider_of(uri: str, headers: Any = None) -> str:
    """``"anthropic"``, ``"openai"`` or ``"other"``, from the request's path (and headers)."""
    path = uri.split("?", 1)[0]
    if "/v1/messages" in path or "/v1/complete" in path or (headers and "anthropic-version" in headers):
        return "anthropic"
    if any(p in path for p in ("/chat/completions", "/responses", "/embeddings", "/completions", "/models",
                               "/images", "/audio", "/moderations", "/files", "/batches", "/assistants")):
        return "openai"
    return "other"


# -- reading ---------------------------------------------------------------------------------------
# Every layout real recorders wrote (vcrpy, its legacy httpx layout, pydantic-ai's parsed_body,
# !!binary compressed bodies, .yaml.gz, ...) is read and normalised by ``formats``.
def interaction_from_dict(data: Any) -> Interaction:
    """An ``Interaction`` from one entry of a cassette's ``interactions`` list (any supported layout)."""
    return _interaction(formats.normalise_interaction(data))


def _interaction(data: dict[str, Any]) -> Interaction:
    req, resp = data["request"], data["response"]
    return Interaction(
        method=req["method"],
        uri=req["uri"],
        request_body=req["body"],
        request_headers=req["headers"],
        status=resp["status"]["code"],
        reason=resp["status"]["message"],
        response_headers=resp["headers"],
        response_body=resp["body"]["string"],
        latency_ms=data.get("latency_ms"),
        episode=data.get("episode"),
    )


@dataclass
class CassetteData:
    """A parsed cassette file: its interactions and their index by match key."""

    path: Path
    interactions: list[Interaction]
    meta: dict[str, Any] = field(default_factory=dict)
    index: dict[RequestKey, list[int]] = field(default_factory=dict)
    format: formats.Format | None = None  # what the file was (None: built in memory)

    def __post_init__(self) -> None:
        if not self.index:
            for i, interaction in enumerate(self.interactions):
                self.index.setdefault(interaction.key, []).append(i)


def load_cassette(path: Path) -> CassetteData:
    """Parse a cassette file. Raises ``CassetteError`` naming the file (and line) if it is broken."""
    loaded = formats.load(path)
    interactions = [_interaction(raw) for raw in loaded.interactions]
    return CassetteData(path=path, interactions=interactions, meta=loaded.meta, format=loaded.format)


# -- writing ---------------------------------------------------------------------------------------
def _dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def recorded_with() -> dict[str, str]:
    """Versions of what made a recording, written at the top of each cassette."""
    from . import __version__

    versions = {"pytest-llmops": __version__, "python": sys.version.split()[0]}
    for module in ("openai", "anthropic"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "?")
    return versions


def dump_cassette(interactions: list[Interaction], meta: dict[str, Any] | None = None) -> str:
    """The YAML text of a cassette (what ``save_cassette`` writes)."""
    import yaml

    document: dict[str, Any] = {"interactions": [i.to_dict() for i in interactions]}
    document.update(meta or {})
    document["version"] = FORMAT_VERSION
    return yaml.dump(document, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=120)


def save_cassette(path: Path, interactions: list[Interaction], meta: dict[str, Any] | None = None) -> None:
    """Write a cassette atomically: a temporary file in the same folder, then ``os.replace``."""
    atomic_write(path, dump_cassette(interactions, meta).encode("utf-8"))


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock for ``path`` across processes (xdist workers sharing a cassette).

    The lock file lives in the temporary folder, named by a hash of the path, so nothing is left
    beside the cassettes; it is never deleted (deleting a lock file others wait on breaks the lock).
    """
    import hashlib

    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    lock_path = Path(tempfile.gettempdir()) / f"pytest-llmops-{digest}.lock"
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: msvcrt locks a byte range
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the session's parsed cassettes ----------------------------------------------------------------
class CassetteStore:
    """Parsed cassettes of this session, each file read once (re-read only if it changed on disk)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], CassetteData]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> CassetteData | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        data = load_cassette(path)
        with self._lock:
            self._cache[path] = (stamp, data)
        return data

    def forget(self, path: Path) -> None:
        with self._lock:
            self._cache.pop(path, None)


def _scrubbed_key(method: str, url: str, body: bytes) -> RequestKey:
    from .scrubbing import Scrubber

    scrubber = Scrubber()
    try:
        text: str | bytes = scrubber.body(body.decode("utf-8"))
    except UnicodeDecodeError:
        text = body
    return request_key(method, scrubber.url(url), text)


# -- one test's cassette ---------------------------------------------------------------------------
@dataclass
class Miss:
    """A request that had no recorded response."""

    message: str
    raised: bool = True


class Cassette:
    """The cassette a test plays from (replay) or records to (live).

    ``path`` is the file; ``requests`` the requests this test sent, in order; ``play_count`` how many
    were answered from the recording; ``interactions`` what is recorded (loaded, or newly recorded).
    """

    def __init__(
        self,
        path: Path,
        *,
        recording: bool,
        data: CassetteData | None,
        record_command: str,
        shared: bool = False,
        display_path: str | None = None,
    ) -> None:
        self.path = path
        self.recording = recording
        self.shared = shared
        self.record_command = record_command
        self.display_path = display_path or str(path)
        self._data = data
        self._positions: dict[RequestKey, int] = {}
        self._lock = threading.Lock()
        self.recorded: list[Interaction] = []
        self.requests: list[tuple[str, str]] = []  # (method, url) of each request sent
        self.play_count = 0
        self.misses: list[Miss] = []
        self.drift: list[drift.DriftMatch] = []  # requests matched only through SDK drift rules
        #: A repeated test (see ``repeat``): the repetitions planned and started, and the running one
        #: (recorded interactions are tagged with it; written as ``repeat`` / ``episodes`` meta).
        self.repeat = 1
        self.episodes = 1
        self.episode: int | None = None

    # -- what is there ---------------------------------------------------------------------------
    @property
    def interactions(self) -> list[Interaction]:
        if self.recording:
            return self.recorded
        return self._data.interactions if self._data else []

    @property
    def exists(self) -> bool:
        return self._data is not None

    @property
    def meta(self) -> dict[str, Any]:
        """The top-level fields of the loaded file other than its interactions (``recorded_with``,
        ``repeat``, ``episodes``, ...); empty when recording or when there is no file."""
        return self._data.meta if self._data is not None else {}

    def __repr__(self) -> str:
        mode = "recording" if self.recording else "replaying"
        return f"<Cassette {self.display_path} {mode}, {len(self.interactions)} interactions>"

    # -- replay ----------------------------------------------------------------------------------
    def play(self, method: str, url: str, body: bytes) -> Interaction:
        """The recorded interaction answering this request, in recorded order; raises on a miss."""
        with self._lock:
            self.requests.append((method, url))
            data = self._data
            if data is None:
                raise self._miss(
                    f"no cassette at {self.display_path} for this test.\n"
                    f"Record it with:  {self.record_command}"
                )
            key = request_key(method, url, body)
            positions = data.index.get(key)
            if positions is None:
                key = _scrubbed_key(method, url, body)  # it was recorded after scrubbing
                positions = data.index.get(key)
            played = self._positions.get(key, 0)
            rules: tuple[str, ...] = ()
            if positions is None or played >= len(positions):  # a miss: was it sent by an older SDK?
                found = drift.lookup(method, url, body, data.index, available=self._unplayed)
                if found is not None:
                    key, rules = found
                    positions, played = data.index[key], self._positions.get(key, 0)
            if positions is None:
                raise self._miss(self._explain(method, url, body))
            if played >= len(positions):
                raise self._miss(
                    f"request sent:      {method} {url}\n"
                    f"it matches interaction #{positions[-1] + 1}, but the cassette records this request "
                    f"{len(positions)} time(s) and this is call {played + 1}; the code now sends it more "
                    f"often than when it was recorded."
                )
            self._positions[key] = played + 1
            self.play_count += 1
            if rules:
                self.drift.append(drift.DriftMatch(positions[played], method, key[1], rules))
            return data.interactions[positions[played]]

    def _unplayed(self, key: RequestKey) -> bool:
        assert self._data is not None
        return self._positions.get(key, 0) < len(self._data.index[key])

    def _explain(self, method: str, url: str, body: bytes) -> str:
        data = self._data
        assert data is not None
        candidates = [
            Candidate(i, x.method, x.uri, x.request_body) for i, x in enumerate(data.interactions)
        ]
        return explain_miss(method, url, body, candidates)

    def _miss(self, detail: str) -> BaseException:
        message = (
            f"pytest-llmops: no recorded response for this request (replay mode).\n"
            f"cassette: {self.display_path}\n{detail}\n"
            f"If the change is intended, re-record:  {self.record_command}"
        ) if self._data is not None else f"pytest-llmops: {detail}"
        self.misses.append(Miss(message))
        return sdk_compatible(CassetteMiss, message)

    # -- record ----------------------------------------------------------------------------------
    def record(self, interaction: Interaction) -> None:
        with self._lock:
            self.requests.append((interaction.method, interaction.uri))
            if self.episode is not None:
                interaction.episode = self.episode
            self.recorded.append(interaction)

    def save(self, session_id: str, meta: dict[str, Any]) -> None:
        """Write what this test recorded. A shared cassette merges what other tests of this session
        (possibly other xdist workers) recorded into it, under a file lock."""
        meta = {**meta, "recorded_session": session_id} if self.shared else meta
        if self.repeat > 1:
            meta = {**meta, "repeat": self.repeat, "episodes": self.episodes}
        if not self.shared:
            save_cassette(self.path, self.recorded, meta)
            return
        with file_lock(self.path):
            existing = None
            if self.path.exists():
                with contextlib.suppress(CassetteError):
                    existing = load_cassette(self.path)
            if existing is None:
                save_cassette(self.path, self.recorded, meta)
                return
            if existing.meta.get("recorded_session") != session_id:
                # First write of this session: what this test re-recorded replaces the old
                # recordings of the same requests; other tests' recordings stay.
                keys = {interaction.key for interaction in self.recorded}
                kept = [i for i in existing.interactions if i.key not in keys]
                save_cassette(self.path, kept + self.recorded, meta)
                return
            # Another test of this session recorded here first: add what it does not hold yet
            # (a request recorded n times there and m > n times here adds m - n copies).
            counts = {key: len(positions) for key, positions in existing.index.items()}
            merged = list(existing.interactions)
            for interaction in self.recorded:
                if counts.get(interaction.key, 0) > 0:
                    counts[interaction.key] -= 1
                else:
                    merged.append(interaction)
            save_cassette(self.path, merged, meta)
