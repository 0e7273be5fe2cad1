"""Simulated experiments looked at after every batch of visitors: how often the sequential
test and the naive fixed-horizon test declare a difference that is not there (A/A), how often
they find one that is, and how often the canary guard rolls back a B no worse than A.

Visitors are drawn with numpy, clustered like real ones (a visitor's number of requests
and propensity to give feedback vary); every look runs the web app's own functions
(webapp.experiments.statistics, webapp.canary.rules) on the cumulative per-visitor sums.

    .venv/bin/python -m tests.webapp.experiments.peeking 2000   # the README's figures
"""

import os
import sys
from dataclasses import dataclass

import django
import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()  # the guard's rules live beside its models

from webapp.canary.rules import guardrail_alpha, worse_with_confidence  # noqa: E402
from webapp.experiments.analysis import (  # noqa: E402
    CORRECT_SHARE,
    ERROR_RATE,
    FEEDBACK_RATE,
    P95_LATENCY,
    Direction,
    Metric,
)
from webapp.experiments.statistics import (  # noqa: E402
    RatioSums,
    delta_variance,
    fixed_bounds,
    nearest_rank,
    quantile_ranks,
    quantile_variance,
    sequential_bounds,
)

# Timed requests per visitor in the latency part (the others are padding): enough for the
# clustering to matter, few enough to sort every look quickly.
TIMED = 4


def visitors(
    rng, shape, *, feedback_lift=0.0, correct_lift=0.0, guardrails=True
) -> dict[str, np.ndarray]:
    """Per-visitor counts, arrays of ``shape`` (experiments, visitors): 1 to about 8
    requests each, 2% failing, feedback on 20% to 80% of answers (a visitor's own
    propensity), 65% to 95% of it saying correct. Without ``guardrails`` only what the
    feedback rate needs."""
    requests = 1 + rng.poisson(1.5, shape)
    failed = rng.binomial(requests, 0.02) if guardrails else np.zeros(shape, int)
    answered = requests - failed
    feedback = rng.binomial(answered, 0.2 + 0.6 * rng.random(shape) + feedback_lift)
    columns = {"n_requests": requests, "n_failed": failed, "n_answered": answered}
    columns["n_feedback"] = feedback
    if guardrails:
        correct_p = np.clip(0.65 + 0.3 * rng.random(shape) + correct_lift, 0, 1)
        columns["n_correct"] = rng.binomial(feedback, correct_p)
    return {name: values.astype(float) for name, values in columns.items()}


def cumulative(arm: dict[str, np.ndarray], metric: Metric, looks: np.ndarray):
    """(n, Σx, Σy, Σx², Σy², Σxy) after each look's visitors: arrays (experiments, looks)."""
    x, y = arm[metric.numerator or ""], arm[metric.denominator]
    sums = [np.cumsum(v, axis=1)[:, looks - 1] for v in (x, y, x * x, y * y, x * y)]
    return (looks.astype(float), *sums)


def estimate_and_variance(sums) -> tuple[np.ndarray, np.ndarray]:
    _, x, y, *_ = sums
    return x / y, np.maximum(delta_variance(RatioSums(*sums)), 0.0)


def latencies(rng, shape, answered: np.ndarray, *, slowdown: float = 1.0) -> np.ndarray:
    """Latencies (ms) of up to TIMED answered requests per visitor, NaN where there is none:
    log-normal around 40 ms, with a visitor's own speed (a shared random effect), so a
    visitor's requests are correlated like a real client's."""
    own = 0.3 * rng.standard_normal((*shape, 1))
    values = 40.0 * slowdown * np.exp(own + 0.5 * rng.standard_normal((*shape, TIMED)))
    timed = np.minimum(answered, TIMED)[..., None] > np.arange(TIMED)
    return np.where(timed, values, np.nan)


