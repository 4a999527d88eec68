"""Unit tests of pytest_llmops.prompts: versioned prompt files, rendering, provider kwargs, the lock.

Plain objects, no plugin: run with ``python -m pytest tests/test_prompts_unit.py -p no:llmops``.
"""

from __future__ import annotations

import json
import os
import string
import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pytest_llmops.prompts as prompts_mod
from pytest_llmops.prompts import (
    ANTHROPIC_DEFAULT_MAX_TOKENS,
    DuplicatePromptError,
    LockViolation,
    MissingVariableError,
    Prompt,
    PromptError,
    PromptFileError,
    PromptLockError,
    PromptNotFoundError,
    PromptRegistry,
    PromptRenderError,
    PromptTemplateError,
    RenderedPrompt,
    UnexpectedVariableError,
    UnknownProviderError,
    load_prompt,
    version_sort_key,
)

SUMMARIZE_V3 = """\
# Summarise a support ticket. Released 2024-05-01.
description: Summarise a support ticket in two sentences.
model: gpt-4o-mini
params: {temperature: 0, max_tokens: 200}
tools:
  - name: lookup_customer
    description: Find a customer by email.
    parameters:
      type: object
      properties:
        email: {type: string}
      required: [email]
retrieval: {k: 4}
system: You are a concise support assistant.
messages:
  - role: user
    content: |
      Summarise this ticket:
      {{ ticket }}
"""

