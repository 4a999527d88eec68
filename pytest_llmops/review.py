"""``python -m pytest_llmops review``: a person looks at the outputs the last run changed, and decides.

    pytest --llm-live                          # re-record, score, compare with the baseline
    python -m pytest_llmops review             # walk through what changed, plus a sample of the rest

It reads the last run's record (``.pytest_cache/v/llmops/last_run.json``, see ``lastrun``) and shows,
one test at a time, the tests whose scores or snapshots changed (regressed, improved, new, missing;
snapshots changed or new), then a random sample of the unchanged ones (``--sample``, default 0.1,
drawn with a seed taken from the run, so stopping and coming back shows the same sample). For each:
the model and prompt version (old -> new), every score (old -> new, status), the snapshot
differences, and the answer: old vs new as a diff (old = what the cassette held before the run
re-recorded it).

Keys (one key, no Enter, in a terminal; a line when input is piped):

  a  accept: this run's scores and snapshots of the test become its baseline (llm-baseline.json and
     llm-snapshots/ updated at once, as ``--llm-update-baseline`` would for that test); labelled good
  r  reject: the baseline is kept; the new answer is kept in llm-reviews.json as a labelled
     regression case (label bad), with the scores, the old answer and your note
  s  skip: no decision; it comes back next time
  n  note: add a note (a line of text) to this test's next decision
  q  quit: stop here; every decision made so far is already saved

Decisions are written as they are made, atomically, to ``llm-reviews.json`` beside the baseline, with
who, when, which run, the scores and the answers. A review stopped half-way (q, Ctrl-C, a closed
terminal) keeps them, and the next ``review`` of the same run shows only what is left.

Human labels against the automatic gate: every accept (good) or reject (bad) is set beside what the
scores said (bad if a score regressed beyond tolerance, good otherwise). ``review --stats``, the
``llm reviews`` section of pytest's terminal summary and the HTML report show, per metric (judge,
faithfulness, ...) and for the gate as a whole, the percent agreement and Cohen's kappa (chance-corrected
agreement; "n/a" when one side gave a single label to everything).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import getpass
import hashlib
import html
import json
import os
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .answers import Answer, text_diff
from .lastrun import LastRunError, find_last_run, load_last_run
from .settings import REVIEWS_FILE

__all__ = ["REVIEWS_FILE", "Agreement", "Item", "Reviews", "ReviewsError", "accept_test", "agreement", "choose_items",
           "html_section", "read_reviews", "summary_lines"]

REVIEWS_VERSION = 1
CHANGED_SCORES = ("regressed", "improved", "new", "missing")
CHANGED_SNAPSHOTS = ("changed", "new")
LABELS = {"accept": "good", "reject": "bad"}


class ReviewsError(Exception):
    """The reviews file cannot be read or written."""


# -- the decisions file -----------------------------------------------------------------------------
class Reviews:
    """``llm-reviews.json``: every decision, in the order made (one JSON object each)."""

    def __init__(self, path: Path, decisions: list[dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self.decisions = decisions if decisions is not None else []

    @classmethod
    def load(cls, path: Path) -> Reviews:
        try:
            text = Path(path).read_text("utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise ReviewsError(f"cannot read the reviews file {path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ReviewsError(f"the reviews file {path} is not valid JSON ({exc}). Fix it by hand or take the committed "
                               f"one back (git checkout -- {Path(path).name}); nothing was changed.") from None
        if not isinstance(data, dict) or not isinstance(data.get("reviews"), list):
            raise ReviewsError(f"the reviews file {path} is not a pytest-llmops reviews file (no \"reviews\" list); "
                               f"nothing was changed.")
        version = data.get("version")
        if isinstance(version, int) and version > REVIEWS_VERSION:
            raise ReviewsError(f"the reviews file {path} was written by a newer pytest-llmops (version {version}; this "
                               f"version reads {REVIEWS_VERSION}). Upgrade pytest-llmops; nothing was changed.")
        return cls(path, [d for d in data["reviews"] if isinstance(d, dict)])

    def add(self, decision: Mapping[str, Any]) -> None:
        """Append one decision and write the file at once (atomically)."""
        self.decisions.append(dict(decision))
        self.save()

    def save(self) -> None:
        from .cassette import atomic_write

        lines = ["{", ('  "about": "pytest-llmops: human review decisions (python -m pytest_llmops review), one per line, in '
                 'the order made.",'), '  "reviews": [']
        for i, decision in enumerate(self.decisions):
            comma = "," if i < len(self.decisions) - 1 else ""
            lines.append("    " + json.dumps(decision, ensure_ascii=False, sort_keys=True) + comma)
        lines += ["  ],", f'  "version": {REVIEWS_VERSION}', "}"]
        try:
            atomic_write(self.path, ("\n".join(lines) + "\n").encode("utf-8"))
        except OSError as exc:
            raise ReviewsError(f"cannot write the reviews file {self.path}: {exc.strerror or exc}") from None

    def decided(self, run: str) -> set[str]:
        """Tests given an accept or reject in review of run ``run``."""
        return {d["test"] for d in self.decisions if d.get("run") == run and d.get("decision") in LABELS}

    def labelled(self) -> list[dict[str, Any]]:
        return [d for d in self.decisions if d.get("decision") in LABELS]

    def latest(self) -> dict[str, dict[str, Any]]:
        """The latest accept/reject per test."""
        out: dict[str, dict[str, Any]] = {}
        for decision in self.labelled():
            out[decision["test"]] = decision
        return out


# -- what to review ---------------------------------------------------------------------------------
@dataclass
class Item:
    test: str
    kind: str  # "changed" or "sampled"
    entry: dict[str, Any]
    reasons: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        return [v for v in self.entry.get("verdicts") or [] if isinstance(v, dict)]

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [s for s in self.entry.get("snapshots") or [] if isinstance(s, dict)]

    @property
    def calls(self) -> list[dict[str, Any]]:
        return [c for c in self.entry.get("calls") or [] if isinstance(c, dict)]

    def gate(self) -> str:
        """What the scores say: bad if a score regressed or a snapshot changed, else good."""
        if any(v.get("status") == "regressed" for v in self.verdicts):
            return "bad"
        if any(s.get("status") == "changed" for s in self.snapshots):
            return "bad"
        return "good"


def choose_items(last_run: Mapping[str, Any], reviews: Reviews | None = None, sample: float = 0.1,
                 seed: int | None = None) -> list[Item]:
    """The changed tests (in test order), then a sample of the unchanged ones, minus tests already
    accepted or rejected in a review of this run."""
    run_id = str(last_run["run"].get("session", ""))
    done = reviews.decided(run_id) if reviews is not None else set()
    changed: list[Item] = []
    unchanged: list[Item] = []
    for test in sorted(last_run["tests"]):
        entry = last_run["tests"][test]
        if not isinstance(entry, dict):
            continue
        reasons = [f"{v.get('key')} {v.get('status')}" for v in entry.get("verdicts") or []
                   if isinstance(v, dict) and v.get("status") in CHANGED_SCORES]
        reasons += [f"snapshot {s.get('name')} {s.get('status')}" for s in entry.get("snapshots") or []
                    if isinstance(s, dict) and s.get("status") in CHANGED_SNAPSHOTS]
        item = Item(test, "changed" if reasons else "sampled", entry, reasons)
        (changed if reasons else unchanged).append(item)
    if seed is None:
        seed = int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    sampled = [item for item in unchanged if rng.random() < sample]
    return [item for item in changed + sampled if item.test not in done]


# -- accepting into the baseline ----------------------------------------------------------------------
def accept_test(item: Item, run: Mapping[str, Any]) -> str:
    """Write this run's scores and snapshots of ``item``'s test into the baseline (as
    ``--llm-update-baseline`` would for that test alone). Returns what changed, for the screen."""
    from .baseline import Baseline, Snapshots, SnapshotVerdict, Verdict

    baseline_path = Path(run["baseline"])
    root = Path(run.get("rootdir") or baseline_path.parent)
    display = _relative(baseline_path, root)
    baseline = Baseline.load(baseline_path, display)
    verdicts = [Verdict.from_json(v) for v in item.verdicts]
    finished = [item.test] if item.entry.get("finished") else []
    entries, counts = baseline.updated(verdicts, finished)
    changed = baseline.save(entries)
    snapshots = Snapshots(Path(run.get("snapshots") or baseline_path.parent / "llm-snapshots"), root)
    snapshot_verdicts = [SnapshotVerdict.from_json(s) for s in item.snapshots]
    files = snapshots.updated_files(snapshot_verdicts, finished) if snapshot_verdicts or finished else {}
    snapshots.write(files)
    if not changed and not files:
        return f"{display} already holds these scores"
    parts = [f"{counts['written']} score(s) written"]
    if counts["removed"]:
        parts.append(f"{counts['removed']} removed")
    if files:
        parts.append(f"{len(files)} snapshot file(s)")
    return f"{display} updated ({', '.join(parts)})"


def _relative(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root))
    return str(path)


# -- showing one item ---------------------------------------------------------------------------------
def _num(value: Any) -> str:
    from .scores import format_score

    return format_score(value) if value is None or isinstance(value, (int, float)) else str(value)


def _old_value(verdict: Mapping[str, Any]) -> Any:
    old = verdict.get("old")
    return old.get("value") if isinstance(old, dict) else None


def _models(item: Item) -> tuple[str | None, str | None]:
    new = next((v.get("model") for v in item.verdicts if v.get("model")), None) or \
        next((c.get("model") for c in item.calls if c.get("model")), None)
    old = next(((v.get("old") or {}).get("model") for v in item.verdicts
                if isinstance(v.get("old"), dict) and v["old"].get("model")), None)
    if old is None:
        old = next(((c.get("old_answer") or {}).get("model") for c in item.calls
                    if isinstance(c.get("old_answer"), dict) and c["old_answer"].get("model")), None)
    return old, new


def _prompts(item: Item) -> tuple[str | None, str | None]:
    new = next((v.get("prompt") for v in item.verdicts if v.get("prompt")), None) or \
        next((c.get("prompt") for c in item.calls if c.get("prompt")), None)
    old = next(((v.get("old") or {}).get("prompt") for v in item.verdicts
                if isinstance(v.get("old"), dict) and v["old"].get("prompt")), None)
    return old, new


def render_item(item: Item, position: int, total: int, width: int = 100) -> list[str]:
    """The screen for one test."""
    head = f" [{position}/{total}] {item.kind.upper()}  {item.test} "
    lines = [head.center(width, "-")]
    old_model, new_model = _models(item)
    old_prompt, new_prompt = _prompts(item)
    model = new_model or "?"
    if old_model and old_model != new_model:
        model = f"{old_model} -> {new_model or '?'}"
    prompt = new_prompt or "(none)"
    if old_prompt and old_prompt != new_prompt:
        prompt = f"{old_prompt} -> {new_prompt or '(none)'}"
    lines.append(f"model    {model}")
    lines.append(f"prompt   {prompt}")
    if item.reasons:
        lines.append(f"changed  {', '.join(item.reasons)}")
    verdicts = item.verdicts
    if verdicts:
        key_width = max(len(str(v.get("key"))) for v in verdicts)
        for i, v in enumerate(verdicts):
            old, new = _old_value(v), v.get("value")
            change = ""
            if isinstance(old, (int, float)) and isinstance(new, (int, float)):
                delta = new - old
                change = "±0" if abs(delta) < 1e-12 else f"{delta:+.4g}"
            status = str(v.get("status", "")).upper()
            if v.get("status") == "regressed":
                tolerance = v.get("tolerance") or [None]
                status += f" (tolerance {_num(tolerance[0])})"
            if v.get("status") == "unscored" and v.get("reason"):
                status += f": {v['reason']}"
            label = "scores   " if i == 0 else "         "
            old_text = _num(old) if old is not None else ""
            arrow = "->" if old_text else "  "
            lines.append(f"{label}{v.get('key')!s:<{key_width}}  {old_text:>6} {arrow} {_num(new):<6} {change:<7} "
                         f"{status}".rstrip())
    for snapshot in item.snapshots:
        diff = snapshot.get("diff") or []
        lines.append(f"snapshot {snapshot.get('name')}: {snapshot.get('status')}"
                     + (f", {len(diff)} difference(s)" if diff else ""))
        lines += [f"         {line}" for line in diff[:20]]
    for n, call in enumerate(item.calls, 1):
        label = f"call {n}" if len(item.calls) > 1 else "answer"
        asked = " ".join(str(call.get("asked") or "").split())
        if asked:
            lines.append(f"asked    {asked[:width - 9]}")
        new_answer = Answer.from_json(call.get("answer") or {})
        old_raw = call.get("old_answer")
        if isinstance(old_raw, dict):
            old_answer = Answer.from_json(old_raw)
            if old_answer.shown() == new_answer.shown():
                lines.append(f"{label:<8} (unchanged) {new_answer.shown()}")
            else:
                lines.append(f"{label:<8} old: before this run re-recorded it ({old_answer.model or '?'}); "
                             f"new: this run ({new_answer.model or '?'})")
                lines += [f"  {line}" for line in text_diff(old_answer.shown(), new_answer.shown(), "old", "new", width - 4)]
        else:
            source = "replayed" if call.get("replayed") else "this run"
            lines.append(f"{label:<8} ({source}) {new_answer.shown()}")
    if not item.calls:
        lines.append("answer   (no provider call recorded for this test)")
    return lines


# -- the loop ----------------------------------------------------------------------------------------
class Terminal:
    """Reads one key (cbreak mode on a terminal) or one line (piped input)."""

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        self.stdin = stdin
        self.stdout = stdout
        try:
            self.tty = bool(stdin.isatty())
        except (AttributeError, OSError, ValueError):
            self.tty = False

    def write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def key(self, prompt: str) -> str:
        """One key, lower case; "q" on end of input or Ctrl-C."""
        self.write(prompt)
        if self.tty:
            try:
                import termios
                import tty
            except ImportError:  # pragma: no cover - Windows
                return self._line()
            fd = self.stdin.fileno()
            saved = termios.tcgetattr(fd)
            try:
                tty.setcbreak(fd)
                char = os.read(fd, 1).decode("utf-8", "replace")
            except (KeyboardInterrupt, OSError):
                char = "q"
            finally:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            if char in ("\x03", "\x04", ""):
                char = "q"
            self.write(char + "\n")
            return char.lower()
        return self._line()

    def _line(self) -> str:
        try:
            line = self.stdin.readline()
        except (KeyboardInterrupt, OSError):  # Ctrl-C, or no input to read (stdin closed or captured)
            return "q"
        if not line:
            return "q"
        return (line.strip()[:1] or "?").lower()

    def line(self, prompt: str) -> str | None:
        self.write(prompt)
        try:
            text = self.stdin.readline()
        except (KeyboardInterrupt, OSError):
            return None
        return text.rstrip("\n") if text else None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reviewer() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "?"


def decision_record(item: Item, decision: str, run: Mapping[str, Any], reviewer: str, note: str | None) -> dict[str, Any]:
    old_model, new_model = _models(item)
    old_prompt, new_prompt = _prompts(item)
    call = item.calls[-1] if item.calls else {}
    record: dict[str, Any] = {
        "test": item.test,
        "decision": decision,
        "label": LABELS.get(decision),
        "kind": item.kind,
        "gate": item.gate(),
        "reviewer": reviewer,
        "ts": _now(),
        "run": run.get("session"),
        "run_ts": run.get("ts"),
        "model": new_model,
        "old_model": old_model,
        "prompt": new_prompt,
        "old_prompt": old_prompt,
        "scores": [{"key": v.get("key"), "source": v.get("source"), "status": v.get("status"), "value": v.get("value"),
                    "old": _old_value(v)} for v in item.verdicts],
        "snapshots": [{"name": s.get("name"), "status": s.get("status"), "diff": s.get("diff") or []}
                      for s in item.snapshots],
        "asked": call.get("asked"),
        "answer": (call.get("answer") or {}).get("text") if call else None,
        "old_answer": (call.get("old_answer") or {}).get("text") if isinstance(call.get("old_answer"), dict) else None,
    }
    if note:
        record["note"] = note
    return record


KEYS_PROMPT = "[a]ccept  [r]eject  [s]kip  [n]ote  [q]uit  ? "


def run_review(items: Sequence[Item], reviews: Reviews, run: Mapping[str, Any], terminal: Terminal,
               reviewer: str, accept: Callable[[Item, Mapping[str, Any]], str] = accept_test) -> dict[str, int]:
    """Walk through ``items``; every decision is saved before the next item is shown."""
    counts = {"accept": 0, "reject": 0, "skip": 0, "note": 0, "left": 0}
    for position, item in enumerate(items, 1):
        terminal.write("\n".join(render_item(item, position, len(items))) + "\n")
        note: str | None = None
        while True:
            key = terminal.key(KEYS_PROMPT)
            if key == "q":
                counts["left"] = len(items) - position + 1
                if note:
                    reviews.add(decision_record(item, "note", run, reviewer, note))
                    counts["note"] += 1
                return counts
            if key == "n":
                text = terminal.line("note: ")
                if text:
                    note = f"{note}; {text}" if note else text
                    terminal.write("note kept: it is saved with your decision on this test\n")
                continue
            if key in ("a", "r"):
                decision = "accept" if key == "a" else "reject"
                message = ""
                if decision == "accept":
                    try:
                        message = accept(item, run)
                    except Exception as exc:  # noqa: BLE001 - say it, keep going; nothing half-written
                        terminal.write(f"could not update the baseline: {exc}\nnothing was written for this test; "
                                       f"choose again\n")
                        continue
                reviews.add(decision_record(item, decision, run, reviewer, note))
                counts[decision] += 1
                if decision == "accept":
                    terminal.write(f"accepted: {message}; decision saved to {reviews.path.name}\n")
                else:
                    terminal.write(f"rejected: the baseline is kept; the answer is kept as a labelled regression case "
                                   f"in {reviews.path.name}\n")
                break
            if key == "s":
                if note:
                    reviews.add(decision_record(item, "note", run, reviewer, note))
                    counts["note"] += 1
                counts["skip"] += 1
                terminal.write("skipped\n")
                break
            terminal.write("keys: a accept (baseline updated), r reject (kept as a regression case), s skip, n note, "
                           "q quit\n")
    return counts


# -- agreement between people and the scores ----------------------------------------------------------
@dataclass(frozen=True)
class Agreement:
    metric: str  # a metric, or "gate" (every score of the test together)
    n: int
    agree: int
    kappa: float | None

    @property
    def percent(self) -> float:
        return 100.0 * self.agree / self.n if self.n else 0.0


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over ``pairs`` of labels; None when chance agreement is total."""
    n = len(pairs)
    if not n:
        return None
    labels = {label for pair in pairs for label in pair}
    observed = sum(a == b for a, b in pairs) / n
    expected = sum((sum(a == label for a, _ in pairs) / n) * (sum(b == label for _, b in pairs) / n) for label in labels)
    if expected >= 1.0 - 1e-12:
        return None
    return (observed - expected) / (1.0 - expected)


