"""No secret reaches disk: generated secrets thrown at every place the SDKs send them.

These tests record through the real SDKs and the real transport seam (no pytester, so Hypothesis can
run many examples), then read the cassette file back as text.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import anthropic
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmops.cassette import Cassette, load_cassette
from pytest_llmops.scrubbing import REDACTED, Scrubber
from pytest_llmops.transport import Interceptor

# A secret is high-entropy: a marker no normal text holds, then generated characters (a generated
# "secret" such as "system_finge" would be found in any response and proves nothing).
secrets = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=8, max_size=48).map(
    lambda s: "Zq7" + s + "x9K"
)
field_names = st.sampled_from(["api_key", "apiKey", "access_token", "client_secret", "password", "x-api-key"])

# Identifiers the loopback server sends back, as the real providers do: none may be written either.
IDENTIFYING = re.compile(
    r"(?im)^\s*-?\s*['\"]?(openai-organization|openai-project|anthropic-organization-id|set-cookie|cookie)['\"]?:"
    r"\s*(?:\n\s*-\s*)?(\S.*)$"
)


def record(tmp_path: Path, filter_headers: tuple[str, ...], call) -> str:
    path = tmp_path / "cassette.yaml"
    path.unlink(missing_ok=True)
    cassette = Cassette(path, recording=True, data=None, record_command="pytest --llm-live")
    interceptor = Interceptor(cassette, filter_headers=filter_headers)
    monkeypatch = pytest.MonkeyPatch()
    interceptor.install(monkeypatch)
    try:
        call()
    finally:
        monkeypatch.undo()
    cassette.save("session", {})
    return path.read_text()


def assert_clean(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, f"secret {value!r} written to the cassette"
    for match in IDENTIFYING.finditer(text):
        value = match.group(2).strip().removeprefix("-").strip()
        assert value == REDACTED, f"{match.group(1)} written: {value}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=secrets, org=secrets, project_id=secrets, cookie=secrets, custom=secrets, field=field_names)
def test_openai_secrets_never_reach_the_cassette(tmp_path, provider, key, org, project_id, cookie, custom, field):
    def call():
        client = openai.OpenAI(
            api_key=key, organization=org, project=project_id, base_url=provider.openai_base_url, max_retries=0,
            default_headers={"Cookie": f"session={cookie}", "X-Internal-Token": custom},
            default_query={"api_key": key, "token": custom},
        )
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            extra_body={field: key, "metadata": {"org": org, "note": f"project {project_id}"}},
        )

    text = record(tmp_path, ("x-internal-token",), call)
    assert_clean(text, key, org, project_id, cookie, custom)
    assert "Echo: hello" in text  # the answer itself is kept


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=secrets, custom=secrets, field=field_names, stream=st.booleans())
def test_anthropic_secrets_never_reach_the_cassette(tmp_path, provider, key, custom, field, stream):
    def call():
        client = anthropic.Anthropic(
            api_key=key, base_url=provider.anthropic_base_url, max_retries=0,
            default_headers={"X-Api-Key": key, "anthropic-organization-id": custom},
        )
        result = client.messages.create(
            model="claude-sonnet-5-5", max_tokens=50, stream=stream,
            messages=[{"role": "user", "content": "hello"}], extra_body={"metadata": {"user_id": custom}, field: key},
        )
        if stream:
            list(result)

    text = record(tmp_path, (), call)
    assert_clean(text, key, custom)


def test_what_is_kept_and_what_is_redacted(tmp_path, provider):
    """The provider's response identifiers are kept visible as REDACTED; request auth is dropped."""
    def call():
        client = openai.OpenAI(api_key="sk-proj-" + "a" * 40, base_url=provider.openai_base_url)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    record(tmp_path, (), call)
    interaction = load_cassette(tmp_path / "cassette.yaml").interactions[0]
    assert set(interaction.request_headers) <= {"content-type", "accept"}
    assert interaction.response_headers["openai-organization"] == [REDACTED]
    assert interaction.response_headers["set-cookie"] == [REDACTED, REDACTED]
    assert interaction.response_headers["x-request-id"][0].startswith("req_")  # request ids are kept


@given(st.text())
def test_scrubbing_free_text_never_crashes_and_removes_key_shapes(text):
    key = "sk-proj-" + "ABCDEFGHIJKLMNOPQRSTUVWX"  # split so no key-shaped literal sits in the source
    assert key not in Scrubber().text(text + f" {key} ")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=10), secrets)
def test_a_learned_secret_is_removed_from_any_json_body(data, secret):
    import json

    scrubber = Scrubber()
    scrubber.learn_headers([("authorization", f"Bearer {secret}")])
    body = json.dumps({"payload": data, "echo": f"key={secret}", "nested": [{"k": secret}]})
    assert secret not in scrubber.body(body)
