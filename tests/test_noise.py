"""Scores under noise: repeated tests (--llm-repeat, @pytest.mark.llm(repeat=N)) recorded as episodes
and replayed in order; samples compared with an interval (within noise vs regressed); the paired
change over a parametrized test's cases; unscored samples; bad input. See docs/noise.md."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import yaml
from judge_helpers import Verdicts, setup_project

from pytest_llmops.baseline import Entry, dumps
from pytest_llmops.loopback import Reply

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
NOISY_OLD = [0.7, 0.9, 0.8, 0.6, 1.0]
STEADY_OLD = [0.8, 0.82, 0.79, 0.81, 0.8]


@pytest.fixture
def project(project, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # "updated": "2026-01-01"
    return project


def section(result, name: str) -> list[str]:
    """The lines of the ``name`` section of the terminal summary (``llm baseline``, ``llm datasets``)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"=+ {re.escape(name)} =+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.fullmatch(r"[=_]+ .* [=_]+", lines[i]))
    return lines[start + 1:end]


def failure(result, test: str) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {re.escape(test)} _+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.fullmatch(r"([=_]+ .* [=_]+)", lines[i]))
    return lines[start + 1:end]


def write_baseline(project, scores: dict) -> None:
    entries = {test: {key: Entry(**value) for key, value in metrics.items()} for test, metrics in scores.items()}
    (project.path / "llm-baseline.json").write_text(dumps(entries))


def baseline_entry(project, test: str, key: str) -> dict:
    return json.loads((project.path / "llm-baseline.json").read_text())["scores"][test][key]


def samples_of(values) -> dict:
    return dict(value=round(sum(values) / len(values), 6), samples=tuple(values))


def serve(project, texts) -> None:
    """The loopback model answers each call with the next of ``texts`` (the last one repeats)."""
    queue = list(texts)
    served = itertools.count()
    project.monkeypatch.setattr(project.provider, "reply",
                                lambda request, provider: Reply(text=queue[min(next(served), len(queue) - 1)]))


GRADER = """
import json, openai, pytest

def grade(question="Grade the answer."):
    reply = openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    text = reply.choices[0].message.content
    try:
        return float(text)
    except ValueError:
        return None  # the grader gave no number: unscored, never 0
"""


# -- repeated tests: recorded as episodes, replayed in order ----------------------------------------
REPEATED = GRADER + """
@pytest.mark.llm
def test_answers(llm_baseline, request):
    first = grade("Grade the refund answer.")
    again = grade("Grade the refund answer.")      # the same request twice in each repetition
    other = grade("Grade the delivery answer.")
    mode = "live" if request.config.getoption("llm_live") else "replay"
    with open(f"seen-{mode}.jsonl", "a") as out:
        out.write(json.dumps([first, again, other]) + "\\n")
    llm_baseline.check("refund", (first + again) / 2)
    llm_baseline.check("delivery", other)
"""


