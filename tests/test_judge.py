"""LLM-as-judge: the llm_judge fixture, Judge.score through the cassettes (record, then replay offline),
n samples, both providers, structured output and its repair path, unreadable verdicts, prompts."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import Verdicts, by_test, scores, setup_project

from pytest_llmops.judge import (
    PACKAGED_PROMPTS,
    Judge,
    JudgeConfigError,
    JudgeError,
    JudgeScore,
    parse_claims,
    parse_model,
    parse_verdict,
)
from pytest_llmops.loopback import Reply, load_reply
from pytest_llmops.loopback import main as loopback_main
from pytest_llmops.prompts import load_prompt

ANSWER = "Unused bikes can be returned within 30 days of delivery."
RUBRIC = "States how many days the customer has to return an unused bike."
PACKAGED_DIGEST = load_prompt(PACKAGED_PROMPTS / "judge" / "v1.yaml").digest


def serve(project, *verdicts, claims=()):
    fn = Verdicts(*verdicts, claims=claims)
    project.monkeypatch.setattr(project.provider, "reply", fn)
    return fn


def interactions(path):
    return yaml.safe_load(path.read_text())["interactions"]


SAMPLES_TEST = f"""
import json, pathlib, pytest
from pytest_llmops import Judge

ANSWER = {ANSWER!r}
RUBRIC = {RUBRIC!r}

def keep(name, s):
    pathlib.Path(name).write_text(json.dumps([s.value, list(s.samples), s.spread, s.reason, s.model,
                                             s.prompt, list(s.reasons)]))

def test_openai_judge(llm_judge, request):
    s = llm_judge.score(ANSWER, rubric=RUBRIC, n=3, question="How long do I have to return a bike?")
    keep("openai-" + ("live" if request.config.getoption("llm_live") else "replay") + ".json", s)
    assert s >= 4

@pytest.mark.llm
def test_anthropic_judge(request):
    s = Judge("claude-haiku-4-5").score(ANSWER, rubric=RUBRIC, n=3)
    keep("anthropic-" + ("live" if request.config.getoption("llm_live") else "replay") + ".json", s)
    assert s < 3
