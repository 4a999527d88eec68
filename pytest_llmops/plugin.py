"""pytest wiring for pytest-llmops: options, ini settings, markers, fixtures and hooks.

Nothing here does the work; each hook or fixture hands over to the module named for the job.
Sessions whose tests use no LLM fixture or marker pay for the option parsing and nothing else: the
transport is patched only around tests that use a cassette, and each feature's module is imported
(its files read) only when the session uses the feature: its state is a ``lazy.Lazy`` in
``config.stash``, and hooks check a cheap condition (the state exists, the test recorded scores, an
option was given, a file exists) before they import anything. What the user asked for explicitly
(``--llm-budget``, ``llm_pricing``, ``--llm-lock-prompts``, ``--llm-update-baseline``, ``--llm-html``,
an existing baseline or prompt lock file) is still checked before the tests run.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .context import close_context, current, open_context
from .errors import LLMOpsError, short_repr
from .lazy import Lazy
from .session import INTERCEPTOR_KEY, LLMSession, TestOutcome
from .settings import Settings, placeholder_keys, restore_keys
from .xdist import Channel, is_worker

if TYPE_CHECKING:  # the modules that do the work are imported when a session uses what they do
    from .baseline import BaselineRun, TestScores  # noqa: F401 - TestScores: a stash key's type
    from .cassette import Cassette
    from .lastrun import RunCalls
    from .prompt_session import SessionPrompts
    from .shadow import ShadowRun  # noqa: F401 - a stash key's type
    from .usage import UsageState

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
    config.stash[_ENV_KEY] = placeholder_keys()  # a missing API key gets a placeholder (replay needs none)


def pytest_unconfigure(config: pytest.Config) -> None:
    _production_loop_unconfigure(config)
    restore_keys(config.stash.get(_ENV_KEY, {}))


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
    return [*config.stash[SESSION_KEY].settings.header_lines(), *_noise_header(config), *_shadow_header(config)]


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test marked ``llm`` uses the ``llm_cassette`` fixture, set up before its other fixtures."""
    marked = _marker_names(item)
    if not marked:
        return
    if "llm" in marked and isinstance(item, pytest.Function):
        if "llm_cassette" not in item.fixturenames:
            item.fixturenames = ["llm_cassette", *item.fixturenames]
    _use_faults_fixture(item, marked)


def _marker_names(node: Any) -> set[str]:
    """The names of the markers of a test and of the nodes above it (what ``get_closest_marker``
    finds), in one walk without generators: this runs for every test of every session."""
    names: set[str] = set()
    while node is not None:
        for mark in node.own_markers:
            names.add(mark.name)
        node = node.parent
    return names


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call" and OUTCOME_KEY in item.stash:
        item.stash[OUTCOME_KEY].record(report, call.excinfo)
    if call.excinfo is not None and call.excinfo.errisinstance(LLMOpsError):
        style = item.config.getoption("tbstyle", "auto")
        if style in ("auto", "long", "short"):
            report.longrepr = short_repr(call.excinfo, item.path, style)
    if call.excinfo is not None or _BASELINE_LATE_KEY in item.stash:
        _baseline_report(item, call, report)
    return report


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


def _use_faults_fixture(item: pytest.Item, marked: set[str]) -> None:
    """A test marked ``llm_faults`` gets the ``llm_faults`` fixture without asking."""
    if "llm_faults" in marked and isinstance(item, pytest.Function):
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

    try:
        faults = Faults.from_markers(request.node)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    monkeypatch = pytest.MonkeyPatch()
    faults.attach(request.node.stash[INTERCEPTOR_KEY], monkeypatch)
    try:
        yield faults
    finally:
        faults.detach()
        monkeypatch.undo()
    outcome = request.node.stash.get(OUTCOME_KEY, None)
    unserved = faults.unserved_message() if outcome is not None and outcome.passed else None
    if unserved:
        pytest.fail(unserved, pytrace=False)


# -- usage -----------------------------------------------------------------------------------------
USAGE_KEY = pytest.StashKey["Lazy[UsageState]"]()


