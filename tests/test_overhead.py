"""A session whose tests use nothing of the plugin pays for nothing (issue #8): no feature module is
imported and no feature file read. What the user asked for explicitly is still checked before any test
runs, even when no test uses the feature. (Times are measured by bench/session.py, not here.)"""

from __future__ import annotations

import json

import pytest

#: What every session imports: the wiring and the small modules it needs at configure.
CORE = ["pytest_llmops", "pytest_llmops.context", "pytest_llmops.errors", "pytest_llmops.lazy", "pytest_llmops.plugin",
        "pytest_llmops.session", "pytest_llmops.settings", "pytest_llmops.xdist"]

PROBE = """
import json, sys

def pytest_unconfigure(config):
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "pytest_llmops")
    with open("loaded.json", "w") as f:
        json.dump(loaded, f)
"""

PLAIN = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_plain(n):
    assert n < 3

def test_fails_plainly():
    assert 1 == 2
"""


def loaded(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makeconftest(PROBE)
    pytester.runpytest_subprocess("-p", "no:hypothesispytest", *args)  # a fresh process: nothing imported yet
    return json.loads((pytester.path / "loaded.json").read_text())


def test_a_plain_session_imports_only_the_wiring(pytester):
    pytester.makepyfile(test_plain=PLAIN)
    (pytester.path / "prompts").mkdir()  # a prompt folder without a lock file: nothing to check
    (pytester.path / "prompts" / "answer.yaml").write_text("not even read\n")
    assert loaded(pytester) == CORE
    assert loaded(pytester, "-p", "no:cacheprovider", "-v") == CORE


@pytest.mark.parametrize(("args", "ini", "files", "error"), [
    pytest.param([], "", {"llm-baseline.json": '{"scores": {}}\n'}, [
        "ERROR: pytest-llmops: cannot use the score baseline llm-baseline.json: \"version\" must be a format "
        "version number such as 1, got null. Fix the file by hand, or take the committed one back (git checkout "
        "-- llm-baseline.json) and accept this run's scores again with --llm-update-baseline. Nothing was written.",
    ], id="baseline-file"),
    pytest.param([], "llm_tolerance = -1\n", {}, [
        "ERROR: llm_tolerance: a tolerance is a number >= 0 (how far a score may drop), got -1.0",
    ], id="llm_tolerance"),
    pytest.param([], "llm_pricing = prices.json\n", {"prices.json": "{"}, [
        "ERROR: llm_pricing: {path}/prices.json is not valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
    ], id="llm_pricing"),
    pytest.param(["--llm-budget", "-1"], "", {}, [
        "ERROR: --llm-budget expects an amount in USD >= 0, got -1.0",
    ], id="llm-budget"),
    pytest.param([], "llm_bootstrap_seed = x\n", {}, [
        "ERROR: llm_bootstrap_seed must be a whole number, got 'x'",
    ], id="noise-ini"),
    pytest.param([], "", {"prompts/prompts.lock": "[not a lock\n"}, None, id="prompt-lock"),
])
def test_what_the_user_asked_for_is_checked_before_any_test_runs(project, args, ini, files, error):
    project.pytester.makepyfile(test_plain=PLAIN)
    project.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n" + ini)
    for name, text in files.items():
        (project.path / name).parent.mkdir(exist_ok=True)
        (project.path / name).write_text(text)
    result = project.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.errlines if line.strip()]
    if error is None:
        assert lines[0] == "ERROR: pytest-llmops: cannot read the prompt lock file."
    else:
        assert lines == [line.format(path=project.path) for line in error]
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()