def test_a_repeated_test_records_episodes_and_replays_them_in_order_offline(project):
    project.pytester.makepyfile(test_app=REPEATED)
    serve(project, [f"{0.5 + 0.03 * i:.2f}" for i in range(9)])  # every call a different grade
    live = project.run("--llm-live", "--llm-repeat", "3", live=True)
    live.assert_outcomes(passed=1)
    assert "llmops: each recorded LLM test runs 3 times (--llm-repeat 3; @pytest.mark.llm(repeat=N) wins)" in live.outlines
    seen_live = (project.path / "seen-live.jsonl").read_text().splitlines()
    assert seen_live == ["[0.5, 0.53, 0.56]", "[0.59, 0.62, 0.65]", "[0.68, 0.71, 0.74]"]

    cassette = yaml.safe_load(project.cassette("test_app/test_answers.yaml").read_text())
    assert (cassette["repeat"], cassette["episodes"]) == (3, 3)
    assert [i["episode"] for i in cassette["interactions"]] == [1, 1, 1, 2, 2, 2, 3, 3, 3]

    # Replay: no keys, no network; the repetitions come from the cassette, in recorded order.
    replay = project.run("--llm-update-baseline")
    replay.assert_outcomes(passed=1)
    assert (project.path / "seen-replay.jsonl").read_text().splitlines() == seen_live
    assert baseline_entry(project, "test_app.py::test_answers", "refund") == {
        "mean": 0.605, "model": "gpt-4o-mini", "n": 3, "samples": [0.515, 0.605, 0.695], "sd": 0.09,
        "updated": "2026-01-01", "value": 0.605}
    assert baseline_entry(project, "test_app.py::test_answers", "delivery")["samples"] == [0.56, 0.65, 0.74]

    # Replaying again compares the same samples with themselves; --llm-repeat does not apply offline.
    again = project.run("-v", "--llm-repeat", "5")
    again.assert_outcomes(passed=1)
    assert ("llmops: --llm-repeat 5 ignored: a replay runs each test as many times as its cassette recorded"
            in again.outlines)
    assert section(again, "llm baseline") == [
        "gpt-4o-mini: 2 unchanged",
        "  UNCHANGED  test_app.py::test_answers  delivery   0.65 -> 0.65   ±0  95% CI [-0.204, +0.204] (welch t, n 3 vs 3)",
        "  UNCHANGED  test_app.py::test_answers  refund    0.605 -> 0.605  ±0  95% CI [-0.204, +0.204] (welch t, n 3 vs 3)",
        "2 unchanged; llm-baseline.json unchanged",
    ]


# -- the verdict: within noise, or a regression with its interval ----------------------------------
NOISY = """
def test_noisy(llm_baseline):
    llm_baseline.check("quality", [0.6, 0.9, 0.7, 0.65, 0.85])   # mean 0.74

def test_fixed(llm_baseline):
    llm_baseline.check("quality", 0.74)
"""


def test_a_noisy_but_unchanged_metric_passes_where_a_fixed_tolerance_fails(project):
    write_baseline(project, {"test_app.py::test_noisy": {"quality": samples_of(NOISY_OLD)},
                             "test_app.py::test_fixed": {"quality": dict(value=0.8)}})
    project.pytester.makepyfile(test_app=NOISY)
    result = project.run()
    result.assert_outcomes(passed=1, failed=1)
    assert section(result, "llm baseline") == [
        "(no model): 1 regressed, 1 within noise",
        "  REGRESSED  test_app.py::test_fixed  quality  0.8 -> 0.74  -0.06  tolerance 0.05",
        "  NOISE      test_app.py::test_noisy  quality  0.8 -> 0.74  -0.06  within noise: 95% CI [-0.2722, +0.1522] "
        "(welch t, n 5 vs 5)",
        "1 regressed, 1 within noise; llm-baseline.json unchanged (accept this run with --llm-update-baseline)",
    ]
    assert failure(result, "test_fixed")[-9:-2] == [
        ">       llm_baseline.check(\"quality\", 0.74)",
        "E       AssertionError: quality regressed: 0.74 < 0.75 (baseline 0.8 - tolerance 0.05)",
        "E         baseline  0.8",
        "E         this run  0.74",
        "E         tolerance 0.05 from llm_tolerance",
        "E         noise     not estimated (one sample per side): the plain tolerance decided; repeat the test for "
        "samples: --llm-repeat N",
        "E         to accept this run's scores: pytest --llm-update-baseline 'test_app.py::test_fixed'",
    ]


DROP = GRADER + """
@pytest.mark.llm(repeat=5)
def test_grade(llm_baseline):
    llm_baseline.check("quality", grade())
"""