def _configure_usage(config: pytest.Config) -> None:
    """Per-call log listener, xdist channel; an ``llm_pricing`` file is read now, the live-run
    budget set up now (the price table is otherwise read at the first provider call)."""
    session = config.stash[SESSION_KEY]
    usage = config.stash[USAGE_KEY] = Lazy(lambda: _usage_state(config))
    if str(config.getini("llm_pricing") or "").strip():
        usage.get()
    budget_usd = config.getoption("llm_budget", None)
    if budget_usd is not None and not budget_usd >= 0:  # negative or NaN
        raise pytest.UsageError(f"--llm-budget expects an amount in USD >= 0, got {budget_usd}")
    budget = usage.get().log.budget if budget_usd is not None and session.settings.live else None
    if budget is not None:
        session.send_checks.append(budget.check)
    session.listeners.append(lambda exchange, item: usage.get().on_exchange(exchange, item))
    session.channels.register(usage.channel("usage"))


def _usage_state(config: pytest.Config) -> UsageState:
    from .pricing import PricingError
    from .usage import UsageState, ledger_path

    session = config.stash[SESSION_KEY]
    report = config.getoption("llm_report", None)
    try:
        return UsageState.start(
            rootpath=session.settings.rootpath, pricing_file=str(config.getini("llm_pricing") or "").strip(),
            budget_usd=config.getoption("llm_budget", None), live=session.settings.live,
            ledger=ledger_path(session.session_id) if is_worker(config) else None,
            report_path=Path(config.invocation_params.dir, report) if report else None,
        )
    except PricingError as exc:
        raise pytest.UsageError(f"llm_pricing: {exc}") from None


