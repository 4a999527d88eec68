"""The score baseline: compare this run's scores (and output snapshots) with the committed ones.

The baseline is one committed JSON file (ini ``llm_baseline``, default ``llm-baseline.json`` in the
rootdir) mapping test node id -> metric -> the accepted score and its lineage (model, prompt
``name@version`` and digest, date accepted). It is written only with ``--llm-update-baseline``, sorted
and one score per line, so a change of score reads as a one-line diff in review::

    {
      "about": "pytest-llmops score baseline ...",
      "scores": {
        "tests/test_app.py::test_summary": {
          "faithfulness": {"model": "gpt-4o", "prompt": "summarize@v3", "prompt_digest": "sha256:9f..", "updated": "2026-11-26", "value": 0.92}
        }
      },
      "version": 1
    }

Snapshots of structured outputs (``llm_baseline.snapshot(name, data, ignore=[...])``) live beside it, in
``llm-snapshots/<test module>/<test name>.json`` (one indented JSON file per test), so the baseline stays
one line per score and a snapshot diff reads like any JSON diff.

The comparison of one score with its baseline entry is ``compare_score`` (the one place that decides
regressed / improved / unchanged / new / unscored). Everything else moves plain data around: a
``Verdict`` per score, turned into builtins for the xdist controller, which merges the workers' verdicts
and alone writes the files.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import LLMOpsError
from .scores import format_change, format_score
from .stats import Interval, StatSettings, summarize

__all__ = [
    "FORMAT_VERSION",
    "SNAPSHOT_DIR",
    "Baseline",
    "BaselineError",
    "BaselineFixture",
    "BaselineRun",
    "BaselineVerdict",
    "Entry",
    "ScoreRegression",
    "SnapshotVerdict",
    "Snapshots",
    "Tolerance",
    "Tolerances",
    "Verdict",
    "compare_score",
    "summary_lines",
]

#: Version of the file format this code reads and writes. A file with a higher ``version`` is refused.
FORMAT_VERSION = 1
#: Folder of the output snapshots, beside the baseline file.
SNAPSHOT_DIR = "llm-snapshots"
ABOUT = ("pytest-llmops score baseline: test -> metric -> accepted score and its model and prompt. "
         "Review changes like code; accept new scores with pytest --llm-update-baseline.")
#: Verdict statuses, in the order reports list them. ``noise``: beyond tolerance, but the samples
#: say the change could be run-to-run noise (its interval contains 0).
STATUSES = ("regressed", "noise", "improved", "new", "unscored", "missing", "unchanged")
#: How counts name a status ("2 within noise").
STATUS_LABELS = {"noise": "within noise"}
#: Slack for float arithmetic: 0.85 vs 0.9 - 0.05 is not a regression.
_EPSILON = 1e-9
#: Decimals kept in the file: enough for any score, few enough that 0.1 + 0.2 does not churn the diff.
_DECIMALS = 6
_IGNORED = "<ignored>"


class BaselineError(LLMOpsError):
    """The baseline file or a snapshot file cannot be read or trusted (corrupt, conflicted, too new)."""


class ScoreRegression(AssertionError):
    """Scores recorded during the test (by assertions) fell below their baseline: raised after the test body."""

    def __init__(self, verdicts: Sequence[Verdict]) -> None:
        self.verdicts = list(verdicts)
        super().__init__(regression_message(self.verdicts))


def show_regression(report: Any, verdicts: Sequence[Verdict], location: tuple[str, int | None, str], tbstyle: str) -> None:
    """A test's report for regressions found after its body: it reads like pytest's own assertion
    failure (the test's location, ``E   `` lines), not like plugin frames. ``location``: ``item.location``."""
    if tbstyle not in ("auto", "long", "short"):
        if not report.longrepr:
            report.longrepr = str(ScoreRegression(verdicts))
        return
    text = "AssertionError: " + str(ScoreRegression(verdicts))
    path, lineno = location[0], (location[1] or 0) + 1
    try:
        from _pytest._code.code import ExceptionChainRepr, ReprEntry, ReprFileLocation, ReprTraceback
    except ImportError:  # pragma: no cover - pytest moved its internals: keep pytest's own repr
        report.longrepr = report.longrepr or text
        return
    lines = ["E   " + line for line in text.splitlines()]
    entry = ReprEntry(lines, None, None, ReprFileLocation(path, lineno, "AssertionError"), "long")
    report.longrepr = ExceptionChainRepr([(ReprTraceback([entry], None, "long"), ReprFileLocation(path, lineno, text), None)])


# -- numbers ---------------------------------------------------------------------------------------
_num = format_score


def _delta(value: float) -> str:
    return format_change(value, zero="±0")


def _round(value: float) -> float:
    rounded = round(value, _DECIMALS)
    return 0.0 if rounded == 0 else rounded


def _today() -> str:
    """Today (UTC) for ``updated``; ``SOURCE_DATE_EPOCH`` fixes it, as for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = float(epoch) if epoch.isdigit() else time.time()
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def split_key(key: str) -> tuple[str, int]:
    """``"faithfulness#2"`` -> ``("faithfulness", 2)``: the second score of that metric in the test."""
    metric, sep, ordinal = key.rpartition("#")
    if sep and ordinal.isdigit():
        return metric, int(ordinal)
    return key, 1


def score_key(metric: str, ordinal: int) -> str:
    return metric if ordinal == 1 else f"{metric}#{ordinal}"


def score_keys(scores: Sequence[Any]) -> list[str]:
    """The baseline key of each score of a test, in recording order: "faithfulness", "faithfulness#2"."""
    counts: dict[str, int] = {}
    keys = []
    for score in scores:
        counts[score.metric] = counts.get(score.metric, 0) + 1
        keys.append(score_key(score.metric, counts[score.metric]))
    return keys


# -- entries and tolerances ------------------------------------------------------------------------
def _check_summary(data: Mapping[str, Any], samples: Sequence[float], where: str) -> None:
    """``n``, ``mean`` and ``sd`` of an entry summarise its ``samples``; a file where they disagree
    (a hand edit, a merge that took one side's samples and the other's mean) is not trusted."""
    n = data.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise BaselineError(f"{where}: \"n\" must be a whole number >= 1, got {json.dumps(n)}")
    if n is not None and n > 1 and n != len(samples):
        raise BaselineError(f"{where}: \"n\" is {n} but \"samples\" holds {len(samples)} value(s); "
                            f"n counts the samples")
    if len(samples) < 2:
        for name in ("mean", "sd"):
            if name in data and not _is_number(data[name]):
                raise BaselineError(f"{where}: \"{name}\" must be a finite number, got {json.dumps(data[name])}")
        return
    summary = summarize(samples)
    for name, actual in (("mean", summary.mean), ("sd", summary.sd)):
        if name not in data:
            continue
        stored = data[name]
        if not _is_number(stored):
            raise BaselineError(f"{where}: \"{name}\" must be a finite number, got {json.dumps(stored)}")
        if abs(stored - actual) > 2 * 10 ** -_DECIMALS + 1e-9 * abs(actual):
            raise BaselineError(f"{where}: \"{name}\" is {_num(stored)} but its samples give {_num(actual)}; "
                                f"{name} summarises the samples")


@dataclass(frozen=True)
class Entry:
    """One accepted score in the baseline file."""

    value: float
    model: str | None = None
    prompt: str | None = None
    prompt_digest: str | None = None
    updated: str | None = None
    samples: tuple[float, ...] = ()  # kept when the score had several samples (n > 1)

    @property
    def n(self) -> int:
        return len(self.samples) or 1

    @property
    def mean(self) -> float:
        """The mean of the samples (``value`` when there is one sample)."""
        return summarize(self.samples).mean if len(self.samples) > 1 else self.value

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value}
        for name in ("model", "prompt", "prompt_digest", "updated"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if len(self.samples) > 1:
            summary = summarize(self.samples)
            data["n"] = len(self.samples)
            data["mean"] = _round(summary.mean)
            data["sd"] = _round(summary.sd)
            data["samples"] = list(self.samples)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> Entry:
        """``where`` names the entry in errors (file:line and the keys)."""
        if not isinstance(data, dict):
            raise BaselineError(f"{where}: expected an object such as {{\"value\": 0.9, ...}}, got {_kind(data)}")
        value = data.get("value")
        if not _is_number(value):
            raise BaselineError(f"{where}: \"value\" must be a finite number, got {json.dumps(value)}")
        texts = {}
        for name in ("model", "prompt", "prompt_digest", "updated"):
            text = data.get(name)
            if text is not None and not isinstance(text, str):
                raise BaselineError(f"{where}: \"{name}\" must be a string, got {json.dumps(text)}")
            texts[name] = text
        samples = data.get("samples", [])
        if not isinstance(samples, list) or not all(_is_number(s) for s in samples):
            raise BaselineError(f"{where}: \"samples\" must be a list of finite numbers, got {json.dumps(samples)}")
        _check_summary(data, samples, where)
        return cls(value=float(value), samples=tuple(float(s) for s in samples), **texts)

    def same_score(self, other: Entry) -> bool:
        """Equal in everything but the date it was accepted."""
        return replace(self, updated=None) == replace(other, updated=None)


@dataclass(frozen=True)
class Tolerance:
    """How far a score may drop below its baseline, and where that number came from."""

    value: float
    source: str  # "llm_tolerance", "llm_tolerance_metrics: judge=0.5", "@pytest.mark.llm_tolerance(0.1)", ...


def _tolerance_value(value: Any, where: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not _is_number(value) or value < 0:
        raise ValueError(f"{where}: a tolerance is a number >= 0 (how far a score may drop), got {value!r}")
    return float(value)


class Tolerances:
    """The run's tolerances: ini ``llm_tolerance`` and ``llm_tolerance_metrics``; markers and ``check``
    override them per test (``resolve``)."""

    def __init__(self, default: float = 0.05, per_metric: Mapping[str, float] | None = None) -> None:
        self.default = default
        self.per_metric = dict(per_metric or {})

    @classmethod
    def from_ini(cls, default: Any, pairs: Iterable[str]) -> Tolerances:
        """``pairs``: ``["faithfulness=0.1", "judge=0.5"]``; a malformed one raises ValueError."""
        per_metric: dict[str, float] = {}
        for pair in pairs:
            metric, sep, value = str(pair).partition("=")
            if not sep or not metric.strip():
                raise ValueError(f"llm_tolerance_metrics: expected METRIC=TOLERANCE pairs such as "
                                 f"'faithfulness=0.1 judge=0.5', got {pair!r}")
            per_metric[metric.strip()] = _tolerance_value(value.strip(), f"llm_tolerance_metrics {pair!r}")
        return cls(_tolerance_value(default, "llm_tolerance"), per_metric)

    def resolve(self, metric: str, markers: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]] = (),
                explicit: float | None = None) -> Tolerance:
        """The tolerance of ``metric`` in a test: ``check(tolerance=...)``, else the closest
        ``llm_tolerance`` marker naming the metric (``faithfulness=0.1``), else the closest giving one
        for all (``llm_tolerance(0.1)``), else ini ``llm_tolerance_metrics``, else ini ``llm_tolerance``.
        ``markers``: (args, kwargs) of the test's ``llm_tolerance`` markers, closest first."""
        base, _ = split_key(metric)
        if explicit is not None:
            return Tolerance(_tolerance_value(explicit, "check(tolerance=...)"), f"check(tolerance={explicit!r})")
        for args, kwargs in markers:
            if base in kwargs:
                where = f"@pytest.mark.llm_tolerance({base}={kwargs[base]!r})"
                return Tolerance(_tolerance_value(kwargs[base], where), where)
        for args, _kwargs in markers:
            if args:
                where = f"@pytest.mark.llm_tolerance({args[0]!r})"
                return Tolerance(_tolerance_value(args[0], where), where)
        if base in self.per_metric:
            return Tolerance(self.per_metric[base], f"llm_tolerance_metrics: {base}={_num(self.per_metric[base])}")
        return Tolerance(self.default, "llm_tolerance")


def check_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Raise ValueError unless the ``llm_tolerance`` marker's arguments are valid."""
    if len(args) > 1:
        raise ValueError(f"@pytest.mark.llm_tolerance takes one tolerance for every metric and/or "
                         f"metric=tolerance keywords, got {len(args)} positional arguments")
    for value in args:
        _tolerance_value(value, f"@pytest.mark.llm_tolerance({value!r})")
    for metric, value in kwargs.items():
        _tolerance_value(value, f"@pytest.mark.llm_tolerance({metric}={value!r})")


# -- verdicts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """One score of one test, compared with its baseline entry."""

    test: str
    key: str  # the metric's key in the baseline: "faithfulness", or "faithfulness#2" for its 2nd score
    status: str  # one of STATUSES
    value: float | None = None
    old: Entry | None = None
    tolerance: Tolerance = Tolerance(0.05, "llm_tolerance")
    samples: tuple[float, ...] = ()
    model: str | None = None
    prompt: str | None = None
    prompt_digest: str | None = None
    source: str = ""
    reason: str = ""  # why it is unscored
    #: Samples that could not be scored (repetitions whose judge gave no verdict, None samples).
    unscored_samples: int = 0
    #: The comparison of the samples (both sides had 2 or more); None: the plain tolerance decided.
    stats: Interval | None = None
    #: How the verdict was reached when no interval could be computed (one sample on a side).
    note: str = ""
    #: A verdict on the repetitions so far, returned by ``check`` before the last repetition.
    provisional: bool = False

    @property
    def metric(self) -> str:
        return split_key(self.key)[0]

    @property
    def method(self) -> str:
        """``"welch"`` / ``"bootstrap"`` (samples compared), or ``"tolerance"`` (values compared)."""
        return self.stats.method if self.stats is not None else "tolerance"

    @property
    def delta(self) -> float | None:
        """The change: of the means when samples were compared, else of the values."""
        if self.stats is not None:
            return self.stats.estimate
        if self.value is None or self.old is None:
            return None
        return self.value - self.old.value

    @property
    def old_shown(self) -> float | None:
        """The baseline score as reports show it (its samples' mean when samples were compared)."""
        if self.old is None:
            return None
        return self.stats.mean_old if self.stats is not None else self.old.value

    @property
    def new_shown(self) -> float | None:
        """This run's score as reports show it (its samples' mean when samples were compared)."""
        return self.stats.mean_new if self.stats is not None else self.value

    def interval_text(self) -> str:
        """``95% CI [-0.26, -0.12] (welch, n 5 vs 5)``, or "" without an interval."""
        if self.stats is None:
            return ""
        method = "welch t" if self.stats.method == "welch" else self.stats.method
        return f"{self.stats.describe(_signed)} ({method}, n {self.stats.n_old} vs {self.stats.n_new})"

    @property
    def old_model(self) -> str | None:
        return self.old.model if self.old is not None else None

    @property
    def model_change(self) -> str:
        """The group of this score in reports: ``gpt-4o -> gpt-4.1``, or the one model."""
        if self.old is None or self.status == "missing":
            model = self.model if self.status != "missing" else self.old_model
            return model or "(no model)"
        if self.old.model == self.model:
            return self.model or "(no model)"
        return f"{self.old.model or '(no model)'} -> {self.model or '(no model)'}"

    @property
    def prompt_change(self) -> str | None:
        """``answer@v1 -> answer@v2`` (or a digest change) when the prompt differs from the baseline's."""
        if self.old is None or self.status == "missing":
            return None
        if self.old.prompt != self.prompt:
            return f"prompt {self.old.prompt or '(none)'} -> {self.prompt or '(none)'}"
        if self.old.prompt_digest != self.prompt_digest and self.prompt:
            return f"prompt {self.prompt} content changed ({_short(self.old.prompt_digest)} -> {_short(self.prompt_digest)})"
        return None

    def entry(self, today: str) -> Entry | None:
        """The baseline entry this score becomes on ``--llm-update-baseline`` (None: nothing to write)."""
        if self.value is None or self.status == "missing":
            return None
        samples = tuple(_round(s) for s in self.samples) if len(self.samples) > 1 else ()
        new = Entry(_round(self.value), self.model, self.prompt, self.prompt_digest, None, samples)
        if self.old is not None and self.old.same_score(new):
            return self.old  # nothing changed: keep the date it was accepted
        return replace(new, updated=today)

    def message(self) -> str:
        """The failure text of a regression (also used for the other statuses in reports)."""
        assert self.old is not None and self.value is not None
        stats = self.stats
        old_value, new_value = self.old_shown, self.new_shown
        assert old_value is not None and new_value is not None
        floor = old_value - self.tolerance.value
        if stats is not None:
            lines = [f"{self.key} regressed: mean {_num(new_value)} < {_num(floor)} (baseline mean {_num(old_value)} - "
                     f"tolerance {_num(self.tolerance.value)}), and unlikely to be noise"]
        else:
            lines = [f"{self.key} regressed: {_num(new_value)} < {_num(floor)} "
                     f"(baseline {_num(old_value)} - tolerance {_num(self.tolerance.value)})"]
        rows = [("baseline", old_value, self.old.model, self.old.prompt, self.old.prompt_digest, self.old.n,
                 stats.sd_old if stats else None),
                ("this run", new_value, self.model, self.prompt, self.prompt_digest, len(self.samples) or 1,
                 stats.sd_new if stats else None)]
        show_model = any(row[2] for row in rows)
        show_prompt = any(row[3] for row in rows)
        value_width = max(len(_num(row[1])) for row in rows)
        model_width = max(len(row[2] or "(none)") for row in rows)
        samples_width = max(len(_samples_text(row[5], row[6])) for row in rows)
        for label, value, model, prompt, digest, n, sd in rows:
            line = f"  {label}  {_num(value):<{value_width}}"
            if samples_width:
                line += f" {_samples_text(n, sd):<{samples_width}}"
            if show_model:
                line += f"  model {model or '(none)':<{model_width}}"
            if show_prompt:
                line += f"  prompt {prompt or '(none)'}" + (f" ({_short(digest)})" if digest else "")
            if label == "baseline" and self.old.updated:
                line += f"  accepted {self.old.updated}"
            lines.append(line.rstrip())
        if stats is not None:
            lines.append(f"  change    {_signed(stats.estimate)}  {stats.describe(_signed)}  ({stats.method_text()}; "
                         f"alpha {_num(stats.alpha)})")
        lines.append(f"  tolerance {_num(self.tolerance.value)} from {self.tolerance.source}")
        if self.unscored_samples:
            lines.append(f"  unscored  {self.unscored_samples} sample(s) could not be scored and were left out "
                         f"(not counted as 0)")
        if self.note:
            lines.append(f"  noise     {self.note}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test, "key": self.key, "status": self.status, "value": self.value,
            "old": self.old.to_json() if self.old is not None else None,
            "tolerance": [self.tolerance.value, self.tolerance.source], "samples": list(self.samples),
            "model": self.model, "prompt": self.prompt, "prompt_digest": self.prompt_digest,
            "source": self.source, "reason": self.reason, "unscored_samples": self.unscored_samples,
            "stats": self.stats.to_json() if self.stats is not None else None, "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        old = data.get("old")
        return cls(
            test=data["test"], key=data["key"], status=data["status"], value=data.get("value"),
            old=Entry.from_json(old, "xdist") if old is not None else None,
            tolerance=Tolerance(*data["tolerance"]), samples=tuple(data.get("samples") or ()),
            model=data.get("model"), prompt=data.get("prompt"), prompt_digest=data.get("prompt_digest"),
            source=data.get("source", ""), reason=data.get("reason", ""),
            unscored_samples=data.get("unscored_samples", 0),
            stats=Interval.from_json(data["stats"]) if data.get("stats") else None, note=data.get("note", ""),
        )


#: Public name (``pytest_llmops.BaselineVerdict``): what ``llm_baseline.check`` returns.
BaselineVerdict = Verdict


_signed = format_change


def _samples_text(n: int, sd: float | None) -> str:
    if n <= 1:
        return ""
    return f"({n} samples, sd {_num(sd)})" if sd is not None else f"({n} samples)"


def _short(digest: str | None) -> str:
    if not digest:
        return "no digest"
    algo, sep, hexdigits = digest.partition(":")
    return f"{algo}:{hexdigits[:8]}" if sep else digest[:8]


#: Why the plain tolerance decided (no interval): one sample on one side or both.
NOTE_ONE_EACH = "not estimated (one sample per side): the plain tolerance decided; repeat the test for samples: --llm-repeat N"
NOTE_OLD_ONE = ("not estimated: the baseline holds one value, so the plain tolerance decided on this run's score; "
                "accept this run to keep its {n} samples")
NOTE_NEW_ONE = ("not estimated: this run has one sample against the baseline's {n}, so the plain tolerance decided; "
                "repeat the test for samples: --llm-repeat N")


def compare_score(old: Entry | None, score: Any, key: str, tolerance: Tolerance,
                  stat: StatSettings | None = None) -> Verdict:
    """THE comparison of one score with its baseline entry (``score``: a ``scores.Score``).

    - unscored (``score.value is None``): never compared, never counted as 0;
    - no entry: new;
    - both sides have 2 or more samples: the change is the difference of the sample means, with its
      confidence interval by ``stat`` (``stats.compare_means``: Welch t or a seeded bootstrap, level
      ``1 - alpha``). A change beyond the tolerance is *regressed* (a drop) or *improved* (a rise)
      only when the interval leaves out 0; otherwise it is *noise* (within noise). A change within
      the tolerance is *unchanged*.
    - otherwise (one sample on a side: an older baseline, a test that is not repeated): the plain
      tolerance on the values, ``score.value`` (a check's mean, a judge's median) against
      ``old.value``; ``Verdict.note`` says why no interval was computed.
    """
    fields = dict(test=score.test, key=key, value=score.value, old=old, tolerance=tolerance,
                  samples=tuple(score.samples), model=score.model, prompt=score.prompt,
                  prompt_digest=score.prompt_digest, source=score.source, reason=score.reason,
                  unscored_samples=getattr(score, "unscored_samples", 0))
    if score.value is None:
        return Verdict(status="unscored", **fields)
    if old is None:
        return Verdict(status="new", **fields)
    n_new, n_old = len(score.samples), len(old.samples)
    if n_new >= 2 and n_old >= 2:
        from .stats import compare_means

        interval = compare_means(old.samples, score.samples, stat)
        change = interval.estimate
        if change < -tolerance.value - _EPSILON:
            status = "regressed" if interval.high < 0 else "noise"
        elif change > tolerance.value + _EPSILON:
            status = "improved" if interval.low > 0 else "noise"
        else:
            status = "unchanged"
        return Verdict(status=status, stats=interval, **fields)
    if n_new >= 2:
        note = NOTE_OLD_ONE.format(n=n_new)
    elif n_old >= 2:
        note = NOTE_NEW_ONE.format(n=n_old)
    else:
        note = NOTE_ONE_EACH
    # -- the plain tolerance (value vs baseline value) --
    if score.value < old.value - tolerance.value - _EPSILON:
        status = "regressed"
    elif score.value > old.value + tolerance.value + _EPSILON:
        status = "improved"
    else:
        status = "unchanged"
    return Verdict(status=status, note=note, **fields)


def regression_message(verdicts: Sequence[Verdict]) -> str:
    """The AssertionError text for one or more regressed scores of one test."""
    if len(verdicts) == 1:
        return verdicts[0].message() + _accept_hint(verdicts[0].test)
    head = f"{len(verdicts)} scores regressed: " + ", ".join(v.key for v in verdicts)
    body = "\n".join("  " + line for v in verdicts for line in v.message().splitlines())
    return f"{head}\n{body}" + _accept_hint(verdicts[0].test)


def _accept_hint(test: str) -> str:
    return f"\n  to accept this run's scores: pytest --llm-update-baseline '{test}'"


# -- the baseline file -----------------------------------------------------------------------------
_CONFLICT = re.compile(r"^(<{7}|={7}|>{7}|\|{7})(\s|$)")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _line_of(text: str, *needles: str) -> int | None:
    """The line number of the first line containing the last needle after the lines of the others."""
    lines = text.splitlines()
    start = 0
    for needle in needles:
        for number in range(start, len(lines)):
            if needle in lines[number]:
                start = number
                break
        else:
            return None
    return start + 1


class Baseline:
    """The committed scores: ``entries[test][key] -> Entry``. ``load`` reads and checks the file;
    ``updated`` gives the entries after accepting a run; ``dumps``/``save`` write it."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Entry]] | None = None,
                 display: str | None = None) -> None:
        self.path = Path(path)
        self.entries = entries if entries is not None else {}
        self.display = display or str(path)
        self.existed = False

    @classmethod
    def load(cls, path: Path, display: str | None = None) -> Baseline:
        """The baseline at ``path`` (empty if there is no file). Raises ``BaselineError`` naming the file."""
        baseline = cls(path, display=display)
        try:
            raw = baseline.path.read_bytes()
        except FileNotFoundError:
            return baseline
        except OSError as exc:
            raise BaselineError(f"cannot read the score baseline {baseline.display}: {exc.strerror or exc}") from None
        baseline.existed = True
        baseline.entries = parse(raw, baseline.display)
        return baseline

    def get(self, test: str, key: str) -> Entry | None:
        return self.entries.get(test, {}).get(key)

    def updated(self, verdicts: Iterable[Verdict], finished: Iterable[str] = (),
                today: str | None = None) -> tuple[dict[str, dict[str, Entry]], dict[str, int]]:
        """The entries after accepting ``verdicts``, and counts ``written`` / ``removed``.

        Each scored verdict replaces its entry (the date changes only if the entry does); unscored
        ones keep the old entry. ``finished``: tests whose body ran to the end; their entries that
        this run did not record are removed (the test no longer produces that score). Entries of
        tests that did not run are kept as they are.
        """
        today = today or _today()
        entries = {test: dict(metrics) for test, metrics in self.entries.items()}
        recorded: dict[str, set[str]] = {}
        written = removed = 0
        for verdict in verdicts:
            if verdict.status == "missing":
                continue
            recorded.setdefault(verdict.test, set()).add(verdict.key)
            entry = verdict.entry(today)
            if entry is None:
                continue
            metrics = entries.setdefault(verdict.test, {})
            if metrics.get(verdict.key) != entry:
                written += 1
            metrics[verdict.key] = entry
        for test in finished:
            metrics = entries.get(test, {})
            for key in [k for k in metrics if k not in recorded.get(test, set())]:
                del metrics[key]
                removed += 1
            if test in entries and not metrics:
                del entries[test]
        return entries, {"written": written, "removed": removed}

    def dumps(self, entries: Mapping[str, Mapping[str, Entry]] | None = None) -> str:
        return dumps(self.entries if entries is None else entries)

    def save(self, entries: Mapping[str, Mapping[str, Entry]]) -> bool:
        """Write ``entries`` atomically; False (and the file untouched) if its content would not change."""
        from .cassette import atomic_write

        text = dumps(entries)
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write(self.path, text.encode("utf-8"))
        return True


def _key_order(key: str) -> tuple[str, int]:
    return split_key(key)


def dumps(entries: Mapping[str, Mapping[str, Entry]]) -> str:
    """The file's text: keys sorted, one score per line, no timestamps but the date a score changed."""
    lines = ["{", f'  "about": {json.dumps(ABOUT)},']
    tests = sorted(test for test, metrics in entries.items() if metrics)
    if not tests:
        lines.append('  "scores": {},')
    else:
        lines.append('  "scores": {')
        for i, test in enumerate(tests):
            lines.append(f"    {json.dumps(test, ensure_ascii=False)}: {{")
            keys = sorted(entries[test], key=_key_order)
            for j, key in enumerate(keys):
                entry = json.dumps(entries[test][key].to_json(), sort_keys=True, ensure_ascii=False)
                lines.append(f"      {json.dumps(key, ensure_ascii=False)}: {entry}" + ("," if j < len(keys) - 1 else ""))
            lines.append("    }" + ("," if i < len(tests) - 1 else ""))
        lines.append("  },")
    lines.append(f'  "version": {FORMAT_VERSION}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _fix_hint(display: str) -> str:
    return (f"Fix the file by hand, or take the committed one back (git checkout -- {display}) and accept "
            f"this run's scores again with --llm-update-baseline. Nothing was written.")


def parse(raw: bytes | str, display: str) -> dict[str, dict[str, Entry]]:
    """The entries of a baseline file's content; ``BaselineError`` (naming ``display`` and the line) if
    it is not one this version can trust."""
    prefix = f"pytest-llmops: cannot use the score baseline {display}"
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{prefix}: it is not UTF-8 text (byte {exc.start}). {_fix_hint(display)}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if _CONFLICT.match(line):
            raise BaselineError(
                f"{prefix}: line {number} is a git merge conflict marker ({line.strip()[:40]}).\n"
                f"{display}:{number}: resolve it: for each score keep the side you accept and delete the "
                f"<<<<<<< ======= >>>>>>> lines; or take one side whole (git checkout --theirs {display}) and "
                f"accept this run's scores again with --llm-update-baseline. Nothing was written."
            )
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{prefix}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}).\n"
                            f"{display}:{exc.lineno}: {_fix_hint(display)}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"{prefix}: expected a JSON object with \"version\" and \"scores\", got "
                            f"{'an empty file' if data is None else _kind(data)}. {_fix_hint(display)}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        line = _line_of(text, '"version"')
        where = f" (line {line})" if line else ""
        raise BaselineError(f"{prefix}: \"version\" must be a format version number such as {FORMAT_VERSION}, "
                            f"got {json.dumps(version)}{where}. {_fix_hint(display)}")
    if version > FORMAT_VERSION:
        raise BaselineError(
            f"pytest-llmops: the score baseline {display} was written by a newer pytest-llmops (file format "
            f"version {version}; this version reads version {FORMAT_VERSION} and older). Upgrade pytest-llmops "
            f"(pip install -U pytest-llmops) to compare with it. The file was left as it is."
        )
    scores = data.get("scores", {})
    if not isinstance(scores, dict):
        raise BaselineError(f"{prefix}: \"scores\" must be an object (test -> metric -> score), got {_kind(scores)}. "
                            f"{_fix_hint(display)}")
    entries: dict[str, dict[str, Entry]] = {}
    for test, metrics in scores.items():
        line = _line_of(text, json.dumps(test, ensure_ascii=False))
        if not isinstance(metrics, dict):
            raise BaselineError(f"{prefix}: line {line or '?'}: the scores of {test} must be an object "
                                f"(metric -> score), got {_kind(metrics)}. {_fix_hint(display)}")
        entries[test] = {}
        for key, value in metrics.items():
            at = _line_of(text, json.dumps(test, ensure_ascii=False), json.dumps(key, ensure_ascii=False))
            where = f"{prefix}: line {at or '?'}: {test} {key}"
            try:
                entries[test][key] = Entry.from_json(value, where)
            except BaselineError as exc:
                raise BaselineError(f"{exc}. {_fix_hint(display)}") from None
    return entries


# -- snapshots of structured outputs ---------------------------------------------------------------
_UNSAFE = re.compile(r"[^\w.\-\[\]@=+,]")
_PATH_TOKEN = re.compile(r"""\.\.(?P<deep>[^.\[\]]+|\*)|\.(?P<key>[^.\[\]]+|\*)|\[(?:(?P<index>-?\d+)|(?P<star>\*)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]""")


def parse_path(path: str) -> tuple[tuple[str, Any], ...]:
    """A JSONPath subset for ``ignore``: ``$.id``, ``$.choices[0].message.id``, ``$.items[*].id``,
    ``$['odd key']``, ``$..id`` (at any depth), ``$.*``. Raises ValueError naming what is wrong."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError(f"ignore path {path!r} must be a JSONPath starting with $ (e.g. '$.id', '$.items[*].created')")
    tokens: list[tuple[str, Any]] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"ignore path {path!r}: cannot read it from {path[position:]!r} on "
                             f"(use .key, ['key'], [0], [*] or ..key)")
        if match.group("deep") is not None:
            tokens.append(("deep", match.group("deep")))
        elif match.group("key") is not None:
            tokens.append(("any", None) if match.group("key") == "*" else ("key", match.group("key")))
        elif match.group("index") is not None:
            tokens.append(("index", int(match.group("index"))))
        elif match.group("star") is not None:
            tokens.append(("any", None))
        else:
            tokens.append(("key", match.group("sq") if match.group("sq") is not None else match.group("dq")))
        position = match.end()
    return tuple(tokens)


def _matches(tokens: Sequence[tuple[str, Any]], path: Sequence[Any]) -> bool:
    if not tokens:
        return not path
    kind, value = tokens[0]
    if kind == "deep":
        for start in range(len(path)):
            step = path[start]
            if (value == "*" or step == value) and _matches(tokens[1:], path[start + 1:]):
                return True
        return False
    if not path:
        return False
    step = path[0]
    if kind == "key" and not (isinstance(step, str) and step == value):
        return False
    if kind == "index" and not (isinstance(step, int) and step == value):
        return False
    return _matches(tokens[1:], path[1:])


def mask(data: Any, patterns: Sequence[Sequence[tuple[str, Any]]], path: tuple[Any, ...] = ()) -> Any:
    """``data`` with the values at the ignored paths replaced by ``"<ignored>"``."""
    if path and any(_matches(tokens, path) for tokens in patterns):
        return _IGNORED
    if isinstance(data, dict):
        return {key: mask(value, patterns, (*path, key)) for key, value in data.items()}
    if isinstance(data, list):
        return [mask(value, patterns, (*path, index)) for index, value in enumerate(data)]
    return data


def to_jsonable(data: Any, name: str) -> Any:
    """What a snapshot stores: JSON data (pydantic models and SDK objects are dumped first)."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    try:
        return json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"snapshot {name!r}: the data must be JSON (dicts, lists, strings, finite numbers, "
                        f"booleans, None) or a pydantic model: {exc}") from None


