"""Production capture: sampling under load, never touching the app's calls, scrubbed rotating files that a
crash cannot make unreadable."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import anthropic
import httpcore2
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_llmops
from pytest_llmops import capture
from pytest_llmops.capture import CAPTURE_FORMAT, CaptureError, read_captures
from pytest_llmops.cassette import interaction_from_dict

OPENAI_KEY = "sk-proj-" + "capturetestkey0123456789abcdef"  # split: no key-shaped literal in the source
ANTHROPIC_KEY = "sk-ant-api03-" + "capturetestkey0123456789abcdef"


def completion(text: str) -> bytes:
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop", "logprobs": None}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).encode()


HEADERS = [(b"content-type", b"application/json"), (b"openai-organization", b"org-capturesecret123")]


class MemoryPool:
    """httpcore's pool, in memory: the answer echoes the question, so a test can see it got its own."""

    def handle_request(self, request: httpcore2.Request) -> httpcore2.Response:
        body = b"".join(request.stream)
        question = json.loads(body)["messages"][-1]["content"]
        return httpcore2.Response(200, headers=HEADERS, content=completion(f"answer to {question}"))

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        body = b"".join([part async for part in request.stream])
        question = json.loads(body)["messages"][-1]["content"]
        return httpcore2.Response(200, headers=HEADERS, content=completion(f"answer to {question}"))

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def memory_clients() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    sync_transport = httpx2.HTTPTransport()
    sync_transport._pool = MemoryPool()  # type: ignore[assignment]
    async_transport = httpx2.AsyncHTTPTransport()
    async_transport._pool = MemoryPool()  # type: ignore[assignment]
    base = "http://127.0.0.1:9/v1"
    return (openai.OpenAI(api_key=OPENAI_KEY, base_url=base, http_client=httpx2.Client(transport=sync_transport)),
            openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=base,
                               http_client=httpx2.AsyncClient(transport=async_transport)))


def ask(client: openai.OpenAI, question: str) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content or ""


@pytest.fixture(autouse=True)
def no_capture_left():
    yield
    capture.uninstall()
    assert httpx2.HTTPTransport.handle_request.__name__ == "handle_request"


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("capture-*.jsonl")) for line in path.read_text().splitlines()]


def test_real_sdk_calls_are_captured_scrubbed_in_the_cassette_format(provider, tmp_path):
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=provider.openai_base_url)
    claude = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=provider.anthropic_base_url)

    async def async_calls() -> tuple[str, str]:
        aclient = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=provider.openai_base_url)
        reply = await aclient.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "async"}])
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                       messages=[{"role": "user", "content": "async stream"}])
        return reply.choices[0].message.content or "", "".join([c.choices[0].delta.content or "" async for c in stream
                                                                if c.choices])

    with pytest_llmops.capture(tmp_path, sample=1.0, tags={"env": "staging"}) as cap:
        with capture.tag(question="What is the return window?"):
            plain = ask(client, "What is the return window?")
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "Stream it"}]) if c.choices)
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                    messages=[{"role": "user", "content": "Hello Claude"}]) as events:
            claude_text = "".join(events.text_stream)
        async_plain, async_streamed = asyncio.run(async_calls())
    assert (plain, streamed, claude_text, async_plain, async_streamed) == (
        "Echo: What is the return window?", "Echo: Stream it", "Echo: Hello Claude", "Echo: async", "Echo: async stream")
    assert cap.stats().written == 5 and cap.stats().errors == 0

    written = records(tmp_path)
    assert [r["format"] for r in written] == [CAPTURE_FORMAT] * 5
    assert [r["stream"] for r in written] == [False, True, True, False, True]
    assert written[0]["tags"] == {"env": "staging", "question": "What is the return window?"}
    assert written[1]["tags"] == {"env": "staging"}
    assert {r["sdk"]["package"] for r in written} == {"openai", "anthropic"}
    raw = "".join(p.read_text() for p in tmp_path.glob("capture-*.jsonl"))
    assert OPENAI_KEY not in raw and ANTHROPIC_KEY not in raw
    for record in written:  # every record is one cassette interaction, read by the cassette reader
        interaction = interaction_from_dict(record["interaction"])
        assert "authorization" not in interaction.request_headers
        for name in ("openai-organization", "anthropic-organization-id", "set-cookie"):
            assert interaction.response_headers.get(name, ["REDACTED"]) == ["REDACTED"] * len(
                interaction.response_headers.get(name, ["REDACTED"]))
    assert '"content": "Stream it"' in written[1]["interaction"]["request"]["body"]
    assert written[1]["interaction"]["response"]["body"]["string"].rstrip().endswith("data: [DONE]")


