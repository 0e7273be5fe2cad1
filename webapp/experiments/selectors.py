"""Reads: per-variant statistics of an experiment, its metrics compared at the visitor level,
and the report behind its statistics page and stats API.

Statistics cover the experiment's current phase (a new phase re-draws the visitors, so
earlier data describes other groups) and stop when it was rolled back or promoted (from then
on everybody sees the same variant, which says nothing about A against B).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Avg, Count, F, IntegerField, Q, QuerySet, Sum, Value
from django.utils import timezone

from webapp.experiments import outcomes
from webapp.experiments.analysis import METRICS, PRIMARY, Direction, Metric, Role
from webapp.experiments.models import (
    Assignment,
    Decision,
    Experiment,
    Kind,
    Source,
    Status,
    Variant,
)
from webapp.experiments.statistics import (
    Comparison,
    Interval,
    RatioSums,
    SampleRatioCheck,
    compare,
    minimum_detectable_effect,
    nearest_rank,
    quantile_ranks,
    quantile_variance,
    ratio_variance,
    sample_ratio_check,
    visitors_needed,
)

# Planning asks how many visitors would detect a change of this size relative to A.
PLANNING_RELATIVE_EFFECT = 0.10


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
    metrics: list["MetricResult"]  # in the order of analysis.METRICS
    sample_ratio: SampleRatioCheck | None  # hash-assigned visitors only
    client_visitors: int  # chose their variant themselves; not part of the split check

    @property
    def primary(self) -> "MetricResult":
        return next(r for r in self.metrics if r.metric.role == Role.PRIMARY)

    @property
    def guardrails(self) -> list["MetricResult"]:
        return [r for r in self.metrics if r.metric.role == Role.GUARDRAIL]


def another_steers(kind: str, pk: int | None) -> bool:
    """Whether an experiment of ``kind`` other than ``pk`` steers routing already."""
    steering = Experiment.objects.filter(kind=kind, steers_routing=True)
    return (steering.exclude(pk=pk) if pk is not None else steering).exists()


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
    """Aggregates per arm of a queryset that has an ``arm`` column (see ``_windowed``)."""
    rows = queryset.values("arm").annotate(**aggregates).order_by()
    return {row["arm"]: row for row in rows}


def variant_stats(
    experiment: Experiment, *, since: datetime | None = None
) -> dict[str, VariantStats]:
    """Numbers for A and B in the current phase, from ``since`` on when given."""
    start, end = analysis_window(experiment, since)
    stored = outcomes.registered()
    predictions, failures = _windowed(experiment, start, end)
    answered = _by_variant(
        predictions,
        n=Count("pk"),
        mean_latency=Avg("latency_ms"),
        feedback_n=Count("pk", filter=Q(**{f"{stored.verdict}__isnull": False})),
        correct_n=Count("pk", filter=Q(**{stored.verdict: True})),
    )
    failed = _by_variant(failures, n=Count("pk"))
    visitors = _by_variant(
        _in_window(
            Assignment.objects.filter(experiment=experiment, phase=experiment.phase), start, end
        ).annotate(arm=F("variant")),
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
            ordered = predictions.filter(arm=variant).order_by("latency_ms")
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
        metrics=metric_results(experiment),
        sample_ratio=sample_ratio_check(split["a"], split["b"], split["expected_b"] or 0.0),
        client_visitors=phase.filter(source=Source.CLIENT).count(),
    )


# --- metrics at the visitor level -----------------------------------------------------------

# What each visitor of an arm did in the window; metrics are ratios of their sums.
VISITOR_COLUMNS = ("n_requests", "n_answered", "n_failed", "n_feedback", "n_correct")


@dataclass(frozen=True)
class ArmResult:
    visitors: int
    numerator: float | None  # None for a quantile
    denominator: float
    estimate: float | None
    variance: float | None  # of the estimate


@dataclass(frozen=True)
class MetricResult:
    metric: Metric
    arms: dict[str, ArmResult]
    comparison: Comparison | None  # None until both arms have two visitors with data
    decides: str  # Decision: which interval decides
    mde: float | None  # at the current sample size, fixed horizon, 80% power
    planned_effect: float | None  # PLANNING_RELATIVE_EFFECT of A's estimate
    visitors_needed: int | None  # for planned_effect at 80% power

    @property
    def deciding(self) -> Interval | None:
        if self.comparison is None:
            return None
        if self.decides == Decision.FIXED:
            return self.comparison.fixed
        return self.comparison.sequential

    @property
    def verdict(self) -> str:
        """better, worse (with confidence, by the deciding interval) or unclear."""
        interval = self.deciding
        if interval is None or interval.low <= 0 <= interval.high:
            return "unclear"
        higher = interval.low > 0
        return "better" if higher == (self.metric.direction == Direction.HIGHER) else "worse"


def _sql_of(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def _visitor_sums(per_visitor: QuerySet, columns: tuple[str, ...]) -> dict[str, dict]:
    """Per arm: visitors, and the sums, squares and cross-products of ``columns`` over
    them, computed by the database (``per_visitor`` is grouped by arm and visitor, and
    may be a union whose rows are summed per visitor first), so nothing per visitor is
    loaded into Python."""
    q = connection.ops.quote_name
    inner, params = _sql_of(per_visitor)
    regrouped = ", ".join(f"SUM({q(c)}) AS {q(c)}" for c in columns)
    pairs = [(a, b) for i, a in enumerate(columns) for b in columns[i:]]
    sums = ", ".join(
        [f"SUM({q(c)}) AS {q(c)}" for c in columns]
        + [f"SUM({q(a)} * {q(b)}) AS {q(f'{a}*{b}')}" for a, b in pairs]
    )
    # Only quoted constant names are formatted in; every value is a parameter.
    sql = (
        f"SELECT {q('arm')}, COUNT(*) AS {q('n')}, {sums} FROM ("  # noqa: S608
        f"SELECT {q('arm')}, {q('visitor_id')}, {regrouped} FROM ({inner}) AS {q('u')} "
        f"GROUP BY {q('arm')}, {q('visitor_id')}) AS {q('v')} GROUP BY {q('arm')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {
        row["arm"]: {k: v if k == "arm" else float(v or 0) for k, v in row.items()} for row in rows
    }


def _ratio_sums(row: dict | None, numerator: str, denominator: str) -> RatioSums:
    if row is None:
        return RatioSums(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    x, y = numerator, denominator
    xy = row[f"{x}*{y}"] if f"{x}*{y}" in row else row[f"{y}*{x}"]
    return RatioSums(int(row["n"]), row[x], row[y], row[f"{x}*{x}"], row[f"{y}*{y}"], xy)


# The columns that hold a request's experiment and arm, by kind of experiment.
ARM_COLUMNS = {
    Kind.FRONTEND: ("experiment", "variant"),
    Kind.MODEL: ("model_experiment", "model_arm"),
}


def _windowed(experiment: Experiment, start, end) -> tuple[QuerySet, QuerySet]:
    """The answered and failed requests of ``experiment`` in the window, each with its arm
    (A or B) as column ``arm``, whichever kind of experiment it is."""
    name_column, arm_column = ARM_COLUMNS[Kind(experiment.kind)]

    def of(model) -> QuerySet:
        rows = model.objects.filter(
            **{name_column: experiment.name, f"{arm_column}__in": Variant.values}
        ).annotate(arm=F(arm_column))
        return _in_window(rows, start, end)

    stored = outcomes.registered()
    return of(stored.answered), of(stored.failed)


def _per_visitor(answered: QuerySet, failed: QuerySet) -> QuerySet:
    verdict = outcomes.registered().verdict
    zero = Value(0, output_field=IntegerField())
    by_visitor = ("arm", "visitor_id")
    return (
        answered.values(*by_visitor)
        .annotate(
            n_requests=Count("pk"),
            n_answered=Count("pk"),
            n_failed=zero,
            n_feedback=Count("pk", filter=Q(**{f"{verdict}__isnull": False})),
            n_correct=Count("pk", filter=Q(**{verdict: True})),
        )
        .order_by()
        .union(
            failed.values(*by_visitor)
            .annotate(
                n_requests=Count("pk"),
                n_answered=zero,
                n_failed=Count("pk"),
                n_feedback=zero,
                n_correct=zero,
            )
            .order_by(),
            all=True,
        )
    )


def _value_at(answered: QuerySet, variant: str, rank: int) -> float:
    ordered = answered.filter(arm=variant).order_by("latency_ms")
    return ordered.values_list("latency_ms", flat=True)[rank]


def _quantile_arms(metric: Metric, answered: QuerySet) -> dict[str, ArmResult]:
    """Each arm's quantile, and its variance from the delta-method interval of the share of
    events at or below it (statistics.quantile_ranks)."""
    quantile = metric.quantile or 0.5
    counts = _by_variant(answered, n=Count("pk"))
    estimates = {
        v: _value_at(answered, v, nearest_rank(int(counts[v]["n"]), quantile))
        for v in Variant.values
        if counts.get(v, {}).get("n")
    }
    below = Q()
    for variant, value in estimates.items():
        below |= Q(arm=variant, latency_ms__lte=value)
    sums = _visitor_sums(
        answered.values("arm", "visitor_id")
        .annotate(n_below=Count("pk", filter=below), n_answered=Count("pk"))
        .order_by(),
        ("n_below", "n_answered"),
    )
    arms = {}
    for variant in Variant.values:
        n_events = int(counts.get(variant, {}).get("n", 0))
        share = _ratio_sums(sums.get(variant), "n_below", "n_answered")
        share_variance = ratio_variance(share)
        variance = None
        if share_variance is not None:
            low, high = quantile_ranks(n_events, quantile, share_variance**0.5)
            variance = quantile_variance(
                _value_at(answered, variant, low), _value_at(answered, variant, high)
            )
        arms[variant] = ArmResult(share.n, None, n_events, estimates.get(variant), variance)
    return arms


def _ratio_arms(metric: Metric, sums: dict[str, dict]) -> dict[str, ArmResult]:
    arms = {}
    for variant in Variant.values:
        s = _ratio_sums(sums.get(variant), metric.numerator or "", metric.denominator)
        arms[variant] = ArmResult(s.n, s.x, s.y, s.estimate, ratio_variance(s))
    return arms


def _result(metric: Metric, arms: dict[str, ArmResult], decides: str) -> MetricResult:
    a, b = arms[Variant.A], arms[Variant.B]
    comparison = mde = effect = needed = None
    if (
        a.estimate is not None
        and b.estimate is not None
        and a.variance is not None
        and b.variance is not None
    ):
        visitors = a.visitors + b.visitors
        comparison = compare(a.estimate, a.variance, b.estimate, b.variance, visitors)
        mde = minimum_detectable_effect(comparison.variance)
        effect = PLANNING_RELATIVE_EFFECT * abs(a.estimate) or None
        if effect:
            needed = visitors_needed(comparison.variance, comparison.visitors, effect)
    return MetricResult(metric, arms, comparison, decides, mde, effect, needed)


def metric_results(
    experiment: Experiment, *, since: datetime | None = None, until: datetime | None = None
) -> list[MetricResult]:
    """Every metric of analysis.METRICS, B against A, with the visitor as the unit."""
    start, end = analysis_window(experiment, since)
    if until is not None:
        end = min(until, end) if end else until
    answered, failed = _windowed(experiment, start, end)
    sums = _visitor_sums(_per_visitor(answered, failed), VISITOR_COLUMNS)
    results = []
    for metric in METRICS:
        if metric.quantile is not None:
            arms = _quantile_arms(metric, answered)
        else:
            arms = _ratio_arms(metric, sums)
        results.append(_result(metric, arms, experiment.analysis_decision))
    return results


@dataclass(frozen=True)
class TimePoint:
    at: datetime
    difference: float
    sequential: Interval
    fixed: Interval


def primary_over_time(experiment: Experiment, *, points: int = 24) -> list[TimePoint]:
    """The primary metric's cumulative B - A at the end of each hour (or day, for phases
    longer than two days), thinned to at most ``points``; one query per point."""
    start, end = analysis_window(experiment)
    if start is None:
        return []
    end = end or timezone.now()
    step = timedelta(hours=1) if end - start <= timedelta(days=2) else timedelta(days=1)
    ticks = int((end - start) / step) + 1
    every = max(1, -(-ticks // points))
    series = []
    for i in range(every, ticks + every, every):
        at = min(start + i * step, end)
        answered, failed = _windowed(experiment, start, at)
        sums = _visitor_sums(_per_visitor(answered, failed), VISITOR_COLUMNS)
        comparison = _result(PRIMARY, _ratio_arms(PRIMARY, sums), Decision.SEQUENTIAL).comparison
        if comparison is not None:
            series.append(
                TimePoint(at, comparison.difference, comparison.sequential, comparison.fixed)
            )
    return series