def json_path(steps: Sequence[Any]) -> str:
    text = "$"
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif isinstance(step, str) and re.fullmatch(r"[A-Za-z_][\w-]*", step):
            text += f".{step}"
        else:
            text += f"[{json.dumps(str(step))}]"
    return text


def _short_repr(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_lines(old: Any, new: Any) -> list[str]:
    """How ``new`` differs from ``old``, one line per change, with JSONPaths (via deepdiff)."""
    from deepdiff import DeepDiff

    tree = DeepDiff(old, new, view="tree")
    changes: list[tuple[str, str]] = []
    for kind, levels in tree.items():
        for level in levels:
            where = json_path(level.path(output_format="list"))
            if kind in ("values_changed", "type_changes"):
                changes.append((where, f"{where}: {_short_repr(level.t1)} -> {_short_repr(level.t2)}"))
            elif kind.endswith("_added"):
                changes.append((where, f"{where}: added {_short_repr(level.t2)}"))
            elif kind.endswith("_removed"):
                changes.append((where, f"{where}: removed (was {_short_repr(level.t1)})"))
            else:
                changes.append((where, f"{where}: {kind.replace('_', ' ')}"))
    return [line for _, line in sorted(changes)]


@dataclass(frozen=True)
class SnapshotVerdict:
    """One snapshot of one test compared with the stored one."""

    test: str
    name: str
    status: str  # "new" | "changed" | "unchanged"
    data: Any = None  # the masked data (what the file stores)
    diff: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    file: str = ""

    def message(self) -> str:
        ignoring = f" (ignoring {', '.join(self.ignore)})" if self.ignore else ""
        lines = [f"snapshot {self.name!r} differs from {self.file}{ignoring}:"]
        lines += [f"  {line}" for line in self.diff]
        lines.append(f"  to accept the new output: pytest --llm-update-baseline '{self.test}'")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test, "name": self.name, "status": self.status, "data": self.data,
                "diff": list(self.diff), "ignore": list(self.ignore), "file": self.file}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SnapshotVerdict:
        return cls(data["test"], data["name"], data["status"], data.get("data"), tuple(data.get("diff", ())),
                   tuple(data.get("ignore", ())), data.get("file", ""))


