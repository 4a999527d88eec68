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
    parser.addini("llm_tolerance_metrics", "per-metric tolerances, e.g. faithfulness=0.1 judge=0.5", type="args", default=[])
    parser.addini("llm_judge_model", "the pinned model of the LLM judge", default="")
    parser.addini("llm_pricing", "JSON or TOML file of model prices (USD per 1M tokens) merged over the built-in table",
                  default="")
    parser.addini(
        "llm_filter_headers",
        "header names scrubbed from cassettes, on top of the built-in secret list",
        type="args",
        default=[],
    )
    _noise_addini(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(cassette=None, repeat=None): the test talks to an LLM provider; its traffic is recorded to / replayed "
        "from <llm_cassette_dir>/<module>/<test>.yaml, or the shared cassette named. repeat=N: a live run "
        "runs its body N times, each repetition recorded in its cassette and replayed in order (docs/noise.md).",
    )
    config.addinivalue_line("markers", FAULTS_MARKER_HELP)
    _fix_live_option(config)
    try:
        settings = Settings.from_config(config)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    session_id = workerinput.get("llm_session_id") if workerinput else None
    config.stash[SESSION_KEY] = LLMSession(settings, session_id)
    _configure_usage(config)
    _configure_adoption(config)
    _configure_prompts(config)
    _configure_baseline(config)
    _configure_noise(config)
    _configure_production_loop(config)
    # Clients are often built at import time (``client = OpenAI()``), which fails without a key. Replay
    # needs none, so a missing key gets a placeholder; in live mode the transport refuses to send the
    # placeholder and names the variable to set.
    saved = {name: os.environ.get(name) for name in KEY_VARIABLES.values()}
    config.stash[_ENV_KEY] = saved
    for name, value in saved.items():
        if not value:
            os.environ[name] = MISSING_KEY


def pytest_unconfigure(config: pytest.Config) -> None:
    _production_loop_unconfigure(config)
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


def pytest_sessionstart(session: pytest.Session) -> None:
    _prompts_sessionstart(session)
    _baseline_sessionstart(session)


def pytest_sessionfinish(session: pytest.Session) -> None:
    llm = session.config.stash.get(SESSION_KEY, None)
    if llm is not None:
        llm.channels.publish(session.config)
    _prompts_sessionfinish(session)
    _usage_sessionfinish(session)
    _save_used_cassettes(session)
    _baseline_sessionfinish(session)
    _production_loop_sessionfinish(session)


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
    lines += _noise_header(config)
    lines += _shadow_header(config)
    return lines


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test marked ``llm`` uses the ``llm_cassette`` fixture, set up before its other fixtures."""
    if item.get_closest_marker("llm") is not None and isinstance(item, pytest.Function):
        if "llm_cassette" not in item.fixturenames:
            item.fixturenames = ["llm_cassette", *item.fixturenames]
    _use_faults_fixture(item)


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
    _baseline_report(item, call, report)
    return report


def _library_frame(path: str) -> bool:
    return any(part in path for part in ("site-packages", "dist-packages", os.sep + "pytest_llmops" + os.sep))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    open_context(item.nodeid, item)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _prompts_teardown(item)
    _baseline_teardown(item)
    _shadow_teardown(item)
    close_context()
    _collect_drift(item)


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


# -- faults ----------------------------------------------------------------------------------------
FAULTS_MARKER_HELP = (
    "llm_faults(kind, times=1, **options): the test's next provider calls fail the way the provider "
    "fails them (kind: rate_limit, overloaded, server_error, bad_gateway, service_unavailable, timeout, "
    "connection_reset, stream_cut, truncated, malformed_json, refusal, context_length, error, respond); "
    "options as for the llm_faults fixture's method of that name (docs/faults.md). Gives the test llm_faults."
)


def _use_faults_fixture(item: pytest.Item) -> None:
    """A test marked ``llm_faults`` gets the ``llm_faults`` fixture without asking."""
    if item.get_closest_marker("llm_faults") is not None and isinstance(item, pytest.Function):
        if "llm_faults" not in item.fixturenames:
            item.fixturenames = [*item.fixturenames, "llm_faults"]


@pytest.fixture
def llm_faults(request: pytest.FixtureRequest, llm_cassette: Cassette) -> Iterator[Any]:
    """Fault injection: the next provider calls fail as OpenAI / Anthropic really fail, in their wire
    format, so the real SDK retries, raises and parses (``llm_faults.rate_limit(times=2)``,
    ``.overloaded()``, ``.timeout()``, ``.stream_cut()``, ``.truncated()``, ``.malformed_json()``, ...).

    Calls not faulted replay from (or record to) the test's cassette. Retries after a fault never
    sleep: ``llm_faults.waits`` holds what the SDK asked for; ``llm_faults.calls`` counts HTTP attempts.
    Faults still pending when a passing test ends fail it (the code never made those calls).
    """
    from .faults import Faults
    from .session import INTERCEPTOR_KEY

    faults = Faults()
    for marker in _fault_markers(request.node):
        try:
            faults.inject(*marker.args, **marker.kwargs)
        except (TypeError, ValueError) as exc:
            arguments = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
            pytest.fail(f"@pytest.mark.llm_faults({arguments}): {exc}", pytrace=False)
    monkeypatch = pytest.MonkeyPatch()
    faults.attach(request.node.stash[INTERCEPTOR_KEY], monkeypatch)
    try:
        yield faults
    finally:
        faults.detach()
        monkeypatch.undo()
    outcome = request.node.stash.get(OUTCOME_KEY, None)
    if faults.pending and outcome is not None and outcome.passed:
        pytest.fail(
            f"pytest-llmops: the test passed, but {faults.pending} injected fault(s) were never served: "
            f"{faults.describe_pending()}.\nThe code under test made fewer provider calls than faults were "
            f"scheduled ({faults.calls} call(s) seen), so those failure paths were not exercised. Lower `times`, "
            f"or call llm_faults.clear() once the faults are no longer wanted.",
            pytrace=False,
        )


def _fault_markers(item: pytest.Item) -> list[pytest.Mark]:
    """``llm_faults`` markers in the order to apply them: module, class, then the test's, each top to bottom."""
    ordered: list[pytest.Mark] = []
    for node in item.listchain():
        own = [mark for mark in getattr(node, "own_markers", []) if mark.name == "llm_faults"]
        ordered.extend(own if isinstance(node, pytest.Module) else reversed(own))  # decorators apply bottom-up
    return ordered