def test_capture_under_load_holds_its_rate_and_never_touches_the_calls(tmp_path):
    """Thousands of calls from threads and asyncio tasks: every app call gets its own answer, the share
    captured is the sampling rate, every sampled call is written, nothing is raised or dropped."""
    client, aclient = memory_clients()
    threads, per_thread, tasks = 4, 400, 800
    calls = threads * per_thread + tasks
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(per_thread):
                question = f"thread {n} question {i}"
                assert ask(client, question) == f"answer to {question}"
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    async def many() -> list[str]:
        async def one(i: int) -> str:
            reply = await aclient.chat.completions.create(model="gpt-4o-mini",
                                                          messages=[{"role": "user", "content": f"task {i}"}])
            return reply.choices[0].message.content or ""
        return await asyncio.gather(*(one(i) for i in range(tasks)))

    with pytest_llmops.capture(tmp_path, sample=0.1, seed=7, queue_size=calls) as cap:
        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in pool:
            thread.start()
        answers = asyncio.run(many())
        for thread in pool:
            thread.join()
    stats = cap.stats()
    assert failures == []
    assert answers == [f"answer to task {i}" for i in range(tasks)]
    assert stats.seen == calls
    expected, spread = calls * 0.1, 5 * (calls * 0.1 * 0.9) ** 0.5  # five standard deviations
    assert abs(stats.sampled - expected) < spread
    assert (stats.written, stats.dropped, stats.errors) == (stats.sampled, 0, 0)
    captured = read_captures([tmp_path])
    assert len(captured.records) == stats.sampled and captured.problems == []
    questions = {json.loads(r.interaction.request_body)["messages"][-1]["content"] for r in captured.records}
    assert len(questions) == stats.sampled  # each captured once, with its own request


def test_a_failing_capture_is_logged_and_dropped_never_raised_into_the_app(tmp_path, monkeypatch, caplog):
    client, _ = memory_clients()

    def broken(self, pending):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(capture.Capture, "_encode", broken)
    caplog.set_level(logging.WARNING, logger="pytest_llmops.capture")
    with pytest_llmops.capture(tmp_path, sample=1.0) as cap:
        assert [ask(client, f"q{i}") for i in range(20)] == [f"answer to q{i}" for i in range(20)]
    stats = cap.stats()
    assert (stats.sampled, stats.written, stats.errors) == (20, 0, 20)
    assert "pytest-llmops capture: scrubbing a record failed, record dropped (RuntimeError: disk on fire); the " \
           "application's call was not affected." in caplog.text


def test_a_full_queue_drops_records_instead_of_waiting(tmp_path, monkeypatch):
    client, _ = memory_clients()
    release = threading.Event()
    original = capture.Capture._write_batch

    def slow(self, batch):
        release.wait(10)
        original(self, batch)

    monkeypatch.setattr(capture.Capture, "_write_batch", slow)
    with pytest_llmops.capture(tmp_path, sample=1.0, queue_size=2) as cap:
        assert [ask(client, f"q{i}") for i in range(30)] == [f"answer to q{i}" for i in range(30)]
        assert cap.stats().dropped_queue_full >= 25  # the writer held at most one batch and two queued
        release.set()
    stats = cap.stats()
    assert stats.written + stats.dropped_queue_full == 30 and stats.errors == 0