def _usage_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): write the per-call log (``--llm-report``, even if empty)."""
    usage = session.config.stash.get(USAGE_KEY, None)
    report = session.config.getoption("llm_report", None)
    if usage is None or is_worker(session.config) or (usage.value is None and not report):
        return
    usage.get().finish(str(report), session.config.stash[SESSION_KEY].session_id)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    _usage_terminal_summary(terminalreporter, config)
    _drift_terminal_summary(terminalreporter, config)
    _prompts_terminal_summary(terminalreporter, config)
    _baseline_terminal_summary(terminalreporter, config)
    _datasets_terminal_summary(terminalreporter, config)
    _production_loop_terminal_summary(terminalreporter, config)


def _usage_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    usage = config.stash.get(USAGE_KEY, None)
    if usage is None or usage.value is None:
        return
    from .report import write_usage_summary

    write_usage_summary(terminalreporter, usage.value.summary_lines())


@pytest.fixture
def llm_usage(request: pytest.FixtureRequest, llm_cassette: Cassette) -> Any:
    """Tokens, estimated cost and latency of this test's provider calls, updated as it makes them.

    A ``pytest_llmops.Usage``: ``calls``, ``input_tokens``, ``output_tokens``, ``cost_usd`` (``None``
    if a call's cost is unknown; ``known_cost_usd`` and ``unknown_cost_calls`` then say how much is
    known), ``latencies_ms`` and ``p50_ms`` / ``p95_ms`` / ``p99_ms``. Replayed calls count with the
    latency recorded live. Activates the test's cassette, like ``llm_cassette``.
    """
    return request.config.stash[USAGE_KEY].get().log.for_test(request.node.nodeid)


# -- adopting recorded cassettes: SDK drift report, cassettes used (issue #12) ----------------------
DRIFT_KEY = pytest.StashKey[list[dict[str, Any]]]()


def _configure_adoption(config: pytest.Config) -> None:
    """xdist channels for requests matched through SDK drift rules and for the cassettes used."""
    session = config.stash[SESSION_KEY]
    matches: list[dict[str, Any]] = []
    config.stash[DRIFT_KEY] = matches
    session.channels.register(Channel("drift", lambda: matches, matches.extend))
    session.channels.register(Channel("cassettes_used", lambda: sorted(map(str, session.cassettes_used)),
                                      lambda paths: session.cassettes_used.update(map(Path, paths))))


def _collect_drift(item: pytest.Item) -> None:
    """After a test: the requests its cassette answered only through SDK drift rules."""
    if INTERCEPTOR_KEY not in item.stash:  # ``in`` first: a missing key costs ``get`` an exception
        return
    interceptor = item.stash[INTERCEPTOR_KEY]
    matches = item.config.stash.get(DRIFT_KEY, None)
    if matches is not None and interceptor.cassette.drift:
        cassette = interceptor.cassette
        matches.extend(m.to_record(item.nodeid, cassette.display_path) for m in cassette.drift)
        cassette.drift.clear()


def _save_used_cassettes(session: pytest.Session) -> None:
    """Controller (or a run without xdist): the cassettes this run used, in pytest's cache, for
    ``python -m pytest_llmops audit`` to tell which cassettes no test uses any more."""
    config = session.config
    llm = config.stash.get(SESSION_KEY, None)
    cache = getattr(config, "cache", None)
    if llm is None or cache is None or is_worker(config) or not llm.cassettes_used:
        return
    from .audit import USED_CASSETTES_KEY, used_cassettes_value

    cache.set(USED_CASSETTES_KEY, used_cassettes_value(llm.cassettes_used, llm.settings.rootpath))


def _drift_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    records = config.stash.get(DRIFT_KEY, [])
    if not records:
        return
    from .drift import summary_lines

    lines = summary_lines(records, verbose=config.get_verbosity() > 0)
    if lines and config.get_verbosity() > 0:
        terminalreporter.write_sep("-", "llmops: requests matched through SDK drift rules")
    for line in lines:
        terminalreporter.write_line(line)


# -- prompts (issue #3) ----------------------------------------------------------------------------
PROMPTS_KEY = pytest.StashKey["Lazy[SessionPrompts]"]()
PROMPTS_MARKER_HELP = (
    "llm_prompt(name, versions=None): the test runs once per listed version of prompt `name` "
    "(ids like name@v2), or with the latest version without `versions`; the `llm_prompt` fixture gives "
    "that run's Prompt, and the test's scores carry its lineage (docs/prompts.md)."
)


def _configure_prompts(config: pytest.Config) -> None:
    """The session's prompts (made when a test first uses a prompt), the ``llm_prompt`` marker, the
    xdist channel of versions used, and the call-log listener for ``--llm-model`` substitutions."""
    config.addinivalue_line("markers", PROMPTS_MARKER_HELP)
    session = config.stash[SESSION_KEY]
    prompts = config.stash[PROMPTS_KEY] = Lazy(lambda: _session_prompts(config))

    def fill_substitution(exchange: Any, item: Any) -> None:  # only prompts the session handed out
        if prompts.value is not None:
            prompts.value.fill_substitution(exchange)

    session.listeners.insert(0, fill_substitution)
    session.channels.register(prompts.channel("prompts"))


def _session_prompts(config: pytest.Config) -> SessionPrompts:
    from .prompt_session import SessionPrompts

    return SessionPrompts(config.stash[SESSION_KEY].settings, relock=bool(config.getoption("llm_lock_prompts", False)),
                          worker=is_worker(config))


def _prompts_sessionstart(session: pytest.Session) -> None:
    """Stop the session before any test runs if a locked prompt version was edited (or re-lock)."""
    config = session.config
    prompts = config.stash.get(PROMPTS_KEY, None)
    if prompts is None:
        return
    if not config.getoption("llm_lock_prompts", False) and (
            is_worker(config) or not config.stash[SESSION_KEY].settings.prompt_lock_path.exists()):
        return  # no lock to check here (SessionPrompts.start would do nothing)
    from .prompt_session import SessionPromptError

    try:
        prompts.get().start()
    except SessionPromptError as exc:
        raise pytest.UsageError(str(exc)) from None


def _prompts_teardown(item: pytest.Item) -> None:
    """Lock on first use the versions the test's code rendered."""
    prompts = item.config.stash.get(PROMPTS_KEY, None)
    ctx = current()
    if prompts is not None and ctx is not None and ctx.prompts:
        prompts.get().after_test(ctx)


