"""The last run's comparison, left where ``python -m pytest_llmops review`` reads it.

At the end of every session the controller writes ``.pytest_cache/v/llmops/last_run.json`` (atomically;
nothing when the cache is disabled with ``-p no:cacheprovider``): for each test that recorded scores,
took snapshots or called a provider, its score verdicts and snapshot verdicts (as the baseline compared
them), whether its body ran to the end, and the answers of its provider calls (judge calls left out)::

    {"version": 1,
     "run": {"session": "3f2a..", "ts": "2026-11-26T10:00:00Z", "mode": "live", "updated_baseline": false,
             "rootdir": "/repo", "baseline": "/repo/llm-baseline.json", "snapshots": "/repo/llm-snapshots"},
     "tests": {"tests/test_app.py::test_answer": {
         "finished": true,
         "verdicts": [<baseline Verdict.to_json()>...],
         "snapshots": [<SnapshotVerdict.to_json()> + "old": stored data...],
         "calls": [{"model": "gpt-4.1", "prompt": "answer@v1", "asked": "...", "replayed": false,
                    "answer": {<answers.Answer>}, "old_answer": {<answers.Answer>} | null}]}}}

``old_answer`` is what the test's cassette held for that call before this run re-recorded it (live
runs: read before the new recording replaces the file; matched by request, else by position); in
replay the answer is the recorded one and ``old_answer`` is null.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LAST_RUN_KEY", "LAST_RUN_VERSION", "LastRunError", "RunCalls", "build_last_run", "find_last_run",
           "load_last_run", "write_last_run"]

LAST_RUN_KEY = "llmops/last_run.json"
LAST_RUN_VERSION = 1


class LastRunError(Exception):
    """The last run's record is missing, damaged or too new."""


def is_judge_lineage(lineage: Mapping[str, Any] | None) -> bool:
    """Whether a prompt lineage is one of the LLM judge's prompts."""
    judge = sys.modules.get("pytest_llmops.judge")
    lineage = lineage or {}
    return judge is not None and (lineage.get("prompt"), lineage.get("prompt_digest")) in judge._JUDGE_LINEAGES


def is_judge_call(exchange: Any) -> bool:
    """Whether a call was made by the LLM judge (its prompt lineage is a judge prompt's)."""
    return is_judge_lineage(getattr(exchange, "prompt", None))


