"""Score baseline: record, compare, fail on regressions, accept with --llm-update-baseline; snapshots;
the terminal summary, JUnit properties, the HTML report, xdist, and files that cannot be trusted."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmops.baseline import (
    ABOUT,
    Baseline,
    BaselineError,
    Entry,
    Tolerance,
    compare_score,
    dumps,
    mask,
    parse,
    parse_path,
)
from pytest_llmops.scores import Score

DAY = "2026-01-01"  # SOURCE_DATE_EPOCH=1767225600
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
FAILED_PHASES = """
def pytest_runtest_logreport(report):
    if report.failed:
        with open("failed-phases.txt", "a") as out:
            out.write(f"{report.nodeid} {report.when}\\n")
"""


@pytest.fixture
def project(project, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    return project


def summary(result) -> list[str]:
    """The lines of the ``llm baseline`` section."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ llm baseline =+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.fullmatch(r"[=_]+ .* [=_]+", lines[i]))
    return lines[start + 1:end]


def failure(result, test: str) -> list[str]:
    """The lines of ``test``'s section under FAILURES."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {re.escape(test)} _+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.fullmatch(r"([=_]+ .* [=_]+)", lines[i]))
    return lines[start + 1:end]


def write_baseline(project, scores: dict, version: int = 1) -> None:
    entries = {test: {key: Entry(**value) for key, value in metrics.items()} for test, metrics in scores.items()}
    text = dumps(entries)
    (project.path / "llm-baseline.json").write_text(text.replace('"version": 1', f'"version": {version}'))


def read_baseline(project) -> str:
    return (project.path / "llm-baseline.json").read_text()


# -- first run, update, the file format ------------------------------------------------------------
SIMPLE = """
from pytest_llmops.scores import record_score

def test_check(llm_baseline):
    llm_baseline.check("faithfulness", 0.9)

def test_assertion():
    record_score("judge", 4, source="judge")
"""


REAL_ASSERTIONS = """
from pytest_llmops import assert_faithful, assert_schema

def test_real():
    assert_faithful("The tower is 330 metres tall.", "The tower is 330 metres tall. It is in Paris.")
    assert_schema('{"a": 1}', {"type": "object"})
"""


def test_first_run_records_and_passes_and_shows_new_without_touching_the_file(project):
    project.pytester.makepyfile(test_app=SIMPLE, test_real=REAL_ASSERTIONS)
    result = project.run()
    result.assert_outcomes(passed=3)
    assert summary(result) == [
        "(no model): 4 new",
        "  NEW  test_app.py::test_assertion  judge          -> 4",
        "  NEW  test_app.py::test_check      faithfulness   -> 0.9",
        "  NEW  test_real.py::test_real      faithfulness   -> 1",
        "  NEW  test_real.py::test_real      schema         -> 1",
        "4 new; llm-baseline.json unchanged (accept this run with --llm-update-baseline)",
    ]
    assert not (project.path / "llm-baseline.json").exists()


LINEAGE = """
import pytest, sdk_calls
from pytest_llmops.context import current

SCORE = {score}

@pytest.mark.llm
def test_answer(llm_baseline):
    current().use_prompt({{"prompt": "answer@v2", "prompt_digest": "sha256:0123456789abcdef"}})
    sdk_calls.openai_chat_sync()
    llm_baseline.check("faithfulness", SCORE)
    llm_baseline.check("faithfulness", [0.5, 0.75])
