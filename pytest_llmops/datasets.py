"""Datasets: the cases of a parametrized test, compared old vs new as pairs, with an interval.

A parametrized test run over a dataset (``@pytest.mark.parametrize("case", CASES)``) gives one score
per case. Case by case each score is judged on its own (``baseline.compare_score``); this module
answers the question about the whole dataset: *how much did the mean score change, and how sure is
that?* For every case scored both in the baseline and in this run, the difference new - old is
taken (the case's mean over its samples, each side), and the mean difference gets a confidence
interval by the run's method (``stats.paired``: a paired t interval for ``welch``, a bootstrap of
the mean difference for ``bootstrap``). Pairing removes the case-to-case spread (hard cases stay
hard), so a small change over many cases is measured far more precisely than by comparing the two
means as independent samples.

The result is reported (terminal summary, HTML report), never failed on: a regression fails the
cases that regressed, and this says what the change means for the dataset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .scores import format_change, format_score
from .stats import Interval, StatSettings, paired, summarize

__all__ = ["DatasetChange", "dataset_changes", "split_case", "summary_lines"]

_CASE = re.compile(r"^(?P<test>.+?)\[(?P<case>.*)\]$", re.DOTALL)
_PAIRED = ("regressed", "noise", "improved", "unchanged")


def split_case(nodeid: str) -> tuple[str, str] | None:
    """``"t.py::test_answer[case-1]"`` -> ``("t.py::test_answer", "case-1")``; None if not parametrized."""
    match = _CASE.match(nodeid)
    return (match.group("test"), match.group("case")) if match else None


def _new_mean(verdict: Any) -> float:
    samples = verdict.samples
    return summarize(samples).mean if len(samples) > 1 else float(verdict.value)


@dataclass(frozen=True)
class DatasetChange:
    """The change of one metric over the cases of one parametrized test."""

    test: str  # the test without its case id: "t.py::test_answer"
    key: str  # the metric's key: "coverage", "judge#2"
    cases: int  # cases that recorded the score in this run
    paired: int  # of which scored in the baseline and in this run
    new: int  # of which had no baseline entry
    unscored: int  # of which could not be scored in this run
    model_change: str  # "gpt-4o-mini -> gpt-4.1", one model, or "mixed models"
    old_mean: float | None  # mean over the paired cases
    new_mean: float | None
    interval: Interval | None  # None with fewer than 2 paired cases

    @property
    def change(self) -> float | None:
        if self.interval is not None:
            return self.interval.estimate
        if self.old_mean is None or self.new_mean is None:
            return None
        return self.new_mean - self.old_mean

    @property
    def direction(self) -> str:
        """``worse`` / ``better`` (the interval leaves out 0), ``within noise``, ``unchanged`` (every
        case scored exactly as before), or "" (no interval)."""
        if self.interval is None:
            return ""
        if self.interval.low == self.interval.high == 0:
            return "unchanged"
        if self.interval.high < 0:
            return "worse"
        if self.interval.low > 0:
            return "better"
        return "within noise"

    def cases_text(self) -> str:
        extra = [f"{self.new} new" if self.new else "", f"{self.unscored} unscored" if self.unscored else ""]
        extra = [e for e in extra if e]
        if extra or self.paired != self.cases:
            return f"{self.cases} cases ({', '.join([f'{self.paired} paired', *extra])})"
        return f"{self.cases} cases"

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test, "key": self.key, "cases": self.cases, "paired": self.paired, "new": self.new,
                "unscored": self.unscored, "model_change": self.model_change, "old_mean": self.old_mean,
                "new_mean": self.new_mean, "change": self.change, "direction": self.direction,
                "interval": self.interval.to_json() if self.interval is not None else None}


def dataset_changes(verdicts: Iterable[Any], stat: StatSettings | None = None) -> list[DatasetChange]:
    """One ``DatasetChange`` per (parametrized test, metric key) with 2 or more cases in ``verdicts``
    (``baseline.Verdict``), at least one of them scored in the baseline too; sorted by test and key."""
    stat = stat or StatSettings()
    groups: dict[tuple[str, str], list[Any]] = {}
    for verdict in verdicts:
        if verdict.status == "missing":
            continue
        split = split_case(verdict.test)
        if split is not None:
            groups.setdefault((split[0], verdict.key), []).append(verdict)
    changes = []
    for (test, key), members in sorted(groups.items(), key=lambda item: (item[0][0], _key_order(item[0][1]))):
        if len(members) < 2:
            continue
        scored = [v for v in members if v.status in _PAIRED and v.old is not None]
        if not scored:  # a new dataset (or nothing scored): nothing to compare yet
            continue
        pairs = [(v.old.mean, _new_mean(v)) for v in scored]
        labels = {v.model_change for v in (scored or members)}
        interval = None
        if len(pairs) >= 2:
            interval = paired([o for o, _ in pairs], [n for _, n in pairs], stat.alpha, method=stat.method,
                              resamples=stat.resamples, seed=stat.seed)
        changes.append(DatasetChange(
            test=test, key=key, cases=len(members), paired=len(pairs),
            new=sum(1 for v in members if v.status == "new"),
            unscored=sum(1 for v in members if v.status == "unscored"),
            model_change=labels.pop() if len(labels) == 1 else "mixed models",
            old_mean=math.fsum(o for o, _ in pairs) / len(pairs) if pairs else None,
            new_mean=math.fsum(n for _, n in pairs) / len(pairs) if pairs else None,
            interval=interval,
        ))
    return changes


def _key_order(key: str) -> tuple[str, int]:
    metric, sep, ordinal = key.rpartition("#")
    return (metric, int(ordinal)) if sep and ordinal.isdigit() else (key, 1)


_num, _signed = format_score, format_change


_MARKUP = {"worse": {"red": True, "bold": True}, "better": {"green": True}, "within noise": {}, "unchanged": {},
           "": {}}
_ORDER = ("worse", "better", "within noise", "", "unchanged")


def summary_lines(changes: Sequence[DatasetChange], *, verbose: bool = False) -> list[tuple[str, dict[str, bool]]]:
    """The ``llm datasets`` section: one row per parametrized test and metric (those whose every case
    scored exactly as before only with ``verbose``), then the counts."""
    if not changes:
        return []
    rows = []
    for change in changes:
        if change.direction == "unchanged" and not verbose:
            continue
        if change.interval is not None:
            method = change.interval.method
            detail = f"{change.interval.describe(_signed)} ({method})"
        else:
            detail = "no interval: needs 2 cases scored in the baseline and in this run"
        delta = change.change
        rows.append((change, (change.test, change.key, change.cases_text(),
                              _num(change.old_mean) if change.old_mean is not None else "",
                              "->" if change.old_mean is not None else "",
                              _num(change.new_mean) if change.new_mean is not None else "",
                              _signed(delta) if delta is not None else "", detail, change.direction)))
    widths = [max((len(cells[i]) for _, cells in rows), default=0) for i in range(8)]
    lines: list[tuple[str, dict[str, bool]]] = [
        ("paired over the cases of each parametrized test: mean score old -> new, change and its interval",
         {"bold": True})]
    current_group = None
    for change, cells in sorted(rows, key=lambda row: (row[0].model_change, row[0].test, _key_order(row[0].key))):
        if change.model_change != current_group:
            current_group = change.model_change
            lines.append((f"{current_group}:", {"bold": True}))
        text = (f"  {cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:<{widths[2]}}  {cells[3]:>{widths[3]}} "
                f"{cells[4]:<{widths[4]}} {cells[5]:<{widths[5]}}  {cells[6]:>{widths[6]}}  {cells[7]:<{widths[7]}}  "
                f"{cells[8]}")
        lines.append((text.rstrip(), _MARKUP[change.direction]))
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.direction] = counts.get(change.direction, 0) + 1
    names = {"": "without an interval"}
    total = f"{len(changes)} dataset{'s' if len(changes) != 1 else ''}: " + ", ".join(
        f"{counts[d]} {names.get(d, d)}" for d in _ORDER if counts.get(d))
    lines.append((total, {"bold": True}))
    return lines