SIMPLE = """\
model: gpt-4o-mini
messages:
  - role: user
    content: "Summarise: {{ ticket }}"
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory (the cwd) with prompts/summarize/{v1,v2,v3,v10}.yaml and prompts/classify/v1.yaml."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "prompts/summarize/v1.yaml", SIMPLE.replace("Summarise:", "Summarise v1:"))
    write(tmp_path, "prompts/summarize/v2.yaml", SIMPLE.replace("Summarise:", "Summarise v2:"))
    write(tmp_path, "prompts/summarize/v3.yaml", SUMMARIZE_V3)
    write(tmp_path, "prompts/summarize/v10.yaml", SIMPLE.replace("Summarise:", "Summarise v10:"))
    write(
        tmp_path,
        "prompts/classify/v1.yaml",
        """\
        model: claude-3-5-haiku-latest
        system: Classify the ticket.
        messages:
          - role: user
            content: "Ticket: {{ ticket }}. Labels: {{ labels }}"
        """,
    )
    return tmp_path


@pytest.fixture
def registry(project: Path) -> PromptRegistry:
    return PromptRegistry("prompts")


@pytest.fixture
def no_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """call_kwargs() as without the SDKs installed: every param stays a keyword (deterministic)."""
    monkeypatch.setattr(prompts_mod, "_sdk_param_names", lambda provider: None)


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------
# Discovery, versions, get


def test_get_latest_uses_natural_version_order(registry: PromptRegistry) -> None:
    assert registry.names() == ["classify", "summarize"]
    assert registry.versions("summarize") == ["v1", "v2", "v3", "v10"]
    latest = registry.get("summarize")
    assert latest.version == "v10"
    assert "Summarise v10:" in latest.messages[0]["content"]


def test_get_specific_version_has_the_whole_configuration(registry: PromptRegistry, project: Path) -> None:
    p = registry.get("summarize", version="v3")
    assert (p.name, p.version, p.ref) == ("summarize", "v3", "summarize@v3")
    assert p.description == "Summarise a support ticket in two sentences."
    assert p.model == p.original_model == "gpt-4o-mini"
    assert p.substitution is None
    assert p.params == {"temperature": 0, "max_tokens": 200}
    assert p.tools == (
        {
            "name": "lookup_customer",
            "description": "Find a customer by email.",
            "parameters": {
                "type": "object",
                "properties": {"email": {"type": "string"}},
                "required": ["email"],
            },
        },
    )
    assert p.retrieval == {"k": 4}
    assert p.system == "You are a concise support assistant."
    assert p.messages == ({"role": "user", "content": "Summarise this ticket:\n{{ ticket }}\n"},)
    assert p.variables == {"ticket"}
    assert p.path == project / "prompts/summarize/v3.yaml"
    assert len(p.digest) == 64 and set(p.digest) <= set(string.hexdigits.lower())
    assert p.lineage == {"prompt": "summarize@v3", "prompt_digest": p.digest}
    assert repr(p) == f"<Prompt summarize@v3 model=gpt-4o-mini digest={p.digest[:12]}>"
    assert hash(p) == hash(registry.get("summarize", "v3"))


def test_get_returns_cached_prompt(registry: PromptRegistry) -> None:
    assert registry.get("summarize", "v3") is registry.get("summarize", "v3")


def test_iteration_and_membership(registry: PromptRegistry) -> None:
    assert [p.ref for p in registry] == [
        "classify@v1",
        "summarize@v1",
        "summarize@v2",
        "summarize@v3",
        "summarize@v10",
    ]
    assert "summarize" in registry
    assert "summarize@v3" in registry
    assert "summarize@v4" not in registry
    assert "nope" not in registry


def test_registry_is_lazy_and_tolerates_a_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    reg = PromptRegistry("prompts")  # nothing exists: constructing reads nothing
    assert reg.names() == []
    assert list(reg) == []
    with pytest.raises(PromptNotFoundError) as info:
        reg.get("summarize")
    assert str(info.value) == (
        "no prompt named 'summarize': the prompt directory prompts/ does not exist.\n"
        "  A prompt version is a file prompts/<name>/<version>.yaml."
    )
    assert reg.save_lock() is False
    assert not (tmp_path / "prompts").exists()


def test_scan_happens_once(project: Path) -> None:
    reg = PromptRegistry("prompts")
    assert reg.versions("summarize")[-1] == "v10"
    write(project, "prompts/summarize/v11.yaml", SIMPLE)
    assert reg.versions("summarize")[-1] == "v10"  # cached scan
    reg.reload()
    assert reg.versions("summarize")[-1] == "v11"


def test_a_broken_version_does_not_break_its_siblings_or_other_prompts(project: Path) -> None:
    write(project, "prompts/summarize/v4.yaml", "model: [unclosed\n")
    write(project, "prompts/broken/v1.yaml", "model: x\nmessages: 3\n")
    reg = PromptRegistry("prompts")
    assert reg.get("summarize", "v3").version == "v3"
    assert reg.get("classify").version == "v1"
    with pytest.raises(PromptFileError):
        reg.get("summarize", "v4")
    with pytest.raises(PromptFileError):
        reg.get("broken")


def test_name_and_version_keys_may_repeat_the_file_location(project: Path) -> None:
    write(project, "prompts/greet/2024-05-01.yaml", "name: greet\nversion: '2024-05-01'\n" + SIMPLE)
    p = PromptRegistry("prompts").get("greet")
    assert p.ref == "greet@2024-05-01"


def test_yml_suffix_is_accepted(project: Path) -> None:
    write(project, "prompts/other/v1.yml", SIMPLE)
    assert PromptRegistry("prompts").get("other").path == project / "prompts/other/v1.yml"


def test_hidden_files_and_folders_are_ignored(project: Path) -> None:
    write(project, "prompts/.cache/v1.yaml", SIMPLE)
    write(project, "prompts/summarize/.v99.yaml", SIMPLE)
    write(project, "prompts/summarize/notes.txt", "not a prompt")
    reg = PromptRegistry("prompts")
    assert reg.names() == ["classify", "summarize"]
    assert reg.versions("summarize") == ["v1", "v2", "v3", "v10"]


def test_registry_survives_a_change_of_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    reg = PromptRegistry("prompts")  # relative to the directory current at construction
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert reg.get("summarize", "v3").path == project / "prompts/summarize/v3.yaml"
    assert reg.save_lock() is True
    assert (project / "prompts/prompts.lock").exists()


def test_importing_the_module_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pytest_llmops; before = set(sys.modules); import pytest_llmops.prompts; "
        "print(sorted({'yaml', 'difflib', 'openai', 'anthropic', 'tempfile'} & (set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_prompts_and_errors_pickle(registry: PromptRegistry, project: Path) -> None:
    import pickle

    p = registry.get("summarize", "v3")
    assert pickle.loads(pickle.dumps(p)) == p
    r = p.render(ticket="x")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2 == r and r2.anthropic == r.anthropic and r2.prompt == p
    with pytest.raises(PromptNotFoundError) as info:
        registry.get("sumarize")
    err = pickle.loads(pickle.dumps(info.value))
    assert type(err) is PromptNotFoundError
    assert str(err) == str(info.value) and err.suggestions == ["summarize"]
    registry.save_lock()
    path = project / "prompts/summarize/v3.yaml"
    path.write_text(path.read_text().replace("k: 4", "k: 5"))
    with pytest.raises(PromptLockError) as lock_info:
        PromptRegistry("prompts").get("summarize", "v3")
    lock_err = pickle.loads(pickle.dumps(lock_info.value))
    assert str(lock_err) == str(lock_info.value) and lock_err.violations == lock_info.value.violations


# ---------------------------------------------------------------------------------------------------
# Version ordering


@pytest.mark.parametrize(
    "ordered",
    [
        ["v1", "v2", "v9", "v10", "v11", "v100"],
        ["1.2.9", "1.2.10", "1.10.0", "2.0.0"],
        ["2023-12-31", "2024-01-02", "2024-01-10", "2024-10-01"],
        ["v1", "v1b", "v2"],
        ["V1", "v2", "V3"],
        ["v1", "v2", "v10", "v²"],  # only ASCII digits count as numbers
    ],
)
def test_version_sort_key_is_natural(ordered: list[str]) -> None:
    assert sorted(reversed(ordered), key=version_sort_key) == ordered


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20, unique=True))
def test_numbered_versions_sort_numerically(numbers: list[int]) -> None:
    versions = [f"v{n}" for n in numbers]
    assert sorted(versions, key=version_sort_key) == [f"v{n}" for n in sorted(numbers)]


@given(st.lists(st.text(max_size=8), max_size=10))
def test_version_sort_key_is_a_total_order(versions: list[str]) -> None:
    once = sorted(versions, key=version_sort_key)
    assert sorted(once, key=version_sort_key) == once
    assert sorted(reversed(versions), key=version_sort_key) == once


# ---------------------------------------------------------------------------------------------------
# Rendering


def test_render_is_openai_chat_messages_with_system_first(registry: PromptRegistry) -> None:
    r = registry.get("summarize", "v3").render(ticket="Printer on fire")
    assert isinstance(r, RenderedPrompt) and isinstance(r, list)
    expected = [
        {"role": "system", "content": "You are a concise support assistant."},
        {"role": "user", "content": "Summarise this ticket:\nPrinter on fire\n"},
    ]
    assert r == expected
    assert r.chat == expected and type(r.chat) is list
    assert r.system == "You are a concise support assistant."
    assert r.messages == expected[1:]
    assert json.loads(json.dumps(r)) == expected
    assert r.lineage == registry.get("summarize", "v3").lineage


def test_render_provider_shapes(registry: PromptRegistry) -> None:
    r = registry.get("summarize", "v3").render(ticket="T-1")
    user = [{"role": "user", "content": "Summarise this ticket:\nT-1\n"}]
    assert r.anthropic == {"system": "You are a concise support assistant.", "messages": user}
    assert r.responses == {"instructions": "You are a concise support assistant.", "input": user}


def test_render_without_system_leaves_system_out(registry: PromptRegistry) -> None:
    r = registry.get("summarize", "v2").render(ticket="x")
    assert r == [{"role": "user", "content": "Summarise v2: x"}]
    assert r.system is None
    assert r.anthropic == {"messages": [{"role": "user", "content": "Summarise v2: x"}]}
    assert r.responses == {"input": [{"role": "user", "content": "Summarise v2: x"}]}


def test_render_shapes_are_independent_copies(registry: PromptRegistry) -> None:
    p = registry.get("summarize", "v3")
    r = p.render(ticket="x")
    r.anthropic["messages"][0]["content"] = "mutated"
    r.chat[0]["content"] = "mutated"
    assert r.anthropic["messages"][0]["content"] == "Summarise this ticket:\nx\n"
    assert r[0]["content"] == "You are a concise support assistant."
    assert p.messages[0]["content"] == "Summarise this ticket:\n{{ ticket }}\n"


def test_render_inserts_str_of_values_and_fills_system(registry: PromptRegistry) -> None:
    r = registry.get("classify").render(ticket=42, labels=["bug", "billing"])
    assert r[1]["content"] == "Ticket: 42. Labels: ['bug', 'billing']"


def test_render_missing_variable_message(registry: PromptRegistry) -> None:
    p = registry.get("summarize", "v3")
    with pytest.raises(MissingVariableError) as info:
        p.render(tiket="Printer on fire")
    assert str(info.value) == (
        "prompt summarize@v3 (prompts/summarize/v3.yaml) needs variable 'ticket', not given to render().\n"
        "  variables of this prompt: ticket\n"
        "  given: tiket\n"
        "  'tiket' is not a variable of this prompt: did you mean 'ticket'?\n"
        "  Pass every variable, e.g. render(ticket=...)."
    )
    assert info.value.names == ["ticket"]
    assert info.value.ref == "summarize@v3"
    assert isinstance(info.value, PromptRenderError)


def test_render_unexpected_variable_message(registry: PromptRegistry) -> None:
    with pytest.raises(UnexpectedVariableError) as info:
        registry.get("summarize", "v3").render(ticket="x", customer="ACME")
    assert str(info.value) == (
        "prompt summarize@v3 (prompts/summarize/v3.yaml) has no variable 'customer', given to render().\n"
        "  variables of this prompt: ticket\n"
        "  Remove the extra argument, or add {{ customer }} to a template in a new version of the prompt."
    )
    assert info.value.names == ["customer"]


def test_render_lists_all_missing_variables(registry: PromptRegistry) -> None:
    with pytest.raises(MissingVariableError) as info:
        registry.get("classify").render()
    assert info.value.names == ["labels", "ticket"]
    assert "needs variables 'labels', 'ticket'" in str(info.value)
    assert "given: (none)" in str(info.value)


def test_template_syntax(tmp_path: Path) -> None:
    p = Prompt.from_config(
        {
            "model": "m",
            "system": 'JSON like {"a": {"b": 1}} stays as is; so does a lone }}.',
            "messages": [
                {"role": "user", "content": "{{x}} {{  x  }} {{{ y }}} {{ \"{{\" }} literal, {{ '}' }}"},
                {"role": "assistant", "content": "no variables here"},
            ],
        },
        name="t",
        version="v1",
    )
    assert p.variables == {"x", "y"}
    r = p.render(x=1, y="Y")
    assert r.system == 'JSON like {"a": {"b": 1}} stays as is; so does a lone }}.'
    assert r.messages == [
        {"role": "user", "content": "1 1 {Y} {{ literal, }"},
        {"role": "assistant", "content": "no variables here"},
    ]


def test_values_are_not_re_expanded(registry: PromptRegistry) -> None:
    r = registry.get("summarize", "v2").render(ticket="{{ ticket }} {{ other }}")
    assert r[0]["content"] == "Summarise v2: {{ ticket }} {{ other }}"


_no_double_brace = st.text(st.characters(exclude_categories=["Cs"]), max_size=40).filter(lambda s: "{{" not in s)


@given(prefix=_no_double_brace, suffix=_no_double_brace, value=st.text(st.characters(exclude_categories=["Cs"])))
def test_render_round_trip_with_arbitrary_text(prefix: str, suffix: str, value: str) -> None:
    assume("{{" not in prefix + "{" and "{{" not in (prefix + "{{ v }}" + suffix)[len(prefix) + 7 :])
    p = Prompt.from_config(
        {"model": "m", "messages": [{"role": "user", "content": prefix + "{{ v }}" + suffix}]}, name="t", version="v1"
    )
    assert p.variables == {"v"}
    assert p.render(v=value)[0]["content"] == prefix + value + suffix


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=_no_double_brace,
    value=st.text(st.characters(exclude_categories=["Cs"])),
    system=st.one_of(st.none(), _no_double_brace),
)
def test_render_round_trip_through_a_yaml_file(tmp_path: Path, prefix: str, value: str, system: str | None) -> None:
    doc: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": prefix + "{{ v }}"}]}
    if system is not None:
        doc["system"] = system
    path = tmp_path / "rt" / "v1.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = load_prompt(path).render(v=value)
    assert r.messages == [{"role": "user", "content": prefix + value}]
    assert r.system == system


# ---------------------------------------------------------------------------------------------------
# call_kwargs


def test_call_kwargs_openai_chat(registry: PromptRegistry, no_sdk: None) -> None:
    kw = registry.get("summarize", "v3").call_kwargs("openai", ticket="T-1")
    assert kw == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a concise support assistant."},
            {"role": "user", "content": "Summarise this ticket:\nT-1\n"},
        ],
        "temperature": 0,
        "max_tokens": 200,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup_customer",
                    "description": "Find a customer by email.",
                    "parameters": {
                        "type": "object",
                        "properties": {"email": {"type": "string"}},
                        "required": ["email"],
                    },
                },
            }
        ],
    }
    assert registry.get("summarize", "v3").call_kwargs(ticket="T-1") == kw  # openai is the default


def test_call_kwargs_responses(registry: PromptRegistry, no_sdk: None) -> None:
    kw = registry.get("summarize", "v3").call_kwargs("responses", ticket="T-1")
    assert kw == {
        "model": "gpt-4o-mini",
        "instructions": "You are a concise support assistant.",
        "input": [{"role": "user", "content": "Summarise this ticket:\nT-1\n"}],
        "temperature": 0,
        "max_output_tokens": 200,
        "tools": [
            {
                "type": "function",
                "name": "lookup_customer",
                "description": "Find a customer by email.",
                "parameters": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}},
                    "required": ["email"],
                },
            }
        ],
    }


def test_call_kwargs_anthropic(registry: PromptRegistry, no_sdk: None) -> None:
    kw = registry.get("summarize", "v3").call_kwargs("anthropic", ticket="T-1")
    assert kw == {
        "model": "gpt-4o-mini",
        "system": "You are a concise support assistant.",
        "messages": [{"role": "user", "content": "Summarise this ticket:\nT-1\n"}],
        "temperature": 0,
        "max_tokens": 200,
        "tools": [
            {
                "name": "lookup_customer",
                "description": "Find a customer by email.",
                "input_schema": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}},
                    "required": ["email"],
                },
            }
        ],
    }


def test_call_kwargs_anthropic_defaults_max_tokens(registry: PromptRegistry, no_sdk: None) -> None:
    kw = registry.get("classify").call_kwargs("anthropic", ticket="t", labels="a,b")
    assert kw["max_tokens"] == ANTHROPIC_DEFAULT_MAX_TOKENS == 1024
    assert "tools" not in kw


def test_call_kwargs_without_vars_is_the_configuration_only(registry: PromptRegistry, no_sdk: None) -> None:
    p = registry.get("summarize", "v3")
    assert set(p.call_kwargs("openai")) == {"model", "temperature", "max_tokens", "tools"}
    assert set(p.call_kwargs("responses")) == {"model", "temperature", "max_output_tokens", "tools"}
    assert set(p.call_kwargs("anthropic")) == {"model", "temperature", "max_tokens", "tools"}


def test_call_kwargs_of_a_prompt_without_variables_includes_the_messages(no_sdk: None) -> None:
    p = Prompt.from_config({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}, name="t", version="v1")
    assert p.call_kwargs("openai") == {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


def test_call_kwargs_rejects_wrong_variables(registry: PromptRegistry) -> None:
    with pytest.raises(UnexpectedVariableError):
        registry.get("summarize", "v3").call_kwargs("openai", ticket="x", extra=1)
    with pytest.raises(MissingVariableError):
        registry.get("classify").call_kwargs("anthropic", ticket="x")


def test_call_kwargs_variables_may_be_named_provider() -> None:
    p = Prompt.from_config(
        {"model": "m", "messages": [{"role": "user", "content": "{{ provider }}"}]}, name="t", version="v1"
    )
    assert p.call_kwargs("openai", provider="ACME")["messages"] == [{"role": "user", "content": "ACME"}]
    assert p.render(provider="ACME")[0]["content"] == "ACME"


def test_call_kwargs_unknown_provider(registry: PromptRegistry) -> None:
    with pytest.raises(UnknownProviderError) as info:
        registry.get("summarize", "v3").call_kwargs("antropic", ticket="x")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (
        "unknown provider 'antropic' for call_kwargs() of prompt summarize@v3 (prompts/summarize/v3.yaml): "
        "did you mean 'anthropic'?\n"
        "  Use one of: 'openai' (chat.completions.create), 'responses' (responses.create), "
        "'anthropic' (messages.create)."
    )


PARAMS_PROMPT = {
    "model": "m",
    "params": {
        "max_completion_tokens": 50,
        "stop": "END",
        "tool_choice": {"name": "f"},
        "parallel_tool_calls": False,
        "seed": 7,
    },
    "tools": [{"name": "f"}],
    "messages": [{"role": "user", "content": "hi"}],
}


def test_param_mapping_per_provider(no_sdk: None) -> None:
    p = Prompt.from_config(PARAMS_PROMPT, name="t", version="v1")
    empty = {"type": "object", "properties": {}}
    assert p.call_kwargs("openai") == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 50,
        "stop": "END",
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "seed": 7,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": empty}}],
    }
    assert p.call_kwargs("responses") == {
        "model": "m",
        "input": [{"role": "user", "content": "hi"}],
        "max_output_tokens": 50,
        "stop": "END",
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": False,
        "seed": 7,
        "tools": [{"type": "function", "name": "f", "parameters": empty}],
    }
    assert p.call_kwargs("anthropic") == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "stop_sequences": ["END"],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "seed": 7,
        "tools": [{"name": "f", "input_schema": empty}],
    }


@pytest.mark.parametrize(
    ("choice", "openai", "anthropic"),
    [
        ("auto", "auto", {"type": "auto"}),
        ("none", "none", {"type": "none"}),
        ("required", "required", {"type": "any"}),
        ("any", "required", {"type": "any"}),
        ("f", {"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_mapping(no_sdk: None, choice: str, openai: Any, anthropic: Any) -> None:
    config = {**PARAMS_PROMPT, "params": {"tool_choice": choice}}
    p = Prompt.from_config(config, name="t", version="v1")
    assert p.call_kwargs("openai")["tool_choice"] == openai
    assert p.call_kwargs("anthropic")["tool_choice"] == anthropic


def test_response_format_becomes_text_format_for_responses(no_sdk: None) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    p = Prompt.from_config(
        {"model": "m", "params": {"response_format": rf}, "messages": [{"role": "user", "content": "hi"}]},
        name="t",
        version="v1",
    )
    assert p.call_kwargs("openai")["response_format"] == rf
    assert p.call_kwargs("responses")["text"] == {
        "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
    }


def test_params_the_installed_sdk_does_not_name_go_to_extra_body(
    registry: PromptRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = frozenset({"model", "messages", "system", "max_tokens", "tools", "extra_body"})
    monkeypatch.setattr(prompts_mod, "_sdk_param_names", lambda provider: accepted)
    kw = registry.get("summarize", "v3").call_kwargs("anthropic", ticket="x")
    assert kw["extra_body"] == {"temperature": 0}
    assert "temperature" not in kw


def test_call_kwargs_returns_fresh_copies(registry: PromptRegistry, no_sdk: None) -> None:
    p = registry.get("summarize", "v3")
    kw = p.call_kwargs("anthropic", ticket="x")
    kw["tools"][0]["input_schema"]["type"] = "mutated"
    assert p.tools[0]["parameters"]["type"] == "object"


def _sdk_wire_body(provider: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Send ``kwargs`` through the real SDK to a mock transport; return the JSON body sent."""
    if provider == "anthropic":
        sdk = pytest.importorskip("anthropic")
    else:
        sdk = pytest.importorskip("openai")
    try:
        import httpx2 as httpx  # the SDKs' HTTP client in recent releases
    except ImportError:  # pragma: no cover
        import httpx  # type: ignore[no-redef]
    sent: list[dict[str, Any]] = []

    def handler(request: Any) -> Any:
        sent.append(json.loads(request.content))
        return httpx.Response(400, json={"error": {"type": "invalid_request_error", "message": "captured"}})

    http_client = httpx.Client(transport=httpx.MockTransport(handler))
    if provider == "anthropic":
        client = sdk.Anthropic(api_key="test", max_retries=0, http_client=http_client)
        call = client.messages.create
    else:
        client = sdk.OpenAI(api_key="test", max_retries=0, http_client=http_client)
        call = client.responses.create if provider == "responses" else client.chat.completions.create
    with pytest.raises(sdk.BadRequestError):
        call(**kwargs)
    assert len(sent) == 1
    return sent[0]