"""


def test_update_writes_the_file_sorted_one_score_per_line_and_dates_only_changes(project, monkeypatch):
    project.pytester.makepyfile(test_app=LINEAGE.format(score=0.875))
    result = project.run("--llm-live", "--llm-update-baseline", live=True)
    result.assert_outcomes(passed=1)
    expected = (
        "{\n"
        f'  "about": {json.dumps(ABOUT)},\n'
        '  "scores": {\n'
        '    "test_app.py::test_answer": {\n'
        '      "faithfulness": {"model": "gpt-4o-mini", "prompt": "answer@v2", "prompt_digest": '
        '"sha256:0123456789abcdef", "updated": "2026-01-01", "value": 0.875},\n'
        '      "faithfulness#2": {"mean": 0.625, "model": "gpt-4o-mini", "n": 2, "prompt": "answer@v2", "prompt_digest": '
        '"sha256:0123456789abcdef", "samples": [0.5, 0.75], "sd": 0.176777, "updated": "2026-01-01", "value": 0.625}\n'
        "    }\n"
        "  },\n"
        '  "version": 1\n'
        "}\n"
    )
    assert read_baseline(project) == expected
    assert summary(result)[-1] == "2 new; llm-baseline.json updated (2 score(s) written, 0 removed)"

    # A day later, nothing changed: replaying and accepting again leaves the file as it is (no new date).
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767312000")
    stat = (project.path / "llm-baseline.json").stat()
    again = project.run("--llm-update-baseline")
    again.assert_outcomes(passed=1)
    assert summary(again) == ["gpt-4o-mini: 2 unchanged", "2 unchanged; llm-baseline.json already up to date"]
    assert read_baseline(project) == expected
    assert (project.path / "llm-baseline.json").stat().st_mtime_ns == stat.st_mtime_ns

    # A changed score changes its own line and date only.
    project.pytester.makepyfile(test_app=LINEAGE.format(score=0.95))
    project.run("--llm-update-baseline").assert_outcomes(passed=1)
    changed = read_baseline(project)
    assert changed == expected.replace('"updated": "2026-01-01", "value": 0.875', '"updated": "2026-01-02", "value": 0.95')


# -- regressions -----------------------------------------------------------------------------------
REGRESSIONS = """
import pytest, sdk_calls
from pytest_llmops.context import current
from pytest_llmops.scores import record_score

@pytest.mark.llm
def test_answer(llm_baseline):
    current().use_prompt({"prompt": "answer@v2", "prompt_digest": "sha256:0123456789abcdef"})
    sdk_calls.openai_chat_sync()
    llm_baseline.check("faithfulness", 0.7)

def test_assertions():
    record_score("faithfulness", 0.5, source="faithfulness")
    record_score("judge", 3, source="judge")

def test_improved(llm_baseline):
    before = llm_baseline.get("judge").value  # 3.5, then 4.5 once accepted
    assert llm_baseline.get("faithfulness") is None
    assert llm_baseline.check("judge", 4.5).status == ("improved" if before == 3.5 else "unchanged")
"""


def test_a_regression_fails_with_old_and_new_score_model_and_prompt(project):
    write_baseline(project, {
        "test_app.py::test_answer": {"faithfulness": dict(value=0.9, model="gpt-4o", prompt="answer@v1",
                                                          prompt_digest="sha256:aaaaaaaaaaaa", updated="2025-12-01")},
        "test_app.py::test_assertions": {"faithfulness": dict(value=0.9), "judge": dict(value=4)},
        "test_app.py::test_improved": {"judge": dict(value=3.5)},
    })
    before = read_baseline(project)
    project.pytester.makepyfile(test_app=REGRESSIONS, conftest=FAILED_PHASES)
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(passed=1, failed=2)
    assert failure(result, "test_answer")[-9:] == [
        ">       llm_baseline.check(\"faithfulness\", 0.7)",
        "E       AssertionError: faithfulness regressed: 0.7 < 0.85 (baseline 0.9 - tolerance 0.05)",
        "E         baseline  0.9  model gpt-4o       prompt answer@v1 (sha256:aaaaaaaa)  accepted 2025-12-01",
        "E         this run  0.7  model gpt-4o-mini  prompt answer@v2 (sha256:01234567)",
        "E         tolerance 0.05 from llm_tolerance",
        "E         noise     not estimated (one sample per side): the plain tolerance decided; repeat the test for samples: --llm-repeat N",
        "E         to accept this run's scores: pytest --llm-update-baseline 'test_app.py::test_answer'",
        "",
        "test_app.py:9: AssertionError",
    ]
    # Scores recorded by assertions are compared after the body, and fail the call phase.
    assert failure(result, "test_assertions") == [
        "",
        "E   AssertionError: 2 scores regressed: faithfulness, judge",
        "E     faithfulness regressed: 0.5 < 0.85 (baseline 0.9 - tolerance 0.05)",
        "E       baseline  0.9",
        "E       this run  0.5",
        "E       tolerance 0.05 from llm_tolerance",
        "E       noise     not estimated (one sample per side): the plain tolerance decided; repeat the test for samples: --llm-repeat N",
        "E     judge regressed: 3 < 3.95 (baseline 4 - tolerance 0.05)",
        "E       baseline  4",
        "E       this run  3",
        "E       tolerance 0.05 from llm_tolerance",
        "E       noise     not estimated (one sample per side): the plain tolerance decided; repeat the test for samples: --llm-repeat N",
        "E     to accept this run's scores: pytest --llm-update-baseline 'test_app.py::test_assertions'",
        "",
        "test_app.py:11: AssertionError",
    ]
    assert (project.path / "failed-phases.txt").read_text().splitlines() == [
        "test_app.py::test_answer call", "test_app.py::test_assertions call"]
    result.stdout.fnmatch_lines([
        "FAILED test_app.py::test_answer - AssertionError: faithfulness regressed*",
        "FAILED test_app.py::test_assertions - AssertionError: 2 scores regressed*",
    ])
    assert summary(result) == [
        "(no model): 2 regressed, 1 improved",
        "  REGRESSED  test_app.py::test_assertions  faithfulness  0.9 -> 0.5  -0.4  tolerance 0.05",
        "  REGRESSED  test_app.py::test_assertions  judge           4 -> 3    -1    tolerance 0.05",
        "  IMPROVED   test_app.py::test_improved    judge         3.5 -> 4.5  +1",
        "gpt-4o -> gpt-4o-mini: 1 regressed",
        "  REGRESSED  test_app.py::test_answer      faithfulness  0.9 -> 0.7  -0.2  tolerance 0.05; "
        "prompt answer@v1 -> answer@v2",
        "3 regressed, 1 improved; llm-baseline.json unchanged (accept this run with --llm-update-baseline)",
    ]
    assert read_baseline(project) == before  # never touched without --llm-update-baseline

    # Accepting: the same run with --llm-update-baseline passes and writes the new scores.
    accepted = project.run("--llm-update-baseline")
    accepted.assert_outcomes(passed=3)
    assert summary(accepted)[-1] == "3 regressed, 1 improved; llm-baseline.json updated (4 score(s) written, 0 removed)"
    assert "  REGRESSED  test_app.py::test_assertions  judge           4 -> 3    -1    tolerance 0.05; accepted" \
        in summary(accepted)
    assert project.run().ret == 0


TOLERANCES = """
import pytest

