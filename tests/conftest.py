"""Shared fixtures of the plugin's own tests.

``provider`` is the loopback server speaking OpenAI's and Anthropic's wire formats (the only thing
any test talks to: 127.0.0.1). ``project`` wraps ``pytester``: it writes a user's test files, and runs
pytest live (recording against the loopback server, with keys) or in replay (no keys, base URLs
pointing at a closed port, so any attempt to reach the network would fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic  # noqa: F401
import openai  # noqa: F401
import pytest
import yaml  # noqa: F401

# Imported once here, in the outer session: pytester's in-process runs drop the modules a run
# imported, so each run would import the SDKs again (about a second each), and libyaml's C parser
# would build nodes of a stale module's classes ("could not determine a constructor for the tag").

# The plugin imports its feature modules only when a session uses the feature; import them here, once,
# for the same reason: else each in-process run would import them again, and a run could patch a
# module a previous run left behind as an attribute of the package (``from . import assertions``)
# while the test gets a fresh one (the shadow's scorers).
import pytest_llmops.assertions
import pytest_llmops.audit
import pytest_llmops.baseline
import pytest_llmops.datasets
import pytest_llmops.faults
import pytest_llmops.htmlreport
import pytest_llmops.judge
import pytest_llmops.lastrun
import pytest_llmops.prompt_session
import pytest_llmops.repeat
import pytest_llmops.report
import pytest_llmops.review
import pytest_llmops.schema
import pytest_llmops.shadow
import pytest_llmops.transport
import pytest_llmops.usage  # noqa: F401
from pytest_llmops.loopback import LoopbackProvider

TESTS = Path(__file__).parent
SHARED = TESTS.parent.parent / "shared"
DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens; a request would fail to connect


@pytest.fixture(scope="session")
def provider() -> Iterator[LoopbackProvider]:
    with LoopbackProvider() as server:
        yield server


class Project:
    """A user's project in a pytester folder, run live or in replay."""

    def __init__(self, pytester: pytest.Pytester, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch):
        self.pytester = pytester
        self.provider = provider
        self.monkeypatch = monkeypatch
        self.path = pytester.path
        monkeypatch.delenv("CI", raising=False)
        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "ANTHROPIC_AUTH_TOKEN", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(name, raising=False)
        pytester.makepyfile(sdk_calls=(TESTS / "sdk_calls.py").read_text())
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")

    def live_env(self, openai_key: str = "loopback-openai-key", anthropic_key: str = "loopback-anthropic-key") -> None:
        self.monkeypatch.setenv("OPENAI_BASE_URL", self.provider.openai_base_url)
        self.monkeypatch.setenv("ANTHROPIC_BASE_URL", self.provider.anthropic_base_url)
        self.monkeypatch.setenv("OPENAI_API_KEY", openai_key)
        self.monkeypatch.setenv("ANTHROPIC_API_KEY", anthropic_key)

    def replay_env(self) -> None:
        self.monkeypatch.setenv("OPENAI_BASE_URL", DEAD_URL + "/v1")
        self.monkeypatch.setenv("ANTHROPIC_BASE_URL", DEAD_URL)
        self.monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        self.monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    def run(self, *args: str, live: bool | None = False) -> pytest.RunResult:
        """Run pytest in the project: ``live=True`` sets the live environment, ``False`` the replay
        one, ``None`` leaves the environment as the test set it."""
        if live:
            self.live_env()
        elif live is False:
            self.replay_env()
        return self.pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)

    def cassette(self, relative: str) -> Path:
        return self.path / "cassettes" / relative


@pytest.fixture
def project(pytester: pytest.Pytester, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> Project:
    return Project(pytester, provider, monkeypatch)