@pytest.mark.parametrize("provider", ["openai", "responses", "anthropic"])
def test_call_kwargs_splat_into_the_real_sdk(registry: PromptRegistry, provider: str) -> None:
    p = registry.get("summarize", "v3")
    kwargs = p.call_kwargs(provider, ticket="T-1")
    body = _sdk_wire_body(provider, kwargs)
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0
    if provider == "openai":
        assert body["max_tokens"] == 200
        assert body["messages"][0] == {"role": "system", "content": "You are a concise support assistant."}
        assert body["tools"][0]["function"]["name"] == "lookup_customer"
    elif provider == "responses":
        assert body["max_output_tokens"] == 200
        assert body["instructions"] == "You are a concise support assistant."
        assert body["input"] == [{"role": "user", "content": "Summarise this ticket:\nT-1\n"}]
        assert body["tools"][0]["name"] == "lookup_customer"
    else:
        assert body["max_tokens"] == 200
        assert body["system"] == "You are a concise support assistant."
        assert body["tools"][0]["input_schema"]["required"] == ["email"]


# ---------------------------------------------------------------------------------------------------
# Model substitution (--llm-model OLD=NEW)


def test_model_substitution(project: Path, no_sdk: None) -> None:
    plain = PromptRegistry("prompts").get("summarize", "v3")
    reg = PromptRegistry("prompts", model_map={"gpt-4o-mini": "gpt-4.1-mini"})
    p = reg.get("summarize", "v3")
    assert p.model == "gpt-4.1-mini"
    assert p.original_model == "gpt-4o-mini"
    assert p.substitution == "gpt-4o-mini -> gpt-4.1-mini"
    assert p.digest == plain.digest  # the file did not change: same version, same digest
    assert p.config["model"] == "gpt-4o-mini"
    assert repr(p) == f"<Prompt summarize@v3 model=gpt-4.1-mini (was gpt-4o-mini) digest={p.digest[:12]}>"
    assert p.call_kwargs("anthropic", ticket="x")["model"] == "gpt-4.1-mini"
    assert reg.get("classify").substitution is None  # other models untouched
    assert reg.check_lock() == []


