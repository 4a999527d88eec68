"""Usage, cost and latency: the per-call log, llm_usage, the session summary, --llm-budget, xdist."""

from __future__ import annotations

import json
import re

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sdk_calls import PATTERNS

from pytest_llmops.errors import LiveModeError
from pytest_llmops.pricing import builtin_table
from pytest_llmops.usage import (
    RECORD_KEYS,
    Budget,
    Usage,
    money,
    parse_response,
    percentile,
)

AS_OF = builtin_table().as_of
MINI = builtin_table().lookup("openai", "gpt-4o-mini")[1]
SONNET = builtin_table().lookup("anthropic", "claude-sonnet-5-5")[1]


def fill(template: str, **values) -> str:
    """``template`` with each ``{name}`` replaced (the code in it keeps its own braces)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def read_report(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- every call pattern, live and replayed ---------------------------------------------------------
MATRIX = """
import json, pathlib, pytest, sdk_calls

@pytest.mark.llm
@pytest.mark.parametrize("pattern", {patterns!r})
def test_call(pattern, request):
    result = getattr(sdk_calls, pattern)()
    pathlib.Path(f"out-{{pattern}}.json").write_text(json.dumps(result))
"""


def sdk_usage(pattern: str, result) -> tuple[int | None, int | None, str | None]:
    """(input tokens, output tokens, finish reason) as the SDK's own objects report them."""
    if pattern.startswith("anthropic"):
        if isinstance(result, list):  # raw stream events
            start = next(e for e in result if e["type"] == "message_start")["message"]["usage"]
            delta = next(e for e in result if e["type"] == "message_delta")
            return start["input_tokens"], delta["usage"]["output_tokens"], delta["delta"]["stop_reason"]
        message = result.get("final", result)
        return message["usage"]["input_tokens"], message["usage"]["output_tokens"], message["stop_reason"]
    if "embeddings" in pattern:
        return result["usage"]["prompt_tokens"], 0, None
    if "responses" in pattern:
        response = result if isinstance(result, dict) else next(
            e["response"] for e in result if e["type"] == "response.completed")
        return response["usage"]["input_tokens"], response["usage"]["output_tokens"], response["status"]
    if isinstance(result, list):  # chat chunks
        usage = next((c["usage"] for c in result if c.get("usage")), None)
        finish = [c["choices"][0]["finish_reason"] for c in result if c["choices"] and c["choices"][0]["finish_reason"]]
        if usage is None:
            return None, None, finish[-1]
        return usage["prompt_tokens"], usage["completion_tokens"], finish[-1]
    return result["usage"]["prompt_tokens"], result["usage"]["completion_tokens"], result["choices"][0]["finish_reason"]


def test_one_record_per_call_for_every_pattern_live_and_replayed(project):
    project.pytester.makepyfile(test_matrix=MATRIX.format(patterns=PATTERNS))
    project.run("--llm-live", "--llm-report", "live.jsonl", live=True).assert_outcomes(passed=len(PATTERNS))
    project.run("--llm-report", "replay.jsonl").assert_outcomes(passed=len(PATTERNS))
    live = {r["test"]: r for r in read_report(project.path / "live.jsonl")}
    replay = {r["test"]: r for r in read_report(project.path / "replay.jsonl")}
    assert len(live) == len(replay) == len(PATTERNS)  # one record per call, both runs

    for pattern in PATTERNS:
        test = f"test_matrix.py::test_call[{pattern}]"
        first, again = live[test], replay[test]
        assert list(first)[: len(RECORD_KEYS)] == list(RECORD_KEYS), "schema keys, in order"
        assert (first["replayed"], again["replayed"]) == (False, True)
        result = json.loads((project.path / f"out-{pattern}.json").read_text())
        inp, out, finish = sdk_usage(pattern, result)
        assert (first["input_tokens"], first["output_tokens"]) == (inp, out), pattern
        assert first["finish_reason"] == finish, pattern
        assert first["provider"] == pattern.split("_")[0]
        assert first["request_id"] and first["error"] is None and first["status"] == 200
        assert first["latency_ms"] > 0 and first["replay_ms"] is None
        # replay reports what was recorded live, latency included; its own time is replay_ms
        same = {k: v for k, v in first.items() if k not in ("ts", "replayed", "replay_ms")}
        assert {k: v for k, v in again.items() if k not in ("ts", "replayed", "replay_ms")} == same, pattern
        assert again["replay_ms"] >= 0
        if inp is None:  # an OpenAI chat stream without include_usage: unknown, never 0
            assert first["cost_usd"] is None
            assert first["cost_note"].startswith("the response reported no token usage")
        elif pattern.startswith("anthropic"):
            assert first["cost_usd"] == pytest.approx((inp * SONNET.input + out * SONNET.output) / 1e6)
        elif "embeddings" not in pattern:
            assert first["cost_usd"] == pytest.approx((inp * MINI.input + out * MINI.output) / 1e6)
            assert first["priced_as"] == "gpt-4o-mini"