def test_default(llm_baseline):                # ini llm_tolerance = 0.08
    llm_baseline.check("faithfulness", 0.8)

def test_within_default(llm_baseline):
    llm_baseline.check("faithfulness", 0.85)

def test_ini_per_metric(llm_baseline):         # ini llm_tolerance_metrics: judge=0.2
    llm_baseline.check("judge", 0.8)

@pytest.mark.llm_tolerance(0.15)
def test_marker(llm_baseline):
    llm_baseline.check("faithfulness", 0.8)
    llm_baseline.check("judge", 0.8)

@pytest.mark.llm_tolerance(0.5, judge=0.01)    # per metric beats the ini's judge=0.2
def test_marker_per_metric(llm_baseline):
    llm_baseline.check("judge", 0.8)

@pytest.mark.llm_tolerance(0.01)
def test_check_argument(llm_baseline):
    llm_baseline.check("faithfulness", 0.8, tolerance=0.2)

@pytest.mark.llm_tolerance("a lot")
def test_bad_marker(llm_baseline):
    llm_baseline.check("faithfulness", 0.8)
"""


def test_tolerance_from_ini_per_metric_marker_and_check(project):
    names = ["default", "within_default", "ini_per_metric", "marker", "marker_per_metric", "check_argument",
             "bad_marker"]
    write_baseline(project, {f"test_app.py::test_{name}": {"faithfulness": dict(value=0.9), "judge": dict(value=0.9)}
                             for name in names})
    project.pytester.makeini(INI + "llm_tolerance = 0.08\nllm_tolerance_metrics = judge=0.2 other=1\n")
    project.pytester.makepyfile(test_app=TOLERANCES)
    result = project.run("-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=2, errors=1)
    assert "E         tolerance 0.08 from llm_tolerance" in failure(result, "test_default")
    assert "E         tolerance 0.01 from @pytest.mark.llm_tolerance(judge=0.01)" in failure(result, "test_marker_per_metric")
    assert "test_app.py::test_bad_marker: @pytest.mark.llm_tolerance('a lot'): a tolerance is a number >= 0 " \
           "(how far a score may drop), got 'a lot'" in failure(result, "ERROR at setup of test_bad_marker")


def test_bad_ini_tolerances_are_usage_errors(project):
    project.pytester.makepyfile(test_app=SIMPLE)
    project.pytester.makeini(INI + "llm_tolerance_metrics = faithfulness\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: llm_tolerance_metrics: expected METRIC=TOLERANCE pairs such as "
                                 "'faithfulness=0.1 judge=0.5', got 'faithfulness'"])


# -- unscored, missing, late scores ----------------------------------------------------------------
OTHERS = """
import pytest
from pytest_llmops.scores import Score, record_score

