"""Reports of a run: the per-call JSONL log and the end-of-session usage summary.

Each report has its own clearly named functions here (``usage_*``: the per-call log and the bill);
other reports (HTML) go beside them. The functions take plain data (the per-call records, see
``usage``), so they work the same on a single process and on the xdist controller after the merge.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .usage import Usage, money

__all__ = ["usage_summary_lines", "write_usage_jsonl", "write_usage_summary"]

_LABEL = 10  # width of the label column of the summary


# -- per-call log (--llm-report) -------------------------------------------------------------------
def write_usage_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per call, ordered by time, replacing ``path`` atomically. Returns the count."""
    from .cassette import atomic_write

    ordered = sorted(records, key=lambda record: record.get("ts") or "")
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in ordered)
    atomic_write(path, text.encode("utf-8"))
    return len(ordered)


# -- terminal summary ------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f} ms"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _row(label: str, text: str) -> str:
    return f"{label:<{_LABEL}}{text}"


def _cost_of(usage: Usage) -> str:
    if usage.cost_usd is not None:
        return money(usage.cost_usd)
    return f"{money(usage.known_cost_usd)}+?" if usage.known_cost_usd else "?"


def usage_summary_lines(
    records: Sequence[Mapping[str, Any]],
    *,
    prices_as_of: str | None = None,
    price_overrides: bool = False,
    budget_usd: float | None = None,
    refused: int = 0,
    report_path: str | None = None,
    top: int = 5,
) -> list[str]:
    """The lines of the end-of-session usage summary (no header); empty if nothing happened."""
    if not records and not refused:
        return []
    total = Usage.of(records)
    lines: list[str] = []

    calls = f"{total.calls}: {total.live_calls} live, {total.replayed_calls} replayed"
    if total.error_calls:
        calls += f", {total.error_calls} failed"
    lines.append(_row("calls", calls))

    tokens = f"{total.input_tokens:,} in"
    if total.cached_input_tokens:
        tokens += f" ({total.cached_input_tokens:,} cached)"
    tokens += f", {total.output_tokens:,} out"
    if total.no_usage_calls:
        tokens += f" ({_n(total.no_usage_calls, 'call')} reported no usage)"
    lines.append(_row("tokens", tokens))

    prices = "estimated"
    if prices_as_of:
        prices += f", prices of {prices_as_of}"
    if price_overrides:
        prices += " + llm_pricing"
    if total.unknown_cost_calls:
        lines.append(_row("cost", f"{money(total.known_cost_usd)} + ? ({prices}): "
                                  f"{total.unknown_cost_calls} of {_n(total.calls, 'call')} of unknown cost"))
        notes = Counter(record.get("cost_note") or "cost unknown" for record in records
                        if record.get("cost_usd") is None)
        for note, count in notes.most_common(3):
            hint = "; add it with llm_pricing" if note.startswith("no price for") else ""
            lines.append(_row("", f"{count} x {note}{hint}"))
        if len(notes) > 3:
            lines.append(_row("", f"... and {len(notes) - 3} other reason(s), see --llm-report"))
    else:
        lines.append(_row("cost", f"{money(total.cost_usd)} ({prices})"))

    if total.latencies_ms:
        latency = ", ".join(f"p{q} {_ms(total.latency_percentile(q))}" for q in (50, 95, 99))
        if total.replayed_calls:
            latency += f" (replayed calls count their recorded latency; replay took {_ms(total.replay_ms)})"
        lines.append(_row("latency", latency))

    by_test: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_test.setdefault(record.get("test") or "?", []).append(record)
    if len(by_test) > 1:
        usages = sorted(((Usage.of(rs), test) for test, rs in by_test.items()),
                        key=lambda pair: (-pair[0].known_cost_usd, -pair[0].total_tokens, pair[1]))
        shown = usages[:top]
        label = f"top {len(shown)}" if len(by_test) > top else "by test"
        width = max(len(_cost_of(usage)) for usage, _ in shown)
        for i, (usage, test) in enumerate(shown):
            lines.append(_row(label if i == 0 else "", f"{_cost_of(usage):>{width}}  {usage.total_tokens:>7,} tok  "
                                                       f"{_n(usage.calls, 'call'):>9}  {test}"))

    if budget_usd is not None:
        live = [record for record in records if not record.get("replayed")]
        spent = sum(record.get("cost_usd") or 0.0 for record in live)
        budget = f"{money(spent)} of {money(budget_usd)} spent"
        if refused:
            budget += f"; {_n(refused, 'call')} refused, not sent"
        unknown = sum(1 for record in live if record.get("cost_usd") is None)
        if unknown:
            budget += f"; {_n(unknown, 'live call')} of unknown cost not counted"
        lines.append(_row("budget", budget))

    if report_path:
        lines.append(_row("report", f"{report_path} ({_n(len(records), 'line')})"))
    return lines


def write_usage_summary(terminalreporter: Any, lines: Sequence[str]) -> None:
    """The ``llm usage`` section of pytest's terminal summary."""
    if not lines:
        return
    terminalreporter.write_sep("=", "llm usage")
    for line in lines:
        terminalreporter.write_line(line)
