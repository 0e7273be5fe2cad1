"""The metrics every experiment is analysed on, declared once: the statistics page, the
stats API, its CSV export, the canary guard and the README all read these definitions.

Each is computed per visitor of the current phase and compared B - A.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PRIMARY = "primary"  # what the experiment is meant to move; decides the headline
    GUARDRAIL = "guardrail"  # must not get worse; the canary guard rolls back on it


class Direction(StrEnum):
    HIGHER = "higher"  # higher is better
    LOWER = "lower"


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    definition: str
    direction: Direction
    role: Role
    # Per-visitor columns: the numerator and denominator summed over visitors (see
    # selectors.VISITOR_COLUMNS); None for a quantile, which is over the events.
    numerator: str | None
    denominator: str
    quantile: float | None = None
    unit: str = "fraction"  # of the estimate and the difference: "fraction" or "ms"

    @property
    def method(self) -> str:
        if self.quantile is not None:
            return "quantile, normal approximation via the delta method over visitors"
        return "ratio of sums, delta method over visitors"


FEEDBACK_RATE = Metric(
    key="feedback_rate",
    name="Feedback rate",
    definition="feedback ÷ predictions",
    direction=Direction.HIGHER,
    role=Role.PRIMARY,
    numerator="n_feedback",
    denominator="n_answered",
)
CORRECT_SHARE = Metric(
    key="correct_share",
    name="Correct share",
    definition="feedback saying correct ÷ feedback",
    direction=Direction.HIGHER,
    role=Role.GUARDRAIL,
    numerator="n_correct",
    denominator="n_feedback",
)
ERROR_RATE = Metric(
    key="error_rate",
    name="Error rate",
    definition="failed ÷ requests (answered and failed)",
    direction=Direction.LOWER,
    role=Role.GUARDRAIL,
    numerator="n_failed",
    denominator="n_requests",
)
P95_LATENCY = Metric(
    key="p95_latency",
    name="p95 latency",
    definition="95th percentile of answered predictions' latency (ms)",
    direction=Direction.LOWER,
    role=Role.GUARDRAIL,
    numerator=None,
    denominator="n_answered",
    quantile=0.95,
    unit="ms",
)

METRICS: tuple[Metric, ...] = (FEEDBACK_RATE, CORRECT_SHARE, ERROR_RATE, P95_LATENCY)
GUARDRAILS: tuple[Metric, ...] = tuple(m for m in METRICS if m.role == Role.GUARDRAIL)
PRIMARY: Metric = next(m for m in METRICS if m.role == Role.PRIMARY)