def test_unscored():
    record_score("judge", None, source="judge", reason="the judge's answer was not JSON")

def test_dropped_metric(llm_baseline):
    llm_baseline.check("faithfulness", 0.9)

@pytest.fixture
def graded():
    yield
    record_score("latency_score", 0.1, source="check")  # after the body: compared at teardown

def test_late(graded):
    pass
"""


def test_unscored_is_counted_apart_missing_entries_shown_and_late_scores_compared(project):
    write_baseline(project, {
        "test_app.py::test_unscored": {"judge": dict(value=4.0, updated="2025-12-01")},
        "test_app.py::test_dropped_metric": {"faithfulness": dict(value=0.9), "old_metric": dict(value=0.5)},
        "test_app.py::test_late": {"latency_score": dict(value=0.9)},
        "test_app.py::test_not_run": {"faithfulness": dict(value=0.9)},
    })
    project.pytester.makepyfile(test_app=OTHERS, conftest=FAILED_PHASES)
    result = project.run()
    result.assert_outcomes(passed=3, errors=1)  # the late regression errors at teardown
    assert (project.path / "failed-phases.txt").read_text() == "test_app.py::test_late teardown\n"
    assert summary(result) == [
        "(no model): 1 regressed, 1 unscored, 1 missing, 1 unchanged",
        "  REGRESSED  test_app.py::test_late            latency_score  0.9 -> 0.1  -0.8  tolerance 0.05",
        "  UNSCORED   test_app.py::test_unscored        judge            4 -> ?          the judge's answer was not JSON",
        "  MISSING    test_app.py::test_dropped_metric  old_metric     0.5 ->            in the baseline, not recorded by "
        "this run",
        "1 regressed, 1 unscored, 1 missing, 1 unchanged; llm-baseline.json unchanged (accept this run with "
        "--llm-update-baseline)",
    ]
    project.run("--llm-update-baseline").assert_outcomes(passed=3)
    scores = json.loads(read_baseline(project))["scores"]
    assert scores["test_app.py::test_unscored"] == {"judge": {"updated": "2025-12-01", "value": 4.0}}  # kept
    assert list(scores["test_app.py::test_dropped_metric"]) == ["faithfulness"]  # old_metric removed
    assert scores["test_app.py::test_late"]["latency_score"]["value"] == 0.1
    assert scores["test_app.py::test_not_run"] == {"faithfulness": {"value": 0.9}}  # tests not run keep theirs


# -- snapshots -------------------------------------------------------------------------------------
SNAPSHOT = """
import json, pathlib

def test_answer(llm_baseline):
    data = json.loads(pathlib.Path("out.json").read_text())
    llm_baseline.snapshot("answer", data, ignore=["$.id", "$.choices[*].created"])
