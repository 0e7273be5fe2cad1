"""Per-variant statistics and the sample-ratio check, against numbers computed by hand
(the metrics' tests at the visitor level are in test_analysis.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from scipy.stats import chisquare

from tests.webapp.experiments.factories import AssignmentFactory
from tests.webapp.experiments.helpers import make_experiment
from tests.webapp.reviews.factories import (
    FailedPredictionFactory,
    FeedbackFactory,
    PredictionFactory,
)
from webapp.experiments import services
from webapp.experiments.models import Experiment, Source
from webapp.experiments.selectors import experiment_report, variant_stats
from webapp.experiments.statistics import nearest_rank, sample_ratio_check
from webapp.reviews.models import Feedback, Prediction


def predictions(experiment: Experiment, variant: str, latencies, feedback=()) -> list[Prediction]:
    """Predictions with the given latencies; ``feedback`` gives correct/wrong for the first."""
    rows = Prediction.objects.bulk_create(
        PredictionFactory.build(
            experiment=experiment.name, variant=variant, visitor_id="someone", latency_ms=latency
        )
        for latency in latencies
    )
    Feedback.objects.bulk_create(
        FeedbackFactory.build(prediction=row, correct=correct)
        for row, correct in zip(rows, feedback, strict=False)
    )
    return rows


def failures(experiment: Experiment, variant: str, n: int) -> None:
    FailedPredictionFactory.create_bulk(n, experiment=experiment.name, variant=variant)


def assignments(experiment, variant: str, n: int, *, weight=0.1, source="hash"):
    """``n`` visitors, each new, given ``variant`` at ``weight`` (recorded for hashing only)."""
    AssignmentFactory.create_bulk(
        n,
        experiment=experiment,
        variant=variant,
        source=source,
        weight=weight if source == Source.HASH else None,
    )


# --- the formulas ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected_b", "chi2"),
    [
        (800, 200, 200.0, 0.0),  # exactly as expected
        (790, 210, 200.0, 10**2 / 800 + 10**2 / 200),  # 0.625: chance
        (900, 100, 200.0, 100**2 / 800 + 100**2 / 200),  # 62.5: a mismatch
    ],
)
def test_sample_ratio_check_matches_chi_squared_by_hand(a, b, expected_b, chi2):
    check = sample_ratio_check(a, b, expected_b)
    assert check.chi2 == pytest.approx(chi2)
    assert check.p_value == pytest.approx(chisquare([a, b], [1000 - expected_b, expected_b]).pvalue)
    assert check.flagged == (check.p_value < 0.001)
    assert check.flagged == (chi2 > 10.83)  # the 0.001 critical value of chi-squared, 1 d.o.f.


def test_sample_ratio_check_degenerate_splits():
    assert sample_ratio_check(0, 0, 0.0) is None
    assert sample_ratio_check(10, 0, 0.0) is None  # weight 0: all A is the only outcome
    impossible = sample_ratio_check(9, 1, 0.0)
    assert impossible.flagged and impossible.p_value == 0.0


def test_nearest_rank():
    assert nearest_rank(20, 0.95) == 18  # the 19th of 20 sorted values
    assert nearest_rank(1, 0.95) == 0
    assert nearest_rank(100, 0.95) == 94


# --- statistics from stored rows ------------------------------------------------------------


@pytest.fixture
def measured(experiment) -> Experiment:
    """A: 60 predictions (latency 1..60 ms), 50 with feedback of which 30 correct, 2 failures.
    B: 50 predictions (latency 10..500 ms), all with feedback, 40 correct, 5 failures."""
    predictions(experiment, "A", range(1, 61), [True] * 30 + [False] * 20)
    predictions(experiment, "B", range(10, 501, 10), [True] * 40 + [False] * 10)
    failures(experiment, "A", 2)
    failures(experiment, "B", 5)
    assignments(experiment, "A", 7)
    assignments(experiment, "B", 3)
    assignments(experiment, "B", 2, source=Source.CLIENT)
    # Noise that must not count: another experiment, no variant.
    other = make_experiment("other")
    predictions(other, "A", [9999] * 5, [False] * 5)
    failures(other, "B", 3)
    predictions(experiment, "", [9999])
    return experiment


def test_variant_stats_match_hand_computed_numbers(measured):
    stats = variant_stats(measured)
    a, b = stats["A"], stats["B"]
    assert (a.visitors, a.predictions, a.failures, a.feedback, a.correct) == (7, 60, 2, 50, 30)
    assert (b.visitors, b.predictions, b.failures, b.feedback, b.correct) == (5, 50, 5, 50, 40)
    assert a.error_rate == pytest.approx(2 / 62)
    assert b.error_rate == pytest.approx(5 / 55)
    assert (a.correct_rate, b.correct_rate) == (0.6, 0.8)
    assert a.mean_latency_ms == pytest.approx(30.5)  # (1 + 60) / 2
    assert b.mean_latency_ms == pytest.approx(255.0)  # 10 * (1 + 50) / 2
    assert a.p95_latency_ms == 57.0  # ceil(0.95 * 60) = 57th value
    assert b.p95_latency_ms == 480.0  # ceil(0.95 * 50) = 48th value, 10 * 48


def test_experiment_report_combines_the_metrics_and_the_split_check(measured):
    report = experiment_report(measured)
    share = next(r for r in report.metrics if r.metric.key == "correct_share")
    assert share.comparison.difference == pytest.approx(0.2)
    # Per arm, every prediction came from one visitor and the failures from requests
    # without a visitor id: two units, all feedback in one of them.
    assert share.arms["A"].visitors == 2
    # Hash-assigned visitors only: 7 A and 3 B against 10% of 10 = 1 expected B.
    check = report.sample_ratio
    assert (check.observed_a, check.observed_b) == (7, 3)
    assert check.expected_b == pytest.approx(1.0)
    assert check.chi2 == pytest.approx(2**2 / 9 + 2**2 / 1)
    assert report.client_visitors == 2


def test_empty_experiment_has_no_rates(experiment):
    stats = variant_stats(experiment)
    assert stats["A"].predictions == 0
    assert stats["B"].error_rate is None and stats["B"].correct_rate is None
    assert stats["B"].mean_latency_ms is None and stats["B"].p95_latency_ms is None
    report = experiment_report(experiment)
    assert all(r.comparison is None for r in report.metrics) and report.sample_ratio is None


def test_statistics_cover_the_current_phase_and_stop_at_a_rollback(experiment):
    old = predictions(experiment, "B", [100.0], [False])
    Prediction.objects.filter(pk=old[0].pk).update(
        created_at=experiment.phase_started_at - timedelta(minutes=5)
    )
    predictions(experiment, "B", [10.0, 20.0], [True, True])
    assert variant_stats(experiment)["B"].predictions == 2

    recent = variant_stats(experiment, since=timezone.now() + timedelta(seconds=1))
    assert recent["B"].predictions == 0
    earlier = variant_stats(experiment, since=timezone.now() - timedelta(days=1))
    assert earlier["B"].predictions == 2  # never before the phase began

    experiment = services.rollback_experiment(experiment, actor="t")
    late = predictions(experiment, "A", [1.0])
    Prediction.objects.filter(pk=late[0].pk).update(
        created_at=experiment.ended_at + timedelta(seconds=1)
    )
    stats = variant_stats(experiment)
    assert stats["A"].predictions == 0 and stats["B"].predictions == 2

    experiment = services.start_new_phase(experiment, actor="t")
    assert variant_stats(experiment)["B"].predictions == 0


def test_srm_quiet_on_a_fair_split_and_fires_on_a_skewed_one(experiment):
    experiment.weight = 0.2
    assignments(experiment, "A", 790, weight=0.2)
    assignments(experiment, "B", 210, weight=0.2)
    assert not experiment_report(experiment).sample_ratio.flagged
    assignments(experiment, "A", 300, weight=0.2)
    skewed = experiment_report(experiment).sample_ratio
    assert skewed.flagged and skewed.p_value < 0.001


def test_srm_leaves_client_choices_out(experiment):
    experiment.weight = 0.2
    assignments(experiment, "A", 800, weight=0.2)
    assignments(experiment, "B", 200, weight=0.2)
    assignments(experiment, "B", 500, source=Source.CLIENT)
    report = experiment_report(experiment)
    assert (report.sample_ratio.observed_a, report.sample_ratio.observed_b) == (800, 200)
    assert not report.sample_ratio.flagged
    assert report.client_visitors == 500
    assert report.stats["B"].visitors == 700


def test_srm_compares_each_visitor_with_the_weight_of_its_time(experiment):
    # 1000 visitors at 10% (100 B), then the weight went to 50% for 1000 more (500 B).
    assignments(experiment, "A", 900, weight=0.1)
    assignments(experiment, "B", 100, weight=0.1)
    services.set_weight(experiment, 0.5, actor="t")
    assignments(experiment, "A", 500, weight=0.5)
    assignments(experiment, "B", 500, weight=0.5)
    experiment.refresh_from_db()
    check = experiment_report(experiment).sample_ratio
    assert check.expected_b == pytest.approx(600.0)
    assert not check.flagged
    # The current weight alone (1000 B expected of 2000) would have raised a false alarm.
    assert chisquare([1400, 600], [1000, 1000]).pvalue < 0.001