def test_files_rotate_at_max_bytes_and_a_torn_last_line_loses_only_that_record(tmp_path):
    client, _ = memory_clients()
    with pytest_llmops.capture(tmp_path, sample=1.0, max_bytes=4000) as cap:
        for i in range(30):
            ask(client, f"question number {i}")
    files = sorted(tmp_path.glob("capture-*.jsonl"))
    assert len(files) == len(cap.stats().files) > 3
    for path in files:
        assert path.stat().st_size <= 4000
        assert path.read_bytes().endswith(b"\n")
    # a crash while writing the last line (power loss): the rest is read, the torn line is named
    last = files[-1]
    whole = last.read_bytes()
    last.write_bytes(whole + whole.splitlines(keepends=True)[0][:150])
    files[0].write_bytes(files[0].read_bytes().replace(b'"format"', b'"formaat"', 1))
    captured = read_captures([tmp_path])
    assert len(captured.records) == 29
    lines = last.read_text().count("\n") + 1
    assert [str(p) for p in captured.problems] == [
        f"{files[0]}:1: not a pytest-llmops capture record (no \"format\": \"{CAPTURE_FORMAT}\"); skipped",
        f"{last}:{lines}: truncated record (the process stopped while writing it); skipped",
    ]


def test_records_of_a_newer_format_and_damaged_lines_are_named_and_skipped(tmp_path):
    path = tmp_path / "capture-20260101-000000-1-1.jsonl"
    good = {"format": CAPTURE_FORMAT, "version": 1, "ts": "2026-01-01T00:00:00.000Z", "sdk": {}, "tags": {},
            "interaction": {"request": {"method": "POST", "uri": "https://api.openai.com/v1/chat/completions",
                                        "headers": {}, "body": "{}"},
                            "response": {"status": {"code": 200, "message": "OK"}, "headers": {},
                                         "body": {"string": "{}"}}}}
    path.write_text("\n".join([json.dumps({**good, "version": 9}), "{not json", json.dumps(good), ""]))
    captured = read_captures([path])
    assert [r.line for r in captured.records] == [3]
    assert [str(p) for p in captured.problems] == [
        (f"{path}:1: written by a newer pytest-llmops (capture format version 9; this version reads 1); upgrade "
        f"pytest-llmops to read it (pip install -U pytest-llmops); skipped"),
        f"{path}:2: not a JSON record (the line is damaged); skipped",
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300))
def test_reading_never_raises_whatever_follows_the_records(tmp_path_factory, garbage):
    folder = tmp_path_factory.mktemp("captures")
    record = {"format": CAPTURE_FORMAT, "version": 1, "interaction": {
        "request": {"method": "POST", "uri": "http://x/v1/chat/completions", "headers": {}, "body": "{}"},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}}}}
    (folder / "capture-1.jsonl").write_bytes(json.dumps(record).encode() + b"\n" + garbage)
    captured = read_captures([folder])
    assert captured.records[0].line == 1
    assert all(problem.line and problem.line >= 2 for problem in captured.problems)


def test_streams_reach_the_app_unchanged_and_a_stream_left_half_read_is_not_captured(provider, tmp_path):
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=provider.openai_base_url)
    question = "Tell me everything about the return policy of the shop in many words please"

    def chunks() -> list[str]:
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": question}])
        return [c.model_dump_json() for c in stream]

    without = chunks()
    with pytest_llmops.capture(tmp_path, sample=1.0) as cap:
        with_capture = chunks()
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": question}])
        next(iter(stream))
        stream.close()  # the app stops reading after the first chunk
    assert with_capture == without
    stats = cap.stats()
    assert (stats.written, stats.dropped_incomplete) == (1, 1)


def test_settings_are_checked_and_uninstall_restores_the_transports(tmp_path):
    original = httpx2.HTTPTransport.handle_request
    with pytest.raises(CaptureError, match=r"^capture: sample is the share of calls kept, a number from 0 to 1; got 5$"):
        capture.install(tmp_path, sample=5)
    capture.install(tmp_path, sample=0.5)
    assert httpx2.HTTPTransport.handle_request is not original
    assert capture.active() is not None
    stats = capture.uninstall()
    assert stats is not None and capture.active() is None
    assert httpx2.HTTPTransport.handle_request is original
    assert capture.uninstall() is None
