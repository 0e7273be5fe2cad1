"""The guard's judgement on given numbers."""

import pytest

from webapp.canary.rules import Thresholds, evaluate
from webapp.experiments.selectors import VariantStats

LIMITS = Thresholds(
    max_error_rate_increase=0.02,
    max_p95_latency_ms=300.0,
    max_correct_rate_drop=0.10,
    min_sample_size=50,
    min_feedback=20,
)


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


def test_correct_feedback_drop_needs_enough_feedback_on_both_sides():
    a = stats(feedback=40, correct=36)  # 90 %
    worse = stats(feedback=40, correct=28)  # 70 %
    assert evaluate(a, worse, LIMITS).breaches == [
        "correct feedback of B 70.0% vs A 90.0% (-20.0 points, at most -10.0)"
    ]
    assert evaluate(a, stats(feedback=40, correct=34), LIMITS).outcome == "healthy"
    few = stats(feedback=19, correct=5)
    assert evaluate(a, few, LIMITS).outcome == "healthy"


def test_every_breach_is_listed():
    verdict = evaluate(stats(), stats(failures=20, p95=1000), LIMITS)
    assert verdict.outcome == "breach"
    assert len(verdict.breaches) == 2
