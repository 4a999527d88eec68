"""What a user sees when replay cannot answer, or a cassette is broken: messages are part of the API."""

from __future__ import annotations

import textwrap

ASK = """
import openai, os, pytest

@pytest.mark.llm
def test_ask():
    client = openai.OpenAI()
    reply = client.chat.completions.create(
        model="gpt-4o-mini", temperature=0,
        messages=[{{"role": "system", "content": "Be brief."}}, {{"role": "user", "content": {question!r}}}])
    assert reply.choices[0].message.content
"""


def record(project, question="What is the capital of France?"):
    project.pytester.makepyfile(test_app=ASK.format(question=question))
    project.run("--llm-live", live=True).assert_outcomes(passed=1)


def test_changed_prompt_fails_with_nearest_recorded_request_and_diff(project):
    record(project)
    project.pytester.makepyfile(test_app=ASK.format(question="What is the capital of Spain?"))
    result = project.run()
    result.assert_outcomes(failed=1)
    expected = textwrap.dedent(
        """\
        E       pytest_llmops.errors.CassetteMiss: pytest-llmops: no recorded response for this request (replay mode).
        E       cassette: cassettes/test_app/test_ask.yaml
        E       request sent:      POST /v1/chat/completions
        E       closest recorded:  POST /v1/chat/completions  (interaction #1 of 1)
        E       how they differ (recorded -> sent):
        E         body['messages'][1]['content']: recorded 'What is the capital of France?', sent 'What is the capital of Spain?'
        E       If the change is intended, re-record:  pytest --llm-live 'test_app.py::test_ask'
        """
    )
    assert expected in result.stdout.str()
    # the user's frame is shown, not the SDK's internals
    assert "_base_client.py" not in result.stdout.str()


def test_no_recorded_response_is_never_answered_with_another_one(project):
    """A new question must not be answered with the old recording (vcrpy's method+URL default does)."""
    record(project)
    project.pytester.makepyfile(test_app=ASK.format(question="Something else entirely?"))
    project.run().assert_outcomes(failed=1)


def test_missing_cassette_says_which_command_records_it(project):
    project.pytester.makepyfile(test_app=ASK.format(question="q"))
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*no cassette at cassettes/test_app/test_ask.yaml for this test.",
        "*Record it with:  pytest --llm-live 'test_app.py::test_ask'",
    ])


def test_a_miss_caught_by_the_app_is_reported_at_teardown(project):
    project.pytester.makepyfile(
        test_app="""
        import openai, pytest

        def ask(client, question):
            try:
                return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
            except openai.OpenAIError:
                return None  # the app's fallback swallows every SDK error

        @pytest.mark.llm
        def test_ask():
            client = openai.OpenAI()
            ask(client, "recorded question")
            ask(client, "QUESTION" if not client.api_key.startswith("loopback") else "recorded question")
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(passed=1)
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    assert "a request had no recorded response, and the code under test caught the error:" in out
    assert "body['messages'][0]['content']: recorded 'recorded question', sent 'QUESTION'" in out


def test_the_miss_is_not_retried_by_the_sdk(project):
    """The SDKs retry transport errors (sleeping); ours must reach the test on the first attempt."""
    record(project)
    project.pytester.makeconftest(
        """
        import time, pytest

        @pytest.fixture(autouse=True)
        def no_sleep(monkeypatch):
            def forbidden(seconds):
                raise AssertionError(f"slept {seconds}")
            monkeypatch.setattr(time, "sleep", forbidden)
        """
    )
    project.pytester.makepyfile(test_app=ASK.format(question="changed"))
    result = project.run()
    result.assert_outcomes(failed=1)
    assert "slept" not in result.stdout.str()
    assert "Connection error" not in result.stdout.str()


def test_corrupt_cassette_names_file_and_line(project):
    record(project)
    path = project.cassette("test_app/test_ask.yaml")
    lines = path.read_text().splitlines()
    lines[5] = "    headers: [unclosed"
    path.write_text("\n".join(lines))
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cassette *cassettes/test_app/test_ask.yaml:* is not valid YAML*"])


def test_file_that_is_not_a_cassette(project):
    record(project)
    project.cassette("test_app/test_ask.yaml").write_text("just: some\nother: yaml\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_ask.yaml is not a cassette: expected a mapping with an 'interactions' list*"])


def test_a_test_that_fails_mid_recording_leaves_the_old_cassette(project):
    record(project)
    path = project.cassette("test_app/test_ask.yaml")
    before = path.read_bytes()
    project.pytester.makepyfile(
        test_app="""
        import openai, pytest

        @pytest.mark.llm
        def test_ask():
            client = openai.OpenAI()
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "first"}])
            raise RuntimeError("app crashed between two calls")
        """
    )
    result = project.run("--llm-live", live=True)
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*its recording was not written (1 call(s) discarded)*test_ask.yaml is unchanged*"])
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.tmp")), "no temporary file left behind"


def test_a_test_that_fails_an_assertion_still_saves_its_recording(project):
    """A failed assertion is a finding about the answer; the recording that shows it is kept."""
    project.pytester.makepyfile(
        test_app="""
        import openai, pytest

        @pytest.mark.llm
        def test_ask():
            client = openai.OpenAI()
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "something else"
        """
    )
    project.run("--llm-live", live=True).assert_outcomes(failed=1)
    assert project.cassette("test_app/test_ask.yaml").exists()
    project.run().assert_outcomes(failed=1)  # replays the same answer: same finding, offline
