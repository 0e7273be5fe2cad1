"""Reads: per-variant statistics of an experiment and the report behind its statistics page.

Statistics cover the experiment's current phase (a new phase re-draws the visitors, so
earlier data describes other groups) and stop when it was rolled back or promoted (from then
on everybody sees the same variant, which says nothing about A against B).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Avg, Count, Q, QuerySet, Sum

from webapp.experiments import outcomes
from webapp.experiments.models import Assignment, Experiment, Source, Status, Variant
from webapp.experiments.statistics import (
    ProportionTest,
    SampleRatioCheck,
    nearest_rank,
    sample_ratio_check,
    two_proportion_test,
)


@dataclass(frozen=True)
class VariantStats:
    """One variant's numbers. Rates and latencies are None when nothing was measured."""

    visitors: int
    predictions: int
    failures: int
    error_rate: float | None  # failures / (predictions + failures)
    feedback: int
    correct: int
    correct_rate: float | None  # correct / feedback
    mean_latency_ms: float | None  # of answered predictions
    p95_latency_ms: float | None  # nearest rank


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    since: datetime | None
    until: datetime | None
    stats: dict[str, VariantStats]
    correct_rate_test: ProportionTest | None  # B against A
    sample_ratio: SampleRatioCheck | None  # hash-assigned visitors only
    client_visitors: int  # chose their variant themselves; not part of the split check


def analysis_window(
    experiment: Experiment, since: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    start = experiment.phase_started_at
    if since is not None:
        start = max(since, start) if start else since
    ended = experiment.status in (Status.ROLLED_BACK, Status.PROMOTED)
    return start, experiment.ended_at if ended else None


def _in_window(queryset: QuerySet, start: datetime | None, end: datetime | None) -> QuerySet:
    if start is not None:
        queryset = queryset.filter(created_at__gte=start)
    if end is not None:
        queryset = queryset.filter(created_at__lt=end)
    return queryset


def _by_variant(queryset: QuerySet, **aggregates) -> dict[str, dict]:
    rows = queryset.values("variant").annotate(**aggregates).order_by()
    return {row["variant"]: row for row in rows}


def variant_stats(
    experiment: Experiment, *, since: datetime | None = None
) -> dict[str, VariantStats]:
    """Numbers for A and B in the current phase, from ``since`` on when given."""
    start, end = analysis_window(experiment, since)
    stored = outcomes.registered()
    predictions = _in_window(
        stored.answered.objects.filter(experiment=experiment.name, variant__in=Variant.values),
        start,
        end,
    )
    answered = _by_variant(
        predictions,
        n=Count("pk"),
        mean_latency=Avg("latency_ms"),
        feedback_n=Count("pk", filter=Q(**{f"{stored.verdict}__isnull": False})),
        correct_n=Count("pk", filter=Q(**{stored.verdict: True})),
    )
    failed = _by_variant(
        _in_window(stored.failed.objects.filter(experiment=experiment.name), start, end),
        n=Count("pk"),
    )
    visitors = _by_variant(
        _in_window(
            Assignment.objects.filter(experiment=experiment, phase=experiment.phase), start, end
        ),
        n=Count("pk"),
    )

    stats = {}
    for variant in Variant.values:
        row = answered.get(variant, {})
        n = row.get("n", 0)
        failures = failed.get(variant, {}).get("n", 0)
        feedback = row.get("feedback_n", 0)
        correct = row.get("correct_n", 0)
        p95 = None
        if n:
            ordered = predictions.filter(variant=variant).order_by("latency_ms")
            p95 = ordered.values_list("latency_ms", flat=True)[nearest_rank(n, 0.95)]
        stats[variant] = VariantStats(
            visitors=visitors.get(variant, {}).get("n", 0),
            predictions=n,
            failures=failures,
            error_rate=failures / (n + failures) if n + failures else None,
            feedback=feedback,
            correct=correct,
            correct_rate=correct / feedback if feedback else None,
            mean_latency_ms=row.get("mean_latency"),
            p95_latency_ms=p95,
        )
    return stats


def experiment_report(experiment: Experiment) -> ExperimentReport:
    start, end = analysis_window(experiment)
    stats = variant_stats(experiment)
    a, b = stats[Variant.A], stats[Variant.B]
    phase = Assignment.objects.filter(experiment=experiment, phase=experiment.phase)
    split = phase.filter(source=Source.HASH).aggregate(
        a=Count("pk", filter=Q(variant=Variant.A)),
        b=Count("pk", filter=Q(variant=Variant.B)),
        expected_b=Sum("weight"),
    )
    return ExperimentReport(
        experiment=experiment,
        since=start,
        until=end,
        stats=stats,
        correct_rate_test=two_proportion_test(a.correct, a.feedback, b.correct, b.feedback),
        sample_ratio=sample_ratio_check(split["a"], split["b"], split["expected_b"] or 0.0),
        client_visitors=phase.filter(source=Source.CLIENT).count(),
    )
