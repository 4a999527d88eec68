"""``python -m pytest_llmops audit``: every planted secret is found, ``--fix`` removes them all without
breaking replay, ``--convert`` rewrites into the plugin's format, and the last run's unused cassettes show."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmops import formats
from pytest_llmops.audit import USED_CASSETTES_KEY, audit_paths, is_placeholder
from pytest_llmops.audit import _human as human
from pytest_llmops.cassette import Cassette, load_cassette
from pytest_llmops.cli import COMMANDS, main

CORPUS = Path(__file__).parents[2] / "shared" / "data" / "cassettes"
CHAT = "https://api.openai.com/v1/chat/completions"


# -- cassettes with planted secrets ----------------------------------------------------------------
def _answer(text: str) -> str:
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})


def _interaction(n: int, plant: dict[str, str]) -> dict[str, Any]:
    """A chat completion with the secrets of ``plant`` in the places its keys name."""
    request_headers = {"Content-Type": ["application/json"], "User-Agent": ["OpenAI/Python 1.26.0"]}
    response_headers = {"Content-Type": ["application/json"], "openai-processing-ms": ["120"],
                        "x-ratelimit-remaining-tokens": ["149999"]}
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {n}"}]}
    uri = CHAT
    answer = f"answer {n}"
    for place, value in plant.items():
        if place == "authorization":
            request_headers["Authorization"] = [f"Bearer {value}"]
        elif place == "x-api-key":
            request_headers["X-Api-Key"] = [value]
        elif place == "cookie":
            request_headers["Cookie"] = [f"__cf_bm={value}; _cfuvid=abc"]
        elif place == "request-org":
            request_headers["OpenAI-Organization"] = [value]
        elif place == "set-cookie":
            response_headers["Set-Cookie"] = [f"__cf_bm={value}; path=/; HttpOnly"]
        elif place == "response-org":
            response_headers.setdefault("openai-organization", []).append(value)
        elif place == "response-project":
            response_headers["openai-project"] = [value]
        elif place == "anthropic-org":
            response_headers["anthropic-organization-id"] = [value]
        elif place == "query":
            uri = f"{CHAT}?api_key={value}"
        elif place == "body-field":
            body["metadata"] = {"api_key": value}
        elif place == "body-key-shape":
            body["messages"][0]["content"] += f" my key is {value}"
        elif place == "org-in-answer":
            response_headers.setdefault("openai-organization", []).append(value)
            answer += f" (organisation {value})"
    return {
        "request": {"method": "POST", "uri": uri, "headers": request_headers, "body": json.dumps(body)},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": response_headers,
                     "body": {"string": _answer(answer)}},
    }


def _write(path: Path, layout: str, interactions: list[dict[str, Any]]) -> Path:
    """Write a cassette in one of the layouts real recorders use."""
    data: dict[str, Any] = {"interactions": interactions, "version": 1}
    if layout == "binary-gzip":
        for i in interactions:
            i["response"]["body"]["string"] = gzip.compress(i["response"]["body"]["string"].encode(), mtime=0)
            i["response"]["headers"]["Content-Encoding"] = ["gzip"]
    elif layout == "pydantic-ai":
        for i in interactions:
            i["request"]["parsed_body"] = json.loads(i["request"].pop("body"))
            i["response"]["parsed_body"] = json.loads(i["response"].pop("body")["string"])
    elif layout == "httpx-legacy":
        for i in interactions:
            r = i["response"]
            i["response"] = {"status_code": 200, "http_version": "HTTP/1.1", "headers": r["headers"],
                             "content": r["body"]["string"]}
    if layout == "json":
        path = path.with_suffix(".json")
        path.write_text(json.dumps(data, indent=2))
    elif layout == "gzip-file":
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(yaml.safe_dump(data).encode()))
    else:
        path.write_text(yaml.safe_dump(data, width=120))
    return path


PLACES = ["authorization", "x-api-key", "cookie", "request-org", "set-cookie", "response-org", "response-project",
          "anthropic-org", "query", "body-field", "body-key-shape", "org-in-answer"]
LAYOUTS = ["canonical", "binary-gzip", "pydantic-ai", "httpx-legacy", "json", "gzip-file"]
token = st.from_regex(r"[A-Za-z0-9]{20,32}", fullmatch=True).filter(lambda s: not is_placeholder(s))


def _secret(place: str, draw_token: str) -> str:
    prefix = {"authorization": "sk-proj-", "x-api-key": "sk-ant-api03-", "request-org": "org-",
              "response-org": "org-", "org-in-answer": "org-", "response-project": "proj_",
              "body-key-shape": "sk-proj-", "anthropic-org": ""}.get(place, "")
    return prefix + draw_token


@st.composite
def corpora(draw: Any) -> list[tuple[str, list[dict[str, str]]]]:
    """Files: (layout, [secrets of each interaction: place -> value])."""
    files = []
    for _ in range(draw(st.integers(1, 4))):
        layout = draw(st.sampled_from(LAYOUTS))
        interactions = []
        for _ in range(draw(st.integers(1, 3))):
            places = draw(st.lists(st.sampled_from(PLACES), max_size=4, unique=True))
            interactions.append({p: _secret(p, draw(token)) for p in places})
        files.append((layout, interactions))
    return files


def _plain_text(path: Path) -> str:
    """Everything in the file, decompressed, as text (to check no secret is left anywhere)."""
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    text = raw.decode()
    for interaction in formats.load(path).interactions:
        text += json.dumps(interaction, default=lambda b: b.decode("utf-8", "replace"))
    return text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(corpus=corpora())
def test_audit_finds_every_planted_secret_and_fix_removes_them_without_breaking_replay(tmp_path_factory, corpus):
    folder = tmp_path_factory.mktemp("corpus")
    planted: dict[Path, set[str]] = {}
    requests: dict[Path, list[dict[str, Any]]] = {}
    for n, (layout, plants) in enumerate(corpus):
        interactions = [_interaction(i, plant) for i, plant in enumerate(plants)]
        sent = [json.loads(json.dumps(i["request"])) for i in interactions]  # what the app sends
        path = _write(folder / f"c{n}.yaml", layout, interactions)
        planted[path.resolve()] = {v for plant in plants for v in plant.values()}
        requests[path.resolve()] = sent
    formats_before = {p: formats.load(p).format.serializer for p in planted}

    run = audit_paths([folder], cache_dir=folder / "none")
    by_path = {r.path: r for r in run.reports}
    assert set(by_path) == set(planted)
    for path, values in planted.items():
        found = [f.value for f in by_path[path].secrets]
        missed = [v for v in values if not any(v in f for f in found)]
        assert missed == [], f"{path.name}: not found {missed}"
        assert all(any(v in f for v in values) for f in found), "only planted values are reported"
    assert main(["audit", str(folder), "--cache-dir", str(folder / "none")]) == (1 if run.secrets else 0)

    assert main(["audit", "--fix", str(folder), "--cache-dir", str(folder / "none")]) == 0
    assert audit_paths([folder]).secrets == 0
    for path, values in planted.items():
        text = _plain_text(path)
        assert [v for v in values if v in text] == [], path.name
        assert formats.load(path).format.serializer == formats_before[path], "--fix keeps the file's format"
        cassette = Cassette(path, recording=False, data=load_cassette(path), record_command="pytest --llm-live")
        for request in requests[path]:  # the app's requests, secrets and all, still replay
            interaction = cassette.play(request["method"], request["uri"], request["body"].encode())
            assert interaction.status == 200 and '"chat.completion"' in interaction.response_body


# -- the command's output --------------------------------------------------------------------------
@pytest.fixture
def small(tmp_path: Path) -> Path:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    _write(folder / "leaky.yaml", "binary-gzip", [_interaction(0, {"response-org": "org-AbCdEfGhIjKlMnOpQrSt",
                                                                    "set-cookie": "Zz9Yy8Xx7Ww6Vv5Uu4Tt"})])
    _write(folder / "clean.yaml", "pydantic-ai", [_interaction(1, {})])
    _write(folder / "fake.yaml", "canonical", [_interaction(2, {"authorization": "test_openai_api_key"})])
    (folder / "notes.yaml").write_text("just: a config file\n")  # not a cassette: skipped in a folder scan
    return folder


def test_text_output(small, capsys, monkeypatch):
    monkeypatch.chdir(small.parent)
    assert main(["audit", "cassettes"]) == 1
    lines = capsys.readouterr().out.splitlines()
    size = {p.name: p.stat().st_size for p in small.iterdir()}
    assert lines == [
        f"cassettes/clean.yaml  [pydantic-ai YAML (parsed_body mappings)]  1 interaction(s), {size['clean.yaml']} B",
        "    openai: POST /v1/chat/completions",
        "    models: gpt-4o-mini",
        f"cassettes/fake.yaml  [vcrpy YAML]  1 interaction(s), {size['fake.yaml']} B",
        "    openai: POST /v1/chat/completions",
        "    models: gpt-4o-mini",
        "    1 placeholder value(s) (fake credentials, not secrets)",
        (f"cassettes/leaky.yaml  [vcrpy YAML (!!binary bodies, gzip bodies)]  1 interaction(s), "
        f"{size['leaky.yaml']} B"),
        "    openai: POST /v1/chat/completions",
        "    models: gpt-4o-mini",
        "    2 secret(s):",
        "      interaction #1 response header set-cookie: cookie (__cf... (46 chars))",
        "      interaction #1 response header openai-organization: organisation id (org-... (24 chars))",
        "",
        f"3 cassette(s), 3 interaction(s), {human(sum(v for k, v in size.items() if k != 'notes.yaml'))}",
        ("formats: pydantic-ai YAML (parsed_body mappings): 1; vcrpy YAML: 1; vcrpy YAML (!!binary bodies, "
        "gzip bodies): 1"),
        "secrets: 2 in 1 cassette(s) (cookie in 1, organisation id in 1)",
        "unused: unknown (no record of a test run in .pytest_cache; run pytest with the plugin first)",
    ]
    assert "Zz9Yy8Xx7Ww6Vv5Uu4Tt" not in "\n".join(lines), "secrets are never printed"


def test_json_output_and_fix(small, capsys):
    assert main(["audit", "--json", str(small)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["files_with_secrets"] == 1
    assert document["summary"]["secrets_by_kind"] == {"cookie": 1, "organisation id": 1}
    leaky = next(c for c in document["cassettes"] if c["path"].endswith("leaky.yaml"))
    assert [s["where"] for s in leaky["secrets"]] == ["response header set-cookie",
                                                      "response header openai-organization"]
    assert leaky["format"]["features"] == ["binary", "gzip"]
    clean_before = (small / "clean.yaml").read_bytes()
    fake_before = (small / "fake.yaml").read_bytes()

    assert main(["audit", "--fix", "--json", str(small)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["fixed"] == 1 and document["summary"]["secrets"] == 0
    assert (small / "clean.yaml").read_bytes() == clean_before, "a file without secrets is not touched"
    assert (small / "fake.yaml").read_bytes() == fake_before, "placeholders alone do not rewrite a file"
    assert b"!!binary" in (small / "leaky.yaml").read_bytes(), "the body stays gzip-compressed"
    headers = formats.load(small / "leaky.yaml").interactions[0]["response"]["headers"]
    assert headers["set-cookie"] == ["REDACTED"] and headers["openai-organization"] == ["REDACTED"]
    assert not list(small.glob(".*.tmp"))


def test_convert_rewrites_into_the_plugins_format(small, capsys):
    before = load_cassette(small / "clean.yaml").interactions[0]
    assert main(["audit", "--convert", str(small / "clean.yaml"), str(small / "leaky.yaml")]) == 0
    out = capsys.readouterr().out
    assert "rewritten: 0 fixed, 2 converted" in out
    for name in ("clean.yaml", "leaky.yaml"):
        loaded = formats.load(small / name)
        assert loaded.format.serializer == "pytest-llmops" and not loaded.format.features
        text = (small / name).read_text()
        assert "string: !!binary" not in text and "parsed_body:" not in text
        assert "converted_from:" in text
    after = load_cassette(small / "clean.yaml").interactions[0]
    assert after.key == before.key, "the converted recording matches the same requests"
    assert json.loads(after.response_body) == json.loads(before.response_body)
    assert "user-agent" not in after.request_headers, "scrubbed as a recording is"


def test_unreadable_files_are_reported_and_left_alone(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("interactions:\n- !!python/object/apply:os.system ['echo pwned']\n")
    before = bad.read_bytes()
    assert main(["audit", "--fix", str(bad)]) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{bad}: UNREADABLE"
    assert out[1].startswith(f"    cassette {bad}:2 uses a YAML tag that is refused for safety")
    assert bad.read_bytes() == before
    assert main(["audit", str(tmp_path / "missing")]) == 3


def test_the_cli_runs_as_a_module_and_lists_its_commands():
    result = subprocess.run([sys.executable, "-m", "pytest_llmops", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "audit" in result.stdout and "audit" in COMMANDS


# -- the last run's cassettes ----------------------------------------------------------------------
APP = """
import openai, pytest