# -- usage -----------------------------------------------------------------------------------------
USAGE_KEY = pytest.StashKey["UsageState"]()


class UsageState:
    """The run's usage log, and where to report it."""

    def __init__(self, log: Any, report_path: Any, budget_usd: float | None) -> None:
        self.log = log
        self.report_path = report_path
        self.budget_usd = budget_usd
        self.report_written: str | None = None


def _configure_usage(config: pytest.Config) -> None:
    """Price table, per-call log listener, xdist channel, and the live-run budget."""
    from pathlib import Path

    from .pricing import PricingError, load_pricing
    from .usage import Budget, UsageLog, ledger_path
    from .xdist import Channel, is_worker

    session = config.stash[SESSION_KEY]
    pricing_file = str(config.getini("llm_pricing") or "").strip()
    user_file = None
    if pricing_file:
        user_file = Path(pricing_file)
        user_file = user_file if user_file.is_absolute() else session.settings.rootpath / user_file
    try:
        pricing = load_pricing(user_file)
    except PricingError as exc:
        raise pytest.UsageError(f"llm_pricing: {exc}") from None
    budget_usd = config.getoption("llm_budget", None)
    if budget_usd is not None and not budget_usd >= 0:  # negative or NaN
        raise pytest.UsageError(f"--llm-budget expects an amount in USD >= 0, got {budget_usd}")
    budget = None
    if budget_usd is not None and session.settings.live:
        budget = Budget(budget_usd, ledger_path(session.session_id) if is_worker(config) else None)
        session.send_checks.append(budget.check)
    log = UsageLog(pricing, budget)
    session.listeners.append(log.on_exchange)
    session.channels.register(Channel("usage", log.collect, log.merge))
    report = config.getoption("llm_report", None)
    report_path = Path(config.invocation_params.dir, report) if report else None
    config.stash[USAGE_KEY] = UsageState(log, report_path, budget_usd if session.settings.live else None)