def test_record_schema_and_types(project):
    project.pytester.makepyfile(
        test_one="""
        import pytest, sdk_calls
        from pytest_llmops.context import current

        @pytest.mark.llm
        def test_call():
            current().use_prompt({"prompt": "answer@v2", "prompt_digest": "sha256:abc"})
            sdk_calls.openai_chat_sync()
        """
    )
    project.run("--llm-live", "--llm-report", "calls.jsonl", live=True).assert_outcomes(passed=1)
    (record,) = read_report(project.path / "calls.jsonl")
    assert set(RECORD_KEYS) <= set(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    assert record["test"] == "test_one.py::test_call"
    assert (record["provider"], record["model"]) == ("openai", "gpt-4o-mini")
    assert (record["prompt"], record["prompt_digest"]) == ("answer@v2", "sha256:abc")
    assert record["request_id"].startswith("req_")
    assert isinstance(record["input_tokens"], int) and isinstance(record["output_tokens"], int)
    assert isinstance(record["latency_ms"], float) and isinstance(record["cost_usd"], float)
    assert (record["finish_reason"], record["error"], record["replayed"]) == ("stop", None, False)
    assert record["endpoint"] == "POST /v1/chat/completions"
    assert "model_substituted_from" not in record


def test_model_substitution_is_recorded(project):
    project.pytester.makepyfile(test_one="import pytest, sdk_calls\n\n@pytest.mark.llm\n"
                                         "def test_call():\n    sdk_calls.openai_chat_sync()\n")
    project.run("--llm-live", "--llm-model", "gpt-4o-mini=gpt-4.1-mini", "--llm-report", "calls.jsonl",
                live=True).assert_outcomes(passed=1)
    (record,) = read_report(project.path / "calls.jsonl")
    assert (record["model"], record["model_substituted_from"], record["priced_as"]) == (
        "gpt-4.1-mini", "gpt-4o-mini", "gpt-4.1-mini")


def test_a_failed_call_is_recorded_with_its_error_and_costs_nothing(project):
    project.pytester.makepyfile(
        test_fail="""
        import openai, pytest

        @pytest.mark.llm
        def test_call():
            client = openai.OpenAI(max_retries=0)
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        """
    )
    from pytest_llmops.loopback import Reply

    project.provider.reply = lambda request, provider: Reply(status=429, error_message="Rate limit reached")
    try:
        project.run("--llm-live", "--llm-report", "calls.jsonl", live=True).assert_outcomes(passed=1)
    finally:
        project.provider.reply = None
    (record,) = read_report(project.path / "calls.jsonl")
    assert record["status"] == 429
    assert record["error"].startswith("429 ") and record["error"].endswith(": Rate limit reached")
    assert (record["input_tokens"], record["output_tokens"], record["cost_usd"]) == (0, 0, 0.0)


# -- unknown cost, user prices ---------------------------------------------------------------------
UNKNOWN_MODEL = """
import openai, pytest

@pytest.mark.llm
def test_calls(llm_usage):
    client = openai.OpenAI()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three"}])
    client.chat.completions.create(model="acme-private-7b", messages=[{"role": "user", "content": "four five"}])
    assert llm_usage.calls == 2
    assert llm_usage.unknown_cost_calls == {unknown}
    assert (llm_usage.cost_usd is None) == {unknown_is_none}
    assert llm_usage.known_cost_usd == pytest.approx({known})
"""


def test_unknown_model_has_unknown_cost_never_zero(project):
    mini = (3 * MINI.input + 4 * MINI.output) / 1e6  # loopback: 3 words in, "Echo: one two three" = 4 out
    project.pytester.makepyfile(test_app=fill(UNKNOWN_MODEL, unknown=1, unknown_is_none=True, known=mini))
    result = project.run("--llm-live", "--llm-report", "calls.jsonl", live=True)
    result.assert_outcomes(passed=1)
    records = read_report(project.path / "calls.jsonl")
    assert [r["cost_usd"] is None for r in records] == [False, True]
    assert records[1]["cost_note"] == "no price for openai model 'acme-private-7b'"
    result.stdout.fnmatch_lines([
        f"cost      {money(mini)} + ? (estimated, prices of {AS_OF}): 1 of 2 calls of unknown cost",
        "          1 x no price for openai model 'acme-private-7b'; add it with llm_pricing",
    ])


def test_user_pricing_file_is_merged_over_the_built_in_table(project):
    project.pytester.makefile(".toml", prices='[openai."acme-private-7b"]\ninput = 1000\noutput = 2000\n\n'
                                              '[openai."gpt-4o-mini"]\ninput = 100\noutput = 100\n')
    project.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nllm_pricing = prices.toml\n")
    known = (3 * 100 + 4 * 100 + 2 * 1000 + 3 * 2000) / 1e6
    project.pytester.makepyfile(test_app=fill(UNKNOWN_MODEL, unknown=0, unknown_is_none=False, known=known))
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"cost      {money(known)} (estimated, prices of {AS_OF} + llm_pricing)"])


