"""An experiment's report as the stats API's JSON and as CSV: the same figures, from the
same selector (selectors.experiment_report) that the statistics page renders."""

from collections.abc import Iterator

from core.downloads import csv_lines
from webapp.experiments.models import Variant
from webapp.experiments.selectors import ExperimentReport, MetricResult
from webapp.experiments.statistics import Interval

UNIT = "visitor"
SEQUENTIAL_METHOD = "normal-mixture confidence sequence (Howard et al. 2021), always valid"
FIXED_METHOD = "Wald interval and z-test, fixed horizon"


def _interval(interval: Interval | None, method: str) -> dict | None:
    if interval is None:
        return None
    return {
        "low": interval.low,
        "high": interval.high,
        "p_value": interval.p_value,
        "method": method,
    }


def metric_dict(result: MetricResult) -> dict:
    comparison = result.comparison
    return {
        "key": result.metric.key,
        "name": result.metric.name,
        "definition": result.metric.definition,
        "role": result.metric.role.value,
        "direction": result.metric.direction.value,
        "unit": UNIT,
        "estimate_unit": result.metric.unit,
        "method": result.metric.method,
        "arms": {
            variant: {
                "visitors": arm.visitors,
                "numerator": arm.numerator,
                "denominator": arm.denominator,
                "estimate": arm.estimate,
            }
            for variant, arm in result.arms.items()
        },
        "difference": comparison.difference if comparison else None,
        "fixed": _interval(comparison.fixed if comparison else None, FIXED_METHOD),
        "sequential": _interval(comparison.sequential if comparison else None, SEQUENTIAL_METHOD),
        "decided_by": result.decides,
        "verdict": result.verdict,
        "planning": {
            "minimum_detectable_effect": result.mde,
            "effect": result.planned_effect,
            "visitors_needed": result.visitors_needed,
        },
    }


def report_dict(report: ExperimentReport) -> dict:
    experiment = report.experiment
    check = report.sample_ratio
    return {
        "experiment": experiment.name,
        "status": experiment.status,
        "phase": experiment.phase,
        "since": report.since,
        "until": report.until,
        "unit": UNIT,
        "confidence": 0.95,
        "decided_by": experiment.analysis_decision,
        "metrics": [metric_dict(result) for result in report.metrics],
        "sample_ratio": None
        if check is None
        else {
            "observed": {"A": check.observed_a, "B": check.observed_b},
            "expected": {"A": check.expected_a, "B": check.expected_b},
            "p_value": check.p_value,
            "flagged": check.flagged,
        },
    }


CSV_HEADER = (
    "metric",
    "role",
    "direction",
    "unit",
    *(
        f"{v}_{column}"
        for v in Variant.values
        for column in ("visitors", "numerator", "denominator", "estimate")
    ),
    "difference",
    "fixed_low",
    "fixed_high",
    "fixed_p_value",
    "sequential_low",
    "sequential_high",
    "sequential_p_value",
    "decided_by",
    "verdict",
    "minimum_detectable_effect",
    "visitors_needed",
)


def _cell(value) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def report_csv_lines(report: ExperimentReport) -> Iterator[str]:
    """One row per metric; empty cells where nothing can be computed yet."""
    return csv_lines(CSV_HEADER, (_csv_row(result) for result in report.metrics))


def _csv_row(result: MetricResult) -> list[str]:
    row = metric_dict(result)
    arms = [
        row["arms"][v][column]
        for v in Variant.values
        for column in ("visitors", "numerator", "denominator", "estimate")
    ]
    fixed, sequential = row["fixed"] or {}, row["sequential"] or {}
    planning = row["planning"]
    cells = [
        row["key"],
        row["role"],
        row["direction"],
        row["unit"],
        *arms,
        row["difference"],
        fixed.get("low"),
        fixed.get("high"),
        fixed.get("p_value"),
        sequential.get("low"),
        sequential.get("high"),
        sequential.get("p_value"),
        row["decided_by"],
        row["verdict"],
        planning["minimum_detectable_effect"],
        planning["visitors_needed"],
    ]
    return [_cell(c) for c in cells]
