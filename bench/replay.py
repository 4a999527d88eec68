"""Replay cost, side by side in one process: pytest-llmops vs raw vcrpy vs an in-memory mock.

    python bench/replay.py                 # the default sizes
    python bench/replay.py --sizes 1 30 1000 10000 --calls 200

For each cassette size N (interactions, all distinct prompts), the same chat-completion calls go
through the real openai SDK three ways:

* ``mock``   an ``httpx2.MockTransport`` answering from a dict: the floor (no matching, no I/O);
* ``llmops`` this plugin's transport replaying the cassette (index lookup on a normalised key);
* ``vcrpy``  vcrpy 9 replaying the same file with its default matching (method, scheme, host, port,
             path, query), and with ``body`` added (what a prompt-sensitive test needs).

Printed: median per-call time over repeats, the ratio to the mock, and the time added over the mock.
Also the one-time parse of each cassette size, and loading a folder of many small cassettes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_llmops.cassette import Cassette, CassetteStore, Interaction, load_cassette, save_cassette  # noqa: E402
from pytest_llmops.transport import Interceptor  # noqa: E402

BASE = "http://127.0.0.1:9/v1"  # nothing listens: only a replay can answer
DEFAULT_MATCH = ("method", "scheme", "host", "port", "path", "query")  # vcrpy's default match_on


def completion(i: int) -> dict:
    return {
        "id": f"chatcmpl-{i}", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {i} " + "word " * 40},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 42, "total_tokens": 92},
    }


def request_body(i: int) -> dict:
    return {"messages": [{"role": "system", "content": "You are terse."},
                         {"role": "user", "content": f"question number {i}: " + "context " * 60}],
            "model": "gpt-4o-mini", "temperature": 0}


def make_cassette(path: Path, n: int) -> None:
    interactions = [
        Interaction(method="POST", uri=f"{BASE}/chat/completions", request_body=json.dumps(request_body(i)),
                    request_headers={"content-type": ["application/json"]}, status=200, reason="OK",
                    response_headers={"content-type": ["application/json"]},
                    response_body=json.dumps(completion(i)))
        for i in range(n)
    ]
    save_cassette(path, interactions)


def per_call(call, targets: list[int]) -> float:
    start = time.perf_counter()
    for i in targets:
        call(i)
    return (time.perf_counter() - start) / len(targets)


def mock_caller(n: int):
    bodies = {json.dumps(request_body(i), sort_keys=True): json.dumps(completion(i)).encode() for i in range(n)}

    def handler(request: httpx2.Request) -> httpx2.Response:
        key = json.dumps(json.loads(request.content), sort_keys=True)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=bodies[key])

    client = openai.OpenAI(api_key="x", base_url=BASE, http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    return contextlib.nullcontext(lambda i: client.chat.completions.create(**request_body(i)))


@contextlib.contextmanager
def llmops_caller(path: Path):
    data = CassetteStore().get(path)
    client = openai.OpenAI(api_key="x", base_url=BASE, max_retries=0)
    monkeypatch = pytest.MonkeyPatch()
    cassette = Cassette(path, recording=False, data=data, record_command="")
    Interceptor(cassette).install(monkeypatch)

    def call(i: int) -> None:
        cassette._positions.clear()  # every repeat replays the same requests again
        client.chat.completions.create(**request_body(i))

    try:
        yield call
    finally:
        monkeypatch.undo()


@contextlib.contextmanager
def vcrpy_caller(path: Path, match_on: tuple[str, ...]):
    import vcr

    client = openai.OpenAI(api_key="x", base_url=BASE, max_retries=0)
    with vcr.use_cassette(str(path), record_mode="none", match_on=match_on, allow_playback_repeats=True):
        yield lambda i: client.chat.completions.create(**request_body(i))


def compare(callers: dict, targets: list[int], repeats: int) -> dict[str, float]:
    """Median per-call seconds of each caller; the callers take turns, so load hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in callers}
    for name, make in callers.items():
        with make() as call:
            for i in targets[:5]:
                call(i)  # warm up
    for _ in range(repeats):
        for name, make in callers.items():
            with make() as call:
                samples[name].append(per_call(call, targets))
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_folder(root: Path, files: int) -> tuple[float, float]:
    """Seconds to load ``files`` one-interaction cassettes (first parse), and per file."""
    folder = root / f"many-{files}"
    folder.mkdir()
    for i in range(files):
        make_cassette(folder / f"test_{i}.yaml", 1)
    store = CassetteStore()
    start = time.perf_counter()
    for i in range(files):
        store.get(folder / f"test_{i}.yaml")
    total = time.perf_counter() - start
    return total, total / files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 30, 100, 300, 1000, 10000])
    parser.add_argument("--calls", type=int, default=100, help="calls per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--vcrpy-max", type=int, default=1000, help="skip vcrpy above this size (it scans)")
    parser.add_argument("--folder", type=int, nargs="*", default=[500, 5000], help="folders of N small cassettes")
    args = parser.parse_args()

    print(f"openai {openai.__version__}, httpx2 {httpx2.__version__}, python {sys.version.split()[0]}")
    print(f"{'interactions':>12} {'parse':>9} {'mock':>9} {'llmops':>9} {'ratio':>6} {'added':>8}"
          f" {'vcrpy':>9} {'ratio':>6} {'vcr+body':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.sizes:
            path = root / f"c{n}.yaml"
            make_cassette(path, n)
            start = time.perf_counter()
            load_cassette(path)
            parse = time.perf_counter() - start
            targets = [(i * 7919 + n // 2) % n for i in range(args.calls)]
            callers = {"mock": lambda: mock_caller(n), "llmops": lambda: llmops_caller(path)}
            if n <= args.vcrpy_max:
                callers["vcrpy"] = lambda: vcrpy_caller(path, DEFAULT_MATCH)
                callers["vcrpy+body"] = lambda: vcrpy_caller(path, DEFAULT_MATCH + ("body",))
            t = compare(callers, targets, args.repeats)
            mock, ours = t["mock"], t["llmops"]
            line = (f"{n:>12} {parse * 1000:>7.1f}ms {mock * 1000:>7.3f}ms {ours * 1000:>7.3f}ms {ours / mock:>5.2f}x"
                    f" {(ours - mock) * 1e6:>6.0f}us")
            if "vcrpy" in t:
                plain, body = t["vcrpy"], t["vcrpy+body"]
                line += f" {plain * 1000:>7.3f}ms {plain / mock:>5.1f}x {body * 1000:>7.3f}ms {body / mock:>5.1f}x"
            print(line, flush=True)
        for files in args.folder:
            total, each = bench_folder(root, files)
            print(f"folder of {files} one-interaction cassettes: first parse {total:.2f} s ({each * 1000:.2f} ms each)")


if __name__ == "__main__":
    main()
