"""Generate docs/reference.md from the plugin as installed: every option of the llmops group of
``pytest --help``, every ``llm_*`` ini setting, every ``llm*`` marker of ``pytest --markers``, every
fixture of ``pytest --fixtures`` defined by pytest_llmops, every ``python -m pytest_llmops`` command
and every name of ``pytest_llmops.__all__``, with the help text the plugin itself prints.

    python scripts/reference.py            # print the page
    python scripts/reference.py --write    # write docs/reference.md

``tests/test_docs.py::test_reference_lists_everything`` fails when the page misses a name the plugin
has (it uses the ``parse_*`` functions below on in-process runs): run this script again after adding an
option, ini setting, marker, fixture, command or public name, and give it a row in ``SEE`` below.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference.md"
GROUP_TITLE = "LLM regression testing (pytest-llmops):"

#: Where each name is documented (a docs page, with its anchor). Names missing here get no link.
SEE = {
    # options
    "--llm-live": "cassettes.md#modes",
    "--llm-model": "prompts.md#model-upgrades---llm-model-oldnew",
    "--llm-update-baseline": "baseline.md#the-workflow",
    "--llm-report": "usage.md#the-per-call-log---llm-report",
    "--llm-budget": "usage.md#a-budget-for-live-runs---llm-budget",
    "--llm-html": "baseline.md#html-report---llm-html",
    "--llm-repeat": "noise.md",
    "--llm-lock-prompts": "prompts.md#the-lock-file",
    "--llm-shadow": "production-loop.md",
    # ini
    "llm_cassette_dir": "cassettes.md#where-they-live",
    "llm_prompt_dir": "prompts.md#files-and-folders",
    "llm_baseline": "baseline.md#the-baseline-file",
    "llm_tolerance": "baseline.md#tolerance",
    "llm_tolerance_metrics": "baseline.md#tolerance",
    "llm_judge_model": "judge.md#the-judges-model-llm_judge_model",
    "llm_pricing": "usage.md#your-own-prices-llm_pricing",
    "llm_filter_headers": "secrets.md",
    "llm_stat_method": "noise.md",
    "llm_alpha": "noise.md",
    "llm_bootstrap_resamples": "noise.md",
    "llm_bootstrap_seed": "noise.md",
    # markers
    "llm": "cassettes.md#where-they-live",
    "llm_faults": "faults.md#the-marker",
    "llm_prompt": "prompts.md#testing-several-versions-pytestmarkllm_prompt",
    "llm_tolerance (marker)": "baseline.md#tolerance",
    # fixtures
    "llm_cassette": "cassettes.md#where-they-live",
    "fixture llm_faults": "faults.md#the-fixture",
    "llm_usage": "usage.md#the-llm_usage-fixture",
    "llm_prompts": "prompts.md#using-a-prompt-in-a-test",
    "fixture llm_prompt": "prompts.md#testing-several-versions-pytestmarkllm_prompt",
    "llm_judge": "judge.md#the-llm_judge-fixture",
    "fixture llm_baseline": "baseline.md#recording-scores",
    # commands
    "audit": "audit.md",
    "promote": "production-loop.md",
    "review": "production-loop.md",
    # public names
    "Usage": "usage.md#the-llm_usage-fixture",
    "classify_error": "faults.md#classify_error",
    "classify_response": "faults.md#classify_error",
    "ErrorClass": "faults.md#classify_error",
    "Faults": "faults.md#strategies",
    "assert_schema": "assertions.md#assert_schema",
    "assert_faithful": "assertions.md#assert_faithful-offline",
    "assert_judge": "assertions.md#assert_judge",
    "Judge": "judge.md#without-pytest",
    "JudgeScore": "judge.md#judgescore-and-judgescore",
    "JudgeError": "assertions.md#when-the-judge-gives-no-verdict",
    "JudgeConfigError": "judge.md#the-judges-model-llm_judge_model",
    "FaithfulnessAssertionError": "assertions.md#assert_faithful-offline",
    "JudgeAssertionError": "assertions.md#assert_judge",
    "SchemaAssertionError": "schema.md",
    "Prompt": "prompts.md#using-a-prompt-in-a-test",
    "PromptRegistry": "prompts.md#without-pytest",
    "PromptError": "prompts.md#errors",
    "load_prompt": "prompts.md#without-pytest",
    "BaselineError": "baseline.md#errors",
    "BaselineVerdict": "baseline.md#recording-scores",
    "SnapshotVerdict": "baseline.md#for-extension-authors",
    "RepeatError": "noise.md",
    "RepeatWarning": "noise.md",
    "capture": "production-loop.md",
}


# -- parsing what pytest prints (also used by tests/test_docs.py) ----------------------------------
def parse_options(help_lines: list[str]) -> dict[str, str]:
    """``--llm-*`` options of the llmops group of ``pytest --help``: name -> "usage: help"."""
    options: dict[str, str] = {}
    inside, current = False, None
    for line in help_lines:
        if line.strip() == GROUP_TITLE:
            inside = True
            continue
        if not inside:
            continue
        if not line.strip():
            break
        entry = re.match(r"^  (--[\w-]+)(\S*)\s*(.*)$", line)
        if entry:
            current = entry.group(1)
            options[current] = (entry.group(1) + entry.group(2) + "\t" + entry.group(3)).strip()
        elif current:
            options[current] += " " + line.strip()
    return {name: _tidy(text) for name, text in options.items()}


def parse_ini(help_lines: list[str]) -> dict[str, str]:
    """``llm_*`` ini settings of ``pytest --help``: name -> "(type): help"."""
    found: dict[str, str] = {}
    current = None
    for line in help_lines:
        entry = re.match(r"^  (llm_\w+) \((\w+)\):\s*(.*)$", line)
        if entry:
            current = entry.group(1)
            found[current] = f"({entry.group(2)})\t{entry.group(3)}".strip()
        elif current and re.match(r"^ {20,}\S", line):
            found[current] += " " + line.strip()
        else:
            current = None
    return {name: _tidy(text) for name, text in found.items()}


def parse_markers(marker_lines: list[str]) -> dict[str, str]:
    """``@pytest.mark.llm*`` markers of ``pytest --markers``: name -> "signature: help"."""
    found: dict[str, str] = {}
    for line in marker_lines:
        entry = re.match(r"^@pytest\.mark\.(llm\w*)(.*)$", line)
        if entry:
            found[entry.group(1)] = (entry.group(1) + entry.group(2)).strip()
    return found


def parse_fixtures(fixture_lines: list[str]) -> dict[str, str]:
    """Fixtures of ``pytest --fixtures`` defined from pytest_llmops: name -> "[scope] docstring"."""
    found: dict[str, str] = {}
    inside, current = False, None
    for line in fixture_lines:
        if line.startswith("---"):
            inside = "fixtures defined from pytest_llmops" in line
            current = None
            continue
        if not inside:
            continue
        entry = re.match(r"^(\w+)( \[[\w ]+\])? -- ", line)
        if entry:
            current = entry.group(1)
            found[current] = (entry.group(2) or "").strip()
        elif current and line.startswith("    "):
            found[current] += " " + line.strip()
    return {name: _tidy(text) for name, text in found.items()}


def parse_commands(help_lines: list[str]) -> dict[str, str]:
    """Subcommands of ``python -m pytest_llmops --help``: name -> help."""
    found: dict[str, str] = {}
    current = None
    for line in help_lines:
        entry = re.match(r"^    (\w[\w-]*)\s{2,}(.*)$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2)
        elif current and re.match(r"^ {10,}\S", line):
            found[current] += " " + line.strip()
        else:
            current = None
    return {name: _tidy(text) for name, text in found.items()}


def public_names() -> dict[str, str]:
    """``pytest_llmops.__all__``: name -> first line of its docstring."""
    package = importlib.import_module("pytest_llmops")
    found: dict[str, str] = {}
    for name in package.__all__:
        if name == "__version__":
            continue
        try:
            obj = getattr(package, name)
        except Exception as exc:  # noqa: BLE001 - a name that does not import is listed as such
            found[name] = f"(does not import: {exc})"
            continue
        doc = inspect.getdoc(obj) or ""
        found[name] = doc.strip().split("\n\n")[0].replace("\n", " ")
    return found


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\t", " ")).strip()


# -- running pytest as a user would -----------------------------------------------------------------
def _run(*args: str) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        done = subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, check=False,
                              env={**os.environ, "COLUMNS": "100"})
    return done.stdout.splitlines()


def collect() -> dict[str, dict[str, str]]:
    help_lines = _run("-m", "pytest", "--help", "-p", "no:hypothesispytest")
    return {
        "options": parse_options(help_lines),
        "ini": parse_ini(help_lines),
        "markers": parse_markers(_run("-m", "pytest", "--markers", "-p", "no:hypothesispytest")),
        "fixtures": parse_fixtures(_run("-m", "pytest", "--fixtures", "-p", "no:hypothesispytest")),
        "commands": parse_commands(_run("-m", "pytest_llmops", "--help")),
        "api": public_names(),
    }


# -- the page ----------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    """Table cell text: Sphinx roles as code, ``|`` escaped, ``<`` and ``>`` escaped outside code spans
    (GitHub would take ``<llm_cassette_dir>`` for an HTML tag)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("|", "\\|")
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _see(key: str, *fallbacks: str) -> str:
    for candidate in (key, *fallbacks):
        if candidate in SEE:
            target = SEE[candidate]
            return f"[{target.split('#')[0].removesuffix('.md')}]({target})"
    return ""