class Snapshots:
    """The snapshot files: ``<folder>/<test module without .py>/<test name>.json`` = {name: data}."""

    def __init__(self, folder: Path, rootpath: Path | None = None) -> None:
        self.folder = Path(folder)
        self.rootpath = rootpath
        self._cache: dict[str, dict[str, Any]] = {}

    def path_for(self, test: str) -> Path:
        module, _, name = test.partition("::")
        module_path = Path(module)
        if module_path.suffix == ".py":
            module_path = module_path.with_suffix("")
        parts = [_UNSAFE.sub("_", part) for part in module_path.parts if part not in ("..", ".", "/")]
        leaf = _UNSAFE.sub("_", name.replace("::", ".") or "module")[:200]
        return self.folder.joinpath(*parts, f"{leaf}.json")

    def display(self, path: Path) -> str:
        if self.rootpath is not None:
            try:
                return str(path.relative_to(self.rootpath))
            except ValueError:
                pass
        return str(path)

    def load(self, test: str) -> dict[str, Any]:
        if test not in self._cache:
            path = self.path_for(test)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                self._cache[test] = {}
                return self._cache[test]
            shown = self.display(path)
            for number, line in enumerate(text.splitlines(), 1):
                if _CONFLICT.match(line):
                    raise BaselineError(f"pytest-llmops: cannot use the snapshot file {shown}: line {number} is a git "
                                        f"merge conflict marker ({line.strip()[:40]}). Resolve the conflict, or "
                                        f"delete the file and accept new snapshots with --llm-update-baseline.")
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BaselineError(f"pytest-llmops: cannot use the snapshot file {shown}: line {exc.lineno}, column "
                                    f"{exc.colno}: not valid JSON ({exc.msg}). Fix it, or delete it and accept new "
                                    f"snapshots with --llm-update-baseline.") from None
            if not isinstance(data, dict):
                raise BaselineError(f"pytest-llmops: cannot use the snapshot file {shown}: expected an object "
                                    f"(snapshot name -> data), got {_kind(data)}.")
            self._cache[test] = data
        return self._cache[test]

    def compare(self, test: str, name: str, data: Any, ignore: Sequence[str] = ()) -> SnapshotVerdict:
        patterns = [parse_path(path) for path in ignore]
        new = mask(to_jsonable(data, name), patterns)
        stored = self.load(test)
        file = self.display(self.path_for(test))
        if name not in stored:
            return SnapshotVerdict(test, name, "new", new, (), tuple(ignore), file)
        old = mask(stored[name], patterns)
        diff = diff_lines(old, new)
        return SnapshotVerdict(test, name, "changed" if diff else "unchanged", new, tuple(diff), tuple(ignore), file)

    def updated_files(self, verdicts: Iterable[SnapshotVerdict], finished: Iterable[str] = ()) -> dict[Path, str | None]:
        """The files to write (path -> text; None: delete) to accept ``verdicts``. A test that ran to
        the end keeps only the snapshots it took this run; others keep their other snapshots."""
        taken: dict[str, dict[str, Any]] = {}
        for verdict in verdicts:
            taken.setdefault(verdict.test, {})[verdict.name] = verdict.data
        finished = set(finished)
        changes: dict[Path, str | None] = {}
        for test in sorted(set(taken) | finished):
            path = self.path_for(test)
            old = self.load(test)
            new = dict(taken.get(test, {})) if test in finished else {**old, **taken.get(test, {})}
            if new == old and (new or not path.exists()):
                continue
            changes[path] = _snapshot_text(new) if new else None
        return changes

    def write(self, changes: Mapping[Path, str | None]) -> None:
        from .cassette import atomic_write

        for path, text in changes.items():
            if text is None:
                if path.exists():
                    path.unlink()
            else:
                atomic_write(path, text.encode("utf-8"))