def test_model_substitution_does_not_trip_the_lock(project: Path) -> None:
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v3")
    reg.save_lock()
    upgraded = PromptRegistry("prompts", model_map={"gpt-4o-mini": "gpt-4.1-mini"})
    assert upgraded.get("summarize", "v3").model == "gpt-4.1-mini"
    assert upgraded.check_lock() == []


def test_model_map_must_hold_model_names(project: Path) -> None:
    with pytest.raises(PromptError, match="--llm-model OLD=NEW"):
        PromptRegistry("prompts", model_map={"gpt-4o-mini": ""})


# ---------------------------------------------------------------------------------------------------
# Unknown names and versions


def test_unknown_name_suggests_close_names(registry: PromptRegistry) -> None:
    with pytest.raises(PromptNotFoundError) as info:
        registry.get("sumarize")
    assert str(info.value) == (
        "no prompt named 'sumarize' in prompts/\n"
        "  did you mean: summarize?\n"
        "  available prompts: classify, summarize\n"
        "  A prompt version is a file prompts/<name>/<version>.yaml."
    )
    assert info.value.suggestions == ["summarize"]
    assert isinstance(info.value, LookupError)


def test_unknown_version_lists_available_versions(registry: PromptRegistry) -> None:
    with pytest.raises(PromptNotFoundError) as info:
        registry.get("summarize", version="v30")
    assert str(info.value) == (
        "prompt 'summarize' has no version 'v30' in prompts/summarize/\n"
        "  did you mean: v3, v10?\n"
        "  available versions: v1, v2, v3, v10 (latest)\n"
        "  Omit version= to get the latest, or add prompts/summarize/v30.yaml."
    )
    assert info.value.available == ["v1", "v2", "v3", "v10"]


def test_versions_of_unknown_name_raises(registry: PromptRegistry) -> None:
    with pytest.raises(PromptNotFoundError, match="did you mean: classify"):
        registry.versions("clasify")


def test_stray_top_level_file_gets_a_hint(project: Path) -> None:
    write(project, "prompts/greet.yaml", SIMPLE)
    with pytest.raises(PromptNotFoundError) as info:
        PromptRegistry("prompts").get("greet")
    assert "found prompts/greet.yaml: a prompt is a folder of versions; move it to prompts/greet/v1.yaml" in str(
        info.value
    )