"""


def test_snapshot_diff_ignores_volatile_paths(project):
    def output(id_: str, text: str, created: int, extra: dict | None = None) -> None:
        data = {"id": id_, "choices": [{"text": text, "created": created, "index": 0}], **(extra or {})}
        (project.path / "out.json").write_text(json.dumps(data))

    project.pytester.makepyfile(test_app=SNAPSHOT)
    output("cmpl-1", "Paris", 1)
    first = project.run()
    first.assert_outcomes(passed=1)
    assert summary(first) == ["snapshots: 1 new", "  NEW  test_app.py::test_answer  answer",
                              "1 snapshot new; llm-baseline.json unchanged (accept this run with --llm-update-baseline)"]
    project.run("--llm-update-baseline").assert_outcomes(passed=1)
    stored = project.path / "llm-snapshots" / "test_app" / "test_answer.json"
    assert stored.read_text() == (
        '{\n  "answer": {\n    "choices": [\n      {\n        "created": "<ignored>",\n        "index": 0,\n'
        '        "text": "Paris"\n      }\n    ],\n    "id": "<ignored>"\n  }\n}\n'
    )
    output("cmpl-2", "Paris", 2)  # only ignored values changed
    project.run().assert_outcomes(passed=1)
    output("cmpl-3", "Lyon", 3, {"usage": {"tokens": 3}})
    result = project.run()
    result.assert_outcomes(failed=1)
    assert failure(result, "test_answer")[-6:] == [
        "E       AssertionError: snapshot 'answer' differs from llm-snapshots/test_app/test_answer.json "
        "(ignoring $.id, $.choices[*].created):",
        'E         $.choices[0].text: "Paris" -> "Lyon"',
        'E         $.usage: added {"tokens": 3}',
        "E         to accept the new output: pytest --llm-update-baseline 'test_app.py::test_answer'",
        "",
        "test_app.py:5: AssertionError",
    ]
    assert summary(result)[:2] == ["snapshots: 1 changed", "  CHANGED  test_app.py::test_answer  answer  2 difference(s)"]


# -- model changes (--llm-model through the loopback server) ---------------------------------------
MODELS = """
import pytest, sdk_calls
from pytest_llmops.scores import record_score

@pytest.mark.llm
def test_openai():
    model = sdk_calls.openai_chat_sync()["model"]
    record_score("faithfulness", 0.9 if model == "gpt-4o-mini" else 0.6, source="faithfulness")
    record_score("judge", 4 if model == "gpt-4o-mini" else 5, source="judge")

@pytest.mark.llm
def test_claude():
    sdk_calls.anthropic_messages_sync()
    record_score("faithfulness", 0.8, source="faithfulness")
"""


def test_summary_groups_scores_by_model_change(project):
    project.pytester.makepyfile(test_app=MODELS)
    project.run("--llm-live", "--llm-update-baseline", live=True).assert_outcomes(passed=2)
    result = project.run("--llm-live", "--llm-model", "gpt-4o-mini=gpt-4.1", "-v", live=True)
    result.assert_outcomes(passed=1, failed=1)
    assert summary(result) == [
        "gpt-4o-mini -> gpt-4.1: 1 regressed, 1 improved",
        "  REGRESSED  test_app.py::test_openai  faithfulness  0.9 -> 0.6  -0.3  tolerance 0.05",
        "  IMPROVED   test_app.py::test_openai  judge           4 -> 5    +1",
        "claude-sonnet-5-5: 1 unchanged",
        "  UNCHANGED  test_app.py::test_claude  faithfulness  0.8 -> 0.8  ±0",
        "1 regressed, 1 improved, 1 unchanged; llm-baseline.json unchanged (accept this run with "
        "--llm-update-baseline)",
    ]
    assert "E     baseline  0.9  model gpt-4o-mini  accepted 2026-01-01" in failure(result, "test_openai")
    assert "E     this run  0.6  model gpt-4.1" in failure(result, "test_openai")


# -- JUnit XML and the HTML report -----------------------------------------------------------------
def test_scores_are_junit_properties_and_the_html_report_is_self_contained(project):
    write_baseline(project, {"test_app.py::test_check": {"faithfulness": dict(value=0.99, model="gpt-4o")}})
    project.pytester.makepyfile(test_app=SIMPLE + OTHERS.split("import pytest", 1)[1].split("@pytest.fixture")[0])
    result = project.run("--junitxml", "junit.xml", "--llm-html", "reports/llm.html")
    result.assert_outcomes(passed=3, failed=1)
    properties = {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in ET.parse(project.path / "junit.xml").getroot().iter("testcase")
    }
    assert properties == {
        "test_check": [("llm_score:faithfulness", "0.9")],
        "test_assertion": [("llm_score:judge", "4.0")],
        "test_unscored": [("llm_score:judge", "unscored")],
        "test_dropped_metric": [("llm_score:faithfulness", "0.9")],
    }
    assert summary(result)[-1] == "html report: reports/llm.html"
    page = (project.path / "reports" / "llm.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "http://" not in page and "https://" not in page  # opens from disk, nothing to fetch
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page)
    assert page.count("<svg") == 2  # one plot per metric: faithfulness, judge
    assert page.count("<tr class=") == 4
    assert '<td class="test">test_app.py::test_check</td>' in page
    assert "REGRESSED" in page and "0.99" in page


# -- xdist -----------------------------------------------------------------------------------------
XDIST = """
import pytest
from pytest_llmops.scores import record_score