def _snapshot_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- one run ---------------------------------------------------------------------------------------
@dataclass
class TestScores:
    """What one test compared so far: ``verdicts[i]`` for ``context.scores[i]``, its snapshots."""

    test: str
    markers: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    snapshots: dict[str, SnapshotVerdict] = field(default_factory=dict)
    raised: set[int] = field(default_factory=set)  # regressions already raised (by check)
    properties: set[int] = field(default_factory=set)  # verdicts already in item.user_properties
    done: bool = False

    @classmethod
    def of_item(cls, item: Any) -> TestScores:
        """A pytest test's state, with its ``llm_tolerance`` markers (closest first) checked: a bad one
        raises ValueError naming the test."""
        markers = [(tuple(m.args), dict(m.kwargs)) for m in item.iter_markers("llm_tolerance")]
        for args, kwargs in markers:
            try:
                check_marker(args, kwargs)
            except ValueError as exc:
                raise ValueError(f"{item.nodeid}: {exc}") from None
        return cls(item.nodeid, markers)

    def unreported_regressions(self) -> list[Verdict]:
        regressed = [i for i, v in sorted(self.verdicts.items()) if v.status == "regressed" and i not in self.raised]
        self.raised.update(regressed)
        return [self.verdicts[i] for i in regressed]

    def new_properties(self) -> list[tuple[str, Any]]:
        """JUnit XML: ``llm_score:<metric>`` properties of the verdicts not given yet (as
        ``record_property`` would add them to ``item.user_properties``)."""
        properties = []
        for index in sorted(set(self.verdicts) - self.properties):
            verdict = self.verdicts[index]
            value = "unscored" if verdict.value is None else round(verdict.value, 6)
            properties.append((f"llm_score:{verdict.key}", value))
            self.properties.add(index)
        return properties