def test_malformed_user_pricing_file_is_a_usage_error(project):
    project.pytester.makefile(".json", prices='{"openai": {"gpt-4o": {"input": 2}}}')
    project.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nllm_pricing = prices.json\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: llm_pricing: {project.path / 'prices.json'}: openai.gpt-4o: 'output' is required (USD per 1M tokens)"
    ])


# -- llm_usage -------------------------------------------------------------------------------------
FIXTURE_TEST = """
import anthropic, openai, pytest

def test_usage(llm_usage, request):
    chat = openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "how tall is it"}])
    assert llm_usage.calls == 1
    message = anthropic.Anthropic().messages.create(
        model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "and how old"}])
    assert llm_usage.calls == 2
    assert llm_usage.input_tokens == chat.usage.prompt_tokens + message.usage.input_tokens
    assert llm_usage.output_tokens == chat.usage.completion_tokens + message.usage.output_tokens
    expected = (chat.usage.prompt_tokens * {mini_in} + chat.usage.completion_tokens * {mini_out}
                + message.usage.input_tokens * {sonnet_in} + message.usage.output_tokens * {sonnet_out}) / 1e6
    assert llm_usage.cost_usd == pytest.approx(expected)
    assert llm_usage.unknown_cost_calls == 0
    assert len(llm_usage.latencies_ms) == 2 and llm_usage.p50_ms > 0
    replayed = not request.config.getoption("llm_live")
    assert (llm_usage.live_calls, llm_usage.replayed_calls) == ((0, 2) if replayed else (2, 0))
    total = llm_usage + llm_usage
    assert (total.calls, total.cost_usd) == (4, pytest.approx(2 * expected))
    pathlib.Path("latency-" + ("replay" if replayed else "live")).write_text(repr(sorted(llm_usage.latencies_ms)))

def test_no_calls(llm_usage):
    assert (llm_usage.calls, llm_usage.cost_usd, llm_usage.p95_ms) == (0, 0, None)
"""


def test_llm_usage_fixture_gives_the_tests_own_usage(project):
    source = "import pathlib\n" + fill(FIXTURE_TEST, mini_in=MINI.input, mini_out=MINI.output,
                                                      sonnet_in=SONNET.input, sonnet_out=SONNET.output)
    project.pytester.makepyfile(test_app=source)
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    project.run().assert_outcomes(passed=2)  # the fixture activates the cassette: replays offline
    live = (project.path / "latency-live").read_text()
    assert (project.path / "latency-replay").read_text() == live  # replay reports the recorded latency


