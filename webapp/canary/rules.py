"""The guard's judgement of B against A, as plain functions of their statistics.

Two kinds of rule. Guardrail metrics (webapp.experiments.analysis) roll back when B is worse
with confidence by the sequential test over the whole phase, which stays valid however often
the guard looks. Hard thresholds catch outright breakage on the recent window (an error-rate
increase or a p95 latency above a limit) and need no test: a limit worth setting is far
beyond the noise.
"""

from dataclasses import dataclass, field

from webapp.canary.models import Outcome
from webapp.experiments.analysis import GUARDRAILS, Direction, Metric
from webapp.experiments.statistics import (
    ALPHA,
    Comparison,
    sequential_bounds,
    sequential_interval,
)

# The chance of any false rollback of a B no worse than A, over every check of a phase,
# split evenly over the guardrails (Bonferroni): each is tested at GUARD_ALPHA / k.
GUARD_ALPHA = ALPHA


@dataclass(frozen=True)
class Thresholds:
    max_error_rate_increase: float
    max_p95_latency_ms: float
    min_sample_size: int

    @classmethod
    def of(cls, guard) -> "Thresholds":
        return cls(**{name: getattr(guard, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Verdict:
    outcome: str
    # One sentence per broken rule, with the numbers; empty unless a breach.
    breaches: list[str] = field(default_factory=list)


def requests_of(stats) -> int:
    """Answered and failed requests: a B that fails everything still has a sample."""
    return stats.predictions + stats.failures


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def guardrail_alpha(guardrails: int = len(GUARDRAILS)) -> float:
    return GUARD_ALPHA / max(guardrails, 1)


def worse_with_confidence(metric: Metric, difference, variance, visitors: int, alpha: float):
    """B's sequential 1 - alpha interval lies wholly on the worse side of zero (elementwise
    on arrays of differences and variances, as tests/webapp/experiments/peeking.py uses it)."""
    low, high = sequential_bounds(difference, variance, visitors, alpha)
    return high < 0 if metric.direction == Direction.HIGHER else low > 0


def _difference(metric: Metric, value: float) -> str:
    if metric.unit == "ms":
        return f"{value:+.0f} ms"
    return f"{100 * value:+.1f} points"


def guardrail_breaches(results) -> list[str]:
    """``results`` are the phase's selectors.MetricResult; one sentence per guardrail that is
    worse with confidence."""
    guardrails = [r for r in results if r.metric in GUARDRAILS and r.comparison is not None]
    alpha = guardrail_alpha()
    breaches = []
    for result in guardrails:
        c: Comparison = result.comparison
        if worse_with_confidence(result.metric, c.difference, c.variance, c.visitors, alpha):
            interval = sequential_interval(c.difference, c.variance, c.visitors, alpha)
            breaches.append(
                f"{result.metric.name.lower()} of B worse than A with confidence: "
                f"{_difference(result.metric, result.comparison.difference)}, sequential "
                f"{100 * (1 - alpha):.1f}% interval {_difference(result.metric, interval.low)} "
                f"to {_difference(result.metric, interval.high)} "
                f"({result.comparison.visitors} visitors)"
            )
    return breaches


def hard_breaches(a, b, limits: Thresholds) -> list[str]:
    """``a`` and ``b`` are the window's VariantStats (webapp.experiments.selectors)."""
    breaches = []
    increase = (b.error_rate or 0.0) - (a.error_rate or 0.0)
    if increase > limits.max_error_rate_increase:
        breaches.append(
            f"error rate of B {_pct(b.error_rate or 0.0)} vs A {_pct(a.error_rate or 0.0)} "
            f"(+{100 * increase:.1f} points, at most +{100 * limits.max_error_rate_increase:.1f})"
        )
    if b.p95_latency_ms is not None and b.p95_latency_ms > limits.max_p95_latency_ms:
        breaches.append(
            f"p95 latency of B {b.p95_latency_ms:.0f} ms "
            f"(at most {limits.max_p95_latency_ms:.0f} ms; A {_ms(a.p95_latency_ms)})"
        )
    return breaches


def evaluate(a, b, limits: Thresholds, results=()) -> Verdict:
    """Hard thresholds on the window's ``a`` and ``b``, guardrails on the phase's metric
    ``results``."""
    if min(requests_of(a), requests_of(b)) < limits.min_sample_size:
        return Verdict(Outcome.INSUFFICIENT_DATA)
    breaches = hard_breaches(a, b, limits) + guardrail_breaches(results)
    return Verdict(Outcome.BREACH if breaches else Outcome.HEALTHY, breaches)


def _ms(value: float | None) -> str:
    return "no data" if value is None else f"{value:.0f} ms"