class BaselineRun:
    """The session's baseline state: the file, the tolerances, and every verdict of the run (on the
    xdist controller: merged from the workers through ``collect``/``merge``)."""

    def __init__(self, baseline: Baseline, snapshots: Snapshots, tolerances: Tolerances, *, update: bool = False,
                 stat: StatSettings | None = None) -> None:
        self.baseline = baseline
        self.snapshots = snapshots
        self.tolerances = tolerances
        self.update = update
        #: How samples are compared (ini llm_stat_method, llm_alpha, llm_bootstrap_*).
        self.stat = stat or StatSettings()
        self.verdicts: list[Verdict] = []
        self.snapshot_verdicts: list[SnapshotVerdict] = []
        self.finished: set[str] = set()
        #: What --llm-update-baseline did (for the summary), or the error that stopped it.
        self.written: dict[str, int] | None = None
        self.write_error: str | None = None
        self.html_written: str | None = None

    @classmethod
    def for_session(cls, settings: Any, display: str, tolerance_metrics: Iterable[str], stat_ini: Sequence[Any],
                    *, update: bool = False) -> BaselineRun:
        """The session's state: the file ``settings.baseline_path`` (not read yet: ``load``), its
        snapshots folder, the tolerances (ini ``llm_tolerance`` and ``llm_tolerance_metrics``) and how
        samples compare (``stat_ini``: ini ``llm_stat_method``, ``llm_alpha``, ``llm_bootstrap_*``).
        A bad ini value raises ValueError naming it."""
        path = settings.baseline_path
        tolerances = Tolerances.from_ini(settings.tolerance, tolerance_metrics)
        stat = StatSettings.from_ini(*stat_ini)
        return cls(Baseline(path, display=display), Snapshots(path.parent / SNAPSHOT_DIR, settings.rootpath),
                   tolerances, update=update, stat=stat)

    def load(self) -> None:
        """Read the baseline file (before any test runs); ``BaselineError`` if it cannot be trusted."""
        self.baseline = Baseline.load(self.baseline.path, self.baseline.display)

    # per test
    def compare_new(self, state: TestScores, scores: Sequence[Any], explicit: float | None = None,
                    only: int | None = None) -> list[Verdict]:
        """Compare the test's scores not compared yet (in recording order); returns their verdicts.
        ``explicit``: the tolerance given to ``check`` for the score at ``only`` (default: the last
        one); ``only``: compare that score alone (a repeated test's other scores may still be
        waiting for the samples of the running repetition)."""
        target = len(scores) - 1 if only is None else only
        fresh: list[Verdict] = []
        for index, (key, score) in enumerate(zip(score_keys(scores), scores)):
            if index in state.verdicts or (only is not None and index != only):
                continue
            verdict = self.verdict(state, key, score, explicit if index == target else None)
            state.verdicts[index] = verdict
            fresh.append(verdict)
        return fresh

    def verdict(self, state: TestScores, key: str, score: Any, explicit: float | None = None) -> Verdict:
        """The verdict of one score of the test (``key``: "metric" or "metric#2"), not kept."""
        tolerance = self.tolerances.resolve(key, state.markers, explicit)
        return compare_score(self.baseline.get(state.test, key), score, key, tolerance, self.stat)

    def after_call(self, state: TestScores, scores: Sequence[Any], finished: bool) -> list[Verdict]:
        """The test body is over: compare the scores recorded by assertions, and return the
        regressions to fail the test with (none under --llm-update-baseline). ``finished``: the body
        returned normally (then baseline entries it no longer records are reported as missing)."""
        self.compare_new(state, scores)
        if finished and (state.test in self.baseline.entries or (self.update and self._has_snapshot_file(state))):
            self.finished.add(state.test)
        regressions = state.unreported_regressions()
        return [] if self.update else regressions

    def _has_snapshot_file(self, state: TestScores) -> bool:
        return bool(state.snapshots) or self.snapshots.path_for(state.test).exists()

    def finish_test(self, state: TestScores, scores: Sequence[Any]) -> list[Verdict]:
        """At teardown: compare scores recorded after the body (fixture teardown), keep the test's
        verdicts for the session; returns regressions not yet reported."""
        if state.done:
            return []
        state.done = True
        self.compare_new(state, scores)
        self.verdicts.extend(state.verdicts[i] for i in sorted(state.verdicts))
        self.snapshot_verdicts.extend(state.snapshots.values())
        regressions = state.unreported_regressions()
        return [] if self.update else regressions

    # xdist
    def collect(self) -> dict[str, Any]:
        return {"verdicts": [v.to_json() for v in self.verdicts],
                "snapshots": [s.to_json() for s in self.snapshot_verdicts],
                "finished": sorted(self.finished)}

    def merge(self, data: Mapping[str, Any]) -> None:
        self.verdicts.extend(Verdict.from_json(v) for v in data.get("verdicts", ()))
        self.snapshot_verdicts.extend(SnapshotVerdict.from_json(s) for s in data.get("snapshots", ()))
        self.finished.update(data.get("finished", ()))

    # the session
    def results(self) -> list[Verdict]:
        """Every verdict of the run, one per (test, key) (a test run again keeps its last), plus the
        baseline entries of tests that ran to the end without recording them (``missing``), sorted."""
        latest: dict[tuple[str, str], Verdict] = {}
        for verdict in self.verdicts:
            latest[(verdict.test, verdict.key)] = verdict
        for test in self.finished:
            for key, entry in self.baseline.entries.get(test, {}).items():
                if (test, key) not in latest:
                    latest[(test, key)] = Verdict(test=test, key=key, status="missing", old=entry)
        return sorted(latest.values(), key=lambda v: (v.test, _key_order(v.key)))

    def snapshot_results(self) -> list[SnapshotVerdict]:
        latest = {(s.test, s.name): s for s in self.snapshot_verdicts}
        return [latest[key] for key in sorted(latest)]

    def finish(self, interrupted: bool = False) -> bool:
        """End of the session (the xdist controller, or a run without xdist): under
        ``--llm-update-baseline`` write the accepted scores and snapshots, unless the run was
        interrupted. False when writing failed (``write_error`` says why; the session must fail)."""
        if not self.update or not (self.verdicts or self.snapshot_verdicts or self.finished):
            return True
        if interrupted:
            self.write_error = "the run was interrupted; nothing was written"
            return True
        try:
            self.save()
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc} ({exc.filename or self.baseline.display})"
            return False
        except LLMOpsError as exc:  # a snapshot file that cannot be read: nothing was written
            self.write_error = str(exc)
            return False
        return True

    def save(self) -> None:
        """``--llm-update-baseline``: write the accepted scores and snapshots (atomically, each file)."""
        results = self.results()
        entries, counts = self.baseline.updated(results, self.finished)
        snapshot_changes = self.snapshots.updated_files(self.snapshot_results(), self.finished)
        changed = self.baseline.save(entries)
        self.snapshots.write(snapshot_changes)
        self.written = {**counts, "file_changed": int(changed), "snapshot_files": len(snapshot_changes)}