def _prompts_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): lock the versions used for the first time; under CI=true
    write nothing, and fail the session if versions were used that the lock file does not hold."""
    prompts = session.config.stash.get(PROMPTS_KEY, None)
    if prompts is None or prompts.value is None or is_worker(session.config):
        return
    if not prompts.value.finish() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _prompts_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    prompts = config.stash.get(PROMPTS_KEY, None)
    for line, markup in prompts.value.summary_lines() if prompts is not None and prompts.value is not None else ():
        terminalreporter.write_line(line, **markup)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.llm_prompt("name", versions=[...])``: one run per version, ids ``name@version``."""
    if "llm_prompt" not in _marker_names(metafunc.definition):
        return
    marker = metafunc.definition.get_closest_marker("llm_prompt")
    from .prompt_session import version_params

    try:
        params = version_params(metafunc.definition.nodeid, marker, metafunc.fixturenames)
    except ValueError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    if params is not None:
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

    return PromptsFixture(pytestconfig.stash[PROMPTS_KEY].get())


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
        return request.config.stash[PROMPTS_KEY].get().use(name, version, under_test=True)
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
    judge = sys.modules.get("pytest_llmops.judge")  # no JudgeScore can exist before it is imported
    return judge.assertrepr_compare(op, left, right) if judge is not None else None


# -- baseline (issue #5) ---------------------------------------------------------------------------
BASELINE_KEY = pytest.StashKey["Lazy[BaselineRun]"]()
_BASELINE_TEST_KEY = pytest.StashKey["TestScores"]()
_BASELINE_LATE_KEY = pytest.StashKey[list[Any]]()
BASELINE_MARKER_HELP = (
    "llm_tolerance(tolerance=None, **per_metric): how far this test's scores may drop below the baseline "
    "before the test fails: @pytest.mark.llm_tolerance(0.1) for every metric, "
    "@pytest.mark.llm_tolerance(faithfulness=0.1, judge=0.5) per metric (overrides ini llm_tolerance and "
    "llm_tolerance_metrics; llm_baseline.check(..., tolerance=) overrides it). See docs/baseline.md."
)


def _configure_baseline(config: pytest.Config) -> None:
    """The run's baseline state (made at session start if the file exists, else on first use), the
    marker, the xdist channel; tolerances set in the ini file are checked now."""
    import math

    config.addinivalue_line("markers", BASELINE_MARKER_HELP)
    session = config.stash[SESSION_KEY]
    tolerance, pairs = session.settings.tolerance, config.getini("llm_tolerance_metrics")
    if pairs or not (math.isfinite(tolerance) and tolerance >= 0):  # else Tolerances.from_ini cannot fail
        from .baseline import Tolerances

        try:
            Tolerances.from_ini(tolerance, pairs)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    run = config.stash[BASELINE_KEY] = Lazy(lambda: _baseline_run(config))
    session.channels.register(run.channel("baseline"))


def _baseline_run(config: pytest.Config) -> BaselineRun:
    from .baseline import BaselineRun

    session = config.stash[SESSION_KEY]
    try:
        return BaselineRun.for_session(session.settings, session.relative(session.settings.baseline_path),
                                       config.getini("llm_tolerance_metrics"),
                                       [config.getini(name) for name, _ in NOISE_INI],
                                       update=bool(config.getoption("llm_update_baseline", False)))
    except ValueError as exc:  # checked at configure: only if the ini file changed since
        raise pytest.UsageError(str(exc)) from None


def _baseline_sessionstart(session: pytest.Session) -> None:
    """Read the baseline before any test runs: a corrupt, conflicted or too new file stops the session."""
    config = session.config
    run = config.stash.get(BASELINE_KEY, None)
    if run is None or not (_may_exist(config.stash[SESSION_KEY].settings.baseline_path)
                           or config.getoption("llm_update_baseline", False) or config.getoption("llm_html", None)):
        return  # no file to read: the state is made when a test records a score
    from .baseline import BaselineError

    try:
        run.get().load()
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None