def test_a_real_drop_fails_with_its_interval_live_and_again_in_replay(project):
    write_baseline(project, {"test_app.py::test_grade": {"quality": samples_of(STEADY_OLD)}})
    project.pytester.makepyfile(test_app=DROP)
    serve(project, ["0.6", "0.62", "0.58", "0.61", "0.6"])
    live = project.run("--llm-live", live=True)
    live.assert_outcomes(failed=1)
    # The last repetition's check compares the five samples and fails on that line.
    assert failure(live, "test_grade")[-9:] == [
        ">       llm_baseline.check(\"quality\", grade())",
        "E       AssertionError: quality regressed: mean 0.602 < 0.754 (baseline mean 0.804 - tolerance 0.05), and "
        "unlikely to be noise",
        "E         baseline  0.804 (5 samples, sd 0.0114)  model (none)",
        "E         this run  0.602 (5 samples, sd 0.0148)  model gpt-4o-mini",
        "E         change    -0.202  95% CI [-0.2215, -0.1825]  (welch t, df 7.5038, p < 0.0001; alpha 0.05)",
        "E         tolerance 0.05 from llm_tolerance",
        "E         to accept this run's scores: pytest --llm-update-baseline 'test_app.py::test_grade'",
        "",
        "test_app.py:13: AssertionError",
    ]
    assert section(live, "llm baseline") == [
        "(no model) -> gpt-4o-mini: 1 regressed",
        "  REGRESSED  test_app.py::test_grade  quality  0.804 -> 0.602  -0.202  95% CI [-0.2215, -0.1825] "
        "(welch t, n 5 vs 5); tolerance 0.05",
        "1 regressed; llm-baseline.json unchanged (accept this run with --llm-update-baseline)",
    ]
    # A failing repetition still keeps its recording (an assertion failed): the replay fails the same way.
    replay = project.run()
    replay.assert_outcomes(failed=1)
    assert failure(replay, "test_grade")[-9:] == failure(live, "test_grade")[-9:]


# -- datasets: the paired change over a parametrized test's cases ----------------------------------
CASES = {"refund": 0.9, "delivery": 0.7, "warranty": 0.45, "returns": 0.8, "sizes": 0.3, "payment": 0.6,
         "tracking": 0.55, "repairs": 0.75}
DATASET = """
import pytest

NEW = {new!r}

@pytest.mark.parametrize("case", sorted(NEW))
def test_support(llm_baseline, case):
    llm_baseline.check("accuracy", NEW[case])
"""


def test_a_parametrized_test_reports_the_paired_mean_change_with_its_interval(project):
    write_baseline(project, {f"test_app.py::test_support[{case}]": {"accuracy": dict(value=value)}
                             for case, value in CASES.items()})
    new = {case: round(value - 0.03 + (0.005 if i % 2 else -0.005), 3) for i, (case, value) in enumerate(CASES.items())}
    new["billing"] = 0.5  # a case the baseline does not have yet
    project.pytester.makepyfile(test_app=DATASET.format(new=new))
    result = project.run("--llm-html", "report.html")
    result.assert_outcomes(passed=9)
    # Each case dropped 0.03, within the tolerance: no case fails. Over the dataset the drop is clear.
    assert section(result, "llm baseline") == [
        "(no model): 1 new, 8 unchanged",
        "  NEW  test_app.py::test_support[billing]  accuracy   -> 0.5",
        "1 new, 8 unchanged; llm-baseline.json unchanged (accept this run with --llm-update-baseline)",
        "html report: report.html",
    ]
    assert section(result, "llm datasets") == [
        "paired over the cases of each parametrized test: mean score old -> new, change and its interval",
        "(no model):",
        "  test_app.py::test_support  accuracy  9 cases (8 paired, 1 new)  0.6312 -> 0.6012  -0.03  "
        "95% CI [-0.0345, -0.0255] (paired t)  worse",
        "1 dataset: 1 worse",
    ]
    page = (project.path / "report.html").read_text()
    assert "Datasets: paired change over the cases of each parametrized test" in page


# -- the judge's n samples and repetitions feed one score --------------------------------------------
JUDGED = """
import pytest

@pytest.mark.llm(repeat=2)
def test_judged(llm_judge):
    llm_judge.score("Returns are accepted within 30 days.", rubric="States the return window.", n=2)
"""