# -- the fixture -----------------------------------------------------------------------------------
class BaselineFixture:
    """``llm_baseline``: ``check(metric, value)`` records a score and fails on a regression;
    ``snapshot(name, data, ignore=[...])`` compares structured output with its stored snapshot."""

    def __init__(self, run: BaselineRun, state: TestScores) -> None:
        self._run = run
        self._state = state

    @property
    def path(self) -> Path:
        """The baseline file."""
        return self._run.baseline.path

    @property
    def updating(self) -> bool:
        """True under ``--llm-update-baseline`` (regressions are accepted, not failed)."""
        return self._run.update

    def get(self, metric: str) -> Entry | None:
        """This test's baseline entry for ``metric`` (``"faithfulness"``, ``"faithfulness#2"``), if any."""
        return self._run.baseline.get(self._state.test, metric)

    def check(self, metric: str, value: float | Sequence[float | None] | None, *,
              tolerance: float | None = None) -> Verdict:
        """Record ``value`` as this test's score ``metric`` and compare it with the baseline: a
        regression fails the test here (an AssertionError). ``value``: a number, a list of samples
        (all are stored; with samples on both sides their means are compared with a confidence
        interval, see docs/noise.md; a ``None`` sample could not be scored and is counted apart), or
        None (unscored: counted apart, never compared). ``tolerance`` overrides the marker and ini
        tolerances for this score.

        In a repeated test the samples of every repetition are compared once, in the last one; in
        an earlier repetition ``check`` returns the verdict on the samples so far (``provisional``)
        and never fails."""
        __tracebackhide__ = True
        from .context import current
        from .scores import record_score

        if not isinstance(metric, str) or not metric or "#" in metric:
            raise ValueError(f"llm_baseline.check: the metric must be a non-empty name without '#', got {metric!r}")
        if tolerance is not None:
            _tolerance_value(tolerance, "llm_baseline.check(tolerance=...)")
        stored = record_score(metric, value, source="check", reason="" if value is not None else "checked with no value")
        ctx = current()
        scores = ctx.scores if ctx is not None else []
        if not scores:  # pragma: no cover - outside a test there is no context
            raise RuntimeError("llm_baseline.check can only be used inside a running test")
        index = next((i for i in range(len(scores) - 1, -1, -1) if scores[i] is stored), len(scores) - 1)
        repetitions = getattr(ctx, "repetitions", 1)
        repeated = repetitions > 1
        episode = getattr(ctx, "episode", None)
        if repeated and episode is not None and episode < repetitions:
            key = score_keys(scores)[index]
            return replace(self._run.verdict(self._state, key, scores[index], tolerance), provisional=True)
        self._run.compare_new(self._state, scores, explicit=tolerance, only=index if repeated else None)
        verdict = self._state.verdicts[index]
        if verdict.status == "regressed" and not self._run.update:
            self._state.raised.add(index)
            raise AssertionError(regression_message([verdict]))
        return verdict

    def snapshot(self, name: str, data: Any, *, ignore: Sequence[str] = ()) -> SnapshotVerdict:
        """Compare ``data`` (JSON data or a pydantic model) with snapshot ``name`` of this test, leaving
        out the JSONPaths in ``ignore`` (``"$.id"``, ``"$.choices[*].message.id"``, ``"$..created"``).
        A difference fails the test with the diff; a missing snapshot is new and passes. Stored (with
        the ignored values as ``"<ignored>"``) by ``--llm-update-baseline``."""
        __tracebackhide__ = True
        if not isinstance(name, str) or not name:
            raise ValueError(f"llm_baseline.snapshot: the name must be a non-empty string, got {name!r}")
        if isinstance(ignore, str):
            ignore = [ignore]
        if name in self._state.snapshots:
            raise ValueError(f"llm_baseline.snapshot: snapshot {name!r} was already taken in this test; "
                             f"give each snapshot its own name")
        verdict = self._run.snapshots.compare(self._state.test, name, data, list(ignore))
        self._state.snapshots[name] = verdict
        if verdict.status == "changed" and not self._run.update:
            raise AssertionError(verdict.message())
        return verdict


