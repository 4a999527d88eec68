"""The statistics behind noise-aware verdicts (``pytest_llmops.stats``): the t distribution, Welch's
interval, the seeded bootstrap and the paired interval, checked against published / scipy values and
with Hypothesis properties; and the verdicts ``compare_score`` builds from them."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_llmops import stats
from pytest_llmops.baseline import BaselineError, Entry, Tolerance, compare_score, parse
from pytest_llmops.scores import Score

# Reference values computed with scipy 1.17 (scipy.stats.t, ttest_ind(equal_var=False), ttest_rel,
# scipy.special.betainc); the plugin itself does not use scipy.
T_PPF = [(0.975, 1, 12.706204736174694), (0.975, 2, 4.302652729749462), (0.975, 10, 2.228138851986274),
         (0.975, 30, 2.0422724563012378), (0.995, 4.5, 4.272823993011293), (0.9, 7.6999, 1.4017126356537593),
         (0.975, 1000, 1.9623390808264083)]
T_CDF = [(2.0, 3, 0.9303370157205785), (-1.5, 7.7, 0.08672618117048352), (0.3, 1, 0.5927735790777423),
         (4.0, 24.99, 0.9997521300505888)]
BETAINC = [(2, 3, 0.4, 0.5248), (0.5, 0.5, 0.3, 0.36901011956554536), (5, 0.5, 0.9, 0.3166429150200122),
           (30, 2, 0.95, 0.5365969098573434)]
# Welch's t-test, example 1 of the Wikipedia article (Welch 1947 data as used there): t = 2.46, df 25.0, p 0.021.
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
NOISY_OLD = [0.7, 0.9, 0.8, 0.6, 1.0]
NOISY_NEW = [0.6, 0.9, 0.7, 0.65, 0.85]
STEADY_OLD = [0.8, 0.82, 0.79, 0.81, 0.8]
DROPPED_NEW = [0.6, 0.62, 0.58, 0.61, 0.6]

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
scores = st.floats(min_value=0, max_value=1, allow_nan=False)


# -- the t distribution ----------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "df", "expected"), T_PPF)
def test_t_quantiles_match_scipy(q, df, expected):
    assert stats.t_ppf(q, df) == pytest.approx(expected, rel=1e-10)
    assert stats.t_ppf(1 - q, df) == pytest.approx(-expected, rel=1e-10)


@pytest.mark.parametrize(("t", "df", "expected"), T_CDF)
def test_t_cdf_matches_scipy(t, df, expected):
    assert stats.t_cdf(t, df) == pytest.approx(expected, abs=1e-13)


@pytest.mark.parametrize(("a", "b", "x", "expected"), BETAINC)
def test_incomplete_beta_matches_scipy(a, b, x, expected):
    assert stats.betainc(a, b, x) == pytest.approx(expected, abs=1e-14)


def test_t_with_huge_df_is_the_normal_distribution():
    normal = statistics.NormalDist()
    assert stats.t_ppf(0.975, 1e9) == pytest.approx(normal.inv_cdf(0.975), abs=1e-9)
    assert stats.t_cdf(1.5, 1e6) == pytest.approx(normal.cdf(1.5), abs=1e-6)


def _t_pdf(x: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))


@pytest.mark.parametrize("df", [1.0, 2.5, 9.0, 40.0])
def test_t_cdf_agrees_with_integrating_the_density(df):
    """An independent check: Simpson's rule on the density from 0 to t, plus 1/2."""
    for t in (0.25, 1.0, 2.5):
        steps = 2000
        h = t / steps
        total = _t_pdf(0, df) + _t_pdf(t, df) + sum((4 if i % 2 else 2) * _t_pdf(i * h, df) for i in range(1, steps))
        assert stats.t_cdf(t, df) == pytest.approx(0.5 + total * h / 3, abs=1e-10)


