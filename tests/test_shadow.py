"""--llm-shadow: every live request also goes to a challenger model; the tests see only the champion;
both models' answers are recorded and scored the same way, side by side in the reports."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from pytest_llmops.cassette import load_cassette
from pytest_llmops.faithfulness import check_faithfulness
from pytest_llmops.loopback import Reply

EXAMPLES = Path(__file__).parent.parent / "examples"
CHALLENGER = "gpt-4.1"
INVENTED = "We also lend you a free bike while yours is away."
POLICY = "Returns are accepted within 30 days of delivery. Refunds are paid within 5 working days."

TEST_FILE = '''
import openai
import pytest

from pytest_llmops import assert_faithful, assert_judge

POLICY = "Returns are accepted within 30 days of delivery. Refunds are paid within 5 working days."


def ask(question):
    reply = openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": POLICY}, {"role": "user", "content": f"Question: {question}"}])
    return reply.choices[0].message.content


@pytest.mark.llm
def test_returns(llm_judge, llm_baseline):
    answer = ask("How many days do I have to return a bike?")
    assert_faithful(answer, POLICY)
    assert_judge(answer, rubric="States the return window of the policy and invents nothing.", min_score=3,
                 context=POLICY)
    llm_baseline.check("length", len(answer.split()))


@pytest.mark.llm
def test_refunds():
    assert "5 working days" in ask("When are refunds paid?")
'''


def toy_judge():
    spec = importlib.util.spec_from_file_location("loopback_model_for_shadow", EXAMPLES / "loopback_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reply


@pytest.fixture
def shadow_project(project, provider, monkeypatch):
    judge = toy_judge()

    def reply(request, kind):
        verdict = judge(request, kind)  # the judge's requests get the toy (word overlap) judge's verdicts
        if verdict is not None:
            return verdict
        body = request.json or {}
        if body.get("model") == CHALLENGER:
            return Reply(text=f"{json.loads(json.dumps(body))['messages'][0]['content'].split('. ')[0]}. {INVENTED}")
        return None

    monkeypatch.setattr(provider, "reply", reply)
    project.pytester.makepyfile(test_app=TEST_FILE)
    project.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n"
                             "llm_judge_model = openai:gpt-4o-mini\n")
    return project


def models_in(path: Path) -> list[str]:
    return [json.loads(i.request_body)["model"] for i in load_cassette(path).interactions]


def test_a_shadow_run_records_and_scores_both_models_without_changing_the_outcome(shadow_project, provider):
    project = shadow_project
    before = len(provider.requests)
    result = project.run("--llm-live", "--llm-shadow", CHALLENGER, "--llm-html", "report.html", live=True)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        f"llmops: shadow: every live request is also sent to {CHALLENGER} (answers in cassettes/shadow/{CHALLENGER}/)",
    ])
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if f" llm shadow: {CHALLENGER} " in line)
    section = lines[start + 1:]
    assert section[0] == f"champion gpt-4o-mini vs challenger {CHALLENGER}: 2 call(s) in 2 test(s)"
    assert section[1].split() == ["metric", "champion", "challenger", "better", "worse", "same"]
    shadow = project.cassette(f"shadow/{CHALLENGER}/test_app/test_returns.yaml")
    challenger_answer = json.loads(load_cassette(shadow).interactions[0].response_body)["choices"][0]["message"]["content"]
    assert challenger_answer == f"Returns are accepted within 30 days of delivery. {INVENTED}"
    faithfulness = f"{check_faithfulness(challenger_answer, POLICY).score:.4f}".rstrip("0").rstrip(".")
    rows = {line[2:26].strip(): line[26:].split() for line in section[2:8]}
    assert rows["faithfulness"] == ["1", faithfulness, "0", "1", "0"]
    assert rows["judge"][0] == "5" and float(rows["judge"][1]) < 5 and rows["judge"][2:] == ["0", "1", "0"]
    assert rows["similarity to champion"][0] == "-" and rows["similarity to champion"][2:] == ["0", "2", "0"]
    assert {"output tokens", "cost (USD)", "latency (ms)"} <= set(rows)
    assert section[8] == "tests where the challenger did worse or failed (-v: all):"
    assert section[9].startswith(f"  test_app.py::test_returns  faithfulness 1 -> {faithfulness}; judge 5 -> ")
    assert "not recomputed for the challenger (computed by the test body): length" in section
    assert f"shadow cassettes: cassettes/shadow/{CHALLENGER}/" in section

    # the test saw the champion: its cassette, scores and baseline verdicts are the champion's alone
    assert set(models_in(project.cassette("test_app/test_returns.yaml"))) == {"gpt-4o-mini"}
    result.stdout.fnmatch_lines(["gpt-4o-mini: 3 new"])
    # the challenger got the same requests, recorded in its own cassettes with its judge call
    assert models_in(shadow) == [CHALLENGER, "gpt-4o-mini"]  # its answer, then the judge grading it
    assert INVENTED in load_cassette(shadow).interactions[0].response_body
    assert models_in(project.cassette(f"shadow/{CHALLENGER}/test_app/test_refunds.yaml")) == [CHALLENGER]
    assert "loopback-openai-key" not in shadow.read_text() and yaml.safe_load(shadow.read_text())["shadow_model"] == CHALLENGER
    sent = [r.json.get("model") for r in provider.requests[before:] if r.json]
    assert sent.count(CHALLENGER) == 2
    page = (project.path / "report.html").read_text()
    assert f"<h2>Shadow: champion vs challenger <code>{CHALLENGER}</code></h2>" in page and INVENTED in page

    project.run().assert_outcomes(passed=2)  # the champion's cassettes replay as before


def test_challenger_failures_are_reported_never_raised(shadow_project, provider, monkeypatch):
    monkeypatch.setattr(provider, "reply", lambda request, kind: Reply(
        status=404, error_message=f"The model `{CHALLENGER}` does not exist") if (request.json or {}).get(
        "model") == CHALLENGER else None)
    project = shadow_project
    project.pytester.makepyfile(test_app=TEST_FILE.split("@pytest.mark.llm\ndef test_returns")[0]
                                + "@pytest.mark.llm\ndef test_refunds():\n"
                                  "    assert '5 working days' in ask('When are refunds paid?')\n")
    result = project.run("--llm-live", f"--llm-shadow=openai:{CHALLENGER}", live=True)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"champion gpt-4o-mini vs challenger {CHALLENGER}: 1 call(s) in 1 test(s), 1 challenger error(s)",
        f"  test_app.py::test_refunds  challenger error: invalid_request_error: The model `{CHALLENGER}` does not exist",
    ])
    assert not any(line.lstrip().startswith(("cost (USD)", "output tokens")) for line in result.stdout.lines)


def test_shadow_needs_a_live_run(shadow_project, provider):
    project = shadow_project
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    before = len(provider.requests)
    result = project.run("--llm-shadow", CHALLENGER)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([(f"llmops: --llm-shadow {CHALLENGER} ignored: shadow calls are made in live runs only "
                                 f"(add --llm-live)")])
    assert len(provider.requests) == before and not project.cassette("shadow").exists()
    result = project.run("--llm-live", "--llm-shadow", " ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([("ERROR: --llm-shadow expects the challenger model, e.g. --llm-shadow gpt-4.1 "
                                 "(or openai:gpt-4.1 to shadow only OpenAI requests)")])
