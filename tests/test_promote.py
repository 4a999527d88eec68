"""promote: captured production calls become cassettes and parametrized tests that pass offline at once,
fail when the answer moves, and never carry a secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anthropic
import openai

import pytest_llmops
from pytest_llmops.answers import similarity
from pytest_llmops.capture import CAPTURE_FORMAT
from pytest_llmops.cli import main
from pytest_llmops.loopback import Reply

POLICY = "Returns are accepted within 30 days of delivery. Refunds are paid within 5 working days."
QUESTION = "How many days do I have to return a bike?"


def app_calls(provider, folder: Path) -> None:
    """A small app answering three questions with both SDKs (one streamed), captured whole."""
    client = openai.OpenAI(api_key="sk-proj-promoteapikey0123456789", base_url=provider.openai_base_url)
    claude = anthropic.Anthropic(api_key="sk-ant-api03-promotekey0123456789", base_url=provider.anthropic_base_url)
    with pytest_llmops.capture(folder, sample=1.0):
        with pytest_llmops.capture.tag(question=QUESTION):
            client.chat.completions.create(model="gpt-4o-mini", temperature=0.2, messages=[
                {"role": "system", "content": POLICY}, {"role": "user", "content": f"Question: {QUESTION}"}])
        list(client.chat.completions.create(model="gpt-4o-mini", stream=True, messages=[
            {"role": "system", "content": POLICY}, {"role": "user", "content": "Question: When are refunds paid?"}]))
        claude.messages.create(model="claude-haiku-4-5", max_tokens=100, system=POLICY,
                               messages=[{"role": "user", "content": "Question: Can I return a bike after 30 days?"}])


def promote(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["promote", *args])
    out = capsys.readouterr()
    return code, (out.out + out.err).splitlines()


def case_ids(folder: Path) -> list[str]:
    return sorted(p.name.removesuffix(".case.json") for p in folder.glob("*.case.json"))


def test_promoted_cases_pass_offline_at_once_and_fail_when_the_answer_moves(project, provider, capsys, monkeypatch):
    captures = project.path / "captures"
    app_calls(provider, captures)
    monkeypatch.chdir(project.path)
    code, lines = promote(capsys, "captures", "--all", "--to", "tests/llm")
    assert code == 0, lines
    ids = case_ids(project.path / "tests/llm/cases")
    assert len(ids) == 3 and lines[0] == "captures: 1 file(s), 3 record(s)"
    assert lines[1] == "promoted 3 case(s) to tests/llm/cases/:"
    assert lines[-3:] == [("wrote tests/llm/test_promoted.py (the generated test: edit it freely, promote never "
                          "overwrites it)"),
                          "run them offline:        pytest tests/llm",
                          "accept them as baseline: pytest tests/llm --llm-update-baseline"]
    chat = next(i for i in ids if i.startswith("chat-") and json.loads(
        (project.path / f"tests/llm/cases/{i}.case.json").read_text())["source"]["tags"])
    case = json.loads((project.path / f"tests/llm/cases/{chat}.case.json").read_text())
    assert case["reference"]["text"] == "Returns are accepted within 30 days of delivery."
    assert case["source"]["tags"] == {"question": QUESTION}
    assert case["source"]["file"].startswith("captures/capture-")
    assert case["request"]["temperature"] == 0.2

    result = project.run("tests/llm")  # replay: no key, dead base URLs
    result.assert_outcomes(passed=3)

    # the provider now answers differently: a live run re-records and the moved answer fails
    changed = "You can return a bike within 14 days if it is unused."
    monkeypatch.setattr(provider, "reply", lambda request, kind: Reply(text=changed)
                        if QUESTION in json.dumps(request.json) else None)
    result = project.run("tests/llm", "--llm-live", live=True)
    result.assert_outcomes(passed=2, failed=1)
    score = similarity(changed, case["reference"]["text"])
    result.stdout.fnmatch_lines([
        (f"E   *PromotedCaseError: promoted case {chat} (captured {case['source']['captured_at']}, from "
        f"{case['source']['file']}:1):"),
        f"E         the answer moved: reference_similarity {score:g} < min_similarity 0.8 (set in {chat}.case.json)",
        f"E         asked:     {QUESTION}",
        "E         reference (gpt-4o-mini): Returns are accepted within 30 days of delivery.",
        f"E         this run  (gpt-4o-mini): {changed}",
        "E         diff:",
        "E           --- reference",
        "E           +++ this run",
    ])
    # the live run re-recorded the cassette: offline, the moved answer keeps failing
    project.run("tests/llm").assert_outcomes(passed=2, failed=1)


def test_the_app_hook_runs_the_users_code_instead_of_resending(project, provider, capsys, monkeypatch):
    app_calls(provider, project.path / "captures")
    monkeypatch.chdir(project.path)
    assert promote(capsys, "captures", "--where", "tag.question=How many*", "--to", "tests/llm")[0] == 0
    project.pytester.makeconftest('''
import openai
import pytest

POLICY = "Returns are accepted within 30 days of delivery. Refunds are paid within 5 working days."
ASKED = []


def my_app(question):
    ASKED.append(question)
    reply = openai.OpenAI().chat.completions.create(model="gpt-4o-mini", temperature=0.2, messages=[
        {"role": "system", "content": POLICY}, {"role": "user", "content": f"Question: {question}"}])
    return reply.choices[0].message.content


@pytest.fixture
def llm_promoted_app():
    return lambda case: my_app(case.tags["question"])


def pytest_sessionfinish(session):
    print(f"\\napp asked: {ASKED}")
''')
    result = project.run("tests/llm", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"app asked: ['{QUESTION}']"])


def test_promotion_scrubs_again_and_refuses_what_it_cannot_clean(project, capsys, monkeypatch):
    secret = "sk-proj-LEAKEDLEAKEDLEAKED0123456789"
    org = "org-leakedorganisation42"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my key is {secret}"}],
            "metadata": {"api_key": "hunter2-password"}}
    answer = {"id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Noted, {org}."},
                           "finish_reason": "stop"}]}
    record = {"format": CAPTURE_FORMAT, "version": 1, "ts": "2026-11-20T09:00:00.000Z",
              "sdk": {"package": "openai", "version": "3.57.0"}, "tags": {},
              "interaction": {"request": {"method": "POST", "uri": "https://api.openai.com/v1/chat/completions",
                                          "headers": {"content-type": ["application/json"],
                                                      "authorization": [f"Bearer {secret}"]},
                                          "body": json.dumps(body)},
                              "response": {"status": {"code": 200, "message": "OK"},
                                           "headers": {"content-type": ["application/json"],
                                                       "openai-organization": [org]},
                                           "body": {"string": json.dumps(answer)}}}}
    (project.path / "old-capture.jsonl").write_text(json.dumps(record) + "\n")
    monkeypatch.chdir(project.path)
    code, lines = promote(capsys, "old-capture.jsonl", "--pick", "1", "--to", "tests/llm")
    assert code == 0, lines
    assert lines[3] == "    scrubbed again before promotion: secrets removed from the request headers, request body, " \
                       "response headers, response body"
    written = "".join(p.read_text() for p in (project.path / "tests/llm/cases").iterdir())
    assert secret not in written and org not in written and "hunter2" not in written
    assert written.count("REDACTED") >= 4
    project.run("tests/llm").assert_outcomes(passed=1)


def test_bad_captures_are_named_and_the_good_records_still_promoted(project, provider, capsys, monkeypatch):
    captures = project.path / "captures"
    app_calls(provider, captures)
    [path] = captures.glob("capture-*.jsonl")
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    unknown_sdk = {**json.loads(lines[1]), "sdk": {"package": "openai", "version": "banana"}}
    no_sdk = {**json.loads(lines[2]), "sdk": {}}
    newer = {**first, "version": 2}
    path.write_text("\n".join([lines[0], json.dumps(unknown_sdk), json.dumps(no_sdk), json.dumps(newer),
                               lines[1][:200]]))
    monkeypatch.chdir(project.path)
    name = f"captures/{path.name}"
    code, out = promote(capsys, "captures", "--all", "--to", "tests/llm")
    assert code == 0, out
    installed = openai.__version__
    assert out[0] == "captures: 1 file(s), 3 record(s), 2 unreadable part(s) (listed below; the rest was read)"
    assert out[1:4] == ["unreadable (skipped, nothing else lost):",
                        (f"  {name}:4: written by a newer pytest-llmops (capture format version 2; this version reads "
                        f"1); upgrade pytest-llmops to read it (pip install -U pytest-llmops); skipped"),
                        f"  {name}:5: truncated record (the process stopped while writing it); skipped"]
    assert f"note: record #2: unknown openai SDK version 'banana' in the capture; promoted anyway (the test re-sends " \
           f"it through the installed openai {installed})." in out
    assert f"note: record #3: the capture does not say which anthropic SDK version sent it; promoted anyway. If its " \
           f"test fails with a cassette miss, the installed SDK (anthropic {anthropic.__version__}) sends the request " \
           f"differently: re-record it with pytest --llm-live." in out
    assert len(case_ids(project.path / "tests/llm/cases")) == 3
    project.run("tests/llm").assert_outcomes(passed=3)
    # promoting the same records again changes nothing
    code, again = promote(capsys, "captures", "--all", "--to", "tests/llm")
    assert code == 0 and sum("already promoted" in line for line in again) == 3


def test_choosing_what_to_promote(project, provider, capsys, monkeypatch):
    app_calls(provider, project.path / "captures")
    monkeypatch.chdir(project.path)
    code, lines = promote(capsys, "captures", "--list")
    assert code == 0
    assert lines[1].split() == ["#", "captured", "(UTC)", "provider", "model", "call", "status", "sdk", "asked"]
    assert lines[2].split()[3:7] == ["openai", "gpt-4o-mini", "chat.completions.create", "200"]
    assert lines[2].endswith(QUESTION)
    assert lines[3].split()[3:8] == ["openai", "gpt-4o-mini", "chat.completions.create", "(stream)", "200"]
    assert lines[4].split()[3:7] == ["anthropic", "claude-haiku-4-5", "messages.create", "200"]

    assert promote(capsys, "captures", "--to", "tests/llm")[1][-1] == (
        "error: choose the records to promote: --pick 3,7, --where model=gpt-4o-mini, or --all "
        "(--list shows them numbered)")
    code, lines = promote(capsys, "captures", "--pick", "2,9", "--to", "tests/llm")
    assert code == 2 and lines[-2:] == ["error: --pick: no record number 9 (there are 3; see --list)",
                                        "nothing was promoted."]
    assert not (project.path / "tests/llm").exists()
    assert promote(capsys, "captures", "--pick", "2", "--to", "tests/llm")[0] == 0
    code, lines = promote(capsys, "captures", "--where", "provider=anthropic", "--to", "tests/llm")
    assert code == 0 and [i.split("-")[0] for i in case_ids(project.path / "tests/llm/cases")] == ["chat", "messages"]
    code, lines = promote(capsys, "captures", "--where", "colour=red", "--to", "tests/llm")
    assert code == 2 and lines[-2:] == [("error: --where: unknown field 'colour' (fields: date, endpoint, file, model, "
                                        "provider, sdk, sdk_version, status, stream, tag.<name>)"), "nothing was promoted."]
    code, lines = promote(capsys, "captures", "--pick", "1", "--cassette", "cassettes/from-prod.yaml")
    assert code == 0 and lines[-1] == "wrote cassettes/from-prod.yaml (1 interaction(s), scrubbed again)"
    assert "sk-proj-promoteapikey" not in (project.path / "cassettes/from-prod.yaml").read_text()
    assert os.path.exists(project.path / "cassettes/from-prod.yaml")