def render(lists: dict[str, dict[str, str]]) -> str:
    out = [
        "# Reference: options, ini settings, markers, fixtures, commands",
        "",
        "Generated from the plugin itself by `python scripts/reference.py --write` (the help texts are the",
        "ones `pytest --help`, `pytest --markers` and `pytest --fixtures` print). `tests/test_docs.py` fails",
        "when the plugin has an option, ini setting, marker, fixture, command or public name this page does",
        "not list. The last column links to the page that explains it.",
        "",
        "- [Command-line options](#command-line-options)",
        "- [ini settings](#ini-settings)",
        "- [Markers](#markers)",
        "- [Fixtures](#fixtures)",
        "- [`python -m pytest_llmops` commands](#python--m-pytest_llmops-commands)",
        "- [Public API (`pytest_llmops`)](#public-api-pytest_llmops)",
        "- [Environment variables](#environment-variables)",
        "",
        "## Command-line options",
        "",
        f"The \"{GROUP_TITLE[:-1]}\" group of `pytest --help`.",
        "",
        "| option | what it does | see |",
        "| --- | --- | --- |",
    ]
    for name, text in lists["options"].items():
        usage, _, help_text = text.partition(" ")
        out.append(f"| `{usage}` | {_cell(help_text)} | {_see(name)} |")
    out += ["", "## ini settings", "",
            "In `[tool.pytest.ini_options]` of `pyproject.toml`, or `[pytest]` of `pytest.ini`; `-o name=value` on the",
            "command line overrides one for a run.", "",
            "| setting | type | what it sets | see |", "| --- | --- | --- | --- |"]
    for name, text in lists["ini"].items():
        kind, _, help_text = text.partition(" ")
        out.append(f"| `{name}` | {kind.strip('()')} | {_cell(help_text)} | {_see(name)} |")
    out += ["", "## Markers", "", "| marker | what it does | see |", "| --- | --- | --- |"]
    for name, text in lists["markers"].items():
        signature, _, help_text = text.partition(": ")
        out.append(f"| `@pytest.mark.{signature}` | {_cell(help_text)} | {_see(name + ' (marker)', name)} |")
    out += ["", "## Fixtures", "", "| fixture | scope | what it gives | see |", "| --- | --- | --- | --- |"]
    for name, text in lists["fixtures"].items():
        scope = re.match(r"^\[(\w+) scope\]\s*", text)
        doc = text[scope.end():] if scope else text
        doc = doc.replace("``", "`")
        out.append(f"| `{name}` | {scope.group(1) if scope else 'function'} | {_cell(doc)} | {_see('fixture ' + name, name)} |")
    out += ["", "## `python -m pytest_llmops` commands", "",
            "`python -m pytest_llmops COMMAND --help` prints each command's options.", "",
            "| command | what it does | see |", "| --- | --- | --- |"]
    for name, text in lists["commands"].items():
        out.append(f"| `{name}` | {_cell(text)} | {_see(name)} |")
    out += ["", "## Public API (`pytest_llmops`)", "",
            "Importable from `pytest_llmops` (`__all__`; imported on first use, so `import pytest_llmops` stays cheap).", "",
            "| name | what it is | see |", "| --- | --- | --- |"]
    for name, text in lists["api"].items():
        out.append(f"| `{name}` | {_cell(text.replace('``', '`'))} | {_see(name)} |")
    out += [
        "", "## Environment variables", "",
        "| variable | effect | see |", "| --- | --- | --- |",
        "| `CI` | `CI=true` (as CI services set it): replay only, whatever `addopts` or `PYTEST_ADDOPTS` say; only `--llm-live` typed on the command line records; the prompt lock file is never written and a prompt version missing from it fails the session | [cassettes](cassettes.md#modes), [prompts](prompts.md#in-ci) |",
        "| `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` | needed to record (`--llm-live`); never needed to replay (a placeholder is put in a missing one so clients can be built) | [cassettes](cassettes.md#modes) |",
        "| `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL` | read by the SDKs: where live calls go (the loopback server, a proxy); ignored by replay, which matches requests without their host | [cassettes](cassettes.md#matching) |",
        "| `PYTEST_LLMOPS_MAX_CASSETTE_MB` | size limit of a cassette file (default 64) | [migrating](migrating.md#when-a-cassette-cannot-be-read) |",
        "| `SOURCE_DATE_EPOCH` | fixes \"today\" for the `updated` date of baseline entries (reproducible runs) | [baseline](baseline.md#the-baseline-file) |",
        "",
    ]
    return "\n".join(out)


def main() -> int:
    page = render(collect())
    if "--write" in sys.argv[1:]:
        PAGE.write_text(page, encoding="utf-8")
        print(f"wrote {PAGE.relative_to(ROOT)}")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