"""


def test_samples_record_live_and_replay_offline_with_the_same_scores(project):
    setup_project(project)
    project.pytester.makepyfile(test_judged=SAMPLES_TEST)
    serve(
        project,
        {"reason": "Says 30 days.", "score": 3},
        {"reason": "Gives the 30-day window.", "score": 5},
        {"reason": "States 30 days of delivery.", "score": 4},
        {"reason": "Vague.", "score": 2},
        {"reason": "Vague again.", "score": 2},
        {"reason": "Fine.", "score": 5},
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    sent = len(project.provider.requests)
    result = project.run()  # no keys, base URLs at a closed port
    result.assert_outcomes(passed=2)
    assert len(project.provider.requests) == sent, "replay must not touch the network"

    for provider in ("openai", "anthropic"):
        live = json.loads((project.path / f"{provider}-live.json").read_text())
        replayed = json.loads((project.path / f"{provider}-replay.json").read_text())
        assert replayed == live, provider
    value, samples, spread, reason, model, prompt, _reasons = live = json.loads(
        (project.path / "openai-live.json").read_text()
    )
    assert (value, samples, spread, model) == (4.0, [3.0, 5.0, 4.0], 2.0, "gpt-4o-mini")
    assert reason == "States 30 days of delivery."  # the sample at the median
    assert prompt == {"prompt": "judge@v1", "prompt_digest": PACKAGED_DIGEST}
    value, samples, spread, reason, model, *_ = json.loads((project.path / "anthropic-live.json").read_text())
    assert (value, samples, spread, model) == (2.0, [2.0, 2.0, 5.0], 3.0, "claude-haiku-4-5")

    # n samples are n identical requests, recorded and replayed in order
    openai_calls = interactions(project.cassette("test_judged/test_openai_judge.yaml"))
    assert len(openai_calls) == 3
    assert len({c["request"]["body"] for c in openai_calls}) == 1
    assert len(interactions(project.cassette("test_judged/test_anthropic_judge.yaml"))) == 3

    recorded = scores(project, "live")
    assert recorded == scores(project, "replay")
    first = by_test(recorded)["test_openai_judge"][0]
    assert {k: first[k] for k in ("metric", "value", "samples", "source", "model", "prompt", "reason")} == {
        "metric": "judge",
        "value": 4.0,
        "samples": [3.0, 5.0, 4.0],
        "source": "judge",
        "model": None,  # the test made no call of its own: the judge's model is in the details
        "prompt": None,
        "reason": "States 30 days of delivery.",
    }
    assert first["details"]["judge_model"] == "gpt-4o-mini"
    assert first["details"]["judge_prompt"] == "judge@v1"
    assert first["details"]["judge_prompt_digest"] == PACKAGED_DIGEST
    assert first["details"]["spread"] == 2.0
    assert first["details"]["rubric"] == RUBRIC


def test_structured_output_is_asked_of_each_provider_the_provider_way(project):
    setup_project(project)
    project.pytester.makepyfile(
        test_shape="""
        import pytest
        from pytest_llmops import Judge

        def test_openai(llm_judge):
            llm_judge.score("Fine.", rubric="Is polite.", context=["Doc one.", "Doc two."])

        @pytest.mark.llm
        def test_anthropic():
            Judge("anthropic:claude-haiku-4-5").score("Fine.", rubric="Is polite.", scale=(0, 10))
        """
    )
    serve(project, {"reason": "ok", "score": 4})
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    openai_body, anthropic_body = (r.json for r in project.provider.requests[-2:])

    assert openai_body["model"] == "gpt-4o-mini"
    assert openai_body["temperature"] == 0
    assert "tools" not in openai_body and "tool_choice" not in openai_body
    fmt = openai_body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "record_verdict"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["reason", "score"]
    user = openai_body["messages"][-1]["content"]
    assert "<context>\nDoc one.\n\nDoc two.\n</context>" in user
    assert "<question>\n(none)\n</question>" in user

    assert anthropic_body["model"] == "claude-haiku-4-5"
    assert anthropic_body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert [t["name"] for t in anthropic_body["tools"]] == ["record_verdict"]
    assert anthropic_body["temperature"] == 0  # sent through extra_body: messages.create has no keyword
    assert "from 0 (does not meet the rubric at all) to 10" in anthropic_body["messages"][0]["content"]


def test_verdict_in_chatty_or_fenced_text_is_repaired_and_noted(project):
    setup_project(project)
    project.pytester.makepyfile(
        test_repair="""
        import json, pathlib, pytest
        from pytest_llmops import Judge

        def test_openai_fenced(llm_judge):
            s = llm_judge.score("Fine.", rubric="Is polite.")
            assert s == 4 and s.reason == "Polite."
            assert s.notes == ("verdict read from the ```json fenced block at line 2, repaired (trailing_comma)",)

        @pytest.mark.llm
        def test_anthropic_text_instead_of_tool():
            s = Judge("claude-haiku-4-5").score("Fine.", rubric="Is polite.")
            assert s == 3 and s.reason == "Mostly polite."
            assert s.notes == ("verdict read from the {...}/[...] span at line 1 (characters 22-62)",)
        """
    )
    serve(
        project,
        'Here is my verdict:\n```json\n{"reason": "Polite.", "score": 4,}\n```\nHope that helps!',
        'Sure, my verdict is:  {"reason": "Mostly polite.", "score": 3} - thanks.',
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    project.run().assert_outcomes(passed=2)
    notes = {name: rows[0]["details"]["notes"] for name, rows in by_test(scores(project, "replay")).items()}
    assert notes["test_openai_fenced"] == [
        "verdict read from the ```json fenced block at line 2, repaired (trailing_comma)"
    ]


UNREADABLE_TEST = """
import pytest
from pytest_llmops import Judge

def test_prose_verdict(llm_judge):
    llm_judge.score("Fine.", rubric="Is polite.")

@pytest.mark.llm
def test_off_the_scale():
    Judge("claude-haiku-4-5").score("Fine.", rubric="Is polite.", n=2)
