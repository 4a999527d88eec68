"""Production capture's cost on the application's call path: the real openai SDK, the same call, four ways.

    python bench/capture.py                       # in-memory transport (the floor), 500 calls x 15 repeats
    python bench/capture.py --calls 500 --loopback   # also against the loopback HTTP server on 127.0.0.1

* ``off``        capture never installed: the SDK's call as it is;
* ``sample=0``   capture installed, nothing kept: the cost of the patch and the sampling draw;
* ``sample=0.05``  the production setting: 1 call in 20 is teed and queued;
* ``sample=1``   every call teed and queued (the background thread scrubs and writes).

Three set-ups: the transport alone (``HTTPTransport.handle_request`` and reading the body: the smallest
base, so capture's own cost on the call path shows), the openai SDK over that transport, and (with
``--loopback``) the SDK against the loopback HTTP server.

The transport is ``httpx2.HTTPTransport`` itself (the class capture patches) with its connection pool
replaced by an in-memory one answering a fixed chat completion, so the numbers are the SDK's own cost
plus capture's, with no network noise. ``--loopback`` adds the same four rows against the loopback
server (real sockets, real HTTP). Printed: median per-call time over the repeats, the time added over
``off``, and what capture counted (sampled, written, dropped). "app CPU" is the CPU time of the calling
thread (``time.thread_time``): on a loaded machine it is steadier than wall time; the writer thread's
work (scrubbing, writing) is not in it, but its GIL time is in the wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpcore2
import httpx2
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_llmops import capture

BODY = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Returns are accepted within 30 days. " * 4},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 50, "completion_tokens": 32, "total_tokens": 82},
}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"x-request-id", b"req_123"),
           (b"openai-organization", b"org-secret-123456"), (b"set-cookie", b"__cf_bm=abcdef0123456789; path=/")]
MESSAGES = [{"role": "system", "content": "Answer from the policy. " * 10},
            {"role": "user", "content": "How many days do I have to return an unused bike?"}]


class MemoryPool:
    """Stands for httpcore's connection pool: every request gets the same response, from memory."""

    def handle_request(self, request: httpcore2.Request) -> httpcore2.Response:
        for _ in request.stream:  # the request body is sent
            pass
        return httpcore2.Response(200, headers=HEADERS, content=BODY)

    def close(self) -> None:
        pass


def memory_client() -> openai.OpenAI:
    transport = httpx2.HTTPTransport()
    transport._pool = MemoryPool()  # type: ignore[assignment]
    return openai.OpenAI(api_key="bench-key", base_url="http://127.0.0.1:9/v1",
                         http_client=httpx2.Client(transport=transport))


def per_call(client: Any, calls: int) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) per call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    if isinstance(client, httpx2.HTTPTransport):
        for _ in range(calls):  # the transport alone: what capture wraps, without the SDK around it
            response = client.handle_request(httpx2.Request("POST", URL, headers=REQUEST_HEADERS, content=REQUEST))
            response.read()
            response.close()
    else:
        for _ in range(calls):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    return (time.perf_counter() - wall) / calls, (time.thread_time() - cpu) / calls


URL = "http://127.0.0.1:9/v1/chat/completions"
REQUEST = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
REQUEST_HEADERS = {"content-type": "application/json", "authorization": "Bearer bench-key",
                   "user-agent": "OpenAI/Python 3.57.0"}


def memory_transport() -> httpx2.HTTPTransport:
    transport = httpx2.HTTPTransport()
    transport._pool = MemoryPool()  # type: ignore[assignment]
    return transport


SETTINGS: list[tuple[str, float | None]] = [("off", None), ("sample=0", 0.0), ("sample=0.05", 0.05), ("sample=1", 1.0)]


def measure(client: Any, calls: int, repeats: int, folder: Path) -> list[tuple[str, float, float, str]]:
    """Blocks of ``calls`` calls per setting, the settings interleaved (rotated) in every repeat so that
    load from other processes falls on all of them alike; the median over the repeats."""
    per_call(client, 50)  # warm up the SDK
    walls: dict[str, list[float]] = {name: [] for name, _ in SETTINGS}
    cpus: dict[str, list[float]] = {name: [] for name, _ in SETTINGS}
    counted: dict[str, str] = {name: "" for name, _ in SETTINGS}
    for repeat in range(repeats):
        order = SETTINGS[repeat % len(SETTINGS):] + SETTINGS[:repeat % len(SETTINGS)]
        for name, sample in order:
            if sample is None:
                wall, cpu = per_call(client, calls)
            else:
                capture.install(folder / f"{name}-{repeat}", sample=sample, queue_size=10_000, seed=repeat)
                try:
                    wall, cpu = per_call(client, calls)
                finally:
                    stats = capture.uninstall(timeout=60)
                assert stats is not None
                counted[name] = (f"sampled {stats.sampled}, written {stats.written}, dropped {stats.dropped}, "
                                 f"errors {stats.errors}")
            walls[name].append(wall)
            cpus[name].append(cpu)
    return [(name, statistics.median(walls[name]), statistics.median(cpus[name]), counted[name]) for name, _ in SETTINGS]


def report(title: str, rows: list[tuple[str, float, float, str]], calls: int, repeats: int) -> None:
    base_wall, base_cpu = rows[0][1], rows[0][2]
    print(f"\n{title} ({calls} calls x {repeats} repeats; medians per call)")
    print(f"  {'capture':<12} {'wall':>10} {'added':>10} {'app CPU':>10} {'added':>10}  counted (last repeat)")
    for name, wall, cpu, counted in rows:
        print(f"  {name:<12} {wall * 1e6:>7.1f} us {(wall - base_wall) * 1e6:>+7.1f} us {cpu * 1e6:>7.1f} us "
              f"{(cpu - base_cpu) * 1e6:>+7.1f} us  {counted}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--loopback", action="store_true", help="also measure against the loopback HTTP server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report("the transport alone: httpx2.HTTPTransport.handle_request + read, pool in memory (no SDK)",
               measure(memory_transport(), args.calls * 4, args.repeats, folder / "transport"), args.calls * 4,
               args.repeats)
        report("openai SDK over httpx2.HTTPTransport, pool in memory",
               measure(memory_client(), args.calls, args.repeats, folder / "memory"), args.calls, args.repeats)
        if args.loopback:
            from pytest_llmops.loopback import LoopbackProvider

            with LoopbackProvider() as server:
                client = openai.OpenAI(api_key="bench-key", base_url=server.openai_base_url)
                calls = max(args.calls // 2, 50)
                report("loopback HTTP server (127.0.0.1)", measure(client, calls, args.repeats, folder / "loopback"),
                       calls, args.repeats)


if __name__ == "__main__":
    main()