def _usage_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): write the per-call log; drop the budget ledger."""
    import contextlib

    from .report import write_usage_jsonl
    from .usage import ledger_path
    from .xdist import is_worker

    state = session.config.stash.get(USAGE_KEY, None)
    if state is None or is_worker(session.config):
        return
    if state.report_path is not None:
        write_usage_jsonl(state.report_path, state.log.records)
        state.report_written = str(session.config.getoption("llm_report"))
    with contextlib.suppress(OSError):
        ledger_path(session.config.stash[SESSION_KEY].session_id).unlink()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    _usage_terminal_summary(terminalreporter, config)
    _drift_terminal_summary(terminalreporter, config)
    _prompts_terminal_summary(terminalreporter, config)
    _baseline_terminal_summary(terminalreporter, config)
    _datasets_terminal_summary(terminalreporter, config)
    _production_loop_terminal_summary(terminalreporter, config)


def _usage_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .report import usage_summary_lines, write_usage_summary

    state = config.stash.get(USAGE_KEY, None)
    if state is None:
        return
    pricing = state.log.pricing
    lines = usage_summary_lines(
        state.log.records,
        prices_as_of=pricing.as_of,
        price_overrides=bool(pricing.overrides),
        budget_usd=state.budget_usd,
        refused=state.log.refused_calls,
        report_path=state.report_written,
    )
    write_usage_summary(terminalreporter, lines)


@pytest.fixture
def llm_usage(request: pytest.FixtureRequest, llm_cassette: Cassette) -> Any:
    """Tokens, estimated cost and latency of this test's provider calls, updated as it makes them.

    A ``pytest_llmops.Usage``: ``calls``, ``input_tokens``, ``output_tokens``, ``cost_usd`` (``None``
    if a call's cost is unknown; ``known_cost_usd`` and ``unknown_cost_calls`` then say how much is
    known), ``latencies_ms`` and ``p50_ms`` / ``p95_ms`` / ``p99_ms``. Replayed calls count with the
    latency recorded live. Activates the test's cassette, like ``llm_cassette``.
    """
    return request.config.stash[USAGE_KEY].log.for_test(request.node.nodeid)


# -- adopting recorded cassettes: SDK drift report, cassettes used (issue #12) ----------------------
DRIFT_KEY = pytest.StashKey[list[dict[str, Any]]]()


def _configure_adoption(config: pytest.Config) -> None:
    """xdist channels for requests matched through SDK drift rules and for the cassettes used."""
    from pathlib import Path

    from .xdist import Channel

    session = config.stash[SESSION_KEY]
    matches: list[dict[str, Any]] = []
    config.stash[DRIFT_KEY] = matches
    session.channels.register(Channel("drift", lambda: matches, matches.extend))
    session.channels.register(Channel("cassettes_used", lambda: sorted(map(str, session.cassettes_used)),
                                      lambda paths: session.cassettes_used.update(map(Path, paths))))


def _collect_drift(item: pytest.Item) -> None:
    """After a test: the requests its cassette answered only through SDK drift rules."""
    from .session import INTERCEPTOR_KEY

    interceptor = item.stash.get(INTERCEPTOR_KEY, None)
    matches = item.config.stash.get(DRIFT_KEY, None)
    if interceptor is not None and matches is not None and interceptor.cassette.drift:
        cassette = interceptor.cassette
        matches.extend(m.to_record(item.nodeid, cassette.display_path) for m in cassette.drift)
        cassette.drift.clear()


def _save_used_cassettes(session: pytest.Session) -> None:
    """Controller (or a run without xdist): the cassettes this run used, in pytest's cache, for
    ``python -m pytest_llmops audit`` to tell which cassettes no test uses any more."""
    from .audit import USED_CASSETTES_KEY, used_cassettes_value
    from .xdist import is_worker

    config = session.config
    llm = config.stash.get(SESSION_KEY, None)
    cache = getattr(config, "cache", None)
    if llm is None or cache is None or is_worker(config) or not llm.cassettes_used:
        return
    cache.set(USED_CASSETTES_KEY, used_cassettes_value(llm.cassettes_used, llm.settings.rootpath))


def _drift_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .drift import summary_lines

    lines = summary_lines(config.stash.get(DRIFT_KEY, []), verbose=config.get_verbosity() > 0)
    if lines and config.get_verbosity() > 0:
        terminalreporter.write_sep("-", "llmops: requests matched through SDK drift rules")
    for line in lines:
        terminalreporter.write_line(line)


# -- prompts (issue #3) ----------------------------------------------------------------------------
PROMPTS_KEY = pytest.StashKey["SessionPrompts"]()


def _configure_prompts(config: pytest.Config) -> None:
    """The session's prompt registry (lazy: reads nothing until used), the ``llm_prompt`` marker, the
    xdist channel of versions used, and the call-log listener for ``--llm-model`` substitutions."""
    from .prompt_session import MARKER_HELP, SessionPrompts
    from .xdist import Channel, is_worker

    config.addinivalue_line("markers", MARKER_HELP)
    session = config.stash[SESSION_KEY]
    prompts = SessionPrompts(session.settings, relock=bool(config.getoption("llm_lock_prompts", False)),
                             worker=is_worker(config))
    config.stash[PROMPTS_KEY] = prompts
    session.listeners.insert(0, lambda exchange, item: prompts.fill_substitution(exchange))
    session.channels.register(Channel("prompts", prompts.collect, prompts.merge))


def _prompts_sessionstart(session: pytest.Session) -> None:
    """Stop the session before any test runs if a locked prompt version was edited (or re-lock)."""
    from .prompt_session import SessionPromptError

    prompts = session.config.stash.get(PROMPTS_KEY, None)
    if prompts is not None:
        try:
            prompts.start()
        except SessionPromptError as exc:
            raise pytest.UsageError(str(exc)) from None


def _prompts_teardown(item: pytest.Item) -> None:
    from .context import current

    prompts = item.config.stash.get(PROMPTS_KEY, None)
    if prompts is not None:
        prompts.after_test(current())


def _prompts_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): lock the versions used for the first time; under CI=true
    write nothing, and fail the session if versions were used that the lock file does not hold."""
    from .xdist import is_worker

    prompts = session.config.stash.get(PROMPTS_KEY, None)
    if prompts is None or is_worker(session.config):
        return
    if not prompts.finish() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _prompts_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    prompts = config.stash.get(PROMPTS_KEY, None)
    for line, markup in prompts.summary_lines() if prompts is not None else ():
        terminalreporter.write_line(line, **markup)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.llm_prompt("name", versions=[...])``: one run per version, ids ``name@version``."""
    from .prompt_session import PromptParam, marker_args

    marker = metafunc.definition.get_closest_marker("llm_prompt")
    if marker is None:
        return
    try:
        name, versions = marker_args(marker.args, marker.kwargs)
    except ValueError as exc:
        raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: @pytest.mark.llm_prompt: {exc}") from None
    if "llm_prompt" not in metafunc.fixturenames:
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid}: @pytest.mark.llm_prompt({name!r}) gives the test its prompt through "
            f"the `llm_prompt` fixture, which the test does not take: add llm_prompt to its arguments."
        )
    if versions is not None:
        params = [PromptParam(name, version) for version in versions]
        metafunc.parametrize("llm_prompt", params, ids=[p.ref for p in params], indirect=True)


@pytest.fixture(scope="session")
def llm_prompts(pytestconfig: pytest.Config) -> Any:
    """The prompt registry of the session (``<llm_prompt_dir>``, with ``--llm-model`` substitutions):
    ``llm_prompts.get("summarize", version="v3")``, or ``.get("summarize")`` for the latest.

    ``get`` tells the running test which version it uses: the test's provider calls (per-call log) and
    scores carry the prompt's lineage (``name@version`` and digest). A version first used here is
    added to the lock file at the end of the session (never under CI=true). See docs/prompts.md.
    """
    from .prompt_session import PromptsFixture

    return PromptsFixture(pytestconfig.stash[PROMPTS_KEY])


@pytest.fixture
def llm_prompt(request: pytest.FixtureRequest) -> Any:
    """The ``Prompt`` of this run of a test marked ``@pytest.mark.llm_prompt("name", versions=[...])``
    (the latest version without ``versions``); the test's scores carry its lineage."""
    from .prompt_session import marker_args
    from .prompts import PromptError

    marker = request.node.get_closest_marker("llm_prompt")
    if marker is None:
        pytest.fail("the llm_prompt fixture gives the prompt named by @pytest.mark.llm_prompt(\"name\", "
                    "versions=[...]): mark the test, or take llm_prompts and call llm_prompts.get(name).",
                    pytrace=False)
    name, _ = marker_args(marker.args, marker.kwargs)
    param = getattr(request, "param", None)
    version = getattr(param, "version", None)
    try:
        return request.config.stash[PROMPTS_KEY].use(name, version, under_test=True)
    except PromptError as exc:
        problem = str(exc)
    pytest.fail(f"@pytest.mark.llm_prompt({name!r}): {problem}", pytrace=False)


