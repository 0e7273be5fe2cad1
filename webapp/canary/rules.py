"""The guard's judgement of B against A, as a plain function of their statistics."""

from dataclasses import dataclass, field

from webapp.canary.models import Outcome


@dataclass(frozen=True)
class Thresholds:
    max_error_rate_increase: float
    max_p95_latency_ms: float
    max_correct_rate_drop: float
    min_sample_size: int
    min_feedback: int

    @classmethod
    def of(cls, guard) -> "Thresholds":
        return cls(**{name: getattr(guard, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Verdict:
    outcome: str
    # One sentence per broken threshold, with the numbers; empty unless a breach.
    breaches: list[str] = field(default_factory=list)


def requests_of(stats) -> int:
    """Answered and failed requests: a B that fails everything still has a sample."""
    return stats.predictions + stats.failures


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def evaluate(a, b, limits: Thresholds) -> Verdict:
    """``a`` and ``b`` are the variants' VariantStats (webapp.experiments.selectors)."""
    if min(requests_of(a), requests_of(b)) < limits.min_sample_size:
        return Verdict(Outcome.INSUFFICIENT_DATA)
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
    if min(a.feedback, b.feedback) >= limits.min_feedback:
        drop = (a.correct_rate or 0.0) - (b.correct_rate or 0.0)
        if drop > limits.max_correct_rate_drop:
            breaches.append(
                f"correct feedback of B {_pct(b.correct_rate or 0.0)} vs A "
                f"{_pct(a.correct_rate or 0.0)} (-{100 * drop:.1f} points, at most "
                f"-{100 * limits.max_correct_rate_drop:.1f})"
            )
    return Verdict(Outcome.BREACH if breaches else Outcome.HEALTHY, breaches)


def _ms(value: float | None) -> str:
    return "no data" if value is None else f"{value:.0f} ms"
