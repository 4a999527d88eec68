"""assert_schema, assert_faithful (offline and through the judge) and assert_judge: what passes, what a
failure looks like (whole lines, no library frames), and the scores they record (metric, value,
source, the model and prompt lineage of the output under test), live then replayed offline."""

from __future__ import annotations

import json

import pytest
from judge_helpers import Verdicts, by_test, scores, setup_project

from pytest_llmops import (
    FaithfulnessAssertionError,
    Judge,
    JudgeAssertionError,
    JudgeConfigError,
    SchemaAssertionError,
    assert_faithful,
    assert_judge,
    assert_schema,
)
from pytest_llmops.context import close_context, current, open_context

ANSWER_PROMPT = """\
model: gpt-4o
params: {temperature: 0}
system: Answer from the context only.
messages:
  - role: user
    content: |
      Context:
      {{ context }}

      Question: {{ question }}
"""

TESTS = '''
import openai, pytest
from pytest_llmops import Judge, assert_faithful, assert_judge, assert_schema

CONTEXT = ("Northwind Bikes accepts returns of unused bikes within 30 days of delivery. "
           "Refunds are paid within 5 business days.")
QUESTION = "How many days do I have to return an unused bike?"
RUBRIC = "States how many days the customer has to return an unused bike."


@pytest.fixture
def app(llm_prompts, llm_cassette):
    """The application under test: one call with the versioned prompt `answer` (model gpt-4o)."""
    kwargs = llm_prompts.get("answer").call_kwargs("openai", context=CONTEXT, question=QUESTION)
    client = openai.OpenAI()
    reply = client.chat.completions.create(**kwargs)
    return reply.choices[0].message.content, lambda: client.chat.completions.create(**kwargs)


def test_faithful_offline(app):
    answer, _ = app
    result = assert_faithful(answer, CONTEXT)
    assert result.passed and answer.startswith("Northwind Bikes accepts returns")


def test_unfaithful_offline():
    assert_faithful("Returns are accepted within 60 days of delivery.", CONTEXT)


def test_faithful_by_judge(app, llm_judge):
    answer, _ = app
    assert assert_faithful(answer, CONTEXT, method="judge").score == 1.0


def test_unfaithful_by_judge(llm_judge):
    assert_faithful("Returns are accepted within 60 days. Refunds take 5 business days.", CONTEXT, method="judge")


@pytest.mark.llm
def test_unfaithful_by_anthropic_judge():
    assert_faithful("Returns are accepted within 60 days.", [CONTEXT], method="judge",
                    judge=Judge("claude-haiku-4-5"))


def test_judged_good(app, llm_judge):
    answer, call_again = app
    score = assert_judge(answer, rubric=RUBRIC, min_score=4, question=QUESTION, context=CONTEXT)
    assert score == 5
    call_again()  # the app's next call still carries the app's prompt, not the judge's


def test_judged_poor(llm_judge):
    assert_judge("Returns are accepted.", rubric=RUBRIC, min_score=4, n=3)


@pytest.mark.llm
def test_judged_poor_by_anthropic():
    assert_judge("Returns are accepted.", rubric=RUBRIC, min_score=0.5, scale=(0, 1),
                 judge=Judge("anthropic:claude-haiku-4-5"))


def test_schema_ok(app):
    answer, _ = app
    assert assert_schema({"answer": answer}, {"type": "object", "required": ["answer"]}) == {"answer": answer}


def test_schema_broken():
    assert_schema('{"days": "thirty"}', {"type": "object", "properties": {"days": {"type": "integer"}}})
'''

CLAIMS_SUPPORTED = {"claims": [{"claim": "Northwind Bikes accepts returns of unused bikes within 30 days of delivery.",
                                "verdict": "supported", "evidence": "Northwind Bikes accepts returns of unused bikes "
                                "within 30 days of delivery.", "reason": "Stated in the context."}]}
CLAIMS_60 = {"claims": [
    {"claim": "Returns are accepted within 60 days.", "verdict": "unsupported",
     "evidence": "Northwind Bikes accepts returns of unused bikes within 30 days of delivery.",
     "reason": "The context says 30 days, not 60."},
    {"claim": "Refunds take 5 business days.", "verdict": "supported",
     "evidence": "Refunds are paid within 5 business days.", "reason": "Stated."},
]}
CLAIMS_60_ANTHROPIC = {"claims": CLAIMS_60["claims"][:1]}

OUTCOMES = {"passed": 4, "failed": 6}