@pytest.mark.llm
def test_used():
    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

@pytest.mark.llm(cassette="shared")
def test_shared():
    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "yo"}])
"""


def test_cassettes_no_test_used_in_the_last_run(project, capsys):
    project.pytester.makepyfile(test_app=APP)
    project.run("--llm-live", live=True).assert_outcomes(passed=2)
    stale = project.cassette("test_app/test_removed.yaml")
    shutil.copy(project.cassette("test_app/test_used.yaml"), stale)
    project.replay_env()
    project.pytester.runpytest("-p", "no:hypothesispytest", "-n", "2").assert_outcomes(passed=2)  # xdist
    cache = project.path / ".pytest_cache"
    assert json.loads((cache / "v" / USED_CASSETTES_KEY).read_text()) == [
        "cassettes/shared.yaml", "cassettes/test_app/test_used.yaml"]

    capsys.readouterr()
    assert main(["audit", str(project.path / "cassettes"), "--cache-dir", str(cache), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    used = {Path(c["path"]).name: c["used_by_last_run"] for c in document["cassettes"]}
    assert used == {"shared.yaml": True, "test_used.yaml": True, "test_removed.yaml": False}
    assert document["summary"]["unused"] == 1
    assert document["summary"]["secrets"] == 0, "the plugin's own recordings hold no secret"


# -- the real corpus -------------------------------------------------------------------------------
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of real cassettes is not here")
def test_the_real_corpus(tmp_path):
    """The audit of 256 real cassettes (read where they are), then --fix on a scratch copy of the
    leaky ones: nothing left, and every interaction still replays through today's SDKs."""
    import sdk_replay

    run = audit_paths([CORPUS], cache_dir=tmp_path / "none")
    summary = run.summary()
    assert (summary["cassettes"], summary["interactions"], summary["unreadable"]) == (256, 478, 0)
    assert summary["files_with_secrets"] == 101
    leaky = [r.path for r in run.reports if r.secrets]
    scratch = tmp_path / "scratch"
    for i, path in enumerate(leaky):
        (scratch / str(i)).mkdir(parents=True)
        shutil.copy(path, scratch / str(i) / path.name)
    assert main(["audit", "--fix", str(scratch), "--cache-dir", str(tmp_path / "none")]) == 0  # none left
    results = [sdk_replay.replay_with_plugin(path) for path in sorted(scratch.rglob("*.yaml"))]
    assert [(r.path.name, o.why) for r in results for o in r.outcomes if not o.replayed] == []
    assert sum(r.targets for r in results) > 150