@settings(max_examples=150, deadline=None)
@given(q=st.floats(min_value=1e-6, max_value=1 - 1e-6), df=st.floats(min_value=0.5, max_value=1e5))
def test_t_ppf_inverts_t_cdf(q, df):
    assert stats.t_cdf(stats.t_ppf(q, df), df) == pytest.approx(q, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(t=st.floats(min_value=-50, max_value=50), u=st.floats(min_value=-50, max_value=50),
       df=st.floats(min_value=0.5, max_value=500))
def test_t_cdf_is_monotone_and_symmetric(t, u, df):
    low, high = sorted((t, u))
    assert stats.t_cdf(low, df) <= stats.t_cdf(high, df) + 1e-15
    assert stats.t_cdf(t, df) + stats.t_cdf(-t, df) == pytest.approx(1.0, abs=1e-12)


# -- Welch -----------------------------------------------------------------------------------------
def test_welch_matches_the_published_example_and_scipy():
    interval = stats.welch(A1, A2)
    assert interval.estimate == pytest.approx(2.1666666666666667, rel=1e-12)
    assert interval.df == pytest.approx(24.988529290231416, rel=1e-10)
    assert interval.p_value == pytest.approx(0.021378001462866992, rel=1e-9)
    assert (interval.low, interval.high) == pytest.approx((0.3492370661924069, 3.984096267140929), rel=1e-9)
    assert interval.excludes_zero
    assert interval.describe() == "95% CI [+0.3492, +3.9841]"
    assert interval.method_text() == "welch t, df 24.9885, p 0.0214"


def test_welch_on_noisy_scores_and_on_a_real_drop():
    noisy = stats.welch(NOISY_OLD, NOISY_NEW)
    assert noisy.estimate == pytest.approx(-0.06)
    assert (noisy.low, noisy.high) == pytest.approx((-0.2721596526123776, 0.15215965261237754), rel=1e-9)
    assert noisy.p_value == pytest.approx(0.5305618100367078, rel=1e-9)
    assert noisy.df == pytest.approx(7.699358133756643, rel=1e-10)
    assert not noisy.excludes_zero
    drop = stats.welch(STEADY_OLD, DROPPED_NEW)
    assert (drop.low, drop.high) == pytest.approx((-0.22151774463011717, -0.18248225536988297), rel=1e-9)
    assert drop.p_value == pytest.approx(2.1822032971300806e-08, rel=1e-6)
    assert drop.excludes_zero


def test_welch_with_no_spread_knows_the_change_exactly():
    same = stats.welch([1.0, 1.0, 1.0], [1.0, 1.0])
    assert (same.estimate, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    drop = stats.welch([1.0, 1.0], [0.5, 0.5, 0.5])
    assert (drop.low, drop.high, drop.p_value) == (-0.5, -0.5, 0.0)
    # One side with no spread: the other's variance alone, with its n - 1 degrees of freedom.
    one = stats.welch([0.5, 0.5, 0.5], [0.4, 0.6, 0.5, 0.5])
    assert one.df == pytest.approx(3.0)


@settings(max_examples=100, deadline=None)
@given(old=st.lists(finite, min_size=2, max_size=20), new=st.lists(finite, min_size=2, max_size=20),
       shift=st.floats(min_value=-100, max_value=100), scale=st.floats(min_value=0.01, max_value=100))
def test_welch_moves_with_a_shift_and_scales_with_the_data(old, new, shift, scale):
    base = stats.welch(old, new)
    shifted = stats.welch(old, [x + shift for x in new])
    assert shifted.estimate == pytest.approx(base.estimate + shift, abs=1e-6)
    assert shifted.high - shifted.low == pytest.approx(base.high - base.low, rel=1e-6, abs=1e-6)
    scaled = stats.welch([x * scale for x in old], [x * scale for x in new])
    assert scaled.high - scaled.low == pytest.approx((base.high - base.low) * scale, rel=1e-6, abs=1e-6)
    assert base.low <= base.estimate <= base.high


def test_summaries_match_the_statistics_module():
    summary = stats.summarize(A1)
    assert summary.n == 15
    assert summary.mean == pytest.approx(statistics.fmean(A1))
    assert summary.sd == pytest.approx(statistics.stdev(A1))
    assert stats.summarize([0.4]) == stats.Summary(1, 0.4, 0.0)


# -- bootstrap -------------------------------------------------------------------------------------
def test_the_bootstrap_is_seeded_so_the_same_samples_give_the_same_interval():
    first = stats.bootstrap(NOISY_OLD, NOISY_NEW, resamples=2000, seed=7)
    assert stats.bootstrap(NOISY_OLD, NOISY_NEW, resamples=2000, seed=7) == first
    assert first.method_text().startswith("bootstrap, 2000 resamples, seed 7, p ")
    assert stats.bootstrap(NOISY_OLD, NOISY_NEW, resamples=2000, seed=8) != first
    assert not first.excludes_zero
    assert stats.bootstrap(STEADY_OLD, DROPPED_NEW).excludes_zero


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.lists(scores, min_size=2, max_size=12), new=st.lists(scores, min_size=2, max_size=12),
       seed=st.integers(0, 2**32))
def test_the_bootstrap_is_deterministic_for_any_samples_and_seed(old, new, seed):
    once = stats.bootstrap(old, new, resamples=200, seed=seed)
    assert stats.bootstrap(old, new, resamples=200, seed=seed) == once
    assert once.low <= once.high


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), shift=st.floats(min_value=-0.3, max_value=0.3), sd=st.floats(0.05, 0.3))
def test_for_a_large_sample_the_bootstrap_interval_contains_the_true_shift(seed, shift, sd):
    """200 samples a side from known distributions: the 99% interval holds the true mean shift and is
    about as wide as Welch's (both are normal in the limit). Derandomized: the same examples every run."""
    rng = random.Random(seed)
    old = [rng.gauss(0.6, sd) for _ in range(200)]
    new = [rng.gauss(0.6 + shift, sd) for _ in range(200)]
    boot = stats.bootstrap(old, new, alpha=0.01, resamples=2000, seed=seed)
    assert boot.low <= shift <= boot.high
    welch = stats.welch(old, new, alpha=0.01)
    assert boot.high - boot.low == pytest.approx(welch.high - welch.low, rel=0.15)