@pytest.fixture
def recorded(project):
    """The project recorded live (judge verdicts from the loopback server), then replayed offline."""
    setup_project(project)
    (project.path / "prompts" / "answer").mkdir(parents=True)
    (project.path / "prompts" / "answer" / "v1.yaml").write_text(ANSWER_PROMPT)
    project.pytester.makepyfile(test_app=TESTS)
    verdicts = Verdicts(
        {"reason": "Gives the 30-day window for unused bikes.", "score": 5},
        {"reason": "Says returns are accepted but not within how many days.", "score": 2},
        {"reason": "No number of days.", "score": 2},
        {"reason": "Mentions returns at all.", "score": 3},
        {"reason": "The return window is missing.", "score": 0.25},
        claims=[CLAIMS_SUPPORTED, CLAIMS_60, CLAIMS_60_ANTHROPIC],
    )
    project.monkeypatch.setattr(project.provider, "reply", verdicts)
    live = project.run("--llm-live", "--llm-report", "calls.jsonl", live=True)
    live.assert_outcomes(**OUTCOMES)
    sent = len(project.provider.requests)
    replay = project.run()
    replay.assert_outcomes(**OUTCOMES)
    assert len(project.provider.requests) == sent, "replay must not touch the network"
    return project, live, replay


def test_failures_read_like_pytest_and_replay_the_same(recorded):
    _project, live, replay = recorded
    for result in (live, replay):
        result.stdout.fnmatch_lines(
            [
                "    def test_unfaithful_offline():",
                '>       assert_faithful("Returns are accepted within 60 days of delivery.", CONTEXT)',
                ("E       pytest_llmops.FaithfulnessAssertionError: 1 of 1 claim(s) not supported by the context "
                "(score 0.42, threshold 0.675):"),
                "E         1. claim:    'Returns are accepted within 60 days of delivery.'",
                "E            score:    0.42",
                "E            evidence: 'Northwind Bikes accepts returns of unused bikes within 30 days of delivery.'",
                "E            - number 60 not in context",
                "",
                "test_app.py:*: FaithfulnessAssertionError",
            ],
            consecutive=True,
        )
        result.stdout.fnmatch_lines(
            [
                ("E       pytest_llmops.FaithfulnessAssertionError: 1 of 2 claim(s) not supported by the context "
                "(score 0.50, threshold 0.675):"),
                "E         1. claim:    'Returns are accepted within 60 days.'",
                "E            score:    0.00",
                "E            evidence: 'Northwind Bikes accepts returns of unused bikes within 30 days of delivery.'",
                "E            - The context says 30 days, not 60.",
                "E         judged by gpt-4o-mini with prompt faithfulness-claims@v1",
            ],
            consecutive=True,
        )
        result.stdout.fnmatch_lines(
            [
                ("E       pytest_llmops.FaithfulnessAssertionError: 1 of 1 claim(s) not supported by the context "
                "(score 0.00, threshold 0.675):"),
                "E         1. claim:    'Returns are accepted within 60 days.'",
                "E            score:    0.00",
                "E            evidence: 'Northwind Bikes accepts returns of unused bikes within 30 days of delivery.'",
                "E            - The context says 30 days, not 60.",
                "E         judged by claude-haiku-4-5 with prompt faithfulness-claims@v1",
            ],
            consecutive=True,
        )
        result.stdout.fnmatch_lines(
            [
                "    def test_judged_poor(llm_judge):",
                ">       assert_judge(\"Returns are accepted.\", rubric=RUBRIC, min_score=4, n=3)",
                "E       pytest_llmops.JudgeAssertionError: judge score 2 is below min_score 4",
                "E         rubric: States how many days the customer has to return an unused bike.",
                "E         score:  2 (median of 3 samples: 2, 2, 3; spread 1) on the scale 1-5",
                "E         reason: Says returns are accepted but not within how many days.",
                "E         model:  gpt-4o-mini (judge prompt judge@v1)",
                "E         output: 'Returns are accepted.'",
                "",
                "test_app.py:*: JudgeAssertionError",
            ],
            consecutive=True,
        )
        result.stdout.fnmatch_lines(
            [
                "E       pytest_llmops.JudgeAssertionError: judge score 0.25 is below min_score 0.5",
                "E         rubric: States how many days the customer has to return an unused bike.",
                "E         score:  0.25 on the scale 0-1",
                "E         reason: The return window is missing.",
                "E         model:  claude-haiku-4-5 (judge prompt judge@v1)",
                "E         output: 'Returns are accepted.'",
            ],
            consecutive=True,
        )
        result.stdout.fnmatch_lines(
            [
                "E       pytest_llmops.schema.SchemaAssertionError: output does not match schema (1 violation):",
                "E         $.days: expected type integer, found string 'thirty'",
            ],
            consecutive=True,
        )
        # the library's frames are hidden: each failure shows the test's own line only
        for frame in ("assertions.py", "judge.py", "schema.py", "faithfulness.py"):
            result.stdout.no_fnmatch_line(f"*pytest_llmops*{frame}:*")