def test_the_judges_samples_and_the_repetitions_become_the_samples_of_one_score(project):
    setup_project(project)
    project.pytester.makepyfile(test_app=JUDGED)
    project.monkeypatch.setattr(project.provider, "reply", Verdicts(
        {"reason": "Clear.", "score": 4}, {"reason": "Clear enough.", "score": 5},
        {"reason": "Vague.", "score": 3}, {"reason": "Fine.", "score": 4}))
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    replay = project.run("--llm-update-baseline")
    replay.assert_outcomes(passed=1)
    entry = baseline_entry(project, "test_app.py::test_judged", "judge")
    assert (entry["n"], entry["samples"], entry["mean"], entry["value"]) == (4, [4.0, 5.0, 3.0, 4.0], 4.0, 4.0)


# -- unscored samples: counted apart, never 0 --------------------------------------------------------
PARTLY = GRADER + """
@pytest.mark.llm(repeat=3)
def test_partly(llm_baseline):
    llm_baseline.check("quality", grade())

def test_listed(llm_baseline):
    llm_baseline.check("quality", [0.9, None, 0.7])
"""


def test_samples_that_could_not_be_scored_are_left_out_and_counted_never_zero(project):
    project.pytester.makepyfile(test_app=PARTLY)
    serve(project, ["0.8", "I cannot grade this.", "0.7"])
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    result = project.run("--llm-update-baseline")
    result.assert_outcomes(passed=2)
    assert section(result, "llm baseline") == [
        "(no model): 1 new",
        "  NEW  test_app.py::test_listed  quality   -> 0.8     1 unscored sample(s) left out",
        "gpt-4o-mini: 1 new",
        "  NEW  test_app.py::test_partly  quality   -> 0.75    1 unscored sample(s) left out",
        "2 new (2 unscored samples left out); llm-baseline.json updated (2 score(s) written, 0 removed)",
    ]
    assert baseline_entry(project, "test_app.py::test_partly", "quality")["samples"] == [0.8, 0.7]
    assert baseline_entry(project, "test_app.py::test_listed", "quality")["samples"] == [0.9, 0.7]


# -- bad input ---------------------------------------------------------------------------------------
BAD = """
import math

def test_nan(llm_baseline):
    llm_baseline.check("quality", [0.5, math.nan])

def test_empty(llm_baseline):
    llm_baseline.check("quality", [])

def test_samples_against_one_value(llm_baseline):
    llm_baseline.check("quality", [0.6, 0.62, 0.58])
"""


def test_bad_scores_are_errors_and_an_older_single_value_baseline_is_converted_openly(project):
    write_baseline(project, {"test_app.py::test_samples_against_one_value": {"quality": dict(value=0.8)}})
    project.pytester.makepyfile(test_app=BAD)
    result = project.run()
    result.assert_outcomes(failed=3)
    assert failure(result, "test_nan")[-3:] == [
        "E       ValueError: score 'quality' (sample 2 of 2) is nan: a score must be a finite number. If it could not "
        "be computed, record it as unscored instead: None (llm_baseline.check('quality', None), or None in a list of "
        "samples), never 0.",
        "",
        "test_app.py:4: ValueError",
    ]
    assert failure(result, "test_empty")[-4:-2] == [
        ">       llm_baseline.check(\"quality\", [])",
        "E       ValueError: score 'quality': the list of samples is empty; give at least one number, or None if the "
        "score could not be computed",
    ]
    # A list of samples against a baseline accepted before samples were kept: the plain tolerance on this
    # run's mean, and the message says so (accepting this run keeps the samples from then on).
    assert failure(result, "test_samples_against_one_value")[-9:-2] == [
        ">       llm_baseline.check(\"quality\", [0.6, 0.62, 0.58])",
        "E       AssertionError: quality regressed: 0.6 < 0.75 (baseline 0.8 - tolerance 0.05)",
        "E         baseline  0.8",
        "E         this run  0.6 (3 samples)",
        "E         tolerance 0.05 from llm_tolerance",
        "E         noise     not estimated: the baseline holds one value, so the plain tolerance decided on this run's "
        "score; accept this run to keep its 3 samples",
        "E         to accept this run's scores: pytest --llm-update-baseline 'test_app.py::test_samples_against_one_value'",
    ]


REPEAT_ERRORS = GRADER + """
import os

@pytest.mark.llm(repeat={repeat})
def test_grade(llm_baseline):
    if os.environ.get("ASK_TWICE"):
        grade()
    llm_baseline.check("quality", grade())
"""