@settings(max_examples=40, deadline=None)
@given(old=st.lists(scores, min_size=30, max_size=60), shift=st.floats(min_value=-0.5, max_value=0.5),
       data=st.data())
def test_a_pure_shift_of_the_same_scores_is_inside_both_intervals(old, shift, data):
    new = data.draw(st.permutations([x + shift for x in old]))
    for interval in (stats.bootstrap(old, new, resamples=500), stats.welch(old, new)):
        assert interval.estimate == pytest.approx(shift, abs=1e-9)
        assert interval.low - 1e-9 <= shift <= interval.high + 1e-9


# -- paired ----------------------------------------------------------------------------------------
def test_paired_t_matches_scipy_ttest_rel():
    interval = stats.paired([0.8, 0.7, 0.9, 0.6], [0.78, 0.66, 0.88, 0.55])
    assert interval.method == "paired t"
    assert interval.estimate == pytest.approx(-0.0325)
    assert (interval.low, interval.high) == pytest.approx((-0.05636834728962771, -0.00863165271037224), rel=1e-9)
    assert interval.p_value == pytest.approx(0.022669039489701368, rel=1e-9)
    assert interval.df == 3.0


@settings(max_examples=60, deadline=None)
@given(old=st.lists(scores, min_size=2, max_size=30), change=st.floats(min_value=-0.5, max_value=0.5))
@example(old=[0.5, 0.5], change=0.0)
def test_paired_with_the_same_change_everywhere_has_no_spread(old, change):
    for method in stats.METHODS:
        interval = stats.paired(old, [x + change for x in old], method=method, resamples=200)
        assert interval.estimate == pytest.approx(change, abs=1e-9)
        assert interval.low == pytest.approx(change, abs=1e-9) and interval.high == pytest.approx(change, abs=1e-9)