# -- terminal summary ------------------------------------------------------------------------------
_MARKUP = {"regressed": {"red": True, "bold": True}, "noise": {"yellow": True}, "improved": {"green": True},
           "new": {"cyan": True}, "unscored": {"yellow": True}, "missing": {"yellow": True}, "unchanged": {}}


def counts_text(counts: Mapping[str, int], order: Sequence[str] = STATUSES) -> str:
    return ", ".join(f"{counts[s]} {STATUS_LABELS.get(s, s)}" for s in order if counts.get(s))


def _row_cells(verdict: Verdict, update: bool) -> tuple[str, ...]:
    old = _num(verdict.old_shown) if verdict.old is not None else ""
    new = _num(verdict.new_shown) if verdict.status != "missing" else ""
    change = _delta(verdict.delta) if verdict.delta is not None else ""
    notes = []
    if verdict.status == "noise":
        notes.append(f"within noise: {verdict.interval_text()}")
    elif verdict.stats is not None:
        notes.append(verdict.interval_text())
    if verdict.status == "regressed":
        notes.append(f"tolerance {_num(verdict.tolerance.value)}" + ("; accepted" if update else ""))
    if verdict.status == "unscored":
        notes.append(verdict.reason or "unscored")
    if verdict.unscored_samples and verdict.status != "unscored":
        notes.append(f"{verdict.unscored_samples} unscored sample(s) left out")
    if verdict.status == "missing":
        notes.append("in the baseline, not recorded by this run" + ("; removed" if update else ""))
    if verdict.prompt_change:
        notes.append(verdict.prompt_change)
    return (verdict.status.upper(), verdict.test, verdict.key, old, "->" if (old or new) else "", new, change,
            "; ".join(notes))