# -- the terminal summary --------------------------------------------------------------------------
SUMMARY_TESTS = """
import pytest, sdk_calls

@pytest.mark.llm
def test_openai():
    sdk_calls.openai_chat_sync()
    sdk_calls.openai_responses_sync()

@pytest.mark.llm
def test_anthropic():
    sdk_calls.anthropic_messages_sync()

def test_no_llm():
    pass
"""


def test_terminal_summary(project):
    project.pytester.makepyfile(test_app=SUMMARY_TESTS)
    live = project.run("--llm-live", "--llm-report", "calls.jsonl", live=True)
    live.assert_outcomes(passed=3)
    records = read_report(project.path / "calls.jsonl")
    total = Usage.of(records)
    openai_cost = money(records[0]["cost_usd"] + records[1]["cost_usd"] if records[0]["provider"] == "openai"
                        else records[1]["cost_usd"] + records[2]["cost_usd"])
    anthropic_cost = money(next(r["cost_usd"] for r in records if r["provider"] == "anthropic"))
    lines = [
        "=* llm usage =*",
        "calls     3: 3 live, 0 replayed",
        f"tokens    {total.input_tokens} in, {total.output_tokens} out",
        f"cost      {money(total.cost_usd)} (estimated, prices of {AS_OF})",
        "latency   p50 * ms, p95 * ms, p99 * ms",
        f"by test   {anthropic_cost}  * tok     1 call  test_app.py::test_anthropic",
        f"          {openai_cost}  * tok    2 calls  test_app.py::test_openai",
        "report    calls.jsonl (3 lines)",
    ]
    live.stdout.fnmatch_lines(lines)
    replay = project.run()
    replay.assert_outcomes(passed=3)
    lines[1] = "calls     3: 0 live, 3 replayed"
    lines[4] = "latency   p50 * ms, p95 * ms, p99 * ms (replayed calls count their recorded latency; replay took * ms)"
    replay.stdout.fnmatch_lines(lines[:-1])
    assert "report " not in replay.stdout.str()


def test_no_summary_without_provider_calls(project):
    project.pytester.makepyfile(test_app="def test_plain():\n    pass\n")
    result = project.run()
    result.assert_outcomes(passed=1)
    assert "llm usage" not in result.stdout.str()


# -- the budget ------------------------------------------------------------------------------------
BUDGET_TESTS = """
import openai, pytest

def ask(text):
    return openai.OpenAI().chat.completions.create(model="dollar-per-token", messages=[{"role": "user", "content": text}])

@pytest.mark.llm
def test_first():
    ask("one")  # $1 (one input token; the price file charges nothing for output)

@pytest.mark.llm
def test_second_swallows_the_refusal():
    ask("two")  # $1 spent before: sent
    try:
        ask("three")  # $2 spent: refused
    except openai.OpenAIError:
        pass

@pytest.mark.llm
def test_third():
    ask("four")
"""


def test_budget_stops_live_calls_before_sending_and_nothing_half_recorded(project):
    project.pytester.makefile(".json", prices=json.dumps({"openai": {"dollar-per-token": {"input": 1e6, "output": 0}}}))
    project.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nllm_pricing = prices.json\n")
    project.pytester.makepyfile(test_app=BUDGET_TESTS)
    sent = len(project.provider.requests)
    result = project.run("--llm-live", "--llm-budget", "1.5", live=True)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert len(project.provider.requests) - sent == 2, "refused calls are never sent, nor retried"
    refusal = [
        ("*LiveModeError: pytest-llmops: the --llm-budget of $1.50 is used up (an estimated $2.00 spent on live "
         "calls so far), so this call to openai (dollar-per-token) was not sent."),
        "*Raise --llm-budget, or run without --llm-live to replay the recorded tests.",
    ]
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_second_swallows_the_refusal*",
        ("*pytest-llmops: a provider call was not sent, so this test's recording was not written (1 call(s) "
         "discarded); cassettes/test_app/test_second_swallows_the_refusal.yaml is unchanged."),
        "*_ test_third _*",
        *refusal,
        "budget    $2.00 of $1.50 spent; 2 calls refused, not sent",
    ])
    assert project.cassette("test_app/test_first.yaml").exists()
    assert not project.cassette("test_app/test_second_swallows_the_refusal.yaml").exists()
    assert not project.cassette("test_app/test_third.yaml").exists()
    # replay spends nothing: the budget does not apply
    project.run("--llm-budget", "0", "-k", "test_first").assert_outcomes(passed=1)


