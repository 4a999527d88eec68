"""Repeated tests: one pytest item whose body runs N times, each run an *episode* of its cassette.

LLM scores vary from run to run, so one run gives one sample of a noisy number. A repeated test
gives N samples of each of its scores, and the baseline compares samples with samples (see
``stats`` and ``baseline.compare_score``).

How a test is repeated
    The body (the call phase) runs N times inside one pytest item: fixtures are set up once and
    shared by the repetitions, and the test passes only if every repetition passes (the first
    failure stops it). Repetition k > 1 is run by calling ``item.runtest()`` again, so async tests
    and other ``pytest_pyfunc_call`` plugins work as usual.

How many times
    Recording (``--llm-live``, or ``--llm-live=new`` for a test without a cassette):
    ``@pytest.mark.llm(repeat=N)``, else ``--llm-repeat N``, else once (the marker is the test's
    own choice, as with pytest-repeat). Replaying: as many times as the cassette recorded
    (``episodes``); ``--llm-repeat`` does not apply, and a marker asking for another number than the
    cassette was recorded with fails the test, saying to re-record.

The cassette
    All repetitions record into the test's one cassette, in order. Each interaction carries the
    repetition that made it (``episode: k``), and the file says how many were planned and run
    (``repeat: 5``, ``episodes: 5``). On replay identical requests are answered in recorded order,
    the positions continuing across repetitions, so repetition k gets the responses recorded in
    repetition k; each repetition checks that the interactions it was served are its own, so a test
    that now sends its requests in another order fails instead of mixing episodes. A test with a
    shared cassette (``@pytest.mark.llm(cassette=...)``) is not repeated.

Scores
    The k-th score of a metric in each repetition becomes one score with the samples of all
    repetitions (``scores.record_score``), compared with the baseline once, after the last
    repetition: ``llm_baseline.check`` in an earlier repetition returns the verdict on the samples
    so far and never fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import LLMOpsError

__all__ = ["RepeatError", "RepeatWarning", "Repetitions", "marker_repeat", "plan"]


class RepeatError(LLMOpsError, AssertionError):
    """A repeated test cannot run as asked: a bad ``repeat=``, a cassette recorded with another
    number of repetitions, a repetition served responses recorded by another one."""


RepeatError.__module__ = "pytest_llmops"


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def marker_repeat(item: Any) -> int | None:
    """``repeat=`` of the test's closest ``llm`` marker (None if not given); RepeatError if invalid."""
    marker = item.get_closest_marker("llm")
    if marker is None or "repeat" not in marker.kwargs:
        return None
    value = marker.kwargs["repeat"]
    if not _whole(value):
        raise RepeatError(f"@pytest.mark.llm(repeat={value!r}): repeat must be a whole number >= 1 "
                          f"(how many times the test's body runs in a live run)")
    return int(value)


@dataclass
class Repetitions:
    """The repetitions of one test: ``count`` runs of its body, ``source`` says who asked for them."""

    count: int
    cassette: Any
    recording: bool
    source: str
    current: int = 0
    _first_exchange: int = 0

    def start(self, episode: int, ctx: Any) -> None:
        """Repetition ``episode`` (1-based) begins."""
        self.current = episode
        if self.recording:
            self.cassette.episode = episode
            self.cassette.episodes = episode
        if ctx is not None:
            ctx.episode = episode
            ctx.episode_counts.clear()
            self._first_exchange = len(ctx.exchanges)

    def begin(self, ctx: Any) -> None:
        """Repetition 1 begins; the test's context learns how many repetitions there are."""
        if ctx is not None:
            ctx.repetitions = self.count
        self.start(1, ctx)

    def run_rest(self, item: Any, ctx: Any) -> None:
        """After repetition 1 of the body passed: check it, then run repetitions 2..N
        (``item.runtest()``, so async tests and pyfunc plugins work), each checked. A failing
        repetition's exception propagates; RepeatError if one was served another's responses."""
        __tracebackhide__ = True
        self.check(ctx)
        for episode in range(2, self.count + 1):
            self.start(episode, ctx)
            item.runtest()
            self.check(ctx)

    def check(self, ctx: Any) -> None:
        """After a replayed repetition: every response it was served was recorded in that repetition."""
        if self.recording or ctx is None:
            return
        for exchange in ctx.exchanges[self._first_exchange:]:
            episode = getattr(exchange.interaction, "episode", None)
            if exchange.replayed and episode is not None and episode != self.current:
                interaction = exchange.interaction
                raise RepeatError(
                    f"repetition {self.current} of {self.count} was answered with a response recorded in repetition "
                    f"{episode} ({interaction.method} {interaction.uri}, cassette {self.cassette.display_path}): "
                    f"the test now sends its requests in another order or number than when it was recorded, so "
                    f"its repetitions would mix. Re-record it: {self.cassette.record_command}"
                )

    def finish(self, ctx: Any) -> None:
        """The body will not run again (all repetitions done, or one failed)."""
        if self.recording:
            self.cassette.episode = None
        if ctx is not None:
            ctx.episode = None


def plan(item: Any, cassette: Any, option: int | None) -> tuple[Repetitions | None, str | None]:
    """How many times ``item`` runs, given its cassette and ``--llm-repeat`` (``option``).

    Returns ``(repetitions, warning)``: ``repetitions`` is None when the test runs once as usual;
    ``warning`` a text to warn with (a shared cassette under ``--llm-repeat``). Raises RepeatError
    for a request that cannot be met."""
    wanted = marker_repeat(item)
    if cassette.recording:
        count, source = (wanted, f"@pytest.mark.llm(repeat={wanted})") if wanted is not None else (
            (option, f"--llm-repeat {option}") if option else (1, ""))
        if count > 1 and cassette.shared:
            if wanted is not None:
                raise RepeatError(
                    f"@pytest.mark.llm(repeat={wanted}) needs the test's own cassette, but it shares "
                    f"{cassette.display_path} (cassette=...): a shared cassette cannot tell the repetitions of "
                    f"one test from the calls of the others. Drop cassette=..., or repeat=."
                )
            return None, (f"{item.nodeid} ran once: --llm-repeat does not apply to a test with a shared cassette "
                          f"({cassette.display_path})")
        if count <= 1:
            return None, None
        cassette.repeat = count
        cassette.episodes = 1
        return Repetitions(count, cassette, True, source), None
    meta = cassette.meta if not cassette.shared else {}
    recorded = meta.get("repeat", 1)
    episodes = meta.get("episodes", recorded)
    for name, value in (("repeat", recorded), ("episodes", episodes)):
        if not _whole(value):
            raise RepeatError(
                f"cassette {cassette.display_path}: {name!r} must be a whole number >= 1 (the repetitions of the "
                f"test), got {value!r}. Fix the file, or re-record it: {cassette.record_command}"
            )
    if wanted is not None and wanted != recorded and cassette.exists:
        raise RepeatError(
            f"@pytest.mark.llm(repeat={wanted}), but the cassette {cassette.display_path} was recorded with "
            f"{recorded} repetition{'s' if recorded != 1 else ''}: replaying it cannot give {wanted} samples. "
            f"Re-record it: {cassette.record_command}"
        )
    if episodes <= 1:
        return None, None
    return Repetitions(episodes, cassette, False, f"the cassette ({episodes} recorded repetitions)"), None


class RepeatWarning(UserWarning):
    """A test asked to be repeated was run once (a shared cassette under ``--llm-repeat``)."""


RepeatWarning.__module__ = "pytest_llmops"
