"""review: a person walks through what the last run changed in a real terminal, decisions are saved as
they are made (and survive stopping half-way), and the reports show people against the scores."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmops.cli import main
from pytest_llmops.lastrun import LAST_RUN_KEY
from pytest_llmops.loopback import Reply
from pytest_llmops.review import Reviews, agreement, cohen_kappa

TEST_FILE = '''
import openai
import pytest

QUALITY = {"good": 1.0, "fine": 0.5, "bad": 0.0}


@pytest.mark.llm
@pytest.mark.parametrize("topic", ["refunds", "returns", "shipping"])
def test_answer(topic, llm_baseline):
    reply = openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Tell me about {topic}"}])
    text = reply.choices[0].message.content
    llm_baseline.check("quality", QUALITY[text.split()[1]])
'''
ANSWERS = {"refunds": "A fine answer about refunds.", "returns": "A good answer about returns.",
           "shipping": "A good answer about shipping."}


def reply_with(answers):
    def reply(request, provider):
        asked = request.json["messages"][-1]["content"]
        return Reply(text=answers[asked.rsplit(" ", 1)[1]])
    return reply


def run(project, *args, live=False):
    """pytest in the project with pytest's cache on (the last run's record lives there)."""
    if live:
        project.live_env()
    else:
        project.replay_env()
    return project.pytester.runpytest("-p", "no:hypothesispytest", *args)


def spawn(project, *args) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    return pexpect.spawn(sys.executable, ["-m", "pytest_llmops", "review", *args], cwd=str(project.path), env=env,
                         encoding="utf-8", timeout=30, dimensions=(50, 120))


@pytest.fixture
def reviewed_project(project, provider, monkeypatch):
    """A project whose baseline was accepted, then a live run where the provider answers differently."""
    project.pytester.makepyfile(test_app=TEST_FILE)
    monkeypatch.setattr(provider, "reply", reply_with(ANSWERS))
    run(project, "--llm-live", live=True).assert_outcomes(passed=3)
    run(project, "--llm-update-baseline").assert_outcomes(passed=3)
    changed = {**ANSWERS, "refunds": "A good answer about refunds, now with the delay.",
               "returns": "A bad answer about returns."}
    monkeypatch.setattr(provider, "reply", reply_with(changed))
    run(project, "--llm-live", live=True).assert_outcomes(passed=2, failed=1)
    return project


def test_review_in_a_terminal_records_decisions_and_survives_stopping_half_way(reviewed_project):
    project = reviewed_project
    record = json.loads((project.path / ".pytest_cache/v" / LAST_RUN_KEY).read_text())
    assert record["run"]["mode"] == "live"
    assert record["tests"]["test_app.py::test_answer[returns]"]["calls"][0]["old_answer"]["text"] == \
        "A good answer about returns."

    child = spawn(project, "--sample", "1", "--reviewer", "tester")
    child.expect_exact("to review: 2 changed, 1 sampled unchanged (rate 1)")
    child.expect_exact("[1/3] CHANGED  test_app.py::test_answer[refunds]")
    child.expect_exact("scores   quality     0.5 -> 1      +0.5    IMPROVED")
    child.expect_exact("-A fine answer about refunds.")
    child.expect_exact("+A good answer about refunds, now with the delay.")
    child.expect_exact("[a]ccept  [r]eject  [s]kip  [n]ote  [q]uit  ? ")
    child.send("a")
    child.expect_exact("accepted: llm-baseline.json updated (1 score(s) written); decision saved to llm-reviews.json")
    child.expect_exact("[2/3] CHANGED  test_app.py::test_answer[returns]")
    child.expect_exact("changed  quality regressed")
    child.expect_exact("scores   quality       1 -> 0      -1      REGRESSED (tolerance 0.05)")
    child.expect_exact("-A good answer about returns.")
    child.expect_exact("+A bad answer about returns.")
    child.expect_exact("? ")
    child.send("n")
    child.expect_exact("note: ")
    child.sendline("forgets the 30-day window")
    child.expect_exact("note kept: it is saved with your decision on this test")
    child.send("r")
    child.expect_exact("rejected: the baseline is kept; the answer is kept as a labelled regression case in "
                       "llm-reviews.json")
    child.expect_exact("[3/3] SAMPLED  test_app.py::test_answer[shipping]")
    child.expect_exact("answer   (unchanged) A good answer about shipping.")
    child.send("q")  # stop half-way
    child.expect_exact("reviewed 2: 1 accepted, 1 rejected, 0 skipped; 1 left for next time (run review again).")
    child.expect(pexpect.EOF)

    reviews = json.loads((project.path / "llm-reviews.json").read_text())["reviews"]
    assert [(d["test"], d["decision"], d["label"], d["reviewer"]) for d in reviews] == [
        ("test_app.py::test_answer[refunds]", "accept", "good", "tester"),
        ("test_app.py::test_answer[returns]", "reject", "bad", "tester"),
    ]
    assert reviews[1]["note"] == "forgets the 30-day window"
    assert (reviews[1]["answer"], reviews[1]["old_answer"]) == ("A bad answer about returns.",
                                                                "A good answer about returns.")
    assert reviews[1]["scores"] == [{"key": "quality", "old": 1.0, "source": "check", "status": "regressed",
                                     "value": 0.0}]
    baseline = json.loads((project.path / "llm-baseline.json").read_text())["scores"]
    assert baseline["test_app.py::test_answer[refunds]"]["quality"]["value"] == 1.0  # accepted
    assert baseline["test_app.py::test_answer[returns]"]["quality"]["value"] == 1.0  # rejected: kept

    child = spawn(project, "--sample", "1", "--reviewer", "tester")  # the rest, next time
    child.expect_exact("to review: 0 changed, 1 sampled unchanged (rate 1)")
    child.expect_exact("[1/1] SAMPLED  test_app.py::test_answer[shipping]")
    child.send("a")
    child.expect_exact("accepted: llm-baseline.json already holds these scores; decision saved to llm-reviews.json")
    child.expect(pexpect.EOF)

    result = run(project, "--llm-html", "report.html")  # replay: the reports show the people's labels
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*= llm reviews =*",
        "human labels (llm-reviews.json): 3 decision(s): 2 accepted, 1 rejected",
        "  agreement with people     n   agree  kappa",
        "  quality                   3  100.0%  1.00",
        "  gate (any score)          3  100.0%  1.00",
        "labels of this run's tests (latest decision):",
        "  GOOD  test_app.py::test_answer[[]refunds]  quality 0.5 -> 1  by tester *",
        "  BAD   test_app.py::test_answer[[]returns]  quality 1 -> 0  by tester * \"forgets the 30-day window\"",
        "  GOOD  test_app.py::test_answer[[]shipping]  quality 1 -> 1  by tester *",
    ])
    page = (project.path / "report.html").read_text()
    assert "<h2>Human review</h2>" in page and "forgets the 30-day window" in page


def test_review_without_a_record_or_with_a_damaged_reviews_file_says_what_to_do(project, capsys, monkeypatch):
    monkeypatch.chdir(project.path)
    assert main(["review"]) == 3
    assert capsys.readouterr().err == (
        f"error: no record of a test run at {project.path / '.pytest_cache/v' / LAST_RUN_KEY}: run pytest first "
        f"(the plugin writes it at the end of every run; a run with -p no:cacheprovider writes none).\n")
    record = project.path / ".pytest_cache/v" / LAST_RUN_KEY
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"version": 1, "run": {"session": "s1", "baseline": str(project.path / "b.json")},
                                  "tests": {}}))
    (project.path / "llm-reviews.json").write_text('{"reviews": [')
    assert main(["review"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: the reviews file {project.path / 'llm-reviews.json'} is not valid JSON (")
    assert err.endswith("Fix it by hand or take the committed one back (git checkout -- llm-reviews.json); nothing "
                        "was changed.\n")
    assert (project.path / "llm-reviews.json").read_text() == '{"reviews": ['
    record.write_text(json.dumps({"version": 7, "run": {}, "tests": {}}))
    assert main(["review"]) == 3
    assert "was written by a newer pytest-llmops (record version 7; this version reads 1)" in capsys.readouterr().err


def test_piped_input_works_line_by_line_and_end_of_input_keeps_what_was_decided(reviewed_project, capsys, monkeypatch):
    import io

    monkeypatch.chdir(reviewed_project.path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("s\nx\nr\n"))
    assert main(["review", "--sample", "0", "--reviewer", "ci"]) == 0
    out = capsys.readouterr().out
    assert "keys: a accept (baseline updated), r reject (kept as a regression case), s skip, n note, q quit" in out
    assert out.rstrip().endswith("reviewed 1: 0 accepted, 1 rejected, 1 skipped. Decisions are in llm-reviews.json.")
    reviews = Reviews.load(reviewed_project.path / "llm-reviews.json")
    assert [(d["test"], d["decision"]) for d in reviews.decisions] == [("test_app.py::test_answer[returns]", "reject")]


def test_agreement_and_kappa():
    assert cohen_kappa([("good", "good"), ("bad", "bad")]) == 1.0
    assert cohen_kappa([("good", "good")] * 3) is None  # one label only: chance agreement is total
    # 10 items: people 6 good / 4 bad; scores agree on 8
    pairs = [("good", "good")] * 5 + [("good", "bad")] + [("bad", "bad")] * 3 + [("bad", "good")]
    assert round(cohen_kappa(pairs), 4) == round((0.8 - (0.6 * 0.6 + 0.4 * 0.4)) / (1 - 0.52), 4)
    decisions = [
        {"label": "good", "gate": "good", "scores": [{"key": "judge", "status": "unchanged"},
                                                     {"key": "faithfulness", "status": "regressed"}]},
        {"label": "bad", "gate": "bad", "scores": [{"key": "judge", "status": "regressed"},
                                                   {"key": "faithfulness", "status": "unscored"}]},
    ]
    rows = {r.metric: (r.n, r.agree, r.kappa) for r in agreement(decisions)}
    assert rows == {"judge": (2, 2, 1.0), "faithfulness": (1, 0, 0.0), "gate": (2, 2, 1.0)}


@given(st.lists(st.tuples(st.sampled_from(["good", "bad"]), st.sampled_from(["good", "bad"])), min_size=1, max_size=40))
def test_kappa_stays_between_minus_one_and_one(pairs):
    kappa = cohen_kappa(pairs)
    assert kappa is None or -1.0 - 1e-9 <= kappa <= 1.0 + 1e-9
    if kappa is not None and all(a == b for a, b in pairs):
        assert abs(kappa - 1.0) < 1e-9


def test_the_last_run_record_is_written_only_with_the_cache(project, provider, monkeypatch):
    project.pytester.makepyfile(test_app=TEST_FILE)
    monkeypatch.setattr(provider, "reply", reply_with(ANSWERS))
    project.run("--llm-live", live=True).assert_outcomes(passed=3)  # -p no:cacheprovider
    assert not (project.path / ".pytest_cache").exists()
    run(project).assert_outcomes(passed=3)
    record = json.loads((project.path / ".pytest_cache/v" / LAST_RUN_KEY).read_text())
    entry = record["tests"]["test_app.py::test_answer[shipping]"]
    assert [v["status"] for v in entry["verdicts"]] == ["new"]
    assert entry["calls"][0]["answer"]["text"] == "A good answer about shipping."
    assert entry["calls"][0]["replayed"] is True and entry["calls"][0]["old_answer"] is None
    assert Path(record["run"]["baseline"]) == project.path / "llm-baseline.json"