def _metric_vote(score: Mapping[str, Any]) -> str | None:
    status = score.get("status")
    if status in (None, "unscored", "missing"):
        return None
    return "bad" if status == "regressed" else "good"


def agreement(decisions: Iterable[Mapping[str, Any]]) -> list[Agreement]:
    """Per metric and for the gate: how often the scores' verdict matched the human label."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for decision in decisions:
        human = decision.get("label")
        if human not in ("good", "bad"):
            continue
        gate = decision.get("gate")
        if gate in ("good", "bad"):
            pairs.setdefault("gate", []).append((human, gate))
        seen: set[str] = set()
        for score in decision.get("scores") or []:
            metric = str(score.get("key") or "").split("#")[0]
            vote = _metric_vote(score)
            if not metric or vote is None or metric in seen:
                continue
            seen.add(metric)
            pairs.setdefault(metric, []).append((human, vote))
    rows = [Agreement(metric, len(p), sum(a == b for a, b in p), cohen_kappa(p)) for metric, p in pairs.items()]
    return sorted(rows, key=lambda r: (r.metric == "gate", r.metric))


def _kappa_text(kappa: float | None) -> str:
    return "n/a" if kappa is None else f"{kappa:.2f}"


def read_reviews(path: Path) -> Reviews | None:
    """The decisions for pytest's terminal summary and ``--llm-html`` report: None if the file
    cannot be read (``python -m pytest_llmops review`` says why)."""
    try:
        return Reviews.load(path)
    except ReviewsError:
        return None


def summary_lines(reviews: Reviews, tests: Iterable[str] = ()) -> list[str]:
    """The ``llm reviews`` section: counts, agreement, and the labels of this run's tests."""
    labelled = reviews.labelled()
    if not labelled:
        return []
    good = sum(d.get("label") == "good" for d in labelled)
    lines = [f"human labels ({reviews.path.name}): {len(labelled)} decision(s): {good} accepted, {len(labelled) - good} rejected"]
    rows = agreement(labelled)
    if rows:
        width = max(len("agreement with people"), *(len(r.metric) for r in rows))
        lines.append(f"  {'agreement with people':<{width}}  {'n':>4}  {'agree':>6}  kappa")
        for row in rows:
            name = "gate (any score)" if row.metric == "gate" else row.metric
            lines.append(f"  {name:<{width}}  {row.n:>4}  {row.percent:>5.1f}%  {_kappa_text(row.kappa)}")
    latest = reviews.latest()
    shown = [t for t in tests if t in latest]
    if shown:
        lines.append("labels of this run's tests (latest decision):")
        for test in shown:
            decision = latest[test]
            scores = ", ".join(f"{s.get('key')} {_num(s.get('old')) + ' -> ' if s.get('old') is not None else ''}"
                               f"{_num(s.get('value'))}" for s in decision.get("scores") or [])
            note = f"  \"{decision['note']}\"" if decision.get("note") else ""
            lines.append(f"  {str(decision.get('label')).upper():<4}  {test}  {scores}  by {decision.get('reviewer')} "
                         f"{str(decision.get('ts', ''))[:10]}{note}".rstrip())
    return lines