class RunCalls:
    """Session listener: the answers of each test's provider calls (and, live, what they replace)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.tests: dict[str, list[dict[str, Any]]] = {}
        self._positions: dict[str, int] = {}

    def on_exchange(self, exchange: Any, item: Any) -> None:
        try:
            self._record(exchange, item)
        except Exception:  # noqa: BLE001, S110 - bookkeeping never fails a test
            pass

    def _record(self, exchange: Any, item: Any) -> None:
        from .answers import answer_from_interaction, asked
        from .matching import parse_body

        nodeid = getattr(item, "nodeid", "") or exchange.test
        position = self._positions.get(nodeid, 0)
        self._positions[nodeid] = position + 1
        if is_judge_call(exchange):
            return
        answer = answer_from_interaction(exchange.interaction)
        if answer is None:
            return
        old = None
        if not exchange.replayed:
            old = self._old_answer(exchange, item, position)
        lineage = exchange.prompt or {}
        self.tests.setdefault(nodeid, []).append({
            "model": exchange.model,
            "prompt": lineage.get("prompt"),
            "prompt_digest": lineage.get("prompt_digest"),
            "asked": asked(parse_body(exchange.interaction.request_body))[:2000],
            "replayed": bool(exchange.replayed),
            "answer": answer.to_json(),
            "old_answer": old.to_json() if old is not None else None,
        })

    def _old_answer(self, exchange: Any, item: Any, position: int) -> Any:
        from .answers import answer_from_interaction
        from .session import INTERCEPTOR_KEY

        interceptor = item.stash.get(INTERCEPTOR_KEY, None) if hasattr(item, "stash") else None
        if interceptor is None or not interceptor.cassette.path.exists():
            return None
        data = self.session.store.get(interceptor.cassette.path)
        if data is None:
            return None
        positions = data.index.get(exchange.interaction.key)
        if positions:
            return answer_from_interaction(data.interactions[positions[0]])
        if position < len(data.interactions):
            return answer_from_interaction(data.interactions[position])
        return None

    # xdist
    def collect(self) -> dict[str, Any]:
        return self.tests

    def merge(self, data: Mapping[str, Any]) -> None:
        for test, calls in data.items():
            self.tests.setdefault(test, []).extend(calls)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_last_run(run: Any, calls: RunCalls | None, settings: Any, session_id: str) -> dict[str, Any]:
    """The record of this run (``run``: the baseline's ``BaselineRun``, merged on the controller)."""
    tests: dict[str, dict[str, Any]] = {}

    def entry(test: str) -> dict[str, Any]:
        return tests.setdefault(test, {"finished": test in run.finished, "verdicts": [], "snapshots": [], "calls": []})

    for verdict in run.results():
        entry(verdict.test)["verdicts"].append(verdict.to_json())
    for snapshot in run.snapshot_results():
        data = snapshot.to_json()
        try:
            data["old"] = run.snapshots.load(snapshot.test).get(snapshot.name)
        except Exception:  # noqa: BLE001 - an unreadable snapshot file was reported by the baseline
            data["old"] = None
        entry(snapshot.test)["snapshots"].append(data)
    for test, test_calls in (calls.tests if calls is not None else {}).items():
        entry(test)["calls"] = test_calls
    return {
        "version": LAST_RUN_VERSION,
        "about": "pytest-llmops: the last run's scores, snapshots and answers, for `python -m pytest_llmops review`.",
        "run": {
            "session": session_id,
            "ts": _now(),
            "mode": settings.mode,
            "updated_baseline": bool(run.update),
            "rootdir": str(settings.rootpath),
            "baseline": str(run.baseline.path),
            "snapshots": str(run.snapshots.folder),
            "tolerance": settings.tolerance,
        },
        "tests": tests,
    }


def write_last_run(cache: Any, value: Mapping[str, Any]) -> Path | None:
    """Write the record into pytest's cache folder, atomically (a reader never sees half of it)."""
    from .cassette import atomic_write

    text = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
    try:
        path = cache._getvaluepath(LAST_RUN_KEY)
        cache._mkdir(path.parent)
    except AttributeError:  # pragma: no cover - pytest changed its cache internals: its own (non-atomic) write
        cache.set(LAST_RUN_KEY, value)
        return None
    atomic_write(path, text)
    return Path(path)


def find_last_run(start: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The record file: in ``cache_dir``, else the nearest ``.pytest_cache`` above ``start``."""
    if cache_dir is not None:
        return Path(cache_dir) / "v" / LAST_RUN_KEY
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / ".pytest_cache" / "v" / LAST_RUN_KEY
        if candidate.exists():
            return candidate
    return start / ".pytest_cache" / "v" / LAST_RUN_KEY


def load_last_run(path: Path) -> dict[str, Any]:
    """The record, checked; ``LastRunError`` says what is wrong and what to do."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise LastRunError(f"no record of a test run at {path}: run pytest first (the plugin writes it at the end of "
                           f"every run; a run with -p no:cacheprovider writes none).") from None
    except OSError as exc:
        raise LastRunError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LastRunError(f"{path} is damaged ({exc}); run pytest again to write a new one.") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), dict) or not isinstance(data.get("run"), dict):
        raise LastRunError(f"{path} is not a pytest-llmops run record; run pytest again to write a new one.")
    version = data.get("version")
    if isinstance(version, int) and version > LAST_RUN_VERSION:
        raise LastRunError(f"{path} was written by a newer pytest-llmops (record version {version}; this version "
                           f"reads {LAST_RUN_VERSION}). Upgrade pytest-llmops, or run pytest again with this one.")
    return data