@pytest.mark.parametrize("n", range(24))
def test_score(n, llm_baseline):
    llm_baseline.check("faithfulness", n / 100)
    record_score("judge", n % 5, source="judge")
    llm_baseline.snapshot("out", {"n": n})
"""


def test_under_xdist_the_controller_merges_everything_once(project):
    """A serial run and a 4-worker run from the same baseline give the same summary, file, snapshots,
    HTML report and JUnit properties: nothing lost, nothing doubled."""
    start = {}
    for n in range(18):  # 0-5 will regress, 6-11 improve, 12-17 stay; 18-23 are new
        shift = 0.2 if n < 6 else (-0.2 if n < 12 else 0.0)
        start[f"test_app.py::test_score[{n}]"] = {"faithfulness": dict(value=round(n / 100 + shift, 6))}
    project.pytester.makepyfile(test_app=XDIST)

    def run(*args: str) -> tuple[list[str], str, dict, str, int]:
        write_baseline(project, start)
        for path in (project.path / "llm-snapshots").rglob("*.json"):
            path.unlink()
        result = project.run("--llm-update-baseline", "--llm-html", "r.html", "--junitxml", "j.xml", *args)
        result.assert_outcomes(passed=24)
        snapshots = {p.name: p.read_text() for p in (project.path / "llm-snapshots").rglob("*.json")}
        junit = (project.path / "j.xml").read_text().count('<property name="llm_score:')
        return summary(result), read_baseline(project), snapshots, (project.path / "r.html").read_text(), junit

    serial = run()
    parallel = run("-n", "4")
    assert serial[0][-2:] == [
        "6 regressed, 6 improved, 30 new, 6 unchanged; 24 snapshots new; llm-baseline.json updated "
        "(42 score(s) written, 0 removed, 24 snapshot file(s))",
        "html report: r.html",
    ]
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1] and len(json.loads(parallel[1])["scores"]) == 24
    assert parallel[2] == serial[2] and len(parallel[2]) == 24
    assert parallel[3] == serial[3]
    assert parallel[4] == serial[4] == 48


# -- files that cannot be trusted ------------------------------------------------------------------
GOOD_LINE = '      "faithfulness": {"value": 0.9}'
CONFLICTED = f"""{{
  "scores": {{
    "test_app.py::test_check": {{
<<<<<<< HEAD
{GOOD_LINE}
=======
      "faithfulness": {{"value": 0.8}}
>>>>>>> feature
    }}
  }},
  "version": 1
}}
"""


@pytest.mark.parametrize(("content", "error"), [
    pytest.param(CONFLICTED, [
        "ERROR: pytest-llmops: cannot use the score baseline llm-baseline.json: line 4 is a git merge conflict "
        "marker (<<<<<<< HEAD).",
        "llm-baseline.json:4: resolve it: for each score keep the side you accept and delete the "
        "<<<<<<< ======= >>>>>>> lines; or take one side whole (git checkout --theirs llm-baseline.json) and "
        "accept this run's scores again with --llm-update-baseline. Nothing was written.",
    ], id="conflict"),
    pytest.param('{\n  "scores": {},\n  "version": 1,\n}\n', [
        "ERROR: pytest-llmops: cannot use the score baseline llm-baseline.json: line 4, column 1: not valid JSON "
        "(Expecting property name enclosed in double quotes).",
        "llm-baseline.json:4: Fix the file by hand, or take the committed one back (git checkout -- "
        "llm-baseline.json) and accept this run's scores again with --llm-update-baseline. Nothing was written.",
    ], id="corrupt"),
    pytest.param('{\n  "scores": {\n    "test_app.py::test_check": {\n      "faithfulness": {"value": "high"}\n'
                 '    }\n  },\n  "version": 1\n}\n', [
        "ERROR: pytest-llmops: cannot use the score baseline llm-baseline.json: line 4: test_app.py::test_check "
        "faithfulness: \"value\" must be a finite number, got \"high\". Fix the file by hand, or take the committed "
        "one back (git checkout -- llm-baseline.json) and accept this run's scores again with "
        "--llm-update-baseline. Nothing was written.",
    ], id="bad-value"),
    pytest.param('{"scores": {}, "version": 2, "sampling": {}}\n', [
        "ERROR: pytest-llmops: the score baseline llm-baseline.json was written by a newer pytest-llmops (file "
        "format version 2; this version reads version 1 and older). Upgrade pytest-llmops (pip install -U "
        "pytest-llmops) to compare with it. The file was left as it is.",
    ], id="future"),
    pytest.param('{"scores": {}}\n', [
        "ERROR: pytest-llmops: cannot use the score baseline llm-baseline.json: \"version\" must be a format "
        "version number such as 1, got null. Fix the file by hand, or take the committed one back (git checkout "
        "-- llm-baseline.json) and accept this run's scores again with --llm-update-baseline. Nothing was written.",
    ], id="no-version"),
])
def test_an_untrusted_baseline_stops_the_session_and_nothing_is_written(project, content, error):
    (project.path / "llm-baseline.json").write_text(content)
    project.pytester.makepyfile(test_app=SIMPLE + SNAPSHOT.replace("import json, pathlib", "").replace(
        'json.loads(pathlib.Path("out.json").read_text())', "{}"))
    result = project.run("--llm-update-baseline", "--llm-html", "r.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line.strip()] == error
    assert (project.path / "llm-baseline.json").read_text() == content
    assert not (project.path / "llm-snapshots").exists() and not (project.path / "r.html").exists()


# -- units: the file format, the comparison, ignore paths ------------------------------------------
names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
optional = st.none() | names
entries = st.builds(
    Entry,
    value=st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 6)),
    model=optional, prompt=optional, prompt_digest=optional, updated=optional,
    samples=st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 6)), max_size=4)
    .map(lambda s: tuple(s) if len(s) > 1 else ()),
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(names, st.dictionaries(names.filter(lambda k: "#" not in k), entries, min_size=1), max_size=4))
def test_the_file_round_trips_and_is_stable(scores):
    text = dumps(scores)
    assert parse(text, "b.json") == scores
    assert dumps(parse(text, "b.json")) == text
    # one line per score: 5 lines around them, and a line opening and one closing each test
    assert text.count("\n") == (6 + sum(2 + len(m) for m in scores.values()) if scores else 5)


@given(old=st.floats(0, 10), new=st.floats(0, 10), tolerance=st.floats(0, 2))
def test_compare_score_decides_by_the_tolerance(old, new, tolerance):
    verdict = compare_score(Entry(old), Score("m", new, (new,), test="t"), "m", Tolerance(tolerance, "x"))
    if new < old - tolerance - 1e-9:
        assert verdict.status == "regressed"
    elif new > old + tolerance + 1e-9:
        assert verdict.status == "improved"
    else:
        assert verdict.status == "unchanged"
    assert compare_score(Entry(old), Score.unscored("m", "no"), "m", Tolerance(tolerance, "x")).status == "unscored"
    assert compare_score(None, Score("m", new), "m", Tolerance(tolerance, "x")).status == "new"


def test_ignore_paths():
    data = {"id": 1, "items": [{"id": 2, "v": 3}, {"id": 4, "v": 5}], "meta": {"id": 6, "odd key": 7}}
    assert mask(data, [parse_path("$.id")]) == {**data, "id": "<ignored>"}
    assert mask(data, [parse_path("$.items[*].id")])["items"] == [{"id": "<ignored>", "v": 3},
                                                                   {"id": "<ignored>", "v": 5}]
    assert mask(data, [parse_path("$..id")]) == {"id": "<ignored>", "items": [{"id": "<ignored>", "v": 3},
                                                 {"id": "<ignored>", "v": 5}], "meta": {"id": "<ignored>", "odd key": 7}}
    assert mask(data, [parse_path("$.meta['odd key']"), parse_path("$.items[1]")]) == {
        "id": 1, "items": [{"id": 2, "v": 3}, "<ignored>"], "meta": {"id": 6, "odd key": "<ignored>"}}
    with pytest.raises(ValueError, match=r"must be a JSONPath starting with \$"):
        parse_path("id")
    with pytest.raises(ValueError, match=r"cannot read it from '\[x\]'"):
        parse_path("$.a[x]")


def test_baseline_load_names_the_file(tmp_path):
    path = tmp_path / "b.json"
    assert Baseline.load(path).entries == {}
    path.write_text("[1]")
    with pytest.raises(BaselineError, match=r"cannot use the score baseline b.json: expected a JSON object"):
        Baseline.load(path, "b.json")