# ---------------------------------------------------------------------------------------------------
# Malformed files


def test_malformed_yaml_names_file_and_line(project: Path) -> None:
    write(
        project,
        "prompts/bad/v1.yaml",
        """\
        model: gpt-4o-mini
        params: {temperature: 0
        messages:
          - role: user
            content: hi
        """,
    )
    with pytest.raises(PromptFileError) as info:
        PromptRegistry("prompts").get("bad")
    err = info.value
    assert err.path == project / "prompts/bad/v1.yaml"
    assert err.line == 3
    assert str(err) == (
        "prompts/bad/v1.yaml:3:9: malformed YAML in the prompt file: did not find expected ',' or '}' "
        "(while parsing a flow mapping that starts at line 2).\n"
        "  Fix the YAML syntax at line 3 (check indentation, quotes and colons)."
    )


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        ("model: m\ntemprature: 0\nmessages: [{role: user, content: hi}]\n", 2, "temprature",
         "unknown key 'temprature'.\n  Model parameters go under params: (params: {temperature: ...}). Allowed keys:"),
        ("model: 4\nmessages: [{role: user, content: hi}]\n", 1, "model",
         "'model' must be a string, got integer 4.\n  Quote it: model: \"4\""),
        ("messages: [{role: user, content: hi}]\n", 1, None, "the required key 'model' is missing."),
        ("model: m\nparams: [1, 2]\nmessages: [{role: user, content: hi}]\n", 2, "params",
         "'params' must be a mapping (key: value), got list."),
        ("model: m\nparams: {model: x}\nmessages: [{role: user, content: hi}]\n", 2, "params.model",
         "'params.model' does not belong in params.\n  Use the top-level `model:` key instead."),
        ("model: m\nparams: {max_tokens: '200'}\nmessages: [{role: user, content: hi}]\n", 2, "params.max_tokens",
         "'params.max_tokens' must be a positive integer, got string '200'."),
        ("model: m\nparams: {stop: [1]}\nmessages: [{role: user, content: hi}]\n", 2, "params.stop",
         "'params.stop' must be a string or a list of strings, got list [1]."),
        ("model: m\nparams: {max_tokens: 5, max_output_tokens: 5}\nmessages: [{role: user, content: hi}]\n", 2,
         "params.max_output_tokens", "'params.max_output_tokens' repeats 'max_tokens'."),
        ("model: m\nmessages: []\n", 2, "messages", "'messages' must be a non-empty list"),
        ("model: m\nmessages:\n  - role: system\n    content: hi\n", 3, "messages[0].role",
         "a system message (messages[0]) goes in the top-level `system:` key."),
        ("model: m\nmessages:\n  - role: user\n    content: [1]\n", 4, "messages[0].content",
         "'messages[0].content' must be a string, got list."),
        ("model: m\nmessages:\n  - role: bot\n    content: hi\n", 3, "messages[0].role",
         "'messages[0].role' must be user or assistant, got 'bot'."),
        ("model: m\nmessages:\n  - role: user\n", 3, "messages[0]", "'messages[0]' has no content."),
        ("model: m\ntools:\n  - type: function\n    function: {name: f}\nmessages: [{role: user, content: hi}]\n",
         3, "tools[0].type", "unknown key 'type' in tools[0]."),
        ("model: m\ntools: [{name: f, schema: {}}]\nmessages: [{role: user, content: hi}]\n", 2, "tools[0].schema",
         "unknown key 'schema' in tools[0].\n  Tools are written in a neutral form"),
        ("model: m\ntools: [{name: \"f\\n\"}]\nmessages: [{role: user, content: hi}]\n", 2, "tools[0].name",
         "'tools[0].name' is missing or not a valid tool name (got 'f\\n')."),
        ("model: m\ntools: [{name: f}, {name: f}]\nmessages: [{role: user, content: hi}]\n", 2, "tools[1].name",
         "tool 'f' is defined twice (tools[1])."),
        ("model: m\ntools: [{name: 'bad name'}]\nmessages: [{role: user, content: hi}]\n", 2, "tools[0].name",
         "'tools[0].name' is missing or not a valid tool name (got 'bad name')."),
        ("model: m\ntools: [{name: f, parameters: {type: string}}]\nmessages: [{role: user, content: hi}]\n",
         2, "tools[0].parameters", "must be a JSON schema with type: object"),
        ("model: m\nretrieval:\n  since: 2024-01-01\nmessages: [{role: user, content: hi}]\n", 3,
         "retrieval.since", "'retrieval.since' is datetime.date(2024, 1, 1), a date, which JSON cannot hold."),
        ("model: m\nparams: {tool_choice: auto}\nmessages: [{role: user, content: hi}]\n", 2,
         "params.tool_choice", "'params.tool_choice' is set but the prompt has no tools."),
        ("model: m\nmodel: n\nmessages: [{role: user, content: hi}]\n", 2, "model",
         "key 'model' appears twice (first at line 1); keep one of them."),
        ("- just a list\n", 1, None, "the top level must be a mapping of keys, got list."),
        ("", None, None, "the file is empty."),
    ],
)
def test_wrong_types_and_keys_name_file_line_and_key(
    project: Path, text: str, line: int | None, key: str | None, fragment: str
) -> None:
    path = write(project, "prompts/bad/v1.yaml", text)
    with pytest.raises(PromptFileError) as info:
        PromptRegistry("prompts").get("bad")
    err = info.value
    assert err.path == path
    assert err.line == line
    assert err.key == key
    loc = "prompts/bad/v1.yaml" + (f":{line}" if line else "")
    assert str(err).startswith(loc + ": ")
    assert fragment in str(err)


def test_unknown_top_level_key_whole_message(project: Path) -> None:
    write(project, "prompts/bad/v1.yaml", "model: m\nsystm: hi\nmessages: [{role: user, content: hi}]\n")
    with pytest.raises(PromptFileError) as info:
        PromptRegistry("prompts").get("bad")
    assert str(info.value) == (
        "prompts/bad/v1.yaml:2: prompt bad@v1: unknown key 'systm'.\n"
        "  Did you mean 'system'? Allowed keys: name, version, description, model, params, tools, retrieval, "
        "system, messages."
    )


def test_template_error_names_file_and_message_index(project: Path) -> None:
    write(
        project,
        "prompts/bad/v1.yaml",
        """\
        model: m
        messages:
          - role: user
            content: fine {{ x }}
          - role: assistant
            content: |
              first line
              broken {{ ticket
        """,
    )
    with pytest.raises(PromptTemplateError) as info:
        PromptRegistry("prompts").get("bad")
    assert isinstance(info.value, PromptFileError)
    assert str(info.value) == (
        "prompts/bad/v1.yaml:6: template error in messages[1]: '{{' is not closed by '}}' "
        "(line 2 of the text: '{{ ticket').\n"
        "  Variables are written {{ name }}; to write a literal '{{' use {{ \"{{\" }}."
    )
    assert info.value.key == "messages[1]"


def test_template_error_in_system(project: Path) -> None:
    write(project, "prompts/bad/v1.yaml", "model: m\nsystem: 'Use {{ user.name }}'\nmessages: [{role: user, content: hi}]\n")
    with pytest.raises(PromptTemplateError) as info:
        PromptRegistry("prompts").get("bad")
    assert str(info.value).startswith(
        "prompts/bad/v1.yaml:2: template error in system: '{{ user.name }}' (line 1 of the text) is not a variable"
    )