# -- xdist -----------------------------------------------------------------------------------------
XDIST_TESTS = """
import pytest, sdk_calls

@pytest.mark.llm
@pytest.mark.parametrize("pattern", ["openai_chat_sync", "openai_responses_stream", "anthropic_messages_sync",
                                     "anthropic_messages_stream_events", "openai_embeddings", "openai_chat_tools"])
def test_call(pattern):
    getattr(sdk_calls, pattern)()
"""


def test_xdist_totals_equal_a_serial_run(project):
    project.pytester.makepyfile(test_app=XDIST_TESTS)
    serial = project.run("--llm-live", "--llm-report", "serial.jsonl", live=True)
    serial.assert_outcomes(passed=6)
    parallel = project.run("-n", "2", "--llm-report", "parallel.jsonl")  # replays what the serial run recorded
    parallel.assert_outcomes(passed=6)

    def comparable(path):
        volatile = ("ts", "replayed", "replay_ms")
        return sorted(json.dumps({k: v for k, v in r.items() if k not in volatile}, sort_keys=True)
                      for r in read_report(path))

    assert comparable(project.path / "parallel.jsonl") == comparable(project.path / "serial.jsonl")
    totals = Usage.of(read_report(project.path / "serial.jsonl"))
    assert totals.calls == 6 and totals.cost_usd is not None
    for line in (f"tokens    {totals.input_tokens} in, {totals.output_tokens} out",
                 f"cost      {money(totals.cost_usd)} (estimated, prices of {AS_OF})"):
        serial.stdout.fnmatch_lines([line])
        parallel.stdout.fnmatch_lines([line])
    parallel.stdout.fnmatch_lines(["calls     6: 0 live, 6 replayed"])


def test_xdist_workers_share_the_budget_through_a_ledger(tmp_path):
    ledger = tmp_path / "spend.log"
    one, two = Budget(1.0, ledger), Budget(1.0, ledger)
    one.spend({"cost_usd": 0.75, "replayed": False})
    two.spend({"cost_usd": 0.125, "replayed": True})  # replayed calls cost nothing
    two.spend({"cost_usd": None, "replayed": False})  # unknown cost: not counted
    assert one.spent() == two.spent() == 0.75
    two.spend({"cost_usd": 0.25, "replayed": False})
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions", json={"model": "gpt-4o-mini"})
    with pytest.raises(LiveModeError, match=r"this call to openai \(gpt-4o-mini\) was not sent"):
        one.check(request)
    assert (one.refused, two.refused) == (1, 0)