def test_replay_refuses_a_cassette_recorded_with_other_repetitions_or_in_another_order(project):
    project.pytester.makepyfile(test_app=REPEAT_ERRORS.replace("{repeat}", "2"))
    serve(project, ["0.5", "0.6"])
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    project.pytester.makepyfile(test_app=REPEAT_ERRORS.replace("{repeat}", "4"))
    changed = project.run()
    changed.assert_outcomes(failed=1)
    assert failure(changed, "test_grade") == [
        "@pytest.mark.llm(repeat=4), but the cassette cassettes/test_app/test_grade.yaml was recorded with 2 "
        "repetitions: replaying it cannot give 4 samples. Re-record it: pytest --llm-live 'test_app.py::test_grade'",
    ]
    project.pytester.makepyfile(test_app=REPEAT_ERRORS.replace("{repeat}", "2"))
    project.monkeypatch.setenv("ASK_TWICE", "1")
    mixed = project.run()
    mixed.assert_outcomes(failed=1)
    [message] = failure(mixed, "test_grade")
    assert re.fullmatch(
        r"repetition 1 of 2 was answered with a response recorded in repetition 2 \(POST http://127\.0\.0\.1:\d+/v1/"
        r"chat/completions, cassette cassettes/test_app/test_grade\.yaml\): the test now sends its requests in another "
        r"order or number than when it was recorded, so its repetitions would mix\. Re-record it: pytest --llm-live "
        r"'test_app\.py::test_grade'", message)


# -- more ways to repeat -----------------------------------------------------------------------------
ASYNC_AND_SHARED = GRADER + '''
import openai

@pytest.mark.asyncio
@pytest.mark.llm
async def test_async(llm_baseline, request):
    reply = await openai.AsyncOpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Grade it, async."}])
    value = float(reply.choices[0].message.content)
    mode = "live" if request.config.getoption("llm_live") else "replay"
    with open(f"async-{mode}.txt", "a") as out:
        out.write(f"{value}\\n")
    llm_baseline.check("quality", value)

@pytest.mark.llm(cassette="shared")
def test_shared(llm_baseline):
    llm_baseline.check("quality", grade())
'''


def test_async_tests_repeat_and_a_shared_cassette_runs_once_with_a_warning(project):
    project.pytester.makepyfile(test_app=ASYNC_AND_SHARED)
    serve(project, ["0.4", "0.5", "0.6", "0.7", "0.8"])
    live = project.run("--llm-live", "--llm-repeat", "2", "-W", "default", live=True)
    live.assert_outcomes(passed=2)
    live.stdout.fnmatch_lines(["*RepeatWarning: test_app.py::test_shared ran once: --llm-repeat does not apply to a "
                               "test with a shared cassette (cassettes/shared.yaml)"])
    assert (project.path / "async-live.txt").read_text().split() == ["0.4", "0.5"]
    project.run().assert_outcomes(passed=2)
    assert (project.path / "async-replay.txt").read_text().split() == ["0.4", "0.5"]

    project.pytester.makepyfile(test_app=ASYNC_AND_SHARED.replace('cassette="shared"', 'cassette="shared", repeat=3'))
    refused = project.run("--llm-live", live=True)
    refused.assert_outcomes(passed=1, failed=1)
    assert failure(refused, "test_shared") == [
        "@pytest.mark.llm(repeat=3) needs the test's own cassette, but it shares cassettes/shared.yaml (cassette=...): "
        "a shared cassette cannot tell the repetitions of one test from the calls of the others. Drop cassette=..., "
        "or repeat=.",
    ]


@pytest.mark.parametrize(("args", "ini", "message"), [
    (["--llm-repeat", "0"], "", "ERROR: --llm-repeat expects a whole number >= 1 (how many times each LLM test runs "
                                "in a live run), got 0"),
    ([], "llm_stat_method = ttest", "ERROR: llm_stat_method must be one of welch, bootstrap, got 'ttest'"),
    ([], "llm_alpha = 1", "ERROR: llm_alpha must be a number strictly between 0 and 1 (e.g. 0.05), got '1'"),
    ([], "llm_bootstrap_resamples = 10", "ERROR: llm_bootstrap_resamples must be a whole number >= 100, got '10'"),
])
def test_bad_settings_stop_the_session_naming_the_setting(project, args, ini, message):
    project.pytester.makeini(INI + ini + "\n")
    project.pytester.makepyfile(test_app="def test_nothing():\n    pass\n")
    result = project.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.errlines