def test_version_key_disagreeing_with_file_name(project: Path) -> None:
    write(project, "prompts/summarize/v4.yaml", "version: v5\n" + SIMPLE)
    with pytest.raises(PromptFileError) as info:
        PromptRegistry("prompts").get("summarize", "v4")
    assert str(info.value) == (
        "prompts/summarize/v4.yaml:1: prompt summarize@v4: version: 'v5' does not match the file name 'v4'.\n"
        "  The file name is the version: remove `version:` or rename the file to v5.yaml."
    )


def test_name_key_disagreeing_with_folder(project: Path) -> None:
    write(project, "prompts/summarize/v4.yaml", "name: summary\n" + SIMPLE)
    with pytest.raises(PromptFileError, match="name: 'summary' does not match the folder 'summarize'"):
        PromptRegistry("prompts").get("summarize", "v4")


def test_duplicate_version_names_both_paths(project: Path) -> None:
    write(project, "prompts/summarize/v4.yaml", "version: v2\n" + SIMPLE)
    reg = PromptRegistry("prompts")
    for version in ("v2", "v4"):
        with pytest.raises(DuplicatePromptError) as info:
            reg.get("summarize", version)
        assert str(info.value) == (
            "two files define prompt summarize@v2: prompts/summarize/v2.yaml and prompts/summarize/v4.yaml "
            "(prompts/summarize/v4.yaml says `version: v2`).\n"
            "  Each version is exactly one file, named after the version: in prompts/summarize/v4.yaml "
            "remove the `version:` key (or set it to v4)."
        )
        assert info.value.paths == [project / "prompts/summarize/v2.yaml", project / "prompts/summarize/v4.yaml"]
    assert reg.get("summarize", "v3").version == "v3"


def test_duplicate_by_yaml_and_yml(project: Path) -> None:
    write(project, "prompts/summarize/v3.yml", SIMPLE)
    with pytest.raises(DuplicatePromptError) as info:
        PromptRegistry("prompts").get("summarize", "v3")
    assert {p.name for p in info.value.paths} == {"v3.yaml", "v3.yml"}
    assert "delete or rename one of them" in str(info.value)


def test_errors_write_nothing(project: Path) -> None:
    write(project, "prompts/bad/v1.yaml", "model: [\n")
    write(project, "prompts/summarize/v4.yaml", "version: v2\n" + SIMPLE)
    before = snapshot_tree(project)
    reg = PromptRegistry("prompts")
    for call in (
        lambda: reg.get("bad"),
        lambda: reg.get("summarize", "v4"),
        lambda: reg.get("nope"),
        lambda: reg.get("summarize", "v2").render(),
        reg.relock,
    ):
        with pytest.raises(PromptError):
            call()
    assert reg.save_lock() is False  # nothing was successfully used
    assert snapshot_tree(project) == before


def test_cached_errors_are_raised_again(project: Path) -> None:
    write(project, "prompts/bad/v1.yaml", "model: [\n")
    reg = PromptRegistry("prompts")
    for _ in range(3):
        with pytest.raises(PromptFileError) as info:
            reg.get("bad")
    assert len(list(traceback.walk_tb(info.value.__traceback__))) < 10  # no growth per raise


def test_load_prompt_and_from_config(project: Path) -> None:
    p = load_prompt("prompts/summarize/v3.yaml")
    assert p.ref == "summarize@v3"
    assert p.digest == PromptRegistry("prompts").get("summarize", "v3").digest
    q = Prompt.from_config(yaml.safe_load(SUMMARIZE_V3), name="summarize", version="v3")
    assert q.digest == p.digest and q.path is None
    with pytest.raises(PromptFileError, match="the required key 'messages' is missing"):
        Prompt.from_config({"model": "m"}, name="x", version="v1")
    with pytest.raises(PromptFileError, match="version: 'v2' does not match the file name 'v1'"):
        Prompt.from_config({**yaml.safe_load(SIMPLE), "version": "v2"}, name="x", version="v1")


# ---------------------------------------------------------------------------------------------------
# Digest


def test_digest_ignores_comments_layout_and_description(project: Path) -> None:
    reformatted = """\
    # a different comment
    messages:
    - content: "Summarise this ticket:\\n{{ ticket }}\\n"
      role: user
    system: "You are a concise support assistant."
    retrieval:
        k: 4
    tools: [{name: lookup_customer, description: Find a customer by email.,
             parameters: {required: [email], properties: {email: {type: string}}, type: object}}]
    params:
        max_tokens: 200
        temperature: 0
    model: 'gpt-4o-mini'
    description: another description
    version: v4
    """
    write(project, "prompts/summarize/v4.yaml", reformatted)
    reg = PromptRegistry("prompts")
    assert reg.get("summarize", "v4").digest == reg.get("summarize", "v3").digest


def test_digest_covers_the_configuration(project: Path) -> None:
    base = Prompt.from_config(yaml.safe_load(SUMMARIZE_V3), name="s", version="v1")
    canonical = json.dumps(base.config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    import hashlib

    assert base.digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert set(base.config) == {"model", "params", "tools", "retrieval", "system", "messages"}


_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=10),
)
_key = st.text(string.ascii_letters + "_", min_size=1, max_size=8)
_plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30).filter(lambda s: "{{" not in s)
_configs = st.fixed_dictionaries(
    {
        "model": st.text(string.ascii_letters + string.digits + "-.", min_size=1, max_size=12),
        "params": st.builds(
            lambda typed, free: {**free, **typed},
            st.fixed_dictionaries(
                {},
                optional={
                    "temperature": st.floats(min_value=0, max_value=2, width=32),
                    "max_tokens": st.integers(min_value=1, max_value=10**6),
                    "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=3),
                },
            ),
            st.dictionaries(
                _key.filter(lambda k: k not in prompts_mod._PARAM_CHECKS and k not in prompts_mod._RESERVED_PARAMS),
                _json_scalar,
                max_size=3,
            ),
        ),
        "retrieval": st.dictionaries(_key, _json_scalar | st.lists(_json_scalar, max_size=3), max_size=3),
        "system": st.none() | _plain_text,
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": _plain_text}),
            min_size=1,
            max_size=3,
        ),
        "tools": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.text(string.ascii_letters + "_", min_size=1, max_size=10),
                    "description": st.text(max_size=20).filter(lambda s: "\x00" not in s),
                    "parameters": st.fixed_dictionaries(
                        {
                            "type": st.just("object"),
                            "properties": st.dictionaries(
                                _key, st.fixed_dictionaries({"type": st.sampled_from(["string", "integer"])}), max_size=3
                            ),
                        }
                    ),
                }
            ),
            max_size=2,
            unique_by=lambda t: t["name"],
        ),
    }
)


