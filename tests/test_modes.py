"""Which runs go live: --llm-live, --llm-live=new, CI=true, keys, shared cassettes."""

from __future__ import annotations

import pytest

TWO_TESTS = """
import openai, pytest

@pytest.mark.llm
def test_one():
    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one"}])

@pytest.mark.llm
def test_two():
    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}])
"""


def test_ci_true_ignores_llm_live_from_addopts(project, monkeypatch):
    project.pytester.makepyfile(test_app=TWO_TESTS)
    project.pytester.makeini("[pytest]\naddopts = --llm-live\nasyncio_default_fixture_loop_scope = function\n")
    project.live_env()
    monkeypatch.setenv("CI", "true")
    sent = len(project.provider.requests)
    result = project.run(live=None)
    result.assert_outcomes(failed=2)  # replay: no cassettes, and no call went out
    assert len(project.provider.requests) == sent
    result.stdout.fnmatch_lines([
        "llmops: replay (offline)* (CI=true: replay only)",
        "llmops: --llm-live from addopts ignored because CI=true; pass it on the command line",
    ])


def test_ci_true_with_llm_live_typed_on_the_command_line_records(project, monkeypatch):
    project.pytester.makepyfile(test_app=TWO_TESTS)
    project.live_env()
    monkeypatch.setenv("CI", "true")
    project.run("--llm-live", live=None).assert_outcomes(passed=2)
    assert project.cassette("test_app/test_one.yaml").exists()


def test_ci_true_without_llm_live_replays_even_with_keys_set(project, monkeypatch):
    project.pytester.makepyfile(test_app=TWO_TESTS)
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    project.live_env()  # keys and a reachable server: still replay
    monkeypatch.setenv("CI", "true")
    sent = len(project.provider.requests)
    project.run(live=None).assert_outcomes(passed=2)
    assert len(project.provider.requests) == sent


@pytest.mark.parametrize(
    ("variable", "call"),
    [
        ("OPENAI_API_KEY", 'openai.OpenAI().chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])'),
        ("ANTHROPIC_API_KEY", 'anthropic.Anthropic().messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])'),
    ],
)
def test_live_without_a_key_fails_fast_naming_the_variable(project, monkeypatch, variable, call):
    project.pytester.makepyfile(
        test_app=f"""
        import anthropic, openai, pytest

        @pytest.mark.llm
        def test_call():
            {call}
        """
    )
    project.live_env()
    monkeypatch.delenv(variable)
    sent = len(project.provider.requests)
    result = project.run("--llm-live", live=None)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*Set {variable} in the environment, or run without --llm-live*"])
    assert len(project.provider.requests) == sent, "nothing was sent"


def test_live_new_records_only_tests_without_a_cassette(project):
    project.pytester.makepyfile(test_app=TWO_TESTS)
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    project.cassette("test_app/test_two.yaml").unlink()
    before = project.cassette("test_app/test_one.yaml").stat().st_mtime_ns
    sent = len(project.provider.requests)
    project.run("--llm-live=new", live=True).assert_outcomes(passed=2)
    assert len(project.provider.requests) == sent + 1, "only test_two called the provider"
    assert project.cassette("test_app/test_two.yaml").exists()
    assert project.cassette("test_app/test_one.yaml").stat().st_mtime_ns == before


def test_llm_live_followed_by_a_path_keeps_the_path(project):
    """``pytest --llm-live test_app.py``: the optional value must not swallow the path."""
    project.pytester.makepyfile(test_app=TWO_TESTS, test_other="def test_other(): pass")
    result = project.run("--llm-live", "test_app.py", live=True)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["llmops: live: re-recording*"])


def test_shared_cassette_named_in_the_marker(project):
    project.pytester.makepyfile(
        test_app="""
        import openai, pytest

        @pytest.mark.llm(cassette="shared")
        def test_one():
            openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one"}])

        @pytest.mark.llm(cassette="shared")
        def test_two(llm_cassette):
            openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}])
            assert llm_cassette.path.name == "shared.yaml"
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    assert len(project.cassette("shared.yaml").read_text().split("- request:")) == 3
    project.run().assert_outcomes(passed=2)
    # re-recording one test keeps what the other recorded
    project.run("--llm-live", "-k", "test_one", live=True).assert_outcomes(passed=1, deselected=1)
    project.run().assert_outcomes(passed=2)


def test_xdist_workers_recording_one_shared_cassette_lose_nothing(project):
    """facts.md: two workers appending to one vcrpy cassette lost 37 of 40 interactions."""
    project.pytester.makepyfile(
        test_app="""
        import openai, pytest

        @pytest.mark.llm(cassette="shared")
        @pytest.mark.parametrize("n", range(20))
        def test_call(n):
            openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{n}"}])
        """
    )
    project.run("--llm-live", "-n", "2", live=True).assert_outcomes(passed=20)
    assert project.cassette("shared.yaml").read_text().count("- request:") == 20
    project.run("-n", "2").assert_outcomes(passed=20)


def test_a_live_test_without_provider_calls_writes_no_empty_cassette(project):
    project.pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.llm
        def test_nothing_to_record():
            pass
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    assert not project.cassette("test_app").exists()
    project.run().assert_outcomes(passed=1)