def test_a_bad_repeat_marker_fails_the_test_naming_it(project):
    project.pytester.makepyfile(test_app="import pytest\n\n@pytest.mark.llm(repeat='5')\ndef test_x():\n    pass\n")
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(failed=1)
    assert failure(result, "test_x") == [
        "@pytest.mark.llm(repeat='5'): repeat must be a whole number >= 1 (how many times the test's body runs in a "
        "live run)",
    ]


def test_the_bootstrap_method_is_configurable_and_deterministic(project):
    project.pytester.makeini(INI + "llm_stat_method = bootstrap\nllm_alpha = 0.1\nllm_bootstrap_seed = 7\n")
    write_baseline(project, {"test_app.py::test_noisy": {"quality": samples_of(NOISY_OLD)},
                             "test_app.py::test_fixed": {"quality": samples_of(STEADY_OLD)}})
    project.pytester.makepyfile(test_app=NOISY.replace('llm_baseline.check("quality", 0.74)',
                                                       'llm_baseline.check("quality", [0.6, 0.62, 0.58, 0.61, 0.6])'))
    first = project.run()
    first.assert_outcomes(passed=1, failed=1)
    assert section(first, "llm baseline") == section(project.run(), "llm baseline")
    assert section(first, "llm baseline")[1:3] == [
        "  REGRESSED  test_app.py::test_fixed  quality  0.804 -> 0.602  -0.202  90% CI [-0.214, -0.19] (bootstrap, "
        "n 5 vs 5); tolerance 0.05",
        "  NOISE      test_app.py::test_noisy  quality    0.8 -> 0.74   -0.06   within noise: 90% CI [-0.2, +0.08] "
        "(bootstrap, n 5 vs 5)",
    ]


# -- pytest-xdist --------------------------------------------------------------------------------------
def test_under_xdist_repetitions_intervals_and_datasets_are_the_same_as_serial(project):
    new = {case: round(value - 0.03 + (0.005 if i % 2 else -0.005), 3) for i, (case, value) in enumerate(CASES.items())}
    project.pytester.makepyfile(test_app=REPEATED, test_data=DATASET.format(new=new))
    write_baseline(project, {
        "test_app.py::test_answers": {"refund": samples_of([0.5, 0.6, 0.7]), "delivery": samples_of([0.9, 0.92, 0.91])},
        **{f"test_data.py::test_support[{case}]": {"accuracy": dict(value=value)} for case, value in CASES.items()},
    })
    serve(project, [f"{0.5 + 0.03 * i:.2f}" for i in range(9)])
    project.run("--llm-live", "--llm-repeat", "3", "test_app.py", live=True).assert_outcomes(failed=1)

    def run(*args):
        result = project.run("-v", "--llm-html", "r.html", *args)
        result.assert_outcomes(passed=8, failed=1)
        html = re.sub(r"seed \d+", "", (project.path / "r.html").read_text())
        return section(result, "llm baseline"), section(result, "llm datasets"), html

    serial = run()
    assert [" ".join(line.split()) for line in serial[0][:2]] == [
        "(no model) -> gpt-4o-mini: 1 regressed, 1 unchanged",
        "REGRESSED test_app.py::test_answers delivery 0.91 -> 0.65 -0.26 95% CI [-0.4798, -0.0402] "
        "(welch t, n 3 vs 3); tolerance 0.05",
    ]
    assert serial[1][-2:] == [("  test_data.py::test_support  accuracy  8 cases  0.6312 -> 0.6012  -0.03  "
                               "95% CI [-0.0345, -0.0255] (paired t)  worse"), "1 dataset: 1 worse"]
    assert run("-n", "2") == serial