def test_pairing_sees_a_small_change_that_independent_samples_cannot():
    """Cases of very different difficulty, each 0.03 worse: pairing removes the case-to-case spread."""
    old = [0.2, 0.9, 0.5, 0.7, 0.35, 0.8, 0.6, 0.45]
    new = [x - 0.03 + (0.004 if i % 2 else -0.004) for i, x in enumerate(old)]
    assert stats.paired(old, new).high < 0
    assert not stats.welch(old, new).excludes_zero


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "message"), [
    (lambda: stats.welch([1.0], [1.0, 2.0]), "welch: needs at least 2 samples per side, got 1 old and 2 new"),
    (lambda: stats.welch([1.0, math.nan], [1.0, 2.0]), "welch: old: every sample must be a finite number, got nan"),
    (lambda: stats.bootstrap([1.0, 2.0], [1.0, math.inf]), "bootstrap: new: every sample must be a finite number, got inf"),
    (lambda: stats.bootstrap([1.0, 2.0], [1.0, 2.0], resamples=10), "resamples must be a whole number >= 100, got 10"),
    (lambda: stats.welch([1.0, 2.0], [1.0, 2.0], alpha=1.5),
     "alpha must be a number strictly between 0 and 1 (e.g. 0.05), got 1.5"),
    (lambda: stats.paired([1.0, 2.0], [1.0]), "paired: needs as many old as new values, got 2 and 1"),
    (lambda: stats.paired([1.0], [1.0]), "paired: needs at least 2 pairs, got 1"),
    (lambda: stats.summarize([]), "summarize: no samples"),
    (lambda: stats.t_ppf(1.0, 3), "t_ppf: q must be strictly between 0 and 1, got 1.0"),
    (lambda: stats.t_cdf(1.0, 0), "degrees of freedom must be a number > 0, got df=0"),
    (lambda: stats.StatSettings.from_ini("ttest"), "llm_stat_method must be one of welch, bootstrap, got 'ttest'"),
    (lambda: stats.StatSettings.from_ini("welch", "5%"), "llm_alpha must be a number strictly between 0 and 1 (e.g. 0.05), got '5%'"),
    (lambda: stats.StatSettings.from_ini("bootstrap", "", "50"), "llm_bootstrap_resamples must be a whole number >= 100, got '50'"),
    (lambda: stats.StatSettings.from_ini("bootstrap", "", "", "x"), "llm_bootstrap_seed must be a whole number, got 'x'"),
])
def test_bad_input_is_an_error_that_says_what(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_settings_from_ini_defaults_and_values():
    assert stats.StatSettings.from_ini("", "", "", "") == stats.StatSettings("welch", 0.05, 2000, 0)
    assert stats.StatSettings.from_ini(" Bootstrap ", "0.01", "5000", "42") == stats.StatSettings("bootstrap", 0.01, 5000, 42)


# -- verdicts (compare_score) ----------------------------------------------------------------------
TOL = Tolerance(0.05, "llm_tolerance")


def _score(value, samples=(), unscored=0):
    return Score(metric="quality", value=value, samples=tuple(samples), test="t.py::test_q", unscored_samples=unscored)


def _entry(samples):
    return Entry(value=round(statistics.fmean(samples), 6), samples=tuple(samples) if len(samples) > 1 else ())


def test_a_noisy_drop_beyond_tolerance_is_within_noise_and_a_real_one_regressed():
    noisy = compare_score(_entry(NOISY_OLD), _score(0.74, NOISY_NEW), "quality", TOL)
    assert noisy.status == "noise" and noisy.method == "welch"
    assert noisy.delta == pytest.approx(-0.06)
    assert noisy.interval_text() == "95% CI [-0.2722, +0.1522] (welch t, n 5 vs 5)"
    real = compare_score(_entry(STEADY_OLD), _score(0.602, DROPPED_NEW), "quality", TOL)
    assert real.status == "regressed"
    assert real.message().splitlines() == [
        "quality regressed: mean 0.602 < 0.754 (baseline mean 0.804 - tolerance 0.05), and unlikely to be noise",
        "  baseline  0.804 (5 samples, sd 0.0114)",
        "  this run  0.602 (5 samples, sd 0.0148)",
        "  change    -0.202  95% CI [-0.2215, -0.1825]  (welch t, df 7.5038, p < 0.0001; alpha 0.05)",
        "  tolerance 0.05 from llm_tolerance",
    ]
    # Beyond tolerance upwards: improved only when the interval leaves out 0.
    assert compare_score(_entry(DROPPED_NEW), _score(0.804, STEADY_OLD), "quality", TOL).status == "improved"
    assert compare_score(_entry(NOISY_NEW), _score(0.8, NOISY_OLD), "quality", TOL).status == "noise"
    # Within tolerance: unchanged, even when significant.
    tight = compare_score(_entry([0.80, 0.8001, 0.7999]), _score(0.78, [0.78, 0.7801, 0.7799]), "quality", TOL)
    assert tight.status == "unchanged" and tight.stats is not None and tight.stats.excludes_zero


def test_with_one_sample_on_a_side_the_plain_tolerance_decides_and_says_so():
    both = compare_score(Entry(0.8), _score(0.74, [0.74]), "quality", TOL)
    assert (both.status, both.stats, both.method) == ("regressed", None, "tolerance")
    assert both.message().splitlines()[-1] == (
        "  noise     not estimated (one sample per side): the plain tolerance decided; repeat the test for "
        "samples: --llm-repeat N")
    older_file = compare_score(Entry(0.8), _score(0.74, NOISY_NEW), "quality", TOL)
    assert older_file.status == "regressed"
    assert older_file.note == ("not estimated: the baseline holds one value, so the plain tolerance decided on this "
                               "run's score; accept this run to keep its 5 samples")
    fewer = compare_score(_entry(NOISY_OLD), _score(0.79, [0.79]), "quality", TOL)
    assert fewer.status == "unchanged" and "against the baseline's 5" in fewer.note


def test_the_bootstrap_method_is_chosen_by_the_settings():
    verdict = compare_score(_entry(STEADY_OLD), _score(0.602, DROPPED_NEW), "quality", TOL,
                            stats.StatSettings("bootstrap", 0.05, 1000, 3))
    assert verdict.status == "regressed"
    assert verdict.stats.method == "bootstrap" and verdict.stats.seed == 3 and verdict.stats.resamples == 1000


def test_unscored_never_compared_and_unscored_samples_carried():
    assert compare_score(_entry(NOISY_OLD), _score(None, (), 3), "quality", TOL).status == "unscored"
    partly = compare_score(_entry(NOISY_OLD), _score(0.8, NOISY_OLD, 2), "quality", TOL)
    assert partly.unscored_samples == 2 and partly.status == "unchanged"


@settings(max_examples=80, deadline=None)
@given(old=st.lists(scores, min_size=2, max_size=10), new=st.lists(scores, min_size=2, max_size=10))
def test_a_verdict_survives_the_trip_to_the_xdist_controller(old, new):
    from pytest_llmops.baseline import Verdict

    verdict = compare_score(_entry(old), _score(statistics.fmean(new), new), "quality", TOL)
    assert Verdict.from_json(verdict.to_json()) == verdict


# -- the file's summaries --------------------------------------------------------------------------
def test_entries_keep_n_mean_sd_and_samples_and_they_must_agree():
    entry = Entry(value=0.8, samples=(0.7, 0.9, 0.8))
    assert entry.to_json() == {"value": 0.8, "n": 3, "mean": 0.8, "sd": 0.1, "samples": [0.7, 0.9, 0.8]}
    line = '{"version": 1, "scores": {"t.py::test_q": {"quality": %s}}}'
    assert parse(line % '{"value": 0.8, "n": 3, "mean": 0.8, "sd": 0.1, "samples": [0.7, 0.9, 0.8]}', "b.json")
    for body, problem in [
        ('{"value": 0.8, "n": 4, "samples": [0.7, 0.9, 0.8]}', '"n" is 4 but "samples" holds 3 value(s); n counts the samples'),
        ('{"value": 0.8, "mean": 0.85, "samples": [0.7, 0.9, 0.8]}', '"mean" is 0.85 but its samples give 0.8; mean summarises the samples'),
        ('{"value": 0.8, "sd": 0.5, "samples": [0.7, 0.9, 0.8]}', '"sd" is 0.5 but its samples give 0.1; sd summarises the samples'),
        ('{"value": 0.8, "samples": [0.7, NaN]}', '"samples" must be a list of finite numbers, got [0.7, NaN]'),
    ]:
        with pytest.raises(BaselineError) as info:
            parse(line % body, "b.json")
        assert f"line 1: t.py::test_q quality: {problem}." in str(info.value)


# -- datasets (pytest_llmops.datasets) -----------------------------------------------------------------
def test_dataset_changes_pair_the_cases_and_say_what_they_cannot_compare():
    from pytest_llmops.datasets import dataset_changes, split_case, summary_lines

    def verdict(case, old, new, status="unchanged", test="t.py::test_x"):
        return compare_score(Entry(old) if old is not None else None,
                             Score(metric="m", value=new, samples=(new,) if new is not None else (),
                                   test=f"{test}[{case}]"), "m", TOL)

    assert split_case("t.py::TestA::test_x[a-b[1]]") == ("t.py::TestA::test_x", "a-b[1]")
    assert split_case("t.py::test_x") is None
    verdicts = [verdict("a", 0.5, 0.5), verdict("b", 0.7, 0.7), verdict("c", None, 0.2),   # exactly as before
                verdict("a", 0.5, 0.45, test="t.py::test_y"), verdict("b", 0.9, None, test="t.py::test_y"),
                verdict("only", 0.5, 0.5, test="t.py::test_single")]
    same, partial = dataset_changes(verdicts)
    assert (same.test, same.cases, same.paired, same.new, same.direction) == ("t.py::test_x", 3, 2, 1, "unchanged")
    assert (partial.cases, partial.paired, partial.unscored, partial.interval) == (2, 1, 1, None)
    assert partial.change == pytest.approx(-0.05)
    assert [line for line, _ in summary_lines([same, partial])] == [
        "paired over the cases of each parametrized test: mean score old -> new, change and its interval",
        "(no model):",
        "  t.py::test_y  m  2 cases (1 paired, 1 unscored)  0.5 -> 0.45  -0.05  no interval: needs 2 cases scored in "
        "the baseline and in this run",
        "2 datasets: 1 without an interval, 1 unchanged",
    ]
    assert len(summary_lines([same, partial], verbose=True)) == 5
