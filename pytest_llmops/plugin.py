"""pytest wiring for pytest-llmops: options, ini settings, markers, fixtures and hooks.

Nothing here does the work; each hook or fixture hands over to the module named for the job.
Sessions whose tests use no LLM fixture or marker pay for the option parsing and nothing else: the
transport is patched only around tests that use a cassette.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from .cassette import Cassette
from .context import close_context, open_context
from .errors import CassetteMiss, LLMOpsError
from .session import LLMSession, TestOutcome
from .settings import Settings
from .transport import KEY_VARIABLES, MISSING_KEY

SESSION_KEY = pytest.StashKey[LLMSession]()
OUTCOME_KEY = pytest.StashKey[TestOutcome]()
_ENV_KEY = pytest.StashKey[dict[str, str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmops", "LLM regression testing (pytest-llmops)")
    group.addoption(
        "--llm-live",
        nargs="?",
        const="all",
        default=None,
        metavar="new",
        help="call the real providers and re-record the cassettes of the tests that run; "
        "--llm-live=new records only tests that have no cassette yet. Without it, tests replay.",
    )
    group.addoption(
        "--llm-model",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="send model NEW wherever a request or prompt asks for OLD (model-upgrade check); repeatable.",
    )
    group.addoption(
        "--llm-update-baseline",
        action="store_true",
        default=False,
        help="write this run's scores as the new baseline (llm_baseline); without it the file is never touched.",
    )
    group.addoption("--llm-report", metavar="PATH", default=None,
                    help="write one JSON line per provider call (the per-call log) to PATH.")
    group.addoption("--llm-budget", metavar="USD", type=float, default=None,
                    help="live runs: stop calling providers once the estimated spend passes USD.")
    group.addoption("--llm-html", metavar="PATH", default=None,
                    help="write a self-contained HTML report of scores vs the baseline to PATH.")
    group.addoption("--llm-repeat", metavar="N", type=int, default=None,
                    help="live runs: repeat each LLM test N times, each repetition recorded as its own episode.")
    group.addoption("--llm-lock-prompts", action="store_true", default=False,
                    help="after review, accept the current content of every prompt version into the lock file.")
    group.addoption("--llm-shadow", metavar="MODEL", default=None,
                    help="live runs: also send each request to MODEL, record and score its answers beside the real ones.")
    parser.addini("llm_cassette_dir", "folder of the cassettes, relative to the root folder", default="cassettes")
    parser.addini("llm_prompt_dir", "folder of the versioned prompts", default="prompts")
    parser.addini("llm_baseline", "the committed score baseline file", default="llm-baseline.json")
    parser.addini("llm_tolerance", "how far a score may drop below its baseline", default="0.05")
    parser.addini("llm_judge_model", "the pinned model of the LLM judge", default="")
    parser.addini(
        "llm_filter_headers",
        "header names scrubbed from cassettes, on top of the built-in secret list",
        type="args",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(cassette=None): the test talks to an LLM provider; its traffic is recorded to / replayed "
        "from <llm_cassette_dir>/<module>/<test>.yaml, or the shared cassette named.",
    )
    _fix_live_option(config)
    try:
        settings = Settings.from_config(config)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    session_id = workerinput.get("llm_session_id") if workerinput else None
    config.stash[SESSION_KEY] = LLMSession(settings, session_id)
    # Clients are often built at import time (``client = OpenAI()``), which fails without a key. Replay
    # needs none, so a missing key gets a placeholder; in live mode the transport refuses to send the
    # placeholder and names the variable to set.
    saved = {name: os.environ.get(name) for name in KEY_VARIABLES.values()}
    config.stash[_ENV_KEY] = saved
    for name, value in saved.items():
        if not value:
            os.environ[name] = MISSING_KEY


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_ENV_KEY, None)
    for name, value in (saved or {}).items():
        if value is None:
            os.environ.pop(name, None)
        elif not value:
            os.environ[name] = value


def _fix_live_option(config: pytest.Config) -> None:
    """``pytest --llm-live tests/x.py``: the optional value swallowed a path; give it back."""
    value = config.option.llm_live
    if value is None or value in ("all", "new"):
        return
    config.option.llm_live = "all"
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args = [value, *config.args]
    else:
        config.args = [value]
        config.args_source = pytest.Config.ArgsSource.ARGS


def pytest_sessionfinish(session: pytest.Session) -> None:
    llm = session.config.stash.get(SESSION_KEY, None)
    if llm is not None:
        llm.channels.publish(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: merge what a finished worker collected (usage, scores, ...)."""
    node.config.stash[SESSION_KEY].channels.receive(getattr(node, "workeroutput", {}))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker records into the same session (shared cassettes merge)."""
    node.workerinput["llm_session_id"] = node.config.stash[SESSION_KEY].session_id


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[SESSION_KEY].settings
    mode = {"replay": "replay (offline)", "live": "live: re-recording", "new": "live: recording new tests only"}
    line = f"llmops: {mode[settings.mode]}, cassettes in {settings.cassette_dir}"
    if settings.ci and settings.mode == "replay":
        line += " (CI=true: replay only)"
    lines = [line]
    if settings.ignored_live:
        lines.append("llmops: --llm-live from addopts ignored because CI=true; pass it on the command line")
    if settings.model_map:
        lines.append("llmops: model substitution " + ", ".join(f"{a} -> {b}" for a, b in settings.model_map.items()))
    return lines


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test marked ``llm`` uses the ``llm_cassette`` fixture, set up before its other fixtures."""
    if item.get_closest_marker("llm") is not None and isinstance(item, pytest.Function):
        if "llm_cassette" not in item.fixturenames:
            item.fixturenames = ["llm_cassette", *item.fixturenames]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call" and OUTCOME_KEY in item.stash:
        outcome = item.stash[OUTCOME_KEY]
        outcome.ran = True
        outcome.passed = report.passed
        if call.excinfo is not None:
            outcome.assertion_failed = call.excinfo.errisinstance(AssertionError)
            outcome.miss_shown = call.excinfo.errisinstance(CassetteMiss)
    style = item.config.getoption("tbstyle", "auto")
    if call.excinfo is not None and call.excinfo.errisinstance(LLMOpsError) and style in ("auto", "long", "short"):
        # Show the test's own frames and the message, not fifty frames of SDK internals.
        frames = call.excinfo.traceback.cut(path=item.path)
        frames = frames.filter(lambda entry: not _library_frame(str(entry.path))) or frames
        report.longrepr = call.excinfo.getrepr(
            style="long" if style == "auto" else style, funcargs=True, tbfilter=lambda _: frames
        )
    return report


def _library_frame(path: str) -> bool:
    return any(part in path for part in ("site-packages", "dist-packages", os.sep + "pytest_llmops" + os.sep))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    open_context(item.nodeid, item)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    close_context()


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette, active for the test: provider calls replay from it, or record to it
    under ``--llm-live``.

    File: ``<llm_cassette_dir>/<test module>/<test name>.yaml`` (or the one named with
    ``@pytest.mark.llm(cassette=...)``). Attributes: ``path``, ``requests`` (requests sent by the test),
    ``play_count`` (answered from the recording), ``interactions``, ``recording``.
    A test marked ``@pytest.mark.llm`` gets it without asking.
    """
    session = request.config.stash[SESSION_KEY]
    outcome = request.node.stash.setdefault(OUTCOME_KEY, TestOutcome())
    with session.activate(request.node, outcome) as cassette:
        yield cassette