# -- judge and assertions (issue #4) ---------------------------------------------------------------
@pytest.fixture
def llm_judge(request: pytest.FixtureRequest, llm_cassette: Cassette) -> Any:
    """LLM-as-judge with the model pinned by the ``llm_judge_model`` ini setting (``provider:model``):
    ``llm_judge.score(output, rubric=..., scale=(1, 5), n=1)`` -> ``JudgeScore`` (recorded as metric
    "judge"). Its calls go through the test's cassette (recorded under ``--llm-live``, replayed
    offline), and ``assert_judge`` / ``assert_faithful(method="judge")`` use it. The rubric prompt is
    the packaged ``judge`` prompt, or a ``judge`` prompt in ``llm_prompt_dir``. See docs/judge.md.
    """
    from .context import current
    from .judge import JudgeConfigError, judge_from_config
    from .prompts import PromptError

    try:
        judge = judge_from_config(request.config)
    except (JudgeConfigError, PromptError) as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(f"llm_judge: {problem}", pytrace=False)
    ctx = current()
    if ctx is not None:
        ctx.judge = judge
    return judge


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    """``assert score >= 4`` with a ``JudgeScore``: show the rubric, samples, reason and model."""
    import sys

    judge = sys.modules.get("pytest_llmops.judge")  # no JudgeScore can exist before it is imported
    return judge.assertrepr_compare(op, left, right) if judge is not None else None