def quantile_arm(timed: np.ndarray, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Each experiment's nearest-rank quantile of its visitors' timed requests (experiments,
    visitors, TIMED) and its variance, as the statistics page computes them
    (selectors._quantile_arms): the share of each visitor's requests at or below the
    quantile is a ratio over visitors, whose delta-method interval, turned into ranks,
    brackets the quantile."""
    experiments, visitors, _ = timed.shape
    ordered = np.sort(timed.reshape(experiments, -1), axis=1)  # NaN last
    events = np.sum(~np.isnan(timed), axis=(1, 2))
    at = np.array([nearest_rank(int(n), quantile) for n in events])
    value = np.take_along_axis(ordered, at[:, None], axis=1)[:, 0]
    below = np.sum(timed <= value[:, None, None], axis=2).astype(float)
    counted = np.sum(~np.isnan(timed), axis=2).astype(float)
    sums = RatioSums(
        float(visitors),
        below.sum(1),
        counted.sum(1),
        (below * below).sum(1),
        (counted * counted).sum(1),
        (below * counted).sum(1),
    )
    share_se = np.sqrt(np.maximum(delta_variance(sums), 0.0))
    variance = np.empty(experiments)
    for e in range(experiments):
        low, high = quantile_ranks(int(events[e]), quantile, float(share_se[e]))
        variance[e] = quantile_variance(ordered[e, low], ordered[e, high])
    return value, variance


@dataclass(frozen=True)
class Rates:
    experiments: int
    looks: int
    sequential: float  # share of experiments with a finding at any look
    fixed: float


def _differences(a, b):
    """B - A, its variance and the visitors of both arms, per experiment and look."""
    (est_a, var_a), (est_b, var_b) = estimate_and_variance(a), estimate_and_variance(b)
    return est_b - est_a, var_a + var_b, (a[0] + b[0]).astype(int)


def page(
    experiments: int, *, looks: int = 20, batch: int = 200, lift: float = 0.0, seed: int = 1
) -> Rates:
    """The statistics page's headline (primary metric, 50/50 split, 95%), looked at after
    every ``batch`` visitors per arm: share of experiments ever declared significant."""
    rng = np.random.default_rng(seed)
    at = np.arange(1, looks + 1) * batch
    shape = (experiments, looks * batch)
    a = cumulative(visitors(rng, shape, guardrails=False), FEEDBACK_RATE, at)
    b = cumulative(visitors(rng, shape, feedback_lift=lift, guardrails=False), FEEDBACK_RATE, at)
    difference, variance, n = _differences(a, b)
    sequential = np.zeros(experiments, bool)
    fixed = np.zeros(experiments, bool)
    for look in range(looks):
        d, v = difference[:, look], variance[:, look]
        low, high = sequential_bounds(d, v, int(n[look]))
        sequential |= (low > 0) | (high < 0)
        low, high = fixed_bounds(d, v)
        fixed |= (low > 0) | (high < 0)
    return Rates(experiments, looks, float(sequential.mean()), float(fixed.mean()))


def guard(
    experiments: int,
    *,
    looks: int = 20,
    batch: int = 500,
    weight: float = 0.1,
    correct_lift: float = 0.0,
    slowdown: float = 1.0,
    seed: int = 2,
) -> Rates:
    """The canary guard's guardrail rule on its three guardrails (correct share, error rate,
    p95 latency), a canary of ``weight``, one check after every ``batch`` visitors: share of
    experiments rolled back. ``fixed`` is the same rule on the fixed-horizon interval."""
    rng = np.random.default_rng(seed)
    per_b = round(batch * weight)
    per_a = batch - per_b
    arm_a = visitors(rng, (experiments, looks * per_a))
    arm_b = visitors(rng, (experiments, looks * per_b), correct_lift=correct_lift)
    timed_a = latencies(rng, (experiments, looks * per_a), arm_a["n_answered"])
    timed_b = latencies(rng, (experiments, looks * per_b), arm_b["n_answered"], slowdown=slowdown)
    alpha = guardrail_alpha()
    rolled = np.zeros(experiments, bool)
    naive = np.zeros(experiments, bool)

    def judge(metric: Metric, d: np.ndarray, v: np.ndarray, n: int) -> None:
        nonlocal rolled, naive
        rolled |= worse_with_confidence(metric, d, v, n, alpha)
        low, high = fixed_bounds(d, v, alpha)
        naive |= high < 0 if metric.direction == Direction.HIGHER else low > 0

    for metric in (CORRECT_SHARE, ERROR_RATE):
        a = cumulative(arm_a, metric, np.arange(1, looks + 1) * per_a)
        b = cumulative(arm_b, metric, np.arange(1, looks + 1) * per_b)
        difference, variance, n = _differences(a, b)
        for look in range(looks):
            judge(metric, difference[:, look], variance[:, look], int(n[look]))
    quantile = P95_LATENCY.quantile or 0.95
    for look in range(1, looks + 1):
        value_a, var_a = quantile_arm(timed_a[:, : look * per_a], quantile)
        value_b, var_b = quantile_arm(timed_b[:, : look * per_b], quantile)
        judge(P95_LATENCY, value_b - value_a, var_a + var_b, look * batch)
    return Rates(experiments, looks, float(rolled.mean()), float(naive.mean()))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = [
        ("page, A/A: false positives", page(n)),
        ("page, B +3 points feedback rate: power", page(n, lift=0.03)),
        ("guard, A/A canary at 10%: false rollbacks", guard(n)),
        ("guard, B -10 points correct share: rollbacks", guard(n, correct_lift=-0.10)),
        ("guard, B 30% slower: rollbacks", guard(n, slowdown=1.3)),
    ]
    print(f"{n} simulated experiments, 20 looks each")
    print(f"{'':48} {'sequential':>10} {'fixed, peeked':>14}")
    for label, rates in rows:
        print(f"{label:48} {rates.sequential:>10.1%} {rates.fixed:>14.1%}")


if __name__ == "__main__":
    main()
