"""Metrics at the visitor level: the delta method, the sequential and fixed intervals, the
quantile and the planning figures, each against an independent numpy/scipy/statsmodels
computation."""

import math

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower

from tests.webapp.reviews.factories import (
    FailedPredictionFactory,
    FeedbackFactory,
    PredictionFactory,
)
from webapp.experiments.analysis import METRICS, PRIMARY
from webapp.experiments.models import Decision, Experiment
from webapp.experiments.selectors import metric_results, primary_over_time
from webapp.experiments.statistics import (
    RatioSums,
    compare,
    fixed_interval,
    minimum_detectable_effect,
    ratio_variance,
    sequential_interval,
    visitors_needed,
)
from webapp.reviews.models import Feedback, Prediction


def visitor(
    experiment: Experiment,
    variant: str,
    name: str,
    predictions: int,
    feedback: int,
    correct: int = 0,
    failures: int = 0,
    latencies=None,
) -> None:
    """One visitor's requests: ``feedback`` of the ``predictions`` got an answer, ``correct``
    of those said correct."""
    latencies = latencies or [10.0] * predictions
    rows = Prediction.objects.bulk_create(
        PredictionFactory.build(
            experiment=experiment.name, variant=variant, visitor_id=name, latency_ms=latency
        )
        for latency in latencies
    )
    Feedback.objects.bulk_create(
        FeedbackFactory.build(prediction=row, correct=i < correct)
        for i, row in enumerate(rows[:feedback])
    )
    FailedPredictionFactory.create_bulk(
        failures, experiment=experiment.name, variant=variant, visitor_id=name
    )