def _dump_variant(config: dict[str, Any], data: st.DataObject) -> str:
    """The same configuration written differently: key order, flow/block style, indent, comments."""
    shuffled: dict[str, Any] = {}
    for key in data.draw(st.permutations(list(config))):
        value = config[key]
        if isinstance(value, dict) and value:
            value = dict(data.draw(st.permutations(list(value.items()))))
        shuffled[key] = value
    options: dict[str, Any] = dict(
        sort_keys=False,
        indent=data.draw(st.integers(min_value=2, max_value=6)),
        width=data.draw(st.sampled_from([60, 1000])),  # narrower folding hits PyYAML writer bugs
        # PyYAML writes a raw NEL/LS/PS unquoted and reads it back as a line break: escape those.
        allow_unicode=data.draw(st.booleans())
        and not any(c in json.dumps(config, ensure_ascii=False) for c in "\x85\u2028\u2029"),
    )
    head = data.draw(st.sampled_from(["", "# generated\n", "\n\n# a comment: {{ not a var }}\n"]))
    tail = data.draw(st.sampled_from(["", "# end\n", "\n\n"]))
    if data.draw(st.booleans()):  # one flow mapping: {model: ..., params: {...}, ...}
        return head + yaml.safe_dump(shuffled, default_flow_style=True, **options) + tail
    parts = [head]
    for key, value in shuffled.items():  # block mapping, leaves in flow or block style, comments between
        flow = data.draw(st.sampled_from([None, False])) if isinstance(value, (dict, list)) else False
        comment = data.draw(st.sampled_from(["", "# note\n", "   \n"]))
        parts.append(comment + yaml.safe_dump({key: value}, default_flow_style=flow, **options))
    return "".join(parts) + tail


@settings(max_examples=60, deadline=None)
@given(config=_configs, data=st.data())
def test_digest_is_stable_under_layout_changes(config: dict[str, Any], data: st.DataObject) -> None:
    reference = Prompt.from_config(config, name="p", version="v1").digest
    text = _dump_variant(config, data)
    reparsed = yaml.safe_load(text)
    assert Prompt.from_config(reparsed, name="p", version="v1").digest == reference


