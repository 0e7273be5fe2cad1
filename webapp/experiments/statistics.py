"""The statistics of an experiment, as plain functions of per-arm sums (standard library
only: the web app imports no numerical library at request time).

The visitor is the unit: each metric is a ratio of per-visitor sums (feedback ÷ predictions,
say), so a visitor who sends many requests weighs as one correlated cluster, not as many
independent trials. Its variance comes from the delta method over visitors; the B - A
difference gets a fixed-horizon interval and an always-valid (sequential) one beside it.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

SRM_ALPHA = 0.001  # sample-ratio mismatch is flagged below this p-value
ALPHA = 0.05  # 95% intervals; a difference is significant below this p-value
POWER = 0.80  # the power planning aims at
# The sequential interval is tightest near this many visitors (both arms together);
# GrowthBook's default tuning, and about what a canary sees in a few days here.
SEQUENTIAL_EXPECTED_VISITORS = 5_000
MIN_VISITORS = 2  # per arm, for a variance


def z_two_sided(alpha: float = ALPHA) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


@dataclass(frozen=True)
class RatioSums:
    """One arm's sums over its visitors of a numerator ``x_i`` and a denominator ``y_i``
    (say feedback and predictions of visitor i), with squares and cross-products."""

    n: int  # visitors
    x: float
    y: float
    xx: float
    yy: float
    xy: float

    @property
    def estimate(self) -> float | None:
        return self.x / self.y if self.y else None


def delta_variance(s: RatioSums):
    """Variance of ``sum(x) / sum(y)`` over ``n`` visitors, by the delta method, from the
    sums, squares and cross-products of the per-visitor values.

    Deng, Knoblich & Lu (2018), "Applying the Delta Method in Metric Analytics", KDD,
    section 3: with R = x̄/ȳ, Var(R) ≈ (s²_x - 2 R s_xy + R² s²_y) / (n ȳ²), where s² and s_xy
    are the sample (co)variances of the per-visitor values. Arithmetic only, so it works
    elementwise on sums that are numpy arrays too (as the peeking simulation of the tests,
    tests/webapp/experiments/peeking.py, runs it).
    """
    n, x, y, xx, yy, xy = s.n, s.x, s.y, s.xx, s.yy, s.xy
    mean_x, mean_y = x / n, y / n
    var_x = (xx - n * mean_x * mean_x) / (n - 1)
    var_y = (yy - n * mean_y * mean_y) / (n - 1)
    cov = (xy - n * mean_x * mean_y) / (n - 1)
    r = x / y
    return (var_x - 2 * r * cov + r * r * var_y) / (n * mean_y * mean_y)


def ratio_variance(s: RatioSums) -> float | None:
    """``delta_variance`` of one arm; None below two visitors or without any denominator."""
    if s.n < MIN_VISITORS or s.y == 0:
        return None
    # Rounding can push an exactly-zero variance a hair below zero.
    return max(delta_variance(s), 0.0)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class Comparison:
    """B - A with its fixed-horizon and sequential 1 - alpha intervals and p-values."""

    difference: float
    variance: float  # of the difference
    visitors: int  # both arms
    fixed: Interval
    sequential: Interval
    alpha: float

    @property
    def confidence(self) -> float:
        return 1 - self.alpha


def fixed_bounds(difference, variance, alpha: float = ALPHA):
    """Wald interval, valid for one look at a planned size; elementwise on arrays too."""
    margin = z_two_sided(alpha) * variance**0.5
    return difference - margin, difference + margin


def fixed_interval(difference: float, variance: float, alpha: float = ALPHA) -> Interval:
    """``fixed_bounds`` with the two-sided z-test p-value."""
    if variance == 0:
        return Interval(difference, difference, 1.0 if difference == 0 else 0.0)
    low, high = fixed_bounds(difference, variance, alpha)
    p_value = math.erfc(abs(difference) / math.sqrt(variance) / math.sqrt(2))  # 2(1 - Phi(|z|))
    return Interval(low, high, p_value)


def mixture_precision(visitors: int, expected: int) -> float:
    """n rho², the mixture's precision in units of the current sample size.

    rho² = (-2 ln alpha + ln(1 - 2 ln alpha)) / N* makes the 1 - alpha interval tightest at
    N* visitors (the optimal mixture for a target sample size, Howard et al. 2021; GrowthBook's
    sequential tuning parameter); it is tuned once, for alpha = ALPHA, so that the p-value
    inverts the interval at every alpha."""
    log_alpha = math.log(ALPHA)
    rho2 = (-2 * log_alpha + math.log(1 - 2 * log_alpha)) / expected
    return max(visitors, 1) * rho2


def sequential_bounds(
    difference,
    variance,
    visitors: int,
    alpha: float = ALPHA,
    expected: int = SEQUENTIAL_EXPECTED_VISITORS,
):
    """Always-valid interval: at most ``alpha`` chance that the true difference ever leaves
    it, however often (and whenever) one looks.

    The two-sided normal-mixture confidence sequence of Howard, Ramdas, McAuliffe & Sekhon
    (2021), "Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals of
    Statistics 49(2), in the asymptotic form of Waudby-Smith et al. (2024), "Time-uniform
    central limit theory and asymptotic confidence sequences" (as GrowthBook implements
    it): with t = n rho² and V the variance of the difference,

        half-width = sqrt(V · 2 (t + 1) / t · ln(sqrt(t + 1) / alpha)).

    Elementwise on arrays of differences and variances too.
    """
    t = mixture_precision(visitors, expected)
    factor = math.sqrt(2 * (t + 1) / t * math.log(math.sqrt(t + 1) / alpha))
    half = factor * variance**0.5
    return difference - half, difference + half


def sequential_interval(
    difference: float,
    variance: float,
    visitors: int,
    alpha: float = ALPHA,
    expected: int = SEQUENTIAL_EXPECTED_VISITORS,
) -> Interval:
    """``sequential_bounds`` with its always-valid p-value: the smallest alpha whose interval
    excludes zero, the reciprocal of the mixture likelihood ratio of the mSPRT (Johari,
    Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests", KDD):
    p = min(1, sqrt(t + 1) · exp(-Δ² t / (2 V (t + 1))))."""
    if variance == 0:
        return Interval(difference, difference, 1.0 if difference == 0 else 0.0)
    t = mixture_precision(visitors, expected)
    low, high = sequential_bounds(difference, variance, visitors, alpha, expected)
    exponent = -difference * difference * t / (2 * variance * (t + 1))
    p_value = min(1.0, math.sqrt(t + 1) * math.exp(exponent))
    return Interval(low, high, p_value)


def compare(
    estimate_a: float,
    variance_a: float,
    estimate_b: float,
    variance_b: float,
    visitors: int,
    *,
    alpha: float = ALPHA,
    expected: int = SEQUENTIAL_EXPECTED_VISITORS,
) -> Comparison:
    """B - A of two independent arms: the variance of the difference is the sum."""
    difference = estimate_b - estimate_a
    variance = variance_a + variance_b
    return Comparison(
        difference=difference,
        variance=variance,
        visitors=visitors,
        fixed=fixed_interval(difference, variance, alpha),
        sequential=sequential_interval(difference, variance, visitors, alpha, expected),
        alpha=alpha,
    )


# --- planning -------------------------------------------------------------------------------


def minimum_detectable_effect(variance: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference a fixed-horizon test at this sample size detects with
    probability ``power``: (z_{1-alpha/2} + z_power) · SE (the normal approximation of, e.g.,
    Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", section 3.2.1)."""
    return (z_two_sided(alpha) + NormalDist().inv_cdf(power)) * math.sqrt(variance)


def visitors_needed(
    variance: float, visitors: int, effect: float, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Visitors (both arms, same split as now) for ``effect`` at ``power``.

    The variance of the difference shrinks as 1/n at a fixed split, so n·V is the variance
    per visitor and n = (z_{1-alpha/2} + z_power)² · n·V / effect²."""
    if effect == 0 or visitors <= 0:
        return None
    z = z_two_sided(alpha) + NormalDist().inv_cdf(power)
    return math.ceil(z * z * variance * visitors / (effect * effect))


# --- quantiles ------------------------------------------------------------------------------


def nearest_rank(n: int, quantile: float) -> int:
    """0-based index of the nearest-rank ``quantile`` in a sorted list of ``n`` values."""
    return max(0, math.ceil(quantile * n) - 1)


def quantile_ranks(n: int, quantile: float, share_se: float, alpha: float = ALPHA):
    """0-based ranks of the lower and upper confidence limits of a sample quantile.

    Deng, Knoblich & Lu (2018), section 4: the share of events at or below the quantile is
    a ratio metric over visitors; its delta-method standard error ``share_se`` turned into
    ranks n (q ∓ z·SE) brackets the quantile (the distribution-free "outer" interval, which
    with independent events reduces to the binomial order-statistic interval)."""
    z = z_two_sided(alpha)
    low = nearest_rank(n, max(quantile - z * share_se, 0.0))
    high = min(n - 1, nearest_rank(n, min(quantile + z * share_se, 1.0)))
    return low, high


def quantile_variance(value_low: float, value_high: float, alpha: float = ALPHA) -> float:
    """Normal approximation of a sample quantile's variance from its interval's width,
    ((high - low) / 2z)², as in Deng, Knoblich & Lu (2018), section 4."""
    return ((value_high - value_low) / (2 * z_two_sided(alpha))) ** 2


# --- the split ------------------------------------------------------------------------------


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