"""


def test_unreadable_or_off_scale_verdict_is_a_clear_error_and_unscored(project):
    setup_project(project)
    project.pytester.makepyfile(test_unreadable=UNREADABLE_TEST)
    serve(
        project,
        "I'd say it is quite polite overall!",
        {"reason": "Polite.", "score": 4},
        {"reason": "Very polite.", "score": 9},
    )
    live = project.run("--llm-live", live=True)
    live.assert_outcomes(failed=2)
    for result in (live, project.run()):  # the recording was kept: replay fails the same way, offline
        result.assert_outcomes(failed=2)
        result.stdout.fnmatch_lines(
            [
                ("E       pytest_llmops.JudgeError: no JSON verdict in the judge's answer: no JSON value found in the "
                "text (35 characters); tried the whole text, with repairs (model gpt-4o-mini, judge prompt judge@v1)"),
                "E         the judge wrote: \"I'd say it is quite polite overall!\"",
                "E         No score was given (recorded as unscored, not as 0).",
                ("E       pytest_llmops.JudgeError: the judge's score 9 is outside the scale 1-5 (sample 2 of 2, "
                "model claude-haiku-4-5, judge prompt judge@v1)"),
                "E         the judge wrote: '{\"reason\": \"Very polite.\", \"score\": 9}'",
                "E         No score was given (recorded as unscored, not as 0).",
            ]
        )
    rows = by_test(scores(project, "replay"))
    prose, off = rows["test_prose_verdict"][0], rows["test_off_the_scale"][0]
    assert (prose["metric"], prose["value"], prose["samples"], prose["source"]) == ("judge", None, [], "judge")
    assert prose["reason"].startswith("JudgeError: no JSON verdict in the judge's answer")
    assert off["value"] is None
    assert off["reason"] == (
        "JudgeError: the judge's score 9 is outside the scale 1-5 (sample 2 of 2, model claude-haiku-4-5, "
        "judge prompt judge@v1)"
    )
    assert off["details"]["judge_prompt"] == "judge@v1"


def test_verdict_cut_off_by_the_token_limit_says_so(project):
    setup_project(project)
    project.pytester.makepyfile(
        test_cut="""
        def test_cut(llm_judge):
            llm_judge.score("Fine.", rubric="Is polite.")
        """
    )
    cut = Reply(text='{"reason": "The output is polite and', finish_reason="length")
    project.monkeypatch.setattr(project.provider, "reply", lambda request, provider: cut)
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ("E       pytest_llmops.JudgeError: the judge's verdict has no \"score\" (keys: 'reason') "
            "(model gpt-4o-mini, judge prompt judge@v1)"),
            ("E         the judge's answer was cut off by its token limit (finish reason 'length'): raise "
            "max_completion_tokens in a new version of the judge prompt"),
        ]
    )


def test_assert_on_a_judge_score_explains_the_verdict(project):
    setup_project(project)
    project.pytester.makepyfile(
        test_compare="""
        def test_compare(llm_judge):
            assert llm_judge.score("Returns are accepted.", rubric="States the return window in days.", n=3) >= 4
        """
    )
    serve(
        project,
        {"reason": "No number of days.", "score": 2},
        {"reason": "Does not say how many days.", "score": 2},
        {"reason": "Mentions returns.", "score": 3},
    )
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       assert judge score 2 >= 4",
            "E         rubric: States the return window in days.",
            "E         score:  2 (median of 3 samples: 2, 2, 3; spread 1) on the scale 1-5",
            "E         reason: No number of days.",
            "E         model:  gpt-4o-mini (judge prompt judge@v1)",
        ]
    )


def test_missing_judge_model_names_the_ini_setting(project):
    setup_project(project, judge_model=None)
    project.pytester.makepyfile(
        test_nomodel="""
        def test_needs_judge(llm_judge):
            pass
        """
    )
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_needs_judge*",
            ("llm_judge: no judge model is set (llm_judge_model is empty; in */tox.ini): add llm_judge_model to "
            "the pytest configuration, e.g. under ?tool.pytest.ini_options? in pyproject.toml:"),
            '    llm_judge_model = "openai:gpt-4o-mini"',
            ("or `llm_judge_model = openai:gpt-4o-mini` under ?pytest? in pytest.ini (provider:model; a bare "
            "gpt-*/o*/claude-* name names its provider). Or pass Judge(model=...)."),
            "=*short test summary info*",
        ],
        consecutive=True,
    )


def test_a_judge_prompt_in_the_project_replaces_the_packaged_one_and_is_locked(project):
    setup_project(project, judge_model=None)
    packaged = (PACKAGED_PROMPTS / "judge" / "v1.yaml").read_text()
    custom = packaged.replace("model: llm_judge_model", "model: claude-haiku-4-5").replace(
        "You are a strict, consistent evaluator", "You are the Northwind support quality reviewer"
    )
    (project.path / "prompts" / "judge").mkdir(parents=True)
    (project.path / "prompts" / "judge" / "v2.yaml").write_text(custom)
    project.pytester.makepyfile(
        test_custom="""
        def test_custom(llm_judge):
            s = llm_judge.score("Fine.", rubric="Is polite.")
            assert s.prompt["prompt"] == "judge@v2" and s.model == "claude-haiku-4-5"
        """
    )
    serve(project, {"reason": "ok", "score": 5})
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    body = project.provider.requests[-1].json
    assert body["system"].startswith("You are the Northwind support quality reviewer")
    lock = yaml.safe_load((project.path / "prompts" / "prompts.lock").read_text())
    assert list(lock["prompts"]) == ["judge"] and list(lock["prompts"]["judge"]) == ["v2"]
    project.run().assert_outcomes(passed=1)


def test_judge_without_cassette_in_a_test_is_refused(project):
    setup_project(project)
    project.pytester.makepyfile(
        test_nocassette="""
        import pytest
        from pytest_llmops import assert_judge

        def test_unmarked():
            assert_judge("Fine.", rubric="Is polite.", min_score=3)

        @pytest.mark.llm
        def test_marked():  # a judge is built from llm_judge_model on first use
            assert assert_judge("Fine.", rubric="Is polite.", min_score=3).model == "gpt-4o-mini"
        """
    )
    serve(project, {"reason": "ok", "score": 4})
    project.run("--llm-live", live=True).assert_outcomes(failed=1, passed=1)
    result = project.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            ("E       pytest_llmops.JudgeConfigError: assert_judge calls the judge model, but "
            "test_nocassette.py::test_unmarked has no cassette, so the call would be neither recorded nor "
            "replayed: mark the test @pytest.mark.llm, or take the llm_judge fixture.")
        ]
    )


# -- plain objects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("anthropic:claude-haiku-4-5", ("anthropic", "claude-haiku-4-5")),
        (" OpenAI : my-deployment ", ("openai", "my-deployment")),
        ("gpt-4.1", ("openai", "gpt-4.1")),
        ("o3-mini", ("openai", "o3-mini")),
        ("ft:gpt-4o-mini:acme::abc123", ("openai", "ft:gpt-4o-mini:acme::abc123")),
        ("claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
    ],
)
def test_parse_model(spec, expected):
    assert parse_model(spec) == expected


def test_parse_model_errors():
    with pytest.raises(JudgeConfigError, match=r"cannot tell the provider of judge model 'llama-3': write it as "
                       r"openai:llama-3 or anthropic:llama-3"):
        parse_model("llama-3")
    with pytest.raises(JudgeConfigError, match="names no model"):
        parse_model("openai:")
    with pytest.raises(JudgeConfigError, match="names provider 'openai', but provider='anthropic'"):
        parse_model("openai:gpt-4o", "anthropic")


def test_judge_needs_a_model_and_its_prompt_variables(tmp_path):
    with pytest.raises(JudgeConfigError, match="no judge model is set"):
        Judge()
    assert Judge("gpt-4o-mini").provider == "openai"
    (tmp_path / "judge").mkdir()
    (tmp_path / "judge" / "v1.yaml").write_text(
        "model: gpt-4o-mini\nmessages:\n  - role: user\n    content: 'Grade {{ output }}'\n"
    )
    with pytest.raises(JudgeConfigError, match=r"judge prompt judge@v1 \(.*v1.yaml\) has no \{\{ rubric \}\}"):
        Judge(prompts=tmp_path)


def test_judge_score_compares_like_its_value():
    s = JudgeScore(4.0, (3.0, 4.0, 5.0), 2.0, "ok", "gpt-4o-mini", rubric="r")
    assert s == 4 and s >= 4 and s > 3.5 and s < 5 and s <= 4 and s != 3 and float(s) == 4.0
    assert s.stdev == pytest.approx(math.sqrt(2 / 3)) and s.normalized == 0.75 and s.n == 3
    assert repr(s) == "JudgeScore(4 (median of 3 samples: 3, 4, 5; spread 2), scale 1-5, model gpt-4o-mini)"
    assert len({s, JudgeScore(4.0, (3.0, 4.0, 5.0), 2.0, "ok", "gpt-4o-mini", rubric="r")}) == 1


def test_parse_claims():
    checks, found = parse_claims(
        '{"claims": [{"claim": "A.", "verdict": "Supported", "evidence": "A.", "reason": "said"},'
        ' {"claim": "B.", "verdict": "partial", "evidence": "", "reason": ""},'
        ' {"claim": "C.", "supported": false}]}'
    )
    assert [(c.claim, c.supported, c.score, c.reasons) for c in checks] == [
        ("A.", True, 1.0, ("said",)),
        ("B.", True, 0.5, ()),
        ("C.", False, 0.0, ()),
    ]
    assert found == ""
    with pytest.raises(JudgeError, match='claim 1 of the judge\'s verdict has "verdict" "maybe"; expected one of '
                       "supported, partial, unsupported"):
        parse_claims({"claims": [{"claim": "A.", "verdict": "maybe"}]})
    with pytest.raises(JudgeError, match='has no "claims" list'):
        parse_claims('{"score": 3}')


# -- verdict parsing, for any verdict -------------------------------------------------------------

PROSE = st.text(st.sampled_from("abcdefghij klmnop.,!?:'-\n"), max_size=40)
SCALES = st.sampled_from([(1, 5), (0, 10), (0, 1), (1, 3), (-1, 1)])


@st.composite
def verdicts(draw):
    lo, hi = draw(SCALES)
    if draw(st.booleans()):
        score: float = draw(st.integers(lo, hi))
    else:
        score = draw(st.floats(lo, hi, allow_nan=False))
    reason = draw(st.text(max_size=60))
    return (lo, hi), score, reason


def _wrap(data, style, before, after):
    text = json.dumps(data, ensure_ascii=style.endswith("ascii"))
    if style.startswith("fenced"):
        return f"{before}\n```json\n{text}\n```\n{after}"
    if style.startswith("prose"):
        return f"{before} {text} {after}"
    if style.startswith("trailing"):
        return text[:-1] + ",}"
    return text


@settings(max_examples=200, deadline=None)
@given(verdicts(), st.sampled_from(["bare", "fenced", "prose", "trailing", "prose-ascii"]), PROSE, PROSE)
def test_any_verdict_reads_back_the_same_however_it_is_wrapped(verdict, style, before, after):
    scale, score, reason = verdict
    read = parse_verdict(_wrap({"reason": reason, "score": score}, style, before, after), scale)
    assert read.score == score
    assert read.reason == reason.strip()
    assert parse_verdict({"reason": reason, "score": score}, scale) == type(read)(score, reason.strip(), "")


@settings(max_examples=200, deadline=None)
@given(SCALES, st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1000, 1000)), st.text(max_size=20))
def test_a_score_off_the_scale_or_not_finite_is_never_accepted(scale, score, reason):
    lo, hi = scale
    text = json.dumps({"reason": reason, "score": score})  # NaN/Infinity are not JSON: refused as such
    if isinstance(score, float) and math.isfinite(score) and lo <= score <= hi or isinstance(score, int) and lo <= score <= hi:
        assert parse_verdict(text, scale).score == score
    else:
        with pytest.raises(JudgeError):
            parse_verdict(text, scale)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), SCALES)
def test_any_text_gives_a_score_on_the_scale_or_a_judge_error(text, scale):
    try:
        verdict = parse_verdict(text, scale)
    except JudgeError:
        return
    assert scale[0] <= verdict.score <= scale[1] and math.isfinite(verdict.score)


# -- the loopback server's --reply ----------------------------------------------------------------


def test_loopback_reply_option_loads_a_reply_function(tmp_path, monkeypatch, capsys):
    (tmp_path / "toy_model.py").write_text(
        "from pytest_llmops.loopback import Reply\ndef reply(request, provider):\n    return Reply(text='toy')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = load_reply("toy_model:reply")
    assert fn(None, "openai").text == "toy"
    for spec, problem in [
        ("toy_model", "expected MODULE:FUNCTION, e.g. loopback_model:reply"),
        ("toy_model:nope", "module 'toy_model' has no attribute 'nope'"),
        ("no_such_module_xyz:reply", "No module named 'no_such_module_xyz'"),
    ]:
        with pytest.raises(SystemExit) as exc:
            loopback_main(["--port", "0", "--reply", spec])
        assert exc.value.code == 2
        assert f"error: --reply {spec}: {problem}" in capsys.readouterr().err