def delta_variance_numpy(x, y) -> float:
    """Independent of the SQL sums: the linearisation x_i - R y_i over per-visitor arrays."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    r = x.sum() / y.sum()
    return np.var(x - r * y, ddof=1) / (len(x) * y.mean() ** 2)


def sums(x, y) -> RatioSums:
    x, y = np.asarray(x, float), np.asarray(y, float)
    return RatioSums(len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())


def result(experiment, key):
    return next(r for r in metric_results(experiment) if r.metric.key == key)


# --- the formulas ---------------------------------------------------------------------------


def test_delta_method_matches_the_linearisation():
    rng = np.random.default_rng(1)
    y = rng.poisson(4, 200) + 1
    x = rng.binomial(y, 0.3)
    assert ratio_variance(sums(x, y)) == pytest.approx(delta_variance_numpy(x, y), rel=1e-9)
    assert ratio_variance(sums([1], [2])) is None  # one visitor has no variance


def test_with_one_event_per_visitor_the_delta_method_is_the_binomial_variance():
    x = np.r_[np.ones(30), np.zeros(70)]
    p = 0.3
    assert ratio_variance(sums(x, np.ones(100))) == pytest.approx(p * (1 - p) / 99)


def test_fixed_interval_is_the_z_test():
    interval = fixed_interval(0.05, 0.02**2)
    assert interval.p_value == pytest.approx(2 * norm.sf(2.5))
    assert (interval.low, interval.high) == pytest.approx(
        (0.05 - norm.ppf(0.975) * 0.02, 0.05 + norm.ppf(0.975) * 0.02)
    )


def test_sequential_interval_by_hand_and_its_p_value_inverts_it():
    # Howard et al. normal mixture with rho^2 tuned for 5000 visitors, at 2000 visitors.
    d, v, n, alpha = 0.05, 0.02**2, 2000, 0.05
    rho2 = (-2 * np.log(alpha) + np.log(1 - 2 * np.log(alpha))) / 5000
    t = n * rho2
    half = np.sqrt(v * 2 * (t + 1) / t * np.log(np.sqrt(t + 1) / alpha))
    interval = sequential_interval(d, v, n)
    assert (interval.low, interval.high) == pytest.approx((d - half, d + half))
    assert half > norm.ppf(0.975) * 0.02  # wider than the fixed interval: the price of peeking
    # At alpha = p the interval just touches zero.
    at_p = sequential_interval(d, v, n, alpha=interval.p_value)
    assert at_p.low == pytest.approx(0.0, abs=1e-12)
    assert sequential_interval(0.0, v, n).p_value == 1.0


def test_planning_matches_statsmodels():
    # Equal per-visitor standard deviation in both arms, 1000 A and 250 B visitors.
    sigma, n_a, n_b = 0.45, 1000, 250
    variance = sigma**2 / n_a + sigma**2 / n_b
    mde = minimum_detectable_effect(variance)
    power = NormalIndPower().power(mde / sigma, nobs1=n_a, alpha=0.05, ratio=n_b / n_a)
    assert power == pytest.approx(0.80, abs=1e-3)  # statsmodels adds the far tail
    effect = 0.03
    n_a_needed = NormalIndPower().solve_power(effect / sigma, alpha=0.05, power=0.8, ratio=0.25)
    needed = visitors_needed(variance, n_a + n_b, effect)
    assert needed == pytest.approx(n_a_needed * 1.25, rel=1e-3)


def test_compare_adds_the_arms_variances():
    comparison = compare(0.4, 0.001, 0.45, 0.002, 600)
    assert comparison.difference == pytest.approx(0.05)
    assert comparison.variance == pytest.approx(0.003)
    assert comparison.sequential.low < comparison.fixed.low < 0.05


# --- from stored rows -----------------------------------------------------------------------

# Three heavy visitors per arm: one gives feedback on almost everything, the others rarely.
CLUSTERED = {
    "A": [(40, 36, 30), (40, 4, 3), (40, 8, 6)],  # (predictions, feedback, correct)
    "B": [(40, 38, 20), (40, 30, 25), (40, 6, 1)],
}


@pytest.fixture
def clustered(experiment) -> Experiment:
    for variant, visitors in CLUSTERED.items():
        for i, (n, f, c) in enumerate(visitors):
            visitor(experiment, variant, f"{variant}-{i}", n, f, c, failures=i)
    return experiment


def test_clustered_visitors_widen_the_interval_as_the_delta_method_says(clustered):
    rate = result(clustered, "feedback_rate")
    expected = {}
    for variant, visitors in CLUSTERED.items():
        n, f, _ = np.array(visitors).T
        arm = rate.arms[variant]
        assert (arm.visitors, arm.numerator, arm.denominator) == (3, f.sum(), n.sum())
        assert arm.estimate == pytest.approx(f.sum() / n.sum())
        expected[variant] = delta_variance_numpy(f, n)
        assert arm.variance == pytest.approx(expected[variant], rel=1e-9)
        # Counting events as independent trials would understate the variance many times.
        p = f.sum() / n.sum()
        assert arm.variance > 10 * p * (1 - p) / n.sum()
    se = math.sqrt(expected["A"] + expected["B"])
    difference = rate.arms["B"].estimate - rate.arms["A"].estimate
    assert rate.comparison.difference == pytest.approx(difference)
    assert rate.comparison.fixed.high - rate.comparison.fixed.low == pytest.approx(
        2 * norm.ppf(0.975) * se
    )
    assert rate.comparison.fixed.p_value == pytest.approx(2 * norm.sf(abs(difference) / se))
    # B gets much more feedback on events, yet with three visitors nothing is certain.
    assert rate.verdict == "unclear"


def test_correct_share_and_error_rate_are_per_visitor_ratios(clustered):
    share = result(clustered, "correct_share")
    errors = result(clustered, "error_rate")
    for variant, visitors in CLUSTERED.items():
        n, f, c = np.array(visitors).T
        assert share.arms[variant].variance == pytest.approx(delta_variance_numpy(c, f))
        failed = np.arange(3)
        assert errors.arms[variant].numerator == failed.sum()
        assert errors.arms[variant].variance == pytest.approx(
            delta_variance_numpy(failed, n + failed)
        )


def test_unclustered_data_gives_the_binomial_interval(experiment):
    for i in range(200):
        visitor(experiment, "A", f"a{i}", 1, int(i < 80))
        visitor(experiment, "B", f"b{i}", 1, int(i < 140))
    rate = result(experiment, "feedback_rate")
    assert rate.arms["A"].variance == pytest.approx(0.4 * 0.6 / 199)
    assert rate.comparison.difference == pytest.approx(0.3)
    assert rate.verdict == "better"  # 40% against 70% of 200 visitors each
    assert rate.decides == Decision.SEQUENTIAL
    assert rate.comparison.sequential.p_value > rate.comparison.fixed.p_value


def test_p95_latency_interval_follows_the_visitors(experiment):
    rng = np.random.default_rng(7)
    latencies = {}
    for variant, scale in (("A", 50.0), ("B", 80.0)):
        for i in range(30):
            values = list(np.round(rng.exponential(scale, 8) + i, 3))
            latencies[(variant, i)] = values
            visitor(experiment, variant, f"{variant}{i}", 8, 0, latencies=values)
    p95 = result(experiment, "p95_latency")
    for variant in "AB":
        events = np.sort(np.concatenate([v for (arm, _), v in latencies.items() if arm == variant]))
        estimate = events[math.ceil(0.95 * len(events)) - 1]
        arm = p95.arms[variant]
        assert arm.estimate == pytest.approx(estimate)
        # Independent: the share of events at or below the estimate, per visitor.
        below = [np.sum(np.array(v) <= estimate) for (a, _), v in latencies.items() if a == variant]
        se = math.sqrt(delta_variance_numpy(below, [8] * 30))
        z = norm.ppf(0.975)
        low = events[max(math.ceil((0.95 - z * se) * len(events)) - 1, 0)]
        high = events[min(math.ceil((0.95 + z * se) * len(events)) - 1, len(events) - 1)]
        assert arm.variance == pytest.approx(((high - low) / (2 * z)) ** 2)
    assert p95.comparison.difference == pytest.approx(
        p95.arms["B"].estimate - p95.arms["A"].estimate
    )


def test_every_metric_is_reported_even_without_data(experiment):
    results = metric_results(experiment)
    assert [r.metric for r in results] == list(METRICS)
    assert all(r.comparison is None and r.verdict == "unclear" for r in results)
    assert results[0].metric == PRIMARY


def test_fixed_decision_is_an_experiment_setting(experiment):
    experiment.analysis_decision = Decision.FIXED
    for i in range(200):
        visitor(experiment, "A", f"a{i}", 1, int(i < 80))
        visitor(experiment, "B", f"b{i}", 1, int(i < 100))
    rate = result(experiment, "feedback_rate")
    assert rate.deciding == rate.comparison.fixed
    # 40% against 50%: the fixed interval excludes zero, the sequential one does not.
    assert rate.comparison.fixed.low > 0 > rate.comparison.sequential.low
    assert rate.verdict == "better"
    assert rate.mde is not None and rate.visitors_needed > 400


def test_the_series_over_time_ends_at_the_current_figures(clustered):
    series = primary_over_time(clustered)
    now = result(clustered, "feedback_rate").comparison
    assert series[-1].difference == pytest.approx(now.difference)
    assert (series[-1].sequential.low, series[-1].sequential.high) == pytest.approx(
        (now.sequential.low, now.sequential.high)
    )
