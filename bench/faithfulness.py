"""Benchmark the offline faithfulness checker on labelled (context, answer) pairs.

Usage::

    python bench/faithfulness.py [PATH.jsonl] [--threshold T] [--sweep] [--split] [--ablate]
                                 [--timing]

Rows are JSON objects with ``context``, ``answer``, ``label`` ("faithful" / "unfaithful") and an
optional ``source``. The positive class is "unfaithful" (what the checker flags). Printed, overall
and per source: balanced accuracy (BA), precision (P) and recall (R) on "unfaithful", ms per check
(median, p95; the row's first check, which indexes its context unless an earlier row had the same
one), and the same metrics for two length-only rules, "flag an answer longer than N words": one N
for all rows (as the checker has one threshold) and one N per source (a rule that knows the
source, an optimistic baseline). Both are fitted on the rows reported, except under ``--split``.

``--sweep`` prints balanced accuracy / precision / recall over a grid of thresholds.
``--split`` tunes the threshold on half of the contexts and reports on the other half (both ways).
``--ablate`` re-runs the benchmark with each part of the checker turned off in turn.
``--timing`` measures a 200-word answer against a 2,000-word context (cold and cached context;
medians over 200 runs, wall and CPU time).

Default PATH: ``../shared/data/faithfulness/dev.jsonl`` relative to the repository root; when it
does not exist and no PATH is given, the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_llmops import faithfulness as F  # noqa: E402  (after the sys.path line)

DEFAULT_PATH = ROOT.parent / "shared" / "data" / "faithfulness" / "dev.jsonl"
GRID = [round(0.3 + 0.025 * i, 3) for i in range(27)]  # 0.300 .. 0.950


# ------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------


def metrics(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    """pairs of (is_unfaithful, flagged) -> balanced accuracy, precision, recall (unfaithful)."""
    tp = sum(1 for y, p in pairs if y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    fp = sum(1 for y, p in pairs if not y and p)
    tn = sum(1 for y, p in pairs if not y and not p)
    tpr = tp / (tp + fn) if tp + fn else float("nan")
    tnr = tn / (tn + fp) if tn + fp else float("nan")
    prec = tp / (tp + fp) if tp + fp else float("nan")
    return {"ba": (tpr + tnr) / 2, "prec": prec, "rec": tpr, "n": len(pairs), "flagged": tp + fp}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


# ------------------------------------------------------------------------------------------
# running the checker
# ------------------------------------------------------------------------------------------


class Scored:
    """One row, checked once at threshold 0 (a claim unsupported at threshold 0 failed a strict
    check), so that the verdict at any threshold T can be computed without checking again:
    ``not strict_fail and score >= T and min_claim >= CLAIM_FLOOR * T``."""

    __slots__ = (
        "row", "unfaithful", "source", "score", "min_claim", "strict_fail", "ms", "words", "group"
    )

    def __init__(self, row: dict, threshold: float) -> None:
        self.row = row
        self.unfaithful = row["label"] == "unfaithful"
        self.source = row.get("source") or "all"
        self.words = len(row["answer"].split())
        self.group = int(hashlib.sha1(row["context"].encode()).hexdigest(), 16) % 2
        t0 = time.perf_counter()
        F.check_faithfulness(row["answer"], row["context"], threshold=threshold)
        self.ms = (time.perf_counter() - t0) * 1000
        r0 = F.check_faithfulness(row["answer"], row["context"], threshold=0.0)
        self.score = r0.score
        self.min_claim = min((c.score for c in r0.claims), default=1.0)
        self.strict_fail = not r0.passed

    def flagged(self, threshold: float) -> bool:
        return (
            self.strict_fail
            or self.score < threshold
            or self.min_claim < F.CLAIM_FLOOR * threshold
        )


def best_threshold(rows: list[Scored]) -> float:
    return max(GRID, key=lambda t: (metrics([(r.unfaithful, r.flagged(t)) for r in rows])["ba"], -t))


def length_rule(rows: list[Scored]) -> int:
    """Best N for 'flag if the answer has more than N words' on these rows."""
    lengths = sorted({r.words for r in rows})
    return max(lengths, key=lambda n: (metrics([(r.unfaithful, r.words > n) for r in rows])["ba"], -n))


def by_source(rows: list[Scored]) -> dict[str, list[Scored]]:
    out: dict[str, list[Scored]] = defaultdict(list)
    for r in rows:
        out[r.source].append(r)
    return dict(sorted(out.items()))


def fmt(m: dict[str, float]) -> str:
    return f"BA {m['ba']:.3f} P {m['prec']:.3f} R {m['rec']:.3f}"


def report(
    rows: list[Scored],
    threshold: float,
    length_n: int | None = None,
    length_per_source: dict[str, int] | None = None,
) -> None:
    """Checker vs two length-only rules: one N for all rows (as the checker has one threshold)
    and one N per source (an optimistic rule that knows the source)."""
    groups = {"overall": rows, **by_source(rows)}
    if length_n is None:
        length_n = length_rule(rows)
    if length_per_source is None:
        length_per_source = {s: length_rule(g) for s, g in by_source(rows).items()}
    print(
        f"{'set':<13}{'n':>5} | {f'checker @ {threshold:.3f}':<24} | ms/check med   p95 "
        f"| {f'length rule, one N = {length_n}':<24} | length rule, N per source"
    )
    for name, g in groups.items():
        m = metrics([(r.unfaithful, r.flagged(threshold)) for r in g])
        l1 = metrics([(r.unfaithful, r.words > length_n) for r in g])
        l2 = metrics([(r.unfaithful, r.words > length_per_source.get(r.source, 10**9)) for r in g])
        ms = [r.ms for r in g]
        n_txt = "" if name == "overall" else f" (N={length_per_source.get(name)})"
        print(
            f"{name:<13}{len(g):>5} | {fmt(m)} | {statistics.median(ms):8.2f} {pct(ms, 0.95):6.2f} "
            f"| {fmt(l1)} | {fmt(l2)}{n_txt}"
        )


def sweep(rows: list[Scored]) -> None:
    groups = {"overall": rows, **by_source(rows)}
    print("threshold sweep: BA / P(unfaithful) / R(unfaithful)")
    print(f"{'T':>5}  " + "  ".join(f"{k:^23}" for k in groups))
    for t in GRID:
        cells = []
        for g in groups.values():
            m = metrics([(r.unfaithful, r.flagged(t)) for r in g])
            cells.append(f"{m['ba']:.3f}/{m['prec']:.3f}/{m['rec']:.3f}")
        print(f"{t:>5.3f}  " + "  ".join(f"{c:^23}" for c in cells))


def split_check(rows: list[Scored]) -> None:
    print("split check: contexts hashed into halves A and B; threshold and length rule fitted on one")
    print("half, reported on the other")
    for tune, test in ((0, 1), (1, 0)):
        a = [r for r in rows if r.group == tune]
        b = [r for r in rows if r.group == test]
        t = best_threshold(a)
        ln = {s: length_rule(g) for s, g in by_source(a).items()}
        print(f"\n-- tuned on half {'AB'[tune]} ({len(a)} rows): threshold {t:.3f}; "
              f"reported on half {'AB'[test]} ({len(b)} rows)")
        report(b, t, length_rule(a), ln)


# ------------------------------------------------------------------------------------------
# ablations: what each part contributes
# ------------------------------------------------------------------------------------------

#: name -> (module attribute, replacement); each variant turns one part of the checker off
ABLATIONS: dict[str, tuple[str, object]] = {
    "numbers matched on value only (no units)": ("_binds", lambda n, o, terms: F._same_value(n, o)),
    "no number-swap check": ("_check_number_swap", lambda *args: None),
    "no swapped-name check": ("_check_swap", lambda *args: None),
    "no comparative / quantifier / 'only' check": ("_check_cues", lambda *args: None),
    "antonyms not bound to the same thing": ("_antonym_bound", lambda *args: True),
    "no pair coverage": ("PAIR_WEIGHT", 0.0),
    "evidence = 1 sentence": ("MAX_EVIDENCE_SENTENCES", 1),
}


def ablate(raw_rows: list[dict], threshold: float) -> None:
    """Re-run the benchmark with each part of ABLATIONS turned off in turn."""
    print("ablations (all rows): BA at the threshold | per source | best BA (threshold)")

    def line(name: str, rows: list[Scored]) -> None:
        m = metrics([(r.unfaithful, r.flagged(threshold)) for r in rows])
        per = " ".join(
            f"{metrics([(r.unfaithful, r.flagged(threshold)) for r in g])['ba']:.3f}"
            for g in by_source(rows).values()
        )
        t = best_threshold(rows)
        b = metrics([(r.unfaithful, r.flagged(t)) for r in rows])["ba"]
        print(f"  {name:<44} {m['ba']:.3f} P {m['prec']:.3f} | {per} | {b:.3f} ({t:.3f})")

    line("as shipped", [Scored(r, threshold) for r in raw_rows])
    for name, (attr, value) in ABLATIONS.items():
        if not hasattr(F, attr):
            continue
        saved = getattr(F, attr)
        setattr(F, attr, value)
        try:
            line(name, [Scored(r, threshold) for r in raw_rows])
        finally:
            setattr(F, attr, saved)


# ------------------------------------------------------------------------------------------
# timing: 200-word answer, 2,000-word context
# ------------------------------------------------------------------------------------------


def timing(raw_rows: list[dict], repeats: int = 200) -> None:
    """Median time of one check: cold (the context is split and indexed in the call; as in a
    test that checks one answer against a new context), cold with the per-sentence caches also
    cleared (nothing about the context is known: the strictest measure), and warm (the same
    context checked again). The machine may be shared: compare CPU medians."""
    docs = sorted({r["context"] for r in raw_rows if r.get("source") != "halueval-qa"}, key=len)[::-1]
    words: list[str] = []
    for d in docs:
        words.extend(d.split())
        if len(words) >= 2000:
            break
    context = " ".join(words[:2000])
    # an answer of ~200 words: every 7th sentence of the context
    sents = F.split_sentences(context)
    ans_words: list[str] = []
    for s in sents[::7]:
        ans_words.extend(s.split())
        if len(ans_words) >= 200:
            break
    answer = " ".join(ans_words[:200])
    runs: dict[str, tuple[list[float], list[float]]] = {
        "cold": ([], []),
        "cold, sentence caches cleared": ([], []),
        "warm": ([], []),
    }

    def timed(name: str) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        F.check_faithfulness(answer, context)
        runs[name][0].append((time.perf_counter() - t0) * 1000)
        runs[name][1].append((time.process_time() - c0) * 1000)

    sentence_caches = [
        f for f in (getattr(F, "_negated_words", None), getattr(F, "_cue_pairs", None)) if f
    ]
    for _ in range(repeats):
        F._prepare_cached.cache_clear()
        timed("cold")
        timed("warm")
        F._prepare_cached.cache_clear()
        for f in sentence_caches:
            f.cache_clear()
        timed("cold, sentence caches cleared")
    n_claims = len(F.split_claims(answer))
    print(
        f"timing: answer {len(answer.split())} words ({n_claims} claims), context "
        f"{len(context.split())} words ({len(sents)} sentences), {repeats} runs each"
    )
    labels = {
        "cold": "cold (context indexed in the call)",
        "cold, sentence caches cleared": "cold, per-sentence caches cleared too",
        "warm": "warm (context cached)",
    }
    for name, (ms, cpu) in runs.items():
        print(
            f"  {labels[name]:<38} wall median {statistics.median(ms):6.2f} ms, p95 {pct(ms, 0.95):6.2f}"
            f", min {min(ms):6.2f}; CPU median {statistics.median(cpu):6.2f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", help=f"JSONL file (default: {DEFAULT_PATH})")
    ap.add_argument("--threshold", type=float, default=F.DEFAULT_THRESHOLD)
    ap.add_argument("--sweep", action="store_true", help="metrics over a grid of thresholds")
    ap.add_argument("--split", action="store_true", help="tune on half the contexts, report on the other")
    ap.add_argument("--timing", action="store_true", help="200-word answer on a 2,000-word context")
    ap.add_argument("--ablate", action="store_true", help="turn each part of the checker off in turn")
    args = ap.parse_args(argv)

    path = Path(args.path) if args.path else DEFAULT_PATH
    if not path.exists():
        if args.path:
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
        print(f"no data: {path} does not exist; nothing to benchmark (pass a JSONL path)")
        return 0
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = time.perf_counter()
    rows = [Scored(r, args.threshold) for r in raw]
    elapsed = time.perf_counter() - t0
    print(f"{path}: {len(rows)} rows, checked in {elapsed:.1f} s (each row twice)\n")
    report(rows, args.threshold)
    if args.sweep:
        print()
        sweep(rows)
    if args.split:
        print()
        split_check(rows)
    if args.ablate:
        print()
        ablate(raw, args.threshold)
    if args.timing:
        print()
        timing(raw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