def _mutations(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """(description, function returning a changed copy) for every kind of value change."""

    def change(fn: Any) -> Any:
        def apply() -> dict[str, Any]:
            new = json.loads(json.dumps(config))
            fn(new)
            return new

        return apply

    out = [
        ("model", change(lambda c: c.update(model=c["model"] + "x"))),
        ("new param", change(lambda c: c["params"].update(zz_new=1))),
        ("system", change(lambda c: c.update(system=(c["system"] or "") + "!"))),
        ("message text", change(lambda c: c["messages"][0].update(content=c["messages"][0]["content"] + "."))),
        ("message role", change(lambda c: c["messages"][0].update(
            role="assistant" if c["messages"][0]["role"] == "user" else "user"))),
        ("extra message", change(lambda c: c["messages"].append({"role": "user", "content": ""}))),
        ("retrieval", change(lambda c: c["retrieval"].update(zz_new=True))),
        ("new tool", change(lambda c: c["tools"].append({"name": "zz_new_tool"}))),
    ]
    def other_value(key: str, value: Any) -> Any:
        if key == "temperature":
            return value + 0.5
        if key == "max_tokens":
            return value + 1
        if key == "stop":
            return value + "x" if isinstance(value, str) else [*value, "x"]
        return [value]  # free-form params: any JSON value

    for key in sorted(config["params"]):
        out.append((f"param {key}", change(lambda c, k=key: c["params"].update({k: other_value(k, c["params"][k])}))))
    if config["tools"]:
        out.append(("tool schema", change(lambda c: c["tools"][0]["parameters"]["properties"].update(zz={}))))
        out.append(("tool description", change(lambda c: c["tools"][0].update(
            description=c["tools"][0]["description"] + "?"))))
    return out


@settings(max_examples=60, deadline=None)
@given(config=_configs, data=st.data())
def test_digest_changes_with_any_value_change(config: dict[str, Any], data: st.DataObject) -> None:
    reference = Prompt.from_config(config, name="p", version="v1").digest
    what, mutate = data.draw(st.sampled_from(_mutations(config)))
    changed = Prompt.from_config(mutate(), name="p", version="v1").digest
    assert changed != reference, what


# ---------------------------------------------------------------------------------------------------
# Lock


def test_first_use_locks_the_version(project: Path) -> None:
    lock = project / "prompts" / "prompts.lock"
    reg = PromptRegistry("prompts")
    p = reg.get("summarize", "v3")
    assert not lock.exists()  # nothing written until save_lock()
    assert reg.newly_locked == ["summarize@v3"]
    assert reg.save_lock() is True
    assert reg.newly_locked == []
    data = yaml.safe_load(lock.read_text())
    assert data["lock_format"] == 1
    assert data["prompts"] == {"summarize": {"v3": {"digest": p.digest, "config": p.config}}}
    text = lock.read_text()
    assert text.startswith("# pytest-llmops prompt lock")
    assert "pytest --llm-lock-prompts" in text
    assert "      Summarise this ticket:\n" in text  # multi-line text stays readable (a | block)


def test_save_lock_writes_nothing_when_unchanged(project: Path) -> None:
    lock = project / "prompts" / "prompts.lock"
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v3")
    assert reg.save_lock() is True
    stat = lock.stat()
    before = lock.read_bytes()
    os.utime(lock, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    mtime = lock.stat().st_mtime_ns
    assert reg.save_lock() is False
    again = PromptRegistry("prompts")
    again.get("summarize", "v3")
    assert again.newly_locked == []
    assert again.save_lock() is False
    assert lock.read_bytes() == before and lock.stat().st_mtime_ns == mtime
    assert PromptRegistry("prompts").save_lock() is False  # unused registry


def test_lock_file_is_sorted_and_stable(project: Path) -> None:
    lock = project / "prompts" / "prompts.lock"
    reg = PromptRegistry("prompts")
    for ref in ("summarize@v10", "classify@v1", "summarize@v2"):
        name, version = ref.split("@")
        reg.get(name, version)
    reg.save_lock()
    first = lock.read_text()
    lock.unlink()
    other = PromptRegistry("prompts")
    for ref in ("summarize@v2", "summarize@v10", "classify@v1"):
        name, version = ref.split("@")
        other.get(name, version)
    other.save_lock()
    assert lock.read_text() == first
    data = yaml.safe_load(first)["prompts"]
    assert list(data) == ["classify", "summarize"]


def test_editing_a_locked_version_raises_with_a_diff(project: Path) -> None:
    reg = PromptRegistry("prompts")
    locked = reg.get("summarize", "v3")
    reg.save_lock()
    path = project / "prompts/summarize/v3.yaml"
    path.write_text(path.read_text().replace("temperature: 0,", "temperature: 0.2,"))
    before = snapshot_tree(project)

    fresh = PromptRegistry("prompts")
    with pytest.raises(PromptLockError) as info:
        fresh.get("summarize", "v3")
    now = load_prompt(path)
    assert str(info.value) == (
        "prompt summarize@v3 was edited after it was locked (prompts/summarize/v3.yaml).\n"
        "A released prompt version must not change: recorded scores and logs refer to it by digest.\n"
        f"  locked digest:  {locked.digest[:12]}  (prompts/prompts.lock)\n"
        f"  current digest: {now.digest[:12]}\n"
        "--- prompts/prompts.lock (summarize@v3, locked)\n"
        "+++ prompts/summarize/v3.yaml (now)\n"
        "@@ -6,7 +6,7 @@\n"
        " model: gpt-4o-mini\n"
        " params:\n"
        "   max_tokens: 200\n"
        "-  temperature: 0\n"
        "+  temperature: 0.2\n"
        " retrieval:\n"
        "   k: 4\n"
        " system: You are a concise support assistant.\n"
        "What to do:\n"
        "  - to change the prompt, create a new version: copy prompts/summarize/v3.yaml to "
        "prompts/summarize/v11.yaml, make the edit there, and restore prompts/summarize/v3.yaml "
        "(e.g. git checkout -- prompts/summarize/v3.yaml); or\n"
        "  - if this edit is intended and reviewed, re-lock: pytest --llm-lock-prompts"
    )
    (violation,) = info.value.violations
    assert isinstance(violation, LockViolation)
    assert (violation.ref, violation.kind, violation.locked_digest) == ("summarize@v3", "changed", locked.digest)
    assert violation.current_digest == now.digest
    assert fresh.save_lock() is False
    assert snapshot_tree(project) == before


def test_editing_only_comments_of_a_locked_version_is_fine(project: Path) -> None:
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v3")
    reg.save_lock()
    path = project / "prompts/summarize/v3.yaml"
    path.write_text("# reviewed again\n" + path.read_text().replace("description: Summarise", "description: Sum up"))
    assert PromptRegistry("prompts").check_lock() == []


def test_check_lock_lists_changed_and_removed_versions(project: Path) -> None:
    reg = PromptRegistry("prompts")
    for version in ("v1", "v2", "v3"):
        reg.get("summarize", version)
    reg.save_lock()
    (project / "prompts/summarize/v1.yaml").unlink()
    v2 = project / "prompts/summarize/v2.yaml"
    v2.write_text(v2.read_text().replace("Summarise v2:", "Summarize v2:"))

    fresh = PromptRegistry("prompts")
    violations = fresh.check_lock()
    assert [(v.ref, v.kind) for v in violations] == [("summarize@v1", "removed"), ("summarize@v2", "changed")]
    assert violations[0].message == (
        "prompt summarize@v1 is locked in prompts/prompts.lock but its file is gone (prompts/summarize/v1.yaml).\n"
        "A released prompt version must stay: recorded scores and logs refer to it.\n"
        "What to do:\n"
        "  - restore the file (e.g. git checkout -- prompts/summarize/v1.yaml), or\n"
        "  - if removing the version is intended and reviewed, re-lock: pytest --llm-lock-prompts"
    )
    assert "-- content: 'Summarise v2: {{ ticket }}'\n+- content: 'Summarize v2: {{ ticket }}'\n" in violations[1].diff
    with pytest.raises(PromptLockError) as info:
        fresh.verify_lock()
    assert info.value.violations == violations
    assert str(info.value) == violations[0].message + "\n\n" + violations[1].message


def test_relock_accepts_the_current_content(project: Path) -> None:
    lock = project / "prompts" / "prompts.lock"
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v2")
    reg.get("summarize", "v3")
    reg.save_lock()
    v3 = project / "prompts/summarize/v3.yaml"
    v3.write_text(v3.read_text().replace("temperature: 0,", "temperature: 0.5,"))
    (project / "prompts/summarize/v2.yaml").unlink()

    fresh = PromptRegistry("prompts")
    assert len(fresh.check_lock()) == 2
    before = lock.read_bytes()
    changed = fresh.relock()
    assert lock.read_bytes() == before  # relock() alone writes nothing
    assert changed == ["classify@v1", "summarize@v1", "summarize@v10", "summarize@v2", "summarize@v3"]
    assert fresh.check_lock() == []
    assert fresh.save_lock() is True
    data = yaml.safe_load(lock.read_text())["prompts"]
    assert sorted(data["summarize"]) == ["v1", "v10", "v3"]  # the removed v2 is dropped
    assert data["summarize"]["v3"]["config"]["params"]["temperature"] == 0.5
    assert PromptRegistry("prompts").check_lock() == []
    assert PromptRegistry("prompts").get("summarize", "v3").params["temperature"] == 0.5
    assert fresh.relock() == []
    assert fresh.save_lock() is False


def test_relock_with_a_broken_file_changes_nothing(project: Path) -> None:
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v3")
    reg.save_lock()
    write(project, "prompts/summarize/v4.yaml", "model: [\n")
    before = snapshot_tree(project)
    fresh = PromptRegistry("prompts")
    with pytest.raises(PromptFileError):
        fresh.relock()
    assert fresh.save_lock() is False
    assert snapshot_tree(project) == before


def test_save_lock_is_atomic(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = project / "prompts" / "prompts.lock"
    reg = PromptRegistry("prompts")
    reg.get("summarize", "v3")
    reg.save_lock()
    before = lock.read_bytes()
    reg.get("summarize", "v2")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(prompts_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        reg.save_lock()
    assert lock.read_bytes() == before
    assert sorted(p.name for p in lock.parent.iterdir() if p.is_file()) == ["prompts.lock"]  # temp file removed
    monkeypatch.undo()
    monkeypatch.chdir(project)
    assert reg.save_lock() is True
    assert sorted(yaml.safe_load(lock.read_text())["prompts"]["summarize"]) == ["v2", "v3"]


def test_concurrent_sessions_merge_their_first_use_entries(project: Path) -> None:
    lock = project / "prompts" / "prompts.lock"
    worker_a, worker_b = PromptRegistry("prompts"), PromptRegistry("prompts")
    worker_a.get("summarize", "v1")
    worker_b.get("summarize", "v2")
    worker_b.get("classify")
    assert worker_a.save_lock() is True
    assert worker_b.save_lock() is True
    data = yaml.safe_load(lock.read_text())["prompts"]
    assert sorted(data["summarize"]) == ["v1", "v2"] and list(data["classify"]) == ["v1"]


def test_custom_lock_path(project: Path) -> None:
    reg = PromptRegistry("prompts", lock_path=project / "locks" / "my.lock")
    reg.get("summarize", "v3")
    assert reg.save_lock() is True
    assert (project / "locks" / "my.lock").exists()
    assert not (project / "prompts" / "prompts.lock").exists()


def test_malformed_lock_file_names_file_and_line(project: Path) -> None:
    write(project, "prompts/prompts.lock", "lock_format: 1\nprompts:\n  summarize:\n    v3: {digest: 1}\n")
    with pytest.raises(PromptFileError) as info:
        PromptRegistry("prompts").get("summarize", "v3")
    assert str(info.value) == (
        "prompts/prompts.lock:4: prompts.summarize.v3 must have digest and config.\n"
        "  The lock file is generated: restore it from version control, or re-lock with pytest --llm-lock-prompts."
    )
    write(project, "prompts/prompts.lock", "prompts: [\n")
    with pytest.raises(PromptFileError, match=r"prompts/prompts.lock:2:1: malformed YAML in the prompt lock file"):
        PromptRegistry("prompts").check_lock()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=_configs)
def test_lock_snapshot_round_trips(tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]) -> None:
    root = tmp_path_factory.mktemp("lockrt")
    path = root / "prompts" / "p" / "v1.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    reg = PromptRegistry(root / "prompts")
    prompt = reg.get("p", "v1")
    assert reg.save_lock() is True
    snapshot = yaml.safe_load((root / "prompts" / "prompts.lock").read_text(encoding="utf-8"))
    assert snapshot["prompts"]["p"]["v1"] == {"digest": prompt.digest, "config": prompt.config}
    fresh = PromptRegistry(root / "prompts")
    assert fresh.check_lock() == []
    assert fresh.save_lock() is False
