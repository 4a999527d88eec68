"""``--llm-html PATH``: one self-contained HTML file comparing this run's scores with the baseline.

No JavaScript, no web fonts, no external style sheet or image: the plots are inline SVG drawn here,
so the file opens from disk, from a CI artifact, or attached to a ticket, and shows the same thing
forever. Sections: the counts (per model change, like the terminal summary), one plot per metric
(baseline vs this run: each test a dot, a line from its old to its new score, means marked), every
score as a table row, and the snapshots with their diffs.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .baseline import STATUSES, BaselineRun, SnapshotVerdict, Verdict, _delta, _num, counts_text
from .datasets import DatasetChange, dataset_changes

__all__ = ["render_html", "write_html"]

_COLORS = {"regressed": "#c62828", "changed": "#c62828", "noise": "#9e7c00", "improved": "#2e7d32", "new": "#00838f",
           "unscored": "#b26a00", "missing": "#8d6e63", "unchanged": "#607d8b",
           "worse": "#c62828", "better": "#2e7d32", "within noise": "#607d8b"}
_OLD, _NEW = "#9e9e9e", "#1565c0"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#212121;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#616161;margin:0 0 12px}.counts{font-size:16px;font-weight:600;margin:8px 0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #eee;vertical-align:top}th{background:#fafafa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.status{font-weight:600;font-size:11px;letter-spacing:.04em;padding:1px 6px;border-radius:3px;color:#fff;
white-space:nowrap}
tr.regressed{background:#fdecea}tr.improved{background:#edf7ed}tr.noise{background:#fff8e1}
code,.test{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.muted{color:#757575}.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #e0e0e0;border-radius:4px;
padding:8px}.plot h3{font-size:14px;margin:0 0 4px}pre{margin:4px 0;white-space:pre-wrap;font-size:12px}
.groups td:first-child{font-weight:600}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _badge(status: str) -> str:
    return f'<span class="status" style="background:{_COLORS.get(status, "#757575")}">{_e(status.upper())}</span>'


def _jitter(test: str, key: str) -> float:
    """A stable vertical offset in [-1, 1] for a dot (same test, same place, every run)."""
    digest = hashlib.sha256(f"{test}\0{key}".encode()).digest()
    return digest[0] / 127.5 - 1


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def metric_plot(metric: str, verdicts: Sequence[Verdict], width: int = 560) -> str:
    """Inline SVG: the metric's baseline scores (grey) and this run's (blue), one dot per test, a line
    from each test's old to its new score (red: regressed, green: improved), means as bars."""
    olds = [(v, v.old.value) for v in verdicts if v.old is not None]
    news = [(v, v.value) for v in verdicts if v.value is not None and v.status != "missing"]
    values = [value for _, value in olds + news]
    if not values:
        return ""
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    left, right, height = 130, 16, 150
    lanes = {"baseline": 45, "this run": 105}
    band = 16

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    parts = [f'<svg width="{width}" height="{height + 24}" viewBox="0 0 {width} {height + 24}" role="img" '
             f'aria-label="{_e(metric)}: baseline vs this run">']
    for tick in _ticks(low, high):
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="20" x2="{tx:.1f}" y2="{height - 10}" stroke="#eee"/>')
        parts.append(f'<text x="{tx:.1f}" y="{height + 4}" font-size="11" text-anchor="middle" fill="#757575">'
                     f'{_e(_num(tick))}</text>')
    for label, y in lanes.items():
        parts.append(f'<text x="4" y="{y + 4}" font-size="12" fill="#424242">{_e(label)}</text>')
    # lines from old to new, per test
    for verdict in verdicts:
        if verdict.old is None or verdict.value is None or verdict.status == "missing":
            continue
        jitter = _jitter(verdict.test, verdict.key) * band
        color = _COLORS["regressed"] if verdict.status == "regressed" else (
            _COLORS["improved"] if verdict.status == "improved" else "#cfd8dc")
        parts.append(f'<line x1="{x(verdict.old.value):.1f}" y1="{lanes["baseline"] + jitter:.1f}" '
                     f'x2="{x(verdict.value):.1f}" y2="{lanes["this run"] + jitter:.1f}" stroke="{color}" '
                     f'stroke-width="1.2" opacity="0.8"/>')
    for lane, points, color in (("baseline", olds, _OLD), ("this run", news, _NEW)):
        y = lanes[lane]
        for verdict, value in points:
            jitter = _jitter(verdict.test, verdict.key) * band
            parts.append(f'<circle cx="{x(value):.1f}" cy="{y + jitter:.1f}" r="4" fill="{color}" fill-opacity="0.75">'
                         f'<title>{_e(verdict.test)} {_e(verdict.key)}: {_e(_num(value))}</title></circle>')
        if points:
            mean = sum(value for _, value in points) / len(points)
            parts.append(f'<line x1="{x(mean):.1f}" y1="{y - band - 6}" x2="{x(mean):.1f}" y2="{y + band + 6}" '
                         f'stroke="{color}" stroke-width="3"><title>mean {_e(_num(mean))}</title></line>')
            parts.append(f'<text x="4" y="{y + 18}" font-size="11" fill="{color}">'
                         f'n={len(points)}, mean {_e(_num(mean))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _lineage(verdict: Verdict, field: str) -> str:
    old = getattr(verdict.old, field) if verdict.old is not None else None
    new = getattr(verdict, field) if verdict.status != "missing" else None
    if verdict.old is None:
        return _e(new or "")
    if verdict.status == "missing" or old == new:
        return _e(old or "")
    return f'{_e(old or "(none)")} &rarr; <b>{_e(new or "(none)")}</b>'


def _row(verdict: Verdict, update: bool) -> str:
    old = _num(verdict.old_shown) if verdict.old is not None else ""
    new = _num(verdict.new_shown) if verdict.status != "missing" else ""
    change = _delta(verdict.delta) if verdict.delta is not None else ""
    interval = verdict.stats.describe() if verdict.stats is not None else ""
    notes = []
    if verdict.stats is not None:
        notes.append(f"{verdict.stats.method_text()}; n {verdict.stats.n_old} vs {verdict.stats.n_new}")
        if verdict.status == "noise":
            notes.append("within noise: the interval contains 0")
    elif verdict.note and verdict.old is not None and verdict.value is not None:
        notes.append("plain tolerance (one sample per side)" if "one sample per side" in verdict.note else verdict.note)
    if verdict.unscored_samples and verdict.status != "unscored":
        notes.append(f"{verdict.unscored_samples} unscored sample(s) left out (not counted as 0)")
    if verdict.status == "unscored":
        notes.append(verdict.reason or "unscored")
    if verdict.status == "missing":
        notes.append("in the baseline, not recorded by this run")
    if verdict.old is not None and verdict.old.updated:
        notes.append(f"accepted {verdict.old.updated}")
    if len(verdict.samples) > 1:
        notes.append(f"{len(verdict.samples)} samples")
    if update and verdict.status in ("regressed", "improved", "new", "missing"):
        notes.append("accepted by this run" if verdict.status != "missing" else "removed by this run")
    prompt = _lineage(verdict, "prompt")
    if verdict.old is not None and verdict.prompt_change and "content changed" in verdict.prompt_change:
        prompt += " <span class='muted'>(content changed)</span>"
    return (f'<tr class="{verdict.status}"><td>{_badge(verdict.status)}</td><td class="test">{_e(verdict.test)}</td>'
            f'<td><code>{_e(verdict.key)}</code></td><td class="num">{_e(old)}</td><td class="num">{_e(new)}</td>'
            f'<td class="num">{_e(change)}</td><td class="num">{_e(interval)}</td>'
            f'<td class="num">{_e(_num(verdict.tolerance.value))}</td>'
            f'<td>{_lineage(verdict, "model")}</td><td>{prompt}</td><td class="muted">{_e("; ".join(notes))}</td></tr>')


def _snapshot_row(snapshot: SnapshotVerdict, update: bool) -> str:
    status = {"changed": "regressed", "new": "new", "unchanged": "unchanged"}[snapshot.status]
    diff = "".join(f"{_e(line)}\n" for line in snapshot.diff)
    ignore = ", ".join(snapshot.ignore)
    notes = f"ignoring {ignore}" if ignore else ""
    if update and snapshot.status != "unchanged":
        notes += ("; " if notes else "") + "accepted by this run"
    return (f'<tr class="{status}"><td>{_badge(snapshot.status)}</td><td class="test">{_e(snapshot.test)}</td>'
            f'<td><code>{_e(snapshot.name)}</code></td><td><code>{_e(snapshot.file)}</code></td>'
            f'<td>{"<pre>" + diff + "</pre>" if diff else ""}<span class="muted">{_e(notes)}</span></td></tr>')


def forest_plot(changes: Sequence[DatasetChange], width: int = 560) -> str:
    """Inline SVG: per dataset (parametrized test and metric) its mean change as a dot and its
    interval as a bar, on one axis with 0 marked; red: worse, green: better, grey: within noise."""
    shown = [c for c in changes if c.interval is not None]
    if not shown:
        return ""
    values = [0.0] + [v for c in shown for v in (c.interval.low, c.interval.high)]  # type: ignore[union-attr]
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    left, right, row = 16, 16, 40
    height = row * len(shown) + 30

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="mean change per dataset with its interval">']
    for tick in _ticks(low, high):
        parts.append(f'<line x1="{x(tick):.1f}" y1="4" x2="{x(tick):.1f}" y2="{height - 22}" stroke="#eee"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" fill="#757575">'
                     f'{_e(_num(tick))}</text>')
    parts.append(f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{height - 22}" stroke="#424242" '
                 f'stroke-dasharray="3,3"/>')
    for i, change in enumerate(shown):
        interval = change.interval
        assert interval is not None
        y = 28 + i * row
        color = _COLORS.get(change.direction, "#607d8b")
        label = f"{change.test} {change.key}: {_delta(interval.estimate)}, {interval.describe()}"
        parts.append(f'<text x="{left}" y="{y - 10}" font-size="11" fill="#424242">{_e(label)} '
                     f'({_e(change.direction)})</text>')
        parts.append(f'<line x1="{x(interval.low):.1f}" y1="{y}" x2="{x(interval.high):.1f}" y2="{y}" stroke="{color}" '
                     f'stroke-width="3"><title>{_e(label)}</title></line>')
        parts.append(f'<circle cx="{x(interval.estimate):.1f}" cy="{y}" r="5" fill="{color}"><title>{_e(label)}</title>'
                     f'</circle>')
    parts.append("</svg>")
    return "".join(parts)


def _datasets_section(run: BaselineRun, results: Sequence[Verdict]) -> list[str]:
    """The paired old-vs-new change of each metric over the cases of a parametrized test."""
    changes = dataset_changes(results, run.stat)
    if not changes:
        return []
    out = ['<h2>Datasets: paired change over the cases of each parametrized test</h2>',
           ('<p class="meta">For each case scored in the baseline and in this run: new - old (each the mean of its '
            'samples); the mean change over the cases with its interval '
            f'({_e(run.stat.method)}, alpha {_e(_num(run.stat.alpha))}).</p>')]
    svg = forest_plot(changes)
    if svg:
        out.append(f'<div class="plot">{svg}</div>')
    out.append("<table><tr><th>test</th><th>metric</th><th>model</th><th>cases</th><th>baseline mean</th>"
               "<th>this run mean</th><th>change</th><th>interval</th><th>verdict</th></tr>")
    for change in changes:
        interval = change.interval
        delta = change.change
        verdict = change.direction or "no interval (needs 2 paired cases)"
        color = _COLORS.get(change.direction, "#757575")
        out.append(
            f'<tr><td class="test">{_e(change.test)}</td><td><code>{_e(change.key)}</code></td>'
            f'<td>{_e(change.model_change)}</td><td>{_e(change.cases_text())}</td>'
            f'<td class="num">{_e(_num(change.old_mean) if change.old_mean is not None else "")}</td>'
            f'<td class="num">{_e(_num(change.new_mean) if change.new_mean is not None else "")}</td>'
            f'<td class="num">{_e(_delta(delta) if delta is not None else "")}</td>'
            f'<td class="num">{_e(interval.describe() + " (" + interval.method + ")" if interval else "")}</td>'
            f'<td style="color:{color};font-weight:600">{_e(verdict)}</td></tr>')
    out.append("</table>")
    return out


def render_html(run: BaselineRun, title: str = "pytest-llmops: scores vs baseline", extra: Sequence[str] = ()) -> str:
    """The whole report as one HTML document (no external references). ``extra``: more sections (HTML
    fragments from other features: human review labels, shadow comparison), added before the footer."""
    results = run.results()
    snapshots = run.snapshot_results()
    order = {status: i for i, status in enumerate(STATUSES)}
    totals: dict[str, int] = {}
    for verdict in results:
        totals[verdict.status] = totals.get(verdict.status, 0) + 1
    counts = counts_text(totals) or "no scores recorded"
    if snapshots:
        snap_counts: dict[str, int] = {}
        for snapshot in snapshots:
            snap_counts[snapshot.status] = snap_counts.get(snapshot.status, 0) + 1
        counts += "; snapshots: " + counts_text(snap_counts, ("changed", "new", "unchanged"))
    if run.write_error:
        state = f"{run.baseline.display} NOT updated: {run.write_error}"
    elif run.written is not None:
        state = f"{run.baseline.display} updated with this run's scores (--llm-update-baseline)"
    else:
        state = f"compared with {run.baseline.display} (not updated)"

    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(state)}</p>', f'<p class="counts">{_e(counts)}</p>']

    groups: dict[str, dict[str, int]] = {}
    for verdict in results:
        group = groups.setdefault(verdict.model_change, {})
        group[verdict.status] = group.get(verdict.status, 0) + 1
    if groups:
        out.append('<h2>By model change</h2><table class="groups"><tr><th>model</th>'
                   + "".join(f"<th>{_e(s)}</th>" for s in STATUSES) + "</tr>")
        for label in sorted(groups, key=lambda g: (min(order[s] for s in groups[g]), g)):
            out.append(f"<tr><td>{_e(label)}</td>" + "".join(
                f'<td class="num">{groups[label].get(s, 0) or ""}</td>' for s in STATUSES) + "</tr>")
        out.append("</table>")

    by_metric: dict[str, list[Verdict]] = {}
    for verdict in results:
        by_metric.setdefault(verdict.metric, []).append(verdict)
    plots = [(metric, metric_plot(metric, verdicts)) for metric, verdicts in sorted(by_metric.items())]
    if any(svg for _, svg in plots):
        out.append('<h2>Score distributions: baseline vs this run</h2><div class="plots">')
        for metric, svg in plots:
            if svg:
                metric_counts = counts_text({s: sum(1 for v in by_metric[metric] if v.status == s) for s in STATUSES})
                out.append(f'<div class="plot"><h3><code>{_e(metric)}</code> <span class="muted">'
                           f'{_e(metric_counts)}</span></h3>{svg}</div>')
        out.append("</div>")

    if results:
        out.append("<h2>Scores</h2><table><tr><th>status</th><th>test</th><th>metric</th><th>baseline</th>"
                   "<th>this run</th><th>change</th><th>interval</th><th>tolerance</th><th>model</th><th>prompt</th>"
                   "<th>notes</th></tr>")
        for verdict in sorted(results, key=lambda v: (order[v.status], v.test, v.key)):
            out.append(_row(verdict, run.update))
        out.append("</table>")

    out.extend(_datasets_section(run, results))

    if snapshots:
        rank = {"changed": 0, "new": 1, "unchanged": 2}
        out.append("<h2>Snapshots</h2><table><tr><th>status</th><th>test</th><th>name</th><th>file</th>"
                   "<th>differences</th></tr>")
        for snapshot in sorted(snapshots, key=lambda s: (rank[s.status], s.test, s.name)):
            out.append(_snapshot_row(snapshot, run.update))
        out.append("</table>")
    out.extend(section for section in extra if section)
    out.append('<p class="meta">Generated by pytest-llmops. Accept this run\'s scores with '
               "<code>pytest --llm-update-baseline</code>.</p></body></html>")
    return "\n".join(out) + "\n"


def write_html(path: Path, run: BaselineRun, extra: Sequence[str] = ()) -> None:
    """Write the report to ``path`` atomically."""
    from .cassette import atomic_write

    atomic_write(Path(path), render_html(run, extra=extra).encode("utf-8"))
