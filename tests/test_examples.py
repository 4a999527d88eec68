"""The example project as committed: ``pytest examples`` replays offline with every score unchanged, and
the recorded model upgrade (``examples/cassettes-upgrade``) replays offline and flags exactly the
regressions docs/model-upgrade.md shows.

Both run in-process on the repository's own ``examples/`` folder (read only: ``CI=true`` writes no lock
file, no baseline is updated, ``-p no:cacheprovider`` writes no cache), with no key and base URLs pointing
at a closed port, so a request that is not in a cassette fails instead of reaching a network.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_docs import own_test_modules

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
UPGRADE = ["-o", "llm_cassette_dir=cassettes-upgrade", "--llm-model", "gpt-4o-mini=gpt-4.1-mini"]
#: What the toy gpt-4.1-mini does to the committed baseline (docs/model-upgrade.md, "The figures").
REGRESSED = {
    "tests/test_prompt_versions.py::test_answer_is_correct_and_faithful[answer@v1-returns]": ("faithfulness", "1 -> 0.6029"),
    "tests/test_prompt_versions.py::test_answer_is_correct_and_faithful[answer@v1-shipping]": ("faithfulness", "1 -> 0.6111"),
    "tests/test_prompt_versions.py::test_answer_is_correct_and_faithful[answer@v2-returns]": ("faithfulness", "1 -> 0.5882"),
    "tests/test_prompt_versions.py::test_answer_is_correct_and_faithful[answer@v2-shipping]": ("faithfulness", "1 -> 0.6111"),
    "tests/test_quality.py::test_answer_is_faithful_by_judge": ("faithfulness", "1 -> 0.5"),
    "tests/test_quality.py::test_answer_is_faithful_to_the_documents[openai]": ("faithfulness", "1 -> 0.6029"),
    "tests/test_quality.py::test_answer_meets_the_rubric[openai]": ("judge", "5 -> 4"),
    "tests/test_structured.py::test_structured_answer_matches_its_schema": ("faithfulness", "1 -> 0.6029"),
}


@pytest.fixture
def offline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    with own_test_modules(EXAMPLES):
        return pytester.runpytest_inprocess(str(EXAMPLES), "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def test_examples_replay_offline_with_every_score_unchanged(offline: pytest.Pytester) -> None:
    result = _run(offline)
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str()
    assert re.search(r"^calls +\d+: 0 live, \d+ replayed$", out, re.MULTILINE), out
    summary = [line for line in result.outlines if "llm-baseline.json" in line]
    assert summary and re.match(r"^\d+ unchanged; 1 snapshot unchanged; llm-baseline\.json unchanged$", summary[-1]), summary
    assert not re.search(r"^  (NEW|REGRESSED|IMPROVED|MISSING|UNSCORED) ", out, re.MULTILINE), out


def test_the_recorded_upgrade_replays_offline_and_flags_the_regressions(offline: pytest.Pytester) -> None:
    result = _run(offline, *UPGRADE)
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "CassetteMiss" not in out
    assert "llmops: model substitution gpt-4o-mini -> gpt-4.1-mini" in result.outlines
    regressed = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^  REGRESSED  (\S+)\s+(\w+)\s+(\S+ -> \S+)", out, re.MULTILINE)}
    assert regressed == REGRESSED
    assert re.search(r"^  CHANGED +tests/test_structured\.py::test_structured_answer_snapshot +cited_answer", out, re.MULTILINE)
    # The Anthropic path and the schema scores do not move; the resilience tests still pass.
    assert re.search(r"^claude-sonnet-5-5: 2 unchanged$", out, re.MULTILINE), out
    result.assert_outcomes(failed=9, passed=32)