def html_section(reviews: Reviews) -> str:
    """HTML: human labels beside the scores, and the agreement table (for the ``--llm-html`` report)."""
    labelled = reviews.labelled()
    if not labelled:
        return ""
    e = html.escape
    out = ["<h2>Human review</h2>",
           (f'<p class="meta">{len(labelled)} decision(s) in {e(reviews.path.name)} '
           f"(python -m pytest_llmops review). Agreement: how often the scores' verdict (bad when a score regressed) "
           f"matched the person's label.</p>"),
           "<table><tr><th>agreement with people</th><th>n</th><th>agree</th><th>Cohen's kappa</th></tr>"]
    for row in agreement(labelled):
        name = "gate (any score)" if row.metric == "gate" else row.metric
        out.append(f'<tr><td><code>{e(name)}</code></td><td class="num">{row.n}</td>'
                   f'<td class="num">{row.percent:.1f}%</td><td class="num">{e(_kappa_text(row.kappa))}</td></tr>')
    out.append("</table>")
    out.append("<table><tr><th>human label</th><th>test</th><th>scores (old &rarr; new, status)</th><th>judge</th>"
               "<th>model</th><th>reviewer</th><th>note</th></tr>")
    for test, decision in sorted(reviews.latest().items()):
        scores = "<br>".join(
            f"<code>{e(str(s.get('key')))}</code> {e(_num(s.get('old')) + ' → ' if s.get('old') is not None else '')}"
            f"{e(_num(s.get('value')))} <span class='muted'>{e(str(s.get('status')))}</span>"
            for s in decision.get("scores") or [])
        judge = ", ".join(_num(s.get("value")) for s in decision.get("scores") or [] if s.get("source") == "judge")
        label = str(decision.get("label"))
        color = "#2e7d32" if label == "good" else "#c62828"
        out.append(f'<tr><td><span class="status" style="background:{color}">{e(label.upper())}</span></td>'
                   f'<td class="test">{e(test)}</td><td>{scores}</td><td class="num">{e(judge)}</td>'
                   f"<td>{e(str(decision.get('model') or ''))}</td><td>{e(str(decision.get('reviewer') or ''))} "
                   f"<span class='muted'>{e(str(decision.get('ts') or '')[:10])}</span></td>"
                   f"<td>{e(str(decision.get('note') or ''))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


# -- the command ------------------------------------------------------------------------------------
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", type=float, default=0.1, metavar="RATE",
                        help="share of the unchanged tests to show as well (0..1, default 0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed of that sample (default: from the run, stable)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="pytest's cache folder holding the last run (default: the nearest .pytest_cache)")
    parser.add_argument("--reviews", type=Path, default=None, metavar="FILE",
                        help=f"where decisions are saved (default: {REVIEWS_FILE} beside the baseline)")
    parser.add_argument("--reviewer", default=None, help="your name in the decisions (default: the login name)")
    parser.add_argument("--list", action="store_true", help="list what there is to review, and stop")
    parser.add_argument("--stats", action="store_true", help="print the agreement of the scores with people, and stop")


def _run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if not 0.0 <= args.sample <= 1.0:
        print(f"error: --sample is a share of the unchanged tests, from 0 to 1; got {args.sample}", file=sys.stderr)
        return 2
    path = find_last_run(cache_dir=args.cache_dir)
    try:
        last_run = load_last_run(path)
    except LastRunError as exc:
        if args.stats and args.reviews is not None:
            last_run = {"run": {}, "tests": {}}
        else:
            print(f"error: {exc}", file=sys.stderr)
            return 3
    run = last_run["run"]
    reviews_path = args.reviews or Path(run.get("baseline") or REVIEWS_FILE).parent / REVIEWS_FILE
    try:
        reviews = Reviews.load(reviews_path)
    except ReviewsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if args.stats:
        lines = summary_lines(reviews)
        print("\n".join(lines) if lines else f"no decisions yet in {reviews_path}", file=out)
        return 0
    items = choose_items(last_run, reviews, args.sample, args.seed)
    changed = sum(item.kind == "changed" for item in items)
    print(f"last run: {run.get('ts', '?')} ({run.get('mode', '?')}), {len(last_run['tests'])} test(s) recorded; "
          f"to review: {changed} changed, {len(items) - changed} sampled unchanged (rate {args.sample:g})", file=out)
    if args.list:
        for item in items:
            print(f"  {item.kind.upper():<8} {item.test}" + (f"  ({', '.join(item.reasons)})" if item.reasons else ""),
                  file=out)
        return 0
    if not items:
        print("nothing to review.", file=out)
        return 0
    terminal = Terminal(sys.stdin, out)
    try:
        counts = run_review(items, reviews, run, terminal, args.reviewer or _reviewer())
    except ReviewsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    done = counts["accept"] + counts["reject"]
    tail = f"; {counts['left']} left for next time (run review again)" if counts["left"] else ""
    print(f"\nreviewed {done}: {counts['accept']} accepted, {counts['reject']} rejected, {counts['skip']} skipped{tail}. "
          f"Decisions are in {_relative(reviews_path.resolve(), Path.cwd().resolve())}.", file=out)
    return 0


def _command() -> Any:
    from .cli import Command

    return Command(
        name="review",
        help="walk through the outputs the last run changed (and a sample of the rest): accept, reject, note",
        description=(__doc__ or "").split("\n\n")[0],
        configure=_configure,
        run=_run,
    )


COMMAND = _command
