"""Record with --llm-live, replay offline: both SDKs, sync/async/streaming, identical objects."""

from __future__ import annotations

import json

import pytest

from sdk_calls import PATTERNS

MATRIX_TEST = """
import json, pathlib, pytest, sdk_calls

@pytest.mark.llm
@pytest.mark.parametrize("pattern", {patterns!r})
def test_call(pattern, request):
    result = getattr(sdk_calls, pattern)()
    mode = "live" if request.config.getoption("llm_live") else "replay"
    pathlib.Path(f"out-{{pattern}}-{{mode}}.json").write_text(json.dumps(result, sort_keys=True))
"""


def test_every_call_pattern_records_then_replays_identically(project):
    project.pytester.makepyfile(test_matrix=MATRIX_TEST.format(patterns=PATTERNS))
    live = project.run("--llm-live", live=True)
    live.assert_outcomes(passed=len(PATTERNS))
    sent_live = len(project.provider.requests)

    replay = project.run()  # no keys, base URLs pointing at a closed port
    replay.assert_outcomes(passed=len(PATTERNS))
    assert len(project.provider.requests) == sent_live, "replay must not touch the network"

    for pattern in PATTERNS:
        recorded = json.loads((project.path / f"out-{pattern}-live.json").read_text())
        replayed = json.loads((project.path / f"out-{pattern}-replay.json").read_text())
        assert replayed == recorded, pattern
        assert project.cassette(f"test_matrix/test_call[{pattern}].yaml").exists()


def test_async_tests_with_pytest_asyncio_and_anyio(project):
    project.pytester.makepyfile(
        test_async="""
        import anyio, openai, pytest, sdk_calls

        @pytest.mark.llm
        @pytest.mark.asyncio
        async def test_asyncio():
            async with openai.AsyncOpenAI() as client:  # closed in its own event loop
                result = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            assert result.choices[0].message.content == "Echo: hi"

        @pytest.mark.llm
        @pytest.mark.anyio
        async def test_anyio():
            async with openai.AsyncOpenAI() as client:
                result = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "yo"}])
            assert result.choices[0].message.content == "Echo: yo"

        @pytest.fixture
        def anyio_backend():
            return "asyncio"
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    project.run().assert_outcomes(passed=2)


def test_cassette_fixture_without_marker(project):
    project.pytester.makepyfile(
        test_fixture="""
        import openai

        def test_uses_fixture(llm_cassette):
            client = openai.OpenAI()
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one"}])
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}])
            assert llm_cassette.path.name == "test_uses_fixture.yaml"
            assert [method for method, _ in llm_cassette.requests] == ["POST", "POST"]
            if not llm_cassette.recording:
                assert llm_cassette.play_count == 2
            assert len(llm_cassette.interactions) == 2
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)


def test_identical_requests_replay_in_recorded_order(project, provider):
    counter = iter(range(100))
    provider.reply = lambda request, name: __import__("pytest_llmops.loopback").loopback.Reply(text=f"answer {next(counter)}")
    try:
        project.pytester.makepyfile(
            test_order="""
            import openai, pytest

            @pytest.mark.llm
            def test_same_question_twice():
                client = openai.OpenAI()
                ask = lambda: client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "roll"}]).choices[0].message.content
                first, second = ask(), ask()
                assert (first, second) == ("answer 0", "answer 1")
            """
        )
        project.run("--llm-live", live=True).assert_outcomes(passed=1)
    finally:
        provider.reply = None
    project.run().assert_outcomes(passed=1)


def test_matching_ignores_volatile_headers_and_json_layout(project):
    """A replay from another SDK version or machine sends other headers: they never decide a match."""
    project.pytester.makepyfile(
        test_headers="""
        import os, openai, pytest

        @pytest.mark.llm
        def test_call():
            replay = not os.environ.get("OPENAI_API_KEY", "").startswith("loopback")
            headers = {"User-Agent": "other-sdk/9.9", "X-Stainless-Retry-Count": "3", "Idempotency-Key": "x"} if replay else {}
            client = openai.OpenAI(default_headers=headers)
            # Same JSON, other key order: temperature before messages, 1.0 written as 1.
            kwargs = {"temperature": 1, "model": "gpt-4o-mini", "messages": [{"content": "hi", "role": "user"}]} if replay \\
                else {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.0}
            assert client.chat.completions.create(**kwargs).choices[0].message.content == "Echo: hi"
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)


def test_cassettes_are_readable_by_vcrpy(project):
    """Our files stay vcrpy-format: vcrpy itself replays them through the SDK."""
    project.pytester.makepyfile(
        test_vcr="""
        import openai, pytest

        @pytest.mark.llm
        def test_call():
            client = openai.OpenAI()
            assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    import openai
    import vcr

    path = project.cassette("test_vcr/test_call.yaml")
    with vcr.use_cassette(str(path), record_mode="none", match_on=["method", "path", "body"]) as cassette:
        client = openai.OpenAI(api_key="sk-none", base_url="http://127.0.0.1:9/v1", max_retries=0)
        # vcrpy compares raw body bytes unless content types say JSON: send exactly what was recorded.
        result = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert result.choices[0].message.content == "Echo: hi"
    assert cassette.play_count == 1


@pytest.mark.parametrize("pattern", ["openai_chat_stream", "anthropic_messages_stream_events"])
def test_streams_are_stored_as_readable_event_text(project, pattern):
    project.pytester.makepyfile(test_s=MATRIX_TEST.format(patterns=[pattern]))
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    text = project.cassette(f"test_s/test_call[{pattern}].yaml").read_text()
    assert "data: " in text and "!!binary" not in text