# -- reading responses (unit) ----------------------------------------------------------------------
def sse(*events: tuple[str | None, dict]) -> str:
    return "".join((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n" for name, data in events)


SSE = {"content-type": ["text/event-stream"]}


def test_anthropic_stream_usage_is_cumulative_and_cache_tokens_count_as_input():
    body = sse(
        ("message_start", {"type": "message_start", "message": {"model": "claude-x", "usage": {
            "input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
            "output_tokens": 1}}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                           "usage": {"output_tokens": 42, "input_tokens": None}}),
    )
    facts = parse_response("anthropic", 200, "OK", SSE, body)
    assert (facts.tokens.input, facts.tokens.output, facts.tokens.cached_input) == (160, 42, 100)
    assert (facts.tokens.cache_write, facts.tokens.cache_write_1h) == (20, 30)
    assert (facts.finish_reason, facts.model, facts.error) == ("max_tokens", "claude-x", None)


def test_anthropic_mid_stream_error():
    body = sse(
        ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
    facts = parse_response("anthropic", 200, "OK", SSE, body)
    assert facts.error == "stream error: overloaded_error: Overloaded"
    assert facts.tokens.input == 5


def test_responses_incomplete_and_failed():
    incomplete = {"object": "response", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                  "usage": {"input_tokens": 7, "output_tokens": 3, "input_tokens_details": {"cached_tokens": 2}}}
    facts = parse_response("openai", 200, "OK", {}, json.dumps(incomplete))
    assert (facts.finish_reason, facts.tokens.input, facts.tokens.cached_input) == ("incomplete:max_output_tokens", 7, 2)
    failed = sse((None, {"type": "response.failed", "response": {"object": "response", "status": "failed",
                                                               "error": {"code": "server_error", "message": "boom"}}}))
    facts = parse_response("openai", 200, "OK", SSE, failed)
    assert (facts.finish_reason, facts.error) == ("failed", "server_error: boom")


def test_chat_with_several_choices_and_audio_tokens():
    body = {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop"},
                                                     {"index": 1, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 9, "completion_tokens_details": {"audio_tokens": 4}}}
    facts = parse_response("openai", 200, "OK", {}, json.dumps(body))
    assert facts.finish_reason == "stop,length"
    assert facts.unpriced == "audio tokens have no price in the table"


@pytest.mark.parametrize("body", ["", "not json", b"\xff\xfe", "data: {broken\n\n", "[1, 2]"])
def test_unreadable_bodies_never_raise(body):
    facts = parse_response("openai", 200, "OK", SSE if "data:" in str(body) else {}, body)
    assert facts.tokens is None and facts.error is None


def test_error_body_of_each_provider():
    openai_body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    anthropic_body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert parse_response("openai", 429, "Too Many Requests", {}, json.dumps(openai_body)).error == (
        "429 requests: Rate limit reached")
    assert parse_response("anthropic", 529, "", {}, json.dumps(anthropic_body)).error == (
        "529 overloaded_error: Overloaded")
    assert parse_response("openai", 502, "Bad Gateway", {}, "<html>").error == "502 Bad Gateway"


# -- Usage arithmetic (unit) -----------------------------------------------------------------------
def record(cost, latency=10.0, tokens=(1, 2), replayed=False):
    return {"cost_usd": cost, "latency_ms": latency, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "replayed": replayed, "error": None}


def test_usage_cost_is_unknown_if_any_call_is_and_counts_them():
    usage = Usage.of([record(0.5), record(None), record(0.25, replayed=True)])
    assert usage.cost_usd is None
    assert (usage.known_cost_usd, usage.unknown_cost_calls) == (0.75, 1)
    assert (usage.calls, usage.live_calls, usage.replayed_calls) == (3, 2, 1)
    assert Usage.of([record(0.5), record(0.25)]).cost_usd == 0.75
    assert Usage().cost_usd == 0


records = st.lists(st.builds(record, st.one_of(st.none(), st.floats(0, 10)), st.floats(0, 1e5),
                             st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), st.booleans()), max_size=20)


@given(records, records)
def test_usage_addition_is_the_usage_of_all_records(a, b):
    together = Usage.of(a + b)
    added = Usage.of(a) + Usage.of(b)
    assert (added.calls, added.input_tokens, added.output_tokens, added.unknown_cost_calls) == (
        together.calls, together.input_tokens, together.output_tokens, together.unknown_cost_calls)
    assert added.known_cost_usd == pytest.approx(together.known_cost_usd)
    assert sorted(added.latencies_ms) == sorted(together.latencies_ms)
    assert sum([Usage.of(a), Usage.of(b)]).calls == together.calls


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.sampled_from([0, 50, 95, 99, 100]))
def test_percentiles_stay_within_the_data(values, q):
    p = percentile(values, q)
    assert min(values) <= p <= max(values)
    if q == 0:
        assert p == min(values)
    if q == 100:
        assert p == max(values)


@pytest.mark.parametrize(("usd", "text"), [(None, "?"), (0, "$0"), (0.000708, "$0.000708"), (0.0123, "$0.0123"),
                                           (2, "$2.00"), (1234.5, "$1,234.50"), (4e-8, "<$0.000001")])
def test_money(usd, text):
    assert money(usd) == text