# -- baseline (issue #5) ---------------------------------------------------------------------------
BASELINE_KEY = pytest.StashKey["BaselineRun"]()
_BASELINE_TEST_KEY = pytest.StashKey["TestScores"]()
_BASELINE_LATE_KEY = pytest.StashKey[list[Any]]()
BASELINE_MARKER_HELP = (
    "llm_tolerance(tolerance=None, **per_metric): how far this test's scores may drop below the baseline "
    "before the test fails: @pytest.mark.llm_tolerance(0.1) for every metric, "
    "@pytest.mark.llm_tolerance(faithfulness=0.1, judge=0.5) per metric (overrides ini llm_tolerance and "
    "llm_tolerance_metrics; llm_baseline.check(..., tolerance=) overrides it). See docs/baseline.md."
)


def _configure_baseline(config: pytest.Config) -> None:
    """The run's baseline state (the file is read at session start), the marker, the xdist channel."""
    from .baseline import SNAPSHOT_DIR, Baseline, BaselineRun, Snapshots, Tolerances
    from .xdist import Channel

    config.addinivalue_line("markers", BASELINE_MARKER_HELP)
    session = config.stash[SESSION_KEY]
    try:
        tolerances = Tolerances.from_ini(session.settings.tolerance, config.getini("llm_tolerance_metrics"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    path = session.settings.baseline_path
    run = BaselineRun(Baseline(path, display=session.relative(path)),
                      Snapshots(path.parent / SNAPSHOT_DIR, session.settings.rootpath), tolerances,
                      update=bool(config.getoption("llm_update_baseline", False)))
    config.stash[BASELINE_KEY] = run
    session.channels.register(Channel("baseline", run.collect, run.merge))


def _baseline_sessionstart(session: pytest.Session) -> None:
    """Read the baseline before any test runs: a corrupt, conflicted or too new file stops the session."""
    from .baseline import Baseline, BaselineError

    run = session.config.stash.get(BASELINE_KEY, None)
    if run is not None:
        try:
            run.baseline = Baseline.load(run.baseline.path, run.baseline.display)
        except BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None


def _baseline_state(item: pytest.Item) -> Any:
    """The test's ``TestScores`` (its verdicts so far), made on first use; checks its markers."""
    from .baseline import TestScores, check_marker

    state = item.stash.get(_BASELINE_TEST_KEY, None)
    if state is None:
        markers = [(tuple(m.args), dict(m.kwargs)) for m in item.iter_markers("llm_tolerance")]
        for args, kwargs in markers:
            try:
                check_marker(args, kwargs)
            except ValueError as exc:
                pytest.fail(f"{item.nodeid}: {exc}", pytrace=False)
        state = item.stash[_BASELINE_TEST_KEY] = TestScores(item.nodeid, markers)
    return state


def _baseline_properties(item: pytest.Item, state: Any) -> None:
    """JUnit XML: ``llm_score:<metric>`` properties (as ``record_property`` would add them)."""
    for index in sorted(set(state.verdicts) - state.properties):
        verdict = state.verdicts[index]
        value = "unscored" if verdict.value is None else round(verdict.value, 6)
        item.user_properties.append((f"llm_score:{verdict.key}", value))
        state.properties.add(index)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """After the test body: compare the scores assertions recorded; a regression fails the call phase."""
    try:
        result = yield
    except BaseException:
        try:
            _baseline_after_call(item, finished=False)
        except (Exception, pytest.fail.Exception):  # never hide the test's own failure behind ours
            pass
        raise
    _baseline_after_call(item, finished=True)
    return result


def _baseline_after_call(item: pytest.Item, finished: bool) -> None:
    from .baseline import ScoreRegression
    from .context import current

    run = item.config.stash.get(BASELINE_KEY, None)
    ctx = current()
    if run is None or ctx is None:
        return
    if _BASELINE_TEST_KEY not in item.stash and not ctx.scores and item.nodeid not in run.baseline.entries:
        return
    state = _baseline_state(item)
    regressions = run.after_call(state, ctx.scores, finished)
    _baseline_properties(item, state)
    if regressions and finished:
        raise ScoreRegression(regressions)


def _baseline_teardown(item: pytest.Item) -> None:
    """Keep the test's verdicts for the session; scores recorded after the body (in a fixture's
    teardown) are compared here, and a regression among them fails the test at teardown."""
    from .context import current

    run = item.config.stash.get(BASELINE_KEY, None)
    ctx = current()
    scores = ctx.scores if ctx is not None and ctx.nodeid == item.nodeid else []
    if run is None or (_BASELINE_TEST_KEY not in item.stash and not scores):
        return
    state = _baseline_state(item)
    late = run.finish_test(state, scores)
    _baseline_properties(item, state)
    if late:
        item.stash[_BASELINE_LATE_KEY] = late


def _baseline_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Regressions found after the body read like pytest's own assertion failures (not plugin frames)."""
    from .baseline import ScoreRegression

    verdicts = None
    if call.when == "teardown" and _BASELINE_LATE_KEY in item.stash:
        if call.excinfo is not None:  # another teardown error: show it; the summary lists the regression
            return
        verdicts = item.stash[_BASELINE_LATE_KEY]
        report.outcome = "failed"
    elif call.excinfo is not None and isinstance(call.excinfo.value, ScoreRegression):
        verdicts = call.excinfo.value.verdicts
    if verdicts is None or item.config.getoption("tbstyle", "auto") not in ("auto", "long", "short"):
        if verdicts is not None and not report.longrepr:
            report.longrepr = str(ScoreRegression(verdicts))
        return
    text = "AssertionError: " + str(ScoreRegression(verdicts))
    path, lineno = item.location[0], (item.location[1] or 0) + 1
    try:
        from _pytest._code.code import ExceptionChainRepr, ReprEntry, ReprFileLocation, ReprTraceback
    except ImportError:  # pragma: no cover - pytest moved its internals: keep pytest's own repr
        report.longrepr = report.longrepr or text
        return
    lines = ["E   " + line for line in text.splitlines()]
    entry = ReprEntry(lines, None, None, ReprFileLocation(path, lineno, "AssertionError"), "long")
    report.longrepr = ExceptionChainRepr([(ReprTraceback([entry], None, "long"), ReprFileLocation(path, lineno, text), None)])


def _baseline_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): with --llm-update-baseline write the merged scores and
    snapshots (atomically); with --llm-html write the report."""
    from pathlib import Path

    from .xdist import is_worker

    config = session.config
    run = config.stash.get(BASELINE_KEY, None)
    if run is None or is_worker(config):
        return
    if run.update and (run.verdicts or run.snapshot_verdicts or run.finished):
        if session.exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            run.write_error = "the run was interrupted; nothing was written"
        else:
            try:
                run.save()
            except OSError as exc:
                run.write_error = f"{exc.strerror or exc} ({exc.filename or run.baseline.display})"
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            except LLMOpsError as exc:  # a snapshot file that cannot be read: nothing was written
                run.write_error = str(exc)
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
    html = config.getoption("llm_html", None)
    if html:
        from .htmlreport import write_html

        path = Path(config.invocation_params.dir, html)
        write_html(path, run, extra=_production_loop_html(config))
        run.html_written = str(html)


def _baseline_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .baseline import summary_lines

    run = config.stash.get(BASELINE_KEY, None)
    if run is None:
        return
    lines = summary_lines(run, verbose=config.get_verbosity() > 0)
    if not lines:
        return
    terminalreporter.write_sep("=", "llm baseline")
    for line, markup in lines:
        terminalreporter.write_line(line, **markup)
    if run.html_written:
        terminalreporter.write_line(f"html report: {run.html_written}")


@pytest.fixture
def llm_baseline(request: pytest.FixtureRequest) -> Any:
    """The score baseline (``<llm_baseline>``, default ``llm-baseline.json``) for this test.

    ``llm_baseline.check("metric", value, tolerance=None)`` records a score and fails the test if it
    is below its baseline minus the tolerance (a list of samples: compared with the baseline's samples,
    a drop beyond tolerance fails only if it is unlikely to be noise; see docs/noise.md);
    ``llm_baseline.snapshot("name", data, ignore=["$.id"])`` compares structured output with its
    stored snapshot (in ``llm-snapshots/`` beside the baseline) and shows the diff.
    Scores of assertions (assert_faithful, ...) are compared after the test without a call here.
    ``pytest --llm-update-baseline`` accepts the run's scores and snapshots. See docs/baseline.md.
    """
    from .baseline import BaselineFixture

    return BaselineFixture(request.config.stash[BASELINE_KEY], _baseline_state(request.node))


# -- noise: repeated tests, samples, noise-aware verdicts, datasets (issue #11) --------------------
NOISE_INI = (
    ("llm_stat_method", "how a score's samples are compared with the baseline's: welch (default) or bootstrap"),
    ("llm_alpha", ("significance level: a change beyond tolerance fails only if its (1 - alpha) interval leaves "
                   "out 0 (default 0.05)")),
    ("llm_bootstrap_resamples", "resamples of llm_stat_method = bootstrap (default 2000)"),
    ("llm_bootstrap_seed", "seed of the bootstrap (default 0): the same samples always give the same verdict"),
)


def _noise_addini(parser: pytest.Parser) -> None:
    for name, help_text in NOISE_INI:
        parser.addini(name, help_text, default="")


def _configure_noise(config: pytest.Config) -> None:
    """Check --llm-repeat and the ini settings of the noise test; the hooks that repeat a test."""
    from .stats import StatSettings

    repeat = config.getoption("llm_repeat", None)
    if repeat is not None and repeat < 1:
        raise pytest.UsageError(f"--llm-repeat expects a whole number >= 1 (how many times each LLM test runs in a "
                                f"live run), got {repeat}")
    try:
        stat = StatSettings.from_ini(*(config.getini(name) for name, _ in NOISE_INI))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    run = config.stash.get(BASELINE_KEY, None)
    if run is not None:
        run.stat = stat
    if not config.pluginmanager.has_plugin("llmops-repeat"):
        config.pluginmanager.register(_RepeatHooks(), "llmops-repeat")


def _noise_header(config: pytest.Config) -> list[str]:
    repeat = config.getoption("llm_repeat", None)
    if not repeat or repeat == 1:
        return []
    if config.stash[SESSION_KEY].settings.live:
        return [(f"llmops: each recorded LLM test runs {repeat} times (--llm-repeat {repeat}; "
                 f"@pytest.mark.llm(repeat=N) wins)")]
    return [f"llmops: --llm-repeat {repeat} ignored: a replay runs each test as many times as its cassette recorded"]


class _RepeatHooks:
    """Runs a repeated test's body N times. A wrapper inside the baseline's (``trylast``), so the
    scores are compared once, after the last repetition."""

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        from .context import current

        repetitions = _repeat_plan(item)
        if repetitions is None:
            return (yield)
        try:
            result = yield
            _repeat_rest(item, repetitions)
            return result
        finally:
            repetitions.finish(current())


def _repeat_plan(item: pytest.Item) -> Any:
    """How many times the test's body runs (None: once, as usual); repetition 1 starts."""
    import warnings

    from .context import current
    from .repeat import RepeatError, RepeatWarning, plan
    from .session import INTERCEPTOR_KEY

    interceptor = item.stash.get(INTERCEPTOR_KEY, None)
    if interceptor is None:
        return None
    try:
        repetitions, warning = plan(item, interceptor.cassette, item.config.getoption("llm_repeat", None))
    except RepeatError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    if warning:
        warnings.warn(RepeatWarning(warning), stacklevel=1)
    if repetitions is None:
        return None
    ctx = current()
    if ctx is not None:
        ctx.repetitions = repetitions.count
    repetitions.start(1, ctx)
    return repetitions


def _repeat_rest(item: pytest.Item, repetitions: Any) -> None:
    """Repetitions 2..N of the body (``item.runtest()``, so async tests and pyfunc plugins work)."""
    __tracebackhide__ = True
    from .context import current
    from .repeat import RepeatError

    ctx = current()
    try:
        repetitions.check(ctx)
        for episode in range(2, repetitions.count + 1):
            repetitions.start(episode, ctx)
            item.runtest()
            repetitions.check(ctx)
    except RepeatError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(problem, pytrace=False)


def _datasets_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """``llm datasets``: the change of each metric over the cases of a parametrized test, paired."""
    from .datasets import dataset_changes, summary_lines

    run = config.stash.get(BASELINE_KEY, None)
    if run is None or not run.verdicts:
        return
    lines = summary_lines(dataset_changes(run.results(), run.stat), verbose=config.get_verbosity() > 0)
    if not lines:
        return
    terminalreporter.write_sep("=", "llm datasets")
    for line, markup in lines:
        terminalreporter.write_line(line, **markup)


# -- production loop: last-run record for review, review labels, shadow runs (issue #13) -----------
LAST_RUN_CALLS_KEY = pytest.StashKey["RunCalls"]()
SHADOW_KEY = pytest.StashKey["ShadowRun"]()
_SHADOW_IGNORED_KEY = pytest.StashKey[str]()


def _configure_production_loop(config: pytest.Config) -> None:
    """The answers of each test's calls for ``last_run.json`` (only when pytest's cache is on), and the
    ``--llm-shadow`` challenger (live runs only), each with its xdist channel."""
    from .xdist import Channel

    session = config.stash[SESSION_KEY]
    if config.pluginmanager.hasplugin("cacheprovider"):
        from .lastrun import RunCalls

        calls = RunCalls(session)
        config.stash[LAST_RUN_CALLS_KEY] = calls
        session.listeners.append(calls.on_exchange)
        session.channels.register(Channel("last_run_calls", calls.collect, calls.merge))
    spec = config.getoption("llm_shadow", None)
    if not spec:
        return
    from .shadow import ShadowRun, parse_shadow

    try:
        parse_shadow(spec)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not session.settings.live:
        config.stash[_SHADOW_IGNORED_KEY] = spec
        return
    usage = config.stash.get(USAGE_KEY, None)
    shadow = ShadowRun(spec, session.settings, pricing=usage.log.pricing if usage else None,
                       budget=usage.log.budget if usage else None)
    shadow.start()
    config.stash[SHADOW_KEY] = shadow
    session.send_checks.append(shadow.send_check)
    session.channels.register(Channel("shadow", shadow.collect, shadow.merge))


def _production_loop_unconfigure(config: pytest.Config) -> None:
    shadow = config.stash.get(SHADOW_KEY, None)
    if shadow is not None:
        shadow.stop()


def _shadow_header(config: pytest.Config) -> list[str]:
    ignored = config.stash.get(_SHADOW_IGNORED_KEY, None)
    if ignored:
        return [f"llmops: --llm-shadow {ignored} ignored: shadow calls are made in live runs only (add --llm-live)"]
    shadow = config.stash.get(SHADOW_KEY, None)
    return [f"llmops: shadow: every live request is also sent to {shadow.label} (answers in {shadow.folder()}/)"] \
        if shadow is not None else []


def _shadow_teardown(item: pytest.Item) -> None:
    shadow = item.config.stash.get(SHADOW_KEY, None)
    if shadow is not None:
        shadow.finish_test(item)


def _production_loop_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): write ``.pytest_cache/v/llmops/last_run.json`` for review."""
    from .lastrun import build_last_run, write_last_run
    from .xdist import is_worker

    config = session.config
    cache = getattr(config, "cache", None)
    run = config.stash.get(BASELINE_KEY, None)
    calls = config.stash.get(LAST_RUN_CALLS_KEY, None)
    if cache is None or run is None or calls is None or is_worker(config):
        return
    if session.exitstatus == pytest.ExitCode.INTERRUPTED or not (run.verdicts or run.snapshot_verdicts or calls.tests):
        return
    llm = config.stash[SESSION_KEY]
    try:
        write_last_run(cache, build_last_run(run, calls, llm.settings, llm.session_id))
    except Exception as exc:  # noqa: BLE001 - the record is a convenience: say so, never fail the run
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"llmops: the last run's record for review was not written: {exc}")


def _reviews_for(config: pytest.Config) -> Any:
    from .review import REVIEWS_FILE, Reviews, ReviewsError

    run = config.stash.get(BASELINE_KEY, None)
    if run is None:
        return None
    path = run.baseline.path.parent / REVIEWS_FILE
    if not path.exists():
        return None
    try:
        return Reviews.load(path)
    except ReviewsError:
        return None


def _production_loop_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .review import summary_lines

    reviews = _reviews_for(config)
    run = config.stash.get(BASELINE_KEY, None)
    if reviews is not None and run is not None:
        lines = summary_lines(reviews, sorted({v.test for v in run.results()}))
        if lines:
            terminalreporter.write_sep("=", "llm reviews")
            for line in lines:
                terminalreporter.write_line(line)
    shadow = config.stash.get(SHADOW_KEY, None)
    if shadow is not None:
        terminalreporter.write_sep("=", f"llm shadow: {shadow.label}")
        for line in shadow.summary_lines(verbose=config.get_verbosity() > 0):
            terminalreporter.write_line(line)


def _production_loop_html(config: pytest.Config) -> list[str]:
    """``--llm-html`` sections: human labels beside the scores and their agreement; the shadow."""
    from .review import html_section

    sections = []
    reviews = _reviews_for(config)
    if reviews is not None:
        sections.append(html_section(reviews))
    shadow = config.stash.get(SHADOW_KEY, None)
    if shadow is not None:
        sections.append(shadow.html_section())
    return sections
