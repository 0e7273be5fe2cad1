"""The guard's judgement on given numbers."""

import pytest

from webapp.canary.rules import Thresholds, evaluate, guardrail_alpha
from webapp.experiments.analysis import CORRECT_SHARE, ERROR_RATE, FEEDBACK_RATE
from webapp.experiments.selectors import ArmResult, MetricResult, VariantStats
from webapp.experiments.statistics import compare, sequential_interval

LIMITS = Thresholds(max_error_rate_increase=0.02, max_p95_latency_ms=300.0, min_sample_size=50)


def stats(predictions=100, failures=0, p95=100.0, feedback=0, correct=0) -> VariantStats:
    requests = predictions + failures
    return VariantStats(
        visitors=requests,
        predictions=predictions,
        failures=failures,
        error_rate=failures / requests if requests else None,
        feedback=feedback,
        correct=correct,
        correct_rate=correct / feedback if feedback else None,
        mean_latency_ms=p95 / 2 if predictions else None,
        p95_latency_ms=p95 if predictions else None,
    )


def test_b_like_a_is_healthy():
    verdict = evaluate(stats(), stats(), LIMITS)
    assert verdict.outcome == "healthy"
    assert verdict.breaches == []


def test_below_the_minimum_sample_nothing_is_judged():
    assert evaluate(stats(), stats(predictions=30, failures=19), LIMITS).outcome == (
        "insufficient_data"
    )
    assert evaluate(stats(predictions=49), stats(), LIMITS).outcome == "insufficient_data"


def test_a_b_that_fails_every_request_still_counts_as_a_sample():
    verdict = evaluate(stats(), stats(predictions=0, failures=60), LIMITS)
    assert verdict.outcome == "breach"
    assert verdict.breaches == ["error rate of B 100.0% vs A 0.0% (+100.0 points, at most +2.0)"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (stats(failures=1), stats(failures=3), "healthy"),  # +1.9 points
        (stats(failures=1), stats(failures=4), "breach"),  # +2.9 points
        (stats(p95=900), stats(p95=300), "healthy"),  # only B's latency counts
        (stats(), stats(p95=301), "breach"),
    ],
)
def test_error_rate_and_latency_limits(a, b, expected):
    assert evaluate(a, b, LIMITS).outcome == expected


def test_latency_breach_reports_the_numbers():
    verdict = evaluate(stats(p95=120), stats(p95=850), LIMITS)
    assert verdict.breaches == ["p95 latency of B 850 ms (at most 300 ms; A 120 ms)"]


def result(metric, difference, se, visitors=1000) -> MetricResult:
    """A metric whose B - A is ``difference`` with standard error ``se``."""
    arm = ArmResult(visitors // 2, 1.0, 2.0, 0.5, se * se / 2)
    comparison = compare(0.5, se * se / 2, 0.5 + difference, se * se / 2, visitors)
    return MetricResult(metric, {"A": arm, "B": arm}, comparison, "sequential", None, None, None)


def test_guardrails_roll_back_only_when_worse_with_confidence_bonferroni_split():
    alpha = guardrail_alpha()
    assert alpha == pytest.approx(0.05 / 3)  # three guardrails share the 5%
    # Sequential half-width at alpha / 3 with 1000 visitors, in units of the SE.
    half = sequential_interval(0.0, 1.0, 1000, alpha).high
    worse = result(CORRECT_SHARE, -(half + 0.1) * 0.01, 0.01)
    within = result(CORRECT_SHARE, -(half - 0.1) * 0.01, 0.01)
    better = result(CORRECT_SHARE, (half + 0.1) * 0.01, 0.01)
    assert evaluate(stats(), stats(), LIMITS, [within, better]).outcome == "healthy"
    verdict = evaluate(stats(), stats(), LIMITS, [worse])
    assert verdict.outcome == "breach"
    assert verdict.breaches[0].startswith("correct share of B worse than A with confidence")
    # Lower is better for the error rate: a higher B is the breach.
    assert evaluate(stats(), stats(), LIMITS, [result(ERROR_RATE, 0.05, 0.01)]).breaches
    assert not evaluate(stats(), stats(), LIMITS, [result(ERROR_RATE, -0.05, 0.01)]).breaches
    # The primary metric never rolls back.
    assert not evaluate(stats(), stats(), LIMITS, [result(FEEDBACK_RATE, -0.5, 0.01)]).breaches


def test_every_breach_is_listed():
    verdict = evaluate(stats(), stats(failures=20, p95=1000), LIMITS)
    assert verdict.outcome == "breach"
    assert len(verdict.breaches) == 2
