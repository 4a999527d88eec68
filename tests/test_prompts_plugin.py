"""Versioned prompts, the pytest side: ``llm_prompts``, ``@pytest.mark.llm_prompt`` / ``llm_prompt``,
lineage on every call and score, the lock file (first use, edits, --llm-lock-prompts, CI), and
``--llm-model`` substitution. The plain module is covered by test_prompts_unit.py."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmops.prompt_session import marker_args
from pytest_llmops.prompts import load_prompt

V1 = """\
description: Summarise a ticket.
model: gpt-4o-mini
params: {temperature: 0, max_tokens: 100}
messages:
  - role: user
    content: "Context: The Eiffel Tower is 330 metres tall.\\nQuestion: {{ question }}"
"""
V2 = """\
model: gpt-4o-mini
params: {temperature: 0, max_tokens: 60}
system: Answer in one short sentence.
messages:
  - role: user
    content: "Context: The Eiffel Tower is 330 metres tall.\\nQuestion: {{ question }}"
"""
CLAUDE = """\
model: claude-sonnet-5-5
params: {max_tokens: 100}
messages:
  - role: user
    content: "Context: Paris is in France.\\nQuestion: {{ question }}"
"""

# Records what a test saw (its prompt, its scores, its calls' lineage) for the outer test to check.
REPORTER = """
import json, pathlib
from pytest_llmops.context import current

def report(request, prompt, score):
    ctx = current()
    out = pathlib.Path("seen.jsonl")
    line = {"test": request.node.nodeid, "prompt": prompt.ref, "model": prompt.model,
            "original_model": prompt.original_model, "substitution": prompt.substitution,
            "score": [score.prompt, score.prompt_digest, score.model],
            "calls": [[e.prompt, e.model, e.substituted_model] for e in ctx.exchanges]}
    with out.open("a") as fh:
        fh.write(json.dumps(line) + "\\n")
"""

AB_TEST = """
import openai, pytest
from pytest_llmops.scores import record_score
from reporter import report

@pytest.mark.llm
@pytest.mark.llm_prompt("answer", versions=["v1", "v2"])
def test_answer(llm_prompt, request):
    reply = openai.OpenAI().chat.completions.create(**llm_prompt.call_kwargs("openai", question="How tall is it?"))
    assert "330 metres" in reply.choices[0].message.content
    score = record_score("correct", 1.0)
    report(request, llm_prompt, score)