def test_scores_carry_metric_source_and_the_lineage_of_the_output_under_test(recorded):
    project, _, _ = recorded
    live, replayed = scores(project, "live"), scores(project, "replay")
    assert replayed == live  # deterministic: the judge's verdicts replay from the cassettes
    rows = by_test(live)

    def brief(row):
        return (row["metric"], row["value"], row["source"], row["model"], row["prompt"])

    assert [brief(r) for r in rows["test_faithful_offline"]] == [
        ("faithfulness", rows["test_faithful_offline"][0]["value"], "faithfulness", "gpt-4o", "answer@v1")
    ]
    assert rows["test_faithful_offline"][0]["value"] >= 0.9
    assert rows["test_faithful_offline"][0]["details"]["method"] == "offline"
    assert [brief(r) for r in rows["test_unfaithful_offline"]] == [("faithfulness", 0.4167, "faithfulness", None, None)]
    assert rows["test_unfaithful_offline"][0]["details"]["unsupported"] == [
        "Returns are accepted within 60 days of delivery."
    ]
    assert [brief(r) for r in rows["test_faithful_by_judge"]] == [("faithfulness", 1.0, "judge", "gpt-4o", "answer@v1")]
    judged = rows["test_faithful_by_judge"][0]["details"]
    assert (judged["method"], judged["judge_model"], judged["judge_prompt"]) == (
        "judge", "gpt-4o-mini", "faithfulness-claims@v1")
    assert [brief(r) for r in rows["test_unfaithful_by_judge"]] == [("faithfulness", 0.5, "judge", None, None)]
    assert [brief(r) for r in rows["test_unfaithful_by_anthropic_judge"]] == [
        ("faithfulness", 0.0, "judge", None, None)]

    # a judge score is about the app's output: the app's model and prompt, the judge's in the details
    good = rows["test_judged_good"][0]
    assert brief(good) == ("judge", 5.0, "judge", "gpt-4o", "answer@v1")
    assert good["samples"] == [5.0]
    assert good["reason"] == "Gives the 30-day window for unused bikes."
    assert {k: good["details"][k] for k in ("judge_model", "judge_prompt", "min_score", "rubric", "scale")} == {
        "judge_model": "gpt-4o-mini", "judge_prompt": "judge@v1", "min_score": 4,
        "rubric": "States how many days the customer has to return an unused bike.", "scale": [1, 5]}
    poor = rows["test_judged_poor"][0]
    assert (poor["value"], poor["samples"], poor["details"]["spread"]) == (2.0, [2.0, 2.0, 3.0], 1.0)
    assert brief(rows["test_judged_poor_by_anthropic"][0]) == ("judge", 0.25, "judge", None, None)
    assert rows["test_judged_poor_by_anthropic"][0]["details"]["judge_model"] == "claude-haiku-4-5"

    assert [brief(r) for r in rows["test_schema_ok"]] == [("schema", 1.0, "schema", "gpt-4o", "answer@v1")]
    broken = rows["test_schema_broken"][0]
    assert brief(broken) == ("schema", 0.0, "schema", None, None)
    assert broken["details"]["violations"] == ["$.days: expected type integer, found string 'thirty'"]

    # the per-call log: the judge's call carries the judge prompt; the app's calls keep the app's
    calls = [json.loads(line) for line in (project.path / "calls.jsonl").read_text().splitlines()]
    good_calls = [(c["model"], c["prompt"]) for c in calls if c["test"].endswith("test_judged_good")]
    assert good_calls == [("gpt-4o", "answer@v1"), ("gpt-4o-mini", "judge@v1"), ("gpt-4o", "answer@v1")]


# -- outside a pytest test (no context): the same checks, nothing recorded --------------------------


@pytest.fixture
def no_test_context():
    saved = current()
    close_context()
    yield
    if saved is not None:
        open_context(saved.nodeid, saved.item)


def test_outside_a_test_assertions_work_and_record_nothing(no_test_context):
    assert assert_schema('{"a": 1}', {"type": "object"}) == {"a": 1}
    with pytest.raises(SchemaAssertionError):
        assert_schema("[]", {"type": "object"})
    with pytest.raises(FaithfulnessAssertionError) as exc:
        assert_faithful("The tower is 330 metres tall.", "The tower is 324 metres tall.")
    assert exc.value.result.unsupported[0].reasons == ("number 330 not in context",)
    assert assert_faithful("The tower is 324 metres tall.", "The tower is 324 metres tall.").passed
    with pytest.raises(JudgeConfigError, match=r'^assert_judge outside a pytest test has no judge: pass '
                       r'judge=Judge\("openai:gpt-4o-mini"\)'):
        assert_judge("x", rubric="y", min_score=3)


def test_assertions_check_their_arguments(no_test_context):
    with pytest.raises(ValueError, match="method must be one of 'offline', 'judge', got 'llm'"):
        assert_faithful("a", "b", method="llm")
    with pytest.raises(ValueError, match="min_score must be a number on the scale 1-5, got 7"):
        assert_judge("x", rubric="y", min_score=7, judge=Judge("gpt-4o-mini"))
    with pytest.raises(ValueError, match=r"scale must be two finite numbers, lowest first, e.g. \(1, 5\), got \(5, 1\)"):
        assert_judge("x", rubric="y", min_score=3, scale=(5, 1), judge=Judge("gpt-4o-mini"))
    assert issubclass(JudgeAssertionError, AssertionError) and issubclass(FaithfulnessAssertionError, AssertionError)
