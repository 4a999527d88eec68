"""The run's state: settings, parsed cassettes, and activating a test's cassette.

One ``LLMSession`` lives in ``config.stash`` for the whole run. ``activate(item)`` gives a test its
cassette (replaying or recording, per the mode and whether the file exists), patches the transport
for the test's duration, and at the end either saves the recording or reports requests that found no
recorded response.
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .context import current
from .settings import Settings
from .xdist import Channels

if TYPE_CHECKING:  # imported when a test first activates a cassette: a session without one never does
    from .cassette import Cassette, CassetteStore
    from .transport import Exchange, Interceptor  # noqa: F401 - Interceptor: the type of INTERCEPTOR_KEY

__all__ = ["LLMSession", "TestOutcome", "cassette_path"]

_UNSAFE = re.compile(r"[^\w.\-\[\]@=+,]")


def _safe(name: str) -> str:
    """A test name made safe as a file name (parametrize ids keep their brackets)."""
    cleaned = _UNSAFE.sub("_", name)
    return cleaned[:200] if len(cleaned) > 200 else cleaned


def cassette_path(settings: Settings, item: Any, name: str | None) -> tuple[Path, bool]:
    """Where a test's cassette lives, and whether it is shared (named in the marker).

    Default: ``<llm_cassette_dir>/<test module>/<test name>.yaml``. ``cassette="name"`` shares
    ``<llm_cassette_dir>/<name>.yaml``; a name with a suffix (``.yaml``, ``.yml``, ``.gz``...) or a
    folder is a path, relative to the test file's folder (or the root folder if it is not there).
    """
    if name is None:
        module = Path(str(item.path)).stem
        test = item.name if item.cls is None else f"{item.cls.__name__}.{item.name}"
        return settings.cassette_dir / module / f"{_safe(test)}.yaml", False
    candidate = Path(name)
    if candidate.is_absolute():
        return candidate, True
    if candidate.suffix or len(candidate.parts) > 1:
        near_test = Path(str(item.path)).parent / candidate
        return (near_test if near_test.exists() else settings.rootpath / candidate), True
    return settings.cassette_dir / f"{_safe(name)}.yaml", True


@dataclass
class TestOutcome:
    """How the test's call phase ended, as seen by ``pytest_runtest_makereport``."""

    ran: bool = False
    passed: bool = False
    assertion_failed: bool = False
    miss_shown: bool = False  # the test failed with a CassetteMiss, so the user saw it

    def record(self, report: Any, excinfo: Any) -> None:
        """The call phase's report (``pytest_runtest_makereport``) and exception info, if any."""
        from .errors import CassetteMiss

        self.ran = True
        self.passed = report.passed
        if excinfo is not None:
            self.assertion_failed = excinfo.errisinstance(AssertionError)
            self.miss_shown = excinfo.errisinstance(CassetteMiss)


class LLMSession:
    """Session-wide state of the plugin (one per pytest run, one per xdist worker)."""

    def __init__(self, settings: Settings, session_id: str | None = None) -> None:
        self.settings = settings
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self._store: CassetteStore | None = None
        self.listeners: list[Callable[[Exchange, Any], None]] = []
        #: Callables ``(request, item)`` run before each live request is sent; one that raises stops
        #: the call, and the test's recording is then not saved (``--llm-budget``).
        self.send_checks: list[Callable[[Any, Any], None]] = []
        self.cassettes_used: set[Path] = set()
        self.channels = Channels()

    @property
    def store(self) -> CassetteStore:
        """The session's parsed cassettes (made on first use)."""
        if self._store is None:
            from .cassette import CassetteStore

            self._store = CassetteStore()
        return self._store

    def relative(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(self.settings.rootpath))
        return str(path)

    def record_command(self, item: Any) -> str:
        return f"pytest --llm-live '{item.nodeid}'"

    def open_cassette(self, item: Any) -> Cassette:
        from .cassette import Cassette

        marker = item.get_closest_marker("llm")
        name = marker.kwargs.get("cassette") if marker is not None else None
        path, shared = cassette_path(self.settings, item, name)
        mode = self.settings.mode
        exists = path.exists()
        recording = mode == "live" or (mode == "new" and not exists)
        data = None if recording or not exists else self.store.get(path)
        self.cassettes_used.add(path)
        return Cassette(
            path,
            recording=recording,
            data=data,
            record_command=self.record_command(item),
            shared=shared,
            display_path=self.relative(path),
        )

    @contextlib.contextmanager
    def activate(self, item: Any, outcome: TestOutcome) -> Iterator[Cassette]:
        """The test's cassette, with the transport patched while the test runs."""
        from .transport import Interceptor

        cassette = self.open_cassette(item)
        interceptor = Interceptor(
            cassette,
            filter_headers=self.settings.filter_headers,
            model_map=self.settings.model_map,
            on_exchange=lambda exchange: self._notify(exchange, item),
        )
        interceptor.send_checks.extend(functools.partial(check, item=item) for check in self.send_checks)
        item.stash[INTERCEPTOR_KEY] = interceptor
        monkeypatch = pytest.MonkeyPatch()
        try:
            interceptor.install(monkeypatch)
            yield cassette
        finally:
            monkeypatch.undo()
        self._finish(cassette, outcome, interceptor.refused)

    def _notify(self, exchange: Exchange, item: Any) -> None:
        exchange.test = item.nodeid
        ctx = current()
        if ctx is not None:
            exchange.prompt = ctx.active_prompt
            ctx.exchanges.append(exchange)
        for listener in self.listeners:
            listener(exchange, item)

    def _finish(self, cassette: Cassette, outcome: TestOutcome, refused: list[BaseException] | None = None) -> None:
        __tracebackhide__ = True
        if cassette.recording:
            if refused:
                # A send check stopped a call (budget): the recording is incomplete, never save it.
                if outcome.passed or cassette.recorded:
                    pytest.fail(
                        f"pytest-llmops: a provider call was not sent, so this test's recording was not written "
                        f"({len(cassette.recorded)} call(s) discarded); {cassette.display_path} is unchanged.\n"
                        f"{refused[0]}",
                        pytrace=False,
                    )
                return
            if not cassette.recorded and not cassette.path.exists():
                return  # the test made no provider call (or all were faulted): no empty file
            if outcome.ran and (outcome.passed or outcome.assertion_failed):
                from .cassette import recorded_with

                self.store.forget(cassette.path)
                cassette.save(self.session_id, {"recorded_with": recorded_with()})
            elif cassette.recorded:
                pytest.fail(
                    f"pytest-llmops: the test raised before it finished, so its recording was not written "
                    f"({len(cassette.recorded)} call(s) discarded); {cassette.display_path} is unchanged.",
                    pytrace=False,
                )
            return
        if cassette.misses and outcome.ran and not outcome.miss_shown:
            pytest.fail(
                "a request had no recorded response, and the code under test caught the error:\n\n"
                + cassette.misses[0].message,
                pytrace=False,
            )


INTERCEPTOR_KEY = pytest.StashKey["Interceptor"]()