def summary_lines(run: BaselineRun, *, verbose: bool = False,
                  baseline_display: str | None = None) -> list[tuple[str, dict[str, bool]]]:
    """The ``llm baseline`` section: rows grouped by model change, then the counts on one line.
    Unchanged scores are counted, and listed only with ``verbose``. Empty if nothing was scored."""
    results = run.results()
    snapshots = run.snapshot_results()
    if not results and not snapshots and run.write_error is None:
        return []
    groups: dict[str, list[Verdict]] = {}
    for verdict in results:
        groups.setdefault(verdict.model_change, []).append(verdict)
    order = {status: i for i, status in enumerate(STATUSES)}
    shown: dict[str, list[Verdict]] = {
        label: sorted((v for v in verdicts if verbose or v.status != "unchanged"),
                      key=lambda v: (order[v.status], v.test, _key_order(v.key)))
        for label, verdicts in groups.items()
    }
    cells = [_row_cells(v, run.update) for rows in shown.values() for v in rows]
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(7)]
    listed = [s for s in snapshots if verbose or s.status != "unchanged"]
    widths[0] = max([widths[0], *(len(s.status) for s in listed)])
    lines: list[tuple[str, dict[str, bool]]] = []

    def group_key(label: str) -> tuple[int, str]:
        return (min(order[v.status] for v in groups[label]), label)

    for label in sorted(groups, key=group_key):
        counts: dict[str, int] = {}
        for verdict in groups[label]:
            counts[verdict.status] = counts.get(verdict.status, 0) + 1
        lines.append((f"{label}: {counts_text(counts)}", {"bold": True}))
        for verdict in shown[label]:
            row = _row_cells(verdict, run.update)
            text = (f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}} "
                    f"{row[4]:<{widths[4]}} {row[5]:<{widths[5]}}  {row[6]:<{widths[6]}}  {row[7]}")
            lines.append((text.rstrip(), _MARKUP[verdict.status]))

    snap_counts: dict[str, int] = {}
    for snap in snapshots:
        snap_counts[snap.status] = snap_counts.get(snap.status, 0) + 1
    if snapshots:
        lines.append((f"snapshots: {counts_text(snap_counts, ('changed', 'new', 'unchanged'))}", {"bold": True}))
        width = max((len(s.test) for s in listed), default=0)
        for snap in listed:
            note = f"  {len(snap.diff)} difference(s)" + ("; accepted" if run.update else "") if snap.diff else ""
            markup = {"changed": _MARKUP["regressed"], "new": _MARKUP["new"], "unchanged": {}}[snap.status]
            lines.append((f"  {snap.status.upper():<{widths[0]}}  {snap.test:<{width}}  {snap.name}{note}", markup))

    totals: dict[str, int] = {}
    for verdict in results:
        totals[verdict.status] = totals.get(verdict.status, 0) + 1
    parts = [counts_text(totals)] if totals else []
    left_out = sum(v.unscored_samples for v in results if v.status not in ("unscored", "missing"))
    if left_out:
        parts[-1] += f" ({left_out} unscored sample{'s' if left_out != 1 else ''} left out)"
    if snapshots:
        parts.append(", ".join(f"{snap_counts[s]} snapshot{'s' if snap_counts[s] != 1 else ''} {s}"
                               for s in ("changed", "new", "unchanged") if snap_counts.get(s)))
    display = baseline_display or run.baseline.display
    if run.write_error is not None:
        tail = f"{display} NOT updated: {run.write_error}"
    elif run.written is not None:
        written = run.written
        if written["file_changed"] or written["snapshot_files"]:
            tail = f"{display} updated ({written['written']} score(s) written, {written['removed']} removed"
            tail += f", {written['snapshot_files']} snapshot file(s))" if written["snapshot_files"] else ")"
        else:
            tail = f"{display} already up to date"
    else:
        pending = any(v.status in ("regressed", "noise", "improved", "new", "missing") for v in results) or any(
            s.status != "unchanged" for s in snapshots)
        tail = f"{display} unchanged" + (" (accept this run with --llm-update-baseline)" if pending else "")
    failing = totals.get("regressed", 0) + snap_counts.get("changed", 0)
    markup = {"red": True, "bold": True} if failing and not run.update else {"green": True, "bold": True}
    lines.append(("; ".join([*parts, tail]), markup))
    return lines