def _may_exist(path: Any) -> bool:
    """False only if there is no file at ``path`` (an unreadable one is for its reader to report)."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _baseline_state(item: pytest.Item) -> Any:
    """The test's ``TestScores`` (its verdicts so far), made on first use; checks its markers."""
    state = item.stash.get(_BASELINE_TEST_KEY, None)
    if state is None:
        from .baseline import TestScores

        try:
            state = item.stash[_BASELINE_TEST_KEY] = TestScores.of_item(item)
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)
    return state


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
    run = item.config.stash.get(BASELINE_KEY, None)
    ctx = current()
    if run is None or ctx is None:
        return
    if _BASELINE_TEST_KEY not in item.stash and not ctx.scores and (
            run.value is None or item.nodeid not in run.value.baseline.entries):
        return
    state = _baseline_state(item)
    regressions = run.get().after_call(state, ctx.scores, finished)
    item.user_properties.extend(state.new_properties())  # JUnit XML: llm_score:<metric>
    if regressions and finished:
        from .baseline import ScoreRegression

        raise ScoreRegression(regressions)


def _baseline_teardown(item: pytest.Item) -> None:
    """Keep the test's verdicts for the session; scores recorded after the body (in a fixture's
    teardown) are compared here, and a regression among them fails the test at teardown."""
    run = item.config.stash.get(BASELINE_KEY, None)
    ctx = current()
    scores = ctx.scores if ctx is not None and ctx.nodeid == item.nodeid else []
    if run is None or (_BASELINE_TEST_KEY not in item.stash and not scores):
        return
    state = _baseline_state(item)
    late = run.get().finish_test(state, scores)
    item.user_properties.extend(state.new_properties())
    if late:
        item.stash[_BASELINE_LATE_KEY] = late


def _baseline_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Regressions found after the body read like pytest's own assertion failures (not plugin frames)."""
    if call.when == "teardown" and _BASELINE_LATE_KEY in item.stash:
        if call.excinfo is not None:  # another teardown error: show it; the summary lists the regression
            return
        verdicts = item.stash[_BASELINE_LATE_KEY]
        report.outcome = "failed"
    else:
        baseline = sys.modules.get("pytest_llmops.baseline")  # no ScoreRegression exists before it is imported
        if call.excinfo is None or baseline is None or not isinstance(call.excinfo.value, baseline.ScoreRegression):
            return
        verdicts = call.excinfo.value.verdicts
    from .baseline import show_regression

    show_regression(report, verdicts, item.location, item.config.getoption("tbstyle", "auto"))


def _baseline_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): with --llm-update-baseline write the merged scores and
    snapshots (atomically); with --llm-html write the report."""
    config = session.config
    lazy = config.stash.get(BASELINE_KEY, None)
    html = config.getoption("llm_html", None)
    if lazy is None or (lazy.value is None and not html) or is_worker(config):
        return
    run = lazy.get()
    if not run.finish(interrupted=session.exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if html:
        from .htmlreport import write_html

        write_html(Path(config.invocation_params.dir, html), run, extra=_production_loop_html(config))
        run.html_written = str(html)


def _baseline_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lazy = config.stash.get(BASELINE_KEY, None)
    run = lazy.value if lazy is not None else None
    if run is None:
        return
    from .baseline import summary_lines

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

    return BaselineFixture(request.config.stash[BASELINE_KEY].get(), _baseline_state(request.node))


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
    """Check --llm-repeat and the ini settings of the noise test (the baseline reads them when it is
    made); the hooks that repeat a test."""
    repeat = config.getoption("llm_repeat", None)
    if repeat is not None and repeat < 1:
        raise pytest.UsageError(f"--llm-repeat expects a whole number >= 1 (how many times each LLM test runs in a "
                                f"live run), got {repeat}")
    ini = [config.getini(name) for name, _ in NOISE_INI]
    if any(ini):  # all empty: the defaults
        from .stats import StatSettings

        try:
            StatSettings.from_ini(*ini)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
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
    if INTERCEPTOR_KEY not in item.stash:
        return None
    interceptor = item.stash[INTERCEPTOR_KEY]
    import warnings

    from .repeat import RepeatError, RepeatWarning, plan

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
    if repetitions is not None:
        repetitions.begin(current())
    return repetitions


def _repeat_rest(item: pytest.Item, repetitions: Any) -> None:
    """Repetitions 2..N of the body; one served another repetition's responses fails the test."""
    __tracebackhide__ = True
    from .repeat import RepeatError

    try:
        repetitions.run_rest(item, current())
    except RepeatError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(problem, pytrace=False)


