"""The tests behind the statistics page, in closed form (standard library only).

Both tests have one degree of freedom, where the normal and chi-squared tails are exact
functions of ``erfc``; no numerical library is needed at request time.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

SRM_ALPHA = 0.001  # sample-ratio mismatch is flagged below this p-value
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class ProportionTest:
    """Two-proportion z-test of rate B against rate A, with a Wald interval for B - A."""

    rate_a: float
    rate_b: float
    difference: float  # rate_b - rate_a
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE


def two_proportion_test(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence: float = 0.95
) -> ProportionTest | None:
    """None when a group is empty.

    z uses the pooled rate (the null hypothesis: both rates are equal); the confidence
    interval uses each group's own rate (no assumption that they are equal).
    """
    if n_a <= 0 or n_b <= 0:
        return None
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    difference = rate_b - rate_a
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se_null == 0:  # every answer in both groups was the same: no evidence of a difference
        z, p_value = 0.0, 1.0
    else:
        z = difference / se_null
        p_value = math.erfc(abs(z) / math.sqrt(2))  # two-sided: 2 * (1 - Phi(|z|))
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    margin = NormalDist().inv_cdf(0.5 + confidence / 2) * se
    return ProportionTest(
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        z=z,
        p_value=p_value,
        ci_low=difference - margin,
        ci_high=difference + margin,
        confidence=confidence,
    )


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-squared goodness of fit of the observed A/B split against the expected one."""

    observed_a: int
    observed_b: int
    expected_a: float
    expected_b: float
    chi2: float
    p_value: float

    @property
    def total(self) -> int:
        return self.observed_a + self.observed_b

    @property
    def flagged(self) -> bool:
        return self.p_value < SRM_ALPHA


def sample_ratio_check(
    observed_a: int, observed_b: int, expected_b: float
) -> SampleRatioCheck | None:
    """``expected_b`` is the number of B the weights predict (the sum of each visitor's
    weight); None when there is nothing to compare (no visitors, or a weight of 0 or 1
    leaves only one possible outcome and it is the one observed)."""
    total = observed_a + observed_b
    if total == 0:
        return None
    expected_a = total - expected_b
    pairs = [(observed_a, expected_a), (observed_b, expected_b)]
    if any(expected <= 0 for _, expected in pairs):
        if all(observed == 0 for observed, expected in pairs if expected <= 0):
            return None
        chi2, p_value = math.inf, 0.0  # visitors where the weights allow none
    else:
        chi2 = sum((observed - expected) ** 2 / expected for observed, expected in pairs)
        p_value = math.erfc(math.sqrt(chi2 / 2))  # chi-squared survival function, 1 d.o.f.
    return SampleRatioCheck(observed_a, observed_b, expected_a, expected_b, chi2, p_value)


def nearest_rank(n: int, quantile: float) -> int:
    """0-based index of the nearest-rank ``quantile`` in a sorted list of ``n`` values."""
    return max(0, math.ceil(quantile * n) - 1)