"""


def write_prompt(project, name: str, version: str, text: str) -> None:
    folder = project.path / "prompts" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.yaml").write_text(text)


def seen(project) -> dict[str, dict]:
    path = project.path / "seen.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return {line["test"]: line for line in lines}


def report_lines(project, name: str) -> dict[str, dict]:
    return {r["test"]: r for r in map(json.loads, (project.path / name).read_text().splitlines())}


def lock(project) -> dict:
    return yaml.safe_load((project.path / "prompts" / "prompts.lock").read_text())


def digest(project, name: str, version: str) -> str:
    return load_prompt(project.path / "prompts" / name / f"{version}.yaml").digest


@pytest.fixture
def answers(project):
    """A project with prompt answer@v1, answer@v2 and the A/B test over both."""
    write_prompt(project, "answer", "v1", V1)
    write_prompt(project, "answer", "v2", V2)
    project.pytester.makepyfile(reporter=REPORTER, test_ab=AB_TEST)
    return project


# -- llm_prompts and lineage ------------------------------------------------------------------------
def test_fixture_gets_a_version_or_the_latest_and_calls_and_scores_carry_its_lineage(project):
    write_prompt(project, "answer", "v1", V1)
    write_prompt(project, "answer", "v2", V2)
    write_prompt(project, "answer-claude", "v1", CLAUDE)
    project.pytester.makepyfile(reporter=REPORTER, test_get="""
        import anthropic, openai, pytest
        from pytest_llmops.scores import record_score
        from reporter import report

        @pytest.mark.llm
        def test_pinned(llm_prompts, request):
            prompt = llm_prompts.get("answer", version="v1")
            openai.OpenAI().chat.completions.create(**prompt.call_kwargs("openai", question="How tall?"))
            report(request, prompt, record_score("correct", 1.0))

        @pytest.mark.llm
        def test_latest_and_two_prompts(llm_prompts, request):
            latest = llm_prompts.get("answer")
            claude = llm_prompts.get("answer-claude")
            openai.OpenAI().chat.completions.create(**latest.call_kwargs("openai", question="How tall?"))
            anthropic.Anthropic().messages.create(**claude.call_kwargs("anthropic", question="Where?"))
            report(request, claude, record_score("correct", 0.5))

        def test_registry_listing(llm_prompts):
            assert llm_prompts.names() == ["answer", "answer-claude"]
            assert llm_prompts.versions("answer") == ["v1", "v2"]
            assert "answer@v2" in llm_prompts and "answer@v3" not in llm_prompts
    """)
    project.run("--llm-live", "--llm-report", "live.jsonl", live=True).assert_outcomes(passed=3)
    first = seen(project)
    project.run("--llm-report", "replay.jsonl").assert_outcomes(passed=3)
    again = seen(project)
    v1, v2, claude = digest(project, "answer", "v1"), digest(project, "answer", "v2"), digest(project, "answer-claude", "v1")

    for run in (first, again):
        pinned, latest = run["test_get.py::test_pinned"], run["test_get.py::test_latest_and_two_prompts"]
        assert pinned["calls"] == [[{"prompt": "answer@v1", "prompt_digest": v1}, "gpt-4o-mini", None]]
        assert pinned["score"] == ["answer@v1", v1, "gpt-4o-mini"]
        assert latest["calls"] == [
            [{"prompt": "answer@v2", "prompt_digest": v2}, "gpt-4o-mini", None],
            [{"prompt": "answer-claude@v1", "prompt_digest": claude}, "claude-sonnet-5-5", None],
        ]
        assert latest["score"] == ["answer-claude@v1", claude, "claude-sonnet-5-5"]  # the prompt used last
    for name in ("live.jsonl", "replay.jsonl"):  # the per-call log
        calls = [json.loads(line) for line in (project.path / name).read_text().splitlines()]
        assert [(c["test"].split("::")[1], c["prompt"], c["prompt_digest"]) for c in calls] == [
            ("test_pinned", "answer@v1", v1),
            ("test_latest_and_two_prompts", "answer@v2", v2),
            ("test_latest_and_two_prompts", "answer-claude@v1", claude),
        ]


def test_prompts_the_application_loads_itself_still_give_lineage_and_get_locked(project):
    """The app builds its own PromptRegistry (no fixture): render()/call_kwargs() tell the test."""
    write_prompt(project, "answer", "v1", V1)
    project.pytester.makepyfile(app="""
        import pathlib, openai
        from pytest_llmops.prompts import PromptRegistry

        def ask(question):
            prompt = PromptRegistry(pathlib.Path(__file__).parent / "prompts").get("answer")
            return openai.OpenAI().chat.completions.create(**prompt.call_kwargs(question=question))
    """, test_app="""
        import pytest, app
        from pytest_llmops.context import current
        from pytest_llmops.scores import record_score

        @pytest.mark.llm
        def test_ask():
            app.ask("How tall?")
            assert current().exchanges[-1].prompt["prompt"] == "answer@v1"
            assert record_score("correct", 1.0).prompt == "answer@v1"
    """)
    project.run("--llm-live", "--llm-report", "calls.jsonl", live=True).assert_outcomes(passed=1)
    (record,) = report_lines(project, "calls.jsonl").values()
    assert (record["prompt"], record["prompt_digest"]) == ("answer@v1", digest(project, "answer", "v1"))
    assert lock(project)["prompts"]["answer"]["v1"]["digest"] == digest(project, "answer", "v1")


# -- @pytest.mark.llm_prompt -------------------------------------------------------------------------
def test_marker_runs_the_test_once_per_version_with_ids_cassettes_and_scores_per_version(answers):
    result = answers.run("--llm-live", "-v", live=True)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["test_ab.py::test_answer[[]answer@v1[]] PASSED*",
                                 "test_ab.py::test_answer[[]answer@v2[]] PASSED*"])
    assert answers.cassette("test_ab/test_answer[answer@v1].yaml").exists()
    assert answers.cassette("test_ab/test_answer[answer@v2].yaml").exists()
    sent = [r.json for r in answers.provider.requests[-2:]]
    assert [r["max_tokens"] for r in sent] == [100, 60] and sent[1]["messages"][0]["role"] == "system"
    live = seen(answers)
    answers.run().assert_outcomes(passed=2)  # replay, offline
    for run in (live, seen(answers)):
        for version in ("v1", "v2"):
            line = run[f"test_ab.py::test_answer[answer@{version}]"]
            lineage = {"prompt": f"answer@{version}", "prompt_digest": digest(answers, "answer", version)}
            assert line["prompt"] == f"answer@{version}"
            assert line["score"] == [f"answer@{version}", lineage["prompt_digest"], "gpt-4o-mini"]
            assert line["calls"] == [[lineage, "gpt-4o-mini", None]]


def test_marker_without_versions_uses_the_latest_and_scores_keep_it_over_other_prompts(project):
    write_prompt(project, "answer", "v1", V1)
    write_prompt(project, "answer", "v2", V2)
    write_prompt(project, "grader", "v1", CLAUDE)
    project.pytester.makepyfile(test_latest="""
        import pytest
        from pytest_llmops.context import current
        from pytest_llmops.scores import record_score

        @pytest.mark.llm_prompt("answer")
        def test_latest(llm_prompt, llm_prompts, request):
            assert request.node.name == "test_latest" and llm_prompt.ref == "answer@v2"
            llm_prompts.get("grader").render(question="graded?")  # e.g. a judge's own prompt
            assert current().active_prompt["prompt"] == "grader@v1"
            assert record_score("quality", 0.9).prompt == "answer@v2"  # the version under test
    """)
    project.run().assert_outcomes(passed=1)


def test_marker_mistakes_are_collection_errors_that_say_what_to_write(project):
    write_prompt(project, "answer", "v1", V1)
    project.pytester.makepyfile(test_kw="""
        import pytest

        @pytest.mark.llm_prompt("answer", version="v1")
        def test_one(llm_prompt):
            pass
    """, test_nofixture="""
        import pytest

        @pytest.mark.llm_prompt("answer", versions=["v1"])
        def test_two():
            pass
    """, test_noname="""
        import pytest

        @pytest.mark.llm_prompt(versions=["v1"])
        def test_three(llm_prompt):
            pass
    """)
    result = project.run()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([
        "test_kw.py::test_one: @pytest.mark.llm_prompt: unknown argument version='v1' (did you mean versions=[[]...[]]?)",
        ("test_nofixture.py::test_two: @pytest.mark.llm_prompt('answer') gives the test its prompt through the "
        "`llm_prompt` fixture, which the test does not take: add llm_prompt to its arguments."),
        ("test_noname.py::test_three: @pytest.mark.llm_prompt: give the prompt's name, "
        "e.g. @pytest.mark.llm_prompt(\"summarize\", versions=[[]\"v1\", \"v2\"[]])"),
    ])


def test_marker_with_an_unknown_version_errors_that_run_only(project):
    write_prompt(project, "answer", "v1", V1)
    write_prompt(project, "answer", "v2", V2)
    project.pytester.makepyfile(test_v="""
        import pytest

        @pytest.mark.llm_prompt("answer", versions=["v1", "v3"])
        def test_versions(llm_prompt):
            pass

        def test_without_marker(llm_prompt):
            pass
    """)
    result = project.run()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*_ ERROR at setup of test_versions[[]answer@v3[]] _*",
        "@pytest.mark.llm_prompt('answer'): prompt 'answer' has no version 'v3' in prompts/answer/",
        "  available versions: v1, v2 (latest)",
        "  Omit version= to get the latest, or add prompts/answer/v3.yaml.",
        "*_ ERROR at setup of test_without_marker _*",
        ("the llm_prompt fixture gives the prompt named by @pytest.mark.llm_prompt(\"name\", versions=[[]...[]]): "
        "mark the test, or take llm_prompts and call llm_prompts.get(name)."),
    ])
    assert "Traceback" not in result.stdout.str() and "During handling" not in result.stdout.str()
    assert sorted(lock(project)["prompts"]["answer"]) == ["v1"]  # only what was used


# -- the lock file -----------------------------------------------------------------------------------
def test_first_use_locks_at_the_end_of_the_session(answers):
    answers.pytester.makepyfile(test_lockfile="""
        import pathlib

        def test_not_written_while_tests_run(llm_prompts):
            llm_prompts.get("answer", version="v1")
            assert not pathlib.Path("prompts/prompts.lock").exists()
    """)
    result = answers.run("test_lockfile.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "llmops: locked new prompt version answer@v1 in prompts/prompts.lock; commit it with the prompt files"])
    entry = lock(answers)["prompts"]["answer"]
    assert list(entry) == ["v1"] and entry["v1"]["digest"] == digest(answers, "answer", "v1")
    assert entry["v1"]["config"]["params"] == {"temperature": 0, "max_tokens": 100}
    text = (answers.path / "prompts" / "prompts.lock").read_text()
    result = answers.run("--llm-live", "test_ab.py", live=True)  # v2 is new, v1 already locked
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["llmops: locked new prompt version answer@v2 in prompts/prompts.lock;*"])
    assert sorted(lock(answers)["prompts"]["answer"]) == ["v1", "v2"]
    assert (answers.path / "prompts" / "prompts.lock").read_text().startswith(text.split("prompts:")[0])
    before = (answers.path / "prompts" / "prompts.lock").stat().st_mtime_ns
    result = answers.run("test_ab.py")
    result.assert_outcomes(passed=2)
    assert "llmops: locked" not in result.stdout.str()
    assert (answers.path / "prompts" / "prompts.lock").stat().st_mtime_ns == before  # nothing new: untouched


def test_editing_a_locked_version_stops_the_session_with_the_diff(answers):
    answers.run("--llm-live", live=True).assert_outcomes(passed=2)
    lock_before = (answers.path / "prompts" / "prompts.lock").read_text()
    v1 = answers.path / "prompts" / "answer" / "v1.yaml"
    v1.write_text(V1.replace("temperature: 0,", "temperature: 0.2,") + "# comments do not count\n")
    answers.pytester.makepyfile(test_ran="""
        import pathlib

        def test_should_not_run():
            pathlib.Path("ran").write_text("yes")
    """)
    old, new = digest(answers, "answer", "v1"), yaml.safe_load(lock_before)["prompts"]["answer"]["v1"]["digest"]
    result = answers.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (answers.path / "ran").exists()
    result.stderr.fnmatch_lines([
        ("ERROR: pytest-llmops: 1 released prompt version was changed after it was locked in prompts/prompts.lock; "
        "no test was run."),
        "",
        "prompt answer@v1 was edited after it was locked (prompts/answer/v1.yaml).",
        "A released prompt version must not change: recorded scores and logs refer to it by digest.",
        f"  locked digest:  {new[:12]}  (prompts/prompts.lock)",
        f"  current digest: {old[:12]}",
        "--- prompts/prompts.lock (answer@v1, locked)",
        "+++ prompts/answer/v1.yaml (now)",
        "@@ *",
        "   max_tokens: 100",
        "-  temperature: 0",
        "+  temperature: 0.2",
        "*",
        "What to do:",
        ("  - to change the prompt, create a new version: copy prompts/answer/v1.yaml to prompts/answer/v3.yaml, "
        "make the edit there, and restore prompts/answer/v1.yaml (e.g. git checkout -- prompts/answer/v1.yaml); or"),
        "  - if this edit is intended and reviewed, re-lock: pytest --llm-lock-prompts",
    ])
    assert (answers.path / "prompts" / "prompts.lock").read_text() == lock_before  # nothing written

    # A comment or layout change alone is not an edit.
    v1.write_text("# reviewed\n" + V1)
    answers.run("test_ab.py").assert_outcomes(passed=2)

    # A deleted locked version also stops the session.
    v1.unlink()
    result = answers.run("test_ran.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "prompt answer@v1 is locked in prompts/prompts.lock but its file is gone (prompts/answer/v1.yaml).",
        "*restore the file*", "*re-lock: pytest --llm-lock-prompts"])


def test_llm_lock_prompts_accepts_the_reviewed_edit(answers):
    answers.run("--llm-live", live=True).assert_outcomes(passed=2)
    v2 = answers.path / "prompts" / "answer" / "v2.yaml"
    v2.write_text(V2.replace("one short sentence", "one short, plain sentence"))
    assert answers.run().ret == pytest.ExitCode.USAGE_ERROR
    answers.pytester.makepyfile(test_other="def test_no_prompt():\n    pass\n")
    result = answers.run("--llm-lock-prompts", "test_other.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([("llmops: --llm-lock-prompts: re-locked answer@v2 in prompts/prompts.lock; "
                                 "review its diff and commit it")])
    assert lock(answers)["prompts"]["answer"]["v2"]["digest"] == digest(answers, "answer", "v2")
    assert lock(answers)["prompts"]["answer"]["v2"]["config"]["system"] == "Answer in one short, plain sentence."
    answers.run("test_other.py").assert_outcomes(passed=1)  # the session starts again
    result = answers.run("--llm-lock-prompts", "test_other.py")
    result.stdout.fnmatch_lines(["llmops: --llm-lock-prompts: prompts/prompts.lock already matches every prompt version"])


def test_llm_lock_prompts_with_a_broken_file_changes_nothing(answers):
    answers.run("--llm-live", live=True).assert_outcomes(passed=2)
    before = (answers.path / "prompts" / "prompts.lock").read_text()
    write_prompt(answers, "answer", "v3", "model: gpt-4o-mini\nmessages: [{role: user, content: '{{ x'}]\n")
    result = answers.run("--llm-lock-prompts")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        ("ERROR: pytest-llmops: --llm-lock-prompts: cannot re-lock, a prompt file is broken; "
        "prompts/prompts.lock was not changed."),
        "prompts/answer/v3.yaml:2: template error in messages[[]0[]]: '{{' is not closed by '}}'*",
    ])
    assert (answers.path / "prompts" / "prompts.lock").read_text() == before


def test_ci_never_writes_the_lock_and_fails_on_unlocked_versions(answers, monkeypatch):
    answers.run("--llm-live", live=True).assert_outcomes(passed=2)  # records; locks v1 and v2
    (answers.path / "prompts" / "prompts.lock").unlink()
    monkeypatch.setenv("CI", "true")
    result = answers.run()
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        ("llmops: prompt versions answer@v1, answer@v2 are not in prompts/prompts.lock. Under CI=true the lock file "
        "is never written, so the session fails: run the tests on your machine (that locks new versions) and "
        "commit prompts/prompts.lock."),
    ])
    assert not (answers.path / "prompts" / "prompts.lock").exists()

    result = answers.run("--llm-lock-prompts")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: pytest-llmops: --llm-lock-prompts rewrites prompts/prompts.lock, which CI must not do (CI=true).",
        "Re-lock on your machine (pytest --llm-lock-prompts), review the lock file's diff and commit it.",
    ])
    assert not (answers.path / "prompts" / "prompts.lock").exists()

    monkeypatch.delenv("CI")
    answers.run().assert_outcomes(passed=2)  # locally: locks them
    monkeypatch.setenv("CI", "true")
    result = answers.run()
    assert result.ret == pytest.ExitCode.OK  # committed lock: CI passes
    assert "llmops: prompt version" not in result.stdout.str()


def test_xdist_controller_writes_one_lock_with_every_workers_versions(project):
    write_prompt(project, "answer", "v1", V1)
    write_prompt(project, "answer", "v2", V2)
    project.pytester.makepyfile(test_versions="""
        import pytest

        @pytest.mark.llm_prompt("answer", versions=["v1", "v2"])
        @pytest.mark.parametrize("n", range(4))
        def test_render(llm_prompt, n):
            llm_prompt.render(question=str(n))
    """)
    result = project.run("-n", "2")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["llmops: locked new prompt versions answer@v1, answer@v2 in prompts/prompts.lock;*"])
    assert sorted(lock(project)["prompts"]["answer"]) == ["v1", "v2"]
    (project.path / "prompts" / "answer" / "v1.yaml").write_text(V1.replace("100", "120"))
    result = project.run("-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["prompt answer@v1 was edited after it was locked (prompts/answer/v1.yaml)."])


# -- --llm-model OLD=NEW -------------------------------------------------------------------------------
def test_llm_model_substitution_is_on_the_prompt_the_wire_the_cassette_and_every_log_line(answers):
    answers.pytester.makepyfile(app="""
        import pathlib, openai
        from pytest_llmops.prompts import PromptRegistry

        def ask(question):  # the application's own registry: the transport rewrites its requests
            prompt = PromptRegistry(pathlib.Path(__file__).parent / "prompts").get("answer", "v1")
            return openai.OpenAI().chat.completions.create(**prompt.call_kwargs(question=question))
    """, test_app="""
        import pytest, app

        @pytest.mark.llm
        def test_app():
            app.ask("How tall?")
    """)
    args = ("--llm-model", "gpt-4o-mini=gpt-4.1-mini", "--llm-report", "calls.jsonl")
    sent = len(answers.provider.requests)
    result = answers.run("--llm-live", *args, live=True)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["llmops: model substitution gpt-4o-mini -> gpt-4.1-mini"])
    assert [r.json["model"] for r in answers.provider.requests[sent:]] == ["gpt-4.1-mini"] * 3
    for name in ("test_ab/test_answer[answer@v1].yaml", "test_ab/test_answer[answer@v2].yaml", "test_app/test_app.yaml"):
        (interaction,) = yaml.safe_load(answers.cassette(name).read_text())["interactions"]
        assert json.loads(interaction["request"]["body"])["model"] == "gpt-4.1-mini", name
    for line in seen(answers).values():
        assert (line["model"], line["original_model"]) == ("gpt-4.1-mini", "gpt-4o-mini")
        assert line["substitution"] == "gpt-4o-mini -> gpt-4.1-mini"
        assert line["calls"][0][1:] == ["gpt-4.1-mini", ["gpt-4o-mini", "gpt-4.1-mini"]]
        assert line["score"][2] == "gpt-4.1-mini"
    calls = report_lines(answers, "calls.jsonl")
    assert len(calls) == 3
    for record in calls.values():
        assert (record["model"], record["model_substituted_from"]) == ("gpt-4.1-mini", "gpt-4o-mini")
        assert record["prompt"] in ("answer@v1", "answer@v2")
    assert calls["test_app.py::test_app"]["prompt_digest"] == digest(answers, "answer", "v1")
    # the version, its digest and the lock do not change: the file did not
    assert lock(answers)["prompts"]["answer"]["v1"]["config"]["model"] == "gpt-4o-mini"
    answers.run(*args).assert_outcomes(passed=3)  # replays the upgrade check's cassettes


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_prompt_files_and_names_fail_the_test_that_uses_them_with_the_message(project):
    write_prompt(project, "summarize", "v1", V1)
    write_prompt(project, "broken", "v1", "model: gpt-4o-mini\nmessages:\n  - role: user\n   content: hi\n")
    write_prompt(project, "template", "v1", 'model: m\nmessages:\n  - role: user\n    content: "Hi {{ user.name }}"\n')
    write_prompt(project, "twice", "v2", "model: m\nmessages: [{role: user, content: a}]\n")
    (project.path / "prompts" / "twice" / "v2.yml").write_text("model: m\nmessages: [{role: user, content: b}]\n")
    project.pytester.makepyfile(test_bad="""
        def test_unknown_name(llm_prompts):
            llm_prompts.get("sumarize")

        def test_unknown_version(llm_prompts):
            llm_prompts.get("summarize", version="v2")

        def test_malformed(llm_prompts):
            llm_prompts.get("broken")

        def test_template(llm_prompts):
            llm_prompts.get("template")

        def test_two_files(llm_prompts):
            llm_prompts.get("twice", version="v2")

        def test_other_versions_still_load(llm_prompts):
            llm_prompts.get("summarize", version="v1").render(question="?")
    """)
    result = project.run()
    result.assert_outcomes(failed=5, passed=1)
    result.stdout.fnmatch_lines([
        '>       llm_prompts.get("sumarize")',
        "E       pytest_llmops.prompts.PromptNotFoundError: no prompt named 'sumarize' in prompts/",
        "E         did you mean: summarize?",
        "E         available prompts: broken, summarize, template, twice",
        "E         A prompt version is a file prompts/<name>/<version>.yaml.",
        "",
        "test_bad.py:2: PromptNotFoundError",
        "E       pytest_llmops.prompts.PromptNotFoundError: prompt 'summarize' has no version 'v2' in prompts/summarize/",
        "E         available versions: v1 (latest)",
        "E         Omit version= to get the latest, or add prompts/summarize/v2.yaml.",
        ("E       pytest_llmops.prompts.PromptFileError: prompts/broken/v1.yaml:4:4: malformed YAML in the prompt file: "
        "did not find expected '-' indicator (while parsing a block collection that starts at line 3)."),
        "E         Fix the YAML syntax at line 4 (check indentation, quotes and colons).",
        ("E       pytest_llmops.prompts.PromptTemplateError: prompts/template/v1.yaml:4: template error in messages[[]0[]]: "
        "'{{ user.name }}' (line 1 of the text) is not a variable: write {{ name }} with a plain name (letters, digits, _)."),
        ("E       pytest_llmops.prompts.DuplicatePromptError: two files define prompt twice@v2: prompts/twice/v2.yaml and "
        "prompts/twice/v2.yml (both are named after the version)."),
        "E         Each version is exactly one file: delete or rename one of them.",
    ])
    out = result.stdout.str()
    assert "prompts.py" not in out and "prompt_session.py" not in out  # only the test's own frame
    assert sorted(lock(project)["prompts"]) == ["summarize"]  # the broken ones were not locked


def test_a_version_claiming_another_versions_name_is_reported_with_both_files(project):
    write_prompt(project, "twice", "v2", "model: m\nmessages: [{role: user, content: a}]\n")
    write_prompt(project, "twice", "v3", "version: v2\nmodel: m\nmessages: [{role: user, content: c}]\n")
    project.pytester.makepyfile(test_claim="""
        def test_claim(llm_prompts):
            llm_prompts.get("twice")
    """)
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ("E       pytest_llmops.prompts.DuplicatePromptError: two files define prompt twice@v2: prompts/twice/v2.yaml and "
        "prompts/twice/v3.yaml (prompts/twice/v3.yaml says `version: v2`)."),
    ])
    assert not (project.path / "prompts" / "prompts.lock").exists()  # nothing written


def test_a_locked_version_made_unreadable_fails_where_it_is_used_not_the_session(answers):
    answers.run("--llm-live", live=True).assert_outcomes(passed=2)
    (answers.path / "prompts" / "answer" / "v1.yaml").write_text("model: [gpt-4o-mini\n")
    result = answers.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "@pytest.mark.llm_prompt('answer'): prompts/answer/v1.yaml:2:1: malformed YAML in the prompt file: *"])


def test_a_malformed_lock_file_stops_the_session(answers):
    (answers.path / "prompts" / "prompts.lock").write_text("lock_format: 1\nprompts: [oops\n")
    result = answers.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: pytest-llmops: cannot read the prompt lock file.",
        "prompts/prompts.lock:3:1: malformed YAML in the prompt lock file: *",
    ])


def test_sessions_without_prompts_write_nothing(project):
    project.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = project.run()
    result.assert_outcomes(passed=1)
    assert not (project.path / "prompts").exists()
    assert "llmops: locked" not in result.stdout.str()


def test_marker_is_registered_with_help(project):
    result = project.run("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.llm_prompt(name, versions=None): the test runs once per listed version*"])


def test_the_committed_example_lock_holds_every_example_version_unedited():
    """examples/prompts/prompts.lock is committed: it must hold every example version, unedited."""
    from pathlib import Path

    from pytest_llmops.prompts import PromptRegistry

    registry = PromptRegistry(Path(__file__).parent.parent / "examples" / "prompts")
    assert registry.check_lock() == []
    locked = yaml.safe_load(registry.lock_path.read_text())["prompts"]
    assert {f"{n}@{v}" for n, versions in locked.items() for v in versions} == {p.ref for p in registry}


# -- marker arguments (pure) -------------------------------------------------------------------------
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6))
def test_marker_versions_keep_their_order_once_each(versions):
    name, parsed = marker_args(("answer",), {"versions": versions})
    assert name == "answer"
    assert parsed == list(dict.fromkeys(versions))
    assert marker_args((), {"name": "answer", "versions": versions[0]}) == ("answer", [versions[0]])


@given(st.one_of(st.just([]), st.just(""), st.integers(), st.lists(st.one_of(st.none(), st.just(""), st.integers()),
                                                                   min_size=1)))
def test_marker_rejects_versions_that_are_not_names(versions):
    with pytest.raises(ValueError, match=r"^versions must be a non-empty list of version names like"):
        marker_args(("answer",), {"versions": versions})