def _datasets_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """``llm datasets``: the change of each metric over the cases of a parametrized test, paired."""
    lazy = config.stash.get(BASELINE_KEY, None)
    run = lazy.value if lazy is not None else None
    if run is None or not run.verdicts:
        return
    from .datasets import dataset_changes, summary_lines

    lines = summary_lines(dataset_changes(run.results(), run.stat), verbose=config.get_verbosity() > 0)
    if not lines:
        return
    terminalreporter.write_sep("=", "llm datasets")
    for line, markup in lines:
        terminalreporter.write_line(line, **markup)


# -- production loop: last-run record for review, review labels, shadow runs (issue #13) -----------
LAST_RUN_CALLS_KEY = pytest.StashKey["Lazy[RunCalls]"]()
SHADOW_KEY = pytest.StashKey["ShadowRun"]()
_SHADOW_IGNORED_KEY = pytest.StashKey[str]()


def _configure_production_loop(config: pytest.Config) -> None:
    """The answers of each test's calls for ``last_run.json`` (only when pytest's cache is on), and the
    ``--llm-shadow`` challenger (live runs only), each with its xdist channel."""
    session = config.stash[SESSION_KEY]
    if config.pluginmanager.hasplugin("cacheprovider"):
        calls = config.stash[LAST_RUN_CALLS_KEY] = Lazy(lambda: _run_calls(session))
        session.listeners.append(lambda exchange, item: calls.get().on_exchange(exchange, item))
        session.channels.register(calls.channel("last_run_calls"))
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
    usage = config.stash[USAGE_KEY].get() if USAGE_KEY in config.stash else None
    shadow = ShadowRun(spec, session.settings, pricing=usage.log.pricing if usage else None,
                       budget=usage.log.budget if usage else None)
    shadow.start()
    config.stash[SHADOW_KEY] = shadow
    session.send_checks.append(shadow.send_check)
    session.channels.register(Channel("shadow", shadow.collect, shadow.merge))


def _run_calls(session: LLMSession) -> RunCalls:
    from .lastrun import RunCalls

    return RunCalls(session)


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
    if SHADOW_KEY in item.config.stash:
        item.config.stash[SHADOW_KEY].finish_test(item)


def _production_loop_sessionfinish(session: pytest.Session) -> None:
    """Controller (or a run without xdist): write ``.pytest_cache/v/llmops/last_run.json`` for review."""
    config = session.config
    cache = getattr(config, "cache", None)
    baseline = config.stash.get(BASELINE_KEY, None)
    lazy_calls = config.stash.get(LAST_RUN_CALLS_KEY, None)
    if cache is None or baseline is None or lazy_calls is None or is_worker(config):
        return
    run, calls = baseline.value, lazy_calls.value
    scored = run is not None and bool(run.verdicts or run.snapshot_verdicts)
    if session.exitstatus == pytest.ExitCode.INTERRUPTED or not (scored or (calls is not None and calls.tests)):
        return
    from .lastrun import build_last_run, write_last_run

    llm = config.stash[SESSION_KEY]
    try:
        write_last_run(cache, build_last_run(baseline.get(), calls, llm.settings, llm.session_id))
    except Exception as exc:  # noqa: BLE001 - the record is a convenience: say so, never fail the run
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"llmops: the last run's record for review was not written: {exc}")


def _reviews_for(config: pytest.Config) -> Any:
    """The decisions beside the baseline (``llm-reviews.json``), if there is a readable file."""
    if BASELINE_KEY not in config.stash or not config.stash[SESSION_KEY].settings.reviews_path.exists():
        return None
    from .review import read_reviews

    return read_reviews(config.stash[SESSION_KEY].settings.reviews_path)


def _production_loop_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reviews = _reviews_for(config)
    if reviews is not None:
        from .review import summary_lines

        run = config.stash[BASELINE_KEY].value
        lines = summary_lines(reviews, sorted({v.test for v in run.results()}) if run is not None else [])
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
    sections = []
    reviews = _reviews_for(config)
    if reviews is not None:
        from .review import html_section

        sections.append(html_section(reviews))
    shadow = config.stash.get(SHADOW_KEY, None)
    if shadow is not None:
        sections.append(shadow.html_section())
    return sections
